"""Closing PaymentIntents left open past the attempt cap: an order at or over the cap that can
still be paid has its PaymentIntent canceled at Stripe, and what Stripe then says is applied
through the ledger like any other Stripe event (the order becomes `canceled`).

Whoever records the capping decline cancels right after its commit
(checkout.stripe_events.attempt_cap); this step catches what that missed: an instance that
died after the commit, Stripe down at the time, a cap reached before that follow-up existed.
"""

import time
from datetime import datetime

from google.cloud import firestore

from checkout.orders.attempts import decline_count
from checkout.platform.firestore_client import db
from checkout.reconcile import bookkeeping, queries
from checkout.reconcile.pass_state import Budget, PassSettings, Summary, for_each_order
from checkout.stripe_api import payment_intents
from checkout.stripe_api.connection import PaymentIntentMissing
from checkout.stripe_events import attempt_cap, observations
from checkout.stripe_events.plan import Source

STEP = "attempt_cap"


def close(
    snapshot: "firestore.DocumentSnapshot[firestore.DocumentReference]",
    summary: Summary,
    now: datetime,
) -> None:
    order_id, order = snapshot.id, snapshot.to_dict() or {}
    observed_at = int(time.time())
    payment_intent = attempt_cap.cancel(order_id, decline_count(order))
    if payment_intent is None:
        # Refused (paid, under way or canceled since) or failed: apply what it is now. If
        # Stripe cannot be asked either, this raises and the next pass tries again.
        observed_at = int(time.time())
        try:
            payment_intent = payment_intents.retrieve_payment_intent(order_id)
        except PaymentIntentMissing:
            # Like the stuck and abandonment steps: left out of later passes, not retried forever.
            summary.checked_with_stripe(STEP, missing=True)
            bookkeeping.mark_missing(snapshot, now)
            return
        summary.checked_with_stripe(STEP, missing=False)
    else:
        summary.count(STEP, "canceled_at_stripe")
    result = observations.apply_observation(payment_intent, order, Source.RECONCILER, observed_at)
    summary.count(STEP, result.outcome)
    summary.fulfilment(STEP, result.fulfilment)


def run(settings: PassSettings, budget: Budget, summary: Summary, now: datetime) -> None:
    query = queries.capped_open_orders(db(), now, settings.page_size)
    for_each_order(STEP, query, budget, summary, lambda snapshot: close(snapshot, summary, now))
