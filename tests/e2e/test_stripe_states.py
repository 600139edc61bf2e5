"""States the real Stripe.js produces and the page must show: a Payment Element that fails to load,
a refresh that fails, `processing` and `requires_action` after confirming, a decline reason after a
redirect, a PaymentIntent Stripe cannot be asked about. The stand-in produces each on request (see
dev/stripe_standin/stripe-v3.js), and throws on misuse as Stripe.js does."""

from typing import Any

from playwright.sync_api import Route, expect

from tests.e2e.conftest import BASE_URL, CARD_DECLINED, CARD_OK, Checkout, stripe_get

# Stand-in-only test cards (dev/stripe_standin/server.py).
CARD_PROCESSING = "4000 0000 0000 1117"
CARD_VERIFY_MICRODEPOSITS = "4000 0000 0000 2222"
NO_AMOUNT = "\u2013"


def ask_standin_to_fail(checkout: Checkout, *calls: str) -> None:
    """Each call listed fails once, from now on in this tab (also after a reload)."""
    checkout.page.evaluate("(v) => sessionStorage.setItem('standin:fail', v)", ",".join(calls))


def test_a_payment_form_that_fails_to_load_is_explained_and_can_be_retried(
    checkout: Checkout,
) -> None:
    checkout.open()
    ask_standin_to_fail(checkout, "loaderror")
    checkout.page.reload()
    page = checkout.page
    expect(page.locator("#status-message")).to_contain_text("payment form could not load")
    expect(page.locator("#retry")).to_be_visible()
    assert page.is_disabled("#pay-button")
    assert page.is_hidden("#standin-card-number")
    page.click("#retry")
    checkout.expect_ready()
    expect(page.locator("#status-message")).to_be_empty()


def test_a_failed_refresh_keeps_pay_disabled_until_it_is_retried(checkout: Checkout) -> None:
    checkout.open()
    ask_standin_to_fail(checkout, "fetchUpdates")
    checkout.set_quantity("tee-classic", 2)
    page = checkout.page
    # The server and Stripe hold $50.00, the Element (and a wallet's sheet) still $25.00.
    expect(page.locator("#status-message")).to_contain_text("could not be updated")
    expect(page.locator("#pay-button")).to_be_disabled()
    expect(page.locator("#pay-button")).to_have_text("Pay")
    expect(page.locator("#amount")).to_have_text(NO_AMOUNT)
    page.click("#retry")
    checkout.expect_ready()
    expect(page.locator("#pay-button")).to_have_text("Pay $50.00")
    checkout.fill_card(CARD_OK)  # and the address: $5 to the US
    checkout.pay()
    checkout.expect_order("paid")
    intent = stripe_get(f"/v1/payment_intents/{checkout.intent['paymentIntentId']}")
    assert (intent["status"], int(intent["amount"])) == ("succeeded", 5500)


def test_requires_action_after_confirming_is_shown_as_action_needed(checkout: Checkout) -> None:
    """A US bank debit can end `requires_action` (verify micro-deposits): not a failure."""
    checkout.open()
    checkout.fill_card(CARD_VERIFY_MICRODEPOSITS)
    checkout.pay()
    page = checkout.page
    for _ in range(2):  # and again after a reload, from Stripe's view of the PaymentIntent
        checkout.expect_order("requires_action")
        expect(page.locator("#order-status")).to_contain_text("Action needed")
        expect(page.locator("#order-detail")).to_contain_text("small deposit")
        link = page.locator("#order-detail a")
        expect(link).to_have_attribute(
            "href",
            f"https://payments.stripe.com/microdeposit/pacs_test_{checkout.intent['paymentIntentId']}",
        )
        expect(page.locator("#payment-message")).to_be_empty()
        assert page.is_hidden("#payment")
        assert page.is_hidden("#new-checkout"), "no new checkout while the payment is under way"
        assert page.is_disabled("#qty-tee-classic")
        page.reload()
    checkout.screenshot("action-needed")


