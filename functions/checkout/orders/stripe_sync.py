"""Bringing an order up to date with its PaymentIntent as Stripe has it now, when no webhook did.

Used by the return page (GET /api/orders/{id}) and by the reconciler. What Stripe says is turned
into an event of the matching `payment_intent.*` type and applied through the same ledger and
the same pure plan as a webhook delivery, so the state machine, the exactly-once ledger and the
fulfilment rule are the webhook's own. The event's id names who looked (`reconciler_...`,
`return_page_...`), so the ledger and the order's history show where a change came from.
"""

import time
from dataclasses import dataclass
from typing import Any

from checkout.intents import stripe_gateway
from checkout.orders import attempt_cap, fulfilment
from checkout.orders.status import UNPAID_STATUSES, OrderStatus
from checkout.platform import structured_log as logger
from checkout.platform.firestore_client import db
from checkout.webhooks import ledger
from checkout.webhooks.signature import STRIPE_ID, StripeEvent

Json = dict[str, Any]

# Who observed the PaymentIntent: the first part of the event id.
RECONCILER = "reconciler"
RETURN_PAGE = "return_page"

# A PaymentIntent status -> the event Stripe sends when a PaymentIntent reaches it.
_EVENT_FOR_STATUS = {
    "succeeded": "payment_intent.succeeded",
    "processing": "payment_intent.processing",
    "canceled": "payment_intent.canceled",
}
_S = OrderStatus
# Order statuses that already say what an observed event type says.
_ALREADY_SAID: dict[str, frozenset[OrderStatus]] = {
    "payment_intent.succeeded": frozenset(_S) - UNPAID_STATUSES - {_S.CANCELED},
    "payment_intent.processing": frozenset({_S.PROCESSING}),
    "payment_intent.payment_failed": frozenset({_S.FAILED}),
    "payment_intent.canceled": frozenset({_S.CANCELED}),
}


def observed_event_type(payment_intent: Json) -> str | None:
    """The event type that says what this PaymentIntent's state means for its order, if any."""
    status = payment_intent.get("status")
    if isinstance(status, str) and status in _EVENT_FOR_STATUS:
        return _EVENT_FOR_STATUS[status]
    # Back to requires_payment_method with an error: the last attempt failed (Stripe sent
    # payment_intent.payment_failed then). Without an error it simply was never paid.
    if status == "requires_payment_method" and isinstance(
        payment_intent.get("last_payment_error"), dict
    ):
        return "payment_intent.payment_failed"
    # requires_action, requires_confirmation, requires_capture: nothing has happened yet.
    return None


def observed_event(
    payment_intent: Json, order: Json | None, observer: str, observed_at: int
) -> StripeEvent | None:
    """What `observer` saw at `observed_at` (Unix seconds), shaped as the event Stripe sends.

    `created` is the moment just before Stripe was asked: the state is at least that recent, so
    the plan's stale-event check ranks it after every event that happened before the question,
    and before any event that happens later.

    The id is the same for the same observation of the same version of the order (its
    lastEventCreated), so concurrent observers (two passes, two instances serving the return
    page) write one ledger entry, and the others are duplicates; once the order has moved on,
    a new observation gets a new id.
    """
    event_type = observed_event_type(payment_intent)
    pi_id = payment_intent.get("id")
    if event_type is None or not isinstance(pi_id, str) or not STRIPE_ID.match(pi_id):
        return None
    if (order or {}).get("status") in _ALREADY_SAID[event_type]:
        # Stripe says what the order says: nothing to apply, so no ledger entry, no history
        # entry and no write (applied, each look at an ACH debit `processing` for days added
        # both, every pass). A decline the webhook missed on a failed order still comes from
        # the events catch-up (checkout.reconcile), with Stripe's own event.
        return None
    version = (order or {}).get("lastEventCreated")
    version = version if isinstance(version, int) else 0
    return {
        "id": f"{observer}_{pi_id}_{event_type.split('.', 1)[1]}_{version}",
        "object": "event",
        "type": event_type,
        "created": observed_at,
        "livemode": bool(payment_intent.get("livemode", False)),
        "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": payment_intent},
    }


@dataclass(frozen=True)
class Synced:
    """What one observation did: the event applied (None: Stripe's state implies nothing)."""

    event: StripeEvent | None
    applied: ledger.Applied | None
    fulfilment: str | None = None  # FULFILLED or FULFILMENT_FAILED when it made the order paid

    @property
    def outcome(self) -> str:
        if self.event is None or self.applied is None:
            return "nothing_to_apply"
        if self.applied.duplicate or self.applied.plan is None:
            return "duplicate"
        return self.applied.plan.outcome.value

    @property
    def order(self) -> Json | None:
        return self.applied.order if self.applied is not None else None


FULFILLED = "fulfilled"
FULFILMENT_FAILED = "fulfilment_failed"


def fulfil_newly_paid(applied: ledger.Applied) -> str | None:
    """Fulfil the order this application made paid, as the webhook does after its commit.

    FULFILLED, FULFILMENT_FAILED (logged; the reconciler's recovery retries it), or None when
    this application did not make the order paid."""
    if applied.plan is None or not applied.plan.newly_paid or applied.order is None:
        return None
    order_id = applied.order.get("paymentIntentId")
    try:
        fulfilment.fulfil(applied.order)
    except Exception as error:  # noqa: BLE001 - the payment is recorded; recovery retries this
        logger.error(
            "fulfilment failed; order is paid but not fulfilled",
            orderId=order_id,
            errorType=type(error).__name__,
        )
        return FULFILMENT_FAILED
    return FULFILLED


def apply_payment_intent(
    payment_intent: Json, order: Json | None, observer: str, observed_at: int
) -> Synced:
    """Apply what a PaymentIntent retrieved from Stripe says to its order, exactly once."""
    event = observed_event(payment_intent, order, observer, observed_at)
    if event is None:
        return Synced(None, None)
    applied = ledger.apply_event(db(), event, payment_intent["id"])
    fulfilment = fulfil_newly_paid(applied)
    attempt_cap.follow_up(applied)
    if applied.plan is not None:
        logger.info(
            "order checked with stripe",
            observer=observer,
            orderId=payment_intent["id"],
            eventId=event["id"],
            type=event["type"],
            outcome=applied.plan.outcome.value,
            reason=applied.plan.reason,
        )
    return Synced(event, applied, fulfilment)


def sync_order(order_id: str, order: Json | None, observer: str) -> Synced:
    """Ask Stripe for the order's PaymentIntent and apply what it says. Raises ApiError for
    Stripe's failures and Firestore's errors as they are."""
    observed_at = int(time.time())
    payment_intent = stripe_gateway.retrieve_payment_intent(order_id)
    return apply_payment_intent(payment_intent, order, observer, observed_at)
