"""Webhook authentication: the signing helper, then forged, missing, expired and replayed
signatures, several secrets, and bodies that are not events."""

import json
import time

import pytest
import stripe

from checkout.stripe_events.event import MalformedEvent, parse_event
from checkout.webhooks.signature import InvalidWebhook, verified_event, verify_signature
from tests import stripe_events
from tests.stripe_signing import body, sign, sign_with

SECRET = "whsec_unit_current"
OLD_SECRET = "whsec_unit_previous"


def a_body() -> bytes:
    return body(stripe_events.event("payment_intent.succeeded", stripe_events.payment_intent()))


# --- the signing helper is Stripe's scheme


def test_helper_signs_exactly_as_the_stripe_sdk_does() -> None:
    payload = a_body()
    expected = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), SECRET, timestamp=1_700_000_000
    )
    assert sign(payload, SECRET, 1_700_000_000) == expected


def test_helper_matches_a_known_vector() -> None:
    # printf '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test
    assert sign(b"{}", "whsec_test", 1_700_000_000) == (
        "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
    )


def test_sdk_accepts_what_the_helper_signs() -> None:
    payload = a_body()
    event = stripe.Webhook.construct_event(payload, sign(payload, SECRET), SECRET)
    assert event.type == "payment_intent.succeeded"


# --- verify_signature


def test_a_fresh_signature_with_the_secret_passes() -> None:
    payload = a_body()
    verify_signature(payload, sign(payload, SECRET), [SECRET])


@pytest.mark.parametrize("header", [None, ""])
def test_a_missing_signature_is_rejected(header: str | None) -> None:
    with pytest.raises(InvalidWebhook, match="missing"):
        verify_signature(a_body(), header, [SECRET])


@pytest.mark.parametrize(
    "header",
    ["garbage", "t=notanumber,v1=abc", "v1=abc", "t=1700000000", f"t={int(time.time())},v0=abc"],
)
def test_a_malformed_header_is_rejected(header: str) -> None:
    with pytest.raises(InvalidWebhook):
        verify_signature(a_body(), header, [SECRET])


def test_a_forged_signature_is_rejected() -> None:
    payload = a_body()
    with pytest.raises(InvalidWebhook, match="No signatures found matching"):
        verify_signature(payload, sign(payload, "whsec_attacker"), [SECRET])


def test_a_tampered_body_is_rejected() -> None:
    payload = a_body()
    header = sign(payload, SECRET)
    tampered = payload.replace(b'"amount": 5000', b'"amount": 1')
    assert tampered != payload
    with pytest.raises(InvalidWebhook):
        verify_signature(tampered, header, [SECRET])


def test_the_signature_covers_the_raw_bytes_not_the_json() -> None:
    # Same JSON value, different bytes: re-serialising a body before checking it would break.
    payload = a_body()
    compact = json.dumps(json.loads(payload), separators=(",", ":")).encode()
    with pytest.raises(InvalidWebhook):
        verify_signature(compact, sign(payload, SECRET), [SECRET])


def test_an_expired_signature_is_rejected() -> None:
    payload = a_body()
    header = sign(payload, SECRET, int(time.time()) - 301)
    with pytest.raises(InvalidWebhook, match="tolerance"):
        verify_signature(payload, header, [SECRET])


def test_a_signature_just_inside_the_tolerance_passes() -> None:
    payload = a_body()
    verify_signature(payload, sign(payload, SECRET, int(time.time()) - 290), [SECRET])


def test_a_replayed_signature_on_another_body_is_rejected() -> None:
    # A captured header is worth nothing for any other body...
    original, other = a_body(), a_body()
    with pytest.raises(InvalidWebhook):
        verify_signature(other, sign(original, SECRET), [SECRET])


def test_a_replay_of_an_old_delivery_is_rejected() -> None:
    # ...and for its own body only within the tolerance; inside it, the ledger makes a replay a
    # no-op (tests/integration/test_webhook_delivery.py).
    payload = a_body()
    header = sign(payload, SECRET, int(time.time()) - 3600)
    with pytest.raises(InvalidWebhook, match="tolerance"):
        verify_signature(payload, header, [SECRET])


