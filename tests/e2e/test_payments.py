"""Paying: success, 3D Secure approved and failed, declines and validation errors, shown in the
page."""

from typing import Any

import pytest
from playwright.sync_api import Route

from tests.e2e.conftest import (
    CARD_3DS,
    CARD_3DS_OTHER,
    CARD_DECLINED,
    CARD_OK,
    PHONE,
    Checkout,
    firestore_order,
    firestore_status,
    stripe_get,
)


@pytest.mark.viewport(PHONE)
def test_card_payment_ends_with_the_order_paid(checkout: Checkout) -> None:
    checkout.open()
    checkout.set_quantity("tee-classic", 2)
    checkout.set_quantity("mug-enamel", 1)
    checkout.expect_ready()
    # The payable amount is the server's (2 x 25.00 + 14.00), and it is what Stripe will charge.
    assert checkout.intent["amount"] == 6400
    assert checkout.page.text_content("#amount") == "$64.00"
    assert (
        int(stripe_get(f"/v1/payment_intents/{checkout.intent['paymentIntentId']}")["amount"])
        == 6400
    )
    checkout.screenshot("before-payment")

    checkout.fill_card(CARD_OK)
    checkout.pay()
    checkout.expect_order("paid")
    checkout.screenshot("after-payment")

    intent_id = checkout.intent["paymentIntentId"]
    assert stripe_get(f"/v1/payment_intents/{intent_id}")["status"] == "succeeded"
    order = firestore_order(intent_id)
    assert order["status"] == {"stringValue": "paid"}
    # Made paid by Stripe's webhook through Hosting, not by the return page's check or the
    # reconciler, which would pass the lines above as well: the history says which path it was.
    paid_by = [
        entry["mapValue"]["fields"]["source"]["stringValue"]
        for entry in order["history"]["arrayValue"]["values"]
        if entry["mapValue"]["fields"]["status"]["stringValue"] == "paid"
    ]
    assert paid_by == ["webhook"]
    assert checkout.session_checkout() is None, "a paid checkout must not be reused"
    assert checkout.page.is_visible("#new-checkout")


@pytest.mark.parametrize("card", [CARD_3DS, CARD_3DS_OTHER])
def test_3d_secure_approved_ends_paid(checkout: Checkout, card: str) -> None:
    checkout.open()
    checkout.fill_card(card)
    checkout.pay()
    challenge = checkout.page.locator("#standin-3ds-complete")
    challenge.wait_for()
    checkout.screenshot("3ds-challenge")
    challenge.click()
    checkout.expect_order("paid")
    assert (
        stripe_get(f"/v1/payment_intents/{checkout.intent['paymentIntentId']}")["status"]
        == "succeeded"
    )


def test_3d_secure_failed_is_explained_and_another_card_works(checkout: Checkout) -> None:
    checkout.open()
    checkout.fill_card(CARD_3DS_OTHER)
    checkout.pay()
    checkout.page.click("#standin-3ds-fail")
    checkout.expect_payment_error("3D Secure")
    checkout.screenshot("3ds-failed")
    assert checkout.page.is_enabled("#pay-button"), "the shopper can try again"
    assert checkout.page.get_attribute("#order-status", "data-status") == ""

    checkout.fill_card(CARD_OK)
    checkout.pay()
    checkout.expect_order("paid")
    assert len({i["paymentIntentId"] for i in checkout.intents}) == 1


def test_decline_is_shown_inline_and_another_card_works(checkout: Checkout) -> None:
    checkout.open()
    checkout.fill_card(CARD_DECLINED)
    checkout.pay()
    checkout.expect_payment_error("declined")
    checkout.screenshot("declined")
    intent_id = checkout.intent["paymentIntentId"]
    assert stripe_get(f"/v1/payment_intents/{intent_id}")["status"] == "requires_payment_method"
    assert checkout.page.is_enabled("#pay-button")
    assert checkout.focused() == "payment-message", "the error takes the focus from Pay"

    checkout.fill_card(CARD_OK)
    checkout.pay()
    checkout.expect_order("paid")
    assert stripe_get(f"/v1/payment_intents/{intent_id}")["status"] == "succeeded"


def test_a_late_failed_order_does_not_undo_a_payment_that_succeeded(checkout: Checkout) -> None:
    """After a decline the order is `failed` until the webhook of the next, successful, attempt
    lands: the page, which saw Stripe say `succeeded`, must keep waiting instead of reopening the
    form (where a cart change would lead to a new checkout and a second charge)."""
    checkout.open()
    checkout.fill_card(CARD_DECLINED)
    checkout.pay()
    checkout.expect_payment_error("declined")
    intent = checkout.intent
    checkout.wait_until(lambda: firestore_status(intent["paymentIntentId"]) == "failed")

    # The first answers after the success still carry the decline: the webhook is late.
    late = {"answers": 2}

    def late_webhook(route: Route) -> None:
        if not late["answers"]:
            route.continue_()
            return
        late["answers"] -= 1
        order: dict[str, Any] = {
            "paymentIntentId": intent["paymentIntentId"],
            "status": "failed",
            "amount": intent["amount"],
            "currency": intent["currency"],
            "lastPaymentError": {"message": "Your card was declined."},
        }
        route.fulfill(json=order)

    checkout.page.route("**/api/orders/*", late_webhook)
    checkout.watch_order_status()
    checkout.fill_card(CARD_OK)
    checkout.pay()
    checkout.expect_order("paid")
    assert late["answers"] == 0, "the late answers were served"
    assert "failed" not in checkout.order_statuses(), "a success never shows as failed"
    assert checkout.page.is_hidden("#payment")
    assert checkout.session_checkout() is None
    assert stripe_get(f"/v1/payment_intents/{intent['paymentIntentId']}")["status"] == "succeeded"


@pytest.mark.parametrize(
    ("number", "expiry", "cvc", "message"),
    [
        ("4242 4242", "12 / 34", "123", "card number is incomplete"),
        ("4242 4242 4242 4241", "12 / 34", "123", "card number is invalid"),
        (CARD_OK, "12 / 2", "123", "expiration date is incomplete"),
        (CARD_OK, "01 / 20", "123", "in the past"),
        (CARD_OK, "12 / 34", "1", "security code is incomplete"),
    ],
)
def test_invalid_card_details_are_explained_before_anything_is_sent(
    checkout: Checkout, number: str, expiry: str, cvc: str, message: str
) -> None:
    checkout.open()
    checkout.fill_card(number, expiry, cvc)
    checkout.pay()
    checkout.expect_payment_error(message)
    assert checkout.confirm_requests == 0
    assert checkout.page.is_enabled("#pay-button")
