"""The reconciler against the Firestore emulator and localstripe, with no webhook delivered at all:
payments made at Stripe reach their orders, fulfilment happens once, abandoned checkouts expire.

localstripe keeps every event it ever made across the run's tests (GET /v1/events lists them
all), and the conftest empties Firestore before each test, so each test that catches up on events
first sets the cursor to a second after everything earlier tests did (`fresh_cursor`).
"""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from flask.testing import FlaskClient
from google.cloud import firestore

from checkout.orders import fulfilment
from checkout.platform.collections import ORDERS, STRIPE_EVENTS
from checkout.reconcile import catch_up
from checkout.reconcile.one_pass import run_pass
from checkout.reconcile.pass_state import PassSettings, Summary
from tests.conftest import FUNCTIONS_DIR
from tests.integration.conftest import Fulfilled, assert_fulfilled_as_stored, function_client
from tests.integration.reconcile_support import backdate
from tests.shipping_address import US_ADDRESS
from tests.stripe_signing import body, sign

Json = dict[str, Any]

# Nothing is old enough to count as stuck, abandoned or unfulfilled unless a test says so.
QUIET = PassSettings(
    stuck_after=timedelta(days=1), fulfil_after=timedelta(days=1), abandon_after=timedelta(days=2)
)


def open_checkout(checkout_api: FlaskClient, checkout_id: str | None = None) -> Json:
    response = checkout_api.post(
        "/api/payment-intents",
        json={
            "checkoutId": checkout_id or str(uuid.uuid4()),
            "items": [{"productId": "tee-classic", "quantity": 2}],
            "shipping": US_ADDRESS,  # every shippable purchase sends one (tests.shipping_address)
        },
    )
    assert response.status_code == 200, response.get_json()
    opened: Json = response.get_json()
    return opened


def pay_at_stripe(client: stripe.StripeClient, pi_id: str) -> None:
    # What the shopper's browser does with Stripe directly (localstripe: attach, then confirm).
    client.v1.payment_intents.update(pi_id, params={"payment_method": "pm_card_visa"})
    assert client.v1.payment_intents.confirm(pi_id).status == "succeeded"


def order_of(db: firestore.Client, pi_id: str) -> Json:
    return db.collection(ORDERS).document(pi_id).get().to_dict() or {}


def paid_entries(order: Json) -> list[Json]:
    return [h for h in order.get("history", []) if h["status"] == "paid"]


def counts(summary: Summary, step: str) -> dict[str, int]:
    found: dict[str, int] = summary.as_dict().get(step, {})
    return found


# --- catching up on events


def test_a_payment_made_at_stripe_is_paid_and_fulfilled_once_after_a_pass(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    fresh_cursor: int,
    fulfilled: Fulfilled,
) -> None:
    pi_id = open_checkout(checkout_api)["paymentIntentId"]
    pay_at_stripe(stripe_client, pi_id)
    assert order_of(firestore_db, pi_id)["status"] == "pending"  # no webhook: nothing happened

    summary = run_pass(QUIET)

    assert summary.completed and summary.error_count == 0, summary.as_dict()
    assert counts(summary, "events")["applied"] == 1
    order = order_of(firestore_db, pi_id)
    assert order["status"] == "paid"
    assert order["fulfilledAt"] is not None
    assert fulfilled == [pi_id]
    received = fulfilled.order(pi_id)
    assert (received["status"], received["amount"]) == ("paid", 5000 + 500)  # US shipping
    assert [(i["productId"], i["quantity"]) for i in received["items"]] == [("tee-classic", 2)]
    assert_fulfilled_as_stored(received, order)
    # The very event Stripe made (and would have delivered), through the webhook's ledger.
    (entry,) = order["history"]
    assert entry["type"] == "payment_intent.succeeded" and entry["eventId"].startswith("evt_")
    assert firestore_db.collection(STRIPE_EVENTS).document(entry["eventId"]).get().exists


