"""The checkout around the payment: one PaymentIntent per checkout, no double payment, keyboard use,
locked checkouts, the return URL."""

import json
import re
from typing import Any

from playwright.sync_api import Browser, Route, expect

from tests.e2e.conftest import BASE_URL, CARD_3DS, CARD_OK, Checkout, open_context, stripe_get

NO_AMOUNT = "\u2013"  # the page's "no amount yet" (an en dash)


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


def test_emptying_the_cart_while_it_is_being_priced_keeps_pay_disabled(checkout: Checkout) -> None:
    checkout.open()
    held: list[Route] = []
    checkout.page.route("**/api/payment-intents", lambda route: held.append(route), times=1)
    checkout.set_quantity("tee-classic", 2)
    checkout.wait_until(lambda: bool(held))
    checkout.set_quantity("tee-classic", 0)
    expect(checkout.page.locator("#cart-error")).to_contain_text("at least one item")
    with checkout.page.expect_response("**/api/payment-intents"):
        held[0].continue_()  # the answer for the cart of two arrives after the cart was emptied
    checkout.page.wait_for_timeout(500)
    expect(checkout.page.locator("#pay-button")).to_be_disabled()
    expect(checkout.page.locator("#pay-button")).to_have_text("Pay")
    expect(checkout.page.locator("#amount")).to_have_text(NO_AMOUNT)


def test_a_failed_cart_update_blocks_paying_until_it_is_retried(checkout: Checkout) -> None:
    checkout.open()
    intent_id = checkout.intent["paymentIntentId"]

    def stripe_updated_then_503(route: Route) -> None:
        route.fetch()  # the server updates the PaymentIntent, then its database fails
        error = {"code": "storage_unavailable", "message": "Our order system is unavailable."}
        route.fulfill(status=503, json={"error": error})

    checkout.page.route("**/api/payment-intents", stripe_updated_then_503, times=1)
    checkout.set_quantity("tee-classic", 2)
    page = checkout.page
    expect(page.locator("#status-message")).to_contain_text("order system is unavailable")
    assert int(stripe_get(f"/v1/payment_intents/{intent_id}")["amount"]) == 5000
    # Stripe holds $50.00: paying the $25.00 still on display must not be possible.
    expect(page.locator("#pay-button")).to_be_disabled()
    expect(page.locator("#pay-button")).to_have_text("Pay")
    expect(page.locator("#amount")).to_have_text(NO_AMOUNT)
    page.click("#retry")
    checkout.expect_ready()
    expect(page.locator("#pay-button")).to_have_text("Pay $50.00")
    expect(page.locator("#retry")).to_be_hidden()
    expect(page.locator("#status-message")).to_be_empty()


def test_pay_confirms_only_the_amount_the_server_holds(checkout: Checkout) -> None:
    """Pay asks the server for the cart's amount once more; if it is not the one on display, the
    page shows the new amount and pays nothing until the shopper presses Pay again."""
    checkout.open()

    def other_amount(route: Route) -> None:
        response = route.fetch()
        route.fulfill(response=response, json={**response.json(), "amount": 3500})

    checkout.fill_card(CARD_OK)  # and the address: $25.00 + $5.00 to the US
    checkout.page.route("**/api/payment-intents", other_amount, times=1)
    checkout.pay()
    checkout.expect_payment_error(r"amount is now \$35\.00")
    expect(checkout.page.locator("#pay-button")).to_have_text("Pay $35.00")
    assert checkout.confirm_requests == 0
    checkout.pay()  # the server holds $30.00 after all
    checkout.expect_payment_error(r"amount is now \$30\.00")
    assert checkout.confirm_requests == 0
    checkout.pay()
    checkout.expect_order("paid")
    assert checkout.confirm_requests == 1
    intent = stripe_get(f"/v1/payment_intents/{checkout.intent['paymentIntentId']}")
    assert (intent["status"], int(intent["amount"])) == ("succeeded", 3000)


