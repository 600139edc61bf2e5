"""Stripe delivers events late, twice and in any order: every order of delivery of the same
events must leave the same order as delivering them in the order they happened.

A property test (Hypothesis) over realistic lives of one payment: declines and retries, the
success, partial and full refunds, a refund that fails, a fraud warning, disputes opened and
closed; and failed attempts (card declines and 3D Secure failures) that the webhook, the return
page and the reconciler all see, each attempt to be counted once. Each run delivers every step of
one life in a random order, with random duplicates, through the pure plan (duplicates included:
the ledger normally stops them, but the plan must not need it). What the return page or the
reconciler saw becomes its event when it is delivered, by observations.observed_event, from the
order as it is then (as it does in production). The history (the log of deliveries, in delivery
order), `lastEventCreated` and `fulfilledAt` are left out of the comparison: they record the
order of delivery itself; so is the time of a payment state that is not final
(`payment.eventCreated`), since an observation is dated when Stripe was asked and whoever saw
a failure first dates it.
"""

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkout.orders.status import OrderStatus, can_transition
from checkout.stripe_events.facts import order_status
from checkout.stripe_events.observations import observed_event
from checkout.stripe_events.plan import Outcome, plan
from tests import stripe_events as se
from tests.payment_lives import Observation, Step, lives, lives_seen_by_everyone, step_id

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PI = "pi_life"
Json = dict[str, Any]

# An observation is dated when Stripe was asked, so these follow who looked first and when.
ORDER_OF_DELIVERY = {"history", "lastEventCreated", "lastActivityAt", "fulfilledAt"}


LIVES: dict[str, list[Step]] = {
    **{name: list[Step](events) for name, events in lives(PI).items()},
    **lives_seen_by_everyone(PI),
}


def deliver(steps: list[Step]) -> tuple[Json, list[OrderStatus]]:
    """The order after `steps`, and the status at each fulfilment decided on the way."""
    order = se.order(PI, checkoutId="7c1f3a52-0d7e-4c55-9e2b-6f3c1d2a4b5e")
    fulfilments: list[OrderStatus] = []
    for step in steps:
        if isinstance(step, Observation):
            observed = observed_event(step.payment_intent, order, step.observer, step.created)
            if observed is None:
                continue  # nothing to apply (Stripe says what the order says)
            event = observed
        else:
            event = step
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
    kept = {k: v for k, v in order.items() if k not in ORDER_OF_DELIVERY}
    if isinstance(kept.get("payment"), dict):
        kept["payment"] = {"state": kept["payment"]["state"]}
    return kept


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
        "inquiry-closed-then-chargeback": ("disputed", 0, 0, "under_review"),
        "inquiry-escalated": ("disputed", 0, 0, "needs_response"),
        "four-attempts-then-paid": ("paid", 0, 4, None),
        "five-attempts-to-the-cap": ("failed", 0, 5, None),
    }
    assert IN_ORDER["partial-refund-kept-dispute-won"]["lastPaymentError"]["declineCode"] == (
        "insufficient_funds"
    )
    assert IN_ORDER["dispute-lost"]["fraudWarning"]["id"] == "issfr_test1"


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A life and the ids of its events in delivery order (ids keep failures readable)."""
    name = draw(st.sampled_from(sorted(LIVES)))
    ids = [step_id(e) for e in LIVES[name]]
    repeats = draw(st.lists(st.sampled_from(ids), max_size=6))
    return name, draw(st.permutations([*ids, *repeats]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries())
def test_every_delivery_order_ends_in_the_same_order(delivery: tuple[str, list[str]]) -> None:
    name, ids = delivery
    by_id = {step_id(e): e for e in LIVES[name]}
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
    position = {step_id(e): n for n, e in enumerate(events)}
    success = position[f"evt_{PI}_payment_intent_succeeded_5"]

    # Known in full before the success: from the Charge's total, or the second refund (3000)
    # by id plus the first (2000) by id or from the Charge's earlier total.
    def first(event_id: str) -> bool:
        return position[event_id] < success

    full_first = first(f"evt_{PI}_charge_refunded_20") or (
        first(f"evt_{PI}_refund_created_re_2_20")
        and (first(f"evt_{PI}_refund_created_re_1_10") or first(f"evt_{PI}_charge_refunded_10"))
    )
    _, fulfilments = deliver(events)
    assert fulfilments == ([] if full_first else [OrderStatus.PAID])
