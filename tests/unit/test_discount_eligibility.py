"""Whether a promotion code applies now: each refusal its own 400 and error.code, in the stated
order; a code that expires while the checkout holds it still honours that checkout."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from checkout.cart.pricing import PricedCart, PricedLine
from checkout.discounts.eligibility import check, refusal
from checkout.discounts.promotion_code import PromotionCode
from checkout.platform.errors import ApiError

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
STARTS, EXPIRES = NOW - timedelta(days=1), NOW + timedelta(days=1)
CART = PricedCart(
    (PricedLine("mug", "Mug", 1400, 1), PricedLine("tee", "Tee", 2500, 2)), "usd"
)  # subtotal 6400
CODE = PromotionCode(
    code="WELCOME10",
    currency="usd",
    active=True,
    percent_off=10,
    starts_at=STARTS,
    expires_at=EXPIRES,
    max_redemptions=100,
    minimum_amount=2000,
)
FINE: dict[str, Any] = {
    "email": "shopper@example.com",
    "available": 5,
    "email_redeemed": False,
    "held_by_checkout": False,
}


def refused(code: PromotionCode | None, cart: PricedCart = CART, **changes: Any) -> str | None:
    error = refusal(code, cart, changes.pop("now", NOW), **{**FINE, **changes})
    if error is None:
        return None
    assert error.status == 400
    return error.code


def test_a_code_that_applies_is_returned() -> None:
    assert refused(CODE) is None
    assert check(CODE, CART, NOW, **FINE) is CODE


def test_no_such_code_and_a_deactivated_one_are_both_just_unknown() -> None:
    assert refused(None) == "promotion_code_unknown"
    assert refused(replace(CODE, active=False)) == "promotion_code_unknown"
    assert refused(replace(CODE, active=False), held_by_checkout=True) == "promotion_code_unknown"
    with pytest.raises(ApiError) as caught:
        check(None, CART, NOW, **FINE)
    assert caught.value.body()["error"] == {
        "code": "promotion_code_unknown",
        "message": "This promotion code is not valid.",
    }


def test_valid_from_starts_at_inclusive_until_expires_at_exclusive() -> None:
    tick = timedelta(microseconds=1)
    assert refused(CODE, now=STARTS) is None
    assert refused(CODE, now=STARTS - tick) == "promotion_code_expired"
    assert refused(CODE, now=EXPIRES - tick) is None
    assert refused(CODE, now=EXPIRES) == "promotion_code_expired"
    always = replace(CODE, starts_at=None, expires_at=None)
    assert refused(always, now=datetime(1999, 1, 1, tzinfo=UTC)) is None
    assert refused(always, now=datetime(2999, 1, 1, tzinfo=UTC)) is None


def test_a_code_that_expires_while_the_checkout_holds_it_still_honours_that_checkout() -> None:
    later = EXPIRES + timedelta(hours=1)
    assert refused(CODE, now=later, held_by_checkout=True) is None
    assert refused(CODE, now=later, held_by_checkout=False) == "promotion_code_expired"
    # Not yet valid is never honoured: nobody could hold it before it started.
    early = STARTS - timedelta(hours=1)
    assert refused(CODE, now=early, held_by_checkout=True) == "promotion_code_expired"


def test_used_up_when_no_redemption_is_on_offer() -> None:
    assert refused(CODE, available=0) == "promotion_code_used_up"
    assert refused(CODE, available=1) is None
    # A limit is never sold as unlimited: a limited code whose pool is not tracked is refused.
    assert refused(CODE, available=None) == "promotion_code_used_up"
    unlimited = replace(CODE, max_redemptions=None)
    assert refused(unlimited, available=None) is None
    assert refused(unlimited, available=0) is None


def test_not_applicable_when_no_line_is_one_of_its_products() -> None:
    assert refused(replace(CODE, product_ids=("poster",))) == "promotion_code_not_applicable"
    assert refused(replace(CODE, product_ids=("poster", "mug"))) is None


def test_the_minimum_is_the_subtotal_before_the_discount_and_met_when_equal() -> None:
    assert refused(replace(CODE, minimum_amount=6400)) is None
    error = refusal(replace(CODE, minimum_amount=6401), CART, NOW, **FINE)
    assert error is not None and error.code == "promotion_code_minimum_not_met"
    assert error.body()["error"]["minimumAmount"] == 6401
    # The whole cart's subtotal, even when the code covers fewer lines.
    assert refused(replace(CODE, minimum_amount=6400, product_ids=("mug",))) is None


def test_once_per_email_needs_an_email_and_one_not_used_with_it() -> None:
    once = replace(CODE, once_per_email=True)
    assert refused(once, email=None) == "promotion_code_requires_email"
    assert refused(once, email="") == "promotion_code_requires_email"
    assert refused(once, email_redeemed=True) == "promotion_code_already_used"
    assert refused(once) is None
    assert refused(CODE, email=None, email_redeemed=True) is None  # not once per email


def test_refusals_come_those_the_shopper_cannot_change_first() -> None:
    everything_wrong = replace(
        CODE, product_ids=("poster",), minimum_amount=99_999, once_per_email=True
    )
    late = EXPIRES + timedelta(days=1)
    steps: list[tuple[dict[str, Any], str]] = [
        ({"now": late, "available": 0, "email": None}, "promotion_code_expired"),
        ({"available": 0, "email": None}, "promotion_code_used_up"),
        ({"email": None}, "promotion_code_not_applicable"),
    ]
    for changes, expected in steps:
        assert refused(everything_wrong, **changes) == expected
    no_products = replace(everything_wrong, product_ids=None)
    assert refused(no_products, email=None) == "promotion_code_minimum_not_met"
    no_minimum = replace(no_products, minimum_amount=None)
    assert refused(no_minimum, email=None, email_redeemed=True) == "promotion_code_requires_email"
    assert refused(no_minimum, email_redeemed=True) == "promotion_code_already_used"
