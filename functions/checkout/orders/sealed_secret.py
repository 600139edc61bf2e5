"""The client secret, sealed for the server-only checkout record.

A repeat POST of an unchanged cart must answer with the client secret without asking Stripe.
Stored in plaintext, anyone who can read Firestore (console users, exports, backups) could take
over every open payment; that is why orders keep only its SHA-256. So the checkout record keeps
it encrypted (AES-256-GCM) under a key derived from the Stripe secret key: reading it back
needs the Stripe key, which already gives full power over every PaymentIntent, so the record
adds no new way in. The checkout and PaymentIntent ids are bound in as associated data (a
sealed secret copied to another record does not open). After a Stripe key rotation old seals
no longer open; the checkout then asks Stripe once (the slow path) and re-seals.
"""

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from checkout.platform.settings import STRIPE_SECRET_KEY, require

_VERSION = "v1"


def _key() -> bytes:
    stripe_key = require(STRIPE_SECRET_KEY)
    return hmac.new(stripe_key.encode(), b"checkout client secret seal v1", hashlib.sha256).digest()


def _bound(checkout_id: str, payment_intent_id: str) -> bytes:
    return f"{checkout_id}|{payment_intent_id}".encode()


def seal(client_secret: str, checkout_id: str, payment_intent_id: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key()).encrypt(
        nonce, client_secret.encode(), _bound(checkout_id, payment_intent_id)
    )
    return f"{_VERSION}:{base64.b64encode(nonce + sealed).decode()}"


def unseal(sealed: object, checkout_id: str, payment_intent_id: str) -> str | None:
    """The client secret, or None when it cannot be opened (absent, another key, tampered)."""
    if not isinstance(sealed, str) or not sealed.startswith(f"{_VERSION}:"):
        return None
    try:
        raw = base64.b64decode(sealed.removeprefix(f"{_VERSION}:"), validate=True)
        opened = AESGCM(_key()).decrypt(raw[:12], raw[12:], _bound(checkout_id, payment_intent_id))
    except (ValueError, InvalidTag):
        return None
    return opened.decode()
