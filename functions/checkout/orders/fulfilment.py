"""The one extension point for a paid order: `fulfil(order)`. Replace its body with yours.

When it runs: at most once per order, by the webhook delivery whose Firestore commit recorded
the payment's success and made the order `paid`, after that commit succeeded
(checkout.webhooks.ledger). Not before it, since an attempt whose commit loses a race is planned
again; not on a duplicate delivery, which finds the ledger entry and stops. Its default write is
the third and last round trip of a paying delivery. A payment that is fully refunded or disputed
when its success is recorded is never fulfilled, nor is it later if it becomes `paid` again (a
refund that failed, a dispute won): a person decides.

The trade-off is at-most-once: if the process dies between the commit and this call, it does
not run, and Stripe will not help (the event is already recorded). Such orders stay
`status == "paid"` with `fulfilledAt == null` (set by the transition), which is exactly the
query the reconciler's fulfilment recovery runs (checkout.reconcile.fulfilment_recovery): it
fulfils such an order, under a claim, once it has been so for 5 minutes. The return page's
check and the reconciler also call this right after their own commit that made an order paid. The alternative, fulfilling before recording the event, would
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
