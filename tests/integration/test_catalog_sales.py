"""The shop sells from the live catalog in Firestore: a price change reaches new checkouts within
the cache bound (time moved, never waited), a product off sale is 409 product_unavailable while
one the shop never had stays 400 unknown_product, a broken document is left out while the rest
sells, and orders rebuilt or corrected from a PaymentIntent keep the prices agreed to."""

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import stripe
from flask.testing import FlaskClient
from google.cloud import firestore

from checkout.platform.collections import ORDERS, PRODUCTS
from checkout.platform.settings import catalog_cache_seconds
from checkout.products.live_catalog import shop_catalog
from tests import stripe_events as se
from tests.integration.conftest import function_client
from tests.sample_catalog import unit_amount
from tests.shipping_address import US_ADDRESS
from tests.stripe_signing import body, sign

TEE, MUG = unit_amount("tee-classic"), unit_amount("mug-enamel")


class Clock:
    """The instance cache's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    moved = Clock()
    monkeypatch.setattr(shop_catalog, "clock", moved)
    yield moved


def post(
    client: FlaskClient, items: dict[str, int], checkout_id: str | None = None, **extra: Any
) -> Any:
    lines = [{"productId": p, "quantity": q} for p, q in items.items()]
    return client.post(
        "/api/payment-intents",
        json={"checkoutId": checkout_id or str(uuid.uuid4()), "items": lines, **extra},
    )


def set_product(db: firestore.Client, product_id: str, **fields: Any) -> None:
    """What the owner's import (or a hand in the console) writes."""
    db.collection(PRODUCTS).document(product_id).update(fields)


def test_a_new_price_reaches_new_checkouts_within_the_cache_bound(
    checkout_api: FlaskClient, firestore_db: firestore.Client, clock: Clock
) -> None:
    assert post(checkout_api, {"mug-enamel": 1}).get_json()["amount"] == MUG
    open_checkout = str(uuid.uuid4())
    assert post(checkout_api, {"mug-enamel": 1}, open_checkout).get_json()["amount"] == MUG
    set_product(firestore_db, "mug-enamel", unitAmount=1600)
    clock.now += catalog_cache_seconds() - 0.5  # still within the bound: the instance's copy
    assert post(checkout_api, {"mug-enamel": 1}).get_json()["amount"] == MUG
    clock.now += 0.5  # the bound: read again
    assert post(checkout_api, {"mug-enamel": 2}).get_json()["amount"] == 3200
    config = checkout_api.get("/api/config").get_json()
    assert {p["id"]: p["unitAmount"] for p in config["products"]}["mug-enamel"] == 1600
    # A checkout opened before: the page's re-check before paying gets the new amount, and
    # Stripe holds it (what the page shows next to Pay is what is charged).
    again = post(checkout_api, {"mug-enamel": 1}, open_checkout).get_json()
    assert again["amount"] == 1600


def test_config_is_read_from_firestore_at_most_once_per_bound(
    checkout_api: FlaskClient, clock: Clock
) -> None:
    for _ in range(3):
        assert checkout_api.get("/api/config").status_code == 200
    assert shop_catalog.loads == 1
    clock.now += catalog_cache_seconds()
    checkout_api.get("/api/config")
    assert shop_catalog.loads == 2


def test_off_sale_is_409_product_unavailable_and_never_had_is_400_unknown_product(
    checkout_api: FlaskClient, firestore_db: firestore.Client
) -> None:
    set_product(firestore_db, "sticker-pack", active=False)
    set_product(firestore_db, "mug-enamel", active=False)
    shop_catalog.clear()
    refused = post(checkout_api, {"tee-classic": 1, "sticker-pack": 2, "mug-enamel": 1})
    assert refused.status_code == 409
    error = refused.get_json()["error"]
    assert error["code"] == "product_unavailable"
    assert error["products"] == ["sticker-pack", "mug-enamel"]
    unknown = post(checkout_api, {"tee-classic": 1, "ghost": 1})
    assert unknown.status_code == 400
    assert unknown.get_json()["error"]["code"] == "unknown_product"
    # The page drops them and sends the rest: the rest sells.
    assert post(checkout_api, {"tee-classic": 1}).get_json()["amount"] == TEE
    listed = [p["id"] for p in checkout_api.get("/api/config").get_json()["products"]]
    assert listed == ["tee-classic"]


