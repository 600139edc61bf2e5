"""What a PaymentIntent's metadata says was sold: each line's product, quantity and unit amount.

Written by the checkout with the amount, in the same Stripe call; read back when an order is
rebuilt or corrected from its PaymentIntent (checkout.stripe_events.rebuild), which therefore
never prices again from today's catalog. Lines are "id:quantity:unitAmount", comma-separated.

Stripe's limits: 50 keys, values of at most 500 characters. The largest cart validation allows
(20 lines, 64-character ids, quantity 99, unit amount 99999999) is 1539 characters, so the lines
are spread over ITEM_KEYS, each value holding whole lines only.

PaymentIntents made before unit amounts were written carry "id:quantity" lines (unit_amount
None): those are priced from today's catalog, and the order says so (checkout.stripe_events).

A discount and shipping are kept beside the lines (ADJUSTMENT_KEYS): `discount` is
"CODE:amount:productId productId ...", `shipping` is "amount:COUNTRY" (never the address: that
goes in the PaymentIntent's own `shipping`, not in metadata). "" when the cart has none, so
that an update deletes an old one at Stripe.
"""

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from checkout.cart.pricing import Discount, PricedCart, Shipping
from checkout.products.product import MAX_UNIT_AMOUNT, is_valid_id

ITEM_KEYS = ("items", "items_2", "items_3", "items_4")
DISCOUNT_KEY = "discount"
SHIPPING_KEY = "shipping"
ADJUSTMENT_KEYS = (DISCOUNT_KEY, SHIPPING_KEY)
_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,63}")
_COUNTRY = re.compile(r"[A-Z]{2}")
MAX_VALUE_LENGTH = 500  # Stripe's limit for one metadata value
_DIGITS = re.compile(r"[0-9]{1,8}")  # ASCII only: str.isdigit() also accepts "²"


@dataclass(frozen=True)
class SoldLine:
    product_id: str
    quantity: int
    unit_amount: int | None  # None: an "id:quantity" line, written before unit amounts were


def _line(product_id: str, quantity: int, unit_amount: int) -> str:
    return f"{product_id}:{quantity}:{unit_amount}"


def cart_items(cart: PricedCart) -> str:
    """The cart's lines as one string: what ITEM_KEYS hold together."""
    return ",".join(_line(x.product_id, x.quantity, x.unit_amount) for x in cart.lines)


def items_metadata(cart: PricedCart) -> dict[str, str]:
    """The cart's lines as metadata: every one of ITEM_KEYS, "" for those not needed (Stripe
    deletes a key set to "", so a smaller cart leaves no lines of a larger one behind)."""
    values: list[str] = []
    for line in cart.lines:
        text = _line(line.product_id, line.quantity, line.unit_amount)
        if values and len(values[-1]) + 1 + len(text) <= MAX_VALUE_LENGTH:
            values[-1] += "," + text
        else:
            values.append(text)
    if len(values) > len(ITEM_KEYS):
        raise ValueError("cart too large for the PaymentIntent's metadata")
    return {key: values[i] if i < len(values) else "" for i, key in enumerate(ITEM_KEYS)}


def items_value(metadata: Mapping[str, Any]) -> str:
    """The lines ITEM_KEYS hold, as one string (cart_items' form)."""
    values = (metadata.get(key) for key in ITEM_KEYS)
    return ",".join(v for v in values if isinstance(v, str) and v)


def _sold_line(part: str) -> SoldLine | None:
    fields = part.split(":")
    if len(fields) not in (2, 3) or not is_valid_id(fields[0]):
        return None
    if not all(_DIGITS.fullmatch(field) for field in fields[1:]):
        return None
    unit_amount = int(fields[2]) if len(fields) == 3 else None
    if unit_amount is not None and unit_amount > MAX_UNIT_AMOUNT:
        return None
    return SoldLine(fields[0], int(fields[1]), unit_amount)


def parse_items(metadata: Mapping[str, Any]) -> tuple[SoldLine, ...]:
    """The lines of the metadata; a malformed part is left out (it could not have been ours)."""
    lines = (_sold_line(part) for part in items_value(metadata).split(","))
    return tuple(line for line in lines if line is not None)


def adjustments_metadata(cart: PricedCart) -> dict[str, str]:
    """The cart's discount and shipping as metadata ("" for none: Stripe deletes the key)."""
    discount, shipping = cart.discount, cart.shipping
    return {
        DISCOUNT_KEY: (
            f"{discount.code}:{discount.amount}:{' '.join(discount.product_ids)}"
            if discount
            else ""
        ),
        SHIPPING_KEY: f"{shipping.amount}:{shipping.country}" if shipping else "",
    }


