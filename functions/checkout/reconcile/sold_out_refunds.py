"""Retrying sold-out refunds: an order paid for units no longer on sale (`soldOut`,
checkout.stripe_events.stock) is refunded in full right after the commit that records it; when
that refund failed (Stripe down, the instance gone), the order is still needs_review with no
refund recorded, and this step asks for the refund again, with the same idempotency key, so
that Stripe never refunds twice. Stripe's refund events (or the events catch-up) then make it
`refunded`.
"""

from datetime import datetime

from google.cloud import firestore

from checkout.platform.firestore_client import db
from checkout.reconcile import queries
from checkout.reconcile.pass_state import Budget, PassSettings, Summary, for_each_order
from checkout.stripe_events import sold_out

STEP = "sold_out_refunds"


def retry(
    snapshot: "firestore.DocumentSnapshot[firestore.DocumentReference]", summary: Summary
) -> None:
    summary.count(
        STEP, sold_out.REFUNDED if sold_out.refund(snapshot.id) else sold_out.NOT_REFUNDED
    )


def run(settings: PassSettings, budget: Budget, summary: Summary, now: datetime) -> None:
    # Given the refund's own events time to arrive first (they come within seconds).
    query = queries.unrefunded_sold_out_orders(db(), now - settings.stuck_after, settings.page_size)
    for_each_order(STEP, query, budget, summary, lambda snapshot: retry(snapshot, summary))
