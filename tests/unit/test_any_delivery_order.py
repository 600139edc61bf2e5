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

Fulfilment is checked against the README's rule (Fulfilment), worked out here from the events
delivered, not from the code's own status: the delivery that records the success fulfils the
order exactly once if the order is then paid as ordered and neither disputed nor fully refunded,
and every other order is never fulfilled. That is checked on the fixed lives
(tests/payment_lives.py) and on lives Hypothesis generates (tests/generated_lives.py: amounts,
timestamps, declines, refund and dispute sequences, orders the webhook rebuilds).
"""

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, note, settings
from hypothesis import event as tally
from hypothesis import strategies as st

from checkout.orders.status import OrderStatus, can_transition
from checkout.stripe_events.facts import order_status
from checkout.stripe_events.observations import observed_event
from checkout.stripe_events.plan import Outcome, plan
from tests import stripe_events as se
from tests.generated_lives import GeneratedLife, generated_lives
from tests.payment_lives import Observation, Step, lives, lives_seen_by_everyone, step_id
from tests.sample_catalog import unit_amount

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
PI = "pi_life"
Json = dict[str, Any]

# An observation is dated when Stripe was asked, so these follow who looked first and when.
ORDER_OF_DELIVERY = {"history", "lastEventCreated", "lastActivityAt", "fulfilledAt"}


LIVES: dict[str, list[Step]] = {
    **{name: list[Step](events) for name, events in lives(PI).items()},
    **lives_seen_by_everyone(PI),
}


PAGE_ORDER = se.order(PI, checkoutId="7c1f3a52-0d7e-4c55-9e2b-6f3c1d2a4b5e")


def deliver(steps: list[Step], start: Json | None = PAGE_ORDER) -> tuple[Json, list[OrderStatus]]:
    """The order after `steps` ({} if none was ever written), and the status at each fulfilment
    decided on the way. `start` None: no order, as when the page's write was lost."""
    order = start
    fulfilments: list[OrderStatus] = []
    for step in steps:
        if isinstance(step, Observation):
            if order is None:
                continue  # the return page and the reconciler only look at stored orders
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
        if order is None:
            assert decided.creates
            order = decided.writes
            before = OrderStatus.PENDING  # the order it rebuilt, as the page would have written it
        else:
            before = OrderStatus(order["status"])
            order = {**order, **decided.writes}
        assert decided.status is not None
        assert decided.status is order_status(order)  # the status is what the facts say
        if decided.status is not before:
            assert can_transition(before, decided.status)
        if decided.newly_paid:
            fulfilments.append(decided.status)
            order = {**order, "fulfilledAt": NOW}  # what fulfil() does after the commit
    return order or {}, fulfilments


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
    delivered = [by_id[i] for i in ids]
    order, fulfilments = deliver(delivered)
    assert facts(order) == facts(IN_ORDER[name])
    assert fulfilments == ([OrderStatus.PAID] if fulfilment_due(PAGE_ORDER, delivered) else [])


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


# --- fulfilment as the README says it, worked out from the events delivered

# Refund statuses that Stripe counts in the Charge's amount_refunded, and how far each status is
# along a Refund's life (pending -> succeeded -> failed, or pending -> canceled).
LIVE_REFUND = frozenset({"pending", "requires_action", "succeeded"})
REFUND_PROGRESS = {"pending": 0, "requires_action": 0, "succeeded": 1, "failed": 2, "canceled": 2}
REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed"})
# Dispute statuses that end in the merchant's favour; any other keeps the order disputed.
KEPT_DISPUTE = frozenset({"won", "warning_closed", "prevented"})


def cart_price(metadata: dict[str, str]) -> int:
    """What the `items` metadata costs: at its own unit amounts ("id:qty:unit"), or at the
    catalog's prices for a PaymentIntent made before they were written ("id:qty")."""
    total = 0
    for part in metadata["items"].split(","):
        product, quantity, *unit = part.split(":")
        total += int(quantity) * (int(unit[0]) if unit else unit_amount(product))
    return total


def refunded_total(refunds: dict[str, Json], charge: tuple[int, int] | None) -> int:
    """The refunded amount as the README's event table defines it: the Charge's newest total,
    plus live refunds made after it, minus refunds it counted that failed or were canceled
    after it, and never less than the live refunds known by id."""
    live = [r for r in refunds.values() if r["status"] in LIVE_REFUND]
    by_id = sum(int(r["amount"]) for r in live)
    if charge is None:
        return by_id
    at, total = charge
    made_after = sum(int(r["amount"]) for r in live if r["created"] > at)
    given_back = sum(
        int(r["amount"])
        for r in refunds.values()
        if r["created"] <= at and r["status"] not in LIVE_REFUND and r["statusAt"] > at
    )
    return max(total + made_after - given_back, by_id)


def fulfilment_due(start: Json | None, delivered: list[Step]) -> bool:
    return fulfilment_decision(start, delivered) == FULFIL