def adjustments_value(metadata: Mapping[str, Any]) -> str:
    """The discount and shipping the metadata holds, as one string (cart_adjustments' form)."""
    values = ((key, metadata.get(key)) for key in ADJUSTMENT_KEYS)
    return ";".join(f"{key}={value}" for key, value in values if isinstance(value, str) and value)


def cart_adjustments(cart: PricedCart) -> str:
    """The cart's discount and shipping as one string, as adjustments_value reads them back."""
    return adjustments_value(adjustments_metadata(cart))


def parse_discount(metadata: Mapping[str, Any]) -> Discount | None:
    """The discount the metadata holds; None for none (or one we could not have written)."""
    value = metadata.get(DISCOUNT_KEY)
    parts = value.split(":") if isinstance(value, str) else []
    if len(parts) != 3 or not _CODE.fullmatch(parts[0]) or not _DIGITS.fullmatch(parts[1]):
        return None
    product_ids = tuple(parts[2].split(" ")) if parts[2] else ()
    if not all(is_valid_id(product_id) for product_id in product_ids):
        return None
    return Discount(parts[0], int(parts[1]), product_ids)


def parse_shipping(metadata: Mapping[str, Any]) -> Shipping | None:
    """The shipping the metadata holds; None for none (or one we could not have written)."""
    value = metadata.get(SHIPPING_KEY)
    parts = value.split(":") if isinstance(value, str) else []
    if len(parts) != 2 or not _DIGITS.fullmatch(parts[0]) or not _COUNTRY.fullmatch(parts[1]):
        return None
    return Shipping(int(parts[0]), parts[1])


def holds_cart(items: str, adjustments: str, cart: PricedCart) -> bool:
    """Whether a PaymentIntent whose lines are `items` (items_value) and whose discount and
    shipping are `adjustments` (adjustments_value) holds `cart`: written now, or before unit
    amounts were ("id:quantity", then the caller compares the amounts)."""
    legacy = ",".join(f"{line.product_id}:{line.quantity}" for line in cart.lines)
    return items in (cart_items(cart), legacy) and adjustments == cart_adjustments(cart)


_SHIPPING_ADDRESS_FIELDS = ("line1", "line2", "city", "state", "postal_code", "country")


def shipping_digest(shipping: Any) -> str:
    """A digest of a shipping address in Stripe's shape (name, phone, address; "" for none):
    what tells two addresses apart without keeping either (the address is personal data, so
    the checkout record and the idempotency key hold this, never the address). Empty and
    absent optional fields are the same; Stripe's own `carrier` and `tracking_number` are not
    the shopper's and are left out."""
    if not isinstance(shipping, Mapping):
        return ""
    address = shipping.get("address")
    address = address if isinstance(address, Mapping) else {}
    values = [shipping.get("name"), shipping.get("phone")]
    values += [address.get(key) for key in _SHIPPING_ADDRESS_FIELDS]
    text = json.dumps([v if isinstance(v, str) and v else None for v in values])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cart_shipping_digest(cart: PricedCart) -> str:
    """The digest of the address the cart ships to ("" for none)."""
    return shipping_digest(cart.shipping.address if cart.shipping else None)


def cart_signature(cart: PricedCart) -> str:
    """What a PaymentIntent for this cart holds (currency, amount, items, discount, shipping
    and its address's digest), as one string: the checkout record keeps it, so an unchanged
    cart is recognised without asking Stripe (and a changed address is a changed cart)."""
    signature = f"{cart.currency}|{cart.amount}|{cart_items(cart)}"
    adjustments = cart_adjustments(cart)
    address = cart_shipping_digest(cart)
    if address:
        adjustments += f";address={address}"
    # A cart without adjustments keeps the signature it had before they existed.
    return f"{signature}|{adjustments}" if adjustments else signature


def signature_discount_code(signature: object) -> str | None:
    """The promotion code of the cart a cart_signature describes; None when it has none."""
    parts = signature.split("|") if isinstance(signature, str) else []
    for adjustment in parts[3].split(";") if len(parts) == 4 else []:
        key, _, value = adjustment.partition("=")
        if key == DISCOUNT_KEY:
            return value.split(":")[0] or None
    return None
