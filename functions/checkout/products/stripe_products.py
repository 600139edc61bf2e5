"""The catalog's Stripe mode (CATALOG_SOURCE=stripe), pure: what a Stripe Product and its default
Price make of a product document, and which of two facts about one is the newer.

Stripe's objects come in as plain dicts (webhook events, the Events API, the backfill's list);
nothing here calls Stripe or Firestore. Two kinds of fact, each kept with what orders it:

- a product fact, from a Product: ordered by the Product's own `updated`, then by when it was
  seen (the event's `created`, or the second the backfill listed it). A deletion is final.
- a price fact, from a Price: a Price has no `updated` and its amount never changes (a new
  price is a new Price), so price facts are ordered by when they were seen. A deletion is final.

Within one second a creation comes before an update; beyond that the order is unknown, and off
sale wins, so that every delivery order ends the same (two updates within one second stay
ambiguous: the next change, or `sync-from-stripe`, settles them).

The product is on sale only when its default price is one-time, per unit, in the shop's
currency, active, and of this product; otherwise it is off sale (`active: false`) and
OFF_SALE_REASON says why. docs/catalog.md, "Stripe mode".
"""

from collections.abc import Mapping
from typing import Any

from checkout.products.product import (
    MAX_DESCRIPTION_LENGTH,
    MAX_IMAGES,
    MAX_NAME_LENGTH,
    MAX_UNIT_AMOUNT,
    image_problem,
    is_int,
)

Json = dict[str, Any]

# Fields of products/{id} written in Stripe mode besides the catalog's own: the product fact
# (what orders it, and what decides the sale with the price), and why it is off sale (or None).
PRODUCT_FACT = "stripeProduct"
OFF_SALE_REASON = "offSaleReason"

# Off-sale reasons that are the owner's own choice in the Dashboard, not a problem to fix.
ARCHIVED = "archived in Stripe"
DELETED = "deleted in Stripe"
OWNERS_CHOICES = (ARCHIVED, DELETED)  # alone: with a price problem, it is worth a warning


def _id_of(value: object) -> str | None:
    """An id, whether Stripe sent the object expanded or only its id."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _int(obj: Mapping[str, Any], field: str) -> int:
    value = obj.get(field)
    return value if is_int(value) else 0


# Within one second, a creation comes before an update (or a listing), which comes before a
# deletion: a script that creates a Product, then its Price, then sets it as the default makes
# product.created and product.updated with the same `updated` and `created`.
CREATED, UPDATED, DELETED_STEP = 0, 1, 2


def product_fact(
    product: Mapping[str, Any], seen_at: int, *, deleted: bool = False, step: int = UPDATED
) -> Json:
    """What decides a product's sale, with what orders it: seen at `seen_at` (Unix seconds), at
    `step` of its life within that second."""
    return {
        "updated": _int(product, "updated"),
        "seenAt": seen_at,
        "step": DELETED_STEP if deleted else step,
        "active": product.get("active") is True,
        "deleted": deleted or product.get("deleted") is True,
        "defaultPrice": _id_of(product.get("default_price")),
    }


def price_fact(
    price: Mapping[str, Any], seen_at: int, *, deleted: bool = False, step: int = UPDATED
) -> Json:
    """What a Price says about selling at it, seen at `seen_at` (Unix seconds), at `step`."""
    amount = price.get("unit_amount")
    return {
        "id": _id_of(price.get("id")),
        "product": _id_of(price.get("product")),
        "seenAt": seen_at,
        "step": DELETED_STEP if deleted else step,
        "active": price.get("active") is True,
        "deleted": deleted or price.get("deleted") is True,
        "type": price.get("type"),
        "recurring": price.get("recurring") is not None,
        "billingScheme": price.get("billing_scheme"),
        "currency": str(price.get("currency") or "").lower(),
        "unitAmount": amount if is_int(amount) else None,
    }


def _off_sale(fact: Mapping[str, Any]) -> bool:
    return fact.get("deleted") is True or fact.get("active") is not True


def _newer(stored: Mapping[str, Any] | None, new: Mapping[str, Any], key: tuple[str, ...]) -> bool:
    if stored is None:
        return True
    if stored.get("deleted") is True:
        return False  # final: a late event about an earlier version changes nothing
    if new.get("deleted") is True:
        return True
    old_key = tuple(_int(stored, field) for field in key)
    new_key = tuple(_int(new, field) for field in key)
    if new_key != old_key:
        return new_key > old_key
    return _off_sale(new) and not _off_sale(stored)


def newer_product_fact(stored: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Whether `new` is newer than the `stored` product fact (None: none stored)."""
    return _newer(stored, new, ("updated", "seenAt", "step"))


