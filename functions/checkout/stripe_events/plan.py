"""What a Stripe event means for its order: a pure plan, decided from the order as it is now.

A table maps each handled event type to a handler (checkout.stripe_events.handlers); the
handler adds a fact, the status is derived from all facts (checkout.stripe_events.facts) and
checked against the one transition table (checkout.orders.status). Because facts only ever grow
or give way to newer ones, every delivery order of the same events ends in the same order
document (its history aside). Nothing here does I/O: checkout.stripe_events.ledger runs `plan`
between its read and its conditional commit.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from checkout.orders.ownership import is_marked
from checkout.orders.reconciler_fields import LAST_ACTIVITY_AT, latest_activity
from checkout.orders.status import UNPAID_ORDER_STATUSES, OrderStatus, can_transition
from checkout.platform.json_fields import Json, int_field
from checkout.stripe_events.event import StripeEvent, event_object
from checkout.stripe_events.facts import Skip, order_status, status_of
from checkout.stripe_events.handlers import EVENT_RULES, order_id_for
from checkout.stripe_events.rebuild import order_from_payment_intent


class Outcome(StrEnum):
    """Every result of applying an event, from any source."""

    APPLIED = "applied"  # the order changed
    IGNORED = "ignored"  # valid event, but the order must not change (late, duplicate, ...)
    # Not this shop's payment (no mark, no order): nothing is written, not even the ledger.
    FOREIGN = "foreign"
    DUPLICATE = "duplicate"  # the ledger already has the event: nothing was written
    UNHANDLED = "unhandled"  # a type this checkout does not handle (acknowledged)
    MALFORMED = "malformed"  # a listed event whose shape is unusable
    NOTHING_TO_APPLY = "nothing_to_apply"  # an observation that implies nothing new


class Source(StrEnum):
    """The path by which Stripe's word reached the order; each history entry records it."""

    WEBHOOK = "webhook"  # a signed delivery
    CATCH_UP = "catch_up"  # listed from the Events API by the reconciler
    RETURN_PAGE = "return_page"  # the shopper's return page asked Stripe
    RECONCILER = "reconciler"  # one of the reconciler's steps asked Stripe


@dataclass(frozen=True)
class Plan:
    outcome: Outcome
    reason: str
    order_id: str
    previous_status: OrderStatus | None  # None: there was no order
    status: OrderStatus | None  # after the event (unchanged when ignored)
    writes: Json  # fields to write; the whole document when `creates`
    creates: bool
    newly_paid: bool  # this event is the one that made the order paid: fulfil it
    alert: str | None = None
    warning: str | None = None

    @property
    def recorded(self) -> bool:
        """Whether the event goes into the ledger (a foreign one leaves no trace)."""
        return self.outcome is not Outcome.FOREIGN


def _ignore(reason: str, order_id: str, order: Json | None, alert: str | None = None) -> Plan:
    status = status_of(order)
    return Plan(Outcome.IGNORED, reason, order_id, status, status, {}, False, False, alert)


def _foreign(reason: str, order_id: str) -> Plan:
    return Plan(Outcome.FOREIGN, reason, order_id, None, None, {}, False, False)


def plan(
    order: Json | None, event: StripeEvent, now: datetime, source: Source = Source.WEBHOOK
) -> Plan:
    """Decide what `event`, come by `source`, does to `order` (None: no such order), as one
    atomic change."""
    rule = EVENT_RULES.get(event["type"])
    order_id = order_id_for(event)
    if rule is None or order_id is None:
        return _ignore("not an order event", order_id or "", order)
    obj = event_object(event)

    creates = order is None
    if order is None:
        if not rule.rebuilds_missing_order:
            return _foreign("no order for this payment", order_id)
        # An order already written is ours even without the mark (intents created before it).
        if not is_marked(obj):
            return _foreign("PaymentIntent not created by this shop", order_id)
        rebuilt = order_from_payment_intent(obj)
        if rebuilt is None:
            return _ignore(
                "no order for this payment, and the event cannot rebuild one", order_id, None
            )
        order = dict(rebuilt)

    current = status_of(order)
    if current is None:
        # Retrying cannot fix this, so it is recorded (and shouted about), not failed.
        return _ignore(
            "order has no valid status",
            order_id,
            None,
            f"Order {order_id} has an unknown status: {order.get('status')!r}",
        )
    proposal = rule.handle(order, event)
    if isinstance(proposal, Skip):
        return _ignore(proposal.reason, order_id, None if creates else order)
    new = order_status({**order, **proposal.fields})
    if new != current and not can_transition(current, new):
        return _ignore(
            f"transition {current} -> {new} not allowed",
            order_id,
            None if creates else order,
            f"Order {order_id}: event {event['type']} would move it {current} -> {new}",
        )

    # Fulfilment is decided once, when the success is recorded: only if the order is paid
    # then, neither refunded nor disputed. fulfilledAt: None marks "due, not yet done", so a
    # sweep can find orders whose fulfilment was lost to a crash.
    newly_paid = new is OrderStatus.PAID and current in UNPAID_ORDER_STATUSES
    warning = proposal.warning
    if new is OrderStatus.PAID and not newly_paid and new != current and "fulfilledAt" not in order:
        warning = f"paid again after being {current}, and never fulfilled: fulfil it by hand if due"
    reason = f"{current} -> {new}" if new != current else f"recorded on {current} order"
    entry = {
        "eventId": event["id"],
        "type": event["type"],
        "status": new.value,
        "eventCreated": datetime.fromtimestamp(event["created"], UTC),
        "recordedAt": now,
        "source": source.value,
    }
    changes: Json = {
        **proposal.fields,
        **({"fulfilledAt": None} if newly_paid else {}),
        "status": new.value,
        "history": [*(order.get("history") or []), entry],
        "lastEventCreated": max(event["created"], int_field(order, "lastEventCreated") or 0),
        # Stripe at work on the payment is activity: the checkout is not idle since then.
        LAST_ACTIVITY_AT: latest_activity(order, entry["eventCreated"]),
    }
    return Plan(
        outcome=Outcome.APPLIED,
        # The warning goes into the reason too, so the ledger keeps it.
        reason=f"{reason}: {warning}" if warning else reason,
        order_id=order_id,
        previous_status=None if creates else current,
        status=new,
        writes={**order, **changes} if creates else changes,
        creates=creates,
        newly_paid=newly_paid,
        alert=proposal.alert,
        warning=warning,
    )
