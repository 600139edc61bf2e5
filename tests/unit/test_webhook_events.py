"""The pure plan: what each event does to an order in each state, and what it must never do."""

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from checkout.orders.order import REBUILT as SOURCE_WEBHOOK
from checkout.orders.ownership import marked
from checkout.orders.status import (
    ALLOWED_TRANSITIONS,
    UNPAID_ORDER_STATUSES,
    OrderStatus,
    can_transition,
)
from checkout.stripe_events.facts import order_status
from checkout.stripe_events.handlers import EVENT_RULES, is_handled, order_id_for
from checkout.stripe_events.plan import Outcome, Plan, plan
from checkout.stripe_events.rebuild import order_from_payment_intent
from tests import stripe_events as se

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
T0 = 1_790_000_000
S = OrderStatus
Json = dict[str, Any]


def run(order: Json | None, event: Json) -> Plan:
    return plan(order, event, NOW)


def after(order: Json, decided: Plan) -> Json:
    """The order as the store would leave it."""
    return {**order, **decided.writes} if decided.outcome is Outcome.APPLIED else order


def succeeded(pi_id: str, *, created: int = T0, **pi: Any) -> Json:
    return se.event("payment_intent.succeeded", se.payment_intent(pi_id, **pi), created=created)


def failed(pi_id: str, *, created: int = T0) -> Json:
    return se.event(
        "payment_intent.payment_failed", se.failed_payment_intent(pi_id), created=created
    )


def processing(pi_id: str, *, created: int = T0) -> Json:
    return se.event(
        "payment_intent.processing", se.payment_intent(pi_id, status="processing"), created=created
    )


def canceled(pi_id: str, *, created: int = T0) -> Json:
    pi = se.payment_intent(pi_id, status="canceled", cancellation_reason="abandoned")
    return se.event("payment_intent.canceled", pi, created=created)


def refunded(pi_id: str, amount_refunded: int, *, created: int = T0) -> Json:
    return se.event(
        "charge.refunded", se.charge(pi_id, amount_refunded=amount_refunded), created=created
    )


# --- the table


HANDLED = {
    "payment_intent.succeeded",
    "payment_intent.processing",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "charge.refunded",
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.refund.updated",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
    "radar.early_fraud_warning.created",
}


def test_the_table_handles_exactly_these_event_types() -> None:
    assert set(EVENT_RULES) == HANDLED


@pytest.mark.parametrize(
    "event_type", ["customer.created", "payment_intent.created", "charge.succeeded", "x"]
)
def test_other_event_types_are_not_handled(event_type: str) -> None:
    event = se.event(event_type, {"id": "pi_123", "object": "payment_intent"})
    assert not is_handled(event)
    assert order_id_for(event) is None
    assert run(None, event).outcome is Outcome.IGNORED


def test_a_payment_intent_event_names_its_order() -> None:
    assert order_id_for(succeeded("pi_abc")) == "pi_abc"


def test_a_charge_event_names_its_payment_intent_as_the_order() -> None:
    assert order_id_for(refunded("pi_abc", 5000)) == "pi_abc"


@pytest.mark.parametrize("bad", [None, "", "pi_../x", "orders/pi_1", 42])
def test_an_unusable_order_id_is_none(bad: object) -> None:
    event = succeeded("pi_ok")
    event["data"]["object"]["id"] = bad
    assert order_id_for(event) is None


# --- payment_intent.succeeded


def test_success_makes_a_pending_order_paid() -> None:
    order = se.order("pi_1")
    decided = run(order, succeeded("pi_1"))
    assert decided.outcome is Outcome.APPLIED
    assert (decided.previous_status, decided.status) == (S.PENDING, S.PAID)
    assert decided.newly_paid
    assert not decided.creates
    assert decided.alert is None
    assert decided.writes["status"] == "paid"
    assert decided.writes["amountReceived"] == 5000
    assert decided.writes["fulfilledAt"] is None  # paid, not yet fulfilled