def test_a_reload_during_3d_secure_keeps_the_payment_and_its_cart(checkout: Checkout) -> None:
    checkout.open()
    intent_id = checkout.intent["paymentIntentId"]
    checkout.fill_card(CARD_3DS)
    checkout.pay()
    checkout.page.locator("#standin-3ds-complete").wait_for()
    checkout.page.reload()
    checkout.expect_ready()
    checkout.expect_payment_error("not finished")
    # The PaymentIntent cannot change any more: no cart change, and no new checkout.
    assert checkout.page.is_disabled("#qty-tee-classic")
    assert checkout.page.is_hidden("#new-checkout")
    checkout.fill_card(CARD_OK)
    checkout.pay()
    checkout.expect_order("paid")
    assert {i["paymentIntentId"] for i in checkout.intents} == {intent_id}
    assert stripe_get(f"/v1/payment_intents/{intent_id}")["status"] == "succeeded"


def test_a_reload_after_a_payment_went_through_shows_the_order(checkout: Checkout) -> None:
    """Reloaded between Stripe's success and the page learning of it; Stripe is unreachable at
    first: the page offers to try again (never a new checkout), then shows the order."""
    checkout.open()
    before_payment = checkout.session_checkout()
    checkout.fill_card(CARD_OK)
    checkout.pay()
    checkout.expect_order("paid")
    paying = {**(before_payment or {}), "confirming": checkout.intent["clientSecret"]}
    page = checkout.page
    page.evaluate("(saved) => sessionStorage.setItem('checkout', saved)", json.dumps(paying))
    page.route("**/v1/retrieve", lambda route: route.abort(), times=1)
    page.reload()
    expect(page.locator("#retry")).to_have_text("Try again")
    expect(page.locator("#status-message")).to_contain_text("could not load your payment")
    assert page.is_hidden("#new-checkout")
    assert page.is_disabled("#pay-button")
    page.click("#retry")
    checkout.expect_order("paid")
    assert page.is_hidden("#payment")
    assert checkout.session_checkout() is None


def test_an_error_while_following_the_order_offers_to_check_again(checkout: Checkout) -> None:
    checkout.open()
    error = {"code": "rate_limited", "message": "Too many requests."}
    checkout.page.route(
        "**/api/orders/*", lambda route: route.fulfill(status=429, json={"error": error}), times=1
    )
    checkout.fill_card(CARD_OK)
    checkout.pay()
    page = checkout.page
    expect(page.locator("#retry")).to_have_text("Check again")
    expect(page.locator("#status-message")).to_contain_text("Too many requests")
    expect(page.locator("#order-status")).to_be_visible()
    assert page.is_hidden("#new-checkout")
    page.click("#retry")
    checkout.expect_order("paid")


def test_no_confirmation_in_time_keeps_the_order_shown_and_offers_to_check_again(
    checkout: Checkout,
) -> None:
    page = checkout.page
    page.clock.install()  # time flows as usual until the test moves it on
    checkout.open()
    polls = {"count": 0}

    def pending(route: Route) -> None:  # the webhook never lands
        polls["count"] += 1
        intent = checkout.intent
        fields = ("paymentIntentId", "amount", "currency")
        route.fulfill(json={**{k: intent[k] for k in fields}, "status": "pending"})

    page.route("**/api/orders/*", pending)
    checkout.fill_card(CARD_OK)
    checkout.pay()
    checkout.wait_until(lambda: polls["count"] > 0)
    page.clock.fast_forward(31_000)
    expect(page.locator("#retry")).to_have_text("Check again")
    expect(page.locator("#status-message")).to_contain_text("No confirmation yet")
    expect(page.locator("#order-status")).to_have_attribute("data-status", "pending")
    assert page.is_visible("#order-status")
    assert page.is_hidden("#new-checkout"), "no new checkout while the payment may succeed"
    page.unroute("**/api/orders/*")
    page.click("#retry")
    checkout.expect_order("paid")


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
    # (The Address Element is Stripe's own iframe in production: the page's part is the rest.)
    checkout.fill_address()
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
    checkout.fill_address()  # kept with the checkout, as the page keeps it
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
    assert checkout.focused() == "new-checkout"
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
