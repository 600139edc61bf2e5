"""The checkout around the payment: one PaymentIntent per checkout, no double payment, keyboard use,
locked checkouts, the return URL."""

import json
import re
from typing import Any

from playwright.sync_api import Browser, expect

from tests.e2e.conftest import BASE_URL, CARD_OK, Checkout, open_context, stripe_get


def test_reload_and_cart_changes_keep_one_payment_intent(checkout: Checkout) -> None:
    checkout.open()
    first = checkout.intent
    checkout_id = checkout.checkout_id()

    checkout.page.reload()
    checkout.expect_ready()
    assert checkout.checkout_id() == checkout_id
    assert checkout.intent["paymentIntentId"] == first["paymentIntentId"]

    # A cart change is priced again by the server, on the same PaymentIntent.
    checkout.set_quantity("sticker-pack", 3)
    expect(checkout.page.locator("#amount")).to_have_text("$40.00")
    checkout.expect_ready()
    assert checkout.intent["paymentIntentId"] == first["paymentIntentId"]
    assert checkout.intent["amount"] == 4000
    # int(): localstripe stores a modified amount as a string
    assert int(stripe_get(f"/v1/payment_intents/{first['paymentIntentId']}")["amount"]) == 4000

    checkout.page.reload()
    checkout.expect_ready()
    assert checkout.page.input_value("#qty-sticker-pack") == "3", "the cart survives a reload"
    assert {i["paymentIntentId"] for i in checkout.intents} == {first["paymentIntentId"]}


def test_an_emptied_cart_cannot_be_paid(checkout: Checkout) -> None:
    checkout.open()
    checkout.set_quantity("tee-classic", 0)
    expect(checkout.page.locator("#cart-error")).to_contain_text("at least one item")
    expect(checkout.page.locator("#pay-button")).to_be_disabled()
    checkout.set_quantity("mug-enamel", 1)
    checkout.expect_ready()
    assert checkout.intent["amount"] == 1400


def test_double_click_makes_one_payment(checkout: Checkout) -> None:
    checkout.open()
    checkout.fill_card(CARD_OK)
    checkout.page.locator("#pay-button").dblclick()
    checkout.expect_order("paid")
    assert checkout.confirm_requests == 1
    intent = stripe_get(f"/v1/payment_intents/{checkout.intent['paymentIntentId']}")
    assert intent["status"] == "succeeded"
    assert len(intent["charges"]["data"]) == 1


def test_keyboard_only_payment(checkout: Checkout) -> None:
    checkout.open()
    page = checkout.page
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip-link"
    page.locator("#standin-card-number").focus()
    page.keyboard.type(CARD_OK)
    page.keyboard.press("Tab")
    page.keyboard.type("1234")
    page.keyboard.press("Tab")
    page.keyboard.type("123")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "pay-button", (
        "focus order: card fields, then Pay"
    )
    page.keyboard.press("Enter")
    checkout.expect_order("paid")
    assert page.evaluate("() => document.activeElement.id") == "new-checkout"


def pay_keeping_a_copy_of_the_checkout(checkout: Checkout) -> dict[str, Any]:
    """Pay, then put the checkout back in sessionStorage as a duplicated tab would still have it."""
    checkout.open()
    before_payment = checkout.session_checkout()
    assert before_payment is not None
    checkout.fill_card(CARD_OK)
    checkout.pay()
    checkout.expect_order("paid")
    checkout.page.evaluate(
        "(saved) => sessionStorage.setItem('checkout', saved)", json.dumps(before_payment)
    )
    return before_payment


def test_paying_an_already_paid_checkout_again_charges_once(checkout: Checkout) -> None:
    pay_keeping_a_copy_of_the_checkout(checkout)
    checkout.page.reload()
    checkout.expect_ready()  # the same, unchanged cart: the server answers with the same intent
    checkout.fill_card(CARD_OK)
    checkout.pay()
    checkout.expect_order("paid")  # Stripe says the intent already succeeded: the page shows it
    intent = stripe_get(f"/v1/payment_intents/{checkout.intent['paymentIntentId']}")
    assert len(intent["charges"]["data"]) == 1


def test_changing_a_paid_checkout_is_refused_and_a_new_one_can_start(checkout: Checkout) -> None:
    before_payment = pay_keeping_a_copy_of_the_checkout(checkout)
    paid_intent = checkout.intent["paymentIntentId"]
    checkout.page.reload()
    checkout.expect_ready()
    checkout.set_quantity("tee-classic", 2)  # the server answers 409 checkout_locked
    expect(checkout.page.locator("#new-checkout")).to_be_visible()
    expect(checkout.page.locator("#status-message")).not_to_be_empty()
    expect(checkout.page.locator("#pay-button")).to_be_disabled()
    assert checkout.page.is_disabled("#qty-tee-classic")
    checkout.screenshot("locked")

    checkout.page.click("#new-checkout")
    checkout.expect_ready()
    assert checkout.checkout_id() != before_payment["id"]
    assert checkout.intent["paymentIntentId"] != paid_intent


def test_return_url_shows_the_payment_result(checkout: Checkout, browser: Browser) -> None:
    """Redirect-based methods come back with the client secret in the URL; cards never redirect,
    so this opens that URL directly, in a new tab, after a card payment."""
    checkout.open()
    checkout.fill_card(CARD_OK)
    checkout.pay()
    checkout.expect_order("paid")
    intent = checkout.intent

    context = open_context(browser)
    try:
        page = context.new_page()
        page.goto(
            f"{BASE_URL}/?payment_intent={intent['paymentIntentId']}"
            f"&payment_intent_client_secret={intent['clientSecret']}&redirect_status=succeeded"
        )
        expect(page.locator("#order-status")).to_have_attribute(
            "data-status", "paid", timeout=20_000
        )
        expect(page.locator("#payment")).to_be_hidden()
        assert not re.search(r"client_secret", page.url), (
            "the secret is removed from the address bar"
        )
    finally:
        context.close()
