"""After the payment: refunds in any order, disputes, fraud warnings, every decline, and only
this shop's PaymentIntents. Pure plans over events built from Stripe's example objects."""

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from checkout.orders.ownership import MARK_KEY, MARK_VALUE, is_marked, marked
from checkout.orders.status import OrderStatus
from checkout.stripe_events.declines import RECENT_DECLINES
from checkout.stripe_events.plan import Outcome, Plan, plan
from tests import stripe_events as se

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
T0 = 1_790_000_000
S = OrderStatus
Json = dict[str, Any]
PI = "pi_1"


def run(order: Json | None, event: Json) -> Plan:
    return plan(order, event, NOW)


def after(order: Json | None, decided: Plan) -> Json:
    if decided.creates:
        return decided.writes
    assert order is not None
    return {**order, **decided.writes} if decided.outcome is Outcome.APPLIED else order


def fold(order: Json | None, *events: Json) -> Json:
    for event in events:
        order = after(order, run(order, event))
    assert order is not None
    return order


def succeeded(created: int = T0, **pi: Any) -> Json:
    return se.event("payment_intent.succeeded", se.payment_intent(PI, **pi), created=created)


def declined(created: int = T0, **error: Any) -> Json:
    pi = se.failed_payment_intent(PI, **error)
    return se.event("payment_intent.payment_failed", pi, created=created)


def charge_refunded(amount_refunded: int, created: int) -> Json:
    charge = se.charge(PI, amount_refunded=amount_refunded, charge_id="ch_test")
    return se.event("charge.refunded", charge, created=created)


def refund_event(
    kind: str, refund_id: str, amount: int, status: str, created: int, refund_created: int
) -> Json:
    refund = se.refund(
        PI, amount=amount, status=status, refund_id=refund_id, created=refund_created
    )
    return se.event(kind, refund, created=created)


def dispute_event(kind: str, status: str, created: int, **fields: Any) -> Json:
    return se.event(
        f"charge.dispute.{kind}", se.dispute(PI, status=status, **fields), created=created
    )


def paid_order() -> Json:
    return fold(se.order(PI), succeeded(T0))


# --- 1. refunds, in any order and any number


def test_a_full_refund_before_the_success_is_recorded_not_dropped() -> None:
    decided = run(se.order(PI), charge_refunded(5000, T0 + 10))
    assert decided.outcome is Outcome.APPLIED
    assert decided.status is S.PENDING
    assert decided.writes["refundedAmount"] == 5000


def test_the_success_after_a_full_refund_is_refunded_never_paid_never_fulfilled() -> None:
    order = fold(se.order(PI), charge_refunded(5000, T0 + 10))
    decided = run(order, succeeded(T0))
    assert (decided.previous_status, decided.status) == (S.PENDING, S.REFUNDED)
    assert not decided.newly_paid
    assert "fulfilledAt" not in decided.writes


def test_the_success_after_a_partial_refund_is_paid_with_its_refunded_amount() -> None:
    order = fold(se.order(PI), charge_refunded(1200, T0 + 10))
    decided = run(order, succeeded(T0))
    assert decided.status is S.PAID and decided.newly_paid
    assert after(order, decided)["refundedAmount"] == 1200


def test_refund_objects_alone_give_the_refunded_amount() -> None:
    order = fold(
        paid_order(),
        refund_event("refund.created", "re_1", 1000, "succeeded", T0 + 10, T0 + 10),
        refund_event("refund.created", "re_2", 1500, "pending", T0 + 20, T0 + 20),
    )
    assert (order["status"], order["refundedAmount"]) == ("paid", 2500)
    order = fold(order, refund_event("refund.created", "re_3", 2500, "succeeded", T0 + 30, T0 + 30))
    assert (order["status"], order["refundedAmount"]) == ("refunded", 5000)


def test_the_same_refund_told_twice_counts_once() -> None:
    created = refund_event("refund.created", "re_1", 1000, "pending", T0 + 10, T0 + 10)
    updated = refund_event("refund.updated", "re_1", 1000, "succeeded", T0 + 11, T0 + 10)
    legacy = refund_event("charge.refund.updated", "re_1", 1000, "succeeded", T0 + 11, T0 + 10)
    order = fold(paid_order(), created, updated, legacy, charge_refunded(1000, T0 + 10))
    assert order["refundedAmount"] == 1000
    assert [r["id"] for r in order["refunds"]] == ["re_1"]
    assert run(order, created).outcome is Outcome.IGNORED  # nothing new


