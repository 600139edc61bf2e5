"""What a PaymentIntent retrieved from Stripe means for its order, decided without a server;
and when the return page asks Stripe at all."""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from checkout.intents.return_check import CHECK_AFTER, CHECK_INTERVAL, check_due
from checkout.orders.status import OrderStatus
from checkout.stripe_events.event import STRIPE_ID, parse_event
from checkout.stripe_events.observations import RECONCILER, RETURN_PAGE, observed_event
from checkout.stripe_events.plan import Outcome, plan
from tests import stripe_events as se
from tests.stripe_events import event, failed_payment_intent, payment_intent

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())


def page_order(pi: dict[str, Any], status: str = "pending", **fields: Any) -> dict[str, Any]:
    return {
        "paymentIntentId": pi["id"],
        "status": status,
        "amount": pi["amount"],
        "currency": pi["currency"],
        "items": [
            {"productId": "tee-classic", "name": "Classic tee", "unitAmount": 2500, "quantity": 2}
        ],
        "history": [],
        **fields,
    }


@pytest.mark.parametrize(
    ("stripe_status", "event_type"),
    [
        ("succeeded", "payment_intent.succeeded"),
        ("processing", "payment_intent.processing"),
        ("canceled", "payment_intent.canceled"),
    ],
)
def test_each_settled_state_becomes_the_event_stripe_sends(
    stripe_status: str, event_type: str
) -> None:
    pi = payment_intent(status=stripe_status)
    event = observed_event(pi, page_order(pi), RECONCILER, T)
    assert event is not None
    assert event["type"] == event_type
    assert event["data"]["object"] is pi
    # Shaped like a delivery: it passes the same checks as a signed body.
    import json

    assert parse_event(json.dumps(event).encode())["id"] == event["id"]


def test_a_failed_attempt_is_a_payment_failed_event() -> None:
    pi = failed_payment_intent("pi_testfailed1")
    event = observed_event(pi, page_order(pi), RECONCILER, T)
    assert event is not None and event["type"] == "payment_intent.payment_failed"


@pytest.mark.parametrize(
    "stripe_status",
    ["requires_payment_method", "requires_confirmation", "requires_action", "requires_capture"],
)
def test_states_where_nothing_happened_yet_give_no_event(stripe_status: str) -> None:
    pi = payment_intent(status=stripe_status)
    assert observed_event(pi, page_order(pi), RECONCILER, T) is None


def test_the_id_names_the_observer_and_is_stable_per_order_version() -> None:
    pi = payment_intent(status="succeeded")
    order = page_order(pi, lastEventCreated=T - 50)
    first = observed_event(pi, order, RECONCILER, T)
    again = observed_event(pi, order, RECONCILER, T + 30)
    page = observed_event(pi, order, RETURN_PAGE, T)
    moved_on = observed_event(pi, {**order, "lastEventCreated": T - 10}, RECONCILER, T)
    assert first is not None and again is not None and page is not None and moved_on is not None
    assert first["id"].startswith("reconciler_pi_")
    assert page["id"].startswith("return_page_pi_")
    assert STRIPE_ID.match(first["id"]) and STRIPE_ID.match(page["id"])
    assert first["id"] == again["id"]  # concurrent observers: one ledger entry
    assert moved_on["id"] != first["id"]  # a new version of the order: a new observation


def test_an_observation_is_newer_than_the_events_before_it() -> None:
    # The order saw a (webhook) failure at T-100; Stripe now says processing: it applies.
    pi = payment_intent(status="processing")
    order = page_order(pi, status="failed", lastEventCreated=T - 100)
    event = observed_event(pi, order, RECONCILER, T)
    assert event is not None
    decided = plan(order, event, NOW)
    assert decided.outcome == Outcome.APPLIED
    assert decided.writes["lastEventCreated"] == T
    # And a webhook event from before the observation arriving late is stale.
    late = {**event, "id": "evt_late", "type": "payment_intent.payment_failed", "created": T - 5,
            "data": {"object": failed_payment_intent(pi["id"])}}  # fmt: skip
    after = {**order, **decided.writes}
    # Its decline is recorded (every decline is), but it does not take the status back.
    assert plan(after, late, NOW).status == OrderStatus.PROCESSING


def test_an_observed_success_makes_the_order_paid_for_fulfilment() -> None:
    pi = payment_intent(status="succeeded", amount=5000)
    order = page_order(pi)
    event = observed_event(pi, order, RETURN_PAGE, T)
    assert event is not None
    decided = plan(order, event, NOW)
    assert decided.newly_paid
    assert decided.writes["history"][-1]["eventId"].startswith("return_page_")


def test_an_unsafe_id_gives_no_event() -> None:
    assert observed_event(payment_intent("pi_bad/../x"), None, RECONCILER, T) is None


# --- when the return page asks Stripe


def order_at(
    status: str, changed_ago: timedelta, checked_ago: timedelta | None = None
) -> dict[str, Any]:
    order: dict[str, Any] = {
        "status": status,
        "updatedAt": NOW - changed_ago,
        "createdAt": NOW - changed_ago,
    }
    if checked_ago is not None:
        order["stripeCheckedAt"] = NOW - checked_ago
    return order


