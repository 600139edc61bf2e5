"""End to end on real local servers: the intent function creates a PaymentIntent, localstripe
confirms it and delivers the signed webhook over HTTP to the webhook function (a separate
functions-framework process), and the order in the Firestore emulator follows.

localstripe sends payment_intent.succeeded and payment_intent.payment_failed (about 1 s after
the change); the other event types are covered by the in-process tests.
"""

import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import stripe
from flask.testing import FlaskClient
from google.cloud import firestore

from checkout.platform.collections import ORDERS
from tests.integration.private_servers import webhook_server
from tests.shipping_address import US_ADDRESS

WEBHOOK_NAME = "webhook-end-to-end-test"
DELIVERY_DEADLINE_SECONDS = 20.0


def configure_localstripe_webhook(url: str, events: list[str] | None = None) -> None:
    form: dict[str, Any] = {"url": url, "secret": os.environ["STRIPE_WEBHOOK_SECRET"]}
    if events is not None:
        form["events[]"] = events
    response = requests.post(
        f"{os.environ['STRIPE_API_BASE']}/_config/webhooks/{WEBHOOK_NAME}", data=form, timeout=10
    )
    response.raise_for_status()


@pytest.fixture(scope="module")
def webhook_url() -> Iterator[str]:
    # The function gets the same settings as the tests (dev/stack.py's), like in production.
    with webhook_server({}) as url:
        configure_localstripe_webhook(url)
        try:
            yield url
        finally:
            # localstripe cannot forget a webhook; narrow it to an event it never sends.
            configure_localstripe_webhook(url, events=["test.disabled"])


def open_checkout(checkout_api: FlaskClient) -> dict[str, Any]:
    response = checkout_api.post(
        "/api/payment-intents",
        json={
            "checkoutId": str(uuid.uuid4()),
            "items": [
                {"productId": "tee-classic", "quantity": 2},
                {"productId": "mug-enamel", "quantity": 1},
            ],
            "email": "ada@example.com",
            "shipping": US_ADDRESS,
        },
    )
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def card(client: stripe.StripeClient, number: str) -> str:
    method = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    return str(method.id)


def confirm(client: stripe.StripeClient, pi_id: str, payment_method: str) -> Any:
    # localstripe does not take payment_method on confirm(); attach it first.
    client.v1.payment_intents.update(pi_id, params={"payment_method": payment_method})
    return client.v1.payment_intents.confirm(pi_id)


