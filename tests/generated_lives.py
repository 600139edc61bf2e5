"""Lives of one payment drawn by Hypothesis: the events Stripe sends, in the order things happened.

Where tests/payment_lives.py writes a few lives out by hand, these are generated: the order the
page wrote or none at all (an order the webhook rebuilds from the PaymentIntent), what was paid
(as ordered, a cart changed meanwhile, or an amount the order does not explain), declines before
it, or no success at all, then refunds (each with its own path: pending, succeeded, failed,
canceled; and the Charge's running total as each is made) and disputes (chargebacks and
inquiries, kept, lost, escalated or still open), with their timestamps.
Event ids start with `evt_` like Stripe's and derive from the PaymentIntent id and the step.
"""

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from hypothesis import strategies as st

from checkout.stripe_events.observations import RECONCILER, RETURN_PAGE
from tests import stripe_events as se
from tests.payment_lives import T0, Observation, Step
from tests.sample_catalog import sample_products

Json = dict[str, Any]

PRODUCT = "tee-classic"
PRODUCTS = sample_products()
UNIT = PRODUCTS[PRODUCT].unit_amount
CHECKOUT_ID = "5e0c7a21-9d3b-4f8e-8a61-2b7d4c9e0f13"

# Each refund's statuses in the order Stripe moves it (refunds.py: pending -> succeeded ->
# failed, or pending -> canceled).
REFUND_PATHS = (
    ("succeeded",),
    ("succeeded",),  # the common case, twice as likely
    ("pending",),
    ("pending", "succeeded"),
    ("succeeded", "failed"),
    ("pending", "canceled"),
    ("pending", "succeeded", "failed"),
)
# Each dispute's statuses in the order Stripe moves it: chargebacks, and inquiries that close
# or escalate to a chargeback under the same id.
DISPUTE_PATHS = (
    ("needs_response",),
    ("needs_response", "under_review"),
    ("needs_response", "under_review", "won"),
    ("needs_response", "under_review", "lost"),
    ("needs_response", "lost"),
    ("warning_needs_response",),
    ("warning_needs_response", "warning_under_review", "warning_closed"),
    ("warning_needs_response", "warning_closed", "needs_response"),
    ("warning_needs_response", "warning_closed", "needs_response", "under_review", "won"),
    ("warning_needs_response", "warning_closed", "needs_response", "lost"),
)
CLOSED_DISPUTE = frozenset({"won", "lost", "warning_closed"})


@dataclass(frozen=True)
class GeneratedLife:
    """One payment's life: the order as the page wrote it (None: missing, the webhook rebuilds
    it), and every step in the order things happened, each with a unique id."""

    pi: str
    order: Json | None
    steps: list[Step] = field(default_factory=list)

    def describe(self) -> str:
        """The life in one line per step, for a failing example's report."""
        lines = [f"order: {'rebuilt' if self.order is None else self.order['amount']}"]
        for step in self.steps:
            if isinstance(step, Observation):
                lines.append(f"  {step.id}: {step.payment_intent['status']} seen")
                continue
            obj = step["data"]["object"]
            detail = {k: obj.get(k) for k in ("id", "status", "amount", "amount_refunded")}
            lines.append(f"  {step['id']} @{step['created'] - T0} {step['type']} {detail}")
        return "\n".join(lines)


def cart_metadata(quantity: int) -> dict[str, str]:
    # As the shop writes it: what was priced, unit amount included (checkout.cart.metadata).
    return se.shop_metadata(checkoutId=CHECKOUT_ID, items=f"{PRODUCT}:{quantity}:{UNIT}")


def page_order(pi: str, quantity: int) -> Json:
    line = {"productId": PRODUCT, "name": PRODUCTS[PRODUCT].name, "unitAmount": UNIT}
    return se.order(
        pi, amount=UNIT * quantity, checkoutId=CHECKOUT_ID, items=[{**line, "quantity": quantity}]
    )


class _Timeline:
    """Builds the events of one life, numbering them so that every id is unique."""

    def __init__(self, pi: str) -> None:
        self.pi = pi
        self.steps: list[Step] = []

    def event(self, kind: str, obj: Json, at: int) -> None:
        event_id = f"evt_{self.pi}_{len(self.steps)}_{kind.replace('.', '_')}"
        self.steps.append(se.event(kind, obj, created=T0 + at, event_id=event_id))

    def seen(self, observer: str, payment_intent: Json, at: int) -> None:
        self.steps.append(Observation(f"{observer}@{at}", observer, T0 + at, payment_intent))

    def in_order(self) -> list[Step]:
        """The steps in the order they happened (drawn part by part; the sort is stable)."""

        def created(step: Step) -> int:
            return step.created if isinstance(step, Observation) else int(step["created"])

        return sorted(self.steps, key=created)


