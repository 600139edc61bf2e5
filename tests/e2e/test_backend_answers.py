"""The page against backend answers the local stack does not produce on demand: rate limits, an
exhausted or expired checkout, refunds and disputes. Each is served by Playwright's route
interception, in the API's documented shapes; everything else is the real stack."""

from typing import Any

import pytest
from playwright.sync_api import Route, expect

from tests.e2e.conftest import Checkout

ORDER_ID = "pi_test_intercepted"


def answer_once(checkout: Checkout, status: int, code: str, message: str, **headers: str) -> None:
    """The next POST /api/payment-intents gets this error instead of the server's answer."""
    body = {"error": {"code": code, "message": message}}
    checkout.page.route(
        "**/api/payment-intents",
        lambda route: route.fulfill(status=status, json=body, headers=headers),
        times=1,
    )


def test_a_rate_limit_offers_to_retry_once_the_wait_is_over(checkout: Checkout) -> None:
    checkout.open()
    answer_once(checkout, 429, "rate_limited", "Too many requests.", **{"Retry-After": "3"})
    checkout.set_quantity("tee-classic", 2)
    page = checkout.page
    expect(page.locator("#status-message")).to_contain_text("Too many requests.")
    expect(page.locator("#status-message")).to_contain_text("try again in 3 seconds")
    expect(page.locator("#retry")).to_be_disabled()
    expect(page.locator("#pay-button")).to_be_disabled()
    expect(page.locator("#retry")).to_be_enabled(timeout=6_000)
    expect(page.locator("#retry")).to_have_text("Try again")
    page.click("#retry")
    checkout.expect_ready()
    expect(page.locator("#pay-button")).to_have_text("Pay $50.00")


def test_a_rate_limit_when_paying_pays_nothing(checkout: Checkout) -> None:
    checkout.open()
    checkout.fill_card("4242 4242 4242 4242")
    answer_once(checkout, 429, "rate_limited", "Too many requests.", **{"Retry-After": "2"})
    checkout.pay()
    page = checkout.page
    expect(page.locator("#status-message")).to_contain_text("try again in 2 seconds")
    expect(page.locator("#pay-button")).to_be_disabled()
    assert checkout.confirm_requests == 0
    expect(page.locator("#retry")).to_be_enabled(timeout=5_000)
    page.click("#retry")
    checkout.expect_ready()
    checkout.pay()
    checkout.expect_order("paid")


def test_exhausted_attempts_are_explained_and_a_new_checkout_is_offered(
    checkout: Checkout,
) -> None:
    checkout.open()
    first_id = checkout.checkout_id()
    message = "Too many declined attempts: this checkout is closed."
    answer_once(checkout, 409, "checkout_attempts_exhausted", message)
    checkout.set_quantity("tee-classic", 2)
    page = checkout.page
    expect(page.locator("#status-message")).to_have_text(message)
    expect(page.locator("#new-checkout")).to_be_focused()
    assert page.is_hidden("#payment")
    assert page.is_disabled("#qty-tee-classic")
    page.click("#new-checkout")
    checkout.expect_ready()
    assert checkout.checkout_id() != first_id


def test_an_expired_checkout_silently_starts_a_new_one(checkout: Checkout) -> None:
    checkout.open()
    first_id = checkout.checkout_id()
    first_intent = checkout.intent["paymentIntentId"]
    answer_once(checkout, 409, "checkout_expired", "This checkout has expired.")
    checkout.set_quantity("tee-classic", 2)
    checkout.page.wait_for_timeout(1_000)
    checkout.expect_ready()
    page = checkout.page
    expect(page.locator("#pay-button")).to_have_text("Pay $50.00")
    expect(page.locator("#status-message")).to_be_empty()
    assert page.is_hidden("#retry")
    assert checkout.checkout_id() != first_id
    assert checkout.intent["paymentIntentId"] != first_intent
    assert page.input_value("#qty-tee-classic") == "2", "the cart is kept"


def show_order(checkout: Checkout, order: dict[str, Any]) -> None:
    """Open the page as after a payment, with GET /api/orders/{id} answering `order`."""
    order = {"paymentIntentId": ORDER_ID, "amount": 5000, "currency": "usd", **order}
    page = checkout.page
    page.route("**/api/orders/*", lambda route: route.fulfill(json=order))
    submitted = {"paymentIntentId": ORDER_ID, "clientSecret": f"{ORDER_ID}_secret_x"}
    checkout.open()
    page.evaluate(
        "(s) => sessionStorage.setItem('checkout', "
        "JSON.stringify({id: crypto.randomUUID(), quantities: {}, submitted: s}))",
        submitted,
    )
    page.reload()
    checkout.expect_order(order["status"])


@pytest.mark.parametrize(
    ("order", "status_text", "detail"),
    [
        (
            {"status": "paid", "refundedAmount": 1250},
            "Paid",
            "Amount: $50.00. Refunded $12.50 of $50.00.",
        ),
        ({"status": "paid", "refundedAmount": 0}, "Paid", "Amount: $50.00."),
        (
            {"status": "refunded", "refundedAmount": 5000},
            "refunded",
            "Refunded $50.00 of $50.00.",
        ),
        (
            {"status": "disputed", "dispute": {"status": "needs_response", "reason": "fraudulent"}},
            "disputed with your bank",
            "Amount: $50.00.",
        ),
        (
            {"status": "dispute_lost", "dispute": {"status": "lost", "reason": "fraudulent"}},
            "reversed this payment",
            "Amount: $50.00.",
        ),
    ],
    ids=["partly-refunded", "paid", "refunded", "disputed", "dispute-lost"],
)
def test_order_states_are_said_plainly(
    checkout: Checkout, order: dict[str, Any], status_text: str, detail: str
) -> None:
    show_order(checkout, order)
    page = checkout.page
    expect(page.locator("#order-status")).to_contain_text(status_text)
    expect(page.locator("#order-detail")).to_contain_text(detail)
    assert page.is_hidden("#payment")
    expect(page.locator("#new-checkout")).to_be_visible()  # final: the next purchase is new


def test_a_failed_order_shows_the_latest_decline(checkout: Checkout) -> None:
    declined = {"paymentIntent": {"id": ORDER_ID, "status": "requires_payment_method"}}

    def stripe_says_failed(route: Route) -> None:
        route.fulfill(json=declined, headers={"Access-Control-Allow-Origin": "*"})

    checkout.page.route("**/v1/retrieve", stripe_says_failed)
    latest = {
        "code": "card_declined",
        "declineCode": "insufficient_funds",
        "message": "Your card has insufficient funds.",
    }
    show_order(checkout, {"status": "failed", "lastPaymentError": latest})
    expect(checkout.page.locator("#order-detail")).to_contain_text("insufficient funds")
    # The PaymentIntent is open again: the shopper may pay with another card.
    expect(checkout.page.locator("#payment")).to_be_visible()
    checkout.expect_ready()
