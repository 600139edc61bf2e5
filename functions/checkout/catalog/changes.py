"""What an import changes: the catalog file compared with the documents in Firestore.

Pure: the import writes exactly this plan, and `--dry-run` prints it instead. A product of the
file that has no document is added; one whose document differs in any field is changed (the
fields that differ, old -> new); a document the file no longer lists is deactivated, never
deleted (orders refer to it). A document broken by hand compares as it is, so the import
repairs it.

Stock: the product's `stock` is its pool's total (checkout.holds). Each added product, and each
changed one whose `stock` differs, gets a `StockChange`; `stock_refusals` names those that would
put the total below the units already sold or held, which refuses the import as a whole.
"""

import json
from collections.abc import Callable, Mapping, Sequence, Sized
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from checkout.discounts.promotion_code import format_time
from checkout.holds import plan as holds_plan
from checkout.holds.pool import Pool, product_pool
from checkout.products.product import (
    DOCUMENT_FIELDS,
    OPTIONAL_FIELDS,
    Problem,
    Product,
    document_of,
)


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

    @property
    def stock_changes(self) -> tuple["StockChange", ...]:
        """The pools whose total the import sets: every added product's (a pool left from a
        document deleted by hand must not limit it), every changed `stock`."""
        added = [StockChange(p.id, p.stock) for p in self.added]
        changed = [
            StockChange(item.product.id, item.product.stock)
            for item in self.changed
            if any(change.field == "stock" for change in item.changes)
        ]
        return (*added, *changed)


@dataclass(frozen=True)
class StockChange:
    product_id: str
    stock: int | None  # the pool's new total; None: not tracked (its shards are deleted)

    @property
    def pool(self) -> str:
        return product_pool(self.product_id)


def _plain(value: Any) -> Any:
    # A timestamp compares as its RFC 3339 text, tagged so that the string a console user typed
    # instead of a timestamp still differs; anything else of no JSON type by its repr.
    if isinstance(value, datetime):
        return {"timestamp": format_time(value)}
    return repr(value)


def _as_compared(value: Any) -> str:
    # Type-strict: JSON true is not 1, 1400.0 is not 1400.
    return json.dumps(value, sort_keys=True, default=_plain)


def changed_fields(
    document: Mapping[str, Any],
    wanted: Mapping[str, Any],
    fields: Sequence[str],
    read_as: Mapping[str, Any],
) -> tuple[FieldChange, ...]:
    """The `fields` of `document` that differ from the `wanted` document's, in that order. A
    field either lacks reads as `read_as` has it, as the shop reads it (MISSING, a change,
    when `read_as` has no value for it either)."""
    changes = []
    for field in fields:
        old = document.get(field, read_as.get(field, MISSING))
        new = wanted.get(field, read_as.get(field))
        if old is MISSING or _as_compared(old) != _as_compared(new):
            changes.append(FieldChange(field, old, new))
    return tuple(changes)


T = TypeVar("T")


@dataclass(frozen=True)
class Compared(Generic[T]):
    """The items of a file compared with their documents (products, promotion codes)."""

    added: tuple[T, ...]  # no document
    changed: tuple[tuple[T, tuple[FieldChange, ...]], ...]
    deactivated: tuple[str, ...]  # keys of the active documents the file no longer lists
    unchanged: int


def compare(
    items: Sequence[T],
    key: Callable[[T], str],
    documents: Mapping[str, Mapping[str, Any]],
    changes_of: Callable[[Mapping[str, Any], T], tuple[FieldChange, ...]],
) -> Compared[T]:
    """`items` compared with the `documents` (by `key`) now in Firestore."""
    added, changed = [], []
    unchanged = 0
    for item in items:
        document = documents.get(key(item))
        if document is None:
            added.append(item)
            continue
        changes = changes_of(document, item)
        if changes:
            changed.append((item, changes))
        else:
            unchanged += 1
    listed = {key(item) for item in items}
    deactivated = sorted(
        name
        for name, document in documents.items()
        if name not in listed and document.get("active") is not False
    )
    return Compared(tuple(added), tuple(changed), tuple(deactivated), unchanged)


def field_changes(document: Mapping[str, Any], product: Product) -> tuple[FieldChange, ...]:
    """The fields of `document` that differ from `product`'s, in DOCUMENT_FIELDS order.

    An optional field the document lacks reads as its default, as the shop reads it; `stock`
    None is left out of the wanted document, and so reads as None too.
    """
    return changed_fields(document, document_of(product), DOCUMENT_FIELDS, OPTIONAL_FIELDS)


def plan_import(
    products: Sequence[Product], documents: Mapping[str, Mapping[str, Any]]
) -> ImportPlan:
    """What importing `products` does to the product `documents` (by id) now in Firestore."""
    compared = compare(products, lambda product: product.id, documents, field_changes)
    changed = tuple(ChangedProduct(product, changes) for product, changes in compared.changed)
    return ImportPlan(compared.added, changed, compared.deactivated, compared.unchanged)


def below_committed(change: StockChange, pool: Pool, now: datetime) -> int | None:
    """The units sold or held in `pool` when `change` would put its total below them; None
    when the total can be set (or the product untracked: that is never refused)."""
    if change.stock is None:
        return None
    planned = holds_plan.set_total(pool, change.stock, now)
    return planned.committed if isinstance(planned, holds_plan.BelowCommitted) else None


def refusal(product_id: str, stock: int, committed: int) -> Problem:
    message = (
        f"{stock} is below the {committed} unit(s) already sold or held: stock counts every "
        f"unit put on sale, sold ones included, so it must be at least {committed}"
    )
    return Problem(repr(product_id), "stock", message)


def stock_refusals(plan: ImportPlan, pools: Mapping[str, Pool], now: datetime) -> list[Problem]:
    """A problem for each stock change of `plan` below what its pool (as read, by pool name)
    has sold or held `now`."""
    problems = []
    for change in plan.stock_changes:
        committed = below_committed(change, pools[change.pool], now)
        if committed is not None and change.stock is not None:
            problems.append(refusal(change.product_id, change.stock, committed))
    return problems


def _shown(value: Any) -> str:
    return repr(value) if value is MISSING else json.dumps(value, ensure_ascii=False, default=repr)


def describe(plan: ImportPlan) -> list[str]:
    """One line per added product, per changed field, per deactivated product."""
    lines = [
        f"added {p.id}: {json.dumps(p.name, ensure_ascii=False)}, {p.unit_amount} {p.currency}"
        + ("" if p.stock is None else f", stock {p.stock}")
        for p in plan.added
    ]
    lines += [
        f"changed {item.product.id}: {change.field} {_shown(change.old)} -> {_shown(change.new)}"
        for item in plan.changed
        for change in item.changes
    ]
    lines += [f"deactivated {product_id}" for product_id in plan.deactivated]
    return lines


class PlanCounts(Protocol):
    """What a summary counts: a products' or a promotion codes' plan."""

    @property
    def added(self) -> Sized: ...

    @property
    def changed(self) -> Sized: ...

    @property
    def deactivated(self) -> Sized: ...

    @property
    def unchanged(self) -> int: ...


def summary(plan: PlanCounts) -> str:
    return (
        f"{len(plan.added)} added, {len(plan.changed)} changed, "
        f"{len(plan.deactivated)} deactivated, {plan.unchanged} unchanged"
    )