FULFIL = "fulfil"


def fulfilment_decision(start: Json | None, delivered: list[Step]) -> str:
    """FULFIL if the order is fulfilled when `delivered` reach it in this order (README,
    Fulfilment): decided once, by the delivery that records the success, and only if the order
    is then paid for what it says (else it is `needs_review`) and neither disputed (a dispute
    open or lost) nor fully refunded. `start` None: no order; the first PaymentIntent event
    rebuilds it, and refund and dispute events before that are not this shop's (nothing kept).
    Otherwise why not."""
    order = start
    refunds: dict[str, Json] = {}  # by id: the most advanced status
    charge: tuple[int, int] | None = None  # the newest (eventCreated, amount_refunded)
    disputes: dict[str, tuple[int, str]] = {}  # by id: the newest (eventCreated, status)

    def success_fulfils(payment_intent: Json, order: Json) -> str:
        received = int(payment_intent["amount_received"])
        if order.get("source") == "webhook":  # rebuilt: its items must cost what was paid
            as_ordered = received == order["amount"] == cart_price(order["metadata"])
        else:  # the page's cart, or the newer cart the PaymentIntent was updated to
            as_ordered = received in (order["amount"], cart_price(payment_intent["metadata"]))
        if not as_ordered:
            return "paid for something else: needs_review"
        if any(status not in KEPT_DISPUTE for _, status in disputes.values()):
            return "disputed when the success was recorded"
        if refunded_total(refunds, charge) >= received:
            return "fully refunded when the success was recorded"
        return FULFIL

    for step in delivered:
        if isinstance(step, Observation):
            if order is not None and step.payment_intent["status"] == "succeeded":
                return success_fulfils(step.payment_intent, order)
            continue
        kind, obj, at = step["type"], step["data"]["object"], int(step["created"])
        if kind.startswith("payment_intent."):
            if order is None and kind != "payment_intent.canceled":
                order = {"source": "webhook", "amount": obj["amount"], "metadata": obj["metadata"]}
            if kind == "payment_intent.succeeded" and order is not None:
                return success_fulfils(obj, order)
        elif order is None:
            continue
        elif kind == "charge.refunded":
            charge = max(charge or (0, 0), (at, int(obj["amount_refunded"])))
        elif kind in REFUND_EVENTS or kind == "charge.refund.updated":
            known = refunds.get(obj["id"])
            progress = (REFUND_PROGRESS[obj["status"]], at)
            if known is None or progress > (REFUND_PROGRESS[known["status"]], known["statusAt"]):
                refunds[obj["id"]] = {
                    "status": obj["status"],
                    "statusAt": at,
                    "amount": obj["amount"],
                    "created": obj["created"],
                }
        elif kind.startswith("charge.dispute."):
            known_at, known_status = disputes.get(obj["id"], (0, ""))
            if at > known_at:
                disputes[obj["id"]] = (at, obj["status"])
            # Two statuses of one dispute in one second are ordered by the dispute's life; the
            # lives here never have that, so the newest is plain.
            assert at != known_at or obj["status"] == known_status
    return "never paid"


@st.composite
def delivered_lives(draw: st.DrawFn) -> tuple[GeneratedLife, list[Step]]:
    """A generated life and its steps in a random delivery order, with random duplicates; now
    and then the success comes last, after whatever refunds and disputes the life has."""
    life = draw(generated_lives(PI))
    by_id = {step_id(s): s for s in life.steps}
    assert len(by_id) == len(life.steps)
    repeats = draw(st.lists(st.sampled_from(sorted(by_id)), max_size=6)) if by_id else []
    order = draw(st.permutations([*by_id, *repeats]))
    if draw(st.booleans()):
        order.sort(key=lambda i: is_success(by_id[i]))
    return life, [by_id[i] for i in order]


def is_success(step: Step) -> bool:
    if isinstance(step, Observation):
        return bool(step.payment_intent["status"] == "succeeded")
    return bool(step["type"] == "payment_intent.succeeded")


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(delivered_lives())
def test_a_generated_life_is_fulfilled_once_when_its_success_is_recorded_unrefunded_undisputed(
    delivery: tuple[GeneratedLife, list[Step]],
) -> None:
    life, delivered = delivery
    note(life.describe())
    note("delivered: " + ", ".join(step_id(s) for s in delivered))
    order, fulfilments = deliver(delivered, life.order)
    decision = fulfilment_decision(life.order, delivered)
    due = decision == FULFIL
    tally(f"{decision} ({'rebuilt' if life.order is None else 'page'} order)")
    tally(f"ends {order.get('status')}")
    assert fulfilments == ([OrderStatus.PAID] if due else [])
    assert ("fulfilledAt" in order) is due
    if life.order is not None:
        # The page's order ends the same whatever the delivery order (a rebuilt one need not:
        # what reached it before it existed was not this shop's, by design).
        assert facts(order) == facts(deliver(life.steps, life.order)[0])
