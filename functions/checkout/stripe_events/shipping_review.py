"""The shipping rules a successful payment is checked against (pure), for the success handler.

- An order whose cart holds a shippable product (`shippingRequired`) paid with no address on the
  order: the page was bypassed (or an old tab paid before sending one). Nobody knows where to
  send it: needs_review, never silently fulfilled.
- The PaymentIntent's `shipping` (the Address Element attaches it at confirmPayment) names
  another country than the one the server priced (the order's `shipping.country`): the shopper
  may have paid another country's rate. needs_review.

A rebuilt order (checkout.stripe_events.rebuild) takes its address from the PaymentIntent's
`shipping`, its priced country from the metadata and `shippingRequired` from today's catalog, so
the same rules apply to it. Orders written before shipping existed have no `shippingRequired`:
not reviewed for it. Messages name countries only, never the address (they are logged).
"""

from checkout.orders.order import SHIPPING_REQUIRED
from checkout.platform.json_fields import Json


def _country(shipping: object) -> str | None:
    address = shipping.get("address") if isinstance(shipping, dict) else None
    country = address.get("country") if isinstance(address, dict) else None
    return country.upper() if isinstance(country, str) and country else None


def shipping_problem(order: Json, payment_intent: Json) -> str | None:
    """Why a successful payment must be reviewed for its shipping, or None."""
    shipping = order.get("shipping")
    shipping = shipping if isinstance(shipping, dict) else {}
    if order.get(SHIPPING_REQUIRED) is True and not isinstance(shipping.get("address"), dict):
        return "paid for goods to ship, but the order has no shipping address"
    priced = shipping.get("country")
    at_stripe = _country(payment_intent.get("shipping"))
    if isinstance(priced, str) and at_stripe is not None and at_stripe != priced.upper():
        return f"shipping was priced to {priced} but the payment ships to {at_stripe}"
    return None