def test_an_applied_event_is_recorded_in_the_history() -> None:
    event = succeeded("pi_1", created=T0)
    decided = run(se.order("pi_1"), event)
    assert decided.writes["history"] == [
        {
            "eventId": event["id"],
            "type": "payment_intent.succeeded",
            "status": "paid",
            "eventCreated": datetime.fromtimestamp(T0, UTC),
            "recordedAt": NOW,
            "source": "webhook",
        }
    ]
    assert decided.writes["lastEventCreated"] == T0


def test_history_is_appended_to() -> None:
    order = se.order("pi_1")
    order = after(order, run(order, processing("pi_1", created=T0)))
    order = after(order, run(order, succeeded("pi_1", created=T0 + 5)))
    assert [h["type"] for h in order["history"]] == [
        "payment_intent.processing",
        "payment_intent.succeeded",
    ]


@pytest.mark.parametrize(
    ("pi_fields", "problem"),
    [
        ({"amount": 4999}, "paid 4999 usd but the order is for 5000 usd"),
        ({"currency": "eur"}, "paid 5000 eur but the order is for 5000 usd"),
        ({"amount_received": 100}, "paid 100 usd"),
    ],
)
def test_a_success_that_does_not_match_the_order_needs_review(
    pi_fields: Json, problem: str
) -> None:
    decided = run(se.order("pi_1"), succeeded("pi_1", **pi_fields))
    assert decided.outcome is Outcome.APPLIED
    assert decided.status is S.NEEDS_REVIEW
    assert not decided.newly_paid  # nothing ships until a person looks
    assert decided.alert is not None and problem in decided.alert
    assert problem in decided.writes["reviewReason"]


def test_currency_case_does_not_matter() -> None:
    assert run(se.order("pi_1"), succeeded("pi_1", currency="USD")).status is S.PAID


def test_without_amount_received_the_amount_is_compared() -> None:
    # Older API versions (and localstripe) send no amount_received.
    event = succeeded("pi_1")
    del event["data"]["object"]["amount_received"]
    assert run(se.order("pi_1"), event).status is S.PAID


def test_a_success_with_no_amount_at_all_needs_review() -> None:
    event = succeeded("pi_1")
    del event["data"]["object"]["amount_received"]
    del event["data"]["object"]["amount"]
    assert run(se.order("pi_1"), event).status is S.NEEDS_REVIEW


# --- payment_intent.succeeded when the order lags behind its PaymentIntent's cart

TEE_2 = "tee-classic:2"  # what se.order holds: 2 x 2500
TEE_2_MUG_1 = "tee-classic:2,mug-enamel:1"  # 6400


def newer_cart(pi_id: str, items: str, amount: int, **pi: Any) -> Json:
    """A success whose PaymentIntent carries a cart the order document never saw."""
    return succeeded(pi_id, amount=amount, metadata={"checkoutId": "c-1", "items": items}, **pi)


def test_a_success_for_a_newer_cart_is_paid_with_the_cart_corrected() -> None:
    order = se.order("pi_1")
    decided = run(order, newer_cart("pi_1", TEE_2_MUG_1, 6400))
    assert (decided.outcome, decided.status) == (Outcome.APPLIED, S.PAID)
    assert decided.newly_paid
    assert decided.alert is None  # nothing for a person to do
    assert decided.warning is not None and "cart corrected" in decided.warning
    assert "cart corrected" in decided.reason  # kept in the ledger too
    assert decided.writes["amount"] == decided.writes["amountReceived"] == 6400
    assert decided.writes["items"] == [
        {"productId": "tee-classic", "name": "Classic tee", "unitAmount": 2500, "quantity": 2},
        {"productId": "mug-enamel", "name": "Enamel mug", "unitAmount": 1400, "quantity": 1},
    ]
    assert decided.writes["cartCorrectedFrom"] == {"amount": 5000, "items": order["items"]}
    assert decided.writes["fulfilledAt"] is None
    assert "reviewReason" not in decided.writes


