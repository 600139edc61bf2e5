"""What a Stripe event means for its order: a pure plan, decided from the order as it is now.

Shaped like saleor's Stripe webhooks: a table maps each handled event type to a handler. A
handler never sets a status: it adds the *fact* its event carries to the order (the newest
payment state, a refund by id, the Charge's refunded total, a dispute by id, a decline), and only
when the order does not know it already. The status is then derived from all recorded facts
(checkout.orders.status.derive_status) and checked against the one transition table. Because
facts only ever grow or give way to newer ones, every delivery order of the same events ends in
the same order document (its history aside). Nothing here does I/O: checkout.webhooks.ledger
runs `plan` inside the Firestore transaction that also writes the event ledger.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from checkout.cart.pricing import (
    PricedCart,
    items_metadata,
    order_items,
    parse_items_metadata,
    price_cart,
)
from checkout.orders.ownership import is_marked
from checkout.orders.reconciler_fields import LAST_ACTIVITY_AT, STRIPE_MISSING, latest_activity
from checkout.orders.status import (
    UNPAID_STATUSES,
    DisputeState,
    OrderStatus,
    PaymentState,
    can_transition,
    derive_status,
)
from checkout.webhooks import declines, disputes, refunds
from checkout.webhooks.signature import STRIPE_ID, StripeEvent
from checkout.webhooks.stripe_fields import int_field, str_field

Json = dict[str, Any]

# `source` of an order rebuilt here from a PaymentIntent (the page's own orders have none).
SOURCE_WEBHOOK = "webhook"


class Outcome(StrEnum):
    APPLIED = "applied"  # the order changed
    IGNORED = "ignored"  # valid event, but the order must not change (late, duplicate, ...)
    # Not this shop's payment (no mark, no order): nothing is written, not even the ledger.
    FOREIGN = "foreign"


@dataclass(frozen=True)
class Proposal:
    """What a handler asks for: the facts to record. The status follows from them."""

    fields: Json = field(default_factory=dict)
    alert: str | None = None  # something a person must look at; logged at ERROR
    warning: str | None = None  # handled, nothing to do, but worth a WARNING (not an alert)


@dataclass(frozen=True)
class Skip:
    """A handler's "nothing to do": the order already knows this. The reason goes to the ledger."""

    reason: str


# (order as stored, the event) -> what should happen
Handler = Callable[[Json, StripeEvent], Proposal | Skip]


@dataclass(frozen=True)
class EventRule:
    handle: Handler
    # The object is a PaymentIntent: a missing order can be rebuilt from its metadata.
    rebuilds_missing_order: bool
    # The field of the object that names the PaymentIntent, i.e. the order's document id.
    order_id_field: str


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


def _obj(event: StripeEvent) -> Json:
    obj: Json = event["data"]["object"]
    return obj


def _amount_received(payment_intent: Json) -> int | None:
    # amount_received is the money actually taken; older API versions (and localstripe)
    # have only amount, which equals it once an automatically captured intent succeeds.
    received = int_field(payment_intent, "amount_received")
    return received if received is not None else int_field(payment_intent, "amount")


def _metadata_cart(payment_intent: Json) -> PricedCart:
    """The cart in the PaymentIntent's `items` metadata, priced from the catalog (maybe empty)."""
    metadata = payment_intent.get("metadata")
    value = str_field(metadata, "items") if isinstance(metadata, dict) else None
    try:
        return price_cart(parse_items_metadata(value or ""))
    except ValueError:
        # str.isdigit accepts digits that int() refuses ("²"): no cart, rather than an
        # exception inside the transaction on every retry.
        return price_cart(())


def _items_total(order: Json) -> int | None:
    try:
        return sum(int(i["unitAmount"]) * int(i["quantity"]) for i in order.get("items") or [])
    except (KeyError, TypeError, ValueError):
        return None


def _payment_problem(order: Json, payment_intent: Json) -> str | None:
    """Why a success must not count as paid, or None when it matches the order."""
    received = _amount_received(payment_intent)
    currency = (str_field(payment_intent, "currency") or "").lower()
    if received != order.get("amount") or currency != order.get("currency"):
        return (
            f"paid {received} {currency or '?'} but the order is for "
            f"{order.get('amount')} {order.get('currency')}"
        )
    # A rebuilt order takes its amount from the PaymentIntent, so the check above cannot fail
    # for it; what can is whether the items it names really cost that much.
    if order.get("source") == SOURCE_WEBHOOK and _items_total(order) != received:
        return (
            f"paid {received} {currency} but the items in its metadata cost {_items_total(order)}"
        )
    return None


