"""What an import changes in the promotion codes: the file's `promotionCodes` compared with the
documents in Firestore.

Pure, as for products (checkout.catalog.changes): a code of the file that has no document is
added; one whose document differs in any field is changed (the fields that differ, old -> new);
a document the file no longer lists is deactivated, never deleted (orders name their code). A
file without a `promotionCodes` section plans nothing here.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from checkout.catalog.changes import MISSING, FieldChange
from checkout.discounts.promotion_code import (
    DEFAULTS,
    DOCUMENT_FIELDS,
    REQUIRED_FIELDS,
    PromotionCode,
    document_of,
    format_time,
)

# A field the document lacks reads as the shop reads it: none (null), or its default.
READ_AS: Mapping[str, Any] = {
    field: DEFAULTS.get(field)
    for field in DOCUMENT_FIELDS
    if field not in (*REQUIRED_FIELDS, "currency")
}


@dataclass(frozen=True)
class ChangedCode:
    code: PromotionCode
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True)
class CodeImportPlan:
    added: tuple[PromotionCode, ...]
    changed: tuple[ChangedCode, ...]
    deactivated: tuple[str, ...]  # codes
    unchanged: int

    @property
    def write_count(self) -> int:
        return len(self.added) + len(self.changed) + len(self.deactivated)


def _plain(value: Any) -> Any:
    # A timestamp compares and shows as its RFC 3339 text, tagged so that the string a console
    # user typed instead of a timestamp still differs; anything else of no JSON type by its repr.
    if isinstance(value, datetime):
        return {"timestamp": format_time(value)}
    return repr(value)


def _as_compared(value: Any) -> str:
    # Type-strict, as for products: JSON true is not 1, 10.0 is not 10.
    return json.dumps(value, sort_keys=True, default=_plain)


def field_changes(document: Mapping[str, Any], code: PromotionCode) -> tuple[FieldChange, ...]:
    """The fields of `document` that differ from `code`'s, in DOCUMENT_FIELDS order."""
    wanted = document_of(code)
    changes = []
    for field in DOCUMENT_FIELDS:
        old = document.get(field, READ_AS.get(field, MISSING))
        if old is MISSING or _as_compared(old) != _as_compared(wanted[field]):
            changes.append(FieldChange(field, old, wanted[field]))
    return tuple(changes)


def plan_code_import(
    codes: Sequence[PromotionCode], documents: Mapping[str, Mapping[str, Any]]
) -> CodeImportPlan:
    """What importing `codes` does to the code `documents` (by code) now in Firestore."""
    added, changed = [], []
    unchanged = 0
    for code in codes:
        document = documents.get(code.code)
        if document is None:
            added.append(code)
            continue
        changes = field_changes(document, code)
        if changes:
            changed.append(ChangedCode(code, changes))
        else:
            unchanged += 1
    listed = {code.code for code in codes}
    deactivated = sorted(
        name
        for name, document in documents.items()
        if name not in listed and document.get("active") is not False
    )
    return CodeImportPlan(tuple(added), tuple(changed), tuple(deactivated), unchanged)


def _shown(value: Any) -> str:
    if value is MISSING:
        return repr(value)
    if isinstance(value, datetime):
        return format_time(value)
    return json.dumps(value, ensure_ascii=False, default=repr)


def _offer(code: PromotionCode) -> str:
    if code.percent_off is not None:
        return f"{code.percent_off}% off"
    return f"{code.amount_off} {code.currency} off"


def describe_codes(plan: CodeImportPlan) -> list[str]:
    """One line per added code, per changed field, per deactivated code."""
    lines = [f"added promotion code {c.code}: {_offer(c)}" for c in plan.added]
    lines += [
        f"changed promotion code {item.code.code}: "
        f"{change.field} {_shown(change.old)} -> {_shown(change.new)}"
        for item in plan.changed
        for change in item.changes
    ]
    lines += [f"deactivated promotion code {code}" for code in plan.deactivated]
    return lines


def summary_codes(plan: CodeImportPlan) -> str:
    return (
        f"promotion codes: {len(plan.added)} added, {len(plan.changed)} changed, "
        f"{len(plan.deactivated)} deactivated, {plan.unchanged} unchanged"
    )
