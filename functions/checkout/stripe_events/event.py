"""A Stripe event as this code reads it: `StripeEvent`, and `parse_event` to check one's shape.

A delivery's signature is checked first (checkout.webhooks.signature); an event listed from the
Events API is trusted, but an id becomes a document path and `created` a datetime, so both are
parsed here the same way.
"""

import json
import re
from typing import Any

# A plausible Unix time for an event's `created`: anything outside it (milliseconds, garbage)
# has no datetime, and would fail inside the transaction on every retry.
MAX_CREATED = 2**32

# Event and object ids become Firestore document ids; Stripe's ids are [A-Za-z0-9_] only, and
# anything else (a "/" above all) must not reach a document path.
STRIPE_ID = re.compile(r"^[A-Za-z0-9_]{1,255}$")

StripeEvent = dict[str, Any]


class MalformedEvent(ValueError):
    """The body is not a usable Stripe event. The message is safe to log."""


def parse_event(payload: bytes) -> StripeEvent:
    """The body as a plain event dict, or MalformedEvent if it is not an event."""
    try:
        event = json.loads(payload)
    except ValueError:
        raise MalformedEvent("body is not JSON") from None
    if not isinstance(event, dict) or event.get("object") != "event":
        raise MalformedEvent("body is not a Stripe event")
    event_id, event_type, created = event.get("id"), event.get("type"), event.get("created")
    if not isinstance(event_id, str) or not STRIPE_ID.match(event_id):
        raise MalformedEvent("event has no valid id")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedEvent("event has no type")
    if not isinstance(created, int) or isinstance(created, bool):
        raise MalformedEvent("event has no created time")
    if not 0 < created < MAX_CREATED:
        raise MalformedEvent("event created time is out of range")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise MalformedEvent("event has no data.object")
    return event


def event_object(event: StripeEvent) -> dict[str, Any]:
    """The object the event is about (`data.object`; parse_event made sure it is one)."""
    obj: dict[str, Any] = event["data"]["object"]
    return obj
