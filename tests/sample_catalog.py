"""The sample shop's catalog (catalog.json at the repository root), as the tests sell from it.

The shop prices from the live catalog in Firestore; tests without servers read the same file
into the same ShopCatalog, so that no test keeps a price of its own.
"""

from pathlib import Path
from typing import Any

from google.cloud import firestore

from checkout.catalog.catalog_file import read_catalog_text
from checkout.catalog.changes import plan_import
from checkout.catalog.code_changes import plan_code_import
from checkout.catalog.import_writes import write_plan
from checkout.catalog.shipping_section import plan_shipping
from checkout.discounts import store as code_store
from checkout.discounts.promotion_code import PromotionCode
from checkout.products import store
from checkout.products.live_catalog import ShopCatalog, catalog_from_documents
from checkout.products.product import Product, document_of
from checkout.shipping import live_rates
from checkout.shipping.rates import ShippingRates

CATALOG_FILE = Path(__file__).resolve().parent.parent / "catalog.json"
CURRENCY = "usd"


def sample_products() -> dict[str, Product]:
    """catalog.json's products, by id, in the file's order."""
    text = CATALOG_FILE.read_text(encoding="utf-8")
    return {p.id: p for p in read_catalog_text(text, CURRENCY).products}


def sample_promotion_codes() -> dict[str, PromotionCode]:
    """catalog.json's promotion codes, by code."""
    text = CATALOG_FILE.read_text(encoding="utf-8")
    return {c.code: c for c in read_catalog_text(text, CURRENCY).promotion_codes or ()}


def sample_documents() -> dict[str, dict[str, Any]]:
    """The Firestore documents an import of catalog.json writes, by id."""
    return {product_id: document_of(p) for product_id, p in sample_products().items()}


def sample_shop() -> ShopCatalog:
    """The catalog the shop sells from once catalog.json is imported."""
    return catalog_from_documents(sample_documents(), CURRENCY)


def sample_rates() -> ShippingRates:
    """catalog.json's shipping rates, as the shop prices from them once it is imported."""
    rates = read_catalog_text(CATALOG_FILE.read_text(encoding="utf-8"), CURRENCY).shipping
    assert rates is not None, "catalog.json has a shipping section"
    return rates


def unit_amount(product_id: str) -> int:
    return sample_products()[product_id].unit_amount


def import_sample_catalog(client: firestore.Client) -> None:
    """catalog.json becomes the catalog in `client`'s database, as `python -m checkout.catalog
    import` makes it (for a database a test or the bench has just emptied)."""
    products = tuple(sample_products().values())
    codes = tuple(sample_promotion_codes().values())
    shipping = plan_shipping(sample_rates(), live_rates.read_document(client), CURRENCY)
    write_plan(
        client,
        plan_import(products, store.read_documents(client)),
        code_plan=plan_code_import(codes, code_store.read_documents(client)),
        shipping=shipping.write,
    )
