"""The shipping address of a POST /api/payment-intents, checked: Stripe's own shape, as the
Address Element gives it and a PaymentIntent's `shipping` takes it.

    {"name": "Ada Lovelace", "phone": "+15555550100",
     "address": {"line1": "1 Main St", "line2": null, "city": "Springfield", "state": "IL",
                 "postal_code": "62701", "country": "US"}}

`phone`, `line2` and `state` are optional (absent, null or ""); every other field is required
and not blank. Each is a string of at most MAX_LENGTH characters with no control characters, no
line or paragraph separators and no lone surrogates (which no UTF-8 store can keep). A key
neither shape has is refused, and the country must be one the shop's rates list. The first bad
field is named by its dotted path: 400 invalid_shipping, `error.field` "shipping.address.city".

An address is personal data: never log it. Error messages name the field, never the value, and
ShippingAddress's repr shows the country only.
"""

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from checkout.platform.errors import ApiError
from checkout.shipping.rates import ShippingRates, country_not_shipped_to

MAX_LENGTH = 200
TOP_FIELDS = ("name", "phone", "address")
ADDRESS_FIELDS = ("line1", "line2", "city", "state", "postal_code", "country")
OPTIONAL = frozenset({"shipping.phone", "shipping.address.line2", "shipping.address.state"})
FIELD_NAME = re.compile(r"[A-Za-z0-9_]{1,40}")
# Unicode categories refused anywhere: controls (C0, DEL, C1), line and paragraph separators,
# surrogates.
REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})


@dataclass(frozen=True)
class ShippingAddress:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str  # ISO 3166-1 alpha-2, upper-case, one the shop ships to
    phone: str | None = None
    line2: str | None = None
    state: str | None = None

    def __repr__(self) -> str:
        # Personal data: a stray log line or traceback shows the country only.
        return f"ShippingAddress(country={self.country!r}, ...)"

    def stripe_shipping(self) -> dict[str, Any]:
        """Stripe's shape: a PaymentIntent's `shipping`, and what an order records. Optional
        fields absent are None (a PaymentIntent update with "" clears them at Stripe)."""
        return {
            "name": self.name,
            "phone": self.phone,
            "address": {
                "line1": self.line1,
                "line2": self.line2,
                "city": self.city,
                "state": self.state,
                "postal_code": self.postal_code,
                "country": self.country,
            },
        }


def invalid_shipping(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_shipping", f"{field} {message}", details={"field": field})


def _string(path: str, value: Any) -> str | None:
    """The checked string at `path` (None: an optional field left empty)."""
    if value is None or value == "":
        if path in OPTIONAL:
            return None
        raise invalid_shipping(path, "is required.")
    if not isinstance(value, str):
        raise invalid_shipping(path, "must be a string.")
    if len(value) > MAX_LENGTH:
        raise invalid_shipping(path, f"must be at most {MAX_LENGTH} characters.")
    if any(unicodedata.category(c) in REFUSED_CATEGORIES for c in value):
        raise invalid_shipping(path, "must not contain control characters.")
    if not value.strip():
        if path in OPTIONAL:
            return None
        raise invalid_shipping(path, "is required.")
    return value


def _object(path: str, value: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    if value is None:
        raise invalid_shipping(path, "is required.")
    if not isinstance(value, dict):
        raise invalid_shipping(path, "must be an object.")
    for key in value:
        if key not in fields:
            # The key is the client's text: named only when it looks like a field name.
            shown = f"{path}.{key}" if FIELD_NAME.fullmatch(key) else path
            raise invalid_shipping(shown, "is not a field of a shipping address.")
    return value


def parse_shipping(value: Any, rates: ShippingRates) -> ShippingAddress:
    """The address of a request's `shipping` object; raises ApiError(400, invalid_shipping)
    naming the first bad field, in the order of Stripe's shape (the country's rate last)."""
    shipping = _object("shipping", value, TOP_FIELDS)
    name = _string("shipping.name", shipping.get("name"))
    phone = _string("shipping.phone", shipping.get("phone"))
    address = _object("shipping.address", shipping.get("address"), ADDRESS_FIELDS)
    line1, line2, city, state, postal_code, country = (
        _string(f"shipping.address.{key}", address.get(key)) for key in ADDRESS_FIELDS
    )
    assert name and line1 and city and postal_code and country  # required: checked above
    if country not in rates.countries:
        raise country_not_shipped_to()
    return ShippingAddress(name, line1, city, postal_code, country, phone, line2, state)


def parse_request_shipping(value: Any) -> ShippingAddress | None:
    """A POST /api/payment-intents body's `shipping`: None when absent or null (a checkout
    without an address yet, or one whose address is removed), else checked against the rates
    the shop prices from (400 invalid_shipping)."""
    from checkout.shipping.live_rates import current_rates  # Firestore: only when needed

    return None if value is None else parse_shipping(value, current_rates())
