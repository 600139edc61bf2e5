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
from flask.testing import FlaskClient
from google.cloud import firestore

from checkout.cart.pricing import price_cart
from checkout.cart.validation import CartLine
from checkout.intents import stripe_gateway
from checkout.orders.store import STRIPE_EVENTS, save_pending_order
from checkout.platform.errors import ApiError
from checkout.reconcile import PassSettings, Summary, catch_up, run_pass
from tests.integration.reconcile_support import backdate, stripe_says
from tests.integration.test_reconcile import counts, open_checkout, order_of

Json = dict[str, Any]

__all__ = ["stripe_says"]  # a fixture, used by name

FAR = timedelta(days=30)


def settings(**changes: Any) -> PassSettings:
    base = {"abandon_after": FAR, "stuck_after": FAR, "fulfil_after": FAR, "page_size": 2}
    return PassSettings(**{**base, **changes})


def order_unknown_to_stripe(db: firestore.Client, ago: timedelta) -> str:
    pi_id = f"pi_testgone{uuid.uuid4().hex[:16]}"
    save_pending_order(
        checkout_id=str(uuid.uuid4()),
        payment_intent_id=pi_id,
        client_secret=f"{pi_id}_secret_x",
        cart=price_cart((CartLine("tee-classic", 1),)),
        email=None,
    )
    backdate(db, pi_id, ago)
    return pi_id


@pytest.fixture
def stripe_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """PaymentIntents retrieved from Stripe (really retrieved, and counted)."""
    calls: list[str] = []
    real = stripe_gateway.retrieve_payment_intent

    def counting(pi_id: str) -> Json:
        calls.append(pi_id)
        return real(pi_id)

    monkeypatch.setattr(stripe_gateway, "retrieve_payment_intent", counting)
    return calls


@pytest.fixture
def failing_for(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """PaymentIntent ids whose retrieval fails as when Stripe is unreachable (a fault injected
    in front of the real call)."""
    failing: set[str] = set()
    real = stripe_gateway.retrieve_payment_intent

    def retrieve(pi_id: str) -> Json:
        if pi_id in failing:
            raise ApiError(502, "stripe_unavailable", "The payment provider is unavailable.")
        return real(pi_id)

    monkeypatch.setattr(stripe_gateway, "retrieve_payment_intent", retrieve)
    return failing


def critical_entries(output: str) -> list[Json]:
    entries = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [e for e in entries if e.get("severity") == "CRITICAL"]


def no_errors(summary: Summary) -> None:
    assert summary.completed and summary.error_count == 0, summary.as_dict()


# --- point 7: an observation that changes nothing writes nothing


def test_a_payment_processing_for_days_is_recorded_once(
    checkout_api: FlaskClient,
    firestore_db: firestore.Client,
    stripe_says: Callable[[str, Json], None],
) -> None:
    pi_id = open_checkout(checkout_api)["paymentIntentId"]
    stripe_says(pi_id, {"status": "processing"})  # an ACH debit: days before it settles
    catch_up.store_cursor(firestore_db, int(datetime.now(UTC).timestamp()) + 3600)
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