def test_processing_after_confirming_follows_the_order(checkout: Checkout) -> None:
    checkout.open()
    checkout.fill_card(CARD_PROCESSING)
    checkout.pay()
    checkout.expect_order("pending")  # until the webhook says more
    expect(checkout.page.locator("#order-status")).to_be_focused()
    assert checkout.page.is_hidden("#payment")
    assert checkout.page.text_content("#payment-message") == ""
    saved = checkout.session_checkout()
    assert saved and saved["submitted"]["paymentIntentId"] == checkout.intent["paymentIntentId"]


def test_the_decline_reason_is_shown_after_a_redirect_return(checkout: Checkout) -> None:
    checkout.open()
    checkout.fill_card(CARD_DECLINED)
    checkout.pay()
    checkout.expect_payment_error("declined")
    intent = checkout.intent
    # Redirect-based methods come back to the return URL; cards never redirect, so open it.
    checkout.page.goto(
        f"{BASE_URL}/?payment_intent={intent['paymentIntentId']}"
        f"&payment_intent_client_secret={intent['clientSecret']}&redirect_status=failed"
    )
    checkout.expect_payment_error("Your card was declined")
    checkout.expect_ready()
    checkout.fill_card(CARD_OK)
    checkout.pay()
    checkout.expect_order("paid")


def test_a_failed_order_stays_unknown_while_stripe_cannot_be_asked(checkout: Checkout) -> None:
    """The order says `failed` (maybe an earlier attempt's); Stripe.js cannot retrieve the
    PaymentIntent: the page neither shows it failed nor says it is processing, and keeps asking."""
    page = checkout.page
    page.clock.install()
    checkout.open()
    intent = checkout.intent
    failed = {
        "paymentIntentId": intent["paymentIntentId"],
        "status": "failed",
        "amount": intent["amount"],
        "currency": intent["currency"],
        "lastPaymentError": {"message": "Your card was declined."},
    }
    retrieves = {"count": 0}

    def unreachable(route: Route) -> None:
        retrieves["count"] += 1
        route.abort()

    page.route("**/api/orders/*", lambda route: route.fulfill(json=failed))
    checkout.fill_card(CARD_OK)
    checkout.pay()
    checkout.expect_order("pending")
    page.route("**/v1/retrieve", unreachable)
    checkout.wait_until(lambda: retrieves["count"] >= 1)
    page.clock.fast_forward(2_000)
    checkout.wait_until(lambda: retrieves["count"] >= 2)  # asked again
    page.clock.fast_forward(31_000)
    expect(page.locator("#status-message")).to_contain_text("could not check your payment")
    expect(page.locator("#retry")).to_have_text("Check again")
    expect(page.locator("#order-status")).to_have_attribute("data-status", "pending")
    assert page.is_hidden("#payment")
    page.unroute("**/v1/retrieve")
    page.unroute("**/api/orders/*")
    page.click("#retry")
    checkout.expect_order("paid")


def test_the_standin_throws_on_misuse_as_stripe_js_does(
    checkout: Checkout, stack: dict[str, Any]
) -> None:
    checkout.open()
    errors = checkout.page.evaluate(
        """async (key) => {
            const caught = async (f) => { try { await f(); return null; } \
catch (e) { return e.name; } };
            const stripe = Stripe(key);
            const elements = stripe.elements({ clientSecret: 'pi_x_secret_y' });
            const element = elements.create('payment');
            return [
                await caught(() => Stripe('sk_test_x')),
                await caught(() => stripe.elements({})),
                await caught(() => element.mount('#nowhere')),
                await caught(() => elements.submit()),
                await caught(() => stripe.confirmPayment({ elements, redirect: 'if_required' })),
                await caught(() => stripe.confirmPayment({ elements: {} })),
            ];
        }""",
        stack["publishableKey"],
    )
    assert errors == ["IntegrationError"] * 6
