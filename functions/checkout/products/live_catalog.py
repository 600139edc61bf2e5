"""The catalog the shop sells from: the product documents, checked, ordered, and cached in the
instance for CATALOG_CACHE_SECONDS.

A document someone broke by hand in the console (a missing field, a negative amount, a wrong
type, another currency) must not take the shop down: that product is left out, each problem
logged at ERROR with the product's id and the field, and the rest keep selling.

The cache is what keeps a page load from reading every product: an instance reads the
collection at most once per CATALOG_CACHE_SECONDS, so a change reaches it at most that late
(counted from the start of the read that is served). `loads` counts the reads, and `clear()`
forgets the catalog (tests).

With the products, the same read takes how many units of each are on sale (its stock pool,
checkout.holds): GET /api/config shows it, as late as the rest of the catalog. A checkout is
never refused or served on this figure: holding units reads the pools afresh.
"""

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from checkout.holds import store as holds
from checkout.holds.pool import product_of, product_pool
from checkout.platform import structured_log as logger
from checkout.platform.firestore_client import db
from checkout.platform.settings import catalog_cache_seconds, shop_currency
from checkout.products import store
from checkout.products.product import InvalidProduct, Product, product_from_document


@dataclass(frozen=True)
class ShopCatalog:
    products: tuple[Product, ...]  # on sale (active, valid), in position order, then by id
    off_sale: frozenset[str]  # ids the shop has but does not sell now: inactive, or broken
    currency: str  # SHOP_CURRENCY: every product's
    # Valid but inactive: what they cost today, for PaymentIntents whose metadata has no unit
    # amounts (made before it had them: checkout.stripe_events.rebuild).
    inactive: tuple[Product, ...] = ()
    # Product id -> units on sale when the catalog was read (None, or absent: not stocked).
    available: Mapping[str, int | None] = field(default_factory=dict)

    def on_sale(self, product_id: str) -> Product | None:
        return next((p for p in self.products if p.id == product_id), None)

    def known(self, product_id: str) -> Product | None:
        """The valid product `product_id`, on sale or not; None if unknown or broken."""
        return self.on_sale(product_id) or next(
            (p for p in self.inactive if p.id == product_id), None
        )

    def page_products(self) -> list[dict[str, Any]]:
        """The products on sale as GET /api/config sends them to the page."""
        return [
            {
                "id": p.id,
                "name": p.name,
                "description": p.description,
                "unitAmount": p.unit_amount,
                "currency": p.currency,
                "images": list(p.images),
                "shippable": p.shippable,
                "available": self.available.get(p.id),
            }
            for p in self.products
        ]


def catalog_from_documents(
    documents: Mapping[str, Mapping[str, Any]], currency: str
) -> ShopCatalog:
    """The shop's catalog of the product `documents` (by id); logs each one left out."""
    on_sale: list[Product] = []
    inactive: list[Product] = []
    off_sale: set[str] = set()
    for product_id, document in documents.items():
        try:
            product = product_from_document(product_id, document, currency)
        except InvalidProduct as invalid:
            logger.error_per_problem(
                "catalog product left out", invalid.problems, productId=product_id
            )
            off_sale.add(product_id)
            continue
        if product.active:
            on_sale.append(product)
        else:
            inactive.append(product)
            off_sale.add(product_id)
    on_sale.sort(key=lambda p: (p.position, p.id))
    return ShopCatalog(tuple(on_sale), frozenset(off_sale), currency, tuple(inactive))


def read_shop_catalog() -> ShopCatalog:
    """The catalog as Firestore holds it now (one query; raises GoogleAPIError when
    Firestore cannot answer within store's bounds)."""
    shop = catalog_from_documents(store.read_documents(db()), shop_currency())
    return with_availability(shop, datetime.now(UTC))


def with_availability(shop: ShopCatalog, now: datetime) -> ShopCatalog:
    """The catalog with the units of its products on sale `now` (one read of their pools)."""
    by_pool = holds.availability([product_pool(p.id) for p in shop.products], now)
    available = {product_of(pool) or pool: units for pool, units in by_pool.items()}
    return replace(shop, available=available)


T = TypeVar("T")


class CatalogCache(Generic[T]):
    """One catalog (or the shipping rates) per instance, read again once it is
    `max_age_seconds()` old."""

    def __init__(
        self,
        load: Callable[[], T],
        max_age_seconds: Callable[[], float],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._max_age_seconds = max_age_seconds
        self.clock = clock  # monotonic seconds; tests move it instead of waiting
        self._lock = threading.Lock()
        self._cached: tuple[float, T] | None = None
        self.loads = 0  # reads of the collection since start (or since clear())

    def _fresh(self, now: float) -> T | None:
        cached = self._cached
        if cached is not None and now - cached[0] < self._max_age_seconds():
            return cached[1]
        return None

    def get(self, now: float | None = None) -> T:
        """The catalog, read again when the cached one is too old. `now` (monotonic seconds)
        lets tests move time instead of waiting."""
        moment = self.clock() if now is None else now
        fresh = self._fresh(moment)
        if fresh is not None:
            return fresh
        # One read at a time: the requests that find the catalog stale together wait for one
        # read instead of each making its own.
        with self._lock:
            fresh = self._fresh(moment)
            if fresh is not None:
                return fresh
            catalog = self._load()
            self.loads += 1
            self._cached = (moment, catalog)
            return catalog

    def clear(self) -> None:
        with self._lock:
            self._cached = None
            self.loads = 0


shop_catalog = CatalogCache(read_shop_catalog, catalog_cache_seconds)


def current_catalog(now: float | None = None) -> ShopCatalog:
    """The catalog pricing and GET /api/config sell from, at most CATALOG_CACHE_SECONDS old."""
    return shop_catalog.get(now)
