"""What shipping a checkout's cart costs, and where to: the cart's `shipping` and
`needs_shipping`, set from the catalog's `shippable`, the shopper's address and the rates (pure).

A cart with no shippable product ships nothing: no address is kept or sent to Stripe, even if
the page sent one. A shippable cart without an address yet (the page's first POST) has no
shipping line (`shippingAmount` null) and needs_shipping: the ledger reviews a payment that
reaches Stripe like that (checkout.stripe_events.shipping_review). Priced on the subtotal after
any discount, so the discount must be applied first.
"""

from dataclasses import replace

from checkout.cart.pricing import PricedCart
from checkout.products.live_catalog import ShopCatalog
from checkout.shipping.address import ShippingAddress
from checkout.shipping.rates import ShippingRates, price_shipping


def needs_shipping(cart: PricedCart, shop: ShopCatalog) -> bool:
    """Whether some product of the cart is shippable (one the catalog no longer knows counts
    as shippable: asking for an address is the safe side)."""
    products = (shop.known(line.product_id) for line in cart.lines)
    return any(product is None or product.shippable for product in products)


def shipped_cart(
    cart: PricedCart, shop: ShopCatalog, address: ShippingAddress | None, rates: ShippingRates
) -> PricedCart:
    """The cart with its shipping: priced to `address` when it needs shipping and has one.
    A country no rate lists is 400 invalid_shipping (shipping.address.country)."""
    if not needs_shipping(cart, shop):
        return replace(cart, shipping=None, needs_shipping=False)
    if address is None:
        return replace(cart, shipping=None, needs_shipping=True)
    discount = cart.discount.amount if cart.discount else 0
    priced = price_shipping(rates, address.country, cart.subtotal - discount)
    return replace(
        cart, shipping=replace(priced, address=address.stripe_shipping()), needs_shipping=True
    )
