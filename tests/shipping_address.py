"""The one shipping address every test, bench and dev flow that buys a shippable product sends
(catalog.json ships to US, CA and MX): Stripe's shape, as the Address Element gives it."""

from typing import Any

US_ADDRESS: dict[str, Any] = {
    "name": "Ada Lovelace",
    "phone": None,
    "address": {
        "line1": "1 Main St",
        "line2": None,
        "city": "Springfield",
        "state": "IL",
        "postal_code": "62701",
        "country": "US",
    },
}


def address_in(country: str) -> dict[str, Any]:
    """US_ADDRESS, moved to `country`."""
    return {**US_ADDRESS, "address": {**US_ADDRESS["address"], "country": country}}


def at_stripe(shipping: dict[str, Any]) -> dict[str, Any]:
    """`shipping` as a PaymentIntent holds it: Stripe adds carrier and tracking_number."""
    return {**shipping, "carrier": None, "tracking_number": None}