@pytest.mark.parametrize("kind", ["refund.failed", "refund.updated", "charge.refund.updated"])
@pytest.mark.parametrize("status", ["failed", "canceled"])
def test_a_failed_or_canceled_refund_gives_the_amount_back(kind: str, status: str) -> None:
    order = fold(
        paid_order(),
        refund_event("refund.created", "re_1", 5000, "succeeded", T0 + 10, T0 + 10),
        charge_refunded(5000, T0 + 10),
    )
    assert order["status"] == "refunded"
    decided = run(order, refund_event(kind, "re_1", 5000, status, T0 + 90, T0 + 10))
    assert (decided.previous_status, decided.status) == (S.REFUNDED, S.PAID)
    assert decided.writes["refundedAmount"] == 0
    assert not decided.newly_paid  # fulfilment was decided when the success arrived


def test_a_refund_failed_before_its_creation_is_known_still_counts_nothing() -> None:
    failed_first = fold(
        paid_order(),
        refund_event("refund.failed", "re_1", 2000, "failed", T0 + 90, T0 + 10),
        charge_refunded(2000, T0 + 10),
        refund_event("refund.created", "re_1", 2000, "succeeded", T0 + 10, T0 + 10),
    )
    assert failed_first["refundedAmount"] == 0
    assert failed_first["status"] == "paid"


def test_a_late_smaller_charge_figure_does_not_lower_the_total() -> None:
    order = fold(paid_order(), charge_refunded(3000, T0 + 20), charge_refunded(1000, T0 + 10))
    assert order["refundedAmount"] == 3000


def test_a_legacy_refunded_order_stays_refunded() -> None:
    # Written before refunds were recorded by id: status and total only.
    order = se.order(PI, status="refunded", refundedAmount=5000, lastEventCreated=T0)
    decided = run(order, refund_event("refund.updated", "re_9", 5000, "succeeded", T0 + 1, T0))
    assert decided.status is S.REFUNDED
    assert after(order, decided)["refundedAmount"] == 5000


# --- 2. disputes and fraud warnings


def test_a_dispute_is_recorded_and_the_order_is_disputed_with_an_alert() -> None:
    decided = run(paid_order(), dispute_event("created", "needs_response", T0 + 40))
    assert (decided.previous_status, decided.status) == (S.PAID, S.DISPUTED)
    assert decided.writes["dispute"] == {
        "id": "dp_test1",
        "reason": "fraudulent",
        "status": "needs_response",
        "amount": 5000,
        "evidenceDueBy": datetime.fromtimestamp(1_790_600_000, UTC),
    }
    assert decided.alert is not None
    assert "evidence due by 2026-09-28T12:53:20Z" in decided.alert


@pytest.mark.parametrize("closing", ["won", "warning_closed", "prevented"])
def test_a_dispute_closed_in_our_favour_returns_the_order_to_paid(closing: str) -> None:
    opening = "warning_needs_response" if closing == "warning_closed" else "needs_response"
    order = fold(paid_order(), dispute_event("created", opening, T0 + 40))
    assert order["status"] == "disputed"
    decided = run(order, dispute_event("closed", closing, T0 + 50))
    assert (decided.previous_status, decided.status) == (S.DISPUTED, S.PAID)
    assert not decided.newly_paid and decided.alert is None


def test_a_lost_dispute_is_final() -> None:
    order = fold(
        paid_order(),
        dispute_event("created", "needs_response", T0 + 40),
        dispute_event("funds_withdrawn", "needs_response", T0 + 40),
        dispute_event("closed", "lost", T0 + 50),
    )
    assert order["status"] == "dispute_lost"
    assert order["dispute"]["status"] == "lost"
    # Nothing later changes it: not an older update, not a refund, not a success.
    for late in (
        dispute_event("updated", "under_review", T0 + 45),
        charge_refunded(5000, T0 + 60),
        succeeded(T0 + 70),
    ):
        assert after(order, run(order, late))["status"] == "dispute_lost"


def test_funds_reinstated_after_a_win_changes_nothing_more() -> None:
    order = fold(
        paid_order(),
        dispute_event("created", "needs_response", T0 + 40),
        dispute_event("closed", "won", T0 + 50),
    )
    decided = run(order, dispute_event("funds_reinstated", "won", T0 + 50))
    assert decided.status is S.PAID


