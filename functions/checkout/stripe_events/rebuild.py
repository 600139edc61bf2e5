"""An order rebuilt from its PaymentIntent alone, for a payment of ours that has no order (paid
outside the page, or its order was never written): the pending order the page would have
written, through the one constructor (checkout.orders.order.new_order).
"""

from checkout.cart.pricing import PricedCart, order_items, parse_items_metadata, price_cart
from checkout.orders.order import Order, new_order
from checkout.platform.json_fields import Json, int_field, str_field


def metadata_cart(payment_intent: Json) -> PricedCart:
    """The cart in the PaymentIntent's `items` metadata, priced from the catalog (maybe empty)."""
    metadata = payment_intent.get("metadata")
    value = str_field(metadata, "items") if isinstance(metadata, dict) else None
    try:
        return price_cart(parse_items_metadata(value or ""))
    except ValueError:
        # str.isdigit accepts digits that int() refuses ("²"): no cart, rather than an
        # exception inside the transaction on every retry.
        return price_cart(())


def order_from_payment_intent(payment_intent: Json) -> Order | None:
    """The pending order the page would have written, rebuilt from the PaymentIntent alone.

    None when the intent lacks an amount or currency: then there is nothing to record.
    """
    amount, currency = int_field(payment_intent, "amount"), str_field(payment_intent, "currency")
    if amount is None or currency is None:
        return None
    metadata = payment_intent.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    return new_order(
        payment_intent_id=payment_intent["id"],
        checkout_id=str_field(metadata, "checkoutId"),
        items=order_items(metadata_cart(payment_intent)),
        amount=amount,
        currency=currency.lower(),
        email=str_field(payment_intent, "receipt_email"),
        client_secret_hash=None,
        rebuilt=True,
    )
