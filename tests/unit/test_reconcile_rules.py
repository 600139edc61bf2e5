"""The reconciler's rules that need no server: which PaymentIntents of idle checkouts are
canceled, how Stripe's "no such PaymentIntent" is told apart, and when a pass calls for a person."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe

from checkout.orders.reconciler_fields import older_order_fields
from checkout.platform.errors import ApiError
from checkout.reconcile.abandonment import Verdict, verdict
from checkout.reconcile.pass_state import Summary
from checkout.stripe_api import connection, payment_intents
from tests import stripe_events as se

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
Json = dict[str, Any]


def at(seconds_from_now: float) -> datetime:
    return NOW + timedelta(seconds=seconds_from_now)


# --- point 3: which PaymentIntents an idle checkout's step may cancel


def requires_action(next_action_type: str) -> Json:
    return se.payment_intent(
        status="requires_action", next_action={"type": next_action_type, next_action_type: {}}
    )


def idle_order(**fields: Any) -> Json:
    return se.order(se.new_id("pi"), lastActivityAt=at(-2 * 86400), **fields)


@pytest.mark.parametrize("status", ["requires_payment_method", "requires_confirmation"])
def test_an_idle_unpaid_payment_intent_is_canceled(status: str) -> None:
    assert verdict(se.payment_intent(status=status), idle_order()) is Verdict.CANCEL


@pytest.mark.parametrize(
    "next_action_type",
    ["verify_with_microdeposits", "display_bank_transfer_instructions", "oxxo_display_details"],
)
def test_a_payment_waiting_on_a_bank_is_never_canceled(next_action_type: str) -> None:
    seen_before = {"abandonmentCheck": {"at": at(-2 * 86400), "result": "waiting_on_bank"}}
    for order in (idle_order(), idle_order(**seen_before)):
        assert verdict(requires_action(next_action_type), order) is Verdict.WAITING_ON_BANK


def test_processing_is_applied_not_canceled() -> None:
    assert verdict(se.payment_intent(status="processing"), idle_order()) is Verdict.APPLY


def test_a_3d_secure_challenge_is_canceled_once_seen_idle_for_a_whole_period() -> None:
    challenge = requires_action("use_stripe_sdk")
    # First seen now: it may have started a second ago.
    assert verdict(challenge, idle_order()) is Verdict.CHALLENGE_SEEN
    # Seen a period ago (the step then restarted the idle clock), nothing happened since.
    seen = at(-86400 - 1)
    order = se.order(
        se.new_id("pi"),
        lastActivityAt=seen,
        abandonmentCheck={"at": seen, "result": "challenge_seen"},
    )
    assert verdict(challenge, order) is Verdict.CANCEL
    # Something happened after it was seen (a decline, a new attempt): a new challenge.
    moved = {**order, "lastActivityAt": seen + timedelta(seconds=5)}
    assert verdict(challenge, moved) is Verdict.CHALLENGE_SEEN


def test_an_order_without_last_activity_counts_from_its_creation() -> None:
    seen = at(-86400)
    legacy = se.order(se.new_id("pi"), createdAt=seen)
    checked = {**legacy, "abandonmentCheck": {"at": seen, "result": "challenge_seen"}}
    assert verdict(requires_action("use_stripe_sdk"), checked) is Verdict.CANCEL


# --- orders an older version wrote


def test_an_older_order_gets_only_the_fields_it_lacks() -> None:
    created = at(-86400)
    assert older_order_fields({"createdAt": created}) == {
        "lastActivityAt": created,
        "stripeMissing": False,
    }
    active = {"createdAt": created, "lastActivityAt": at(-5), "stripeMissing": True}
    assert older_order_fields(active) == {}


# --- point 6: Stripe's "No such payment_intent"


class MissingIntents:
    """A StripeClient stand-in whose PaymentIntents all raise what Stripe answers for an id it
    does not know (the body of Stripe's 404, as documented)."""

    class v1:  # noqa: N801 - the SDK's attribute name
        class payment_intents:  # noqa: N801
            @staticmethod
            def retrieve(pi_id: str) -> Any:
                body = {
                    "error": {
                        "code": "resource_missing",
                        "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
                        "message": f"No such payment_intent: '{pi_id}'",
                        "param": "intent",
                        "type": "invalid_request_error",
                    }
                }
                raise stripe.InvalidRequestError(
                    body["error"]["message"],
                    "intent",
                    code="resource_missing",
                    http_status=404,
                    json_body=body,
                )


def test_no_such_payment_intent_is_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "client", MissingIntents)
    with pytest.raises(connection.PaymentIntentMissing) as caught:
        payment_intents.retrieve_payment_intent("pi_testgone1")
    assert isinstance(caught.value, ApiError)
    assert caught.value.stripe_code == "resource_missing"


def test_other_invalid_requests_are_not_missing_intents() -> None:
    with pytest.raises(ApiError) as caught, connection.translated_errors():
        raise stripe.InvalidRequestError("bad", "amount", code="parameter_invalid_integer")
    assert not isinstance(caught.value, connection.PaymentIntentMissing)


# --- point 6: one CRITICAL alert when most orders of a pass are unknown to Stripe


def critical(output: str) -> list[Json]:
    entries = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [e for e in entries if e["severity"] == "CRITICAL"]


@pytest.mark.parametrize(
    ("checked", "unknown", "alerts"), [(4, 3, 1), (4, 2, 0), (1, 1, 1), (0, 0, 0), (10, 1, 0)]
)
def test_most_orders_unknown_to_stripe_raise_one_alert(
    checked: int, unknown: int, alerts: int, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = Summary()
    for n in range(checked):
        summary.checked_with_stripe("stuck" if n % 2 else "abandoned", missing=n < unknown)
    summary.alert_if_mostly_unknown()
    out = capsys.readouterr()
    found = critical(out.out + out.err)
    assert len(found) == alerts
    if alerts:
        assert (found[0]["unknown"], found[0]["checked"]) == (unknown, checked)
        assert "STRIPE_SECRET_KEY" in found[0]["message"]
