"""POST /api/stripe-webhook in-process (as functions-framework serves it) on the Firestore
emulator: signatures, duplicates, concurrency, order of arrival, and what is written."""

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask.testing import FlaskClient
from google.cloud import firestore

from checkout.platform.collections import ORDERS, STRIPE_EVENTS
from tests import stripe_events as se
from tests.integration.conftest import Fulfilled, assert_fulfilled_as_stored, function_client
from tests.stripe_signing import body, sign

Json = dict[str, Any]


@pytest.fixture
def secret() -> str:
    return os.environ["STRIPE_WEBHOOK_SECRET"].split(",")[0]


Deliver = Callable[..., Any]


@pytest.fixture
def deliver(stripe_webhook: FlaskClient, secret: str) -> Deliver:
    def post(event: Json, signature: str | None = None, raw: bytes | None = None) -> Any:
        payload = raw if raw is not None else body(event)
        header = signature if signature is not None else sign(payload, secret)
        return stripe_webhook.post(
            "/api/stripe-webhook",
            data=payload,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )

    return post


def seed(db: firestore.Client, **fields: Any) -> str:
    pi_id = se.new_id("pi")
    db.collection(ORDERS).document(pi_id).set(
        {**se.order(pi_id, **fields), "createdAt": firestore.SERVER_TIMESTAMP}
    )
    return pi_id


def order_of(db: firestore.Client, pi_id: str) -> Json:
    order = db.collection(ORDERS).document(pi_id).get().to_dict()
    assert order is not None
    return order


def ledger(db: firestore.Client) -> dict[str, Json]:
    return {d.id: d.to_dict() or {} for d in db.collection(STRIPE_EVENTS).stream()}


def all_documents(db: firestore.Client) -> dict[str, Json]:
    return {f"{c.id}/{d.id}": d.to_dict() or {} for c in db.collections() for d in c.stream()}


def succeeded(pi_id: str, created: int | None = None, **pi: Any) -> Json:
    return se.event("payment_intent.succeeded", se.payment_intent(pi_id, **pi), created=created)


# --- signatures: 400 and nothing written


def test_a_signed_success_makes_the_order_paid_and_fulfilled(
    deliver: Deliver, firestore_db: firestore.Client, fulfilled: Fulfilled
) -> None:
    pi_id = seed(firestore_db)
    event = succeeded(pi_id)
    response = deliver(event)
    assert response.status_code == 200, response.get_data()
    assert response.get_json()["outcome"] == "applied"

    order = order_of(firestore_db, pi_id)
    assert order["status"] == "paid"
    assert order["amountReceived"] == 5000
    assert order["fulfilledAt"] is not None  # set by the default fulfil()
    assert order["updatedAt"] is not None
    assert [(h["eventId"], h["type"], h["status"]) for h in order["history"]] == [
        (event["id"], "payment_intent.succeeded", "paid")
    ]
    entry = ledger(firestore_db)[event["id"]]
    assert entry["outcome"] == "applied"
    assert (entry["orderId"], entry["previousStatus"], entry["status"]) == (
        pi_id,
        "pending",
        "paid",
    )
    assert entry["processedAt"] is not None and entry["expireAt"] is not None
    assert fulfilled == [pi_id]
    received = fulfilled.order(pi_id)
    assert (received["status"], received["amount"], received["amountReceived"]) == (
        "paid",
        5000,
        5000,
    )
    assert received["items"] == se.order(pi_id)["items"]
    assert [h["status"] for h in received["history"]] == ["paid"]
    assert_fulfilled_as_stored(received, order)


def test_a_success_for_a_newer_cart_fulfils_the_corrected_order(
    deliver: Deliver, firestore_db: firestore.Client, fulfilled: Fulfilled
) -> None:
    # The order still holds the older cart (2 tees, 5000); the PaymentIntent was updated to the
    # newer one before the shopper paid (concurrent cart updates): what was paid for is shipped.
    pi_id = seed(firestore_db)
    newer = se.shop_metadata(items="tee-classic:2,mug-enamel:1")
    response = deliver(succeeded(pi_id, amount=6400, metadata=newer))
    assert (response.status_code, response.get_json()["status"]) == (200, "paid")

    order = order_of(firestore_db, pi_id)
    received = fulfilled.order(pi_id)
    assert (received["status"], received["amount"], received["amountReceived"]) == (
        "paid",
        6400,
        6400,
    )
    assert [(i["productId"], i["quantity"], i["unitAmount"]) for i in received["items"]] == [
        ("tee-classic", 2, 2500),
        ("mug-enamel", 1, 1400),
    ]
    assert received["cartCorrectedFrom"] == {"amount": 5000, "items": se.order(pi_id)["items"]}
    assert "reviewReason" not in received
    assert_fulfilled_as_stored(received, order)
    assert order["fulfilledAt"] is not None


