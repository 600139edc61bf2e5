"""The discount a promotion code gives a priced cart: the rule, in one pure function.

- The code covers the lines of its `productIds` (all lines when it has none).
- `percentOff` applies to the sum of the covered lines, rounded half-up once, on the minor unit
  (never line by line: a code gives the same on one line of 3 as on three lines of 1).
- `amountOff` is capped at the covered lines' sum.
- So a discount never exceeds the lines it covers, and the total is never negative.
- A total below Stripe's minimum charge for the currency is refused: 400 amount_too_small.

Whether the code applies at all (expiry, minimum, redemptions) is checkout.discounts.eligibility.
"""

from dataclasses import dataclass

from checkout.cart.minimum_charge import check_minimum_charge
from checkout.cart.pricing import PricedCart, PricedLine
from checkout.discounts.promotion_code import PromotionCode


@dataclass(frozen=True)
class DiscountedCart:
    code: str
    subtotal: int  # the cart's amount before the discount
    discount: int  # 0 <= discount <= the covered lines' sum <= subtotal
    lines: tuple[PricedLine, ...]  # the lines the code applied to
    currency: str

    @property
    def total(self) -> int:
        """What the shopper pays: the PaymentIntent's amount."""
        return self.subtotal - self.discount


def covered_lines(cart: PricedCart, code: PromotionCode) -> tuple[PricedLine, ...]:
    """The lines `code` applies to, in the cart's order."""
    if code.product_ids is None:
        return cart.lines
    covered = set(code.product_ids)
    return tuple(line for line in cart.lines if line.product_id in covered)


def percent_of(amount: int, percent: int) -> int:
    """`percent`% of `amount` (both >= 0), rounded half-up on the minor unit, in integers."""
    return (amount * percent * 2 + 100) // 200


def discount_of(covered_sum: int, code: PromotionCode) -> int:
    """The discount `code` gives lines that cost `covered_sum` together."""
    if code.percent_off is not None:
        return percent_of(covered_sum, code.percent_off)
    assert code.amount_off is not None  # a code has exactly one of the two
    return min(code.amount_off, covered_sum)


def discounted(cart: PricedCart, code: PromotionCode) -> DiscountedCart:
    """`cart` with `code`'s discount; raises ApiError 400 amount_too_small when the total is
    below Stripe's minimum charge. The code must already be eligible (it covers a line)."""
    lines = covered_lines(cart, code)
    discount = discount_of(sum(line.amount for line in lines), code)
    priced = DiscountedCart(code.code, cart.amount, discount, lines, cart.currency)
    check_minimum_charge(priced.total, cart.currency)
    return priced