def test_a_success_for_a_smaller_newer_cart_is_paid_too() -> None:
    decided = run(se.order("pi_1"), newer_cart("pi_1", "sticker-pack:1", 500))
    assert decided.status is S.PAID
    assert decided.writes["amount"] == 500


def test_a_newer_cart_of_the_same_total_still_corrects_the_items() -> None:
    # Same amount, other goods (2 tees -> 10 sticker packs): shipping the order's items is wrong.
    decided = run(se.order("pi_1"), newer_cart("pi_1", "sticker-pack:10", 5000))
    assert decided.status is S.PAID and decided.alert is None
    assert [i["productId"] for i in decided.writes["items"]] == ["sticker-pack"]
    assert decided.writes["cartCorrectedFrom"]["items"][0]["productId"] == "tee-classic"
    assert decided.warning is not None


def test_a_matching_success_corrects_nothing() -> None:
    decided = run(se.order("pi_1"), newer_cart("pi_1", TEE_2, 5000))
    assert decided.status is S.PAID
    assert decided.warning is None
    assert not {"items", "amount", "cartCorrectedFrom"} & set(decided.writes)
    assert decided.reason == "pending -> paid"


def test_a_matching_success_with_no_items_metadata_is_paid_as_before() -> None:
    # Nothing to correct from: the order's own amount and currency were paid.
    decided = run(se.order("pi_1"), succeeded("pi_1", metadata={}))
    assert decided.status is S.PAID and decided.warning is None
    assert "items" not in decided.writes


@pytest.mark.parametrize(
    ("pi_fields", "problem"),
    [
        # The metadata cart costs 6400 but only 6000 was taken.
        ({"items": TEE_2_MUG_1, "amount": 6000}, "paid 6000 usd but the order is for 5000 usd"),
        # A cart in another currency than the order's cannot be the order's cart.
        (
            {"items": TEE_2_MUG_1, "amount": 6400, "currency": "eur"},
            "paid 6400 eur but the order is for 5000 usd",
        ),
        ({"items": TEE_2, "amount": 5000, "currency": "eur"}, "paid 5000 eur"),
        ({"items": "", "amount": 6400}, "paid 6400 usd"),
        ({"items": "no-such-product:3", "amount": 6400}, "paid 6400 usd"),
        ({"items": "tee-classic:0", "amount": 6400}, "paid 6400 usd"),
        # str.isdigit accepts "²" but int() does not: it must not raise inside the transaction.
        ({"items": "tee-classic:\u00b2", "amount": 6400}, "paid 6400 usd"),
    ],
    ids=[
        "short",
        "other-currency",
        "same-amount-other-currency",
        "empty",
        "unknown",
        "zero",
        "sup2",
    ],
)
def test_any_other_mismatch_still_needs_review(pi_fields: Json, problem: str) -> None:
    items = pi_fields.pop("items")
    decided = run(se.order("pi_1"), newer_cart("pi_1", items, **pi_fields))
    assert decided.status is S.NEEDS_REVIEW
    assert decided.alert is not None and problem in decided.alert
    assert decided.warning is None
    assert not {"items", "amount", "cartCorrectedFrom"} & set(decided.writes)


def test_a_rebuilt_order_is_never_corrected() -> None:
    # Its items already come from this PaymentIntent's metadata: there is no newer cart.
    pi = se.payment_intent("pi_out", amount=6400, metadata=marked({"items": TEE_2_MUG_1}))
    pi["amount_received"] = 5000
    decided = run(None, se.event("payment_intent.succeeded", pi))
    assert decided.creates and decided.status is S.NEEDS_REVIEW
    assert "cartCorrectedFrom" not in decided.writes


def test_a_rebuilt_order_with_unparseable_items_needs_review_rather_than_raising() -> None:
    pi = se.payment_intent("pi_out", amount=5000, metadata=marked({"items": "tee-classic:\u00b2"}))
    decided = run(None, se.event("payment_intent.succeeded", pi))
    assert decided.creates and decided.status is S.NEEDS_REVIEW
    assert decided.writes["items"] == []


