"""Every amount computed outside cart pricing (checkout.cart.pricing prices a cart): what an
order's items add up to, what a payment took, what was refunded. All in the currency's minor
unit; nothing here trusts the page.
"""

from checkout.platform.json_fields import Json, int_field

# Refund statuses Stripe counts in the Charge's amount_refunded.
LIVE_REFUND_STATUSES = frozenset({"pending", "requires_action", "succeeded"})


def items_total(order: Json) -> int | None:
    """What the order's items cost at their recorded unit prices; None if they cannot say."""
    try:
        return sum(int(i["unitAmount"]) * int(i["quantity"]) for i in order.get("items") or [])
    except (KeyError, TypeError, ValueError):
        return None


def cart_total(order: Json) -> int | None:
    """What the order's cart comes to: its items, less its discount, plus its shipping (as
    checkout.cart.pricing computes a cart's amount); None if the order cannot say."""
    total = items_total(order)
    try:
        for field, sign in (("discount", -1), ("shipping", 1)):
            adjustment = order.get(field)
            if total is not None and isinstance(adjustment, dict):
                total += sign * int(adjustment["amount"])
    except (KeyError, TypeError, ValueError):
        return None
    return total


def amount_received(payment_intent: Json) -> int | None:
    """The money a PaymentIntent actually took."""
    # amount_received is the money actually taken; older API versions (and localstripe)
    # have only amount, which equals it once an automatically captured intent succeeds.
    received = int_field(payment_intent, "amount_received")
    return received if received is not None else int_field(payment_intent, "amount")


def paid_amount(order: Json) -> int:
    """What the order's payment took (its amount, for an order that recorded no more)."""
    received = int_field(order, "amountReceived")
    return received if received is not None else int_field(order, "amount") or 0


def refunded_amount(snapshot: Json | None, refunds: list[Json]) -> int:
    """Stripe's total refunded after the newest information, from the Charge's figure
    (`snapshot`) and the Refunds known by id (checkout.stripe_events.refunds).

    Two lower bounds, each exact when its source is complete: the Charge's figure plus live
    refunds made after it, minus refunds it counted that failed or were canceled after it; and
    the live refunds known by id. Within the Charge figure's own second a refund cannot be
    placed before or after it, so the first bound may fall short; the second covers that.
    """
    total = int_field(snapshot, "amountRefunded") if snapshot else None
    at = int_field(snapshot, "eventCreated") if snapshot else None
    from_charge: int = total or 0
    for refund in refunds:
        live = refund["status"] in LIVE_REFUND_STATUSES
        if at is not None and refund["created"] <= at:
            if not live and refund["statusAt"] > at:
                from_charge -= refund["amount"]
        elif live:
            from_charge += refund["amount"]
    by_id: int = sum(r["amount"] for r in refunds if r["status"] in LIVE_REFUND_STATUSES)
    return max(from_charge, by_id, 0)
