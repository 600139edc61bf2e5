"""The one extension point for a paid order: `fulfil(order)`. Replace its body with yours.

It runs at most once per order, right after the commit that recorded the payment's success and
made the order `paid`, by whichever path applied that event (checkout.stripe_events.apply);
what a crash loses there, the reconciler's fulfilment recovery does later
(checkout.reconcile.fulfilment_recovery). A payment fully refunded or disputed when its success
is recorded is never fulfilled. docs/architecture.md ("Fulfilment") has the reasoning.

Keep it fast: Stripe is waiting for the response. Send slow work (emails, shipping APIs) to a
queue (Cloud Tasks) or to a Firestore trigger on the order, started from here.
"""

from typing import Any

from checkout.orders import store
from checkout.platform import structured_log as logger


def fulfil(order: dict[str, Any]) -> None:
    """Default fulfilment: stamp the order `fulfilledAt` and log it."""
    order_id = order["paymentIntentId"]
    store.mark_fulfilled(order_id)
    # No email or address here: logs are read by more people than orders are.
    logger.info(
        "order fulfilled",
        orderId=order_id,
        amount=order.get("amount"),
        currency=order.get("currency"),
        items=len(order.get("items") or []),
    )