@st.composite
def generated_lives(draw: st.DrawFn, pi: str = "pi_generated") -> GeneratedLife:
    quantity = draw(st.integers(1, 4))
    order = None if draw(st.booleans()) else page_order(pi, quantity)
    life = _Timeline(pi)

    def payment_intent(status: str, **fields: Any) -> Json:
        return se.payment_intent(
            pi, amount=UNIT * quantity, status=status, metadata=cart_metadata(quantity), **fields
        )

    # Attempts before the outcome: each a decline, some after a `processing` (a bank debit).
    t = 1
    for attempt in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            life.event("payment_intent.processing", payment_intent("processing"), t)
            t += draw(st.integers(0, 3))
        code = draw(st.sampled_from(["generic_decline", "insufficient_funds", "stolen_card"]))
        declined = se.failed_payment_intent(
            pi, decline_code=code, amount=UNIT * quantity, metadata=cart_metadata(quantity)
        )
        declined["last_payment_error"]["charge"] = f"ch_declined_{attempt}"
        life.event("payment_intent.payment_failed", declined, t)
        t += draw(st.integers(1, 5))

    if not draw(st.integers(0, 4)):  # now and then never paid; maybe canceled at the end
        if draw(st.booleans()):
            canceled = payment_intent("canceled", cancellation_reason="abandoned")
            life.event("payment_intent.canceled", canceled, t)
        return GeneratedLife(pi, order, life.in_order())

    # What was paid: as ordered, a cart the order has not caught up with (a page order only),
    # or an amount the PaymentIntent's items do not explain.
    paid_as = draw(st.sampled_from(["as ordered", "as ordered", "changed cart", "unexpected"]))
    paid_quantity, amount = quantity, UNIT * quantity
    if paid_as == "changed cart":
        paid_quantity = draw(st.sampled_from([q for q in range(1, 5) if q != quantity]))
        amount = UNIT * paid_quantity
    elif paid_as == "unexpected":
        amount += draw(st.sampled_from([-100, 1, 700]))
    succeeded = se.payment_intent(pi, amount=amount, metadata=cart_metadata(paid_quantity))
    paid_at = t
    life.event("payment_intent.succeeded", succeeded, paid_at)
    if draw(st.booleans()):
        observer = draw(st.sampled_from([RETURN_PAGE, RECONCILER]))
        life.seen(observer, succeeded, paid_at + draw(st.integers(0, 3)))

    _refunds(draw, life, amount, paid_at)
    _disputes(draw, life, amount, paid_at)
    if draw(st.booleans()):
        warning = se.early_fraud_warning(pi)
        life.event("radar.early_fraud_warning.created", warning, paid_at + draw(st.integers(1, 9)))
    return GeneratedLife(pi, order, life.in_order())


def _refunds(draw: st.DrawFn, life: _Timeline, paid: int, paid_at: int) -> None:
    """Refunds after the success: their events, and charge.refunded with the Charge's running
    total when each refund is made (Stripe's `amount_refunded` counts pending refunds too).
    API versions before 2024-10-28 send no `refund.*` events: only charge.refunded and
    charge.refund.updated tell about refunds then."""
    count = draw(st.sampled_from([0, 1, 1, 2, 3]))
    if not count:
        return
    refund_events = draw(st.booleans())
    if draw(st.sampled_from([True, True, False])):  # the whole payment, in `count` parts
        cuts = draw(st.sets(st.integers(1, paid - 1), min_size=count - 1, max_size=count - 1))
        bounds = [0, *sorted(cuts), paid]
        amounts = [high - low for low, high in pairwise(bounds)]
    else:
        amounts = [draw(st.integers(1, max(1, paid // (count + 1)))) for _ in range(count)]
    created = [paid_at + draw(st.integers(1, 20)) for _ in amounts]
    changes: list[tuple[int, int, int, str]] = []  # (time, refund, position in its path, status)
    for number, made_at in enumerate(created):
        at = made_at
        for position, status in enumerate(draw(st.sampled_from(REFUND_PATHS))):
            at += draw(st.integers(1, 10)) if position else 0
            changes.append((at, number, position, status))
    live: dict[int, int] = {}
    for at, number, position, status in sorted(changes):
        obj = se.refund(
            life.pi,
            amount=amounts[number],
            status=status,
            refund_id=f"re_{number + 1}",
            created=T0 + created[number],
        )
        if status in ("pending", "succeeded"):
            live[number] = amounts[number]
        else:
            live.pop(number, None)
        if position == 0:
            if refund_events:
                life.event("refund.created", obj, at)
            charge = se.charge(life.pi, amount=paid, amount_refunded=sum(live.values()))
            life.event("charge.refunded", charge, at)
            continue
        if refund_events:
            life.event("refund.failed" if status == "failed" else "refund.updated", obj, at)
        if status == "failed" or not refund_events:
            life.event("charge.refund.updated", obj, at)


def _disputes(draw: st.DrawFn, life: _Timeline, amount: int, paid_at: int) -> None:
    for number in range(draw(st.sampled_from([0, 0, 1, 2]))):
        dispute_id = f"dp_{number + 1}"
        at = paid_at + draw(st.integers(1, 30))
        for position, status in enumerate(draw(st.sampled_from(DISPUTE_PATHS))):
            at += draw(st.integers(1, 10)) if position else 0
            obj = se.dispute(life.pi, status=status, amount=amount, dispute_id=dispute_id)
            if position == 0:
                life.event("charge.dispute.created", obj, at)
            elif status in CLOSED_DISPUTE:
                life.event("charge.dispute.closed", obj, at)
            else:
                life.event("charge.dispute.updated", obj, at)
            # The money moves in the same second: a chargeback's funds are withdrawn when it
            # opens, and reinstated when it is won.
            if status == "needs_response":
                life.event("charge.dispute.funds_withdrawn", obj, at)
            elif status == "won":
                life.event("charge.dispute.funds_reinstated", obj, at)