def test_an_older_dispute_update_does_not_reopen_a_closed_dispute() -> None:
    order = fold(paid_order(), dispute_event("closed", "won", T0 + 50))
    decided = run(order, dispute_event("created", "needs_response", T0 + 40))
    assert decided.outcome is Outcome.IGNORED and decided.status is S.PAID


def test_a_disputed_order_not_yet_fulfilled_is_never_fulfilled() -> None:
    order = fold(se.order(PI), dispute_event("created", "needs_response", T0 + 40))
    assert order["status"] == "pending"  # recorded, waiting for the success
    success = run(order, succeeded(T0))
    assert success.status is S.DISPUTED and not success.newly_paid
    won = run(after(order, success), dispute_event("closed", "won", T0 + 50))
    assert won.status is S.PAID and not won.newly_paid
    assert won.warning is not None and "never fulfilled" in won.warning


def test_an_early_fraud_warning_flags_the_order_with_an_alert() -> None:
    warning = se.event("radar.early_fraud_warning.created", se.early_fraud_warning(PI))
    decided = run(paid_order(), warning)
    assert decided.outcome is Outcome.APPLIED and decided.status is S.PAID
    assert decided.writes["fraudWarning"] == {
        "id": "issfr_test1",
        "fraudType": "made_with_stolen_card",
        "actionable": True,
        "charge": "ch_test",
    }
    assert decided.alert is not None and "issfr_test1" in decided.alert
    again = run(after(paid_order(), decided), warning)
    assert again.outcome is Outcome.IGNORED


@pytest.mark.parametrize(
    ("event_type", "obj"),
    [
        ("charge.dispute.created", se.dispute("pi_unknown")),
        ("charge.dispute.closed", se.dispute("pi_unknown", status="lost")),
        ("radar.early_fraud_warning.created", se.early_fraud_warning("pi_unknown")),
        ("refund.created", se.refund("pi_unknown", amount=100)),
        ("charge.refunded", se.charge("pi_unknown", amount_refunded=100)),
    ],
)
def test_an_unknown_payment_writes_nothing(event_type: str, obj: Json) -> None:
    decided = run(None, se.event(event_type, obj))
    assert decided.outcome is Outcome.FOREIGN
    assert not decided.recorded and not decided.creates and decided.writes == {}
    assert decided.alert is None


# --- disputes are kept per dispute id (issue 16, point 2)


def inquiry_then(order: Json, *events: Json) -> Json:
    """`order` after an inquiry (dp_inquiry) opened and closed, then `events`."""
    return fold(
        order,
        dispute_event("created", "warning_needs_response", T0 + 10, dispute_id="dp_inquiry"),
        dispute_event("closed", "warning_closed", T0 + 20, dispute_id="dp_inquiry"),
        *events,
    )


def test_a_chargeback_after_a_closed_inquiry_disputes_the_order_with_an_alert() -> None:
    order = inquiry_then(paid_order())
    assert order["status"] == "paid"
    created = dispute_event("created", "needs_response", T0 + 30, dispute_id="dp_chargeback")
    decided = run(order, created)
    assert (decided.outcome, decided.status) == (Outcome.APPLIED, S.DISPUTED)
    assert decided.alert is not None and "dp_chargeback opened" in decided.alert
    order = after(order, decided)
    withdrawn = dispute_event(
        "funds_withdrawn", "needs_response", T0 + 30, dispute_id="dp_chargeback"
    )
    order = fold(order, withdrawn)
    assert order["status"] == "disputed"
    assert order["dispute"]["id"] == "dp_chargeback"  # the open one is the one that matters
    assert {i: d["status"] for i, d in order["disputes"].items()} == {
        "dp_inquiry": "warning_closed",
        "dp_chargeback": "needs_response",
    }


@pytest.mark.parametrize("order_of_events", list(itertools.permutations(range(3))))
def test_an_open_dispute_disputes_the_order_whichever_came_first(
    order_of_events: tuple[int, ...],
) -> None:
    events = [
        dispute_event("created", "needs_response", T0 + 30, dispute_id="dp_open"),
        dispute_event("created", "needs_response", T0 + 10, dispute_id="dp_won"),
        dispute_event("closed", "won", T0 + 40, dispute_id="dp_won"),
    ]
    order = fold(paid_order(), *[events[i] for i in order_of_events])
    assert order["status"] == "disputed"
    assert order["dispute"]["id"] == "dp_open"
    assert order["disputes"]["dp_won"]["status"] == "won"


