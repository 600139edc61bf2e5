"""The scheduled reconciler runs in the emulator suite: a payment whose webhook never arrived is
healed by `reconcile_orders`, loaded by the Functions emulator (which needs the Pub/Sub emulator
for it) and run there as Cloud Scheduler runs it in production (`make dev` does on a clock,
every DEV_RECONCILE_SECONDS; here the test does once).

No browser: the payment is made at localstripe directly, as a shopper whose page closed right
after paying would leave it, so the return page's own check never runs either.
"""

import os
import time
import uuid
from pathlib import Path

import pytest
import requests
from google.cloud import firestore

from checkout.reconcile import catch_up
from dev.stack import fire_scheduled_function
from tests.e2e.conftest import BASE_URL, STRIPE_API_BASE, STRIPE_SECRET_KEY, firestore_order
from tests.shipping_address import US_ADDRESS

WEBHOOK_REGISTRATION = f"{STRIPE_API_BASE}/_config/webhooks/checkout"
LOG_WITHIN_S = 10.0  # the emulator writes the function's output a moment after it returns


def register_webhook(secret: str) -> None:
    response = requests.post(
        WEBHOOK_REGISTRATION,
        data={"url": f"{BASE_URL}/api/stripe-webhook", "secret": secret},
        timeout=10,
    )
    response.raise_for_status()


def stripe_post(path: str, form: dict[str, str]) -> dict[str, object]:
    response = requests.post(
        f"{STRIPE_API_BASE}{path}", data=form, auth=(STRIPE_SECRET_KEY, ""), timeout=10
    )
    response.raise_for_status()
    return dict(response.json())


def status_of(payment_intent_id: str) -> str:
    return str(firestore_order(payment_intent_id)["status"]["stringValue"])


def emulator_log() -> str:
    # dev/stack.py's log of the Firebase emulators: the functions' own output lands there.
    path = Path(os.environ.get("STACK_LOG_DIR", "")) / "firebase-emulators.log"
    return path.read_text(errors="replace") if path.is_file() else ""


@pytest.fixture
def functions_host() -> str:
    host = os.environ.get("FUNCTIONS_EMULATOR_HOST", "")
    if not host:
        pytest.fail("FUNCTIONS_EMULATOR_HOST not set: run this under dev/stack.py e2e", False)
    return host


def test_every_function_is_loaded() -> None:
    log = emulator_log()
    assert "Loaded functions definitions from source: checkout_api, reconcile_orders" in log
    assert "function ignored" not in log, [line for line in log.splitlines() if "ignored" in line]


def test_a_payment_whose_webhook_never_arrived_is_paid_after_a_scheduled_pass(
    functions_host: str,
) -> None:
    # This test's events only: the catch-up starts at the next second.
    second = int(time.time()) + 1
    catch_up.store_cursor(firestore.Client(project=os.environ["GCLOUD_PROJECT"]), second)
    time.sleep(max(0.0, second - time.time()))

    register_webhook("whsec_not_the_one_the_function_has")  # every delivery is refused
    try:
        opened = requests.post(
            f"{BASE_URL}/api/payment-intents",
            json={
                "checkoutId": str(uuid.uuid4()),
                "items": [{"productId": "mug-enamel", "quantity": 1}],
                "shipping": US_ADDRESS,
            },
            timeout=30,
        )
        assert opened.status_code == 200, opened.text
        intent_id = opened.json()["paymentIntentId"]
        stripe_post(f"/v1/payment_intents/{intent_id}", {"payment_method": "pm_card_visa"})
        assert stripe_post(f"/v1/payment_intents/{intent_id}/confirm", {})["status"] == (
            "succeeded"
        )
        time.sleep(2)  # localstripe's delivery (refused) has come and gone
        assert status_of(intent_id) == "pending"
    finally:
        register_webhook(os.environ.get("STRIPE_WEBHOOK_SECRET", "whsec_offline_localstripe"))

    passes_before = emulator_log().count("reconcile pass finished")
    fire_scheduled_function(functions_host)  # returns once the pass is over

    order = firestore_order(intent_id)
    assert order["status"] == {"stringValue": "paid"}
    assert "timestampValue" in order["fulfilledAt"]
    # Applied by the catch-up from Stripe's own event: neither a delivery nor the return page.
    (entry,) = order["history"]["arrayValue"]["values"]
    assert entry["mapValue"]["fields"]["eventId"]["stringValue"].startswith("evt_")
    # ...by the function in the Functions emulator, whose summary line is in its log.
    deadline = time.monotonic() + LOG_WITHIN_S
    while emulator_log().count("reconcile pass finished") == passes_before:
        assert time.monotonic() < deadline, "no summary line from reconcile_orders"
        time.sleep(0.2)
