"""An order rebuilt from its PaymentIntent alone, for a payment of ours that has no order (paid
outside the page, or its order was never written): the pending order the page would have
written, through the one constructor (checkout.orders.order.new_order).

What was sold comes from the PaymentIntent's metadata (checkout.cart.metadata), unit amounts
included, so a rebuilt or corrected order never takes today's prices. Only the names come from
today's catalog (a product gone from it keeps its id as its name). A PaymentIntent made before
unit amounts were written has ids and quantities only: its lines are priced from today's catalog
(products unknown or broken today are left out) and the order is marked `itemsRepriced`.
"""

from dataclasses import dataclass, replace

from checkout.cart.metadata import SoldLine, parse_discount, parse_items, parse_shipping
from checkout.cart.pricing import PricedCart, PricedLine, cart_adjustment_fields, order_items
from checkout.orders.order import Order, new_order
from checkout.platform.json_fields import Json, int_field, str_field
from checkout.products.live_catalog import ShopCatalog, current_catalog
from checkout.shipping.charge import needs_shipping

# On an order whose items were priced from the catalog when it was rebuilt or corrected, because
# its PaymentIntent predates unit amounts in metadata (docs/architecture.md).
ITEMS_REPRICED = "itemsRepriced"


@dataclass(frozen=True)
class MetadataCart:
    cart: PricedCart
    repriced: bool  # some lines had no unit amount: priced from today's catalog


def sold_lines(payment_intent: Json) -> tuple[SoldLine, ...]:
    """The lines the PaymentIntent's metadata names (no catalog needed)."""
    metadata = payment_intent.get("metadata")
    return parse_items(metadata) if isinstance(metadata, dict) else ()


def _priced(line: SoldLine, shop: ShopCatalog) -> PricedLine | None:
    product = shop.known(line.product_id)
    if line.unit_amount is not None:
        name = product.name if product is not None else line.product_id
        return PricedLine(line.product_id, name, line.unit_amount, line.quantity)
    if product is None:
        return None
    return PricedLine(line.product_id, product.name, product.unit_amount, line.quantity)


def metadata_cart(payment_intent: Json) -> MetadataCart:
    """The cart in the PaymentIntent's metadata, at the unit amounts it was priced at (maybe
    empty), its shipping with the PaymentIntent's own `shipping` as the address. Reads the live
    catalog (cached) for names, and for prices of old-format lines."""
    lines = sold_lines(payment_intent)
    shop = current_catalog()
    priced = tuple(p for p in (_priced(line, shop) for line in lines) if p is not None)
    repriced = any(line.unit_amount is None for line in lines)
    currency = (str_field(payment_intent, "currency") or shop.currency).lower()
    metadata = payment_intent.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    cart = PricedCart(priced, currency, parse_discount(metadata), parse_shipping(metadata))
    return MetadataCart(_with_address(cart, payment_intent.get("shipping")), repriced)


def order_from_payment_intent(payment_intent: Json) -> Order | None:
    """The pending order the page would have written, rebuilt from the PaymentIntent alone.

    None when the intent lacks an amount or currency: then there is nothing to record.
    """
    amount, currency = int_field(payment_intent, "amount"), str_field(payment_intent, "currency")
    if amount is None or currency is None:
        return None
    metadata = payment_intent.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    sold = metadata_cart(payment_intent)
    cart = sold.cart
    order = new_order(
        payment_intent_id=payment_intent["id"],
        checkout_id=str_field(metadata, "checkoutId"),
        items=order_items(cart),
        adjustments=cart_adjustment_fields(cart),
        amount=amount,
        currency=currency.lower(),
        email=str_field(payment_intent, "receipt_email"),
        client_secret_hash=None,
        rebuilt=True,
    )
    if sold.repriced:
        order["itemsRepriced"] = True  # ITEMS_REPRICED
    # Today's catalog says whether its goods ship: the success then reviews it like a page
    # order (checkout.stripe_events.shipping_review). A PaymentIntent without unit amounts
    # predates shipping too: nobody could have given it an address.
    shipping_required = not sold.repriced and needs_shipping(cart, current_catalog())
    order["shippingRequired"] = shipping_required  # SHIPPING_REQUIRED
    return order


def _with_address(cart: PricedCart, shipping: object) -> PricedCart:
    """The metadata's shipping ("amount:COUNTRY") with the PaymentIntent's own `shipping` as
    its address (the shopper's fields only: Stripe's carrier and tracking number left out)."""
    if cart.shipping is None or not isinstance(shipping, dict):
        return cart
    address = shipping.get("address")
    if not isinstance(address, dict):
        return cart
    keys = ("line1", "line2", "city", "state", "postal_code", "country")
    stripe_shape = {
        "name": shipping.get("name"),
        "phone": shipping.get("phone"),
        "address": {key: address.get(key) for key in keys},
    }
    return replace(cart, shipping=replace(cart.shipping, address=stripe_shape))
