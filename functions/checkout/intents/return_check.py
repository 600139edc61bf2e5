"""GET /api/orders/{id} for the shopper's return page: the stored status, checked with Stripe
when the webhook seems late.

A poll normally reads Firestore only. When the order is still open (pending, processing, or
failed while the shopper retries) some seconds after it was created or last changed, one poll
asks Stripe for the PaymentIntent and applies what it says (fulfilling a newly paid order), so
the shopper sees `paid` even when no webhook ever arrives. A timestamp on the order, claimed in
a transaction, makes that at most once per order per CHECK_INTERVAL across all instances; every
other poll makes no Stripe call.

An email's link shows the same status fields by a view token instead of the client secret
(`viewers_order_status`): read only, never a Stripe check (the mail is sent once the order is
paid or refunded, so there is nothing to hurry).
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import firestore

from checkout.orders import store
from checkout.orders.reconciler_fields import CHECKED_AT
from checkout.orders.status import UNPAID_ORDER_STATUSES
from checkout.orders.view_token import check_view_token
from checkout.platform import firestore_client
from checkout.platform import structured_log as logger
from checkout.platform.collections import ORDERS
from checkout.platform.errors import ApiError
from checkout.platform.firestore_client import db

# The webhook normally lands within a second or two; after this, the page stops trusting it.
CHECK_AFTER = timedelta(seconds=5)
CHECK_INTERVAL = timedelta(seconds=10)


def _as_datetime(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def check_due(order: dict[str, Any], now: datetime) -> bool:
    """Whether this poll should ask Stripe (decided on the order as read, before any claim)."""
    # UNPAID_ORDER_STATUSES: `failed` too, as the shopper may have retried and paid.
    if order.get("status") not in UNPAID_ORDER_STATUSES:
        return False
    changed = _as_datetime(order.get("updatedAt")) or _as_datetime(order.get("createdAt"))
    if changed is None or now - changed < CHECK_AFTER:
        return False
    checked = _as_datetime(order.get(CHECKED_AT))
    return checked is None or now - checked >= CHECK_INTERVAL


def claim_check(payment_intent_id: str, now: datetime) -> bool:
    """Take this order's Stripe check for the next CHECK_INTERVAL; False if another poll has."""
    ref = db().collection(ORDERS).document(payment_intent_id)

    def claim(transaction: firestore.Transaction) -> bool:
        order = ref.get(transaction=transaction).to_dict()
        if order is None or not check_due(order, now):
            return False
        # Not updatedAt: the check is not a change, and must not postpone the next one.
        transaction.update(ref, {CHECKED_AT: now})
        return True

    run = firestore.transactional(claim)
    try:
        claimed: bool = firestore_client.retry_on_contention(
            lambda: run(firestore_client.transaction()), max_attempts=2
        )
    except Exception as error:  # noqa: BLE001 - losing the race (or the check) is not the shopper's problem
        logger.warn("order check not claimed", orderId=payment_intent_id,
                    errorType=type(error).__name__)  # fmt: skip
        return False
    return claimed


def shoppers_order_status(
    payment_intent_id: str, client_secret: str, now: datetime | None = None
) -> dict[str, Any] | None:
    """The order's status fields for the holder of its client secret (None otherwise)."""
    order = store.read_shoppers_order(payment_intent_id, client_secret)
    if order is None:
        return None
    now = now or datetime.now(UTC)
    if check_due(order, now) and claim_check(payment_intent_id, now):
        order = _checked_with_stripe(payment_intent_id, order)
    return store.order_status(payment_intent_id, order)


def viewers_order_status(
    payment_intent_id: str, view_token: str, now: datetime | None = None
) -> dict[str, Any] | None:
    """The order's status fields for a valid view token (None: no such order); ApiError 403
    for a token that is malformed, expired or not this order's (checked before any read)."""
    if not check_view_token(payment_intent_id, view_token, now or datetime.now(UTC)):
        raise ApiError(403, "invalid_view_token", "This order link is invalid or has expired.")
    order = store.read_order(payment_intent_id)
    return None if order is None else store.order_status(payment_intent_id, order)


def _checked_with_stripe(payment_intent_id: str, order: dict[str, Any]) -> dict[str, Any]:
    # Loaded only when a check is due: the other polls, and GET /api/config, never load the
    # Stripe client or the event ledger.
    from checkout.stripe_events import observations
    from checkout.stripe_events.plan import Source

    try:
        result = observations.check_with_stripe(payment_intent_id, order, Source.RETURN_PAGE)
    except Exception as error:  # noqa: BLE001 - the stored status is still a correct answer
        logger.warn("order check with stripe failed", orderId=payment_intent_id,
                    errorType=type(error).__name__)  # fmt: skip
        return order
    return result.order or order