def test_a_corrected_order_then_refunded_in_full() -> None:
    order = se.order("pi_1")
    order = after(order, run(order, newer_cart("pi_1", TEE_2_MUG_1, 6400)))
    decided = run(
        order, se.event("charge.refunded", se.charge("pi_1", amount=6400, amount_refunded=6400))
    )
    assert decided.status is S.REFUNDED


# --- failures, processing, cancellation


def test_a_failure_records_the_last_payment_error() -> None:
    decided = run(se.order("pi_1"), failed("pi_1"))
    assert decided.status is S.FAILED
    assert decided.writes["lastPaymentError"] == {
        "code": "card_declined",
        "declineCode": "generic_decline",
        "message": "Your card was declined.",
    }
    assert not decided.newly_paid


def test_a_failure_without_error_details_still_fails_the_order() -> None:
    event = failed("pi_1")
    event["data"]["object"]["last_payment_error"] = None
    decided = run(se.order("pi_1"), event)
    assert decided.status is S.FAILED
    assert decided.writes["lastPaymentError"] == {
        "code": None,
        "declineCode": None,
        "message": None,
    }


def test_a_later_success_still_wins_over_a_failure() -> None:
    order = se.order("pi_1")
    order = after(order, run(order, failed("pi_1", created=T0)))
    decided = run(order, succeeded("pi_1", created=T0 + 60))
    assert (decided.previous_status, decided.status) == (S.FAILED, S.PAID)
    assert decided.newly_paid


def test_processing_then_success() -> None:
    order = se.order("pi_1")
    order = after(order, run(order, processing("pi_1")))
    assert order["status"] == "processing"
    assert run(order, succeeded("pi_1", created=T0 + 1)).status is S.PAID


def test_cancellation_records_the_reason() -> None:
    decided = run(se.order("pi_1"), canceled("pi_1"))
    assert decided.status is S.CANCELED
    assert decided.writes["cancellationReason"] == "abandoned"


# --- out of order: nothing undoes paid


@pytest.mark.parametrize("late", [processing, canceled])
def test_a_late_event_never_undoes_paid(late: Any) -> None:
    order = after(se.order("pi_1"), run(se.order("pi_1"), succeeded("pi_1", created=T0 + 10)))
    decided = run(order, late("pi_1", created=T0))
    assert decided.outcome is Outcome.IGNORED
    assert decided.status is S.PAID
    assert decided.writes == {}
    assert decided.reason.startswith("stale")


def test_a_late_decline_is_recorded_but_never_undoes_paid() -> None:
    order = after(se.order("pi_1"), run(se.order("pi_1"), succeeded("pi_1", created=T0 + 10)))
    decided = run(order, failed("pi_1", created=T0))
    assert (decided.outcome, decided.status) == (Outcome.APPLIED, S.PAID)
    assert not decided.newly_paid
    assert decided.writes["declineCount"] == 1
    assert "payment" not in decided.writes  # the success stays the payment's last word


def test_a_second_success_for_a_paid_order_is_ignored_and_not_fulfilled_again() -> None:
    order = after(se.order("pi_1"), run(se.order("pi_1"), succeeded("pi_1")))
    decided = run(order, succeeded("pi_1", created=T0 + 1))  # another event id, same fact
    assert decided.outcome is Outcome.IGNORED
    assert not decided.newly_paid
    assert "already paid" in decided.reason


def test_a_stale_processing_does_not_undo_a_newer_failure() -> None:
    # failed -> processing is allowed (a retry), but not by an event older than the failure.
    order = after(se.order("pi_1"), run(se.order("pi_1"), failed("pi_1", created=T0 + 10)))
    decided = run(order, processing("pi_1", created=T0))
    assert decided.outcome is Outcome.IGNORED
    assert decided.reason.startswith("stale")


