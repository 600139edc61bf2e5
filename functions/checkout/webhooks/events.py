"""What a Stripe event means for its order: a pure plan, decided from the order as it is now.

Shaped like saleor's Stripe webhooks: a table maps each handled event type to a handler, and
every handler only *proposes* a status; one check against checkout.orders.status then decides
whether it applies. Nothing here does I/O: checkout.webhooks.ledger runs `plan` inside the
Firestore transaction that also writes the event ledger, with the order it just read.
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
from checkout.orders.status import PROVISIONAL_STATUSES, OrderStatus, can_transition
from checkout.webhooks.signature import STRIPE_ID, StripeEvent

Json = dict[str, Any]

# `source` of an order rebuilt here from a PaymentIntent (the page's own orders have none).
SOURCE_WEBHOOK = "webhook"


class Outcome(StrEnum):
    APPLIED = "applied"  # the order changed
    IGNORED = "ignored"  # valid event, but the order must not change (late, duplicate, ...)


@dataclass(frozen=True)
class Proposal:
    """What a handler asks for. status None: record `fields` without a status change."""

    status: OrderStatus | None
    fields: Json = field(default_factory=dict)
    alert: str | None = None  # something a person must look at; logged at ERROR
    warning: str | None = None  # handled, nothing to do, but worth a WARNING (not an alert)


@dataclass(frozen=True)
class Skip:
    """A handler's "nothing to do", with the reason kept in the ledger."""

    reason: str


# (order as stored, Stripe object from event.data.object) -> what should happen
Handler = Callable[[Json, Json], Proposal | Skip]


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


# --- reading Stripe objects (defensively: a signed event is genuine, not necessarily complete)