@pytest.mark.parametrize(
    "header",
    [
        "",
        "t=1,v1=00",
        f"t={int(time.time())},v1={'0' * 64}",
    ],
    ids=["missing", "expired-garbage", "forged"],
)
def test_a_bad_signature_is_400_and_writes_nothing(
    deliver: Deliver, firestore_db: firestore.Client, header: str
) -> None:
    pi_id = seed(firestore_db)
    before = all_documents(firestore_db)
    response = deliver(succeeded(pi_id), signature=header)
    assert response.status_code == 400
    assert all_documents(firestore_db) == before


def test_an_expired_genuine_signature_is_400_and_writes_nothing(
    deliver: Deliver, firestore_db: firestore.Client, secret: str
) -> None:
    pi_id = seed(firestore_db)
    payload = body(succeeded(pi_id))
    response = deliver({}, raw=payload, signature=sign(payload, secret, int(time.time()) - 301))
    assert response.status_code == 400
    assert order_of(firestore_db, pi_id)["status"] == "pending"
    assert ledger(firestore_db) == {}


def test_a_signed_body_that_is_not_an_event_is_400(
    deliver: Deliver, firestore_db: firestore.Client
) -> None:
    assert deliver({}, raw=json.dumps({"id": "evt_1"}).encode()).status_code == 400
    assert ledger(firestore_db) == {}


def test_a_missing_header_is_400(stripe_webhook: FlaskClient) -> None:
    response = stripe_webhook.post("/api/stripe-webhook", data=b"{}")
    assert response.status_code == 400


# --- exactly once


def test_a_redelivery_is_a_200_no_op(
    deliver: Deliver, firestore_db: firestore.Client, fulfilled: list[str]
) -> None:
    pi_id = seed(firestore_db)
    event = succeeded(pi_id)
    payload = body(event)
    first = deliver(event, raw=payload)
    order = order_of(firestore_db, pi_id)
    # A replay of the very same bytes and signature (within the tolerance) is a duplicate.
    header = sign(payload, os.environ["STRIPE_WEBHOOK_SECRET"].split(",")[0])
    replay = deliver(event, raw=payload, signature=header)
    again = deliver(event)
    assert (first.status_code, replay.status_code, again.status_code) == (200, 200, 200)
    assert replay.get_json()["outcome"] == again.get_json()["outcome"] == "duplicate"
    assert order_of(firestore_db, pi_id) == order  # not even updatedAt moved
    assert len(ledger(firestore_db)) == 1
    assert fulfilled == [pi_id]


def test_ten_concurrent_deliveries_change_the_order_once(
    stripe_webhook: FlaskClient, secret: str, firestore_db: firestore.Client, fulfilled: list[str]
) -> None:
    pi_id = seed(firestore_db)
    payload = body(succeeded(pi_id))
    start = threading.Barrier(10)

    def post(_: int) -> tuple[int, str]:
        client = function_client("stripe_webhook")
        start.wait()
        response = client.post(
            "/api/stripe-webhook", data=payload, headers={"Stripe-Signature": sign(payload, secret)}
        )
        return response.status_code, (response.get_json() or {}).get("outcome", "")

    began = time.monotonic()
    with ThreadPoolExecutor(10) as pool:
        results = Counter(pool.map(post, range(10)))
    elapsed = time.monotonic() - began
    print(f"10 concurrent deliveries: {dict(results)} in {elapsed:.2f} s")

    assert results == {(200, "applied"): 1, (200, "duplicate"): 9}
    order = order_of(firestore_db, pi_id)
    assert order["status"] == "paid"
    assert len(order["history"]) == 1
    assert len(ledger(firestore_db)) == 1
    assert fulfilled == [pi_id]


def test_concurrent_different_events_for_one_order_end_paid(
    stripe_webhook: FlaskClient, secret: str, firestore_db: firestore.Client, fulfilled: list[str]
) -> None:
    pi_id = seed(firestore_db)
    now = int(time.time())
    events = [
        se.event("payment_intent.processing", se.payment_intent(pi_id), created=now - 2),
        se.event("payment_intent.payment_failed", se.failed_payment_intent(pi_id), created=now - 1),
        succeeded(pi_id, created=now),
        se.event("customer.created", {"id": "cus_1", "object": "customer"}),
    ]
    start = threading.Barrier(len(events))

    def post(event: Json) -> int:
        client = function_client("stripe_webhook")
        payload = body(event)
        start.wait()
        response = client.post(
            "/api/stripe-webhook", data=payload, headers={"Stripe-Signature": sign(payload, secret)}
        )
        return response.status_code

    with ThreadPoolExecutor(len(events)) as pool:
        assert list(pool.map(post, events)) == [200] * len(events)
    order = order_of(firestore_db, pi_id)
    assert order["status"] == "paid"
    assert order["history"][-1]["status"] == "paid"
    assert len(ledger(firestore_db)) == 3  # the unhandled event is not recorded
    assert fulfilled == [pi_id]


# --- order of arrival