def test_a_stale_failure_does_not_undo_a_newer_processing() -> None:
    order = after(se.order("pi_1"), run(se.order("pi_1"), processing("pi_1", created=T0 + 10)))
    decided = run(order, failed("pi_1", created=T0))
    assert decided.status is S.PROCESSING  # the decline is recorded, the status stays
    assert decided.writes["declineCount"] == 1


def test_a_retry_after_a_failure_is_applied() -> None:
    order = after(se.order("pi_1"), run(se.order("pi_1"), failed("pi_1", created=T0)))
    assert run(order, processing("pi_1", created=T0 + 30)).status is S.PROCESSING


def test_a_success_is_never_stale() -> None:
    # Money taken is a fact whatever the clocks say.
    order = after(se.order("pi_1"), run(se.order("pi_1"), failed("pi_1", created=T0 + 10)))
    assert run(order, succeeded("pi_1", created=T0)).status is S.PAID


def test_needs_review_does_not_become_paid() -> None:
    order = se.order("pi_1", status="needs_review")
    assert run(order, succeeded("pi_1")).outcome is Outcome.IGNORED


# --- refunds


def test_a_full_refund_refunds_a_paid_order() -> None:
    decided = run(se.order("pi_1", status="paid"), refunded("pi_1", 5000))
    assert (decided.previous_status, decided.status) == (S.PAID, S.REFUNDED)
    assert decided.writes["refundedAmount"] == 5000


def test_a_partial_refund_records_the_amount_and_keeps_paid() -> None:
    decided = run(se.order("pi_1", status="paid"), refunded("pi_1", 1200))
    assert decided.outcome is Outcome.APPLIED
    assert decided.status is S.PAID
    assert not decided.newly_paid
    assert decided.writes["refundedAmount"] == 1200
    assert decided.writes["history"][-1]["type"] == "charge.refunded"


def test_partial_refunds_accumulate_and_a_late_smaller_one_is_ignored() -> None:
    order = se.order("pi_1", status="paid")
    order = after(order, run(order, refunded("pi_1", 3000, created=T0 + 2)))
    late = run(order, refunded("pi_1", 1000, created=T0 + 1))
    assert late.outcome is Outcome.IGNORED
    assert late.reason == "refund already recorded"
    order = after(order, run(order, refunded("pi_1", 5000, created=T0 + 3)))
    assert (order["status"], order["refundedAmount"]) == ("refunded", 5000)


def test_a_needs_review_order_can_be_refunded() -> None:
    assert run(se.order("pi_1", status="needs_review"), refunded("pi_1", 5000)).status is (
        S.REFUNDED
    )


@pytest.mark.parametrize("status", ["pending", "processing", "failed"])
def test_a_refund_before_the_success_is_recorded_and_keeps_the_status(status: str) -> None:
    for amount in (5000, 100):
        decided = run(se.order("pi_1", status=status), refunded("pi_1", amount))
        assert decided.outcome is Outcome.APPLIED
        assert decided.status is S(status)
        assert decided.writes["refundedAmount"] == amount
        assert not decided.newly_paid


def test_a_refund_leaves_refunded_alone() -> None:
    order = se.order("pi_1", status="refunded", refundedAmount=5000, lastEventCreated=T0)
    assert run(order, refunded("pi_1", 5000)).outcome is Outcome.IGNORED


# --- orders the page never wrote


def test_a_missing_order_is_rebuilt_from_the_payment_intent() -> None:
    pi = se.payment_intent(
        "pi_out",
        amount=2 * 2500 + 1400,
        metadata=marked(
            {"checkoutId": "c-1", "items": "tee-classic:2,mug-enamel:1", "shipping": "0:US"}
        ),
        receipt_email="a@example.com",
    )
    decided = run(None, se.event("payment_intent.succeeded", pi, created=T0))
    assert decided.creates
    assert decided.previous_status is None
    assert decided.status is S.PAID
    assert decided.newly_paid
    order = decided.writes
    assert order["paymentIntentId"] == "pi_out"
    assert order["checkoutId"] == "c-1"
    assert order["amount"] == 6400 and order["currency"] == "usd"
    assert order["email"] == "a@example.com"
    assert order["source"] == SOURCE_WEBHOOK
    assert order["items"] == [
        {"productId": "tee-classic", "name": "Classic tee", "unitAmount": 2500, "quantity": 2},
        {"productId": "mug-enamel", "name": "Enamel mug", "unitAmount": 1400, "quantity": 1},
    ]
    assert [h["status"] for h in order["history"]] == ["paid"]


