"""The attempt cap: how many declined payment attempts one checkout's PaymentIntent gets.

Stripe's card-testing guidance: a client secret that can be confirmed again and again with new
cards is what card testers look for. So after MAX_DECLINED_ATTEMPTS declines (the webhook
counts them on the order as `declineCount`), the webhook cancels the PaymentIntent at Stripe
and the checkout refuses further use (409 checkout_attempts_exhausted); the page offers a new
checkout, which the per-IP limit on new checkouts still covers.
"""

from typing import Any

from checkout.orders.status import OrderStatus

MAX_DECLINED_ATTEMPTS = 5


def decline_count(order: dict[str, Any] | None) -> int:
    count = (order or {}).get("declineCount")
    return count if isinstance(count, int) and not isinstance(count, bool) else 0


def attempts_exhausted(order: dict[str, Any] | None) -> bool:
    return decline_count(order) >= MAX_DECLINED_ATTEMPTS


def should_cancel(order: dict[str, Any] | None) -> bool:
    """Whether the webhook, having just recorded a decline, must cancel the PaymentIntent:
    the cap is reached and the order can still be paid (a later success is never undone)."""
    return attempts_exhausted(order) and (order or {}).get("status") in {
        OrderStatus.PENDING.value,
        OrderStatus.FAILED.value,
    }
