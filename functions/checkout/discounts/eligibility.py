"""Whether a promotion code applies to this checkout now: each refusal its own 400.

Pure: what it needs from Firestore (the code, the redemptions on offer, whether this email has
redeemed the code) the caller reads and passes in. The refusals come in this order, those the
shopper cannot change first, so that nobody fills a cart to reach a minimum and then learns that
the code is used up:

    promotion_code_unknown          no such code, or the owner deactivated it
    promotion_code_expired          before `startsAt`, or from `expiresAt` on
    promotion_code_used_up          no redemption left of `maxRedemptions`
    promotion_code_not_applicable   no line of the cart is one of its `productIds`
    promotion_code_minimum_not_met  the subtotal is below `minimumAmount` (error.minimumAmount)
    promotion_code_requires_email   `oncePerEmail` and no email given
    promotion_code_already_used     `oncePerEmail` and this email has redeemed it

A code that expires while a checkout holds one of its redemptions still honours that checkout
(`held_by_checkout`): the shopper saw the discounted total before it expired. Deactivating a code
is the owner's act and ends it at once, held or not.
"""

from datetime import datetime

from checkout.cart.pricing import PricedCart
from checkout.discounts.pricing import covered_lines
from checkout.discounts.promotion_code import PromotionCode
from checkout.platform.errors import ApiError

UNKNOWN = "promotion_code_unknown"
EXPIRED = "promotion_code_expired"
USED_UP = "promotion_code_used_up"
NOT_APPLICABLE = "promotion_code_not_applicable"
MINIMUM_NOT_MET = "promotion_code_minimum_not_met"
REQUIRES_EMAIL = "promotion_code_requires_email"
ALREADY_USED = "promotion_code_already_used"


def unknown() -> ApiError:
    """The one answer for a code that does not exist: it reveals nothing more."""
    return ApiError(400, UNKNOWN, "This promotion code is not valid.")


def used_up() -> ApiError:
    return ApiError(400, USED_UP, "This promotion code has been used up.")


def already_used() -> ApiError:
    return ApiError(400, ALREADY_USED, "This promotion code has already been used with this email.")


def is_within_dates(code: PromotionCode, now: datetime) -> bool:
    """From `startsAt` (inclusive) until `expiresAt` (exclusive)."""
    if code.starts_at is not None and now < code.starts_at:
        return False
    return code.expires_at is None or now < code.expires_at


def refusal(
    code: PromotionCode | None,
    cart: PricedCart,
    now: datetime,
    *,
    email: str | None,
    available: int | None,
    email_redeemed: bool,
    held_by_checkout: bool,
) -> ApiError | None:
    """Why `code` does not apply to `cart` now (the 400 to answer), or None when it does.

    - `code`: the code read from Firestore, None when there is no such (valid) document;
    - `now`: timezone-aware;
    - `email`: the checkout's email, None when it gave none;
    - `available`: the code's redemptions on offer to this checkout (its own hold counted as
      available to it), None when its pool is not tracked. A code with `maxRedemptions` whose
      pool is not tracked is refused: a limit is never sold as unlimited;
    - `email_redeemed`: whether `email` has already redeemed this code (paid with it);
    - `held_by_checkout`: whether this checkout holds one of the code's redemptions now.
    """
    if code is None or not code.active:
        return unknown()
    if not is_within_dates(code, now):
        started = code.starts_at is None or now >= code.starts_at
        if not (held_by_checkout and started):
            return ApiError(400, EXPIRED, "This promotion code has expired or is not valid yet.")
    if code.max_redemptions is not None and (available is None or available < 1):
        return used_up()
    if not covered_lines(cart, code):
        return ApiError(
            400, NOT_APPLICABLE, "This promotion code does not apply to anything in your cart."
        )
    if code.minimum_amount is not None and cart.amount < code.minimum_amount:
        return ApiError(
            400,
            MINIMUM_NOT_MET,
            "Your cart does not reach this promotion code's minimum amount.",
            details={"minimumAmount": code.minimum_amount},
        )
    if code.once_per_email and not email:
        return ApiError(
            400, REQUIRES_EMAIL, "This promotion code needs your email: enter it and apply again."
        )
    if code.once_per_email and email_redeemed:
        return already_used()
    return None


def check(
    code: PromotionCode | None,
    cart: PricedCart,
    now: datetime,
    *,
    email: str | None,
    available: int | None,
    email_redeemed: bool,
    held_by_checkout: bool,
) -> PromotionCode:
    """`code` when it applies to `cart` now; else raises its refusal (see `refusal`)."""
    refused = refusal(
        code,
        cart,
        now,
        email=email,
        available=available,
        email_redeemed=email_redeemed,
        held_by_checkout=held_by_checkout,
    )
    if refused is not None:
        raise refused
    assert code is not None  # refused otherwise
    return code
