"""What an import changes in the promotion codes: the file's `promotionCodes` compared with the
documents in Firestore.

Pure, as for products (checkout.catalog.changes): a code of the file that has no document is
added; one whose document differs in any field is changed (the fields that differ, old -> new);
a document the file no longer lists is deactivated, never deleted (orders name their code). A
file without a `promotionCodes` section plans nothing here.

`maxRedemptions` is enforced by the code's pool (checkout.discounts.redemptions): the import
sets its total as it sets a product's stock, never below the redemptions sold or held.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from checkout.catalog.changes import MISSING, FieldChange, changed_fields, compare, summary
from checkout.discounts.promotion_code import (
    DEFAULTS,
    DOCUMENT_FIELDS,
    REQUIRED_FIELDS,
    CodeProblem,
    PromotionCode,
    document_of,
    format_time,
)
from checkout.discounts.redemptions import code_pool
from checkout.holds import plan as holds_plan
from checkout.holds.pool import Pool

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

    @property
    def redemption_changes(self) -> tuple["RedemptionChange", ...]:
        """The pools whose total the import sets: every added code's, every changed
        `maxRedemptions`."""
        added = [RedemptionChange(c.code, c.max_redemptions) for c in self.added]
        changed = [
            RedemptionChange(item.code.code, item.code.max_redemptions)
            for item in self.changed
            if any(change.field == "maxRedemptions" for change in item.changes)
        ]
        return (*added, *changed)


@dataclass(frozen=True)
class RedemptionChange:
    code: str
    total: int | None  # the pool's new total; None: unlimited (its shards are deleted)

    @property
    def pool(self) -> str:
        return code_pool(self.code)


def redemption_refusal(code: str, total: int, committed: int) -> CodeProblem:
    message = (
        f"{total} is below the {committed} redemption(s) already sold or held: it counts every "
        f"redemption, used ones included, so it must be at least {committed}"
    )
    return CodeProblem(repr(code), "maxRedemptions", message)


def redemption_refusals(
    plan: CodeImportPlan, pools: Mapping[str, Pool], now: datetime
) -> list[CodeProblem]:
    """A problem for each `maxRedemptions` of `plan` below what its pool has sold or held."""
    problems: list[CodeProblem] = []
    for change in plan.redemption_changes:
        if change.total is None or change.pool not in pools:
            continue
        planned = holds_plan.set_total(pools[change.pool], change.total, now)
        if isinstance(planned, holds_plan.BelowCommitted):
            problems.append(redemption_refusal(change.code, change.total, planned.committed))
    return problems


def field_changes(document: Mapping[str, Any], code: PromotionCode) -> tuple[FieldChange, ...]:
    """The fields of `document` that differ from `code`'s, in DOCUMENT_FIELDS order (times
    compare as moments, as for products)."""
    return changed_fields(document, document_of(code), DOCUMENT_FIELDS, READ_AS)


def plan_code_import(
    codes: Sequence[PromotionCode], documents: Mapping[str, Mapping[str, Any]]
) -> CodeImportPlan:
    """What importing `codes` does to the code `documents` (by code) now in Firestore."""
    compared = compare(codes, lambda code: code.code, documents, field_changes)
    changed = tuple(ChangedCode(code, changes) for code, changes in compared.changed)
    return CodeImportPlan(compared.added, changed, compared.deactivated, compared.unchanged)


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
    return f"promotion codes: {summary(plan)}"
