"""Re-checking stuck orders: a pending or processing order not changed for a while has its
PaymentIntent retrieved, and what Stripe says is applied through the state machine (the event
id and the history name the reconciler).

An order the check does not change is touched (updatedAt), also when the check failed, so that
the next pass takes the orders checked longest ago first and neither a long queue of idle
checkouts nor orders that keep failing can starve the rest. An order whose PaymentIntent
Stripe does not know is marked (stripeMissing) and left out of later passes.
"""

from datetime import datetime

from google.cloud import firestore

from checkout.platform.firestore_client import db
from checkout.reconcile import bookkeeping, queries
from checkout.reconcile.pass_state import Budget, PassSettings, Summary, for_each_order
from checkout.stripe_api.connection import PaymentIntentMissing
from checkout.stripe_events import observations
from checkout.stripe_events.plan import Outcome, Source

STEP = "stuck"


def check(
    snapshot: "firestore.DocumentSnapshot[firestore.DocumentReference]",
    summary: Summary,
    now: datetime,
) -> None:
    try:
        result = observations.check_with_stripe(snapshot.id, snapshot.to_dict(), Source.RECONCILER)
    except PaymentIntentMissing:
        summary.checked_with_stripe(STEP, missing=True)
        bookkeeping.mark_missing(snapshot, now)
        return
    summary.checked_with_stripe(STEP, missing=False)
    summary.count(STEP, result.outcome)
    summary.fulfilment(STEP, result.fulfilment)
    if result.outcome is not Outcome.APPLIED:
        bookkeeping.touch(snapshot)


def run(settings: PassSettings, budget: Budget, summary: Summary, now: datetime) -> None:
    query = queries.stuck_orders(db(), now - settings.stuck_after, settings.page_size)
    # A failed check touches the order too, so it goes behind the others in the queue.
    for_each_order(
        STEP,
        query,
        budget,
        summary,
        lambda snapshot: check(snapshot, summary, now),
        after_failure=bookkeeping.touch_after_failure,
    )
