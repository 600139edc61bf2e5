"""Pricing a validated cart from the live catalog: the only place an amount is computed.

A cart's total (`PricedCart.amount`, what the PaymentIntent charges) is its lines (`subtotal`),
less a promotion code's discount, plus shipping: each priced on the server by its own package
(checkout.discounts, the shipping rates) and carried here as plain figures.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from checkout.cart.validation import CartLine
from checkout.platform.errors import ApiError
from checkout.products.live_catalog import ShopCatalog


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
class Discount:
    """A promotion code's discount on the cart: never more than the lines it applies to."""

    code: str  # upper-case
    amount: int
    product_ids: tuple[str, ...]  # the lines it applied to


@dataclass(frozen=True)
class Shipping:
    """What shipping the cart costs, to a country the shop ships to."""

    amount: int
    country: str  # ISO 3166-1 alpha-2, upper-case
    # Where to, in Stripe's shape (checkout.shipping.address); None when only the metadata's
    # "amount:COUNTRY" is known. Personal data: never logged.
    address: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class PricedCart:
    lines: tuple[PricedLine, ...]
    currency: str
    discount: Discount | None = None
    shipping: Shipping | None = None
    # Some product of the cart is shippable: the checkout needs an address
    # (checkout.shipping.charge sets it; the ledger reviews a payment without one).
    needs_shipping: bool = False

    @property
    def subtotal(self) -> int:
        """The lines, before any discount or shipping."""
        return sum(line.amount for line in self.lines)

    @property
    def amount(self) -> int:
        """The total to pay: what the PaymentIntent charges."""
        discount = self.discount.amount if self.discount else 0
        shipping = self.shipping.amount if self.shipping else 0
        return self.subtotal - discount + shipping


def product_unavailable(product_ids: list[str]) -> ApiError:
    """409: the shop has these products but no longer sells them; the page removes them."""
    return ApiError(
        409,
        "product_unavailable",
        "Some products in your cart are no longer available.",
        details={"products": product_ids},
    )


def price_cart(lines: tuple[CartLine, ...], shop: ShopCatalog) -> PricedCart:
    """Price each line at the catalog's unit amount. Lines must already be validated.

    An id the shop never had is the client's mistake (400 unknown_product); products the shop
    has but does not sell now (inactive, or a document broken by hand) are named in one 409
    product_unavailable, so the page can drop them all at once.
    """
    for index, line in enumerate(lines):
        if shop.on_sale(line.product_id) is None and line.product_id not in shop.off_sale:
            raise ApiError(
                400, "unknown_product", f"items[{index}].productId is not in the catalog."
            )
    unavailable = [line.product_id for line in lines if line.product_id in shop.off_sale]
    if unavailable:
        raise product_unavailable(unavailable)
    priced = []
    for line in lines:
        product = shop.on_sale(line.product_id)
        assert product is not None  # every id was checked above
        priced.append(PricedLine(product.id, product.name, product.unit_amount, line.quantity))
    return PricedCart(tuple(priced), shop.currency)


def order_items(cart: PricedCart) -> list[dict[str, str | int]]:
    """The cart's lines as an order document stores them: what was sold, at what price."""
    return [
        {
            "productId": line.product_id,
            "name": line.name,
            "unitAmount": line.unit_amount,
            "quantity": line.quantity,
        }
        for line in cart.lines
    ]


class AdjustmentFields(TypedDict):
    subtotal: int
    discount: dict[str, Any] | None  # {"code", "amount", "productIds"}
    shipping: dict[str, Any] | None  # {"amount", "country", "address"}


def cart_adjustment_fields(cart: PricedCart) -> AdjustmentFields:
    """What an order document records of the cart beside its items: the subtotal, and the
    discount and shipping when the cart has them (None otherwise)."""
    discount, shipping = cart.discount, cart.shipping
    return {
        "subtotal": cart.subtotal,
        "discount": {
            "code": discount.code,
            "amount": discount.amount,
            "productIds": list(discount.product_ids),
        }
        if discount
        else None,
        "shipping": {
            "amount": shipping.amount,
            "country": shipping.country,
            "address": dict(shipping.address) if shipping.address is not None else None,
        }
        if shipping
        else None,
    }
