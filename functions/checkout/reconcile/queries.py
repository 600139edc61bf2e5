"""Every Firestore query the reconciler makes, in one place.

Production Firestore refuses a query that has no index to serve it (the emulator does not), so
firestore.indexes.json declares a composite index for each of these, and
tests/unit/test_firestore_indexes.py matches every query here to one.
"""

from datetime import datetime

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from checkout.orders.attempts import CANCELABLE_STATUSES, MAX_DECLINED_ATTEMPTS
from checkout.orders.status import OrderStatus
from checkout.orders.store import ORDERS


def stuck_orders(client: firestore.Client, updated_before: datetime, limit: int) -> firestore.Query:
    """Orders still waiting for Stripe's word, not changed (or checked) since `updated_before`."""
    return (
        client.collection(ORDERS)
        .where(
            filter=FieldFilter(
                "status", "in", [OrderStatus.PENDING.value, OrderStatus.PROCESSING.value]
            )
        )
        .where(filter=FieldFilter("updatedAt", "<", updated_before))
        .order_by("updatedAt")
        .limit(limit)
    )


def idle_pending_orders(
    client: firestore.Client, created_before: datetime, limit: int
) -> firestore.Query:
    """Checkouts opened before `created_before` and never paid: candidates for abandonment."""
    return (
        client.collection(ORDERS)
        .where(filter=FieldFilter("status", "==", OrderStatus.PENDING.value))
        .where(filter=FieldFilter("createdAt", "<", created_before))
        .order_by("createdAt")
        .limit(limit)
    )


def unfulfilled_paid_orders(
    client: firestore.Client, updated_before: datetime, limit: int
) -> firestore.Query:
    """Paid orders with no fulfilledAt whose last write (the paying commit, or the last
    recovery claim) is older than `updated_before`."""
    return (
        client.collection(ORDERS)
        .where(filter=FieldFilter("status", "==", OrderStatus.PAID.value))
        .where(filter=FieldFilter("fulfilledAt", "==", None))
        .where(filter=FieldFilter("updatedAt", "<", updated_before))
        .order_by("updatedAt")
        .limit(limit)
    )


def capped_open_orders(client: firestore.Client, _now: datetime, limit: int) -> firestore.Query:
    """Orders at or over the attempt cap that can still be paid: their PaymentIntent should have
    been canceled. Due at once, so no time bound (the datetime is the signature all share)."""
    return (
        client.collection(ORDERS)
        .where(
            filter=FieldFilter(
                "status", "in", sorted(status.value for status in CANCELABLE_STATUSES)
            )
        )
        .where(filter=FieldFilter("declineCount", ">=", MAX_DECLINED_ATTEMPTS))
        .order_by("declineCount")
        .limit(limit)
    )


# For the index test: each takes (client, a datetime, a limit).
ALL_QUERIES = (stuck_orders, idle_pending_orders, unfulfilled_paid_orders, capped_open_orders)
