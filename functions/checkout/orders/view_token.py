"""The view token: a link to an order's status page that needs no client secret.

Emails link to `PUBLIC_BASE_URL/?order=<paymentIntentId>&view=<token>`. The token is an HMAC
over the order id and an expiry, under a key derived from the Stripe secret key, as the sealed
client secret's is (checkout.orders.sealed_secret): no new secret to manage, and whoever could
forge one already holds the Stripe key. It shows the order's status, nothing more; it is valid
for VIEW_TOKEN_LIFETIME, works for that one order only, and after a Stripe key rotation old
links stop working (the page then asks for nothing: the shopper still has the email).

Format: `<expiry, Unix seconds>.<base64url HMAC-SHA256, 16 bytes>`: URL-safe, about 35 characters.
"""

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from checkout.platform.settings import STRIPE_SECRET_KEY, require

VIEW_TOKEN_LIFETIME = timedelta(days=30)
_MAC_BYTES = 16  # 128 bits: forging one takes 2**128 guesses


def _key() -> bytes:
    stripe_key = require(STRIPE_SECRET_KEY)
    return hmac.new(stripe_key.encode(), b"checkout order view token v1", hashlib.sha256).digest()


def _mac(order_id: str, expires: int) -> str:
    signed = f"v1|{order_id}|{expires}".encode()
    digest = hmac.new(_key(), signed, hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_view_token(order_id: str, now: datetime) -> str:
    """A token that shows order `order_id` until `now` + VIEW_TOKEN_LIFETIME."""
    expires = int((now + VIEW_TOKEN_LIFETIME).timestamp())
    return f"{expires}.{_mac(order_id, expires)}"


def check_view_token(order_id: str, token: object, now: datetime) -> bool:
    """Whether `token` was made for `order_id` and has not expired at `now`."""
    if not isinstance(token, str) or len(token) > 64:
        return False
    expires_text, dot, mac = token.partition(".")
    if not dot or not expires_text.isdigit() or len(expires_text) > 12:
        return False
    expires = int(expires_text)
    if now.timestamp() >= expires:
        return False
    return hmac.compare_digest(_mac(order_id, expires).encode(), mac.encode())
