"""The pieces of a checkout's promotion code that need no server: its redemption pools, the
demands of a hold with them, which refusal a short pool means, the code a checkout record's
cart names, what an import sets, and the wrong-code limit's arithmetic."""

from datetime import UTC, datetime

import pytest

from checkout.cart.metadata import cart_signature, signature_discount_code
from checkout.cart.pricing import Discount, PricedCart, PricedLine
from checkout.catalog.changes import FieldChange
from checkout.catalog.code_changes import ChangedCode, CodeImportPlan, redemption_refusals
from checkout.discounts.promotion_code import PromotionCode
from checkout.discounts.redemptions import code_pool, email_pool, redemption_refused
from checkout.holds import plan
from checkout.holds.pool import Pool
from checkout.intents import rate_limits
from checkout.intents.stock_holds import demands
from checkout.platform.errors import ApiError

CART = PricedCart((PricedLine("mug-enamel", "Enamel mug", 1400, 2),), "usd")
NOW = datetime(2026, 11, 30, tzinfo=UTC)


def test_an_email_pool_is_one_per_code_and_address_whatever_its_case() -> None:
    assert email_pool("SAVE", "Ada@Example.com ") == email_pool("SAVE", "ada@example.com")
    assert email_pool("SAVE", "ada@example.com") != email_pool("SAVE", "bob@example.com")
    assert email_pool("SAVE", "ada@example.com") != email_pool("OTHER", "ada@example.com")
    assert email_pool("SAVE", "ada@example.com").startswith(code_pool("SAVE") + ":email:")
    assert "ada" not in email_pool("SAVE", "ada@example.com")  # hashed, never in clear


def test_redemptions_are_held_one_each_and_dropped_ones_given_back() -> None:
    held_before = [code_pool("OLD")]
    assert demands(CART, held_before, [code_pool("NEW")]) == {
        "product:mug-enamel": 2,
        code_pool("OLD"): 0,
        code_pool("NEW"): 1,
    }


def test_a_short_pool_names_its_refusal() -> None:
    def code_of(error: ApiError) -> str:
        return error.code

    assert code_of(redemption_refused([code_pool("X")])) == "promotion_code_used_up"
    assert code_of(redemption_refused([email_pool("X", "a@b.co")])) == (
        "promotion_code_already_used"
    )


def test_the_code_a_cart_signature_names() -> None:
    discounted = PricedCart(CART.lines, "usd", Discount("SAVE10", 280, ("mug-enamel",)))
    assert signature_discount_code(cart_signature(discounted)) == "SAVE10"
    assert signature_discount_code(cart_signature(CART)) is None
    assert signature_discount_code(None) is None


def code(max_redemptions: int | None) -> PromotionCode:
    return PromotionCode("SAVE", "usd", True, percent_off=10, max_redemptions=max_redemptions)


def test_an_import_sets_the_redemptions_of_added_codes_and_changed_limits_only() -> None:
    changed = ChangedCode(code(5), (FieldChange("maxRedemptions", 3, 5),))
    other = ChangedCode(code(7), (FieldChange("percentOff", 5, 10),))
    import_plan = CodeImportPlan((code(None),), (changed, other), (), 0)
    assert [(c.code, c.total, c.pool) for c in import_plan.redemption_changes] == [
        ("SAVE", None, "promotion:SAVE"),
        ("SAVE", 5, "promotion:SAVE"),
    ]


def test_a_limit_below_what_is_held_is_refused() -> None:
    empty = Pool(code_pool("SAVE"), {})
    planned = plan.set_total(empty, 3, NOW)
    assert isinstance(planned, dict)
    pool = Pool(code_pool("SAVE"), planned)
    for key in ("a", "b"):
        held = plan.hold(pool, key, 1, None, NOW)
        assert isinstance(held, dict)
        pool = Pool(pool.name, {**pool.shards, **held})
    lowered = CodeImportPlan(
        (), (ChangedCode(code(1), (FieldChange("maxRedemptions", 3, 1),)),), (), 0
    )
    (problem,) = redemption_refusals(lowered, {pool.name: pool}, NOW)
    assert problem.field == "maxRedemptions"
    assert "below the 2 redemption(s)" in problem.message


@pytest.mark.parametrize(
    ("count", "counted", "refused"),
    [(9, False, False), (10, False, True), (10, True, False), (11, True, True)],
)
def test_the_wrong_code_limit(
    count: int, counted: bool, refused: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WRONG_PROMOTION_CODES_PER_IP_PER_10_MINUTES", "10")
    now = 1_800_000_100.0
    if not refused:
        rate_limits.check_wrong_codes("192.0.2.1", count, now, counted)
        return
    with pytest.raises(ApiError) as caught:
        rate_limits.check_wrong_codes("192.0.2.1", count, now, counted)
    assert (caught.value.status, caught.value.code) == (429, "rate_limited")
    assert caught.value.headers == {"Retry-After": "500"}
