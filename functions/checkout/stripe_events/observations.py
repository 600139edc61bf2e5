"""Observations: a PaymentIntent as Stripe has it now, turned into the event it implies.

The return page (checkout.intents.return_check) and the reconciler's steps ask Stripe for a
PaymentIntent when no webhook seems to have come. What Stripe says is shaped as the event of the
matching `payment_intent.*` type and applied by the one pipeline
(checkout.stripe_events.apply), so the state machine, the exactly-once ledger and the
fulfilment rule are the webhook's own. The event's id names who looked (`reconciler_...`,
`return_page_...`), and the history entry its source.
"""

import time

from checkout.orders.status import UNPAID_ORDER_STATUSES, OrderStatus
from checkout.platform.json_fields import Json
from checkout.stripe_api import payment_intents
from checkout.stripe_events.apply import Result, apply
from checkout.stripe_events.event import STRIPE_ID, StripeEvent
from checkout.stripe_events.plan import Outcome, Source

# The observers, as the event ids name them.
RECONCILER, RETURN_PAGE = Source.RECONCILER, Source.RETURN_PAGE

# A PaymentIntent status -> the event Stripe sends when a PaymentIntent reaches it.
_EVENT_FOR_STATUS = {
    "succeeded": "payment_intent.succeeded",
    "processing": "payment_intent.processing",
    "canceled": "payment_intent.canceled",
}
_S = OrderStatus
# Order statuses that already say what an observed event type says.
_ALREADY_SAID: dict[str, frozenset[OrderStatus]] = {
    "payment_intent.succeeded": frozenset(_S) - UNPAID_ORDER_STATUSES - {_S.CANCELED},
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


def apply_observation(
    payment_intent: Json, order: Json | None, source: Source, observed_at: int
) -> Result:
    """Apply what a PaymentIntent retrieved from Stripe at `observed_at` says to its order,
    exactly once (NOTHING_TO_APPLY when it says nothing the order does not know)."""
    event = observed_event(payment_intent, order, source, observed_at)
    if event is None:
        return Result(None, Outcome.NOTHING_TO_APPLY)
    return apply(event, source)


def check_with_stripe(order_id: str, order: Json | None, source: Source) -> Result:
    """Ask Stripe for the order's PaymentIntent and apply what it says. Raises ApiError for
    Stripe's failures (PaymentIntentMissing when it does not know it) and Firestore's errors."""
    observed_at = int(time.time())
    payment_intent = payment_intents.retrieve_payment_intent(order_id)
    return apply_observation(payment_intent, order, source, observed_at)
