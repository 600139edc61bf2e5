"""The order number a shopper and the owner read: short, human-readable, `XXXX-XXXX`.

Derived from the PaymentIntent id alone (SHA-256, the first 40 bits in Crockford's base32), so
no counter document is written by every checkout (no hot document) and every part of the shop
computes the same number without storing it. It names an order to people; it is not a key:
orders stay keyed by their PaymentIntent id. 40 bits make two orders sharing a number unlikely
below about a hundred thousand orders (birthday bound: about 1 in 200 at 100,000); a shop that
looks an order up by its number should treat a match as a candidate and check the email.
"""

import hashlib

# Crockford's base32: no I, L, O or U, so nothing is misread (0/O, 1/I/L) when spoken or typed.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CHARACTERS = 8


def order_number(payment_intent_id: str) -> str:
    """The order's number, e.g. `7K3M-Q9TD`."""
    digest = hashlib.sha256(payment_intent_id.encode()).digest()
    value = int.from_bytes(digest[:5], "big")  # 40 bits: 8 characters of 5 bits
    chars = "".join(
        _ALPHABET[(value >> (5 * shift)) & 31] for shift in reversed(range(_CHARACTERS))
    )
    return f"{chars[:4]}-{chars[4:]}"
