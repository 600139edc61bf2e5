"""Validating the cart a page sends: untrusted JSON in, a well-formed CartRequest out.

Anything the client says about money (amounts, prices) is not read at all. Whether the shop
sells each product is for pricing to say (checkout.cart.pricing): here an id that no product
could have is already `unknown_product`.
"""

import re
import uuid
from dataclasses import dataclass
from typing import Any

from checkout.platform.errors import ApiError
from checkout.products.product import is_valid_id

MAX_LINES = 20
MIN_QUANTITY = 1
MAX_QUANTITY = 99
MAX_EMAIL_LENGTH = 254
# Longer than any code (checkout.discounts.promotion_code): a longer text names none.
MAX_PROMOTION_CODE_LENGTH = 64
# Loose about what an address may contain (Stripe and the mail server are its real judges),
# strict about its shape: one @, a dot in the domain, and the whole value must match
# (fullmatch: `$` alone would let a trailing newline through).
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class CartLine:
    product_id: str
    quantity: int


@dataclass(frozen=True)
class CartRequest:
    checkout_id: str
    lines: tuple[CartLine, ...]
    email: str | None
    # As typed, trimmed; whether it names a code is for checkout.discounts to say. None: the
    # checkout uses no code (a code applied before is removed).
    promotion_code: str | None = None


def _invalid(code: str, message: str) -> ApiError:
    return ApiError(400, code, message)


def parse_checkout_id(value: Any) -> str:
    """A client-generated UUID, in canonical lower-case form."""
    if not isinstance(value, str) or len(value) != 36:
        raise _invalid("invalid_checkout_id", "checkoutId must be a UUID string.")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise _invalid("invalid_checkout_id", "checkoutId must be a UUID string.") from None


def _parse_line(index: int, raw: Any) -> CartLine:
    if not isinstance(raw, dict):
        raise _invalid("invalid_item", f"items[{index}] must be an object.")
    product_id = raw.get("productId")
    if not is_valid_id(product_id):
        raise _invalid("unknown_product", f"items[{index}].productId is not in the catalog.")
    quantity = raw.get("quantity")
    # bool is an int subclass in Python; `true` is not a quantity.
    if (
        not isinstance(quantity, int)
        or isinstance(quantity, bool)
        or not MIN_QUANTITY <= quantity <= MAX_QUANTITY
    ):
        raise _invalid(
            "invalid_quantity",
            f"items[{index}].quantity must be a whole number"
            f" from {MIN_QUANTITY} to {MAX_QUANTITY}.",
        )
    return CartLine(product_id, quantity)


def _parse_email(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if (
        not isinstance(value, str)
        or len(value) > MAX_EMAIL_LENGTH
        # No control or format characters (NUL, DEL, zero-width, bidi controls...), no spaces.
        or not value.isprintable()
        or any(c.isspace() for c in value)
        or not _EMAIL.fullmatch(value)
    ):
        raise _invalid("invalid_email", "email must be a valid email address.")
    return value


def _parse_promotion_code(value: Any) -> str | None:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or len(value) > MAX_PROMOTION_CODE_LENGTH
        or not value.isprintable()
    ):
        raise _invalid(
            "invalid_promotion_code",
            f"promotionCode must be text of at most {MAX_PROMOTION_CODE_LENGTH} characters.",
        )
    return value.strip() or None


def parse_cart_request(body: Any) -> CartRequest:
    """Validate a POST /api/payment-intents body; raise ApiError(400) on the first problem."""
    if not isinstance(body, dict):
        raise _invalid("invalid_body", "The body must be a JSON object.")
    checkout_id = parse_checkout_id(body.get("checkoutId"))
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise _invalid("empty_cart", "items must be a non-empty list.")
    if len(items) > MAX_LINES:
        raise _invalid("too_many_items", f"A cart holds at most {MAX_LINES} lines.")
    lines = tuple(_parse_line(i, raw) for i, raw in enumerate(items))
    if len({line.product_id for line in lines}) != len(lines):
        raise _invalid("duplicate_product", "Each product may appear only once in items.")
    return CartRequest(
        checkout_id,
        lines,
        _parse_email(body.get("email")),
        _parse_promotion_code(body.get("promotionCode")),
    )