def test_a_fresh_order_is_not_checked() -> None:
    assert not check_due(order_at("pending", CHECK_AFTER - timedelta(seconds=1)), NOW)


@pytest.mark.parametrize("status", ["pending", "processing", "failed"])
def test_an_open_order_is_checked_after_a_few_seconds(status: str) -> None:
    assert check_due(order_at(status, CHECK_AFTER), NOW)


@pytest.mark.parametrize("status", ["paid", "canceled", "refunded", "needs_review"])
def test_a_settled_order_is_never_checked(status: str) -> None:
    assert not check_due(order_at(status, timedelta(hours=1)), NOW)


def test_at_most_one_check_per_interval() -> None:
    old = timedelta(minutes=5)
    assert not check_due(order_at("pending", old, CHECK_INTERVAL - timedelta(seconds=1)), NOW)
    assert check_due(order_at("pending", old, CHECK_INTERVAL), NOW)


# --- a decline observed by the return page or the reconciler is the webhook's decline, not another


def applied(order: dict[str, Any], event: dict[str, Any] | None) -> dict[str, Any]:
    assert event is not None
    decided = plan(order, event, NOW)
    return {**order, **decided.writes} if decided.outcome is Outcome.APPLIED else order


def declined(pi_id: str, charge: str | None, **extra: Any) -> dict[str, Any]:
    pi = failed_payment_intent(pi_id, **extra)
    if charge:
        pi["last_payment_error"]["charge"] = charge
    return pi


def test_a_failed_order_observed_failing_again_gets_nothing_to_apply() -> None:
    pi = declined("pi_testobserved1", "ch_testattempt1")
    order = applied(page_order(pi), event("payment_intent.payment_failed", pi, created=T - 60))
    assert (order["status"], order["declineCount"]) == ("failed", 1)
    # The return page polling a failed order: no event, so no decline and no history entry.
    assert observed_event(pi, order, RETURN_PAGE, T) is None
    # Once the order has moved on (the shopper retried), a failure is news again.
    retried = {**order, "status": "processing"}
    assert observed_event(pi, retried, RETURN_PAGE, T) is not None


def test_an_observed_decline_then_its_late_delivery_is_counted_once() -> None:
    pi = declined("pi_testobserved2", "ch_testattempt2")
    order = applied(page_order(pi), observed_event(pi, page_order(pi), RECONCILER, T))
    order = applied(order, event("payment_intent.payment_failed", pi, created=T - 60))
    assert order["declineCount"] == 1
    # A new attempt (another failed charge) is another decline.
    again = declined("pi_testobserved2", "ch_testattempt3", message="Insufficient funds.")
    order = applied(order, event("payment_intent.payment_failed", again, created=T + 30))
    assert (order["declineCount"], order["lastPaymentError"]["message"]) == (
        2,
        "Insufficient funds.",
    )


def test_an_observed_decline_without_a_charge_is_a_recorded_one_with_its_error() -> None:
    # A failed 3D Secure authentication has no charge: an observation of the same error is not
    # a new attempt.
    pi = declined("pi_testobserved4", None, code="payment_intent_authentication_failure")
    order = applied(page_order(pi), event("payment_intent.payment_failed", pi, created=T - 60))
    # Observed on an order that has moved on meanwhile: the same error, not a new attempt.
    order = applied(
        {**order, "status": "processing"},
        observed_event(pi, {**order, "status": "processing"}, RETURN_PAGE, T),
    )
    assert order["declineCount"] == 1
    # Observed first, then Stripe's late event for it: still one.
    first = applied(page_order(pi), observed_event(pi, page_order(pi), RECONCILER, T))
    first = applied(first, event("payment_intent.payment_failed", pi, created=T - 60))
    assert first["declineCount"] == 1
    # Two such failures that Stripe itself reports are two attempts.
    twice = applied(order, event("payment_intent.payment_failed", pi, created=T + 60))
    assert twice["declineCount"] == 2


# --- each failed attempt is counted once, whoever sees it first (issue 16, point 5)

AUTHENTICATION_FAILED = "payment_intent_authentication_failure"


def test_a_3d_secure_failure_seen_first_by_the_return_page_is_not_counted_again_later() -> None:
    # The return page records a 3D Secure failure; a card decline lands next; Stripe's own event
    # for the 3D Secure failure arrives late. Two attempts.
    pi_id = "pi_testlate3ds1"
    secure = declined(pi_id, None, code=AUTHENTICATION_FAILED)
    order = page_order(secure)
    order = applied(order, observed_event(secure, order, RETURN_PAGE, T))
    card = declined(pi_id, "ch_testcard1")
    order = applied(order, event("payment_intent.payment_failed", card, created=T + 20))
    order = applied(order, event("payment_intent.payment_failed", secure, created=T - 5))
    assert order["declineCount"] == 2
    # Stripe's event is the attempt's record from now on, as if it had come first.
    assert [d["eventId"][:4] for d in order["recentDeclines"]] == ["evt_", "evt_"]
    assert order["lastPaymentError"]["code"] == "card_declined"


