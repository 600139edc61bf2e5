"""Stripe delivers events late, twice and in any order: every order of delivery of the same
events must leave the same order as delivering them in the order they happened.

A property test (Hypothesis) over realistic lives of one payment: declines and retries, the
success, partial and full refunds, a refund that fails, a fraud warning, a dispute opened and
closed. Each run delivers every event of one life in a random order, with random duplicates,
through the pure plan (duplicates included: the ledger normally stops them, but the plan must
not need it). The history (the log of deliveries, in delivery order), `lastEventCreated` and
`fulfilledAt` are left out of the comparison: they record the order of delivery itself.
"""

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkout.orders.status import OrderStatus, can_transition
from checkout.webhooks.events import Outcome, order_status, plan
from tests import stripe_events as se

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
T0 = 1_790_000_000
PI = "pi_life"
Json = dict[str, Any]

ORDER_OF_DELIVERY = {"history", "lastEventCreated", "fulfilledAt"}


def _event(kind: str, obj: Json, at: int) -> Json:
    return se.event(kind, obj, created=T0 + at, event_id=f"evt_{kind}_{at}")


def processing(at: int) -> Json:
    return _event("payment_intent.processing", se.payment_intent(PI, status="processing"), at)


def declined(at: int, decline_code: str) -> Json:
    pi = se.failed_payment_intent(PI, decline_code=decline_code)
    return _event("payment_intent.payment_failed", pi, at)


def succeeded(at: int) -> Json:
    return _event("payment_intent.succeeded", se.payment_intent(PI), at)


def refund(kind: str, refund_id: str, amount: int, status: str, at: int, created: int) -> Json:
    obj = se.refund(PI, amount=amount, status=status, refund_id=refund_id, created=T0 + created)
    return se.event(kind, obj, created=T0 + at, event_id=f"evt_{kind}_{refund_id}_{at}")


def charge_refunded(amount_refunded: int, at: int) -> Json:
    return _event("charge.refunded", se.charge(PI, amount_refunded=amount_refunded), at)


def dispute(kind: str, status: str, at: int) -> Json:
    return _event(f"charge.dispute.{kind}", se.dispute(PI, status=status), at)


def fraud_warning(at: int) -> Json:
    return _event("radar.early_fraud_warning.created", se.early_fraud_warning(PI), at)


# Realistic lives of one payment, each in the order things happened.
LIVES: dict[str, list[Json]] = {
    # Declined, retried, paid; refunded in part, then the rest, which fails; disputed and won.
    "partial-refund-kept-dispute-won": [
        processing(1),
        declined(2, "insufficient_funds"),
        processing(3),
        succeeded(4),
        refund("refund.created", "re_1", 1000, "succeeded", 10, 10),
        charge_refunded(1000, 10),
        refund("refund.created", "re_2", 4000, "pending", 20, 20),
        charge_refunded(5000, 20),
        refund("refund.updated", "re_2", 4000, "succeeded", 21, 20),
        refund("refund.failed", "re_2", 4000, "failed", 30, 20),
        refund("charge.refund.updated", "re_2", 4000, "failed", 30, 20),
        fraud_warning(35),
        dispute("created", "needs_response", 40),
        dispute("funds_withdrawn", "needs_response", 40),
        dispute("updated", "under_review", 45),
        dispute("closed", "won", 50),
        dispute("funds_reinstated", "won", 50),
    ],
    # A card-testing run, then paid and fully refunded in two steps.
    "declines-then-full-refund": [
        declined(1, "stolen_card"),
        declined(2, "incorrect_cvc"),
        declined(3, "insufficient_funds"),
        succeeded(5),
        refund("refund.created", "re_1", 2000, "succeeded", 10, 10),
        charge_refunded(2000, 10),
        refund("refund.created", "re_2", 3000, "succeeded", 20, 20),
        charge_refunded(5000, 20),
        refund("refund.created", "re_3", 100, "canceled", 25, 25),
    ],
    # Paid, partly refunded, disputed and lost.
    "dispute-lost": [
        processing(1),
        succeeded(2),
        refund("refund.created", "re_1", 500, "succeeded", 10, 10),
        charge_refunded(500, 10),
        fraud_warning(15),
        dispute("created", "warning_needs_response", 40),
        dispute("updated", "needs_response", 42),
        dispute("funds_withdrawn", "needs_response", 42),
        dispute("closed", "lost", 50),
    ],
    # An inquiry that closes without a chargeback, and a refund that fails outright.
    "inquiry-closed": [
        succeeded(1),
        dispute("created", "warning_needs_response", 10),
        dispute("updated", "warning_under_review", 12),
        dispute("closed", "warning_closed", 20),
        refund("refund.created", "re_1", 5000, "succeeded", 30, 30),
        charge_refunded(5000, 30),
        refund("refund.failed", "re_1", 5000, "failed", 40, 30),
    ],
}


