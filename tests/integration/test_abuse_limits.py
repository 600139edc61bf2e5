"""Issue 10 against the real emulator and localstripe: rate limits, the trusted IP hop, no Stripe
call for a repeat, the attempt cap, and the cost of limiting in Firestore writes."""

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
import requests
import stripe
from flask.testing import FlaskClient
from google.cloud import firestore

from checkout.intents import rate_limits
from checkout.orders.attempts import MAX_DECLINED_ATTEMPTS
from checkout.platform.collections import CHECKOUTS, ORDERS, RATE_LIMITS
from tests import stripe_events as se
from tests.conftest import ROOT
from tests.integration.conftest import function_client
from tests.stripe_signing import body, sign

CART = [{"productId": "tee-classic", "quantity": 1}]
GOOGLE_FRONT_END = "35.191.0.1"  # the front end's own address, always the last entry


def via_google(client_ip: str, forged: str = "") -> dict[str, str]:
    """Headers as Google's front end delivers them: what the client sent, then what Google added."""
    return {"X-Forwarded-For": ", ".join(p for p in (forged, client_ip, GOOGLE_FRONT_END) if p)}


def post(client: FlaskClient, checkout_id: str, ip: str, forged: str = "", **extra: Any) -> Any:
    return client.post(
        "/api/payment-intents",
        json={"checkoutId": checkout_id, "items": CART, **extra},
        headers=via_google(ip, forged),
    )


@pytest.fixture(autouse=True)
def fresh_request_counts() -> Iterator[None]:
    rate_limits.request_counter.clear()
    yield
    rate_limits.request_counter.clear()


def assert_rate_limited(response: Any) -> None:
    assert response.status_code == 429, response.get_json()
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert response.get_json()["error"]["message"]
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 600


# --- per-IP request limit (in memory)