def test_a_second_pass_changes_nothing(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    fresh_cursor: int,
    fulfilled: list[str],
) -> None:
    pi_id = open_checkout(checkout_api)["paymentIntentId"]
    pay_at_stripe(stripe_client, pi_id)
    run_pass(QUIET)
    before = firestore_db.collection(ORDERS).document(pi_id).get()
    ledger_before = len(list(firestore_db.collection(STRIPE_EVENTS).stream()))

    summary = run_pass(QUIET)

    assert summary.error_count == 0
    assert "applied" not in counts(summary, "events")
    assert counts(summary, "events")["duplicate"] >= 1
    after = firestore_db.collection(ORDERS).document(pi_id).get()
    assert after.update_time == before.update_time  # not even rewritten
    assert len(list(firestore_db.collection(STRIPE_EVENTS).stream())) == ledger_before
    assert fulfilled == [pi_id]


def test_two_concurrent_passes_give_one_effect(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    fresh_cursor: int,
    fulfilled: list[str],
) -> None:
    pi_ids = [open_checkout(checkout_api)["paymentIntentId"] for _ in range(3)]
    for pi_id in pi_ids:
        pay_at_stripe(stripe_client, pi_id)
    start = threading.Barrier(2)

    def one_pass(_: int) -> Summary:
        start.wait()
        return run_pass(QUIET)

    with ThreadPoolExecutor(2) as pool:
        summaries = list(pool.map(one_pass, range(2)))

    assert all(s.error_count == 0 for s in summaries), [s.as_dict() for s in summaries]
    assert sum(counts(s, "events").get("applied", 0) for s in summaries) == 3
    for pi_id in pi_ids:
        order = order_of(firestore_db, pi_id)
        assert order["status"] == "paid"
        assert len(paid_entries(order)) == 1
    assert sorted(fulfilled) == sorted(pi_ids)


def test_a_webhook_and_a_pass_racing_on_one_event_give_one_effect(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    fresh_cursor: int,
    fulfilled: list[str],
) -> None:
    pi_id = open_checkout(checkout_api)["paymentIntentId"]
    pay_at_stripe(stripe_client, pi_id)
    listed = stripe_client.v1.events.list(
        params={"type": "payment_intent.succeeded", "created": {"gte": fresh_cursor}}
    )
    (event,) = [e.to_dict() for e in listed.data if e.data.object["id"] == pi_id]
    payload = body(event)
    secret = os.environ["STRIPE_WEBHOOK_SECRET"].split(",")[0]
    webhook = function_client("stripe_webhook")
    start = threading.Barrier(2)

    def deliver() -> str:
        start.wait()
        response = webhook.post(
            "/api/stripe-webhook", data=payload, headers={"Stripe-Signature": sign(payload, secret)}
        )
        assert response.status_code == 200
        return str(response.get_json()["outcome"])

    def reconcile() -> Summary:
        start.wait()
        return run_pass(QUIET)

    with ThreadPoolExecutor(2) as pool:
        delivered = pool.submit(deliver)
        reconciled = pool.submit(reconcile)
        outcome, summary = delivered.result(), reconciled.result()

    applied_by_pass = counts(summary, "events").get("applied", 0)
    assert sorted([outcome, "applied" if applied_by_pass else "duplicate"]) == [
        "applied",
        "duplicate",
    ]
    order = order_of(firestore_db, pi_id)
    assert order["status"] == "paid"
    assert [h["eventId"] for h in order["history"]] == [event["id"]]
    assert fulfilled == [pi_id]


def test_events_are_read_page_by_page_and_applied_oldest_first(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    fresh_cursor: int,
    fulfilled: list[str],
) -> None:
    # Page size 1: more than catch_up.MAX_PAGES pages of one type, so the window is split.
    pi_ids = []
    for _ in range(catch_up.MAX_PAGES + 2):
        pi_ids.append(open_checkout(checkout_api)["paymentIntentId"])
        pay_at_stripe(stripe_client, pi_ids[-1])

    summary = run_pass(PassSettings(**{**QUIET.__dict__, "page_size": 1}))

    assert summary.error_count == 0, summary.as_dict()
    assert counts(summary, "events")["applied"] == len(pi_ids)
    assert sorted(fulfilled) == sorted(pi_ids)
    recorded = [
        firestore_db.collection(STRIPE_EVENTS)
        .document(order_of(firestore_db, p)["history"][0]["eventId"])
        .get()
        for p in pi_ids
    ]
    created = [r.get("eventCreated") for r in recorded]
    processed = [r.get("processedAt") for r in recorded]
    # Oldest first: in the order the payments were made (ties within one second aside).
    order_by_processing = sorted(range(len(pi_ids)), key=lambda i: processed[i])
    assert [created[i] for i in order_by_processing] == sorted(created)


