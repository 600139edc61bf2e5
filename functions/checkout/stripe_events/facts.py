"""The facts an order records about its payment, and the status they add up to.

A handler never sets a status: it adds the *fact* its event carries (the newest payment state,
a refund by id, the Charge's refunded total, a dispute by id, a decline), and only when the
order does not know it already; the status is derived from all recorded facts
(checkout.orders.status.derive_status). Orders written before facts were recorded are read
through their status (the legacy reading below). docs/architecture.md has the why.
"""

from dataclasses import dataclass

from checkout.orders.money import paid_amount
from checkout.orders.status import OrderStatus, PaymentState, derive_status
from checkout.platform.json_fields import Json, int_field
from checkout.stripe_events import disputes

# The fact that a payment succeeded for units no longer on sale (checkout.stripe_events.stock):
# {"products": {productId: units short}, "at": the success event's time}. Nothing was sold; the
# order is needs_review, never fulfilled, and refunded in full.
SOLD_OUT = "soldOut"


@dataclass(frozen=True)
class Skip:
    """A handler's "nothing to do": the order already knows this. The reason goes to the ledger."""

    reason: str


def status_of(order: Json | None) -> OrderStatus | None:
    """The order's recorded status, or None (no order, or a status this code does not know)."""
    try:
        return OrderStatus(order["status"]) if order else None
    except (KeyError, ValueError):
        return None


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
    state = _LEGACY_PAYMENT.get(status_of(order) or OrderStatus.PENDING)
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


def payment_state(order: Json | None) -> PaymentState | None:
    """The newest payment state the order records (None: Stripe has said nothing, or no order)."""
    return _payment_state(order) if order else None


def _payment_state(order: Json) -> PaymentState | None:
    fact = _payment_fact(order)
    return PaymentState(fact["state"]) if fact else None


def refund_snapshot(order: Json) -> Json | None:
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
        sold_out=isinstance(order.get(SOLD_OUT), dict),
        fully_refunded=refunded > 0 and refunded >= paid_amount(order),
        dispute=disputes.order_dispute_state(disputes.recorded_disputes(order)),
    )


def newer_payment(order: Json, state: PaymentState, created: int) -> Json | Skip:
    """The payment fact to record, or why the order already knows better."""
    known = _payment_fact(order)
    fact = _payment(state, created)
    if _payment_key(fact) > _payment_key(known):
        return fact
    if known is not None and known["state"] == fact["state"]:
        return Skip(f"order is already {status_of(order)}")
    latest = (known or {}).get("state")
    return Skip(f"stale: {state} happened before the order's last payment event ({latest})")