@pytest.mark.parametrize(
    "metadata", [{"items": "tee-classic:1"}, {}, {"items": "no-such-product:2"}]
)
def test_a_rebuilt_order_whose_items_do_not_cost_the_amount_needs_review(
    metadata: dict[str, str],
) -> None:
    pi = se.payment_intent("pi_out", amount=5000, metadata=marked(metadata))
    decided = run(None, se.event("payment_intent.succeeded", pi))
    assert decided.creates
    assert decided.status is S.NEEDS_REVIEW
    assert decided.alert is not None


def test_a_missing_order_is_rebuilt_by_a_failure_too() -> None:
    decided = run(None, failed("pi_out"))
    assert decided.creates and decided.status is S.FAILED


def test_a_refund_cannot_rebuild_a_missing_order() -> None:
    decided = run(None, refunded("pi_out", 5000))
    assert decided.outcome is Outcome.FOREIGN  # nothing is written, not even the ledger
    assert not decided.creates and not decided.recorded


def test_a_payment_intent_without_amount_cannot_be_rebuilt() -> None:
    pi = se.payment_intent("pi_out")
    del pi["amount"]
    assert order_from_payment_intent(pi) is None


def test_an_order_with_an_unknown_status_is_left_alone_and_flagged() -> None:
    decided = run(se.order("pi_1", status="shipped"), succeeded("pi_1"))
    assert decided.outcome is Outcome.IGNORED
    assert decided.alert is not None


# --- properties over every state and event


def order_in(status: OrderStatus) -> Json:
    """A consistent order in `status`: the facts it records add up to it."""
    paid: Json = {"payment": {"state": "succeeded"}, "amountReceived": 5000}
    dispute = {"id": "dp_1", "reason": "fraudulent", "amount": 5000, "evidenceDueBy": None}
    facts: dict[OrderStatus, Json] = {
        S.PENDING: {},
        S.PROCESSING: {"payment": {"state": "processing", "eventCreated": T0 - 1}},
        S.FAILED: {"payment": {"state": "failed", "eventCreated": T0 - 1}},
        S.CANCELED: {"payment": {"state": "canceled"}},
        S.PAID: paid,
        S.NEEDS_REVIEW: {**paid, "reviewReason": "paid 1 usd but the order is for 5000 usd"},
        S.REFUNDED: {
            **paid,
            "refundedAmount": 5000,
            "chargeRefunded": {"amountRefunded": 5000, "eventCreated": T0 - 1},
        },
        S.DISPUTED: {**paid, "dispute": {**dispute, "status": "needs_response"}},
        S.DISPUTE_LOST: {**paid, "dispute": {**dispute, "status": "lost"}},
    }
    order = se.order("pi_1", status=status.value, lastEventCreated=T0 - 1, **facts[status])
    assert order_status(order) is status
    return order


ALL_EVENTS = [
    lambda: succeeded("pi_1", created=T0),
    lambda: succeeded("pi_1", created=T0, amount=1),
    lambda: newer_cart("pi_1", TEE_2_MUG_1, 6400, created=T0),
    lambda: failed("pi_1", created=T0),
    lambda: processing("pi_1", created=T0),
    lambda: canceled("pi_1", created=T0),
    lambda: refunded("pi_1", 5000, created=T0),
    lambda: refunded("pi_1", 100, created=T0),
    lambda: se.event("refund.failed", se.refund("pi_1", amount=5000, status="failed"), created=T0),
    lambda: se.event("charge.dispute.created", se.dispute("pi_1"), created=T0),
    lambda: se.event("charge.dispute.closed", se.dispute("pi_1", status="won"), created=T0),
    lambda: se.event("charge.dispute.closed", se.dispute("pi_1", status="lost"), created=T0),
    lambda: se.event("radar.early_fraud_warning.created", se.early_fraud_warning("pi_1")),
]


