"""Every declined attempt on a PaymentIntent, so a card-testing run leaves a trace of each try.

The order keeps a count, the newest decline as `lastPaymentError`, and a bounded list of the
most recent ones (newest last, by the time Stripe created the event). A decline already in the
list is not counted again; older duplicates are stopped by the event ledger.
"""

from checkout.webhooks.stripe_fields import Json, dict_field, int_field, str_field

RECENT_DECLINES = 10


def decline_record(event_id: str, event_created: int, payment_intent: Json) -> Json:
    error = dict_field(payment_intent, "last_payment_error")
    return {
        "eventId": event_id,
        "eventCreated": event_created,
        "code": str_field(error, "code"),
        "declineCode": str_field(error, "decline_code"),
        "message": str_field(error, "message"),
    }


def _key(record: Json) -> tuple[int, str]:
    return (int_field(record, "eventCreated") or 0, str(record.get("eventId")))


def recorded_decline(order: Json, record: Json) -> Json | None:
    """The order's decline fields with `record` added, or None if it is already recorded."""
    recent = [r for r in order.get("recentDeclines") or [] if isinstance(r, dict)]
    if any(r.get("eventId") == record["eventId"] for r in recent):
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