def _paid_cart(order: Json, payment_intent: Json) -> PricedCart | None:
    """The PaymentIntent's own cart, when it is exactly what was paid for in the order's currency.

    Our server sets a PaymentIntent's amount and `items` metadata in one call, and a browser can
    change neither; but concurrent cart updates can leave the order document on an older cart.
    A rebuilt order's items already are this metadata, so only a page order can lag behind it.
    """
    if order.get("source") == SOURCE_WEBHOOK:
        return None
    cart = _metadata_cart(payment_intent)
    currency = (str_field(payment_intent, "currency") or "").lower()
    if (
        cart.lines
        and cart.amount == _amount_received(payment_intent)
        and currency == cart.currency == order.get("currency")
    ):
        return cart
    return None


def _same_goods(order: Json, cart: PricedCart) -> bool:
    items = order.get("items")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return False
    ordered = [(i.get("productId"), i.get("quantity")) for i in items]
    return ordered == [(line.product_id, line.quantity) for line in cart.lines]


# --- the facts an order records, and the status they add up to

# Orders written before facts were recorded: what their status says about the payment.
_LEGACY_PAYMENT = {
    OrderStatus.PROCESSING: PaymentState.PROCESSING,
    OrderStatus.FAILED: PaymentState.FAILED,
    OrderStatus.CANCELED: PaymentState.CANCELED,
    OrderStatus.PAID: PaymentState.SUCCEEDED,
    OrderStatus.NEEDS_REVIEW: PaymentState.SUCCEEDED,
    OrderStatus.REFUNDED: PaymentState.SUCCEEDED,
    OrderStatus.DISPUTED: PaymentState.SUCCEEDED,
    OrderStatus.DISPUTE_LOST: PaymentState.SUCCEEDED,
}
# A success or a cancellation is final; among the others the newer event wins, and within one
# second a decline outranks "processing" (a decline ends an attempt that was processing).
_PAYMENT_TIER = {
    PaymentState.SUCCEEDED: 3,
    PaymentState.CANCELED: 2,
    PaymentState.FAILED: 1,
    PaymentState.PROCESSING: 1,
}


def _payment_fact(order: Json) -> Json | None:
    """{"state", "eventCreated"} (eventCreated only while the state can still change)."""
    recorded = order.get("payment")
    if isinstance(recorded, dict):
        return recorded
    state = _LEGACY_PAYMENT.get(_status(order) or OrderStatus.PENDING)
    return _payment(state, int_field(order, "lastEventCreated") or 0) if state else None


def _payment(state: PaymentState, created: int) -> Json:
    if _PAYMENT_TIER[state] > 1:
        return {"state": state.value}
    return {"state": state.value, "eventCreated": created}


def _payment_key(fact: Json | None) -> tuple[int, int, int]:
    if fact is None:
        return (0, 0, 0)
    state = PaymentState(fact["state"])
    return (
        _PAYMENT_TIER[state],
        int_field(fact, "eventCreated") or 0,
        1 if state is PaymentState.FAILED else 0,
    )


def _payment_state(order: Json) -> PaymentState | None:
    fact = _payment_fact(order)
    return PaymentState(fact["state"]) if fact else None


def _paid_amount(order: Json) -> int:
    received = int_field(order, "amountReceived")
    return received if received is not None else int_field(order, "amount") or 0


def _refund_snapshot(order: Json) -> Json | None:
    snapshot = order.get("chargeRefunded")
    if isinstance(snapshot, dict):
        return snapshot
    # An order written before refunds were recorded by id: its total is the Charge's figure.
    legacy = int_field(order, "refundedAmount")
    if legacy and "refunds" not in order:
        return {"amountRefunded": legacy, "eventCreated": int_field(order, "lastEventCreated")}
    return None


def order_status(order: Json) -> OrderStatus:
    """The status the order's recorded facts add up to."""
    refunded = int_field(order, "refundedAmount") or 0
    return derive_status(
        _payment_state(order),
        needs_review=bool(order.get("reviewReason")),
        fully_refunded=refunded > 0 and refunded >= _paid_amount(order),
        dispute=disputes.order_dispute_state(disputes.recorded_disputes(order)),
    )


def _newer_payment(order: Json, state: PaymentState, created: int) -> Json | Skip:
    """The payment fact to record, or why the order already knows better."""
    known = _payment_fact(order)
    fact = _payment(state, created)
    if _payment_key(fact) > _payment_key(known):
        return fact
    if known is not None and known["state"] == fact["state"]:
        return Skip(f"order is already {_status(order)}")
    latest = (known or {}).get("state")
    return Skip(f"stale: {state} happened before the order's last payment event ({latest})")


# --- one handler per event type


