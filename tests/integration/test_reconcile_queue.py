"""The reconciler's queues keep moving, against the Firestore emulator and localstripe: orders
Stripe does not know are marked and left out, orders that fail to check do not hold up the
others, and an order Stripe keeps saying the same thing about is not rewritten on every pass.

Orders "unknown to Stripe" are real pending orders (written by the checkout's own store code)
whose PaymentIntent ids localstripe never had, as after switching from test to live keys.
"""

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from flask.testing import FlaskClient
from google.cloud import firestore

from checkout.cart.pricing import price_cart
from checkout.cart.validation import CartLine
from checkout.orders.store import save_pending_order
from checkout.platform.collections import STRIPE_EVENTS
from checkout.platform.errors import ApiError
from checkout.reconcile import catch_up
from checkout.reconcile.one_pass import run_pass
from checkout.reconcile.pass_state import PassSettings, Summary
from checkout.stripe_api import payment_intents
from tests.integration.reconcile_support import backdate, later, stripe_says, stripe_status
from tests.integration.test_reconcile import counts, open_checkout, order_of, pay_at_stripe
from tests.sample_catalog import sample_shop

Json = dict[str, Any]

__all__ = ["stripe_says"]  # a fixture, used by name

FAR = timedelta(days=30)


@pytest.fixture(autouse=True)
def no_earlier_events(firestore_db: firestore.Client) -> None:
    """localstripe keeps every earlier test's events: the catch-up would rebuild their orders
    (some at the attempt cap) into these queues. These tests are about the queues alone."""
    catch_up.store_cursor(firestore_db, int(datetime.now(UTC).timestamp()) + 3600)


def settings(**changes: Any) -> PassSettings:
    base = {"abandon_after": FAR, "stuck_after": FAR, "fulfil_after": FAR, "page_size": 2}
    return PassSettings(**{**base, **changes})


def order_unknown_to_stripe(db: firestore.Client, ago: timedelta) -> str:
    pi_id = f"pi_testgone{uuid.uuid4().hex[:16]}"
    save_pending_order(
        checkout_id=str(uuid.uuid4()),
        payment_intent_id=pi_id,
        client_secret=f"{pi_id}_secret_x",
        cart=price_cart((CartLine("tee-classic", 1),), sample_shop()),
        email=None,
    )
    backdate(db, pi_id, ago)
    return pi_id