@pytest.mark.parametrize("status", list(OrderStatus))
@pytest.mark.parametrize("make_event", ALL_EVENTS)
def test_every_applied_change_is_an_allowed_transition(
    status: OrderStatus, make_event: Any
) -> None:
    order = order_in(status)
    before = copy.deepcopy(order)
    decided = run(order, make_event())
    assert order == before  # the plan never mutates its input
    if decided.outcome is Outcome.IGNORED:
        assert decided.writes == {} and not decided.newly_paid
        assert decided.status is status
    elif decided.status is not status:
        assert decided.status is not None and can_transition(status, decided.status)
        assert decided.status is order_status(after(order, decided))
    assert decided.newly_paid == (decided.status is S.PAID and status in UNPAID_ORDER_STATUSES)


def test_the_state_machine_keeps_its_promises() -> None:
    # Nothing leaves paid but a refund or a dispute; canceled and dispute_lost are final.
    assert ALLOWED_TRANSITIONS[S.PAID] == {S.REFUNDED, S.DISPUTED, S.DISPUTE_LOST}
    assert not ALLOWED_TRANSITIONS[S.DISPUTE_LOST] and not ALLOWED_TRANSITIONS[S.CANCELED]
    assert can_transition(S.FAILED, S.PAID)
    assert not any(can_transition(S.PAID, s) for s in UNPAID_ORDER_STATUSES)
    # A refunded or disputed payment never becomes unpaid again either.
    for status in (S.REFUNDED, S.DISPUTED, S.NEEDS_REVIEW):
        assert not ALLOWED_TRANSITIONS[status] & UNPAID_ORDER_STATUSES
    # None reaches pending again.
    assert not any(S.PENDING in targets for targets in ALLOWED_TRANSITIONS.values())


# --- what was priced: the PaymentIntent's metadata carries unit amounts


def reprice(monkeypatch: pytest.MonkeyPatch, product_id: str, unit_amount: int) -> None:
    """Today's catalog: catalog.json with one new price (the live catalog, read again)."""
    from checkout.products import live_catalog
    from checkout.products.live_catalog import catalog_from_documents
    from tests.sample_catalog import sample_documents

    documents = sample_documents()
    documents[product_id]["unitAmount"] = unit_amount
    live_catalog.shop_catalog.clear()
    monkeypatch.setattr(
        live_catalog.shop_catalog, "_load", lambda: catalog_from_documents(documents, "usd")
    )