def test_an_inquiry_escalated_under_the_same_id_disputes_the_order_again() -> None:
    order = inquiry_then(paid_order())
    escalated = dispute_event("updated", "needs_response", T0 + 30, dispute_id="dp_inquiry")
    decided = run(order, escalated)
    assert (decided.outcome, decided.status) == (Outcome.APPLIED, S.DISPUTED)
    assert decided.alert is not None and "dp_inquiry opened" in decided.alert
    # The inquiry's closing, delivered late, is older: it does not close the chargeback.
    late = run(
        after(order, decided),
        dispute_event("closed", "warning_closed", T0 + 20, dispute_id="dp_inquiry"),
    )
    assert late.outcome is Outcome.IGNORED and late.status is S.DISPUTED


def test_within_one_second_the_escalation_outranks_the_inquirys_closing() -> None:
    closed = dispute_event("closed", "warning_closed", T0 + 20, dispute_id="dp_1")
    escalated = dispute_event("updated", "needs_response", T0 + 20, dispute_id="dp_1")
    for events in ((closed, escalated), (escalated, closed)):
        order = fold(paid_order(), *events)
        assert (order["status"], order["dispute"]["status"]) == ("disputed", "needs_response")


def test_a_second_dispute_after_a_lost_one_still_alerts() -> None:
    order = fold(
        paid_order(),
        dispute_event("created", "needs_response", T0 + 10, dispute_id="dp_lost"),
        dispute_event("closed", "lost", T0 + 20, dispute_id="dp_lost"),
    )
    decided = run(order, dispute_event("created", "needs_response", T0 + 30, dispute_id="dp_2"))
    assert decided.outcome is Outcome.APPLIED and decided.status is S.DISPUTE_LOST
    assert decided.alert is not None and "dp_2 opened" in decided.alert


def test_the_dispute_field_is_the_open_one_else_the_newest() -> None:
    order = fold(
        paid_order(),
        dispute_event("created", "warning_needs_response", T0 + 10, dispute_id="dp_a"),
        dispute_event("closed", "warning_closed", T0 + 20, dispute_id="dp_a"),
        dispute_event("created", "warning_needs_response", T0 + 30, dispute_id="dp_b"),
        dispute_event("closed", "warning_closed", T0 + 40, dispute_id="dp_b"),
    )
    assert (order["status"], order["dispute"]["id"]) == ("paid", "dp_b")
    order = fold(order, dispute_event("created", "needs_response", T0 + 5, dispute_id="dp_c"))
    assert (order["status"], order["dispute"]["id"]) == ("disputed", "dp_c")


def legacy_disputed_order(status: str) -> Json:
    """An order written when it kept one dispute: `dispute` and `disputeEventCreated`."""
    record = {
        "id": "dp_old",
        "reason": "fraudulent",
        "status": status,
        "amount": 5000,
        "evidenceDueBy": datetime.fromtimestamp(1_790_600_000, UTC),
    }
    order_status = "disputed" if status == "needs_response" else "paid"
    return se.order(
        PI,
        status=order_status,
        payment={"state": "succeeded"},
        amountReceived=5000,
        dispute=record,
        disputeEventCreated=T0 + 10,
        lastEventCreated=T0 + 10,
    )


def test_an_order_written_with_one_dispute_is_read_as_that_dispute() -> None:
    order = legacy_disputed_order("needs_response")
    stale = run(order, dispute_event("created", "needs_response", T0 + 5, dispute_id="dp_old"))
    assert stale.outcome is Outcome.IGNORED
    won = run(order, dispute_event("closed", "won", T0 + 20, dispute_id="dp_old"))
    assert (won.previous_status, won.status) == (S.DISPUTED, S.PAID)
    assert won.writes["disputes"]["dp_old"]["status"] == "won"


def test_a_new_dispute_on_an_order_written_with_a_closed_one_disputes_it() -> None:
    order = legacy_disputed_order("warning_closed")
    decided = run(order, dispute_event("created", "needs_response", T0 + 30, dispute_id="dp_new"))
    assert (decided.previous_status, decided.status) == (S.PAID, S.DISPUTED)
    assert set(decided.writes["disputes"]) == {"dp_old", "dp_new"}
    assert decided.writes["dispute"]["id"] == "dp_new"


