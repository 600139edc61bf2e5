"""Pricing a validated cart from the catalog: the only place an amount is computed."""

from dataclasses import dataclass

from checkout.cart.catalog import CURRENCY, PRODUCTS
from checkout.cart.validation import CartLine


@dataclass(frozen=True)
class PricedLine:
    product_id: str
    name: str
    unit_amount: int
    quantity: int

    @property
    def amount(self) -> int:
        return self.unit_amount * self.quantity


@dataclass(frozen=True)
class PricedCart:
    lines: tuple[PricedLine, ...]
    currency: str

    @property
    def amount(self) -> int:
        return sum(line.amount for line in self.lines)


def price_cart(lines: tuple[CartLine, ...]) -> PricedCart:
    """Price each line at the catalog's unit amount. Lines must already be validated."""
    priced = tuple(
        PricedLine(
            product_id=line.product_id,
            name=PRODUCTS[line.product_id].name,
            unit_amount=PRODUCTS[line.product_id].unit_amount,
            quantity=line.quantity,
        )
        for line in lines
    )
    return PricedCart(priced, CURRENCY)


def order_items(cart: PricedCart) -> list[dict[str, str | int]]:
    """The cart's lines as an order document stores them."""
    return [
        {
            "productId": line.product_id,
            "name": line.name,
            "unitAmount": line.unit_amount,
            "quantity": line.quantity,
        }
        for line in cart.lines
    ]


def items_metadata(cart: PricedCart) -> str:
    """The cart as one compact Stripe metadata value ("id:qty,id:qty"; values hold 500 chars)."""
    return ",".join(f"{line.product_id}:{line.quantity}" for line in cart.lines)


def parse_items_metadata(value: str) -> tuple[CartLine, ...]:
    """The inverse of items_metadata, for orders created from a PaymentIntent alone."""
    lines = []
    for part in value.split(","):
        product_id, _, quantity = part.partition(":")
        # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
        if product_id in PRODUCTS and quantity.isascii() and quantity.isdigit():
            lines.append(CartLine(product_id, int(quantity)))
    return tuple(lines)


def cart_signature(cart: PricedCart) -> str:
    """What a PaymentIntent for this cart holds (currency, amount, items), as one string: the
    checkout record keeps it, so an unchanged cart is recognised without asking Stripe."""
    return f"{cart.currency}|{cart.amount}|{items_metadata(cart)}"