@pytest.fixture
def failing_for(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """PaymentIntent ids whose retrieval fails as when Stripe is unreachable (a fault injected
    in front of the real call)."""
    failing: set[str] = set()
    real = payment_intents.retrieve_payment_intent

    def retrieve(pi_id: str) -> Json:
        if pi_id in failing:
            raise ApiError(502, "stripe_unavailable", "The payment provider is unavailable.")
        return real(pi_id)

    monkeypatch.setattr(payment_intents, "retrieve_payment_intent", retrieve)
    return failing


def critical_entries(output: str) -> list[Json]:
    entries = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [e for e in entries if e.get("severity") == "CRITICAL"]


def no_errors(summary: Summary) -> None:
    assert summary.completed and summary.error_count == 0, summary.as_dict()


# --- point 6: orders that Stripe does not know


def test_orders_unknown_to_stripe_are_marked_and_the_abandonment_queue_moves_on(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    stripe_reads: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    gone = [order_unknown_to_stripe(firestore_db, timedelta(days=9 - n)) for n in range(3)]
    idle = open_checkout(checkout_api)["paymentIntentId"]
    backdate(firestore_db, idle, timedelta(days=3))
    abandon = settings(abandon_after=timedelta(days=1))

    first, second, third = (run_pass(abandon) for _ in range(3))

    # Two a pass (the page size): the unknown ones first, then the idle checkout behind them.
    assert counts(first, "abandoned") == {"stripe_missing": 2}
    assert counts(second, "abandoned")["stripe_missing"] == 1
    assert counts(second, "abandoned")["canceled_at_stripe"] == 1
    assert counts(third, "abandoned") == {}
    assert stripe_status(stripe_client, idle) == "canceled"
    # Each unknown order was asked about once, then left out of every later pass.
    assert sorted(stripe_reads) == sorted([*gone, idle])
    for pi_id in gone:
        order = order_of(firestore_db, pi_id)
        assert order["stripeMissing"] is True and order["status"] == "pending"
        assert order["history"] == []
    for summary in (first, second, third):
        assert summary.error_count == 0, summary.as_dict()
    # The first pass found nothing but unknown orders: one CRITICAL entry names the likely cause.
    captured = capsys.readouterr()
    alerts = critical_entries(captured.out + captured.err)
    assert len(alerts) == 1, alerts
    assert "another Stripe account or mode" in alerts[0]["message"]
    assert (alerts[0]["unknown"], alerts[0]["checked"]) == (2, 2)


def test_orders_unknown_to_stripe_do_not_block_the_stuck_step(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    stripe_reads: list[str],
) -> None:
    gone = [order_unknown_to_stripe(firestore_db, timedelta(hours=9 - n)) for n in range(3)]
    paid = open_checkout(checkout_api)["paymentIntentId"]
    pay_at_stripe(stripe_client, paid)
    backdate(firestore_db, paid, timedelta(hours=1))
    stuck = settings(stuck_after=timedelta(minutes=10))

    first, second, third = (run_pass(stuck) for _ in range(3))

    assert counts(first, "stuck") == {"stripe_missing": 2}
    assert counts(second, "stuck") == {"stripe_missing": 1, "applied": 1, "fulfilled": 1}
    assert counts(third, "stuck") == {}
    assert order_of(firestore_db, paid)["status"] == "paid"
    assert sorted(stripe_reads) == sorted([*gone, paid])
    assert all(order_of(firestore_db, pi_id)["stripeMissing"] is True for pi_id in gone)


def test_orders_unknown_to_stripe_are_left_out_of_the_attempt_cap_sweep(
    firestore_db: firestore.Client, stripe_reads: list[str]
) -> None:
    gone = order_unknown_to_stripe(firestore_db, timedelta(hours=1))
    firestore_db.collection("orders").document(gone).update({"declineCount": 5})

    first, second = run_pass(settings()), run_pass(settings())

    assert counts(first, "attempt_cap") == {"stripe_missing": 1}
    assert counts(second, "attempt_cap") == {}
    assert stripe_reads == [gone]
    order = order_of(firestore_db, gone)
    assert order["stripeMissing"] is True and order["status"] == "pending"
    no_errors(first)


# --- point 6: other failures do not block either


def test_orders_that_fail_to_check_do_not_block_the_stuck_step(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    failing_for: set[str],
) -> None:
    failing = [open_checkout(checkout_api)["paymentIntentId"] for _ in range(2)]
    for n, pi_id in enumerate(failing):
        backdate(firestore_db, pi_id, timedelta(hours=3 - n))
    failing_for.update(failing)
    paid = open_checkout(checkout_api)["paymentIntentId"]
    pay_at_stripe(stripe_client, paid)
    backdate(firestore_db, paid, timedelta(hours=1))
    stuck = settings(stuck_after=timedelta(minutes=10))

    first = run_pass(stuck)
    second = run_pass(stuck)

    assert first.as_dict()["errors"] == {"total": 2, "stuck": 2}
    assert counts(second, "stuck")["applied"] == 1
    assert order_of(firestore_db, paid)["status"] == "paid"


def test_orders_that_fail_to_check_do_not_block_the_abandonment_step(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    failing_for: set[str],
) -> None:
    failing = [open_checkout(checkout_api)["paymentIntentId"] for _ in range(2)]
    for n, pi_id in enumerate(failing):
        backdate(firestore_db, pi_id, timedelta(days=5 - n))
    failing_for.update(failing)
    idle = open_checkout(checkout_api)["paymentIntentId"]
    backdate(firestore_db, idle, timedelta(days=2))
    abandon = settings(abandon_after=timedelta(days=1))

    first = run_pass(abandon)
    second = run_pass(abandon)

    assert first.as_dict()["errors"] == {"total": 2, "abandoned": 2}
    assert counts(second, "abandoned")["canceled_at_stripe"] == 1
    assert stripe_status(stripe_client, idle) == "canceled"
    # The failing ones were left open, to be looked at again.
    assert all(stripe_status(stripe_client, pi_id) != "canceled" for pi_id in failing)


# --- point 7: an observation that changes nothing writes nothing


def test_a_payment_processing_for_days_is_recorded_once(
    checkout_api: FlaskClient,
    firestore_db: firestore.Client,
    stripe_says: Callable[[str, Json], None],
) -> None:
    pi_id = open_checkout(checkout_api)["paymentIntentId"]
    stripe_says(pi_id, {"status": "processing"})  # an ACH debit: days before it settles
    every_time = settings(stuck_after=timedelta(0))

    no_errors(run_pass(every_time))
    recorded = order_of(firestore_db, pi_id)
    ledger = len(list(firestore_db.collection(STRIPE_EVENTS).stream()))
    assert recorded["status"] == "processing" and len(recorded["history"]) == 1

    for _ in range(3):
        time.sleep(1.1)  # each look a second later, as a pass every 10 minutes would be
        summary = run_pass(every_time)
        no_errors(summary)
        assert counts(summary, "stuck") == {"nothing_to_apply": 1}

    order = order_of(firestore_db, pi_id)
    assert order["history"] == recorded["history"]
    assert order["lastEventCreated"] == recorded["lastEventCreated"]
    assert len(list(firestore_db.collection(STRIPE_EVENTS).stream())) == ledger
    # Only the step's own bookkeeping moved: when it last asked Stripe.
    changed = {k for k in order if order[k] != recorded.get(k)}
    assert changed <= {"updatedAt", "stripeCheckedAt"}, changed


# --- orders an older version wrote: the walk that gives them the new fields


def as_an_older_version_wrote_it(db: firestore.Client, pi_id: str, ago: timedelta) -> None:
    backdate(
        db,
        pi_id,
        ago,
        lastActivityAt=firestore.DELETE_FIELD,
        stripeMissing=firestore.DELETE_FIELD,
    )


def test_the_walk_over_older_orders_goes_page_by_page_and_ends(
    checkout_api: FlaskClient, firestore_db: firestore.Client
) -> None:
    older = [open_checkout(checkout_api)["paymentIntentId"] for _ in range(3)]
    for n, pi_id in enumerate(older):
        as_an_older_version_wrote_it(firestore_db, pi_id, timedelta(hours=5 - n))
    newer = open_checkout(checkout_api)["paymentIntentId"]
    newer_before = order_of(firestore_db, newer)

    first = run_pass(settings())  # pages of 2: all three in one pass, then a short page

    no_errors(first)
    assert counts(first, "older_orders") == {"updated": 3}
    for pi_id in older:
        order = order_of(firestore_db, pi_id)
        assert order["lastActivityAt"] == order["createdAt"]
        assert order["stripeMissing"] is False
    assert order_of(firestore_db, newer) == newer_before  # it had them: left as it was
    state = firestore_db.collection("reconciler").document("older_orders")
    assert state.get().get("done") is False  # older instances may still be writing
    # Written by an older instance meanwhile: the walk, resuming from its cursor, finds it.
    late = open_checkout(checkout_api)["paymentIntentId"]
    as_an_older_version_wrote_it(firestore_db, late, timedelta(0))
    assert counts(run_pass(settings()), "older_orders") == {"updated": 1}

    # An hour after its first pass, a short page ends the walk for good.
    assert "older_orders" not in run_pass(settings(), now=later(0.05)).as_dict()
    assert state.get().get("done") is True
    unwalked = open_checkout(checkout_api)["paymentIntentId"]
    as_an_older_version_wrote_it(firestore_db, unwalked, timedelta(0))
    run_pass(settings())
    assert "stripeMissing" not in order_of(firestore_db, unwalked)
