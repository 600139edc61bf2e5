"""What a Stripe product.* or price.* event means for the catalog (CATALOG_SOURCE=stripe): which
documents it reads, and the pure plan of its change, decided from them as they are now.

An event touches at most two documents: products/{product id} (the catalog the shop sells
from) and stripe_prices/{price id} (the fact of a Price, kept so that a product and its price
can arrive in any order). A product event reads its default price's document; a price event
reads its product's document. The facts and their order are checkout.products.stripe_products;
checkout.stripe_events.ledger runs `plan_catalog_event` between its one read and its one
conditional commit, which also writes the ledger entry. The backfill
(checkout.catalog.sync_from_stripe) plans a listed Product the same way, as an observation.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from checkout.platform.json_fields import Json
from checkout.platform.settings import catalog_source
from checkout.products.product import is_valid_id
from checkout.products.stripe_products import (
    CREATED,
    DELETED,
    OFF_SALE_REASON,
    PRODUCT_FACT,
    UPDATED,
    newer_price_fact,
    newer_product_fact,
    price_fact,
    product_document,
    product_fact,
    sale_fields,
)
from checkout.stripe_events.event import STRIPE_ID, StripeEvent, event_object
from checkout.stripe_events.plan import Outcome

PRODUCT_EVENTS = ("product.created", "product.updated", "product.deleted")
PRICE_EVENTS = ("price.created", "price.updated", "price.deleted")
CATALOG_EVENT_TYPES = (*PRODUCT_EVENTS, *PRICE_EVENTS)


def is_catalog_event(event: StripeEvent) -> bool:
    return event["type"] in CATALOG_EVENT_TYPES


def catalog_events_handled() -> bool:
    """Whether the shop keeps its catalog from Stripe's events (CATALOG_SOURCE=stripe); raises
    InvalidSetting for a value it cannot use."""
    return catalog_source() == "stripe"


@dataclass(frozen=True)
class Target:
    """The documents an event reads and may write."""

    product_id: str
    price_id: str | None  # None: a product with no default price


def _id_of(value: object) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) else None


def product_target(product: Mapping[str, Any]) -> Target | None:
    product_id, price_id = _id_of(product.get("id")), _id_of(product.get("default_price"))
    if not is_valid_id(product_id):
        return None
    return Target(product_id, price_id if price_id and STRIPE_ID.match(price_id) else None)


def target_of(event: StripeEvent) -> Target | None:
    """The documents of a catalog event, or None when its object names no usable ids (a
    product id that cannot be a product's document id, say)."""
    obj = event_object(event)
    if event["type"] in PRODUCT_EVENTS:
        return product_target(obj)
    price_id, product_id = _id_of(obj.get("id")), _id_of(obj.get("product"))
    if price_id is None or not STRIPE_ID.match(price_id) or not is_valid_id(product_id):
        return None
    return Target(product_id, price_id)


@dataclass(frozen=True)
class DocumentChange:
    fields: Json  # the whole document when `creates`, else the fields to update
    creates: bool  # create() (it must not exist) rather than update() (it must be as read)


@dataclass(frozen=True)
class CatalogPlan:
    outcome: Outcome  # APPLIED (something changed) or IGNORED (older than what is known)
    reason: str
    product: DocumentChange | None = None
    price: DocumentChange | None = None
    # Why the product is off sale after the change (None: on sale, or no product document).
    off_sale: str | None = None


def _fact(document: Mapping[str, Any] | None) -> Json | None:
    fact = (document or {}).get(PRODUCT_FACT)
    return dict(fact) if isinstance(fact, Mapping) else None


def _sale_words(fields: Mapping[str, Any]) -> str:
    if fields.get("active") is True:
        return f"on sale at {fields.get('unitAmount')} {fields.get('currency')}"
    return f"off sale: {fields.get(OFF_SALE_REASON)}"


def _price_change(stored: Json | None, new: Json) -> DocumentChange | None:
    if not newer_price_fact(stored, new):
        return None
    return DocumentChange(new, creates=stored is None)


def _resale(
    product_id: str, stored_product: Json | None, price: Json | None, currency: str
) -> DocumentChange | None:
    """The sale fields of a stored product whose default price is now `price`, when they
    change."""
    fact = _fact(stored_product)
    if stored_product is None or fact is None or price is None:
        return None
    if fact.get("defaultPrice") != price.get("id"):
        return None
    sale = sale_fields(product_id, fact, price, currency)
    if all(stored_product.get(field) == value for field, value in sale.items()):
        return None
    return DocumentChange(sale, creates=False)


def plan_product(
    product: Mapping[str, Any],
    seen_at: int,
    stored_product: Json | None,
    stored_price: Json | None,
    currency: str,
    *,
    deleted: bool = False,
    step: int = UPDATED,
) -> CatalogPlan:
    """A Product seen at `seen_at` (an event's `created`, or when the backfill listed it), its
    default price perhaps expanded (the backfill's list)."""
    target = product_target(product)
    assert target is not None  # the caller read its documents from it
    price = stored_price
    price_change = None
    expanded = product.get("default_price")
    if isinstance(expanded, Mapping):
        price_change = _price_change(stored_price, price_fact(expanded, seen_at))
        price = price_change.fields if price_change is not None else stored_price
    fact = product_fact(product, seen_at, deleted=deleted, step=step)
    if not newer_product_fact(_fact(stored_product), fact):
        resale = _resale(target.product_id, stored_product, price, currency)
        if price_change is None and resale is None:
            return CatalogPlan(Outcome.IGNORED, "older than the product as known")
        return CatalogPlan(Outcome.APPLIED, "price recorded", resale, price_change)
    document = product_document(product, fact, price, currency)
    if _same_product(stored_product, document):
        # Seen again as it was (the backfill run twice): nothing to write for the product.
        return CatalogPlan(
            Outcome.APPLIED if price_change else Outcome.IGNORED, "unchanged", None, price_change
        )
    return CatalogPlan(
        Outcome.APPLIED,
        _sale_words(document),
        DocumentChange(document, creates=stored_product is None),
        price_change,
        document[OFF_SALE_REASON],
    )


def _same_product(stored: Json | None, document: Json) -> bool:
    """Whether `document` says what `stored` says, when it was seen aside."""
    if stored is None:
        return False

    def unseen(fact: object) -> object:
        return {k: v for k, v in fact.items() if k != "seenAt"} if isinstance(fact, dict) else fact

    for field, value in document.items():
        old = stored.get(field)
        if field == PRODUCT_FACT:
            old, value = unseen(old), unseen(value)
        if old != value:
            return False
    return True


def plan_missing_product(product_id: str, seen_at: int, stored_product: Json | None) -> CatalogPlan:
    """Stripe has no Product `product_id` any more (the backfill retrieved it: 404): deleted.
    The document stays (orders refer to it), off sale; its other fields are kept."""
    if stored_product is None:
        return CatalogPlan(Outcome.IGNORED, "no such product")
    fact = _fact(stored_product) or {"updated": 0, "active": False, "defaultPrice": None}
    if fact.get("deleted") is True:
        return CatalogPlan(Outcome.IGNORED, "unchanged")
    fields: Json = {
        PRODUCT_FACT: {**fact, "deleted": True, "seenAt": seen_at},
        "active": False,
        OFF_SALE_REASON: DELETED,
    }
    change = DocumentChange(fields, creates=False)
    return CatalogPlan(Outcome.APPLIED, f"off sale: {DELETED}", change, None, DELETED)


def plan_price(
    price: Mapping[str, Any],
    seen_at: int,
    stored_product: Json | None,
    stored_price: Json | None,
    currency: str,
    *,
    deleted: bool = False,
    step: int = UPDATED,
) -> CatalogPlan:
    target = target_of({"type": "price.updated", "data": {"object": price}})
    assert target is not None
    change = _price_change(stored_price, price_fact(price, seen_at, deleted=deleted, step=step))
    if change is None:
        return CatalogPlan(Outcome.IGNORED, "older than the price as known")
    resale = _resale(target.product_id, stored_product, change.fields, currency)
    if resale is None:
        return CatalogPlan(Outcome.APPLIED, "price recorded", None, change)
    return CatalogPlan(
        Outcome.APPLIED,
        f"price recorded; product {_sale_words(resale.fields)}",
        resale,
        change,
        resale.fields[OFF_SALE_REASON],
    )


def plan_catalog_event(
    event: StripeEvent, stored_product: Json | None, stored_price: Json | None, currency: str
) -> CatalogPlan:
    """What `event` does to the product and price documents as read (None: missing)."""
    deleted = event["type"].endswith(".deleted")
    plan = plan_product if event["type"] in PRODUCT_EVENTS else plan_price
    step = CREATED if event["type"].endswith(".created") else UPDATED
    obj = event_object(event)
    return plan(
        obj, event["created"], stored_product, stored_price, currency, deleted=deleted, step=step
    )