def _success_fields(order: Json, payment_intent: Json) -> Proposal:
    received = _amount_received(payment_intent)
    problem = _payment_problem(order, payment_intent)
    paid_for = _paid_cart(order, payment_intent)
    # Also when the totals agree: a same-priced newer cart is still other goods to ship.
    if paid_for is not None and (problem or not _same_goods(order, paid_for)):
        currency = paid_for.currency
        return Proposal(
            {
                "amountReceived": received,
                "amount": paid_for.amount,
                "items": order_items(paid_for),
                "cartCorrectedFrom": {"amount": order.get("amount"), "items": order.get("items")},
            },
            warning=(
                f"cart corrected from the PaymentIntent: the order was for {order.get('amount')} "
                f"{currency}, {received} {currency} paid for {items_metadata(paid_for)}"
            ),
        )
    if problem:
        return Proposal(
            {"reviewReason": problem, "amountReceived": received},
            alert=f"Payment does not match order {order.get('paymentIntentId')}: {problem}",
        )
    return Proposal({"amountReceived": received})


def _succeeded(order: Json, event: StripeEvent) -> Proposal | Skip:
    fact = _newer_payment(order, PaymentState.SUCCEEDED, event["created"])
    if isinstance(fact, Skip):
        return fact
    success = _success_fields(order, _obj(event))
    return Proposal({"payment": fact, **success.fields}, success.alert, success.warning)


def _processing(order: Json, event: StripeEvent) -> Proposal | Skip:
    fact = _newer_payment(order, PaymentState.PROCESSING, event["created"])
    return fact if isinstance(fact, Skip) else Proposal({"payment": fact})


def _payment_failed(order: Json, event: StripeEvent) -> Proposal | Skip:
    # Every decline is recorded, also on an order that has failed, or been paid, since.
    record = declines.decline_record(event["id"], event["created"], _obj(event))
    decline = declines.recorded_decline(order, record)
    fact = _newer_payment(order, PaymentState.FAILED, event["created"])
    fields: Json = {**(decline or {})}
    if not isinstance(fact, Skip):
        fields["payment"] = fact
    if not fields:
        return Skip("decline already recorded")
    return Proposal(fields)


def _canceled(order: Json, event: StripeEvent) -> Proposal | Skip:
    fact = _newer_payment(order, PaymentState.CANCELED, event["created"])
    if isinstance(fact, Skip):
        return fact
    reason = str_field(_obj(event), "cancellation_reason")
    return Proposal({"payment": fact, "cancellationReason": reason})


def _refund_fields(order: Json, snapshot: Json | None, records: list[Json]) -> Proposal | Skip:
    known = [r for r in order.get("refunds") or [] if isinstance(r, dict)]
    merged = refunds.merged_refunds(known, records)
    known_snapshot = _refund_snapshot(order)
    newest = (
        known_snapshot if snapshot is None else refunds.newer_snapshot(known_snapshot, snapshot)
    )
    if merged == known and newest == known_snapshot:
        return Skip("refund already recorded")
    fields: Json = {"refunds": merged, "refundedAmount": refunds.refunded_amount(newest, merged)}
    if newest is not None:
        fields["chargeRefunded"] = newest
    return Proposal(fields)


def _charge_refunded(order: Json, event: StripeEvent) -> Proposal | Skip:
    charge = _obj(event)
    snapshot = refunds.charge_snapshot(charge, event["created"])
    if snapshot is None:
        return Skip("charge has no amount_refunded")
    return _refund_fields(order, snapshot, refunds.charge_refund_records(charge, event["created"]))


def _refund(order: Json, event: StripeEvent) -> Proposal | Skip:
    record = refunds.refund_record(_obj(event), event["created"])
    if record is None:
        return Skip("refund has no id or amount")
    return _refund_fields(order, None, [record])


def _dispute(order: Json, event: StripeEvent) -> Proposal | Skip:
    dispute = _obj(event)
    record = disputes.dispute_record(dispute)
    if record is None:
        return Skip("dispute has no id")
    known = disputes.recorded_disputes(order)
    recorded = disputes.with_dispute(known, record, event["created"])
    if recorded is None:
        return Skip("dispute already recorded")
    fields = {"disputes": recorded, "dispute": disputes.shown_dispute(recorded)}
    state = disputes.dispute_state(record["status"])
    before = known.get(record["id"])
    # Per dispute: a new one, or an inquiry that became a chargeback, opens (and alerts).
    was_open = before is not None and disputes.dispute_state(before.get("status")) is (
        DisputeState.OPEN
    )
    order_id = order.get("paymentIntentId")
    amount = f"{record['amount']} {str_field(dispute, 'currency') or order.get('currency')}"
    if state is DisputeState.OPEN and not was_open:
        return Proposal(
            fields,
            alert=(
                f"Dispute {record['id']} opened on order {order_id} ({record['reason']}, "
                f"{amount}): evidence due by {disputes.due_by(record)}"
            ),
        )
    if state is DisputeState.LOST:
        return Proposal(fields, warning=f"Dispute {record['id']} lost on order {order_id}")
    return Proposal(fields)


