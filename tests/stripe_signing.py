"""Signing webhook payloads exactly as Stripe does, for tests that play Stripe.

    Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed by the secret>

Written from Stripe's documented scheme rather than with the SDK's own helper, so that the tests
check the production code against the specification, not the SDK against itself.
"""

import hashlib
import hmac
import json
import time
from typing import Any


def signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header value for `payload` (now, unless `timestamp` is given)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={signature(payload, secret, t)}"


def sign_with(payload: bytes, secrets: list[str], timestamp: int | None = None) -> str:
    """One header carrying a v1 signature per secret, as Stripe sends during a secret rotation."""
    t = int(time.time()) if timestamp is None else timestamp
    return ",".join([f"t={t}", *(f"v1={signature(payload, s, t)}" for s in secrets)])


def body(event: dict[str, Any]) -> bytes:
    """An event serialised the way Stripe sends it (pretty-printed, not our canonical form)."""
    return json.dumps(event, indent=2).encode()
