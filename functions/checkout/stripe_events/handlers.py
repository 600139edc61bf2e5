"""One handler per event type, and the table (`EVENT_RULES`) that maps each handled type to its
handler: what fact an event adds to its order, or why it adds nothing (shaped like saleor's
Stripe webhooks). Pure: the plan (checkout.stripe_events.plan) runs a handler on the order as read.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from checkout.cart.metadata import SoldLine, cart_items
from checkout.cart.pricing import cart_adjustment_fields, order_items
from checkout.orders.money import amount_received, cart_total, refunded_amount
from checkout.orders.order import REBUILT
from checkout.orders.status import DisputeState, PaymentState
from checkout.platform.json_fields import Json, str_field
from checkout.stripe_events import declines, disputes, refunds
from checkout.stripe_events.event import STRIPE_ID, StripeEvent, event_object
from checkout.stripe_events.facts import Skip, newer_payment, refund_snapshot
from checkout.stripe_events.rebuild import ITEMS_REPRICED, MetadataCart, metadata_cart, sold_lines
from checkout.stripe_events.shipping_review import shipping_problem


@dataclass(frozen=True)
class Proposal:
    """What a handler asks for: the facts to record. The status follows from them."""

    fields: Json = field(default_factory=dict)
    alert: str | None = None  # something a person must look at; logged at ERROR
    warning: str | None = None  # handled, nothing to do, but worth a WARNING (not an alert)


# (order as stored, the event) -> what should happen
Handler = Callable[[Json, StripeEvent], Proposal | Skip]


@dataclass(frozen=True)
class EventRule:
    handle: Handler
    # The object is a PaymentIntent: a missing order can be rebuilt from its metadata.
    rebuilds_missing_order: bool
    # The field of the object that names the PaymentIntent, i.e. the order's document id.
    order_id_field: str


def _payment_problem(order: Json, payment_intent: Json) -> str | None:
    """Why a success must not count as paid, or None when it matches the order."""
    received = amount_received(payment_intent)
    currency = (str_field(payment_intent, "currency") or "").lower()
    if received != order.get("amount") or currency != order.get("currency"):
        return (
            f"paid {received} {currency or '?'} but the order is for "
            f"{order.get('amount')} {order.get('currency')}"
        )
    # A rebuilt order takes its amount from the PaymentIntent, so the check above cannot fail
    # for it; what can is whether the items it names really cost that much.
    # (Less its discount, plus its shipping: the metadata carries both.)
    if order.get("source") == REBUILT and cart_total(order) != received:
        return f"paid {received} {currency} but the cart in its metadata costs {cart_total(order)}"
    return None


def _paid_cart(order: Json, payment_intent: Json) -> MetadataCart | None:
    """The PaymentIntent's own cart, when it is exactly what was paid for in the order's currency.

    Our server sets a PaymentIntent's amount and `items` metadata in one call, and a browser can
    change neither; but concurrent cart updates can leave the order document on an older cart.
    A rebuilt order's items already are this metadata, so only a page order can lag behind it.
    """
    if order.get("source") == REBUILT:
        return None
    sold = metadata_cart(payment_intent)
    cart = sold.cart
    currency = (str_field(payment_intent, "currency") or "").lower()
    if (
        cart.lines
        and cart.amount == amount_received(payment_intent)
        and currency == cart.currency == order.get("currency")
    ):
        return sold
    return None


def _same_goods(order: Json, lines: tuple[SoldLine, ...]) -> bool:
    """Whether the order's items are the metadata's lines (at its unit amounts, when it has
    them): decided without the catalog, so that an ordinary success never reads it."""
    items = order.get("items")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        return False
    if len(items) != len(lines):
        return False
    return all(
        (i.get("productId"), i.get("quantity")) == (line.product_id, line.quantity)
        and line.unit_amount in (None, i.get("unitAmount"))
        for i, line in zip(items, lines, strict=True)
    )


def _correction(order: Json, payment_intent: Json, problem: str | None) -> Proposal | None:
    """The order's cart corrected to the PaymentIntent's, when that is what was paid for."""
    # Also when the totals agree: a same-priced newer cart is still other goods to ship.
    if not problem and _same_goods(order, sold_lines(payment_intent)):
        return None
    paid_for = _paid_cart(order, payment_intent)
    if paid_for is None:
        return None
    cart, received = paid_for.cart, amount_received(payment_intent)
    fields: Json = {
        "amountReceived": received,
        "amount": cart.amount,
        "items": order_items(cart),
        **cart_adjustment_fields(cart),
        "cartCorrectedFrom": {"amount": order.get("amount"), "items": order.get("items")},
    }
    if paid_for.repriced:
        fields[ITEMS_REPRICED] = True
    return Proposal(
        fields,
        warning=(
            f"cart corrected from the PaymentIntent: the order was for {order.get('amount')} "
            f"{cart.currency}, {received} {cart.currency} paid for {cart_items(cart)}"
        ),
    )


def _success_fields(order: Json, payment_intent: Json) -> Proposal:
    """The facts of a success: what was received (the cart corrected when it lagged), and a
    reviewReason when the payment or its shipping does not match the order."""
    success = _payment_fields(order, payment_intent)
    problem = shipping_problem(order, payment_intent)
    if problem is None or success.fields.get("reviewReason"):
        return success
    return Proposal(
        {**success.fields, "reviewReason": problem},
        alert=f"Order {order.get('paymentIntentId')} needs review: {problem}",
        warning=success.warning,
    )


def _payment_fields(order: Json, payment_intent: Json) -> Proposal:
    received = amount_received(payment_intent)
    problem = _payment_problem(order, payment_intent)
    if order.get("source") != REBUILT:
        corrected = _correction(order, payment_intent, problem)
        if corrected is not None:
            return corrected
    if problem:
        return Proposal(
            {"reviewReason": problem, "amountReceived": received},
            alert=f"Payment does not match order {order.get('paymentIntentId')}: {problem}",
        )
    return Proposal({"amountReceived": received})


def _succeeded(order: Json, event: StripeEvent) -> Proposal | Skip:
    fact = newer_payment(order, PaymentState.SUCCEEDED, event["created"])
    if isinstance(fact, Skip):
        return fact
    success = _success_fields(order, event_object(event))
    return Proposal({"payment": fact, **success.fields}, success.alert, success.warning)


def _processing(order: Json, event: StripeEvent) -> Proposal | Skip:
    fact = newer_payment(order, PaymentState.PROCESSING, event["created"])
    return fact if isinstance(fact, Skip) else Proposal({"payment": fact})


def _payment_failed(order: Json, event: StripeEvent) -> Proposal | Skip:
    # Every decline is recorded, also on an order that has failed, or been paid, since.
    record = declines.decline_record(event["id"], event["created"], event_object(event))
    decline = declines.recorded_decline(order, record)
    fact = newer_payment(order, PaymentState.FAILED, event["created"])
    fields: Json = {**(decline or {})}
    if not isinstance(fact, Skip):
        fields["payment"] = fact
    if not fields:
        return Skip("decline already recorded")
    return Proposal(fields)


def _canceled(order: Json, event: StripeEvent) -> Proposal | Skip:
    fact = newer_payment(order, PaymentState.CANCELED, event["created"])
    if isinstance(fact, Skip):
        return fact
    reason = str_field(event_object(event), "cancellation_reason")
    return Proposal({"payment": fact, "cancellationReason": reason})


def _refund_fields(order: Json, snapshot: Json | None, records: list[Json]) -> Proposal | Skip:
    known = [r for r in order.get("refunds") or [] if isinstance(r, dict)]
    merged = refunds.merged_refunds(known, records)
    known_snapshot = refund_snapshot(order)
    newest = (
        known_snapshot if snapshot is None else refunds.newer_snapshot(known_snapshot, snapshot)
    )
    if merged == known and newest == known_snapshot:
        return Skip("refund already recorded")
    fields: Json = {"refunds": merged, "refundedAmount": refunded_amount(newest, merged)}
    if newest is not None:
        fields["chargeRefunded"] = newest
    return Proposal(fields)


def _charge_refunded(order: Json, event: StripeEvent) -> Proposal | Skip:
    charge = event_object(event)
    snapshot = refunds.charge_snapshot(charge, event["created"])
    if snapshot is None:
        return Skip("charge has no amount_refunded")
    return _refund_fields(order, snapshot, refunds.charge_refund_records(charge, event["created"]))


def _refund(order: Json, event: StripeEvent) -> Proposal | Skip:
    record = refunds.refund_record(event_object(event), event["created"])
    if record is None:
        return Skip("refund has no id or amount")
    return _refund_fields(order, None, [record])


def _dispute(order: Json, event: StripeEvent) -> Proposal | Skip:
    dispute = event_object(event)
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
    record = disputes.fraud_warning_record(event_object(event))
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
    value = event_object(event).get(rule.order_id_field)
    return value if isinstance(value, str) and STRIPE_ID.match(value) else None


def names_no_payment_intent(event: StripeEvent) -> bool:
    """A handled event whose object has no PaymentIntent at all: never one of this shop's."""
    rule = EVENT_RULES.get(event["type"])
    return rule is not None and event_object(event).get(rule.order_id_field) is None
