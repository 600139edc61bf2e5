"""POST /api/payment-intents' Firestore round trips, counted on the wire, and the conditional
writes behind them: one PaymentIntent per checkout still holds when a write loses a race.
On the Firestore emulator and localstripe, in-process."""

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from google.cloud import firestore

from checkout.cart.pricing import price_cart
from checkout.cart.validation import CartLine
from checkout.holds import store as holds
from checkout.holds.pool import product_pool
from checkout.orders import store as order_store
from checkout.platform.collections import CHECKOUTS, ORDERS, RATE_LIMITS
from checkout.products.live_catalog import current_catalog
from tests import stripe_events as se
from tests.firestore_rpcs import RpcCounter, count_rpcs
from tests.sample_catalog import sample_shop

READ, COMMIT = "BatchGetDocuments", "Commit"


@pytest.fixture
def rpcs(firestore_db: firestore.Client) -> Iterator[RpcCounter]:
    # The instance has read its catalog already: that read (one RunQuery per instance per
    # CATALOG_CACHE_SECONDS) is not a checkout's or an event's own; bench/ counts it apart.
    current_catalog()
    with count_rpcs(firestore_db) as counter:
        yield counter


def post(client: FlaskClient, checkout_id: str, quantity: int = 1) -> Any:
    response = client.post(
        "/api/payment-intents",
        json={
            "checkoutId": checkout_id,
            "items": [{"productId": "tee-classic", "quantity": quantity}],
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_the_round_trips_of_a_new_checkout_a_repeat_and_a_cart_change(
    checkout_api: FlaskClient, rpcs: RpcCounter
) -> None:
    checkout_id = str(uuid.uuid4())
    with rpcs.counting() as new:
        post(checkout_api, checkout_id)
    with rpcs.counting() as repeat:
        post(checkout_api, checkout_id)
    with rpcs.counting() as change:
        post(checkout_api, checkout_id, quantity=2)
    # the record (none yet); the claim, on what was read, with the client's count of new
    # checkouts in the same commit; one shard of the shop's budget; the product's stock pool
    # (not stocked: nothing to hold, no write); save: read checkout+order, commit order+checkout
    assert new == [READ, COMMIT, COMMIT, READ, READ, COMMIT]
    # the record, its order and the stock pool: answered from them, no write (no Stripe call)
    assert repeat == [READ, READ, READ]
    # the record and its order (another cart); the claim; the order again, under the claim
    # (the pools it held, still editable?); the stock pool; save: read, commit the new cart
    assert change == [READ, READ, COMMIT, READ, READ, READ, COMMIT]


def test_a_checkout_refused_by_its_clients_limit_costs_the_shop_nothing(
    checkout_api: FlaskClient,
    firestore_db: firestore.Client,
    rpcs: RpcCounter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEW_CHECKOUTS_PER_IP_PER_10_MINUTES", "1")
    post(checkout_api, str(uuid.uuid4()))
    refused_id = str(uuid.uuid4())
    with rpcs.counting() as refused:
        response = checkout_api.post(
            "/api/payment-intents",
            json={"checkoutId": refused_id, "items": [{"productId": "tee-classic", "quantity": 1}]},
        )
    assert response.status_code == 429
    # the record (none); the claim with the client's count (now 2, over its limit); the claim
    # released: read it, delete the record (it never got a PaymentIntent). No shop write.
    assert refused == [READ, COMMIT, READ, COMMIT]
    assert not firestore_db.collection(CHECKOUTS).document(refused_id).get().exists
    shop = [d.to_dict() or {} for d in firestore_db.collection(RATE_LIMITS).stream()]
    assert sorted(d["count"] for d in shop) == [1, 2]  # one shop shard (1), the client (2)


def test_sixteen_concurrent_claims_of_one_checkout_give_one_token(
    firestore_db: firestore.Client,
) -> None:
    checkout_id = str(uuid.uuid4())
    start = threading.Barrier(16)

    def claim(_: int) -> order_store.Claim:
        start.wait()
        return order_store.claim_checkout(checkout_id)

    with ThreadPoolExecutor(16) as pool:
        claims = list(pool.map(claim, range(16)))
    tokens = [c.token for c in claims if c.token]
    assert len(tokens) == 1
    assert Counter(c.busy for c in claims) == {True: 15, False: 1}
    record = firestore_db.collection(CHECKOUTS).document(checkout_id).get().to_dict()
    assert record is not None and record["claimToken"] == tokens[0]


def after_the_read(
    monkeypatch: pytest.MonkeyPatch, client: firestore.Client, interfere: Callable[[], None]
) -> None:
    """Run `interfere()` once, right after the first batched read of `client`."""
    real = client.get_all
    done: list[bool] = []

    def get_all(*args: Any, **kwargs: Any) -> Any:
        snapshots = list(real(*args, **kwargs))
        if not done:
            done.append(True)
            interfere()
        return iter(snapshots)

    monkeypatch.setattr(client, "get_all", get_all)


def save(checkout_id: str, payment_intent_id: str, quantity: int = 1) -> None:
    order_store.save_pending_order(
        checkout_id=checkout_id,
        payment_intent_id=payment_intent_id,
        client_secret=f"{payment_intent_id}_secret_x",
        cart=price_cart((CartLine("tee-classic", quantity),), sample_shop()),
        email=None,
    )


def test_an_intent_recorded_after_the_read_wins_and_ours_is_not_saved(
    firestore_db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout_id, ours, theirs = str(uuid.uuid4()), se.new_id("pi"), se.new_id("pi")
    firestore_db.collection(CHECKOUTS).document(checkout_id).set({"claimToken": "t"})

    def another_request_records_its_intent() -> None:
        firestore_db.collection(CHECKOUTS).document(checkout_id).update({"paymentIntentId": theirs})

    after_the_read(monkeypatch, firestore_db, another_request_records_its_intent)
    with pytest.raises(order_store.CheckoutHasAnotherIntent) as raised:
        save(checkout_id, ours)
    assert raised.value.payment_intent_id == theirs
    assert not firestore_db.collection(ORDERS).document(ours).get().exists


def test_a_cart_change_that_loses_to_the_payment_is_locked(
    firestore_db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout_id, pi_id = str(uuid.uuid4()), se.new_id("pi")
    save(checkout_id, pi_id)
    order_ref = firestore_db.collection(ORDERS).document(pi_id)

    def the_webhook_marks_it_paid() -> None:
        order_ref.update({"status": "paid"})

    after_the_read(monkeypatch, firestore_db, the_webhook_marks_it_paid)
    # The store says so with OrderLocked; the checkout answers it as 409 checkout_locked.
    with pytest.raises(order_store.OrderLocked):
        save(checkout_id, pi_id, quantity=3)
    order = order_ref.get().to_dict() or {}
    assert (order["status"], order["items"][0]["quantity"]) == ("paid", 1)


def test_the_round_trips_of_a_stocked_products_checkout(
    checkout_api: FlaskClient, rpcs: RpcCounter
) -> None:
    holds.set_total(product_pool("tee-classic"), 10, datetime.now(UTC))
    checkout_id = str(uuid.uuid4())
    with rpcs.counting() as new:
        post(checkout_api, checkout_id)
    with rpcs.counting() as repeat:
        post(checkout_api, checkout_id)
    # As above, and the hold: the pool's shards read, the checkout's shard written
    assert new == [READ, COMMIT, COMMIT, READ, COMMIT, READ, COMMIT]
    # the record, its order, the pool (a renewal within a minute is not written), and the
    # record again: no cart change of this checkout was recorded while the hold was read
    assert repeat == [READ, READ, READ, READ]
