"""The catalog's Stripe mode through the real webhook (signed events of Stripe's real shapes, in
process as functions-framework serves it) on the Firestore emulator: products/ kept in step with
product.* and price.* events in every delivery order, exactly once through the ledger, a failing
write answered 5xx, and nothing done with CATALOG_SOURCE=firestore.

localstripe sends none of these events (only product.created, without prices), so the tests
play Stripe: docs/catalog.md, "Stripe mode".
"""

import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from google.api_core import exceptions
from google.cloud import firestore
from google.cloud.firestore_v1.batch import WriteBatch

from checkout.platform.collections import PRODUCTS, STRIPE_EVENTS
from checkout.products.live_catalog import read_shop_catalog
from checkout.products.stripe_products import OFF_SALE_REASON
from tests import stripe_events as se
from tests.stripe_signing import body, sign

# Stripe mode starts from no products: the products are what Stripe says.
pytestmark = pytest.mark.without_sample_catalog

Json = dict[str, Any]
Deliver = Callable[[Json], Any]
T0 = 1_790_000_000


@pytest.fixture
def stripe_mode(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CATALOG_SOURCE", "stripe")
    yield


@pytest.fixture
def deliver(stripe_webhook: FlaskClient) -> Deliver:
    secret = os.environ["STRIPE_WEBHOOK_SECRET"].split(",")[0]

    def post(event: Json) -> Any:
        payload = body(event)
        return stripe_webhook.post(
            "/api/stripe-webhook",
            data=payload,
            headers={"Stripe-Signature": sign(payload, secret), "Content-Type": "application/json"},
        )

    return post


def product_doc(db: firestore.Client, product_id: str) -> Json | None:
    return db.collection(PRODUCTS).document(product_id).get().to_dict()


def ledger(db: firestore.Client) -> dict[str, Json]:
    return {d.id: d.to_dict() or {} for d in db.collection(STRIPE_EVENTS).stream()}


def product_event(kind: str, product: Json, created: int) -> Json:
    return se.event(f"product.{kind}", product, created=created)


def price_event(kind: str, price: Json, created: int) -> Json:
    return se.event(f"price.{kind}", price, created=created)


def delivered_ok(deliver: Deliver, event: Json) -> Json:
    answer = deliver(event)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    result: Json = answer.get_json()
    return result


# --- a life: created, a new price, the old one archived


def life(product_id: str) -> list[Json]:
    """A product sold at 1400, then at 1600 (a new Price, made the default), the old Price
    archived; every event a distinct second, as Stripe would send them."""
    first = f"price_{product_id[5:]}1"
    second = f"price_{product_id[5:]}2"
    return [
        product_event("created", se.product(product_id, updated=T0, default_price=first), T0),
        price_event("created", se.price(product_id, price_id=first, unit_amount=1400), T0 + 1),
        price_event("created", se.price(product_id, price_id=second, unit_amount=1600), T0 + 2),
        product_event(
            "updated",
            se.product(product_id, updated=T0 + 3, default_price=second, name="T-shirt, v2"),
            T0 + 3,
        ),
        price_event(
            "updated",
            se.price(product_id, price_id=first, unit_amount=1400, active=False),
            T0 + 4,
        ),
    ]


def test_every_delivery_order_of_a_products_life_ends_the_same(
    stripe_mode: None, deliver: Deliver, firestore_db: firestore.Client
) -> None:
    ends = []
    for number, order in enumerate(itertools.permutations(range(5))):
        product_id = f"prod_life{number}"
        events = life(product_id)
        for index in order:
            delivered_ok(deliver, events[index])
        document = product_doc(firestore_db, product_id)
        assert document is not None
        assert (document["active"], document["unitAmount"], document["name"]) == (
            True,
            1600,
            "T-shirt, v2",
        ), (order, document)
        ends.append({k: v for k, v in document.items() if k != "stripeProduct"})
        assert document["stripeProduct"]["defaultPrice"] == f"price_life{number}2"
    assert all({**end, OFF_SALE_REASON: None} == {**ends[0], OFF_SALE_REASON: None} for end in ends)
    # The shop sells them like any product.
    on_sale = read_shop_catalog()
    assert {p.id for p in on_sale.products} == {f"prod_life{n}" for n in range(120)}


def test_a_product_before_its_price_is_off_sale_until_the_price_arrives(
    stripe_mode: None, deliver: Deliver, firestore_db: firestore.Client
) -> None:
    product = se.product("prod_wait", updated=T0, default_price="price_wait")
    assert delivered_ok(deliver, product_event("created", product, T0))["outcome"] == "applied"
    document = product_doc(firestore_db, "prod_wait")
    assert document is not None and document["active"] is False
    assert "price_wait" in document[OFF_SALE_REASON]
    price = se.price("prod_wait", price_id="price_wait", unit_amount=900)
    delivered_ok(deliver, price_event("created", price, T0 + 1))
    assert product_doc(firestore_db, "prod_wait") == {
        **document,
        "active": True,
        "unitAmount": 900,
        OFF_SALE_REASON: None,
    }


def test_an_old_price_updated_after_a_newer_one_changes_nothing(
    stripe_mode: None, deliver: Deliver, firestore_db: firestore.Client
) -> None:
    price = se.price("prod_late", price_id="price_late", unit_amount=1200)
    delivered_ok(deliver, price_event("created", price, T0))
    delivered_ok(
        deliver,
        product_event(
            "created", se.product("prod_late", updated=T0, default_price="price_late"), T0
        ),
    )
    assert product_doc(firestore_db, "prod_late")["active"] is True  # type: ignore[index]
    delivered_ok(deliver, price_event("updated", {**price, "active": False}, T0 + 20))
    archived = product_doc(firestore_db, "prod_late")
    assert archived is not None and archived["active"] is False
    assert "archived" in archived[OFF_SALE_REASON]
    # Stripe's retry of an earlier price.updated (the price made active again at T0 + 10)
    # arrives after the archiving: it is older, recorded in the ledger, and changes nothing.
    late = price_event("updated", {**price, "active": True}, T0 + 10)
    answer = delivered_ok(deliver, late)
    assert answer["outcome"] == "ignored"
    assert product_doc(firestore_db, "prod_late") == archived
    assert ledger(firestore_db)[late["id"]]["outcome"] == "ignored"


def test_a_late_product_updated_with_an_older_updated_changes_nothing(
    stripe_mode: None, deliver: Deliver, firestore_db: firestore.Client
) -> None:
    delivered_ok(deliver, price_event("created", se.price("prod_old", price_id="price_old"), T0))
    newer = se.product("prod_old", updated=T0 + 50, default_price="price_old", name="New name")
    older = se.product("prod_old", updated=T0 + 40, default_price="price_old", name="Old name")
    delivered_ok(deliver, product_event("updated", newer, T0 + 50))
    # Created later (a retry, or a slow path), but about an older version of the product.
    assert delivered_ok(deliver, product_event("updated", older, T0 + 60))["outcome"] == "ignored"
    document = product_doc(firestore_db, "prod_old")
    assert document is not None and document["name"] == "New name" and document["active"] is True


def test_a_deleted_product_is_deactivated_not_deleted_and_a_late_update_cannot_revive_it(
    stripe_mode: None, deliver: Deliver, firestore_db: firestore.Client
) -> None:
    delivered_ok(deliver, price_event("created", se.price("prod_gone", price_id="price_gone"), T0))
    product = se.product("prod_gone", updated=T0 + 5, default_price="price_gone")
    delivered_ok(deliver, product_event("created", product, T0 + 5))
    assert product_doc(firestore_db, "prod_gone")["active"] is True  # type: ignore[index]
    delivered_ok(deliver, product_event("deleted", {**product, "deleted": True}, T0 + 30))
    deleted = product_doc(firestore_db, "prod_gone")
    assert deleted is not None and deleted["active"] is False  # the document stays
    assert "deleted" in deleted[OFF_SALE_REASON]
    late = se.product("prod_gone", updated=T0 + 20, default_price="price_gone", name="Renamed")
    assert delivered_ok(deliver, product_event("updated", late, T0 + 20))["outcome"] == "ignored"
    assert product_doc(firestore_db, "prod_gone") == deleted
    catalog = read_shop_catalog()
    assert "prod_gone" in catalog.off_sale and catalog.on_sale("prod_gone") is None


def test_a_deleted_price_takes_its_product_off_sale(
    stripe_mode: None, deliver: Deliver, firestore_db: firestore.Client
) -> None:
    price = se.price("prod_pd", price_id="price_pd")
    delivered_ok(deliver, price_event("created", price, T0))
    product = se.product("prod_pd", updated=T0, default_price="price_pd")
    delivered_ok(deliver, product_event("created", product, T0))
    delivered_ok(deliver, price_event("deleted", {**price, "deleted": True}, T0 + 1))
    document = product_doc(firestore_db, "prod_pd")
    assert document is not None and document["active"] is False
    assert "deleted" in document[OFF_SALE_REASON]


def test_a_duplicate_delivery_is_recorded_once(
    stripe_mode: None, deliver: Deliver, firestore_db: firestore.Client
) -> None:
    event = product_event("created", se.product("prod_dup", updated=T0), T0)
    first, again = delivered_ok(deliver, event), delivered_ok(deliver, event)
    assert (first["outcome"], again["outcome"]) == ("applied", "duplicate")
    entry = ledger(firestore_db)[event["id"]]
    assert (entry["type"], entry["productId"], entry["outcome"]) == (
        "product.created",
        "prod_dup",
        "applied",
    )


def test_a_write_that_fails_answers_5xx_writes_nothing_and_the_retry_applies_it(
    stripe_mode: None,
    deliver: Deliver,
    firestore_db: firestore.Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = product_event("created", se.product("prod_fail", updated=T0), T0)

    def unavailable(self: WriteBatch, *args: Any, **kwargs: Any) -> Any:
        raise exceptions.ServiceUnavailable("Firestore is down")

    with monkeypatch.context() as patched:
        patched.setattr(WriteBatch, "commit", unavailable)
        answer = deliver(event)
    assert answer.status_code in (500, 503), answer.get_data(as_text=True)
    assert product_doc(firestore_db, "prod_fail") is None and ledger(firestore_db) == {}
    # Stripe retries: the retry is processed as the first delivery.
    assert delivered_ok(deliver, event)["outcome"] == "applied"
    assert product_doc(firestore_db, "prod_fail") is not None


def test_with_catalog_source_firestore_catalog_events_are_acknowledged_and_change_nothing(
    deliver: Deliver, firestore_db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CATALOG_SOURCE", "firestore")
    price = se.price("prod_fs", price_id="price_fs")
    for event in (
        product_event("created", se.product("prod_fs", default_price="price_fs"), T0),
        product_event("updated", se.product("prod_fs", updated=T0 + 1), T0 + 1),
        product_event("deleted", {**se.product("prod_fs"), "deleted": True}, T0 + 2),
        price_event("created", price, T0),
        price_event("updated", price, T0 + 1),
        price_event("deleted", {**price, "deleted": True}, T0 + 2),
    ):
        assert delivered_ok(deliver, event)["outcome"] == "unhandled"
    assert {c.id for c in firestore_db.collections()} == set()