def test_the_first_pass_looks_back_three_days_and_keeps_a_cursor(
    firestore_db: firestore.Client,
) -> None:
    # No cursor: the pass starts 3 days back, and leaves the cursor a settle period behind now.
    summary = run_pass(QUIET)
    assert summary.completed
    cursor = catch_up.read_cursor(firestore_db)
    assert cursor is not None
    assert abs(cursor - (time.time() - QUIET.settle.total_seconds())) < 30


# --- stuck orders and fulfilment


def test_a_stuck_order_is_checked_with_stripe_and_recorded_as_the_reconcilers(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    fulfilled: list[str],
) -> None:
    paid = open_checkout(checkout_api)["paymentIntentId"]
    idle = open_checkout(checkout_api)["paymentIntentId"]
    pay_at_stripe(stripe_client, paid)
    # The catch-up must not see the payment's event: the cursor is already past it.
    time.sleep(1.1)
    catch_up.store_cursor(firestore_db, int(time.time()) + 1)
    idle_before = order_of(firestore_db, idle)

    summary = run_pass(PassSettings(**{**QUIET.__dict__, "stuck_after": timedelta(0)}))

    assert summary.error_count == 0, summary.as_dict()
    assert counts(summary, "stuck")["applied"] == 1
    order = order_of(firestore_db, paid)
    assert order["status"] == "paid" and order["fulfilledAt"] is not None
    (entry,) = order["history"]
    assert entry["eventId"].startswith(f"reconciler_{paid}_succeeded")
    assert fulfilled == [paid]
    # The unpaid one is unchanged but for the check's timestamps.
    idle_after = order_of(firestore_db, idle)
    assert idle_after["status"] == "pending" and idle_after["history"] == []
    assert idle_after["updatedAt"] > idle_before["updatedAt"]


def fulfilling_after(grace: timedelta) -> PassSettings:
    """QUIET, but paid orders unfulfilled for `grace` are due for recovery."""
    return PassSettings(**{**QUIET.__dict__, "fulfil_after": grace})


@pytest.fixture
def failing_once(monkeypatch: pytest.MonkeyPatch, fulfilled: list[str]) -> list[str]:
    """fulfil() raises the first time it is called, then works (and is counted in `fulfilled`)."""
    counting = fulfilment.fulfil
    attempts: list[str] = []

    def flaky(order: Json) -> None:
        attempts.append(order["paymentIntentId"])
        if len(attempts) == 1:
            raise RuntimeError("the warehouse API is down")
        counting(order)

    monkeypatch.setattr(fulfilment, "fulfil", flaky)
    return attempts


def test_a_fulfilment_that_raised_is_retried_once_by_the_next_pass(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    fresh_cursor: int,
    failing_once: list[str],
    fulfilled: list[str],
) -> None:
    pi_id = open_checkout(checkout_api)["paymentIntentId"]
    # Opened (and last written) an hour ago: longer ago than the grace below, so only the
    # paying commit's own write can hold the claim.
    backdate(firestore_db, pi_id, timedelta(hours=1))
    pay_at_stripe(stripe_client, pi_id)
    first = run_pass(QUIET)
    assert counts(first, "events")["fulfilment_failed"] == 1
    assert first.as_dict()["errors"]["events"] == 1
    order = order_of(firestore_db, pi_id)
    assert order["status"] == "paid" and order["fulfilledAt"] is None

    # Within the grace period the payer's claim holds: nobody retries yet. A short grace, as
    # below (with a day's, nothing could be due yet whatever the claim): minutes, more than
    # this test takes since the paying commit, less than the order's age.
    assert "recovered" not in counts(run_pass(fulfilling_after(timedelta(minutes=5))), "fulfilment")
    assert failing_once == [pi_id]

    grace = timedelta(seconds=1)
    time.sleep(1.2)
    start = threading.Barrier(2)

    def recovery_pass(_: int) -> Summary:
        start.wait()
        return run_pass(fulfilling_after(grace))

    with ThreadPoolExecutor(2) as pool:
        summaries = list(pool.map(recovery_pass, range(2)))

    assert sum(counts(s, "fulfilment").get("recovered", 0) for s in summaries) == 1
    assert failing_once == [pi_id, pi_id]  # one failure, one retry
    assert fulfilled == [pi_id]
    order = order_of(firestore_db, pi_id)
    assert order["fulfilledAt"] is not None
    assert order["fulfilmentAttempts"] == 1

    time.sleep(1.2)
    later = run_pass(fulfilling_after(grace))
    assert "recovered" not in counts(later, "fulfilment")
    assert failing_once == [pi_id, pi_id]