def test_late_events_never_undo_paid(deliver: Deliver, firestore_db: firestore.Client) -> None:
    pi_id = seed(firestore_db)
    now = int(time.time())
    success = succeeded(pi_id, created=now)
    late_failure = se.event(
        "payment_intent.payment_failed", se.failed_payment_intent(pi_id), created=now - 5
    )
    late_processing = se.event(
        "payment_intent.processing", se.payment_intent(pi_id, status="processing"), created=now - 9
    )
    replies = [deliver(e).get_json() for e in (success, late_failure, late_processing)]
    # The late decline is recorded (every decline is), but the order stays paid.
    assert [(r["outcome"], r["status"]) for r in replies] == [
        ("applied", "paid"),
        ("applied", "paid"),
        ("ignored", "paid"),
    ]

    order = order_of(firestore_db, pi_id)
    assert order["status"] == "paid"
    assert order["declineCount"] == 1
    assert [h["eventId"] for h in order["history"]] == [success["id"], late_failure["id"]]
    entries = ledger(firestore_db)
    assert entries[late_processing["id"]]["outcome"] == "ignored"
    assert entries[late_processing["id"]]["reason"].startswith("stale: processing")
    # Ignored is final too: redelivering it is a duplicate, not a second look.
    assert deliver(late_processing).get_json()["outcome"] == "duplicate"


def test_a_failure_then_a_success_ends_paid_with_the_error_recorded(
    deliver: Deliver, firestore_db: firestore.Client, fulfilled: list[str]
) -> None:
    pi_id = seed(firestore_db)
    now = int(time.time())
    failure = se.event(
        "payment_intent.payment_failed", se.failed_payment_intent(pi_id), created=now - 60
    )
    assert deliver(failure).get_json()["status"] == "failed"
    assert order_of(firestore_db, pi_id)["lastPaymentError"]["code"] == "card_declined"
    assert deliver(succeeded(pi_id, created=now)).get_json()["status"] == "paid"
    order = order_of(firestore_db, pi_id)
    assert [h["status"] for h in order["history"]] == ["failed", "paid"]
    assert fulfilled == [pi_id]


def test_canceled_and_refunds(deliver: Deliver, firestore_db: firestore.Client) -> None:
    canceled_id = seed(firestore_db)
    pi = se.payment_intent(canceled_id, status="canceled", cancellation_reason="abandoned")
    assert deliver(se.event("payment_intent.canceled", pi)).get_json()["status"] == "canceled"

    paid_id = seed(firestore_db, status="paid")
    partial = se.event("charge.refunded", se.charge(paid_id, amount_refunded=1500))
    assert deliver(partial).get_json()["status"] == "paid"
    assert order_of(firestore_db, paid_id)["refundedAmount"] == 1500
    full = se.event("charge.refunded", se.charge(paid_id, amount_refunded=5000))
    assert deliver(full).get_json()["status"] == "refunded"
    order = order_of(firestore_db, paid_id)
    assert (order["status"], order["refundedAmount"]) == ("refunded", 5000)


# --- amounts and missing orders


def test_an_amount_mismatch_needs_review_and_logs_an_error(
    deliver: Deliver,
    firestore_db: firestore.Client,
    fulfilled: list[str],
    capfd: pytest.CaptureFixture[str],
) -> None:
    pi_id = seed(firestore_db)
    response = deliver(succeeded(pi_id, amount=50))
    assert response.status_code == 200
    order = order_of(firestore_db, pi_id)
    assert order["status"] == "needs_review"
    assert "paid 50 usd but the order is for 5000 usd" in order["reviewReason"]
    assert "fulfilledAt" not in order
    assert fulfilled == []
    _, err = capfd.readouterr()
    errors = [json.loads(line) for line in err.splitlines() if '"ERROR"' in line]
    assert len(errors) == 1 and errors[0]["orderId"] == pi_id


def test_a_marked_payment_whose_order_is_missing_rebuilds_it(
    deliver: Deliver, firestore_db: firestore.Client, fulfilled: Fulfilled
) -> None:
    pi_id = se.new_id("pi")
    pi = se.payment_intent(
        pi_id,
        amount=2 * 2500 + 1400,
        metadata=se.shop_metadata(
            checkoutId="c0ffee00-0000-4000-8000-000000000000",
            items="tee-classic:2,mug-enamel:1",
        ),
    )
    response = deliver(se.event("payment_intent.succeeded", pi))
    assert response.get_json()["status"] == "paid"
    order = order_of(firestore_db, pi_id)
    assert order["source"] == "webhook"
    assert order["amount"] == 6400
    assert [i["productId"] for i in order["items"]] == ["tee-classic", "mug-enamel"]
    assert order["createdAt"] is not None
    assert fulfilled == [pi_id]
    received = fulfilled.order(pi_id)
    assert (received["status"], received["amount"]) == ("paid", 6400)
    assert [(i["productId"], i["quantity"]) for i in received["items"]] == [
        ("tee-classic", 2),
        ("mug-enamel", 1),
    ]
    assert_fulfilled_as_stored(received, order)


def test_an_unhandled_event_is_200_and_writes_nothing(
    deliver: Deliver, firestore_db: firestore.Client
) -> None:
    seed(firestore_db)
    before = all_documents(firestore_db)
    response = deliver(se.event("invoice.paid", {"id": "in_1", "object": "invoice"}))
    assert response.status_code == 200
    assert response.get_json()["outcome"] == "unhandled"
    assert all_documents(firestore_db) == before
