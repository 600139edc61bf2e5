"""Authenticating a webhook delivery: raw bytes and a Stripe-Signature header in, an event out.

Nothing from a delivery is trusted until its signature checks out over the exact bytes Stripe
sent, so the body must be passed here unparsed (re-serialised JSON would not match).
"""

from collections.abc import Sequence

from stripe import SignatureVerificationError, WebhookSignature

from checkout.stripe_events.event import MalformedEvent, StripeEvent, parse_event

# Stripe's own default: a signature older than this is a replay, even when it is genuine.
DEFAULT_TOLERANCE_SECONDS = 300


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


def verified_event(payload: bytes, header: str | None, secrets: Sequence[str]) -> StripeEvent:
    """verify_signature, then parse_event: the only way the webhook reads a delivery."""
    verify_signature(payload, header, secrets)
    try:
        return parse_event(payload)
    except MalformedEvent as malformed:
        raise InvalidWebhook(str(malformed)) from None
