"""What an import changes: the catalog file compared with the documents in Firestore.

Pure: the import writes exactly this plan, and `--dry-run` prints it instead. A product of the
file that has no document is added; one whose document differs in any field is changed (the
fields that differ, old -> new); a document the file no longer lists is deactivated, never
deleted (orders refer to it). A document broken by hand compares as it is, so the import
repairs it.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checkout.products.product import DOCUMENT_FIELDS, OPTIONAL_FIELDS, Product, document_of


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


MISSING: Any = _Missing()  # the old value of a field the document did not have


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class ChangedProduct:
    product: Product
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True)
class ImportPlan:
    added: tuple[Product, ...]
    changed: tuple[ChangedProduct, ...]
    deactivated: tuple[str, ...]  # ids
    unchanged: int

    @property
    def write_count(self) -> int:
        return len(self.added) + len(self.changed) + len(self.deactivated)


def _as_compared(value: Any) -> str:
    # Type-strict: JSON true is not 1, 1400.0 is not 1400. A value of no JSON type (a timestamp
    # typed in the console) compares by its text, and so differs from any file value.
    return json.dumps(value, sort_keys=True, default=repr)


def field_changes(document: Mapping[str, Any], product: Product) -> tuple[FieldChange, ...]:
    """The fields of `document` that differ from `product`'s, in DOCUMENT_FIELDS order.

    An optional field the document lacks reads as its default, as the shop reads it.
    """
    wanted = document_of(product)
    changes = []
    for field in DOCUMENT_FIELDS:
        old = document.get(field, OPTIONAL_FIELDS.get(field, MISSING))
        if old is MISSING or _as_compared(old) != _as_compared(wanted[field]):
            changes.append(FieldChange(field, old, wanted[field]))
    return tuple(changes)


def plan_import(
    products: Sequence[Product], documents: Mapping[str, Mapping[str, Any]]
) -> ImportPlan:
    """What importing `products` does to the product `documents` (by id) now in Firestore."""
    added, changed = [], []
    unchanged = 0
    for product in products:
        document = documents.get(product.id)
        if document is None:
            added.append(product)
            continue
        changes = field_changes(document, product)
        if changes:
            changed.append(ChangedProduct(product, changes))
        else:
            unchanged += 1
    listed = {product.id for product in products}
    deactivated = sorted(
        product_id
        for product_id, document in documents.items()
        if product_id not in listed and document.get("active") is not False
    )
    return ImportPlan(tuple(added), tuple(changed), tuple(deactivated), unchanged)


def _shown(value: Any) -> str:
    return repr(value) if value is MISSING else json.dumps(value, ensure_ascii=False, default=repr)


def describe(plan: ImportPlan) -> list[str]:
    """One line per added product, per changed field, per deactivated product."""
    lines = [
        f"added {p.id}: {json.dumps(p.name, ensure_ascii=False)}, {p.unit_amount} {p.currency}"
        for p in plan.added
    ]
    lines += [
        f"changed {item.product.id}: {change.field} {_shown(change.old)} -> {_shown(change.new)}"
        for item in plan.changed
        for change in item.changes
    ]
    lines += [f"deactivated {product_id}" for product_id in plan.deactivated]
    return lines


def summary(plan: ImportPlan) -> str:
    return (
        f"{len(plan.added)} added, {len(plan.changed)} changed, "
        f"{len(plan.deactivated)} deactivated, {plan.unchanged} unchanged"
    )