def _int(obj: Json, key: str) -> int | None:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(obj: Json, key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value else None


def _amount_received(payment_intent: Json) -> int | None:
    # amount_received is the money actually taken; older API versions (and localstripe)
    # have only amount, which equals it once an automatically captured intent succeeds.
    received = _int(payment_intent, "amount_received")
    return received if received is not None else _int(payment_intent, "amount")


def _metadata_cart(payment_intent: Json) -> PricedCart:
    """The cart in the PaymentIntent's `items` metadata, priced from the catalog (maybe empty)."""
    metadata = payment_intent.get("metadata")
    value = _str(metadata, "items") if isinstance(metadata, dict) else None
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
    currency = (_str(payment_intent, "currency") or "").lower()
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
    currency = (_str(payment_intent, "currency") or "").lower()
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


# --- one handler per event type


def _succeeded(order: Json, payment_intent: Json) -> Proposal | Skip:
    received = _amount_received(payment_intent)
    problem = _payment_problem(order, payment_intent)
    paid_for = _paid_cart(order, payment_intent)
    # Also when the totals agree: a same-priced newer cart is still other goods to ship.
    if paid_for is not None and (problem or not _same_goods(order, paid_for)):
        currency = paid_for.currency
        return Proposal(
            OrderStatus.PAID,
            {
                "amountReceived": received,
                "fulfilledAt": None,
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
            OrderStatus.NEEDS_REVIEW,
            {"reviewReason": problem, "amountReceived": received},
            alert=f"Payment does not match order {order.get('paymentIntentId')}: {problem}",
        )
    # fulfilledAt: None marks "paid, not yet fulfilled", so a sweep can find orders whose
    # fulfilment was lost to a crash (status == paid and fulfilledAt == null).
    return Proposal(OrderStatus.PAID, {"amountReceived": received, "fulfilledAt": None})


def _processing(order: Json, payment_intent: Json) -> Proposal | Skip:
    return Proposal(OrderStatus.PROCESSING)


def _payment_failed(order: Json, payment_intent: Json) -> Proposal | Skip:
    error = payment_intent.get("last_payment_error")
    error = error if isinstance(error, dict) else {}
    return Proposal(
        OrderStatus.FAILED,
        {
            "lastPaymentError": {
                "code": _str(error, "code"),
                "declineCode": _str(error, "decline_code"),
                "message": _str(error, "message"),
            }
        },
    )


def _canceled(order: Json, payment_intent: Json) -> Proposal | Skip:
    return Proposal(
        OrderStatus.CANCELED,
        {"cancellationReason": _str(payment_intent, "cancellation_reason")},
    )


def _refunded(order: Json, charge: Json) -> Proposal | Skip:
    refunded = _int(charge, "amount_refunded")
    if refunded is None:
        return Skip("charge has no amount_refunded")
    charged = _int(charge, "amount")
    # amount_refunded is cumulative, so a late partial refund event carries a smaller number.
    if refunded <= (_int(order, "refundedAmount") or 0):
        return Skip("refund already recorded")
    if charge.get("refunded") is True or (charged is not None and refunded >= charged):
        return Proposal(OrderStatus.REFUNDED, {"refundedAmount": refunded})
    # A partial refund changes no status, but only an order holding money can have one.
    current = OrderStatus(order["status"])
    if not can_transition(current, OrderStatus.REFUNDED):
        return Skip(f"partial refund on a {current} order")
    return Proposal(None, {"refundedAmount": refunded})


EVENT_RULES: dict[str, EventRule] = {
    "payment_intent.succeeded": EventRule(_succeeded, True, "id"),
    "payment_intent.processing": EventRule(_processing, True, "id"),
    "payment_intent.payment_failed": EventRule(_payment_failed, True, "id"),
    "payment_intent.canceled": EventRule(_canceled, True, "id"),
    # A Charge, not a PaymentIntent: it names the order but cannot rebuild it.
    "charge.refunded": EventRule(_refunded, False, "payment_intent"),
}


def is_handled(event: StripeEvent) -> bool:
    return event["type"] in EVENT_RULES


def order_id_for(event: StripeEvent) -> str | None:
    """The order's document id (its PaymentIntent id), or None if the event does not name one."""
    rule = EVENT_RULES.get(event["type"])
    if rule is None:
        return None
    value = event["data"]["object"].get(rule.order_id_field)
    return value if isinstance(value, str) and STRIPE_ID.match(value) else None


# --- orders for payments made outside the page


def order_from_payment_intent(payment_intent: Json) -> Json | None:
    """The pending order the page would have written, rebuilt from the PaymentIntent alone.

    None when the intent lacks an amount or currency: then there is nothing to record.
    """
    amount, currency = _int(payment_intent, "amount"), _str(payment_intent, "currency")
    if amount is None or currency is None:
        return None
    metadata = payment_intent.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    return {
        "paymentIntentId": payment_intent["id"],
        "checkoutId": _str(metadata, "checkoutId"),
        "status": OrderStatus.PENDING.value,
        "items": order_items(_metadata_cart(payment_intent)),
        "amount": amount,
        "currency": currency.lower(),
        "email": _str(payment_intent, "receipt_email"),
        "clientSecretHash": None,
        "history": [],
        # Marks the order as rebuilt: its amount came from Stripe, not from our catalog.
        "source": SOURCE_WEBHOOK,
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


def _check(proposal: Proposal, current: OrderStatus, order: Json, created: int) -> str | None:
    """The reason the proposal must not apply, or None. The state machine is the last word."""
    new = proposal.status
    if new is None:
        return None
    if new == current:
        return f"order is already {current}"
    if not can_transition(current, new):
        return f"transition {current} -> {new} not allowed"
    last = _int(order, "lastEventCreated")
    if new in PROVISIONAL_STATUSES and last is not None and created < last:
        return f"stale: {new} happened before the order's last applied event"
    return None


def plan(order: Json | None, event: StripeEvent, now: datetime) -> Plan:
    """Decide what `event` does to `order` (None: no such order), as one atomic change."""
    rule = EVENT_RULES.get(event["type"])
    order_id = order_id_for(event)
    if rule is None or order_id is None:
        return _ignore("not an order event", order_id or "", order)
    obj: Json = event["data"]["object"]

    creates = order is None
    if order is None:
        rebuilt = order_from_payment_intent(obj) if rule.rebuilds_missing_order else None
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
    proposal = rule.handle(order, obj)
    if isinstance(proposal, Skip):
        return _ignore(proposal.reason, order_id, None if creates else order)
    refusal = _check(proposal, current, order, event["created"])
    if refusal:
        return _ignore(refusal, order_id, None if creates else order, proposal.alert)

    new = proposal.status or current
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
        "status": new.value,
        "history": [*(order.get("history") or []), entry],
        "lastEventCreated": max(event["created"], _int(order, "lastEventCreated") or 0),
    }
    return Plan(
        outcome=Outcome.APPLIED,
        # The warning goes into the reason too, so the ledger keeps it.
        reason=f"{reason}: {proposal.warning}" if proposal.warning else reason,
        order_id=order_id,
        previous_status=None if creates else current,
        status=new,
        writes={**order, **changes} if creates else changes,
        creates=creates,
        newly_paid=new == OrderStatus.PAID and current != OrderStatus.PAID,
        alert=proposal.alert,
        warning=proposal.warning,
    )
