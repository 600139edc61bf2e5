"""The reconciler's rules that need no server: which PaymentIntents of idle checkouts are
canceled."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from checkout.reconcile.abandonment import Verdict, verdict
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
    seen_before = {"abandonmentCheck": {"at": at(-2 * 86400), "verdict": "waiting_on_bank"}}
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
        abandonmentCheck={"at": seen, "verdict": "challenge_seen"},
    )
    assert verdict(challenge, order) is Verdict.CANCEL
    # Something happened after it was seen (a decline, a new attempt): a new challenge.
    moved = {**order, "lastActivityAt": seen + timedelta(seconds=5)}
    assert verdict(challenge, moved) is Verdict.CHALLENGE_SEEN


def test_an_order_without_last_activity_counts_from_its_creation() -> None:
    seen = at(-86400)
    legacy = se.order(se.new_id("pi"), createdAt=seen)
    checked = {**legacy, "abandonmentCheck": {"at": seen, "verdict": "challenge_seen"}}
    assert verdict(requires_action("use_stripe_sdk"), checked) is Verdict.CANCEL
