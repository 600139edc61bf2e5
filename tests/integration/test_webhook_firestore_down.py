"""Firestore unreachable: the webhook answers 5xx quickly, writes nothing, and Stripe's retry
is processed in full once Firestore is back.

Runs a private emulator (stopping the shared one would break every other test) and the webhook
as its own functions-framework process pointed at it. The emulator keeps data in memory only, so
its data is exported before the stop and seeded again at restart: real Firestore loses nothing
in an outage, and that is what the restart stands for.
"""

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from google.cloud import firestore

from checkout.platform.collections import ORDERS, STRIPE_EVENTS
from dev.stack import PROJECT_ID
from tests import stripe_events as se
from tests.integration.private_servers import PrivateFirestore, private_firestore, webhook_server
from tests.stripe_signing import body, sign

SECRET = "whsec_firestore_down_test"
RECOVERY_DEADLINE_SECONDS = 60.0


@pytest.fixture
def emulator() -> Iterator[PrivateFirestore]:
    with private_firestore() as started:
        yield started


@pytest.fixture
def webhook_url(emulator: PrivateFirestore) -> Iterator[str]:
    env = {
        "FIRESTORE_EMULATOR_HOST": emulator.host,
        "GCLOUD_PROJECT": PROJECT_ID,
        "STRIPE_WEBHOOK_SECRET": SECRET,
        # The webhook never calls Stripe; these only keep unrelated settings well-defined.
        "STRIPE_SECRET_KEY": os.environ.get("STRIPE_SECRET_KEY", "sk_test_unused"),
    }
    with webhook_server(env) as url:
        yield url


def deliver(url: str, payload: bytes) -> requests.Response:
    # Signed afresh at each delivery, as Stripe does for its retries.
    return requests.post(
        url,
        data=payload,
        headers={"Stripe-Signature": sign(payload, SECRET), "Content-Type": "application/json"},
        timeout=60,
    )


def test_a_delivery_while_firestore_is_down_is_retried_with_nothing_lost(
    emulator: PrivateFirestore, webhook_url: str, tmp_path: Path
) -> None:
    pi_id = se.new_id("pi")
    emulator.client().collection(ORDERS).document(pi_id).set(se.order(pi_id))
    now = int(time.time())
    processing = body(
        se.event("payment_intent.processing", se.payment_intent(pi_id), created=now - 1)
    )
    success = se.event("payment_intent.succeeded", se.payment_intent(pi_id), created=now)
    assert deliver(webhook_url, processing).status_code == 200

    seed = emulator.export(tmp_path)
    emulator.stop()

    began = time.monotonic()
    down = deliver(webhook_url, body(success))
    took = time.monotonic() - began
    print(f"with Firestore down: {down.status_code} after {took:.1f} s")
    assert down.status_code in (500, 503), down.text
    assert took < 15  # no minutes-long client retries while Stripe waits

    emulator.start(seed_from_export=seed)
    # Stripe retries with backoff; the function's connection to Firestore may need a moment
    # to come back, which a few quick retries stand in for.
    statuses = []
    deadline = time.monotonic() + RECOVERY_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        statuses.append(deliver(webhook_url, body(success)).status_code)
        if statuses[-1] == 200:
            break
        time.sleep(1)
    print(f"redeliveries after the restart: {statuses}")
    assert statuses[-1] == 200

    db: firestore.Client = emulator.client()
    order = db.collection(ORDERS).document(pi_id).get().to_dict()
    assert order is not None
    assert order["status"] == "paid"
    assert [h["type"] for h in order["history"]] == [
        "payment_intent.processing",
        "payment_intent.succeeded",
    ]
    assert order["fulfilledAt"] is not None
    ledger = {d.id: d.to_dict() or {} for d in db.collection(STRIPE_EVENTS).stream()}
    assert len(ledger) == 2
    assert ledger[success["id"]]["outcome"] == "applied"