def test_a_rebuilt_order_keeps_the_unit_amounts_its_payment_intent_was_priced_at(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reprice(monkeypatch, "tee-classic", 3000)  # the price changed after the payment
    pi = se.payment_intent(
        "pi_out",
        amount=6400,
        metadata=marked({"items": "tee-classic:2:2500,mug-enamel:1:1400", "shipping": "0:US"}),
    )
    decided = run(None, se.event("payment_intent.succeeded", pi))
    assert decided.status is S.PAID and decided.alert is None
    assert decided.writes["items"] == [
        {"productId": "tee-classic", "name": "Classic tee", "unitAmount": 2500, "quantity": 2},
        {"productId": "mug-enamel", "name": "Enamel mug", "unitAmount": 1400, "quantity": 1},
    ]
    assert "itemsRepriced" not in decided.writes


def test_a_rebuilt_order_of_a_product_gone_from_the_catalog_keeps_its_line() -> None:
    pi = se.payment_intent(
        "pi_out", amount=900, metadata=marked({"items": "cap-wool:1:900", "shipping": "0:US"})
    )
    decided = run(None, se.event("payment_intent.succeeded", pi))
    assert decided.status is S.PAID
    assert decided.writes["items"] == [
        {"productId": "cap-wool", "name": "cap-wool", "unitAmount": 900, "quantity": 1}
    ]


def test_an_old_format_payment_intent_is_priced_from_todays_catalog_and_marked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reprice(monkeypatch, "tee-classic", 3000)
    pi = se.payment_intent("pi_out", amount=6000, metadata=marked({"items": "tee-classic:2"}))
    decided = run(None, se.event("payment_intent.succeeded", pi))
    assert decided.status is S.PAID
    assert decided.writes["items"][0]["unitAmount"] == 3000
    assert decided.writes["itemsRepriced"] is True


def test_a_corrected_cart_keeps_the_unit_amounts_its_payment_intent_was_priced_at(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reprice(monkeypatch, "mug-enamel", 9999)
    order = se.order("pi_1")
    decided = run(order, newer_cart("pi_1", "tee-classic:2:2500,mug-enamel:1:1400", 6400))
    assert decided.status is S.PAID and decided.alert is None
    assert decided.writes["items"][1] == {
        "productId": "mug-enamel", "name": "Enamel mug", "unitAmount": 1400, "quantity": 1
    }  # fmt: skip
    assert "itemsRepriced" not in decided.writes


def test_an_old_format_correction_is_marked() -> None:
    decided = run(se.order("pi_1"), newer_cart("pi_1", TEE_2_MUG_1, 6400))
    assert decided.status is S.PAID
    assert decided.writes["itemsRepriced"] is True


def test_a_matching_success_reads_no_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    from checkout.products import live_catalog

    def unreachable() -> live_catalog.ShopCatalog:
        raise AssertionError("the catalog was read")

    monkeypatch.setattr(live_catalog.shop_catalog, "_load", unreachable)
    decided = run(se.order("pi_1"), newer_cart("pi_1", "tee-classic:2:2500", 5000))
    assert decided.status is S.PAID and decided.warning is None
    decided = run(se.order("pi_1"), newer_cart("pi_1", TEE_2, 5000))
    assert decided.status is S.PAID and decided.warning is None


# --- discounted payments (issue 21)


def test_a_rebuilt_discounted_order_is_paid_for_its_total() -> None:
    # Lines 6400, SAVE10 took 640 off both: 5760 paid is exactly what the metadata's cart costs.
    metadata = marked(
        {"checkoutId": "c-1", "items": TEE_2_MUG_1, "discount": "SAVE10:640:tee-classic mug-enamel"}
    )
    pi = se.payment_intent("pi_out", amount=5760, metadata=metadata)
    decided = run(None, se.event("payment_intent.succeeded", pi))
    assert decided.creates and decided.status is S.PAID, decided.alert
    assert decided.writes["subtotal"] == 6400
    assert decided.writes["discount"] == {
        "code": "SAVE10",
        "amount": 640,
        "productIds": ["tee-classic", "mug-enamel"],
    }


def test_a_rebuilt_order_whose_discounted_items_do_not_cost_the_amount_needs_review() -> None:
    metadata = marked({"items": TEE_2_MUG_1, "discount": "SAVE10:640:tee-classic"})
    pi = se.payment_intent("pi_out", amount=6400, metadata=metadata)
    decided = run(None, se.event("payment_intent.succeeded", pi))
    assert decided.status is S.NEEDS_REVIEW


def test_a_success_for_a_newer_discounted_cart_records_its_discount() -> None:
    # The order was written for 2 tees; the shopper applied a code after: the PaymentIntent
    # says 6400 - 640. The corrected order names the discount it was paid with.
    event = succeeded(
        "pi_1",
        amount=5760,
        metadata={"checkoutId": "c-1", "items": TEE_2_MUG_1, "discount": "SAVE10:640:mug-enamel"},
    )
    decided = run(se.order("pi_1"), event)
    assert decided.status is S.PAID
    assert decided.writes["amount"] == 5760
    assert decided.writes["subtotal"] == 6400
    assert decided.writes["discount"] == {
        "code": "SAVE10",
        "amount": 640,
        "productIds": ["mug-enamel"],
    }