def test_four_attempts_seen_by_everyone_in_any_order_never_reach_the_cap() -> None:
    pi_id = "pi_testfourattempts1"
    secure = declined(pi_id, None, code=AUTHENTICATION_FAILED)
    cards = [declined(pi_id, f"ch_testcard{n}", decline_code=f"code_{n}") for n in range(3)]
    stripe_events = [
        event("payment_intent.payment_failed", pi, created=T + 10 * n, event_id=f"evt_test4_{n}")
        for n, pi in enumerate([secure, *cards])
    ]
    # The return page saw the 3D Secure failure, before the next attempt.
    seen = observed_event(secure, page_order(secure), RETURN_PAGE, T + 5)
    assert seen is not None
    for events in itertools.permutations([seen, *stripe_events]):
        order = page_order(secure)
        for one in events:
            order = applied(order, one)
        assert order["declineCount"] == 4, [e["id"] for e in events]


def test_two_identical_3d_secure_failures_from_stripe_stay_two_attempts_after_an_observation() -> (
    None
):
    pi_id = "pi_testtwice3ds1"
    secure = declined(pi_id, None, code=AUTHENTICATION_FAILED)
    first = event("payment_intent.payment_failed", secure, created=T - 30)
    second = event("payment_intent.payment_failed", secure, created=T + 30)
    seen = observed_event(secure, page_order(secure), RECONCILER, T)
    assert seen is not None
    for events in itertools.permutations([seen, first, second]):
        order = page_order(secure)
        for one in events:
            order = applied(order, one)
        assert order["declineCount"] == 2, [e["id"] for e in events]


def test_a_payment_method_tells_two_3d_secure_failures_apart() -> None:
    pi_id = "pi_testmethods1"

    def failed_with(method: str) -> dict[str, Any]:
        pi = declined(pi_id, None, code=AUTHENTICATION_FAILED)
        pi["last_payment_error"]["payment_method"] = {"id": method, "object": "payment_method"}
        return pi

    first, second = failed_with("pm_testfirst"), failed_with("pm_testsecond")
    order = applied(page_order(first), event("payment_intent.payment_failed", first, created=T))
    # The return page sees the second attempt before Stripe's event for it: a new attempt.
    order = applied(
        {**order, "status": "processing"},
        observed_event(second, {**order, "status": "processing"}, RETURN_PAGE, T + 20),
    )
    assert order["declineCount"] == 2
    order = applied(order, event("payment_intent.payment_failed", second, created=T + 10))
    assert order["declineCount"] == 2
    assert [d["paymentMethod"] for d in order["recentDeclines"]] == [
        "pm_testfirst",
        "pm_testsecond",
    ]


def at(seconds_from_now: float) -> datetime:
    return NOW + timedelta(seconds=seconds_from_now)


# --- lastActivityAt: every Stripe event about the PaymentIntent is activity, at its `created`


def test_an_event_records_its_created_as_the_last_activity() -> None:
    pi = se.failed_payment_intent(se.new_id("pi"))
    order = se.order(pi["id"], lastActivityAt=at(-3600))
    decided = plan(order, se.event("payment_intent.payment_failed", pi, created=T - 60), NOW)
    assert decided.outcome is Outcome.APPLIED
    assert decided.writes["lastActivityAt"] == at(-60)


def test_a_late_event_never_moves_the_last_activity_back() -> None:
    pi = se.failed_payment_intent(se.new_id("pi"))
    order = se.order(pi["id"], lastActivityAt=at(-10))
    decided = plan(order, se.event("payment_intent.payment_failed", pi, created=T - 600), NOW)
    assert decided.outcome is Outcome.APPLIED
    assert decided.writes["lastActivityAt"] == at(-10)


def test_an_order_rebuilt_from_an_event_is_active_since_the_event() -> None:
    pi = se.payment_intent(status="processing")
    decided = plan(None, se.event("payment_intent.processing", pi, created=T - 5), NOW)
    assert decided.creates
    assert decided.writes["lastActivityAt"] == at(-5)
    assert decided.writes["stripeMissing"] is False


# --- point 7: an observation that changes nothing is no event at all


@pytest.mark.parametrize(
    ("stripe_status", "order_status"),
    [("processing", "processing"), ("succeeded", "paid"), ("canceled", "canceled")],
)
def test_observing_what_the_order_already_says_gives_no_event(
    stripe_status: str, order_status: str
) -> None:
    pi = se.payment_intent(status=stripe_status)
    order = se.order(pi["id"], status=order_status, lastEventCreated=T - 86400)
    assert observed_event(pi, order, RECONCILER, T) is None


def test_observing_processing_on_a_pending_or_failed_order_is_news() -> None:
    pi = se.payment_intent(status="processing")
    for status in ("pending", "failed"):
        assert observed_event(pi, se.order(pi["id"], status=status), RECONCILER, T) is not None
