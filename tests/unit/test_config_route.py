"""GET /api/config: the live catalog's active products in position order, from the instance's
cache (no Firestore read when warm), with Cache-Control that lets Hosting's CDN serve it."""

from dataclasses import replace

import pytest
from flask import Flask

from checkout.intents import routes
from checkout.products import live_catalog
from checkout.products.live_catalog import catalog_from_documents
from tests.sample_catalog import sample_documents


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.setenv("STRIPE_PUBLISHABLE_KEY", "pk_test_config")
    return Flask("config")


def get_config(app: Flask) -> tuple[int, dict[str, str], dict[str, object]]:
    with app.test_request_context("/api/config"):
        from flask import request

        response = routes.handle(request)
    return response.status_code, dict(response.headers), response.get_json()


def test_config_lists_active_products_in_position_order(
    config: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    documents = sample_documents()
    documents["tee-classic"]["position"] = 9
    documents["sticker-pack"]["active"] = False
    documents["mug-enamel"]["images"] = ["/images/mug.jpg"]
    documents["mug-enamel"]["shippable"] = False
    documents["cap"] = {**documents["mug-enamel"], "name": "Cap", "position": 1, "images": []}
    # Stock as read from the pools with the catalog: the mug is stocked, the others are not.
    shop = replace(catalog_from_documents(documents, "usd"), available={"mug-enamel": 3})
    monkeypatch.setattr(live_catalog.shop_catalog, "_load", lambda: shop)
    status, _, body = get_config(config)
    assert status == 200
    assert body["publishableKey"] == "pk_test_config"
    assert body["currency"] == "usd"
    assert body["products"] == [
        {"id": "cap", "name": "Cap", "description": "Camp-style, 350 ml.", "unitAmount": 1400,
         "currency": "usd", "images": [], "shippable": False, "available": None},
        {"id": "mug-enamel", "name": "Enamel mug", "description": "Camp-style, 350 ml.",
         "unitAmount": 1400, "currency": "usd", "images": ["/images/mug.jpg"],
         "shippable": False, "available": 3},
        {"id": "tee-classic", "name": "Classic tee", "description": "Organic cotton, unisex fit.",
         "unitAmount": 2500, "currency": "usd", "images": [], "shippable": True,
         "available": None},
    ]  # fmt: skip


def test_config_is_served_from_the_instance_cache(config: Flask) -> None:
    get_config(config)
    get_config(config)
    assert live_catalog.shop_catalog.loads == 1


def test_config_may_be_cached_by_the_cdn(config: Flask) -> None:
    _, headers, _ = get_config(config)
    assert headers["Cache-Control"] == (
        f"public, max-age={routes.CONFIG_MAX_AGE_SECONDS}, s-maxage={routes.CONFIG_CDN_SECONDS}"
    )
    # A cached answer must not go to another origin without its CORS headers.
    assert "Origin" in headers["Vary"]


def test_config_without_firestore_is_503_not_cached(
    config: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.api_core.exceptions import ServiceUnavailable

    def down() -> live_catalog.ShopCatalog:
        raise ServiceUnavailable("no Firestore")

    monkeypatch.setattr(live_catalog.shop_catalog, "_load", down)
    status, headers, body = get_config(config)
    assert (status, body["error"]["code"]) == (503, "storage_unavailable")  # type: ignore[index]
    assert headers["Cache-Control"] == "no-store"
