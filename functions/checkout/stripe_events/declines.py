"""Every declined attempt on a PaymentIntent, so a card-testing run leaves a trace of each try.

The order keeps a count, the newest decline as `lastPaymentError`, and a bounded list of the
most recent ones (newest last, by the time Stripe created the event). Each attempt is counted
once, whoever reports it first.

One attempt can arrive twice under two event ids: as Stripe's own `payment_intent.payment_failed`
(an `evt_` id; Stripe sends one per attempt, so two of them are always two attempts) and as an
observation of the PaymentIntent by the return page or the reconciler
(checkout.stripe_events.observations), in either order, and observed more than once. So a report is
compared with every recorded decline, not only the newest: an observation is the attempt whose
failed charge it names (`last_payment_error.charge`, set for card errors); without a charge (a
failed 3D Secure authentication) it is a recorded attempt with the same error and, when both
name one, the same PaymentMethod (`last_payment_error.payment_method`). When Stripe's event for
an attempt that an observation recorded first arrives, its record takes the observation's place
(same count), so the list ends the same whatever the order. So an observation is never counted
on top of Stripe's event for its attempt; at worst (two attempts with the same error and no
PaymentMethod) it is taken for the other one until Stripe's own events, which always count, come.
"""

from checkout.platform.json_fields import Json, dict_field, int_field, str_field

RECENT_DECLINES = 10


# Stripe's own event ids; observations (checkout.stripe_events.observations) have ids of their own.
_STRIPE_EVENT_PREFIX = "evt_"
_ERROR_FIELDS = ("code", "declineCode", "message")


def _payment_method_id(error: Json) -> str | None:
    # An expanded PaymentMethod object, as Stripe sends it; an id alone is taken too.
    method = error.get("payment_method")
    if isinstance(method, dict):
        return str_field(method, "id")
    return method if isinstance(method, str) and method else None


def decline_record(event_id: str, event_created: int, payment_intent: Json) -> Json:
    error = dict_field(payment_intent, "last_payment_error")
    return {
        "eventId": event_id,
        "eventCreated": event_created,
        "charge": str_field(error, "charge"),
        "paymentMethod": _payment_method_id(error),
        "code": str_field(error, "code"),
        "declineCode": str_field(error, "decline_code"),
        "message": str_field(error, "message"),
    }


def _from_stripe(record: Json) -> bool:
    return str(record.get("eventId")).startswith(_STRIPE_EVENT_PREFIX)


def _same_attempt(known: Json, record: Json) -> bool:
    """Whether two reports of a decline are of one attempt (see the module's docstring)."""
    if known.get("eventId") == record["eventId"]:
        return True
    if _from_stripe(known) and _from_stripe(record):
        return False
    if known.get("charge") or record["charge"]:
        return bool(known.get("charge") == record["charge"])
    methods = (known.get("paymentMethod"), record["paymentMethod"])
    if all(methods) and methods[0] != methods[1]:
        return False
    return all(known.get(f) == record[f] for f in _ERROR_FIELDS)


def _key(record: Json) -> tuple[int, str]:
    return (int_field(record, "eventCreated") or 0, str(record.get("eventId")))


def _fields(recent: list[Json]) -> Json:
    recent = sorted(recent, key=_key)[-RECENT_DECLINES:]
    newest = recent[-1]
    return {
        "recentDeclines": recent,
        "lastPaymentError": {
            "code": newest["code"],
            "declineCode": newest["declineCode"],
            "message": newest["message"],
        },
    }


def recorded_decline(order: Json, record: Json) -> Json | None:
    """The order's decline fields with `record` added, or None if it is already recorded.

    `declineCount` is among them only when `record` is a new attempt (the attempt cap's
    follow-up, checkout.stripe_events.attempt_cap, relies on that)."""
    recent = sorted((r for r in order.get("recentDeclines") or [] if isinstance(r, dict)), key=_key)
    known = next((r for r in recent if _same_attempt(r, record)), None)
    if known is not None:
        if _from_stripe(known) or not _from_stripe(record):
            return None
        # Stripe's event for an attempt an observation recorded first: it takes its place.
        return _fields([record if r is known else r for r in recent])
    # Orders written before declines were counted hold one lastPaymentError and no count.
    count = int_field(order, "declineCount")
    if count is None:
        count = 1 if order.get("lastPaymentError") else 0
    return {"declineCount": count + 1, **_fields([*recent, record])}