def test_a_broken_document_is_left_out_while_the_rest_sells(
    checkout_api: FlaskClient, firestore_db: firestore.Client
) -> None:
    set_product(firestore_db, "mug-enamel", unitAmount="1400")  # typed by hand in the console
    shop_catalog.clear()
    config = checkout_api.get("/api/config")
    assert config.status_code == 200
    assert [p["id"] for p in config.get_json()["products"]] == ["tee-classic", "sticker-pack"]
    refused = post(checkout_api, {"mug-enamel": 1})
    assert refused.status_code == 409
    assert refused.get_json()["error"]["products"] == ["mug-enamel"]
    assert post(checkout_api, {"tee-classic": 1}).status_code == 200


def deliver(event: dict[str, Any]) -> Any:
    payload = body(event)
    secret = os.environ["STRIPE_WEBHOOK_SECRET"].split(",")[0]
    return function_client("stripe_webhook").post(
        "/api/stripe-webhook",
        data=payload,
        headers={"Stripe-Signature": sign(payload, secret), "Content-Type": "application/json"},
    )


def succeeded(intent: stripe.PaymentIntent) -> dict[str, Any]:
    """Stripe's payment_intent.succeeded for `intent` as it now is at Stripe."""
    pi = se.payment_intent(intent.id, amount=int(intent.amount), metadata=intent.metadata.to_dict())
    return se.event("payment_intent.succeeded", pi)


def test_a_rebuilt_order_keeps_the_prices_agreed_to_after_a_price_change(
    checkout_api: FlaskClient,
    firestore_db: firestore.Client,
    stripe_client: stripe.StripeClient,
) -> None:
    opened = post(checkout_api, {"tee-classic": 2, "mug-enamel": 1}, shipping=US_ADDRESS).get_json()
    pi_id = opened["paymentIntentId"]
    firestore_db.collection(ORDERS).document(pi_id).delete()  # its order was never written
    set_product(firestore_db, "tee-classic", unitAmount=9900)
    shop_catalog.clear()
    intent = stripe_client.v1.payment_intents.retrieve(pi_id)
    assert deliver(succeeded(intent)).status_code == 200
    order = firestore_db.collection(ORDERS).document(pi_id).get().to_dict() or {}
    assert order["source"] == "webhook"
    assert order["status"] == "paid"
    assert [(i["productId"], i["unitAmount"], i["quantity"]) for i in order["items"]] == [
        ("tee-classic", TEE, 2),
        ("mug-enamel", MUG, 1),
    ]
    assert "itemsRepriced" not in order


def test_a_corrected_order_keeps_the_prices_agreed_to_after_a_price_change(
    checkout_api: FlaskClient,
    firestore_db: firestore.Client,
    stripe_client: stripe.StripeClient,
) -> None:
    opened = post(checkout_api, {"tee-classic": 1}, shipping=US_ADDRESS).get_json()
    pi_id = opened["paymentIntentId"]
    # A concurrent cart update reached Stripe but not the order document (shipped to the US).
    stripe_client.v1.payment_intents.update(
        pi_id,
        params={
            "amount": 2 * TEE + MUG + 500,
            "metadata": {"items": f"tee-classic:2:{TEE},mug-enamel:1:{MUG}"},
        },
    )
    set_product(firestore_db, "mug-enamel", unitAmount=4444)
    shop_catalog.clear()
    intent = stripe_client.v1.payment_intents.retrieve(pi_id)
    assert deliver(succeeded(intent)).status_code == 200
    order = firestore_db.collection(ORDERS).document(pi_id).get().to_dict() or {}
    assert order["status"] == "paid"
    assert order["amount"] == 2 * TEE + MUG + 500
    assert order["items"][1] == {
        "productId": "mug-enamel", "name": "Enamel mug", "unitAmount": MUG, "quantity": 1
    }  # fmt: skip
    assert order["cartCorrectedFrom"]["amount"] == TEE + 500


def test_a_payment_intent_of_the_old_format_is_priced_from_todays_catalog_and_marked(
    firestore_db: firestore.Client,
) -> None:
    pi = se.payment_intent(
        se.new_id("pi"),
        amount=2 * 3000,
        metadata=se.shop_metadata(checkoutId=str(uuid.uuid4()), items="tee-classic:2"),
    )
    set_product(firestore_db, "tee-classic", unitAmount=3000)
    shop_catalog.clear()
    assert deliver(se.event("payment_intent.succeeded", pi)).status_code == 200
    order = firestore_db.collection(ORDERS).document(pi["id"]).get().to_dict() or {}
    assert order["status"] == "paid"
    assert order["items"][0]["unitAmount"] == 3000
    assert order["itemsRepriced"] is True
