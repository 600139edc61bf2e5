"""The shipping rates the shop prices from: the document `shop/shipping`, checked, and cached in
the instance for CATALOG_CACHE_SECONDS, like the catalog (checkout.products.live_catalog).

No document: the shop ships nowhere. A document broken by hand in the console, or written for
another currency: the shop ships nowhere until an import repairs it, each problem logged at
ERROR. Never a guessed amount: a shopper is told the country is not shipped to rather than
charged a wrong price.
"""

from collections.abc import Mapping
from typing import Any

from google.cloud import firestore

from checkout.platform import structured_log as logger
from checkout.platform.collections import SHIPPING_RATES_DOCUMENT, SHOP
from checkout.platform.firestore_client import RPC_RETRY, db
from checkout.platform.settings import catalog_cache_seconds, shop_currency
from checkout.products.live_catalog import CatalogCache
from checkout.shipping.rates import NOWHERE, InvalidRates, ShippingRates, rates_from_document

READ_TIMEOUT_SECONDS = 10.0


def rates_reference(client: firestore.Client) -> firestore.DocumentReference:
    return client.collection(SHOP).document(SHIPPING_RATES_DOCUMENT)


def read_document(client: firestore.Client) -> dict[str, Any] | None:
    """The document `shop/shipping` as it is, or None when there is none (one read, bounded)."""
    snapshot = rates_reference(client).get(retry=RPC_RETRY, timeout=READ_TIMEOUT_SECONDS)
    return (snapshot.to_dict() or {}) if snapshot.exists else None


def rates_of(document: Mapping[str, Any] | None, currency: str) -> ShippingRates:
    """The rates to price from: NOWHERE without a document or with a broken one (logged)."""
    if document is None:
        return NOWHERE
    try:
        return rates_from_document(document, currency)
    except InvalidRates as invalid:
        logger.error_per_problem(
            "shipping rates left out: the shop ships nowhere", invalid.problems
        )
        return NOWHERE


def read_shipping_rates() -> ShippingRates:
    """The rates as Firestore holds them now (raises GoogleAPIError when Firestore cannot
    answer within the bounds)."""
    return rates_of(read_document(db()), shop_currency())


shipping_rates = CatalogCache(read_shipping_rates, catalog_cache_seconds)


def current_rates(now: float | None = None) -> ShippingRates:
    """The rates pricing uses, at most CATALOG_CACHE_SECONDS old."""
    return shipping_rates.get(now)