# --- the return page


def age(db: firestore.Client, pi_id: str, seconds: float) -> None:
    """Make the order look created and last changed `seconds` ago."""
    then = datetime.now(UTC) - timedelta(seconds=seconds)
    db.collection(ORDERS).document(pi_id).update({"createdAt": then, "updatedAt": then})


def poll(checkout_api: FlaskClient, opened: Json) -> Json:
    response = checkout_api.get(
        f"/api/orders/{opened['paymentIntentId']}",
        headers={"X-Client-Secret": opened["clientSecret"]},
    )
    assert response.status_code == 200, response.get_json()
    answer: Json = response.get_json()
    return answer


def test_the_return_page_sees_paid_without_a_webhook(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    fulfilled: Fulfilled,
    stripe_reads: list[str],
) -> None:
    opened = open_checkout(checkout_api)
    pi_id = opened["paymentIntentId"]
    pay_at_stripe(stripe_client, pi_id)
    # Right after the change the webhook is given its chance: Firestore only.
    assert poll(checkout_api, opened)["status"] == "pending"
    assert stripe_reads == []

    age(firestore_db, pi_id, 6)
    assert poll(checkout_api, opened)["status"] == "paid"
    assert stripe_reads == [pi_id]
    order = order_of(firestore_db, pi_id)
    assert order["fulfilledAt"] is not None and fulfilled == [pi_id]
    received = fulfilled.order(pi_id)
    assert (received["status"], received["amount"]) == ("paid", 5000 + 500)  # US shipping
    assert [(i["productId"], i["quantity"]) for i in received["items"]] == [("tee-classic", 2)]
    assert_fulfilled_as_stored(received, order)
    assert order["history"][0]["eventId"].startswith(f"return_page_{pi_id}_succeeded")
    assert poll(checkout_api, opened)["status"] == "paid"
    assert stripe_reads == [pi_id]


def test_the_return_page_asks_stripe_at_most_once_per_ten_seconds(
    checkout_api: FlaskClient, firestore_db: firestore.Client, stripe_reads: list[str]
) -> None:
    opened = open_checkout(checkout_api)  # never paid: every check finds nothing to apply
    pi_id = opened["paymentIntentId"]
    age(firestore_db, pi_id, 60)
    start = threading.Barrier(8)

    def concurrent_poll(_: int) -> str:
        client = function_client("checkout_api")
        start.wait()
        return str(poll(client, opened)["status"])

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(concurrent_poll, range(8))) == {"pending"}
    for _ in range(5):
        poll(checkout_api, opened)
    assert stripe_reads == [pi_id]
    assert order_of(firestore_db, pi_id)["history"] == []


# --- abandoned checkouts, and the module run as a program


