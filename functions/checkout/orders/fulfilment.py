"""The one extension point for a paid order: `fulfil(order)`. Replace its body with yours.

When it runs: once per order, by the webhook delivery whose Firestore commit moved the order to
`paid`, after that commit succeeded (checkout.webhooks.ledger). Not before it, since an attempt
whose commit loses a race is planned again; not on a duplicate delivery, which finds the ledger
entry and stops. Its default write is the third and last round trip of a paying delivery.

The trade-off is at-most-once: if the process dies between the commit and this call, it does
not run, and Stripe will not help (the event is already recorded). Such orders stay
`status == "paid"` with `fulfilledAt == null` (set by the transition), which is exactly the
query a recovery sweep runs. The alternative, fulfilling before recording the event, would
fulfil twice whenever the recording fails.

Keep it fast: Stripe is waiting for the response. Send slow work (emails, shipping APIs) to a
queue (Cloud Tasks) or to a Firestore trigger on the order, started from here.
"""

from typing import Any

from checkout.platform import structured_log as logger
from checkout.platform.firestore_client import db
from checkout.webhooks import ledger


def fulfil(order: dict[str, Any]) -> None:
    """Default fulfilment: stamp the order `fulfilledAt` and log it."""
    order_id = order["paymentIntentId"]
    ledger.mark_fulfilled(db(), order_id)
    # No email or address here: logs are read by more people than orders are.
    logger.info(
        "order fulfilled",
        orderId=order_id,
        amount=order.get("amount"),
        currency=order.get("currency"),
        items=len(order.get("items") or []),
    )