def order_once(
    db: firestore.Client, pi_id: str, what: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The order once `done(order)`, waiting for localstripe's delivery and what follows it."""
    deadline = time.monotonic() + DELIVERY_DEADLINE_SECONDS
    order: dict[str, Any] = {}
    while time.monotonic() < deadline:
        order = db.collection(ORDERS).document(pi_id).get().to_dict() or {}
        if done(order):
            return order
        time.sleep(0.25)
    pytest.fail(f"order {pi_id} is not {what} after the deadline: {order}")


def order_when(db: firestore.Client, pi_id: str, status: str) -> dict[str, Any]:
    """The order once it has `status`, waiting for localstripe's delivery."""
    return order_once(db, pi_id, status, lambda order: order.get("status") == status)


def stripe_events_about(client: stripe.StripeClient, pi_id: str, since: int) -> list[str]:
    """The types of the events Stripe (localstripe) has made about the PaymentIntent since
    `since`: every delivery that can reach its order is one of them."""
    listed = client.v1.events.list(params={"created": {"gte": since}, "limit": 100})
    return [
        str(event.type)
        for event in listed.auto_paging_iter()
        if event.to_dict()["data"]["object"].get("id") == pi_id
    ]


@pytest.mark.usefixtures("webhook_url")
def test_a_card_payment_makes_the_order_paid(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, firestore_db: firestore.Client
) -> None:
    checkout = open_checkout(checkout_api)
    pi_id = checkout["paymentIntentId"]
    assert firestore_db.collection(ORDERS).document(pi_id).get().get("status") == "pending"

    intent = confirm(stripe_client, pi_id, "pm_card_visa")
    assert intent.status == "succeeded"

    # fulfil() writes fulfilledAt after the commit that made the order paid: wait for that.
    order = order_once(firestore_db, pi_id, "fulfilled", lambda o: o.get("fulfilledAt") is not None)
    assert order["status"] == "paid"
    assert order["amountReceived"] == checkout["amount"]
    assert [h["type"] for h in order["history"]] == ["payment_intent.succeeded"]
    assert order["history"][0]["eventId"].startswith("evt_")


@pytest.mark.usefixtures("webhook_url")
def test_a_declined_card_makes_the_order_failed(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, firestore_db: firestore.Client
) -> None:
    pi_id = open_checkout(checkout_api)["paymentIntentId"]
    with pytest.raises(stripe.CardError):
        confirm(stripe_client, pi_id, card(stripe_client, "4000000000000341"))

    order = order_when(firestore_db, pi_id, "failed")
    assert order["lastPaymentError"]["code"] == "card_declined"
    assert order["lastPaymentError"]["message"]
    assert "fulfilledAt" not in order


@pytest.mark.usefixtures("webhook_url")
def test_a_3d_secure_card_is_paid_after_authentication(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, firestore_db: firestore.Client
) -> None:
    since = int(time.time()) - 1
    checkout = open_checkout(checkout_api)
    pi_id = checkout["paymentIntentId"]
    intent = confirm(stripe_client, pi_id, card(stripe_client, "4000002760003184"))
    assert intent.status == "requires_action"
    # Stripe has made no event about the payment that waits for authentication (a delivery
    # that came late would still be listed here), so no delivery can change the order.
    assert stripe_events_about(stripe_client, pi_id, since) == []
    assert firestore_db.collection(ORDERS).document(pi_id).get().get("status") == "pending"

    # What the shopper's "Complete authentication" does, through localstripe's test hook.
    response = requests.post(
        f"{os.environ['STRIPE_API_BASE']}/v1/payment_intents/{pi_id}/_authenticate",
        params={"success": "true"},
        data={
            "key": os.environ["STRIPE_PUBLISHABLE_KEY"],
            "client_secret": checkout["clientSecret"],
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text

    order = order_when(firestore_db, pi_id, "paid")
    assert stripe_events_about(stripe_client, pi_id, since) == ["payment_intent.succeeded"]
    assert [h["type"] for h in order["history"]] == ["payment_intent.succeeded"]


@pytest.mark.usefixtures("webhook_url")
def test_every_decline_on_one_payment_intent_is_recorded(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, firestore_db: firestore.Client
) -> None:
    # A card-testing run on one PaymentIntent: each decline is its own payment_failed event.
    pi_id = open_checkout(checkout_api)["paymentIntentId"]
    for attempt in range(1, 4):
        if attempt > 1:
            # localstripe confirms again only once its failed charge is cleared (Stripe needs
            # nothing); JSON, because only JSON can send null. Test-only, as in the stand-in.
            requests.post(
                f"{os.environ['STRIPE_API_BASE']}/v1/payment_intents/{pi_id}",
                json={"latest_charge": None},
                auth=(os.environ["STRIPE_SECRET_KEY"], ""),
                timeout=10,
            ).raise_for_status()
        with pytest.raises(stripe.CardError):
            confirm(stripe_client, pi_id, card(stripe_client, "4000000000000341"))
        order = order_when_declined(firestore_db, pi_id, attempt)
    assert order["status"] == "failed"
    assert len(order["recentDeclines"]) == 3
    assert order["lastPaymentError"]["code"] == "card_declined"


def order_when_declined(db: firestore.Client, pi_id: str, count: int) -> dict[str, Any]:
    deadline = time.monotonic() + DELIVERY_DEADLINE_SECONDS
    order: dict[str, Any] = {}
    while time.monotonic() < deadline:
        order = db.collection(ORDERS).document(pi_id).get().to_dict() or {}
        if order.get("declineCount") == count:
            return order
        time.sleep(0.25)
    pytest.fail(f"order {pi_id} has {order.get('declineCount')!r} declines, not {count}")
