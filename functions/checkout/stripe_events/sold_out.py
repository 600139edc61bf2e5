"""The sold-out follow-up: once a success for units no longer on sale is recorded (the fact
`soldOut`, checkout.stripe_events.stock), the PaymentIntent is refunded in full at Stripe, right
after the commit, whichever path recorded it (checkout.stripe_events.apply calls `follow_up`).
The idempotency key comes from the order, so a retry never refunds twice. Stripe's refund
events then make the order `refunded` by the usual rules. A refund that failed here is retried
by the reconciler (checkout.reconcile.sold_out_refunds: soldOut and no refund recorded).
"""

from checkout.platform import structured_log as logger
from checkout.platform.errors import ApiError
from checkout.stripe_events.facts import SOLD_OUT
from checkout.stripe_events.ledger import Applied

# What follow_up did, for a caller's counts (the reconciler's summary).
REFUNDED = "sold_out_refunded"
NOT_REFUNDED = "sold_out_refund_failed"


def follow_up(applied: Applied) -> str | None:
    """After the commit: refund in full if this application recorded the soldOut fact.
    REFUNDED, NOT_REFUNDED (logged), or None when there was nothing to do. Never raises for
    Stripe's failures: the fact is recorded either way, and the reconciler retries."""
    decided = applied.plan
    # Only the plan that records the fact writes it (no handler does).
    if decided is None or SOLD_OUT not in decided.writes:
        return None
    return REFUNDED if refund(decided.order_id) else NOT_REFUNDED


def refund(order_id: str) -> bool:
    """Refund the order's PaymentIntent in full; False (logged) when Stripe did not."""
    # Imported here: only this rare path needs the Stripe SDK (the webhook's cold start).
    from checkout.stripe_api import refunds

    try:
        refunds.refund_in_full(order_id)
    except ApiError as error:
        logger.warn("sold-out payment not refunded", orderId=order_id, code=error.code,
                    stripeCode=error.stripe_code)  # fmt: skip
        return False
    logger.warn("sold-out payment refunded in full", orderId=order_id)
    return True
