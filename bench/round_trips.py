"""Firestore RPCs per request, by kind, counted on the wire in process (tests/firestore_rpcs.py),
and what GET /api/config's read of the live catalog costs.

Each request runs through the function exactly as functions-framework serves it, against the
Firestore emulator (and, for POST /api/payment-intents, localstripe). The counts are
deterministic; tests/integration/test_webhook_fast_path.py and test_checkout_round_trips.py
assert them.
"""

import contextlib
import io
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from bench.timing import median
from tests import stripe_events as se
from tests.firestore_rpcs import RpcCounter, count_rpcs
from tests.shipping_address import US_ADDRESS
from tests.stripe_signing import body, sign

Json = dict[str, Any]

# A PaymentIntent of ours with no order: one tee, shipped free to the US (its own `shipping`).
REBUILT_METADATA = {"items": "tee-classic:1:2500", "shipping": "0:US"}


def _app(target: str) -> FlaskClient:
    from functions_framework import create_app

    from tests.conftest import FUNCTIONS_DIR

    client: FlaskClient = create_app(target, str(FUNCTIONS_DIR / "main.py")).test_client()
    return client


def _measure(counter: RpcCounter, request: Callable[[], Any]) -> Json:
    with counter.counting() as calls, contextlib.redirect_stdout(io.StringIO()):
        request()
    return {"rpcs": len(calls), "calls": calls}


def webhook() -> dict[str, Json]:
    from checkout.orders.ownership import marked
    from checkout.platform.collections import ORDERS
    from checkout.platform.firestore_client import db

    client = _app("stripe_webhook")
    secret = os.environ["STRIPE_WEBHOOK_SECRET"].split(",")[0]

    def deliver(event: Json) -> Callable[[], Any]:
        def post() -> None:
            payload = body(event)
            response = client.post(
                "/api/stripe-webhook",
                data=payload,
                headers={"Stripe-Signature": sign(payload, secret)},
            )
            assert response.status_code == 200, response.get_data(as_text=True)

        return post

    pi_id = se.new_id("pi")
    db().collection(ORDERS).document(pi_id).set(se.order(pi_id))
    now = int(time.time())
    processing = se.event("payment_intent.processing", se.payment_intent(pi_id), created=now - 2)
    succeeded = se.event("payment_intent.succeeded", se.payment_intent(pi_id), created=now)
    # A late `processing` adds nothing to a paid order (a late decline would be recorded).
    late = se.event(
        "payment_intent.processing", se.payment_intent(pi_id, status="processing"), created=now - 1
    )
    outside = se.new_id("pi")
    rebuilt = se.event(
        "payment_intent.succeeded",
        se.payment_intent(outside, amount=2500, metadata=marked(REBUILT_METADATA)),
    )
    stocked_id = _stocked_order()
    stocked = se.event("payment_intent.succeeded", se.payment_intent(stocked_id), created=now)
    _warm_catalog()
    with count_rpcs(db()) as counter:
        figures = {
            "processing on a pending order (changes it, no fulfilment)": _measure(
                counter, deliver(processing)
            ),
            "succeeded (changes it, with fulfilment, 2 messages sent)": _measure(
                counter, deliver(succeeded)
            ),
            "succeeded for an order holding stock (sells its units in the same commit, "
            "2 messages sent)": _measure(counter, deliver(stocked)),
            "duplicate": _measure(counter, deliver(succeeded)),
            "late processing on a paid order (ignored, ledger entry only)": _measure(
                counter, deliver(late)
            ),
            "succeeded for a missing order (rebuilt, with fulfilment, the owner's message sent)": (
                _measure(counter, deliver(rebuilt))
            ),
        }
    # The product sells without limit again: the benchmarks after this one buy it freely.
    _unstock()
    return figures