def test_requests_per_ip_per_minute(
    checkout_api: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_PER_IP_PER_MINUTE", "3")
    checkout_id = str(uuid.uuid4())
    for _ in range(3):
        assert post(checkout_api, checkout_id, "203.0.113.10").status_code == 200
    limited = post(checkout_api, checkout_id, "203.0.113.10")
    assert_rate_limited(limited)
    assert int(limited.headers["Retry-After"]) <= 60
    # Another client is not affected.
    assert post(checkout_api, checkout_id, "203.0.113.11").status_code == 200


def test_a_forged_forwarded_for_does_not_escape_the_limit(
    checkout_api: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_PER_IP_PER_MINUTE", "2")
    checkout_id = str(uuid.uuid4())
    # The client puts a new address in front each time; Google appends the real one after it.
    statuses = [
        post(checkout_api, checkout_id, "198.51.100.7", forged=f"10.0.0.{n}, 1.2.3.{n}").status_code
        for n in range(4)
    ]
    assert statuses == [200, 200, 429, 429]


def direct(caller: str, forged: str) -> dict[str, str]:
    """A call to the function's own URL, if Cloud Run appends only the caller (docs/security.md,
    "Which IP")."""
    return {"X-Forwarded-For": f"{forged}, {caller}"}


def test_a_direct_caller_forging_the_header_is_still_held_by_the_shop_budget(
    checkout_api: FlaskClient, monkeypatch: pytest.MonkeyPatch, frozen_clock: float
) -> None:
    # The documented gap: with the Hosting shape assumed (hop 2), a direct caller whose header
    # arrives as `<forged>, <caller>` picks its address, so its own limit does not hold it...
    monkeypatch.setenv("NEW_CHECKOUTS_PER_IP_PER_10_MINUTES", "1")
    monkeypatch.setenv("NEW_CHECKOUTS_PER_MINUTE", "3")
    statuses = [
        checkout_api.post(
            "/api/payment-intents",
            json={"checkoutId": str(uuid.uuid4()), "items": CART},
            headers=direct("81.2.69.142", f"10.9.8.{n}"),
        ).status_code
        for n in range(5)
    ]
    # ... but the shop's budget, exact whatever the addresses, does.
    assert statuses == [200, 200, 200, 429, 429]


def test_without_hosting_hop_1_holds_a_direct_caller_to_its_own_limits(
    checkout_api: FlaskClient, monkeypatch: pytest.MonkeyPatch, frozen_clock: float
) -> None:
    # A shop that serves its page elsewhere and calls the function's URL directly counts the
    # last entry, the one Cloud Run appends for the caller: forging gains nothing.
    monkeypatch.setenv("FORWARDED_FOR_CLIENT_HOP", "1")
    monkeypatch.setenv("NEW_CHECKOUTS_PER_IP_PER_10_MINUTES", "1")
    statuses = [
        checkout_api.post(
            "/api/payment-intents",
            json={"checkoutId": str(uuid.uuid4()), "items": CART},
            headers=direct("81.2.69.142", f"10.9.8.{n}"),
        ).status_code
        for n in range(3)
    ]
    assert statuses == [200, 429, 429]


def test_the_client_address_diagnostic_logs_the_shape_and_never_an_address(
    checkout_api: FlaskClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def diagnostics() -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        return [e for e in lines if e["message"] == "client address diagnostic"]

    headers = {**via_google("81.2.69.142", forged="192.0.2.1"), "Fastly-Client-IP": "81.2.69.142"}
    # Off (the default): nothing.
    checkout_api.post("/api/payment-intents", data="{nope", headers=headers)
    assert diagnostics() == []
    # On: one line per POST, even one refused before its body is read, and no address in it.
    monkeypatch.setenv("CLIENT_IP_DIAGNOSTIC", "true")
    checkout_api.post("/api/payment-intents", data="{nope", headers=headers)
    (entry,) = diagnostics()
    assert entry["forwardedForEntries"] == 3 and entry["usedEntry"] == "-2"
    assert entry["probeEntries"] == ["-3"] and entry["usedEntryIsProbe"] is False
    assert entry["fastlyClientIp"] == "-2"
    assert not [a for a in ("81.2.69.142", "192.0.2.1", GOOGLE_FRONT_END) if a in repr(entry)]


def test_bad_input_from_a_flooding_client_is_refused_before_it_is_read(
    checkout_api: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_PER_IP_PER_MINUTE", "1")
    headers = via_google("203.0.113.12")
    checkout_api.post("/api/payment-intents", data="{nope", headers=headers)
    second = checkout_api.post(
        "/api/payment-intents", data="{nope", content_type="application/json", headers=headers
    )
    assert_rate_limited(second)


# --- new checkouts per IP and for the shop (Firestore counters)


def test_new_checkouts_per_ip_and_repeats_do_not_count(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEW_CHECKOUTS_PER_IP_PER_10_MINUTES", "2")
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    assert post(checkout_api, first, "203.0.113.20").status_code == 200
    assert post(checkout_api, second, "203.0.113.20").status_code == 200
    for _ in range(3):  # repeats and cart changes of existing checkouts are not new checkouts
        assert post(checkout_api, first, "203.0.113.20").status_code == 200
    third = str(uuid.uuid4())
    limited = post(checkout_api, third, "203.0.113.20", forged="192.0.2.99")
    assert_rate_limited(limited)
    assert 1 <= int(limited.headers["Retry-After"]) <= 600
    listed = stripe_client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
    assert not [pi for pi in listed if pi.metadata.to_dict().get("checkoutId") == third]
    # The refused checkout left no claim behind: once allowed, it works at once. (Refused
    # attempts count too: a client hammering away stays out for the whole window.)
    monkeypatch.setenv("NEW_CHECKOUTS_PER_IP_PER_10_MINUTES", "10")
    assert post(checkout_api, third, "203.0.113.20").status_code == 200
    # Another client still gets its own.
    assert post(checkout_api, str(uuid.uuid4()), "203.0.113.21").status_code == 200


def test_new_checkouts_per_minute_for_the_whole_shop(
    checkout_api: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEW_CHECKOUTS_PER_MINUTE", "2")
    statuses = [
        post(checkout_api, str(uuid.uuid4()), f"203.0.113.{30 + n}").status_code for n in range(3)
    ]
    assert statuses == [200, 200, 429]


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> float:
    """The limits' clock held one second into a 10-minute window, so no window ends mid-test."""
    now = float(
        int(time.time()) // rate_limits.IP_WINDOW_SECONDS * rate_limits.IP_WINDOW_SECONDS + 1
    )
    monkeypatch.setattr(rate_limits, "time", SimpleNamespace(time=lambda: now))
    return now


def ttl_collections() -> set[str]:
    """Collections whose `expireAt` has a TTL policy in firestore.indexes.json."""
    indexes = json.loads((ROOT / "firestore.indexes.json").read_text())
    return {
        o["collectionGroup"]
        for o in indexes["fieldOverrides"]
        if o["fieldPath"] == "expireAt" and o.get("ttl")
    }


def test_five_abusive_addresses_cannot_stop_a_new_shopper(
    checkout_api: FlaskClient,
    firestore_db: firestore.Client,
    stripe_client: stripe.StripeClient,
    monkeypatch: pytest.MonkeyPatch,
    frozen_clock: float,
) -> None:
    # Issue 16's reproduction over the function's own routes: 3 new checkouts per address,
    # 30 for the shop; 5 addresses send 12 fresh checkouts each, then a first-time shopper.
    monkeypatch.setenv("NEW_CHECKOUTS_PER_IP_PER_10_MINUTES", "3")
    monkeypatch.setenv("NEW_CHECKOUTS_PER_MINUTE", "30")
    refused: list[str] = []
    for n in range(5):
        statuses = []
        for _ in range(12):
            checkout_id = str(uuid.uuid4())
            response = post(checkout_api, checkout_id, f"198.51.100.{n + 1}")
            statuses.append(response.status_code)
            if response.status_code == 429:
                refused.append(checkout_id)
        assert statuses == [200] * 3 + [429] * 9
    # The 45 refusals spent nothing of the shop's 30: the 15 served checkouts did.
    newcomer = post(checkout_api, str(uuid.uuid4()), "203.0.113.99")
    assert newcomer.status_code == 200, newcomer.get_json()
    # Exactly the rest of the budget is left, to any address, and not one more.
    served = [
        post(checkout_api, str(uuid.uuid4()), f"192.0.2.{n + 1}").status_code for n in range(15)
    ]
    assert served == [200] * 14 + [429]

    # A refused request leaves nothing behind that lives for good: no checkout record (or one
    # that a TTL policy deletes), no PaymentIntent.
    for checkout_id in refused:
        record = firestore_db.collection(CHECKOUTS).document(checkout_id).get()
        assert not record.exists or "expireAt" in (record.to_dict() or {})
    listed = stripe_client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
    assert not {pi.metadata.to_dict().get("checkoutId") for pi in listed} & set(refused)
    # Every document that carries expireAt is in a collection with a TTL policy on it.
    expiring = {
        c.id for c in firestore_db.collections() for d in c.stream() if "expireAt" in d.to_dict()
    }
    assert expiring <= ttl_collections()


def test_only_a_checkout_record_without_a_payment_intent_expires(
    checkout_api: FlaskClient, firestore_db: firestore.Client
) -> None:
    from checkout.orders import store as order_store

    # While its first request holds the claim, the record carries expireAt (if that request
    # dies, the record is deleted by the TTL policy)...
    pending = str(uuid.uuid4())
    assert order_store.claim_checkout(pending).token
    record = firestore_db.collection(CHECKOUTS).document(pending).get().to_dict() or {}
    assert record["expireAt"] > record["claimedAt"] + order_store.CLAIM_LEASE
    # ... and once its PaymentIntent is recorded, the record stays with its order.
    served = str(uuid.uuid4())
    assert post(checkout_api, served, "203.0.113.41").status_code == 200
    record = firestore_db.collection(CHECKOUTS).document(served).get().to_dict() or {}
    assert record["paymentIntentId"] and "expireAt" not in record


def test_a_repeat_post_writes_nothing_to_firestore(
    checkout_api: FlaskClient, firestore_db: firestore.Client
) -> None:
    checkout_id = str(uuid.uuid4())
    first = post(checkout_api, checkout_id, "203.0.113.40", email="ada@example.com").get_json()

    def update_times() -> dict[str, Any]:
        documents = [
            *firestore_db.collection(RATE_LIMITS).stream(),
            firestore_db.collection(CHECKOUTS).document(checkout_id).get(),
            firestore_db.collection(ORDERS).document(first["paymentIntentId"]).get(),
        ]
        return {d.reference.path: d.update_time for d in documents}

    before = update_times()
    assert len([p for p in before if p.startswith(RATE_LIMITS)]) == 2  # per IP, a shop shard
    for _ in range(3):
        again = post(checkout_api, checkout_id, "203.0.113.40", email="ada@example.com")
        assert again.get_json() == first
    assert update_times() == before


# --- a repeat makes no Stripe call


class CountingStripeProxy:
    """Forwards to localstripe and counts the requests: what the function asked Stripe."""

    def __init__(self, upstream: str) -> None:
        self.requests: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                proxy.requests.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                answer = requests.request(
                    self.command,
                    upstream + self.path,
                    data=self.rfile.read(length) if length else None,
                    headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                    timeout=30,
                )
                self.send_response(answer.status_code)
                for key in ("Content-Type", "Request-Id"):
                    if key in answer.headers:
                        self.send_header(key, answer.headers[key])
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward()

            def do_DELETE(self) -> None:
                self._forward()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def counted_stripe(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingStripeProxy]:
    proxy = CountingStripeProxy(os.environ["STRIPE_API_BASE"])
    monkeypatch.setenv("STRIPE_API_BASE", proxy.url)
    yield proxy
    proxy.server.shutdown()


def test_a_repeat_of_an_unchanged_cart_makes_no_stripe_call(
    checkout_api: FlaskClient, counted_stripe: CountingStripeProxy
) -> None:
    checkout_id = str(uuid.uuid4())
    first = post(checkout_api, checkout_id, "203.0.113.50")
    assert first.status_code == 200, first.get_json()
    assert [r.split("?")[0] for r in counted_stripe.requests] == ["POST /v1/payment_intents"]
    counted_stripe.requests.clear()

    for _ in range(3):
        assert post(checkout_api, checkout_id, "203.0.113.50").get_json() == first.get_json()
    assert counted_stripe.requests == []
    # A new email alone is recorded without Stripe too.
    assert post(checkout_api, checkout_id, "203.0.113.50", email="b@example.com").status_code == 200
    assert counted_stripe.requests == []

    # A changed cart does ask Stripe (read, then update), and its repeat again does not.
    changed = {"checkoutId": checkout_id, "items": [{"productId": "tee-classic", "quantity": 3}]}
    updated = checkout_api.post("/api/payment-intents", json=changed)
    assert (
        updated.status_code == 200
        and updated.get_json()["amount"] == 3 * first.get_json()["amount"]
    )
    assert len(counted_stripe.requests) == 2
    counted_stripe.requests.clear()
    again = checkout_api.post("/api/payment-intents", json=changed)
    assert again.get_json() == updated.get_json()
    assert counted_stripe.requests == []


def test_a_record_without_a_usable_sealed_secret_asks_stripe_once(
    checkout_api: FlaskClient, firestore_db: firestore.Client, counted_stripe: CountingStripeProxy
) -> None:
    checkout_id = str(uuid.uuid4())
    first = post(checkout_api, checkout_id, "203.0.113.51").get_json()
    # As after a Stripe key rotation: the seal no longer opens.
    firestore_db.collection(CHECKOUTS).document(checkout_id).update(
        {"clientSecretSealed": "v1:AAAA"}
    )
    counted_stripe.requests.clear()
    assert post(checkout_api, checkout_id, "203.0.113.51").get_json() == first
    assert len(counted_stripe.requests) == 1  # the retrieve; then it is sealed again
    counted_stripe.requests.clear()
    assert post(checkout_api, checkout_id, "203.0.113.51").get_json() == first
    assert counted_stripe.requests == []


def test_the_checkout_record_holds_no_client_secret_in_plaintext(
    checkout_api: FlaskClient, firestore_db: firestore.Client
) -> None:
    checkout_id = str(uuid.uuid4())
    intent = post(checkout_api, checkout_id, "203.0.113.52").get_json()
    everything = {
        f"{c.id}/{d.id}": d.to_dict() for c in firestore_db.collections() for d in c.stream()
    }
    assert intent["clientSecret"] not in repr(everything)
    secret_part = intent["clientSecret"].split("_secret_")[1]
    assert secret_part not in repr(everything)


# --- the attempt cap


def test_a_checkout_past_the_attempt_cap_is_refused(
    checkout_api: FlaskClient, firestore_db: firestore.Client
) -> None:
    checkout_id = str(uuid.uuid4())
    intent = post(checkout_api, checkout_id, "203.0.113.60").get_json()
    # What the webhook records (#8: declineCount); seeded here.
    firestore_db.collection(ORDERS).document(intent["paymentIntentId"]).update(
        {"declineCount": MAX_DECLINED_ATTEMPTS, "status": "failed"}
    )
    for cart in (CART, [{"productId": "mug-enamel", "quantity": 1}]):
        refused = checkout_api.post(
            "/api/payment-intents", json={"checkoutId": checkout_id, "items": cart}
        )
        assert refused.status_code == 409
        assert refused.get_json()["error"]["code"] == "checkout_attempts_exhausted"


def test_fewer_declines_than_the_cap_keep_the_checkout_usable(
    checkout_api: FlaskClient, firestore_db: firestore.Client
) -> None:
    checkout_id = str(uuid.uuid4())
    intent = post(checkout_api, checkout_id, "203.0.113.61").get_json()
    firestore_db.collection(ORDERS).document(intent["paymentIntentId"]).update(
        {"declineCount": MAX_DECLINED_ATTEMPTS - 1, "status": "failed"}
    )
    assert post(checkout_api, checkout_id, "203.0.113.61").status_code == 200


def deliver_decline(payment_intent_id: str) -> Any:
    event = se.event("payment_intent.payment_failed", se.failed_payment_intent(payment_intent_id))
    payload = body(event)
    secret = os.environ["STRIPE_WEBHOOK_SECRET"].split(",")[0]
    return function_client("stripe_webhook").post(
        "/api/stripe-webhook",
        data=payload,
        headers={"Stripe-Signature": sign(payload, secret), "Content-Type": "application/json"},
    )


@pytest.mark.parametrize(("recorded", "canceled"), [(MAX_DECLINED_ATTEMPTS, True), (2, False)])
def test_the_webhook_cancels_the_intent_at_the_attempt_cap(
    checkout_api: FlaskClient,
    firestore_db: firestore.Client,
    stripe_client: stripe.StripeClient,
    recorded: int,
    canceled: bool,
) -> None:
    checkout_id = str(uuid.uuid4())
    intent = post(checkout_api, checkout_id, "203.0.113.62").get_json()
    # The declines recorded so far, as #8's webhook counts them (at least this many once
    # this delivery is recorded too).
    firestore_db.collection(ORDERS).document(intent["paymentIntentId"]).update(
        {"declineCount": recorded, "status": "failed"}
    )
    response = deliver_decline(intent["paymentIntentId"])
    assert response.status_code == 200, response.get_json()
    status = stripe_client.v1.payment_intents.retrieve(intent["paymentIntentId"]).status
    assert (status == "canceled") is canceled
