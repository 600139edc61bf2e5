"""POST /api/payment-intents against localstripe and the Firestore emulator."""

import json
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from flask.testing import FlaskClient
from google.cloud import firestore

from checkout.intents import opening
from checkout.orders.ownership import MARK_KEY, MARK_VALUE
from checkout.orders.store import client_secret_hash
from checkout.platform.collections import CHECKOUTS, ORDERS
from checkout.platform.structured_log import TRACE_FIELD
from checkout.stripe_api import payment_intents
from tests import stripe_events as se
from tests.integration.conftest import function_client, intents_for_checkout
from tests.sample_catalog import unit_amount
from tests.stripe_signing import body, sign

TEE = unit_amount("tee-classic")  # catalog.json, imported by the sample_catalog fixture
MUG = unit_amount("mug-enamel")


def cart(checkout_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "checkoutId": checkout_id,
        "items": [
            {"productId": "tee-classic", "quantity": 2},
            {"productId": "mug-enamel", "quantity": 1},
        ],
        **extra,
    }


def post(client: FlaskClient, body: Any) -> Any:
    return client.post("/api/payment-intents", json=body)


@pytest.fixture
def checkout_id() -> str:
    return str(uuid.uuid4())


def test_server_prices_the_cart_and_ignores_client_amounts(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, checkout_id: str
) -> None:
    response = post(
        checkout_api, cart(checkout_id, amount=1, unitAmount=1, email="ada@example.com")
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["amount"] == 2 * TEE + MUG
    assert body["currency"] == "usd"
    assert body["clientSecret"].startswith(body["paymentIntentId"])

    intent = stripe_client.v1.payment_intents.retrieve(body["paymentIntentId"])
    assert int(intent.amount) == 2 * TEE + MUG
    assert intent.metadata.to_dict() == {
        "checkoutId": checkout_id,
        # What was priced, unit amounts included (checkout.cart.metadata).
        "items": f"tee-classic:2:{TEE},mug-enamel:1:{MUG}",
        MARK_KEY: MARK_VALUE,  # this shop's mark: only marked PaymentIntents become orders
    }


def test_pending_order_is_written(
    checkout_api: FlaskClient, firestore_db: firestore.Client, checkout_id: str
) -> None:
    body = post(checkout_api, cart(checkout_id, email="ada@example.com")).get_json()
    order = firestore_db.collection(ORDERS).document(body["paymentIntentId"]).get().to_dict()
    assert order is not None
    assert order["status"] == "pending"
    assert order["items"] == [
        {"productId": "tee-classic", "name": "Classic tee", "unitAmount": TEE, "quantity": 2},
        {"productId": "mug-enamel", "name": "Enamel mug", "unitAmount": MUG, "quantity": 1},
    ]
    assert order["amount"] == 2 * TEE + MUG
    assert order["currency"] == "usd"
    assert order["checkoutId"] == checkout_id
    assert order["email"] == "ada@example.com"
    assert order["createdAt"] is not None and order["updatedAt"] is not None
    assert order["clientSecretHash"] == client_secret_hash(body["clientSecret"])
    assert body["clientSecret"] not in json.dumps(order, default=str)


def test_repeated_posts_reuse_the_payment_intent(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, checkout_id: str
) -> None:
    first = post(checkout_api, cart(checkout_id)).get_json()
    second = post(checkout_api, cart(checkout_id)).get_json()
    assert second == first
    assert len(intents_for_checkout(stripe_client, checkout_id)) == 1


def test_changed_cart_updates_the_amount(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    checkout_id: str,
) -> None:
    first = post(checkout_api, cart(checkout_id)).get_json()
    changed = post(
        checkout_api,
        {"checkoutId": checkout_id, "items": [{"productId": "tee-classic", "quantity": 5}]},
    )
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert body["paymentIntentId"] == first["paymentIntentId"]
    assert body["amount"] == 5 * TEE

    intent = stripe_client.v1.payment_intents.retrieve(first["paymentIntentId"])
    assert int(intent.amount) == 5 * TEE  # int(): localstripe stores an updated amount as a string
    assert intent.metadata["items"] == f"tee-classic:5:{TEE}"
    order = firestore_db.collection(ORDERS).document(first["paymentIntentId"]).get().to_dict()
    assert order is not None
    assert (order["amount"], order["items"][0]["quantity"]) == (5 * TEE, 5)
    assert len(intents_for_checkout(stripe_client, checkout_id)) == 1


def test_cart_cannot_change_once_paid(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, checkout_id: str
) -> None:
    first = post(checkout_api, cart(checkout_id)).get_json()
    stripe_client.v1.payment_intents.update(
        first["paymentIntentId"], params={"payment_method": "pm_card_visa"}
    )
    stripe_client.v1.payment_intents.confirm(first["paymentIntentId"])

    unchanged = post(checkout_api, cart(checkout_id))
    assert unchanged.status_code == 200  # the same cart still answers with the intent
    changed = post(
        checkout_api,
        {"checkoutId": checkout_id, "items": [{"productId": "mug-enamel", "quantity": 1}]},
    )
    assert changed.status_code == 409
    assert changed.get_json()["error"]["code"] == "checkout_locked"


WAITED_ON_THE_CLAIM = "checkout busy: waiting for the request that holds its claim"


def test_concurrent_duplicate_posts_create_one_intent(
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    checkout_id: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    concurrent = 8
    # One app and client per request, built before any request starts: each is one independent
    # browser request, and the barrier releases them together so they really overlap.
    clients = [function_client("checkout_api") for _ in range(concurrent)]
    start = threading.Barrier(concurrent)

    def post_once(index: int) -> Any:
        start.wait()
        # A trace per request: its log entries say which request waited on the claim.
        response = clients[index].post(
            "/api/payment-intents",
            json=cart(checkout_id),
            headers={"X-Cloud-Trace-Context": f"{index + 1:032x}/1;o=1"},
        )
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=concurrent) as pool:
        results = list(pool.map(post_once, range(concurrent)))

    assert [status for status, _ in results] == [200] * concurrent, results
    assert len({body["paymentIntentId"] for _, body in results}) == 1
    assert len(intents_for_checkout(stripe_client, checkout_id)) == 1
    assert len(list(firestore_db.collection(ORDERS).stream())) == 1
    # They overlapped: some found the claim held by another request and waited for it (the
    # rest, if any, came after and were answered from the checkout record).
    logs = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line[:1] == "{"]
    waited = {e[TRACE_FIELD] for e in logs if e["message"] == WAITED_ON_THE_CLAIM}
    print(f"{len(waited)} of {concurrent} concurrent requests waited on the claim")
    assert 1 <= len(waited) <= concurrent - 1


