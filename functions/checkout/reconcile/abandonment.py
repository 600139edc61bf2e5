"""Expiring abandoned checkouts: a pending order older than the setting whose PaymentIntent is
unpaid has that PaymentIntent canceled at Stripe (`cancellation_reason=abandoned`) and is itself
`canceled`, through the ledger like any other Stripe event. A shopper coming back with that
checkout gets 409 checkout_expired, and the page starts a fresh one without a word.

An order found paid or under way at Stripe is not abandoned: what Stripe says is applied instead.
"""

import time
from datetime import datetime

from checkout.intents import stripe_gateway
from checkout.orders import stripe_sync
from checkout.platform import structured_log as logger
from checkout.platform.errors import ApiError
from checkout.platform.firestore_client import db
from checkout.reconcile import queries
from checkout.reconcile.one_pass import Budget, PassSettings, Summary

STEP = "abandoned"


def expire(order_id: str, order: stripe_sync.Json, summary: Summary) -> None:
    observed_at = int(time.time())
    payment_intent = stripe_gateway.retrieve_payment_intent(order_id)
    if payment_intent.get("status") in stripe_gateway.UNPAID_STATUSES:
        observed_at = int(time.time())
        try:
            payment_intent = stripe_gateway.cancel_abandoned_intent(order_id)
        except ApiError as error:
            if error.status != 400:
                raise
            # Paid, under way or canceled since we looked (Stripe refuses the cancel): apply
            # what it is now instead.
            observed_at = int(time.time())
            payment_intent = stripe_gateway.retrieve_payment_intent(order_id)
        else:
            summary.count(STEP, "canceled_at_stripe")
            logger.info("abandoned checkout canceled", orderId=order_id)
    synced = stripe_sync.apply_payment_intent(
        payment_intent, order, stripe_sync.RECONCILER, observed_at
    )
    summary.count(STEP, synced.outcome)
    summary.fulfilment(STEP, synced.fulfilment)


def run(settings: PassSettings, budget: Budget, summary: Summary, now: datetime) -> None:
    query = queries.idle_pending_orders(db(), now - settings.abandon_after, settings.page_size)
    for snapshot in query.stream():
        if budget.spent():
            summary.left_over(STEP)
            return
        try:
            expire(snapshot.id, snapshot.to_dict() or {}, summary)
        except Exception as error:  # noqa: BLE001 - counted; the next pass tries this order again
            summary.error(STEP, error, orderId=snapshot.id)