def deliver(events: list[Json]) -> tuple[Json, list[OrderStatus]]:
    """The order after `events`, and the status at each fulfilment decided on the way."""
    order = se.order(PI, checkoutId="7c1f3a52-0d7e-4c55-9e2b-6f3c1d2a4b5e")
    fulfilments: list[OrderStatus] = []
    for event in events:
        decided = plan(order, event, NOW)
        if decided.outcome is not Outcome.APPLIED:
            assert decided.writes == {}
            continue
        before = OrderStatus(order["status"])
        order = {**order, **decided.writes}
        assert decided.status is not None
        assert decided.status is order_status(order)  # the status is what the facts say
        if decided.status is not before:
            assert can_transition(before, decided.status)
        if decided.newly_paid:
            fulfilments.append(decided.status)
            order = {**order, "fulfilledAt": NOW}  # what fulfil() does after the commit
    return order, fulfilments


def facts(order: Json) -> Json:
    return {k: v for k, v in order.items() if k not in ORDER_OF_DELIVERY}


IN_ORDER = {name: deliver(events)[0] for name, events in LIVES.items()}


def test_the_lives_end_where_they_should() -> None:
    summary = {
        name: (
            o["status"],
            o["refundedAmount"],
            o["declineCount"],
            (o["dispute"] or {}).get("status"),
        )
        for name, o in IN_ORDER.items()
    }
    assert summary == {
        "partial-refund-kept-dispute-won": ("paid", 1000, 1, "won"),
        "declines-then-full-refund": ("refunded", 5000, 3, None),
        "dispute-lost": ("dispute_lost", 500, 0, "lost"),
        "inquiry-closed": ("paid", 0, 0, "warning_closed"),
    }
    assert IN_ORDER["partial-refund-kept-dispute-won"]["lastPaymentError"]["declineCode"] == (
        "insufficient_funds"
    )
    assert IN_ORDER["dispute-lost"]["fraudWarning"]["id"] == "issfr_test1"


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A life and the ids of its events in delivery order (ids keep failures readable)."""
    name = draw(st.sampled_from(sorted(LIVES)))
    ids = [e["id"] for e in LIVES[name]]
    repeats = draw(st.lists(st.sampled_from(ids), max_size=6))
    return name, draw(st.permutations([*ids, *repeats]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries())
def test_every_delivery_order_ends_in_the_same_order(delivery: tuple[str, list[str]]) -> None:
    name, ids = delivery
    by_id = {e["id"]: e for e in LIVES[name]}
    order, fulfilments = deliver([by_id[i] for i in ids])
    assert facts(order) == facts(IN_ORDER[name])
    # fulfil() at most once, and only for an order paid (not refunded, not disputed) then.
    assert fulfilments in ([], [OrderStatus.PAID])


@settings(max_examples=100, deadline=None)
@given(st.permutations(range(len(LIVES["declines-then-full-refund"]))))
def test_a_fully_refunded_payment_is_never_fulfilled_once_the_refund_came_first(
    indices: list[int],
) -> None:
    events = [LIVES["declines-then-full-refund"][i] for i in indices]
    position = {e["id"]: n for n, e in enumerate(events)}
    success = position["evt_payment_intent.succeeded_5"]

    # Known in full before the success: from the Charge's total, or the second refund (3000)
    # by id plus the first (2000) by id or from the Charge's earlier total.
    def first(event_id: str) -> bool:
        return position[event_id] < success

    full_first = first("evt_charge.refunded_20") or (
        first("evt_refund.created_re_2_20")
        and (first("evt_refund.created_re_1_10") or first("evt_charge.refunded_10"))
    )
    _, fulfilments = deliver(events)
    assert fulfilments == ([] if full_first else [OrderStatus.PAID])
