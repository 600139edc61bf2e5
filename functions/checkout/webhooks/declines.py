"""Every declined attempt on a PaymentIntent, so a card-testing run leaves a trace of each try.

The order keeps a count, the newest decline as `lastPaymentError`, and a bounded list of the
most recent ones (newest last, by the time Stripe created the event). A decline already in the
list is not counted again; older duplicates are stopped by the event ledger.

One attempt can arrive twice under two event ids: as Stripe's own `payment_intent.payment_failed`
and as an observation of the PaymentIntent by the return page or the reconciler
(checkout.orders.stripe_sync), in either order. So an attempt is known by its failed charge
(`last_payment_error.charge`, set for card errors) when it has one; an observation without one
(a failed 3D Secure authentication) is the newest recorded decline when its error is the same
and one of the two is an observation (two such events from Stripe are two attempts).
"""

from checkout.webhooks.stripe_fields import Json, dict_field, int_field, str_field

RECENT_DECLINES = 10


# Stripe's own event ids; observations (checkout.orders.stripe_sync) have ids of their own.
_STRIPE_EVENT_PREFIX = "evt_"
_ERROR_FIELDS = ("code", "declineCode", "message")


def decline_record(event_id: str, event_created: int, payment_intent: Json) -> Json:
    error = dict_field(payment_intent, "last_payment_error")
    return {
        "eventId": event_id,
        "eventCreated": event_created,
        "charge": str_field(error, "charge"),
        "code": str_field(error, "code"),
        "declineCode": str_field(error, "decline_code"),
        "message": str_field(error, "message"),
    }


def _already_recorded(recent: list[Json], record: Json) -> bool:
    if any(r.get("eventId") == record["eventId"] for r in recent):
        return True
    if record["charge"]:
        return any(r.get("charge") == record["charge"] for r in recent)
    newest = max(recent, key=_key) if recent else None
    return (
        newest is not None
        and not (_from_stripe(record) and _from_stripe(newest))
        and all(newest.get(f) == record[f] for f in _ERROR_FIELDS)
    )


def _from_stripe(record: Json) -> bool:
    return str(record.get("eventId")).startswith(_STRIPE_EVENT_PREFIX)


def _key(record: Json) -> tuple[int, str]:
    return (int_field(record, "eventCreated") or 0, str(record.get("eventId")))


def recorded_decline(order: Json, record: Json) -> Json | None:
    """The order's decline fields with `record` added, or None if it is already recorded."""
    recent = [r for r in order.get("recentDeclines") or [] if isinstance(r, dict)]
    if _already_recorded(recent, record):
        return None
    # Orders written before declines were counted hold one lastPaymentError and no count.
    count = int_field(order, "declineCount")
    if count is None:
        count = 1 if order.get("lastPaymentError") else 0
    recent = sorted([*recent, record], key=_key)[-RECENT_DECLINES:]
    newest = recent[-1]
    return {
        "declineCount": count + 1,
        "recentDeclines": recent,
        "lastPaymentError": {
            "code": newest["code"],
            "declineCode": newest["declineCode"],
            "message": newest["message"],
        },
    }
