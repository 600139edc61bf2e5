"""The attempt cap's follow-up: once a decline that reaches the cap is recorded, the PaymentIntent
is canceled at Stripe, whichever path recorded it (checkout.stripe_events.apply calls
`follow_up` after every commit). A decline is counted once (checkout.stripe_events.declines),
so one application records the capping decline and cancels; a later decline on a capped order
tries again. Stripe's `payment_intent.canceled` then moves the order to `canceled`; meanwhile
the checkout refuses use. What this misses the reconciler's sweep cancels
(checkout.reconcile.capped_orders).
"""

from typing import Any

from checkout.orders.attempts import decline_count, should_cancel
from checkout.platform import structured_log as logger
from checkout.platform.errors import ApiError
from checkout.stripe_events.ledger import Applied
from checkout.stripe_events.plan import Outcome

# What follow_up did, for a caller's counts (the reconciler's summary).
CANCELED = "canceled_at_cap"
NOT_CANCELED = "cancel_at_cap_failed"


def recorded_capping_decline(applied: Applied) -> bool:
    """Whether this application counted a new decline (only then is `declineCount` written)
    and left the order at or over the cap while it can still be paid."""
    decided = applied.plan
    return (
        decided is not None
        and decided.outcome is Outcome.APPLIED
        and "declineCount" in decided.writes
        and should_cancel(applied.order)
    )


def follow_up(applied: Applied) -> str | None:
    """After the commit: cancel the PaymentIntent if this application reached the cap.
    CANCELED, NOT_CANCELED (logged), or None when there was nothing to do. Never raises for
    Stripe's failures: the decline is recorded either way, and the sweep retries."""
    if applied.plan is None or not recorded_capping_decline(applied):
        return None
    canceled = cancel(applied.plan.order_id, decline_count(applied.order))
    return CANCELED if canceled is not None else NOT_CANCELED


def cancel(order_id: str, declines: int) -> dict[str, Any] | None:
    """Cancel the order's PaymentIntent so its client secret cannot be tried with more cards:
    the canceled PaymentIntent, or None (logged) when Stripe did not cancel it."""
    # Imported here: only this rare path needs the Stripe SDK (the webhook's cold start).
    from checkout.stripe_api import payment_intents
    from checkout.stripe_api.connection import UNEXPECTED_STATE

    try:
        canceled = payment_intents.cancel_intent(order_id)
    except ApiError as error:
        # Already canceled or paid meanwhile: nothing left to do. Otherwise the next decline
        # or the reconciler's sweep tries again; the checkout refuses use either way.
        log = logger.info if error.stripe_code == UNEXPECTED_STATE else logger.warn
        log("payment intent not canceled at attempt cap", orderId=order_id, declines=declines,
            code=error.code, stripeCode=error.stripe_code)  # fmt: skip
        return None
    logger.warn("payment intent canceled at attempt cap", orderId=order_id, declines=declines)
    return canceled