def test_any_of_several_secrets_is_accepted_during_rotation() -> None:
    payload = a_body()
    verify_signature(payload, sign(payload, OLD_SECRET), [SECRET, OLD_SECRET])
    verify_signature(payload, sign(payload, SECRET), [SECRET, OLD_SECRET])


def test_a_header_signed_with_several_secrets_is_accepted() -> None:
    # During a rotation on Stripe's side one header carries a v1 per active secret.
    payload = a_body()
    verify_signature(payload, sign_with(payload, ["whsec_other", SECRET]), [SECRET])


def test_no_secret_configured_rejects_everything() -> None:
    payload = a_body()
    with pytest.raises(InvalidWebhook):
        verify_signature(payload, sign(payload, SECRET), [])


@pytest.mark.parametrize(
    "header",
    [
        "t=1,v1=\xe9\xe9",
        f"t={int(time.time())},v1=caf\xe9",
        "t=\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660,v1=00",
    ],
    ids=["latin1-signature", "latin1-fresh", "arabic-digits-timestamp"],
)
def test_a_non_ascii_header_is_rejected(header: str) -> None:
    # hmac.compare_digest raises TypeError on non-ASCII str: that must be a 400, not a 500.
    with pytest.raises(InvalidWebhook, match="ASCII"):
        verify_signature(a_body(), header, [SECRET])


def test_a_genuine_signature_next_to_a_non_ascii_one_is_still_rejected() -> None:
    # Stripe never sends non-ASCII, so the whole header is refused, whatever else it carries.
    payload = a_body()
    with pytest.raises(InvalidWebhook, match="ASCII"):
        verify_signature(payload, f"{sign(payload, SECRET)},v1=\xe9", [SECRET])


@pytest.mark.parametrize("error", [TypeError("unsupported operand"), ValueError("bad value")])
def test_an_unexpected_error_inside_stripes_check_is_rejected(
    monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def broken(*args: object) -> bool:
        raise error

    monkeypatch.setattr(stripe.WebhookSignature, "verify_header", broken)
    with pytest.raises(InvalidWebhook, match="malformed"):
        verify_signature(a_body(), "t=1,v1=00", [SECRET])


def test_a_body_that_is_not_utf8_is_rejected() -> None:
    payload = b"\xff\xfe not utf-8"
    with pytest.raises(InvalidWebhook, match="UTF-8"):
        verify_signature(payload, "t=1,v1=00", [SECRET])


# --- parse_event


def test_a_verified_event_is_returned_as_plain_data() -> None:
    payload = a_body()
    event = verified_event(payload, sign(payload, SECRET), [SECRET])
    assert type(event) is dict
    assert event["type"] == "payment_intent.succeeded"


def test_verified_event_checks_the_signature_first() -> None:
    with pytest.raises(InvalidWebhook, match="missing"):
        verified_event(b"not json", None, [SECRET])


def _event_with(**changes: object) -> bytes:
    event = stripe_events.event("payment_intent.succeeded", stripe_events.payment_intent())
    event.update(changes)
    return json.dumps(event).encode()


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        b'"event"',
        json.dumps({"hello": "world"}).encode(),
        _event_with(object="payment_intent"),
        _event_with(id=None),
        _event_with(id="evt_../../orders/pi_x"),
        _event_with(id="evt/with/slashes"),
        _event_with(id=""),
        _event_with(type=None),
        _event_with(type=""),
        _event_with(created="yesterday"),
        _event_with(created=True),
        _event_with(created=10**13),  # milliseconds, or garbage: fromtimestamp would overflow
        _event_with(created=-1),
        _event_with(created=0),
        _event_with(created=2**32),
        _event_with(created=1.7e9),
        _event_with(data=None),
        _event_with(data={"object": "pi_123"}),
    ],
)
def test_a_body_that_is_not_an_event_is_rejected(payload: bytes) -> None:
    with pytest.raises(MalformedEvent):
        parse_event(payload)


@pytest.mark.parametrize("created", [1, 1_700_000_000, 2**32 - 1])
def test_any_plausible_created_time_is_accepted(created: int) -> None:
    assert parse_event(_event_with(created=created))["created"] == created