def newer_price_fact(stored: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Whether `new` is newer than the `stored` price fact (None: none stored)."""
    return _newer(stored, new, ("seenAt", "step"))


def price_problem(
    product_id: str, default_price: str | None, price: Mapping[str, Any] | None, currency: str
) -> str | None:
    """Why the product cannot be sold at its default price, or None when it can."""
    if default_price is None:
        return "no default price"
    if price is None or price.get("id") != default_price:
        return f"default price {default_price} not known yet"
    if price.get("product") != product_id:
        return f"default price {default_price} belongs to {price.get('product')}"
    if price.get("deleted") is True:
        return f"default price {default_price} deleted in Stripe"
    if price.get("active") is not True:
        return f"default price {default_price} archived in Stripe"
    if price.get("type") != "one_time" or price.get("recurring") is True:
        return f"default price {default_price} is recurring: the shop sells one-time prices"
    if price.get("billingScheme") != "per_unit":
        return f"default price {default_price} is {price.get('billingScheme')}, not per unit"
    if price.get("currency") != currency:
        return (
            f"default price {default_price} is in {price.get('currency')!r}, "
            f"the shop sells in {currency!r} (SHOP_CURRENCY)"
        )
    amount = price.get("unitAmount")
    if not is_int(amount):
        return f"default price {default_price} has no unit amount"
    if not 0 <= amount <= MAX_UNIT_AMOUNT:
        return f"default price {default_price} is {amount}: must be from 0 to {MAX_UNIT_AMOUNT}"
    return None


def sale_fields(
    product_id: str,
    fact: Mapping[str, Any],
    price: Mapping[str, Any] | None,
    currency: str,
) -> Json:
    """`active`, `unitAmount`, `currency` and OFF_SALE_REASON of the product whose fact is
    `fact` (with the `problems` its fields had), sold at `price` (the fact of its default
    price, or None when none is known)."""
    reasons = []
    if fact.get("deleted") is True:
        reasons.append(DELETED)
    elif fact.get("active") is not True:
        reasons.append(ARCHIVED)
    problem = price_problem(product_id, fact.get("defaultPrice"), price, currency)
    if problem is not None:
        reasons.append(problem)
    reasons += [str(p) for p in fact.get("problems") or ()]
    amount = price.get("unitAmount") if price is not None and problem is None else 0
    return {
        "active": not reasons,
        # Never an amount of another currency or price: 0 while off sale for the price.
        "unitAmount": amount,
        "currency": currency,
        OFF_SALE_REASON: "; ".join(reasons) if reasons else None,
    }


def _text(value: object, longest: int, field: str, problems: list[str]) -> str:
    text = value if isinstance(value, str) else ""
    if len(text) > longest:
        problems.append(f"{field} is longer than {longest} characters")
        return text[:longest]
    return text


def catalog_fields(product: Mapping[str, Any]) -> tuple[Json, tuple[str, ...]]:
    """The catalog's own fields from a Product, each made to fit the catalog's rules, and the
    problems that keep it off sale. Images the page cannot show are left out (the page's
    Content-Security-Policy shows only Stripe's own and the site's)."""
    problems: list[str] = []
    images = product.get("images")
    shown = [i for i in images if image_problem(i) is None] if isinstance(images, list) else []
    position = (product.get("metadata") or {}).get("position")
    try:
        place = int(position) if isinstance(position, str | int) else 0
    except ValueError:
        place = 0
    shippable = product.get("shippable")
    fields: Json = {
        "name": _text(product.get("name"), MAX_NAME_LENGTH, "name", problems) or "(no name)",
        "description": _text(
            product.get("description"), MAX_DESCRIPTION_LENGTH, "description", problems
        ),
        "position": place,
        "shippable": shippable if isinstance(shippable, bool) else True,
        "images": shown[:MAX_IMAGES],
    }
    return fields, tuple(problems)


def product_document(
    product: Mapping[str, Any], fact: Json, price: Mapping[str, Any] | None, currency: str
) -> Json:
    """The fields of products/{id} for the Stripe Product `product` (whose fact is `fact`), sold
    at `price`, the fact of its default price (None: not known)."""
    fields, problems = catalog_fields(product)
    product_id = _id_of(product.get("id")) or ""
    # Kept with the fact: a price event decides the sale again without the Product at hand.
    fact = {**fact, "problems": list(problems)}
    return {**fields, **sale_fields(product_id, fact, price, currency), PRODUCT_FACT: fact}
