"""Authenticating a webhook delivery: raw bytes and a Stripe-Signature header in, an event out.

Nothing from a delivery is trusted until its signature checks out over the exact bytes Stripe
sent, so the body must be passed here unparsed (re-serialised JSON would not match).
"""

import json
import re
from collections.abc import Sequence
from typing import Any

from stripe import SignatureVerificationError, WebhookSignature

# Stripe's own default: a signature older than this is a replay, even when it is genuine.
DEFAULT_TOLERANCE_SECONDS = 300

# A plausible Unix time for an event's `created`: anything outside it (milliseconds, garbage)
# has no datetime, and would fail inside the transaction on every retry.
MAX_CREATED = 2**32

# Event and object ids become Firestore document ids; Stripe's ids are [A-Za-z0-9_] only, and
# anything else (a "/" above all) must not reach a document path.
STRIPE_ID = re.compile(r"^[A-Za-z0-9_]{1,255}$")

StripeEvent = dict[str, Any]


class InvalidWebhook(Exception):
    """The delivery is not a genuine, recent Stripe event. The message is safe to log."""


def verify_signature(
    payload: bytes,
    header: str | None,
    secrets: Sequence[str],
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Accept the delivery if any current secret signed it (several during a rotation)."""
    if not header:
        raise InvalidWebhook("missing Stripe-Signature header")
    # Stripe's header is ASCII; stripe's check compares it with hmac.compare_digest, which
    # raises TypeError on a non-ASCII str (a 500 instead of a 400).
    if not header.isascii():
        raise InvalidWebhook("Stripe-Signature header is not ASCII")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidWebhook("body is not UTF-8") from None
    reasons = []
    for secret in secrets:
        try:
            WebhookSignature.verify_header(text, header, secret, tolerance)
            return
        except SignatureVerificationError as exc:
            reasons.append(str(exc.user_message or exc))
        except (TypeError, ValueError):
            # Any other input stripe's parser chokes on is still the sender's fault, not ours.
            reasons.append("malformed Stripe-Signature header")
    # stripe checks the HMAC before the timestamp, so a tolerance failure means a genuine but
    # old signature: report that rather than the other secrets' "no match".
    expired = [r for r in reasons if "tolerance" in r]
    raise InvalidWebhook((expired or reasons or ["no webhook secret"])[0])


def parse_event(payload: bytes) -> StripeEvent:
    """The verified body as a plain event dict, or InvalidWebhook if it is not an event."""
    try:
        event = json.loads(payload)
    except ValueError:
        raise InvalidWebhook("body is not JSON") from None
    if not isinstance(event, dict) or event.get("object") != "event":
        raise InvalidWebhook("body is not a Stripe event")
    event_id, event_type, created = event.get("id"), event.get("type"), event.get("created")
    if not isinstance(event_id, str) or not STRIPE_ID.match(event_id):
        raise InvalidWebhook("event has no valid id")
    if not isinstance(event_type, str) or not event_type:
        raise InvalidWebhook("event has no type")
    if not isinstance(created, int) or isinstance(created, bool):
        raise InvalidWebhook("event has no created time")
    if not 0 < created < MAX_CREATED:
        raise InvalidWebhook("event created time is out of range")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise InvalidWebhook("event has no data.object")
    return event


def verified_event(payload: bytes, header: str | None, secrets: Sequence[str]) -> StripeEvent:
    """verify_signature, then parse_event: the only way the webhook reads a delivery."""
    verify_signature(payload, header, secrets)
    return parse_event(payload)
