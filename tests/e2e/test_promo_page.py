"""The promo code on the page: applied, removed, refused in words next to the field, and a
discounted payment paid in full at the discounted total (Firestore and localstripe agree)."""

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from checkout.discounts.promotion_code import PromotionCode, document_of
from checkout.platform.collections import PROMOTION_CODES
from checkout.platform.firestore_client import db
from tests.e2e.conftest import CARD_OK, Checkout, firestore_order, firestore_status, stripe_get


@pytest.fixture
def codes() -> Iterator[tuple[str, str]]:
    """(a 10% code, a code with a $100 minimum), unique to this run; deleted afterwards."""
    suffix = uuid.uuid4().hex[:6].upper()
    save, big = f"SAVE{suffix}", f"BIG{suffix}"
    made = {
        save: PromotionCode(save, "usd", True, percent_off=10),
        big: PromotionCode(big, "usd", True, amount_off=500, minimum_amount=10_000),
    }
    for code, fields in made.items():
        db().collection(PROMOTION_CODES).document(code).set(document_of(fields))
    yield save, big
    for code in made:
        db().collection(PROMOTION_CODES).document(code).delete()


def apply(checkout: Checkout, code: str) -> None:
    checkout.page.fill("#promo", code)
    checkout.page.press("#promo", "Enter")  # the keyboard applies it, as the button does


def test_apply_remove_refuse_then_pay_with_a_discount(
    checkout: Checkout, codes: tuple[str, str]
) -> None:
    save, big = codes
    checkout.open()
    page = checkout.page
    expect(page.locator("#amount")).to_have_text("$25.00")
    expect(page.locator("#discount-line")).to_be_hidden()

    apply(checkout, save.lower())
    expect(page.locator("#amount")).to_have_text("$22.50", timeout=20_000)
    expect(page.locator("#discount-label")).to_have_text(f"Discount ({save})")
    expect(page.locator("#discount")).to_have_text("\u2212$2.50")
    expect(page.locator("#promo-message")).to_have_text(f"Code {save} applied.")
    checkout.expect_ready()
    expect(page.locator("#pay-button")).to_have_text("Pay $22.50")

    page.click("#promo-remove")
    expect(page.locator("#amount")).to_have_text("$25.00", timeout=20_000)
    expect(page.locator("#discount-line")).to_be_hidden()
    assert checkout.focused() == "promo"

    apply(checkout, "NOSUCHCODE")
    message = page.locator("#promo-message")
    expect(message).to_have_text("This promotion code is not valid.", timeout=20_000)
    expect(page.locator("#promo")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#promo")).to_have_attribute("aria-describedby", "promo-message")
    expect(message).to_have_attribute("role", "status")

    apply(checkout, big)
    expect(message).to_contain_text("minimum amount", timeout=20_000)
    expect(message).to_contain_text("Spend at least $100.00.")
    expect(page.locator("#amount")).to_have_text("$25.00")
    checkout.expect_ready()

    apply(checkout, save)
    expect(page.locator("#amount")).to_have_text("$22.50", timeout=20_000)
    checkout.expect_ready()
    checkout.fill_card(CARD_OK)
    checkout.pay()
    checkout.expect_order("paid")

    pi_id = checkout.intent["paymentIntentId"]
    assert firestore_status(pi_id) == "paid"
    order = firestore_order(pi_id)
    # $25.00 less 10%, plus $5.00 shipping to the address fill_card gave (tests.shipping_address).
    assert order["amount"]["integerValue"] == "2750"
    assert order["subtotal"]["integerValue"] == "2500"
    discount = order["discount"]["mapValue"]["fields"]
    assert discount["code"]["stringValue"] == save
    assert discount["amount"]["integerValue"] == "250"
    charged = stripe_get(f"/v1/payment_intents/{pi_id}")
    assert (charged["status"], int(charged["amount"])) == ("succeeded", 2750)
    assert charged["metadata"]["discount"] == f"{save}:250:tee-classic"
