"""Every Firestore query the reconciler makes, in one place.

Production Firestore refuses a query that has no index to serve it (the emulator does not), so
firestore.indexes.json declares a composite index for each of these, and
tests/unit/test_firestore_indexes.py matches every query here to one.
"""

from datetime import datetime

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from checkout.mail.delivery import NEXT_ATTEMPT_AT, OPEN_STATES
from checkout.orders.attempts import CANCELABLE_STATUSES, MAX_DECLINED_ATTEMPTS
from checkout.orders.reconciler_fields import LAST_ACTIVITY_AT, STRIPE_MISSING
from checkout.orders.status import UNPAID_ORDER_STATUSES, OrderStatus
from checkout.platform.collections import MAIL, ORDERS
from checkout.stripe_events.facts import SOLD_OUT
from checkout.stripe_events.stock import HOLD_POOLS

SOLD_OUT_AT = f"{SOLD_OUT}.at"

_S = OrderStatus


# Orders whose PaymentIntent Stripe does not know are left out (reconciler_fields).
_KNOWN_TO_STRIPE = FieldFilter(STRIPE_MISSING, "==", False)


def stuck_orders(client: firestore.Client, updated_before: datetime, limit: int) -> firestore.Query:
    """Orders still waiting for Stripe's word, not changed (or checked) since `updated_before`."""
    return (
        client.collection(ORDERS)
        .where(filter=FieldFilter("status", "in", [_S.PENDING.value, _S.PROCESSING.value]))
        .where(filter=_KNOWN_TO_STRIPE)
        .where(filter=FieldFilter("updatedAt", "<", updated_before))
        .order_by("updatedAt")
        .limit(limit)
    )


def idle_checkouts(
    client: firestore.Client, active_before: datetime, limit: int
) -> firestore.Query:
    """Pending or failed checkouts with no activity since `active_before`, idlest first:
    candidates for abandonment."""
    return (
        client.collection(ORDERS)
        .where(filter=FieldFilter("status", "in", [_S.PENDING.value, _S.FAILED.value]))
        .where(filter=_KNOWN_TO_STRIPE)
        .where(filter=FieldFilter(LAST_ACTIVITY_AT, "<", active_before))
        .order_by(LAST_ACTIVITY_AT)
        .limit(limit)
    )


def lapsed_hold_checkouts(
    client: firestore.Client, active_before: datetime, limit: int
) -> firestore.Query:
    """Pending or failed checkouts that hold stock (`holdPools` not empty) with no activity
    since `active_before` (their holds lapsed then), idlest first: to be canceled at Stripe."""
    return (
        client.collection(ORDERS)
        .where(filter=FieldFilter("status", "in", [_S.PENDING.value, _S.FAILED.value]))
        .where(filter=_KNOWN_TO_STRIPE)
        .where(filter=FieldFilter(LAST_ACTIVITY_AT, "<", active_before))
        .where(filter=FieldFilter(HOLD_POOLS, "!=", []))
        .order_by(LAST_ACTIVITY_AT)
        .order_by(HOLD_POOLS)
        .limit(limit)
    )


def unrefunded_sold_out_orders(
    client: firestore.Client, sold_out_before: datetime, limit: int
) -> firestore.Query:
    """needs_review orders paid for units sold out before `sold_out_before` with no refund
    recorded: the refund after their commit failed (or its events are late)."""
    return (
        client.collection(ORDERS)
        .where(filter=FieldFilter("status", "==", OrderStatus.NEEDS_REVIEW.value))
        .where(filter=FieldFilter("refundedAmount", "==", 0))
        .where(filter=FieldFilter(SOLD_OUT_AT, "<", sold_out_before))
        .order_by(SOLD_OUT_AT)
        .limit(limit)
    )


def open_orders_by_creation(
    client: firestore.Client, created_from: datetime, limit: int, after_id: str | None = None
) -> firestore.Query:
    """Open orders created at `created_from` or later, oldest first (after the order `after_id`
    created at `created_from`, when given): the walk over orders an older version wrote."""
    query = (
        client.collection(ORDERS)
        .where(filter=FieldFilter("status", "in", sorted(s.value for s in UNPAID_ORDER_STATUSES)))
        .where(filter=FieldFilter("createdAt", ">=", created_from))
        .order_by("createdAt")
        .order_by("__name__")
        .limit(limit)
    )
    if after_id is None:
        return query
    after = client.collection(ORDERS).document(after_id)
    return query.start_after({"createdAt": created_from, "__name__": after})


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
        .where(filter=_KNOWN_TO_STRIPE)
        .where(filter=FieldFilter("declineCount", ">=", MAX_DECLINED_ATTEMPTS))
        .order_by("declineCount")
        .limit(limit)
    )


def due_mail(client: firestore.Client, now: datetime, limit: int) -> firestore.Query:
    """Mail documents due a (first, next or taken-over) attempt at `now`, longest due first."""
    return (
        client.collection(MAIL)
        .where(filter=FieldFilter("delivery.state", "in", [s.value for s in OPEN_STATES]))
        .where(filter=FieldFilter(NEXT_ATTEMPT_AT, "<=", now))
        .order_by(NEXT_ATTEMPT_AT)
        .limit(limit)
    )


# For the index test: each takes (client, a datetime, a limit).
ALL_QUERIES = (
    stuck_orders,
    idle_checkouts,
    lapsed_hold_checkouts,
    unrefunded_sold_out_orders,
    open_orders_by_creation,
    unfulfilled_paid_orders,
    capped_open_orders,
    due_mail,
)