def _stocked_order() -> str:
    """A pending order whose checkout holds its 2 units of a product with stock, as opened."""
    from datetime import UTC, datetime, timedelta

    from checkout.holds import store as holds_store
    from checkout.holds.pool import product_pool
    from checkout.platform.collections import ORDERS
    from checkout.platform.firestore_client import db

    pi_id, checkout_id, pool = se.new_id("pi"), str(uuid.uuid4()), product_pool("tee-classic")
    now = datetime.now(UTC)
    holds_store.set_total(pool, 50, now)
    holds_store.hold(checkout_id, {pool: 2}, now, now + timedelta(minutes=15))
    order = se.order(pi_id, checkoutId=checkout_id, holdKey=checkout_id, holdPools=[pool])
    db().collection(ORDERS).document(pi_id).set(order)
    return pi_id


def _unstock() -> None:
    from datetime import UTC, datetime

    from checkout.holds import store as holds_store
    from checkout.holds.pool import product_pool

    holds_store.set_total(product_pool("tee-classic"), None, datetime.now(UTC))


def _warm_catalog() -> None:
    """This instance has read its catalog (once per CATALOG_CACHE_SECONDS): not a request's own
    cost, which catalog() measures apart."""
    from checkout.products.live_catalog import current_catalog
    from checkout.shipping.live_rates import current_rates

    current_catalog()
    current_rates()


def payment_intents() -> dict[str, Json]:
    from checkout.platform.firestore_client import db

    _warm_catalog()
    client = _app("checkout_api")
    checkout_id = str(uuid.uuid4())

    def post(quantity: int) -> Callable[[], Any]:
        def request() -> None:
            response = client.post(
                "/api/payment-intents",
                json={
                    "checkoutId": checkout_id,
                    "items": [{"productId": "tee-classic", "quantity": quantity}],
                    "shipping": US_ADDRESS,
                },
            )
            assert response.status_code == 200, response.get_data(as_text=True)

        return request

    with count_rpcs(db()) as counter:
        return {
            "new checkout": _measure(counter, post(1)),
            "repeat (same cart)": _measure(counter, post(1)),
            "cart change": _measure(counter, post(2)),
        }


LARGE_CATALOG = 200
COLD_READS = 7


def catalog() -> dict[str, Json]:
    """GET /api/config: its RPCs on a warm instance cache (0) and on a cold one, and the time of
    a cold read of a catalog of LARGE_CATALOG products (the documents are removed afterwards)."""
    from checkout.platform.collections import PRODUCTS
    from checkout.platform.firestore_client import db
    from checkout.products import live_catalog
    from checkout.products.product import Product, document_of

    client = _app("checkout_api")

    def get_config() -> None:
        response = client.get("/api/config")
        assert response.status_code == 200, response.get_data(as_text=True)

    products = db().collection(PRODUCTS)
    ids = [f"bench-{i:03d}" for i in range(LARGE_CATALOG)]
    batch = db().batch()
    for i, product_id in enumerate(ids):
        description = "A product of the benchmark's catalog, described in a sentence or two."
        product = Product(product_id, f"Product {i}", description, 1000 + i, "usd", True, 100 + i)
        batch.set(products.document(product_id), document_of(product))
    batch.commit()
    try:
        with count_rpcs(db()) as counter:
            live_catalog.shop_catalog.clear()
            cold = _measure(counter, get_config)
            warm = _measure(counter, get_config)
        seconds = []
        for _ in range(COLD_READS):
            live_catalog.shop_catalog.clear()
            started = time.perf_counter()
            get_config()
            seconds.append(time.perf_counter() - started)
        warm_seconds = []
        for _ in range(COLD_READS):
            started = time.perf_counter()
            get_config()
            warm_seconds.append(time.perf_counter() - started)
        documents = len(live_catalog.current_catalog().products)
    finally:
        batch = db().batch()
        for product_id in ids:
            batch.delete(products.document(product_id))
        batch.commit()
        live_catalog.shop_catalog.clear()
    return {
        "warm cache": warm,
        f"cold cache, {documents} products on sale": {
            **cold,
            "cold_median_s": median(seconds),
            "warm_median_s": median(warm_seconds),
        },
    }


def run() -> dict[str, dict[str, Json]]:
    return {"webhook": webhook(), "payment_intents": payment_intents(), "config": catalog()}
