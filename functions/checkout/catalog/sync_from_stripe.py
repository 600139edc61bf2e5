"""The backfill of the catalog's Stripe mode, `python -m checkout.catalog sync-from-stripe`:
products/ made what Stripe says now, for products that existed before the webhook did, or
whose events were lost beyond the reconciler's reach.

It lists Stripe's active Products with their default Price expanded (checkout.stripe_api) and
applies each as an observation seen at the second the listing began: planned like an event
(checkout.stripe_events.catalog_events) and written with the same conditional commit
(checkout.stripe_events.ledger), so an event the webhook applies meanwhile is never
overwritten by an older view, nor the other way round. Then every product document still on
sale that the list did not name is asked of Stripe: archived since, or gone (deleted), it goes
off sale; no document is ever deleted.
"""

import time
from dataclasses import dataclass, field

from checkout.platform.firestore_client import db
from checkout.platform.json_fields import Json
from checkout.products import store
from checkout.products.product import is_valid_id
from checkout.products.stripe_products import OFF_SALE_REASON
from checkout.stripe_api import products
from checkout.stripe_events import ledger
from checkout.stripe_events.catalog_events import (
    CatalogPlan,
    Target,
    plan_missing_product,
    plan_product,
    product_target,
)


@dataclass
class SyncReport:
    lines: list[str] = field(default_factory=list)  # one per product whose document changed
    on_sale: int = 0
    off_sale: int = 0
    unchanged: int = 0
    # Listed by Stripe, but with an id no product document can have: named, not written.
    unusable: list[str] = field(default_factory=list)

    def count(self, product_id: str, decided: CatalogPlan) -> None:
        if decided.product is None:
            self.unchanged += 1
            return
        fields = decided.product.fields
        if decided.off_sale is None and fields.get("active") is True:
            self.on_sale += 1
            name, amount = fields.get("name"), fields.get("unitAmount")
            self.lines.append(f"on sale {product_id}: {name!r}, {amount} {fields.get('currency')}")
        else:
            self.off_sale += 1
            self.lines.append(f"off sale {product_id}: {fields.get(OFF_SALE_REASON)}")

    def summary(self) -> str:
        return f"{self.on_sale} on sale, {self.off_sale} off sale, {self.unchanged} unchanged" + (
            f", {len(self.unusable)} unusable" if self.unusable else ""
        )


def _observe(product: Json, seen_at: int, currency: str, report: SyncReport) -> None:
    target = product_target(product)
    if target is None:
        report.unusable.append(str(product.get("id")))
        return
    applied = ledger.apply_catalog_change(
        db(),
        target,
        lambda stored, price: plan_product(product, seen_at, stored, price, currency),
        None,
    )
    assert applied.plan is not None  # no ledger: never a duplicate
    report.count(target.product_id, applied.plan)


def _observe_missing(product_id: str, seen_at: int, report: SyncReport) -> None:
    applied = ledger.apply_catalog_change(
        db(),
        Target(product_id, None),
        lambda stored, _price: plan_missing_product(product_id, seen_at, stored),
        None,
    )
    assert applied.plan is not None
    report.count(product_id, applied.plan)


def sync_from_stripe(currency: str) -> SyncReport:
    """Make products/ what Stripe says now. Raises ApiError when Stripe cannot be asked, and
    Firestore's errors; what was written before stays written (running it again finishes)."""
    seen_at = int(time.time())  # before the first request: anything after it is newer
    report = SyncReport()
    listed: set[str] = set()
    after: str | None = None
    while True:
        page = products.list_active_products_page(after)
        for product in page.products:
            listed.add(str(product.get("id")))
            _observe(product, seen_at, currency, report)
        if not page.has_more or not page.products:
            break
        after = str(page.products[-1]["id"])
    for product_id, document in sorted(store.read_documents(db()).items()):
        if product_id in listed or document.get("active") is not True:
            continue
        if not is_valid_id(product_id):
            continue  # broken by hand: the shop already counts it off sale
        found = products.retrieve_product(product_id)
        if found is None:
            _observe_missing(product_id, seen_at, report)
        elif product_target(found) is not None:
            _observe(found, seen_at, currency, report)
    return report
