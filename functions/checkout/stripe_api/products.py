"""Stripe's Products, for the catalog's Stripe mode: one page of the active ones with their
default Price expanded, and one Product by id (None once Stripe no longer has it)."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import stripe

from checkout.stripe_api import connection

if TYPE_CHECKING:
    from stripe.params import ProductListParams, ProductRetrieveParams

PAGE_SIZE = 100  # Stripe's largest page


@dataclass(frozen=True)
class ProductsPage:
    products: list[dict[str, Any]]  # each a plain dict, `default_price` expanded (or None)
    has_more: bool


def list_active_products_page(
    starting_after: str | None = None, limit: int = PAGE_SIZE
) -> ProductsPage:
    """Active Products after `starting_after`, in Stripe's order, each with its default Price."""
    params: ProductListParams = {
        "active": True,
        "limit": limit,
        "expand": ["data.default_price"],
    }
    if starting_after is not None:
        params["starting_after"] = starting_after
    with connection.translated_errors():
        page = connection.client().v1.products.list(params=params)
    listed = [connection.plain_json(product.to_dict()) for product in page.data]
    return ProductsPage(listed, bool(page.has_more))


def retrieve_product(product_id: str) -> dict[str, Any] | None:
    """The Product with its default Price expanded, or None when Stripe has no such Product
    (deleted, or never one of this account's)."""
    params: ProductRetrieveParams = {"expand": ["default_price"]}
    with connection.translated_errors():
        try:
            product = connection.client().v1.products.retrieve(product_id, params=params)
        except stripe.InvalidRequestError as error:
            if error.http_status == 404:
                return None
            raise
    found: dict[str, Any] = connection.plain_json(product.to_dict())
    return found