# --- 3. only this shop's payments


def test_the_mark() -> None:
    assert marked({"items": "x"}) == {"items": "x", MARK_KEY: MARK_VALUE}
    assert is_marked({"metadata": marked({})})
    assert not is_marked({"metadata": {}})
    assert not is_marked({"metadata": None})
    assert not is_marked({"metadata": {MARK_KEY: "someone-else"}})


@pytest.mark.parametrize(
    "event_type",
    ["payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.processing"],
)
@pytest.mark.parametrize(
    "metadata", [{}, {"checkoutId": "c-1", "items": "tee-classic:2"}], ids=["empty", "unmarked"]
)
def test_an_unmarked_payment_intent_never_becomes_an_order(
    event_type: str, metadata: dict[str, str]
) -> None:
    pi = se.payment_intent("pi_other", metadata=metadata)
    decided = run(None, se.event(event_type, pi))
    assert decided.outcome is Outcome.FOREIGN
    assert not decided.creates and decided.writes == {} and not decided.recorded


def test_a_marked_payment_intent_whose_order_is_missing_is_rebuilt() -> None:
    decided = run(None, succeeded(metadata=se.shop_metadata()))
    assert decided.creates and decided.status is S.PAID and decided.newly_paid


def test_an_unmarked_payment_intent_whose_order_exists_is_still_ours() -> None:
    # PaymentIntents created before the mark existed: the page wrote their orders.
    decided = run(se.order(PI), succeeded(metadata={"checkoutId": "c-1", "items": "tee-classic:2"}))
    assert decided.status is S.PAID


def test_a_spare_intent_canceled_after_a_lost_race_never_becomes_an_order() -> None:
    pi = se.payment_intent("pi_spare", status="canceled", cancellation_reason="duplicate")
    assert is_marked(pi)  # our own, but its checkout took another PaymentIntent
    decided = run(None, se.event("payment_intent.canceled", pi))
    assert decided.outcome is Outcome.FOREIGN and not decided.creates


# --- 4. every decline


def test_every_decline_is_recorded_even_on_a_failed_order() -> None:
    order = fold(
        se.order(PI),
        declined(
            T0, decline_code="insufficient_funds", message="Your card has insufficient funds."
        ),
    )
    decided = run(
        order, declined(T0 + 5, decline_code="stolen_card", message="Your card was declined.")
    )
    assert decided.outcome is Outcome.APPLIED and decided.status is S.FAILED
    order = after(order, decided)
    assert order["declineCount"] == 2
    assert order["lastPaymentError"] == {
        "code": "card_declined",
        "declineCode": "stolen_card",
        "message": "Your card was declined.",
    }
    assert [d["declineCode"] for d in order["recentDeclines"]] == [
        "insufficient_funds",
        "stolen_card",
    ]


def test_a_late_older_decline_is_counted_but_does_not_become_the_last_error() -> None:
    order = fold(se.order(PI), declined(T0 + 5, decline_code="stolen_card"))
    order = fold(order, declined(T0, decline_code="insufficient_funds"))
    assert order["declineCount"] == 2
    assert order["lastPaymentError"]["declineCode"] == "stolen_card"


def test_the_recent_declines_are_bounded_and_the_count_is_not() -> None:
    events = [declined(T0 + i, decline_code=f"code_{i}") for i in range(RECENT_DECLINES + 5)]
    order = fold(se.order(PI), *events)
    assert order["declineCount"] == RECENT_DECLINES + 5
    assert len(order["recentDeclines"]) == RECENT_DECLINES
    assert order["recentDeclines"][-1]["declineCode"] == f"code_{RECENT_DECLINES + 4}"
    assert order["recentDeclines"][0]["declineCode"] == "code_5"


def test_the_same_decline_event_twice_counts_once() -> None:
    event = declined(T0)
    order = fold(se.order(PI), event)
    decided = run(order, event)
    assert decided.outcome is Outcome.IGNORED
    assert order["declineCount"] == 1


def test_a_legacy_failed_order_counts_its_recorded_decline() -> None:
    order = se.order(
        PI,
        status="failed",
        lastPaymentError={"code": "card_declined", "declineCode": None, "message": "x"},
        declineCount=None,
        lastEventCreated=T0,
    )
    del order["declineCount"]
    assert after(order, run(order, declined(T0 + 5)))["declineCount"] == 2
