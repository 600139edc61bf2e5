"""The most common production failure of a Stripe integration: the webhook's signing secret is
wrong (after a deploy, say), so every delivery is refused with 400. The return page still shows
the order paid, by checking with Stripe itself, and the order is fulfilled."""

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from checkout.platform.collections import STRIPE_EVENTS
from tests.e2e.conftest import (
    BASE_URL,
    CARD_OK,
    FIRESTORE_HOST,
    PROJECT_ID,
    ROOT,
    STRIPE_API_BASE,
    Checkout,
    firestore_order,
    stripe_get,
)

# The registration dev/stack.py makes (its name, and the URL the stack's webhook is served at).
WEBHOOK_REGISTRATION = f"{STRIPE_API_BASE}/_config/webhooks/checkout"
WEBHOOK_URL = f"{BASE_URL}/api/stripe-webhook"
WITNESS_REGISTRATION = f"{STRIPE_API_BASE}/_config/webhooks/misconfigured-test-witness"
PAID_WITHIN_MS = 15_000
DELIVERED_WITHIN_S = 30.0
FUNCTIONS_LOG = Path(os.environ.get("STACK_LOG_DIR", str(ROOT / ".run" / "logs"))) / (
    "firebase-emulators.log"
)


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


@dataclass
class Witness:
    """Event ids posted to a second webhook endpoint of the test's own."""

    received: list[str] = field(default_factory=list)

    def wait_for(self, event_id: str) -> None:
        deadline = time.monotonic() + DELIVERED_WITHIN_S
        while event_id not in self.received:
            assert time.monotonic() < deadline, f"localstripe never delivered {event_id}"
            time.sleep(0.2)


@pytest.fixture
def witness() -> Iterator[Witness]:
    """An endpoint registered after the stack's webhook. localstripe posts each event to its
    webhooks one after the other, in the order they were registered, each once the one before
    has answered: when the witness has an event, the function has answered its delivery."""
    seen = Witness()

    class Endpoint(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.received.append(str(json.loads(body)["id"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass  # the test's output is for failures

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/"

    def register(events: str) -> None:
        form = {"url": url, "secret": "whsec_witness", "events[]": events}
        requests.post(WITNESS_REGISTRATION, data=form, timeout=10).raise_for_status()

    register("payment_intent.succeeded")
    try:
        yield seen
    finally:
        register("test.disabled")  # localstripe cannot forget a webhook: narrow it to nothing
        server.shutdown()


def event_ids(order: dict[str, object]) -> list[str]:
    history = order.get("history", {})
    values = history.get("arrayValue", {}).get("values", []) if isinstance(history, dict) else []
    return [entry["mapValue"]["fields"]["eventId"]["stringValue"] for entry in values]


def in_the_ledger(event_id: str) -> bool:
    """Whether the event has an entry in the webhook's ledger."""
    url = (
        f"http://{FIRESTORE_HOST}/v1/projects/{PROJECT_ID}/databases/(default)/documents/"
        f"{STRIPE_EVENTS}/{event_id}"
    )
    response = requests.get(url, headers={"Authorization": "Bearer owner"}, timeout=10)
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200


def succeeded_event(intent_id: str, since: int) -> str:
    """The id of the payment_intent.succeeded event Stripe made for the PaymentIntent."""
    listed = stripe_get(f"/v1/events?type=payment_intent.succeeded&created[gte]={since}&limit=100")
    (event_id,) = [e["id"] for e in listed["data"] if e["data"]["object"]["id"] == intent_id]
    return str(event_id)


@pytest.mark.usefixtures("wrong_signing_secret")
def test_the_page_shows_paid_within_15_s_with_the_webhook_secret_wrong(
    checkout: Checkout, witness: Witness
) -> None:
    since = int(time.time()) - 1
    log_offset = FUNCTIONS_LOG.stat().st_size
    checkout.open()
    checkout.fill_card(CARD_OK)
    checkout.pay()
    expect(checkout.page.locator("#order-status")).to_have_attribute(
        "data-status", "paid", timeout=PAID_WITHIN_MS
    )
    checkout.screenshot("paid-without-webhook")

    # Wait until the function has answered localstripe's delivery of the success (the witness
    # has it) and refused it, rather than for a time in which a slow one could still land.
    intent_id = checkout.intent["paymentIntentId"]
    event_id = succeeded_event(intent_id, since)
    witness.wait_for(event_id)
    with FUNCTIONS_LOG.open("rb") as log:
        log.seek(log_offset)
        assert b'"message": "webhook rejected"' in log.read()
    # A refused delivery writes nothing, not even a ledger entry (one that came after the
    # return page made the order paid would leave no trace in the order's history).
    assert not in_the_ledger(event_id)
    order = firestore_order(intent_id)
    assert order["status"] == {"stringValue": "paid"}
    assert "timestampValue" in order["fulfilledAt"]
    # The return page's own check did it: no delivered event is in the history.
    assert [i.split("_pi_")[0] for i in event_ids(order)] == ["return_page"]
