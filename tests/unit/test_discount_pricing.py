"""The discount a code gives a priced cart: examples, then properties over generated carts and
codes (Hypothesis): never more than the covered lines, never a negative total, percentages
rounded half-up once on their sum (checked against Decimal ROUND_HALF_UP), amounts capped, and
the same answer every time. And Stripe's minimum charge: 400 amount_too_small below it."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checkout.cart.minimum_charge import MINIMUM_CHARGE, check_minimum_charge, minimum_charge
from checkout.cart.pricing import PricedCart, PricedLine
from checkout.discounts.pricing import (
    DiscountedCart,
    covered_lines,
    discount_of,
    discounted,
    percent_of,
)
from checkout.discounts.promotion_code import PromotionCode
from checkout.platform.errors import ApiError
from checkout.products.product import MAX_UNIT_AMOUNT

PRODUCT_IDS = ("mug", "tee", "sticker", "poster")


def line(product_id: str, unit_amount: int, quantity: int = 1) -> PricedLine:
    return PricedLine(product_id, product_id.title(), unit_amount, quantity)


def code(**fields: object) -> PromotionCode:
    return PromotionCode(code="TEST", currency="usd", active=True, **fields)  # type: ignore[arg-type]


def test_a_percentage_applies_to_the_covered_lines_sum_rounded_once() -> None:
    # Three lines of 1.05 at 10%: 0.105 each would round to 0.11 three times (0.33); on the
    # sum, 3.15 -> 0.315 -> 0.32.
    cart = PricedCart((line("mug", 105), line("tee", 105), line("sticker", 105)), "usd")
    assert discounted(cart, code(percent_off=10)).discount == 32


def test_only_the_lines_of_its_products_are_covered() -> None:
    cart = PricedCart((line("mug", 1400, 2), line("tee", 2500), line("sticker", 500)), "usd")
    priced = discounted(cart, code(percent_off=50, product_ids=("mug", "poster")))
    assert priced.lines == (line("mug", 1400, 2),)
    assert (priced.subtotal, priced.discount, priced.total) == (5800, 1400, 4400)
    assert priced.code == "TEST" and priced.currency == "usd"


def test_an_amount_off_is_capped_at_the_covered_lines() -> None:
    cart = PricedCart((line("mug", 1400), line("sticker", 500)), "usd")
    priced = discounted(cart, code(amount_off=1000, product_ids=("sticker",)))
    assert (priced.discount, priced.total) == (500, 1400)


def test_a_total_below_the_minimum_charge_is_refused() -> None:
    cart = PricedCart((line("sticker", 500),), "usd")
    assert discounted(cart, code(percent_off=90)).total == 50  # exactly the minimum: fine
    with pytest.raises(ApiError) as caught:
        discounted(cart, code(amount_off=451))
    assert (caught.value.status, caught.value.code) == (400, "amount_too_small")
    assert caught.value.body()["error"]["minimumCharge"] == 50
    with pytest.raises(ApiError):
        discounted(cart, code(percent_off=100))


def test_the_minimum_charge_table() -> None:
    assert minimum_charge("usd") == 50
    assert minimum_charge("jpy") == 50 and minimum_charge("gbp") == 30
    assert minimum_charge("xyz") == 1  # not in Stripe's table: at least one minor unit
    assert all(code == code.lower() and len(code) == 3 for code in MINIMUM_CHARGE)
    check_minimum_charge(50, "usd")
    with pytest.raises(ApiError):
        check_minimum_charge(0, "xyz")


amounts = st.integers(0, MAX_UNIT_AMOUNT)
lines = st.lists(
    st.builds(line, st.sampled_from(PRODUCT_IDS), amounts, st.integers(1, 99)),
    min_size=1,
    max_size=20,
)
carts = st.builds(PricedCart, lines.map(tuple), st.just("usd"))
product_sets = st.none() | st.lists(
    st.sampled_from(PRODUCT_IDS), min_size=1, max_size=4, unique=True
).map(tuple)
percent_codes = st.builds(code, percent_off=st.integers(1, 100), product_ids=product_sets)
amount_codes = st.builds(code, amount_off=st.integers(1, MAX_UNIT_AMOUNT), product_ids=product_sets)
codes = percent_codes | amount_codes


@given(carts, codes)
def test_a_discount_never_exceeds_the_covered_lines_and_the_total_is_never_negative(
    cart: PricedCart, promotion: PromotionCode
) -> None:
    covered = sum(item.amount for item in covered_lines(cart, promotion))
    discount = discount_of(covered, promotion)
    assert 0 <= discount <= covered <= cart.amount
    assert cart.amount - discount >= 0


@given(st.integers(0, MAX_UNIT_AMOUNT * 99 * 20), st.integers(1, 100))
def test_percentages_round_half_up_once_exactly_as_decimal_does(amount: int, percent: int) -> None:
    exact = Decimal(amount) * Decimal(percent) / Decimal(100)
    assert percent_of(amount, percent) == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@given(carts, st.integers(1, 100), product_sets)
def test_a_percentage_is_of_the_covered_lines_sum(
    cart: PricedCart, percent: int, product_ids: tuple[str, ...] | None
) -> None:
    promotion = code(percent_off=percent, product_ids=product_ids)
    covered = covered_lines(cart, promotion)
    expected = Decimal(sum(item.amount for item in covered)) * percent / 100
    rounded = int(expected.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert discount_of(sum(item.amount for item in covered), promotion) == rounded


@given(carts, st.integers(1, MAX_UNIT_AMOUNT), product_sets)
def test_an_amount_off_is_the_smaller_of_itself_and_the_covered_lines(
    cart: PricedCart, amount_off: int, product_ids: tuple[str, ...] | None
) -> None:
    promotion = code(amount_off=amount_off, product_ids=product_ids)
    covered = sum(item.amount for item in covered_lines(cart, promotion))
    assert discount_of(covered, promotion) == min(amount_off, covered)


@given(carts, codes)
def test_the_rules_give_the_same_answer_every_time(
    cart: PricedCart, promotion: PromotionCode
) -> None:
    def outcome() -> DiscountedCart | tuple[int, str]:
        try:
            return discounted(cart, promotion)
        except ApiError as error:
            return (error.status, error.code)

    assert outcome() == outcome()


@given(carts, codes)
def test_lines_the_code_does_not_cover_change_nothing_of_its_discount(
    cart: PricedCart, promotion: PromotionCode
) -> None:
    covered = covered_lines(cart, promotion)
    alone = PricedCart(covered, cart.currency)
    assert covered_lines(alone, promotion) == covered  # covering is idempotent
    total = sum(item.amount for item in covered)
    assert discount_of(total, promotion) == discount_of(alone.amount, promotion)


@given(carts, codes)
def test_covered_lines_are_the_carts_lines_of_its_products_in_order(
    cart: PricedCart, promotion: PromotionCode
) -> None:
    covered = covered_lines(cart, promotion)
    if promotion.product_ids is None:
        assert covered == cart.lines
    else:
        assert covered == tuple(x for x in cart.lines if x.product_id in promotion.product_ids)


@given(carts, codes)
def test_a_priced_total_is_subtotal_minus_discount_and_at_least_the_minimum(
    cart: PricedCart, promotion: PromotionCode
) -> None:
    try:
        priced = discounted(cart, promotion)
    except ApiError as error:
        assert error.code == "amount_too_small"
        covered = sum(item.amount for item in covered_lines(cart, promotion))
        assert cart.amount - discount_of(covered, promotion) < 50
        return
    assert priced.subtotal == cart.amount
    assert priced.total == priced.subtotal - priced.discount >= 50