def run_module(*args: str) -> tuple[subprocess.CompletedProcess[str], Json]:
    result = subprocess.run(
        [sys.executable, "-m", "checkout.reconcile", *args],
        cwd=FUNCTIONS_DIR, env=dict(os.environ), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    summary: Json = json.loads(lines[-1])
    return result, summary


def test_abandon_after_0_expires_idle_checkouts_and_leaves_paid_ones_alone(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    fresh_cursor: int,
) -> None:
    idle_checkout = str(uuid.uuid4())
    idle = open_checkout(checkout_api, idle_checkout)["paymentIntentId"]
    # Paid at Stripe, and the order knows it.
    recorded = open_checkout(checkout_api)["paymentIntentId"]
    pay_at_stripe(stripe_client, recorded)
    run_pass(QUIET)
    assert order_of(firestore_db, recorded)["status"] == "paid"
    # Paid at Stripe, but the order does not know it yet (its event is before the cursor).
    unknown = open_checkout(checkout_api)["paymentIntentId"]
    pay_at_stripe(stripe_client, unknown)
    time.sleep(1.1)
    catch_up.store_cursor(firestore_db, int(time.time()) + 1)
    time.sleep(1.0)

    result, summary = run_module("--abandon-after", "0")

    assert result.returncode == 0, result.stderr
    assert summary["completed"] is True
    assert summary["errors"]["total"] == 0, summary
    assert summary["abandoned"]["canceled_at_stripe"] == 1
    # The idle checkout: canceled at Stripe as abandoned, and in Firestore.
    assert stripe_client.v1.payment_intents.retrieve(idle).status == "canceled"
    order = order_of(firestore_db, idle)
    assert order["status"] == "canceled"
    assert order["cancellationReason"] == "abandoned"
    assert order["history"][-1]["eventId"].startswith(f"reconciler_{idle}_canceled")
    # The paid ones: untouched at Stripe, paid in Firestore (the unknown one learnt it now).
    for pi_id in (recorded, unknown):
        assert stripe_client.v1.payment_intents.retrieve(pi_id).status == "succeeded"
        assert order_of(firestore_db, pi_id)["status"] == "paid"
    # The shopper comes back with the idle checkout: the page gets told to start afresh.
    again = checkout_api.post(
        "/api/payment-intents",
        json={"checkoutId": idle_checkout, "items": [{"productId": "tee-classic", "quantity": 2}]},
    )
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "checkout_expired"


def test_the_module_prints_its_summary_last_and_a_second_run_finds_nothing(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    fresh_cursor: int,
) -> None:
    pi_id = open_checkout(checkout_api)["paymentIntentId"]
    pay_at_stripe(stripe_client, pi_id)

    result, summary = run_module()
    assert result.returncode == 0, result.stderr
    assert summary["summary"] == "reconcile" and summary["completed"] is True
    assert summary["events"]["applied"] == 1 and summary["events"]["fulfilled"] == 1
    assert summary["errors"] == {"total": 0}
    assert order_of(firestore_db, pi_id)["status"] == "paid"

    result, summary = run_module()
    assert result.returncode == 0
    assert "applied" not in summary["events"]


def test_stripe_down_is_counted_and_the_pass_goes_on(
    monkeypatch: pytest.MonkeyPatch,
    checkout_api: FlaskClient,
    firestore_db: firestore.Client,
    fresh_cursor: int,
) -> None:
    opened = open_checkout(checkout_api)
    age(firestore_db, opened["paymentIntentId"], 3600)
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:9")  # nothing listens there

    summary = run_pass(
        PassSettings(
            **{**QUIET.__dict__, "stuck_after": timedelta(0), "time_budget": timedelta(seconds=60)}
        )
    )

    report = summary.as_dict()
    assert summary.completed
    assert report["errors"]["events"] >= 1 and report["errors"]["stuck"] == 1
    # The cursor stayed where it was: the next pass retries those events.
    assert catch_up.read_cursor(firestore_db) == fresh_cursor


def test_the_scheduled_function_runs_the_same_pass(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    fresh_cursor: int,
    fulfilled: list[str],
) -> None:
    # What Cloud Scheduler does (the emulator never fires it): a request to the function.
    pi_id = open_checkout(checkout_api)["paymentIntentId"]
    pay_at_stripe(stripe_client, pi_id)
    scheduled = function_client("reconcile_orders")

    response = scheduled.post("/", headers={"X-CloudScheduler-JobName": "reconcile-test"})

    assert response.status_code == 200
    assert order_of(firestore_db, pi_id)["status"] == "paid"
    assert fulfilled == [pi_id]
