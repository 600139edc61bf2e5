"""The attempt cap: how many declined payment attempts one checkout's PaymentIntent gets.

Stripe's card-testing guidance: a client secret that can be confirmed again and again with new
cards is what card testers look for. So after MAX_DECLINED_ATTEMPTS declines (counted on the
order as `declineCount`, checkout.stripe_events.declines), the PaymentIntent is canceled at Stripe
(checkout.stripe_events.attempt_cap, by whichever path recorded the capping decline, and the
reconciler's sweep) and the checkout refuses further use (409 checkout_attempts_exhausted); the
page offers a new checkout, which the per-IP limit on new checkouts still covers.
"""

from typing import Any

from checkout.orders.status import OrderStatus

MAX_DECLINED_ATTEMPTS = 5


def decline_count(order: dict[str, Any] | None) -> int:
    count = (order or {}).get("declineCount")
    return count if isinstance(count, int) and not isinstance(count, bool) else 0


def attempts_exhausted(order: dict[str, Any] | None) -> bool:
    return decline_count(order) >= MAX_DECLINED_ATTEMPTS


# Orders whose PaymentIntent the cap cancels: it can still be paid, and is not under way (a
# success is never undone; Stripe does not cancel a processing payment).
CANCELABLE_STATUSES = frozenset({OrderStatus.PENDING, OrderStatus.FAILED})


def should_cancel(order: dict[str, Any] | None) -> bool:
    """Whether the order's PaymentIntent must be canceled: the cap is reached and the order can
    still be paid."""
    return attempts_exhausted(order) and (order or {}).get("status") in CANCELABLE_STATUSES
