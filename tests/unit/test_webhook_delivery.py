"""The webhook route and delivery without servers: Firestore and fulfilment replaced by fakes.

What matters here is what reaches Stripe (the status) and what is (not) written or fulfilled.
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask, Request, Response
from google.api_core.exceptions import ServiceUnavailable

from checkout.orders import fulfilment
from checkout.stripe_events import apply, ledger
from checkout.stripe_events.ledger import Applied
from checkout.stripe_events.plan import Source, plan
from checkout.webhooks import route
from tests import stripe_events as se
from tests.stripe_signing import body, sign

SECRET = "whsec_unit_delivery"
app = Flask(__name__)


class FakeStore:
    """Stands in for ledger.apply_event: plans like the real one, writes nothing."""

    def __init__(self, order: dict[str, Any] | None = None, duplicate: bool = False) -> None:
        self.order, self.duplicate = order, duplicate
        self.calls: list[tuple[str, str]] = []
        self.error: Exception | None = None

    def __call__(
        self, client: object, event: dict[str, Any], order_id: str, source: Source
    ) -> Applied:
        self.calls.append((event["id"], order_id))
        if self.error:
            raise self.error
        if self.duplicate:
            return Applied(True, None, None)
        decided = plan(self.order, event, datetime.now(UTC), source)
        merged = decided.writes if decided.creates else {**(self.order or {}), **decided.writes}
        return Applied(False, decided, merged)


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> FakeStore:
    fake = FakeStore(se.order("pi_1"))
    monkeypatch.setattr(ledger, "apply_event", fake)
    monkeypatch.setattr(apply, "db", lambda: "no real Firestore here")
    return fake


@pytest.fixture
def fulfilled(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(fulfilment, "fulfil", calls.append)
    return calls


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", f"{SECRET},whsec_unit_old")
    yield


def post(
    payload: bytes, signature: str | None = "sign", method: str = "POST", secret: str = SECRET
) -> Response:
    headers = {}
    if signature == "sign":
        headers["Stripe-Signature"] = sign(payload, secret)
    elif signature is not None:
        headers["Stripe-Signature"] = signature
    with app.test_request_context(
        "/api/stripe-webhook",
        method=method,
        data=payload,
        content_type="application/json; charset=utf-8",
        headers=headers,
    ) as context:
        request: Request = context.request
        return route.handle(request)


def reply(response: Response) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(response.get_data())
    return result


def logs(captured: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    out, err = captured.readouterr()
    return [json.loads(line) for line in (out + err).splitlines() if line.startswith("{")]


def firestore_down() -> Exception:
    # What the Firestore client raises when it cannot reach the server.
    return ServiceUnavailable("connection refused")


def succeeded(pi_id: str = "pi_1", **pi: Any) -> bytes:
    return body(se.event("payment_intent.succeeded", se.payment_intent(pi_id, **pi)))


# --- 400 and nothing written


@pytest.mark.parametrize(
    "signature", [None, "", "t=1,v1=deadbeef", "nonsense"], ids=["none", "empty", "stale", "junk"]
)
def test_a_bad_signature_is_400_and_writes_nothing(
    store: FakeStore, fulfilled: list[Any], signature: str | None
) -> None:
    response = post(succeeded(), signature)
    assert response.status_code == 400
    assert reply(response)["error"]["code"] == "invalid_webhook"
    assert store.calls == [] and fulfilled == []


def test_a_forged_signature_is_400(store: FakeStore) -> None:
    assert post(succeeded(), secret="whsec_attacker").status_code == 400
    assert store.calls == []


def test_an_expired_signature_is_400(store: FakeStore) -> None:
    payload = succeeded()
    old = sign(payload, SECRET, timestamp=1_600_000_000)
    assert post(payload, old).status_code == 400
    assert store.calls == []


def test_a_signed_body_that_is_not_an_event_is_400(store: FakeStore) -> None:
    assert post(b'{"hello": "world"}').status_code == 400
    assert post(b"not json").status_code == 400
    assert store.calls == []


@pytest.mark.parametrize(
    "signature",
    ["t=1,v1=\xe9\xe9", "sign-then-append"],
    ids=["latin1", "genuine-plus-latin1"],
)
def test_a_non_ascii_signature_is_400_and_writes_nothing(
    store: FakeStore, fulfilled: list[Any], signature: str
) -> None:
    payload = succeeded()
    if signature == "sign-then-append":
        signature = f"{sign(payload, SECRET)},v1=\xe9\xe9"
    response = post(payload, signature)
    assert response.status_code == 400
    assert reply(response)["error"]["code"] == "invalid_webhook"
    assert store.calls == [] and fulfilled == []


@pytest.mark.parametrize("created", [10**13, -1, 0, 2**32])
def test_a_signed_event_with_an_impossible_created_time_is_400(
    store: FakeStore, fulfilled: list[Any], created: int
) -> None:
    # It could never be recorded (no datetime for it), so a 5xx would be retried for days.
    event = se.event("payment_intent.succeeded", se.payment_intent("pi_1"), created=created)
    response = post(body(event))
    assert response.status_code == 400
    assert reply(response)["error"]["code"] == "invalid_webhook"
    assert store.calls == [] and fulfilled == []


def test_the_old_secret_still_works_during_rotation(store: FakeStore) -> None:
    assert post(succeeded(), secret="whsec_unit_old").status_code == 200


def test_the_rejection_is_logged_without_the_body(
    store: FakeStore, capsys: pytest.CaptureFixture[str]
) -> None:
    post(succeeded(receipt_email="private@example.com"), "t=1,v1=00")
    entries = logs(capsys)
    assert [e["severity"] for e in entries] == ["WARNING"]
    assert "private@example.com" not in json.dumps(entries)


def test_only_post_is_accepted(store: FakeStore) -> None:
    response = post(succeeded(), method="GET")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


def test_an_oversized_body_is_413(store: FakeStore) -> None:
    assert post(b"x" * (route.MAX_WEBHOOK_BODY_BYTES + 1)).status_code == 413


def test_a_missing_secret_is_a_500_so_stripe_retries(
    store: FakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET")
    assert post(succeeded()).status_code == 500
    assert store.calls == []


# --- 200 for every genuine event


@pytest.mark.parametrize(
    "event_type", ["customer.created", "payment_intent.created", "invoice.paid", "charge.succeeded"]
)
def test_an_unhandled_event_type_is_200_and_touches_nothing(
    store: FakeStore, event_type: str
) -> None:
    response = post(body(se.event(event_type, {"id": "cus_1", "object": "customer"})))
    assert response.status_code == 200
    assert reply(response)["outcome"] == "unhandled"
    assert store.calls == []


def test_a_handled_event_with_a_malformed_id_is_200_and_logged(
    store: FakeStore, capsys: pytest.CaptureFixture[str]
) -> None:
    event = se.event("charge.refunded", se.charge("orders/pi_1"))
    response = post(body(event))
    assert response.status_code == 200
    assert reply(response)["outcome"] == "ignored"
    assert store.calls == []
    assert [e["severity"] for e in logs(capsys)] == ["ERROR"]


@pytest.mark.parametrize(
    ("event_type", "obj"),
    [
        ("charge.refunded", se.charge(None)),
        ("refund.created", se.refund(None, amount=100)),
        ("charge.dispute.created", se.dispute(None)),
        ("radar.early_fraud_warning.created", se.early_fraud_warning(None)),
    ],
    ids=["charge", "refund", "dispute", "warning"],
)
def test_an_object_without_a_payment_intent_is_not_this_shops(
    store: FakeStore, capsys: pytest.CaptureFixture[str], event_type: str, obj: dict[str, Any]
) -> None:
    event = se.event(event_type, obj)
    response = post(body(event))
    assert response.status_code == 200
    assert reply(response)["outcome"] == "foreign"
    assert store.calls == []  # not even read
    entries = logs(capsys)
    assert [(e["severity"], e["eventId"]) for e in entries] == [("INFO", event["id"])]


def test_a_success_is_applied_and_fulfilled_once(
    store: FakeStore, fulfilled: list[dict[str, Any]]
) -> None:
    response = post(succeeded())
    assert response.status_code == 200
    assert reply(response) | {"received": None} == {
        "received": None,
        "outcome": "applied",
        "orderId": "pi_1",
        "status": "paid",
    }
    assert [o["paymentIntentId"] for o in fulfilled] == ["pi_1"]
    assert fulfilled[0]["status"] == "paid"


def test_a_redelivery_is_200_and_not_fulfilled(
    store: FakeStore, fulfilled: list[dict[str, Any]]
) -> None:
    store.duplicate = True
    response = post(succeeded())
    assert response.status_code == 200
    assert reply(response)["outcome"] == "duplicate"
    assert fulfilled == []


def test_an_ignored_transition_is_200_and_not_fulfilled(
    store: FakeStore, fulfilled: list[dict[str, Any]]
) -> None:
    store.order = se.order("pi_1", status="paid")
    response = post(
        body(se.event("payment_intent.processing", se.payment_intent("pi_1", status="processing")))
    )
    assert response.status_code == 200
    assert reply(response) | {"received": None} == {
        "received": None,
        "outcome": "ignored",
        "orderId": "pi_1",
        "status": "paid",
    }
    assert fulfilled == []


def test_an_amount_mismatch_logs_an_error_and_is_not_fulfilled(
    store: FakeStore, fulfilled: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    response = post(succeeded(amount=1))
    assert reply(response)["status"] == "needs_review"
    assert fulfilled == []
    errors = [e for e in logs(capsys) if e["severity"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["orderId"] == "pi_1"
    assert "paid 1 usd but the order is for 5000 usd" in errors[0]["message"]


def test_a_cart_that_changed_after_the_order_was_written_is_paid_with_a_warning(
    store: FakeStore, fulfilled: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    # The order still holds the older cart (2 tees); the PaymentIntent was updated to the newer.
    response = post(succeeded(amount=6400, metadata={"items": "tee-classic:2,mug-enamel:1"}))
    assert reply(response)["status"] == "paid"
    assert [o["amount"] for o in fulfilled] == [6400]
    assert [i["productId"] for i in fulfilled[0]["items"]] == ["tee-classic", "mug-enamel"]
    assert fulfilled[0]["cartCorrectedFrom"]["amount"] == 5000
    entries = logs(capsys)
    assert not [e for e in entries if e["severity"] == "ERROR"]
    recorded = [e for e in entries if e.get("orderId") == "pi_1" and "reason" in e]
    assert len(recorded) == 1 and "cart corrected" in recorded[0]["reason"]
    assert recorded[0]["severity"] == "WARNING"


# --- failures


def test_a_firestore_error_is_a_5xx_so_stripe_retries(
    store: FakeStore, fulfilled: list[dict[str, Any]]
) -> None:
    store.error = firestore_down()
    response = post(succeeded())
    assert response.status_code == 503
    assert fulfilled == []


def test_any_other_error_is_a_500(store: FakeStore) -> None:
    store.error = ValueError("Failed to commit transaction in 10 attempts.")
    assert post(succeeded()).status_code == 500


def test_a_failing_fulfilment_is_logged_and_still_acknowledged(
    store: FakeStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The payment is recorded: a 5xx would make Stripe redeliver a duplicate, fulfilling nothing.
    def broken(order: dict[str, Any]) -> None:
        raise firestore_down()

    monkeypatch.setattr(fulfilment, "fulfil", broken)
    response = post(succeeded())
    assert response.status_code == 200
    assert any("fulfilment failed" in e.get("message", "") for e in logs(capsys))


# --- payments that are not this shop's


@pytest.mark.parametrize(
    "metadata",
    [{}, {"invoice": "in_1"}, {"checkoutId": "c0ffee00-0000-4000-8000-000000000000"}],
    ids=["empty", "invoice", "unmarked"],
)
@pytest.mark.parametrize(
    "event_type",
    ["payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.processing"],
)
def test_an_unmarked_payment_intent_without_an_order_writes_nothing_and_logs_once_at_info(
    store: FakeStore,
    fulfilled: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    metadata: dict[str, str],
    event_type: str,
) -> None:
    store.order = None
    event = se.event(event_type, se.payment_intent("pi_other", metadata=metadata))
    response = post(body(event))
    assert response.status_code == 200
    assert reply(response)["outcome"] == "foreign"
    assert fulfilled == []
    entries = logs(capsys)
    assert [(e["severity"], e["eventId"]) for e in entries] == [("INFO", event["id"])]


def test_a_dispute_opening_logs_an_error_with_the_due_date(
    store: FakeStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store.order = se.order("pi_1", status="paid")
    dispute = se.dispute("pi_1", due_by=1_790_600_000)
    response = post(body(se.event("charge.dispute.created", dispute)))
    assert reply(response)["status"] == "disputed"
    errors = [e for e in logs(capsys) if e["severity"] == "ERROR"]
    assert len(errors) == 1
    assert "dp_test1" in errors[0]["message"]
    assert "evidence due by 2026-09-28T" in errors[0]["message"]
    assert errors[0]["orderId"] == "pi_1"


def test_an_early_fraud_warning_logs_an_error(
    store: FakeStore, capsys: pytest.CaptureFixture[str]
) -> None:
    store.order = se.order("pi_1", status="paid")
    response = post(
        body(se.event("radar.early_fraud_warning.created", se.early_fraud_warning("pi_1")))
    )
    assert reply(response) | {"received": None} == {
        "received": None,
        "outcome": "applied",
        "orderId": "pi_1",
        "status": "paid",
    }
    errors = [e for e in logs(capsys) if e["severity"] == "ERROR"]
    assert len(errors) == 1 and "issfr_test1" in errors[0]["message"]


def test_a_full_refund_before_the_success_is_never_fulfilled(
    store: FakeStore, fulfilled: list[dict[str, Any]]
) -> None:
    order = se.order("pi_1")
    refund = plan(
        order,
        se.event("charge.refunded", se.charge("pi_1", amount_refunded=5000)),
        datetime.now(UTC),
    )
    store.order = {**order, **refund.writes}
    response = post(succeeded())
    assert reply(response)["status"] == "refunded"
    assert fulfilled == []


def test_a_dispute_before_the_success_is_never_fulfilled(
    store: FakeStore, fulfilled: list[dict[str, Any]]
) -> None:
    order = se.order("pi_1")
    opened = plan(order, se.event("charge.dispute.created", se.dispute("pi_1")), datetime.now(UTC))
    store.order = {**order, **opened.writes}
    response = post(succeeded())
    assert reply(response)["status"] == "disputed"
    assert fulfilled == []