def test_a_crashed_claim_is_taken_over_after_its_lease(
    checkout_api: FlaskClient, firestore_db: firestore.Client, checkout_id: str
) -> None:
    stale = datetime.now(UTC) - timedelta(minutes=5)
    firestore_db.collection(CHECKOUTS).document(checkout_id).set({"claimedAt": stale})
    assert post(checkout_api, cart(checkout_id)).status_code == 200


def test_a_fresh_claim_held_elsewhere_gives_409_busy(
    checkout_api: FlaskClient,
    firestore_db: firestore.Client,
    checkout_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(opening, "_BUSY_WAIT_SECONDS", 0.3)
    firestore_db.collection(CHECKOUTS).document(checkout_id).set({"claimedAt": datetime.now(UTC)})
    response = post(checkout_api, cart(checkout_id))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "checkout_busy"


def test_two_checkouts_get_two_intents(checkout_api: FlaskClient) -> None:
    a = post(checkout_api, cart(str(uuid.uuid4()))).get_json()
    b = post(checkout_api, cart(str(uuid.uuid4()))).get_json()
    assert a["paymentIntentId"] != b["paymentIntentId"]


def test_a_canceled_intent_is_not_handed_out_again(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, checkout_id: str
) -> None:
    first = post(checkout_api, cart(checkout_id)).get_json()
    canceled = stripe_client.v1.payment_intents.cancel(first["paymentIntentId"])
    # A repeat is answered from Firestore, which learns of the cancel from Stripe's event.
    event = se.event(
        "payment_intent.canceled",
        se.payment_intent(canceled.id, status="canceled", amount=first["amount"]),
    )
    payload = body(event)
    delivered = function_client("stripe_webhook").post(
        "/api/stripe-webhook",
        data=payload,
        headers={
            "Stripe-Signature": sign(payload, os.environ["STRIPE_WEBHOOK_SECRET"].split(",")[0]),
            "Content-Type": "application/json",
        },
    )
    assert delivered.status_code == 200, delivered.get_json()
    again = post(checkout_api, cart(checkout_id))
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "checkout_locked"


def test_when_another_request_records_its_intent_first_ours_is_canceled(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    checkout_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The race: our claim outlives its lease, another request takes over and records its
    # PaymentIntent while ours is still being created.
    theirs = stripe_client.v1.payment_intents.create(
        params={
            "amount": 2 * TEE + MUG,
            "currency": "usd",
            "metadata": {"checkoutId": checkout_id, "items": "tee-classic:2,mug-enamel:1"},
        }
    )
    create = payment_intents.create_intent
    created: list[str] = []

    def create_while_another_records(checkout: str, priced: Any) -> Any:
        intent = create(checkout, priced)
        created.append(intent.id)
        firestore_db.collection(CHECKOUTS).document(checkout).set({"paymentIntentId": theirs.id})
        return intent

    monkeypatch.setattr(payment_intents, "create_intent", create_while_another_records)
    response = post(checkout_api, cart(checkout_id))

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["paymentIntentId"] == theirs.id
    assert stripe_client.v1.payment_intents.retrieve(created[0]).status == "canceled"
    order_ids = [doc.id for doc in firestore_db.collection(ORDERS).stream()]
    assert order_ids == [theirs.id]


def test_a_failed_create_releases_only_its_own_claim(
    firestore_db: firestore.Client, checkout_id: str
) -> None:
    from checkout.orders import store as order_store

    ours = order_store.claim_checkout(checkout_id, now=datetime.now(UTC) - timedelta(minutes=5))
    assert ours.token
    theirs = order_store.claim_checkout(checkout_id)  # our lease ran out: taken over
    assert theirs.token and theirs.token != ours.token
    order_store.release_claim(checkout_id, ours.token)
    record = firestore_db.collection(CHECKOUTS).document(checkout_id).get().to_dict()
    assert record is not None and record["claimToken"] == theirs.token
    order_store.release_claim(checkout_id, theirs.token)
    # The record never got a PaymentIntent: released, it is gone (nothing left behind for good).
    assert not firestore_db.collection(CHECKOUTS).document(checkout_id).get().exists


def test_releasing_a_claim_keeps_a_record_that_has_its_payment_intent(
    firestore_db: firestore.Client, checkout_id: str
) -> None:
    from checkout.orders import store as order_store

    firestore_db.collection(CHECKOUTS).document(checkout_id).set({"paymentIntentId": "pi_1"})
    claim = order_store.claim_checkout(checkout_id)
    assert claim.token and claim.payment_intent_id == "pi_1"
    order_store.release_claim(checkout_id, claim.token)
    record = firestore_db.collection(CHECKOUTS).document(checkout_id).get().to_dict()
    assert record == {"paymentIntentId": "pi_1", "checkoutId": checkout_id}
