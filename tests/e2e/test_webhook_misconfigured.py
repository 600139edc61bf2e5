"""The most common production failure of a Stripe integration: the webhook's signing secret is
wrong (after a deploy, say), so every delivery is refused with 400. The return page still shows
the order paid, by checking with Stripe itself, and the order is fulfilled."""

import os
import time
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.conftest import BASE_URL, CARD_OK, STRIPE_API_BASE, Checkout, firestore_order

# The registration dev/stack.py makes (its name, and the URL the stack's webhook is served at).
WEBHOOK_REGISTRATION = f"{STRIPE_API_BASE}/_config/webhooks/checkout"
WEBHOOK_URL = f"{BASE_URL}/api/stripe-webhook"
PAID_WITHIN_MS = 15_000


def register_webhook(secret: str) -> None:
    response = requests.post(
        WEBHOOK_REGISTRATION, data={"url": WEBHOOK_URL, "secret": secret}, timeout=10
    )
    response.raise_for_status()


@pytest.fixture
def wrong_signing_secret() -> Iterator[None]:
    """localstripe signs its deliveries with a secret the function does not have."""
    register_webhook("whsec_not_the_one_the_function_has")
    try:
        yield
    finally:
        register_webhook(os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_offline_localstripe"))


def event_ids(order: dict[str, object]) -> list[str]:
    history = order.get("history", {})
    values = history.get("arrayValue", {}).get("values", []) if isinstance(history, dict) else []
    return [entry["mapValue"]["fields"]["eventId"]["stringValue"] for entry in values]


@pytest.mark.usefixtures("wrong_signing_secret")
def test_the_page_shows_paid_within_15_s_with_the_webhook_secret_wrong(checkout: Checkout) -> None:
    checkout.open()
    checkout.fill_card(CARD_OK)
    checkout.pay()
    expect(checkout.page.locator("#order-status")).to_have_attribute(
        "data-status", "paid", timeout=PAID_WITHIN_MS
    )
    checkout.screenshot("paid-without-webhook")

    intent_id = checkout.intent["paymentIntentId"]
    time.sleep(2)  # localstripe's delivery (refused) has come and gone
    order = firestore_order(intent_id)
    assert order["status"] == {"stringValue": "paid"}
    assert "timestampValue" in order["fulfilledAt"]
    # The return page's own check did it: no delivered event is in the history.
    assert [i.split("_pi_")[0] for i in event_ids(order)] == ["return_page"]
