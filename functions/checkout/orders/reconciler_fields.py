"""The order fields the reconciler selects open orders by, and how they are kept.

`lastActivityAt`: when the checkout last saw activity, which the abandonment step measures
idleness from. Activity is what the shopper or Stripe does with the checkout: every
POST /api/payment-intents that writes (checkout.orders.store), and every Stripe event applied to
the order, at the event's `created` (checkout.stripe_events.plan); it only ever moves forward.
`updatedAt` is not activity: the reconciler's own bookkeeping rewrites it. The abandonment step
also restarts the clock itself when it finds a payment still under way (checkout.reconcile).

`stripeMissing`: True once Stripe has answered "no such PaymentIntent" for the order (orders made
with the keys of another account or mode); the reconciler's queries then leave it out, so it
never again holds up the orders behind it. Every order has it, False, from the start: a
Firestore query never returns a document that lacks a field it filters on.

Orders written before these fields existed count from `createdAt`; the reconciler gives them
the fields (checkout.reconcile.older_orders).
"""

from datetime import datetime
from typing import Any, Final

LAST_ACTIVITY_AT: Final = "lastActivityAt"
STRIPE_MISSING: Final = "stripeMissing"
STRIPE_MISSING_AT: Final = "stripeMissingAt"  # when the reconciler found it so
# When Stripe was last asked about the order (the return page's check, the reconciler's steps).
CHECKED_AT: Final = "stripeCheckedAt"


def last_activity(order: dict[str, Any]) -> datetime | None:
    """When the checkout was last active (its creation, for an order older than the field)."""
    for field in (LAST_ACTIVITY_AT, "createdAt"):
        value = order.get(field)
        if isinstance(value, datetime):
            return value
    return None


def latest_activity(order: dict[str, Any], at: datetime) -> datetime:
    """The order's last activity once activity at `at` is recorded."""
    known = order.get(LAST_ACTIVITY_AT)
    return max(known, at) if isinstance(known, datetime) else at


def older_order_fields(order: dict[str, Any]) -> dict[str, Any]:
    """The fields an order written by an older version lacks, with their values for it."""
    fields: dict[str, Any] = {}
    created = order.get("createdAt")
    if LAST_ACTIVITY_AT not in order and isinstance(created, datetime):
        fields[LAST_ACTIVITY_AT] = created
    if STRIPE_MISSING not in order:
        fields[STRIPE_MISSING] = False
    return fields