def _early_fraud_warning(order: Json, event: StripeEvent) -> Proposal | Skip:
    record = disputes.fraud_warning_record(_obj(event))
    if record is None:
        return Skip("early fraud warning has no id")
    known = order.get("fraudWarning")
    # One warning per charge; should two arrive, the same one is kept whatever the order.
    if isinstance(known, dict) and str(known.get("id")) >= record["id"]:
        return Skip("early fraud warning already recorded")
    return Proposal(
        {"fraudWarning": record},
        alert=(
            f"Early fraud warning {record['id']} on order {order.get('paymentIntentId')} "
            f"({record['fraudType']}): a dispute may follow; consider refunding"
        ),
    )


_DISPUTE_EVENTS = ("created", "updated", "closed", "funds_withdrawn", "funds_reinstated")
_REFUND_EVENTS = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")

EVENT_RULES: dict[str, EventRule] = {
    "payment_intent.succeeded": EventRule(_succeeded, True, "id"),
    "payment_intent.processing": EventRule(_processing, True, "id"),
    "payment_intent.payment_failed": EventRule(_payment_failed, True, "id"),
    # A canceled PaymentIntent took no money: without an order (our spare intents, canceled
    # after losing a race) there is nothing to record.
    "payment_intent.canceled": EventRule(_canceled, False, "id"),
    # Charges, Refunds, Disputes and warnings name the order but cannot rebuild it.
    "charge.refunded": EventRule(_charge_refunded, False, "payment_intent"),
    **{name: EventRule(_refund, False, "payment_intent") for name in _REFUND_EVENTS},
    **{
        f"charge.dispute.{name}": EventRule(_dispute, False, "payment_intent")
        for name in _DISPUTE_EVENTS
    },
    "radar.early_fraud_warning.created": EventRule(_early_fraud_warning, False, "payment_intent"),
}


def is_handled(event: StripeEvent) -> bool:
    return event["type"] in EVENT_RULES


def order_id_for(event: StripeEvent) -> str | None:
    """The order's document id (its PaymentIntent id), or None if the event does not name one."""
    rule = EVENT_RULES.get(event["type"])
    if rule is None:
        return None
    value = _obj(event).get(rule.order_id_field)
    return value if isinstance(value, str) and STRIPE_ID.match(value) else None


def names_no_payment_intent(event: StripeEvent) -> bool:
    """A handled event whose object has no PaymentIntent at all: never one of this shop's."""
    rule = EVENT_RULES.get(event["type"])
    return rule is not None and _obj(event).get(rule.order_id_field) is None


# --- orders for payments made outside the page


def order_from_payment_intent(payment_intent: Json) -> Json | None:
    """The pending order the page would have written, rebuilt from the PaymentIntent alone.

    None when the intent lacks an amount or currency: then there is nothing to record.
    """
    amount, currency = int_field(payment_intent, "amount"), str_field(payment_intent, "currency")
    if amount is None or currency is None:
        return None
    metadata = payment_intent.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    return {
        "paymentIntentId": payment_intent["id"],
        "checkoutId": str_field(metadata, "checkoutId"),
        "status": OrderStatus.PENDING.value,
        "items": order_items(_metadata_cart(payment_intent)),
        "amount": amount,
        "currency": currency.lower(),
        "email": str_field(payment_intent, "receipt_email"),
        "clientSecretHash": None,
        "history": [],
        "refundedAmount": 0,
        "dispute": None,
        "declineCount": 0,
        "lastPaymentError": None,
        # Marks the order as rebuilt: its amount came from Stripe, not from our catalog.
        "source": SOURCE_WEBHOOK,
        STRIPE_MISSING: False,
    }


# --- the plan


def _status(order: Json | None) -> OrderStatus | None:
    try:
        return OrderStatus(order["status"]) if order else None
    except (KeyError, ValueError):
        return None


def _ignore(reason: str, order_id: str, order: Json | None, alert: str | None = None) -> Plan:
    status = _status(order)
    return Plan(Outcome.IGNORED, reason, order_id, status, status, {}, False, False, alert)


def _foreign(reason: str, order_id: str) -> Plan:
    return Plan(Outcome.FOREIGN, reason, order_id, None, None, {}, False, False)


def plan(order: Json | None, event: StripeEvent, now: datetime) -> Plan:
    """Decide what `event` does to `order` (None: no such order), as one atomic change."""
    rule = EVENT_RULES.get(event["type"])
    order_id = order_id_for(event)
    if rule is None or order_id is None:
        return _ignore("not an order event", order_id or "", order)
    obj = _obj(event)

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
        order = rebuilt

    current = _status(order)
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
    newly_paid = new is OrderStatus.PAID and current in UNPAID_STATUSES
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
