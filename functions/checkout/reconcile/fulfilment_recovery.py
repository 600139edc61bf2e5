"""Recovering fulfilment: a paid order with no fulfilledAt for a while is fulfilled, at most once.

Whoever makes an order paid (the webhook, the return page, a pass) fulfils it right after the
commit that made it paid. That commit also writes updatedAt, and a recovery claim, in a
transaction, takes only an order whose last write is older than the grace period and still
the one the query saw; the claim itself writes updatedAt. So the paying commit is the
webhook's claim (no extra write on its path), a claim lasts the grace period, and of two passes
racing for one order only one commits its claim: fulfil() runs once per claim.
"""

from datetime import datetime
from typing import Any

from google.cloud import firestore

from checkout.orders import fulfilment
from checkout.orders.status import OrderStatus
from checkout.platform import firestore_client
from checkout.platform import structured_log as logger
from checkout.platform.firestore_client import db
from checkout.reconcile import queries
from checkout.reconcile.pass_state import (
    Budget,
    OrderSnapshot,
    PassSettings,
    Summary,
    for_each_order,
)

STEP = "fulfilment"


def claim(ref: firestore.DocumentReference, seen_updated_at: Any) -> dict[str, Any] | None:
    """The order, if this pass now holds its fulfilment; None if it is no longer ours to do."""

    def take(transaction: firestore.Transaction) -> dict[str, Any] | None:
        order = ref.get(transaction=transaction).to_dict()
        if (
            order is None
            or order.get("status") != OrderStatus.PAID.value
            or order.get("fulfilledAt") is not None
            # Written since the query: fulfilled, claimed by another pass, or changed.
            or order.get("updatedAt") != seen_updated_at
        ):
            return None
        transaction.update(
            ref,
            {
                "fulfilmentClaimedAt": firestore.SERVER_TIMESTAMP,
                "fulfilmentAttempts": firestore.Increment(1),
                "updatedAt": firestore.SERVER_TIMESTAMP,
            },
        )
        return order

    run_once = firestore.transactional(take)
    claimed: dict[str, Any] | None = firestore_client.retry_on_contention(
        lambda: run_once(firestore_client.transaction())
    )
    return claimed


def recover(snapshot: OrderSnapshot, summary: Summary) -> None:
    order = claim(snapshot.reference, snapshot.get("updatedAt"))
    if order is None:
        summary.count(STEP, "taken_by_another")
        return
    logger.warn(
        "fulfilling a paid order the webhook did not fulfil",
        orderId=snapshot.id,
        attempt=int(order.get("fulfilmentAttempts") or 0) + 1,
    )
    fulfilment.fulfil(order)
    summary.count(STEP, "recovered")


def run(settings: PassSettings, budget: Budget, summary: Summary, now: datetime) -> None:
    query = queries.unfulfilled_paid_orders(db(), now - settings.fulfil_after, settings.page_size)
    # A failure is retried by a later pass, once the claim's grace period has passed.
    for_each_order(STEP, query, budget, summary, lambda snapshot: recover(snapshot, summary))
