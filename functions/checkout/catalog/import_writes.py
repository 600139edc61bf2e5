"""Writing an import's plan: the stock pools' totals first, then the `products` and
`promotion_codes` collections in batches, every commit bounded; then the shipping rates'
document, when the file's section changes it.

The order is what makes running the import again finish an interrupted one: the plan is made by
comparing the file with the product documents, so a pool is set before the document that says
its stock. Interrupted between the two, the document still differs from the file, and the next
run sets the pool again (setting a total it already has writes nothing) and then the document.
The other order would leave a document saying the new stock over a pool holding the old, which
no later run would see. Each batch is atomic; the import as a whole is not.
"""

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions
from google.cloud import firestore

from checkout.catalog.changes import FieldChange, ImportPlan, refusal
from checkout.catalog.code_changes import CodeImportPlan, redemption_refusal
from checkout.discounts import promotion_code
from checkout.discounts.promotion_code import CodeProblem
from checkout.holds import store as holds_store
from checkout.holds.pool import Pool
from checkout.platform.collections import PRODUCTS, PROMOTION_CODES
from checkout.platform.firestore_client import RPC_RETRY, WriteConflict
from checkout.products.product import Problem, document_of
from checkout.shipping.live_rates import rates_reference

COMMIT_TIMEOUT_SECONDS = 20.0
BATCH_SIZE = 500  # Firestore's most writes in one batch


class ImportInterrupted(Exception):
    """A write failed after `written` of `total` writes were committed (each batch is atomic;
    the import as a whole is not, and running it again finishes it)."""

    def __init__(self, written: int, total: int, cause: BaseException) -> None:
        super().__init__(f"{written} of {total} writes committed before: {cause}")
        self.written = written
        self.total = total


def merged_writes(
    added: Iterable[tuple[str, dict[str, Any]]],
    changed: Iterable[tuple[str, tuple[FieldChange, ...]]],
    deactivated: Iterable[str],
    refused: frozenset[str],
) -> list[tuple[str, dict[str, Any]]]:
    """(document id, fields to merge into it) for each write of an import's plan: the whole
    document of each `added` one, only the fields that differ of each `changed` one, `active`
    false for each `deactivated` one; none for the `refused` ids."""
    writes = list(added)
    writes += [(key, {change.field: change.new for change in changes}) for key, changes in changed]
    writes += [(key, {"active": False}) for key in deactivated]
    return [(key, fields) for key, fields in writes if key not in refused]


def planned_writes(
    plan: ImportPlan, refused: frozenset[str] = frozenset()
) -> list[tuple[str, dict[str, Any]]]:
    """(product id, fields to merge into its document) for each write of the plan, but none
    for the `refused` products."""
    return merged_writes(
        [(product.id, document_of(product)) for product in plan.added],
        [(item.product.id, item.changes) for item in plan.changed],
        plan.deactivated,
        refused,
    )


def read_stock_pools(
    client: firestore.Client, plan: ImportPlan, code_plan: CodeImportPlan | None = None
) -> dict[str, Pool]:
    """The pools of the plan's stock changes and of the codes' `maxRedemptions` changes, as
    they are now (one read), by pool name."""
    pools = [change.pool for change in plan.stock_changes]
    if code_plan is not None:
        pools += [change.pool for change in code_plan.redemption_changes]
    return holds_store.read_pools(client, pools).pools


def _set_totals(plan: ImportPlan, pools: Mapping[str, Pool], total: int) -> dict[str, Problem]:
    """Set each stock change's pool total; the refusals (by product id) of totals that a
    checkout's hold or a sale made too low since the import checked them."""
    refused: dict[str, Problem] = {}
    for done, change in enumerate(plan.stock_changes):
        if change.stock is None and not pools[change.pool].tracked:
            continue  # not tracked already: nothing to delete
        try:
            holds_store.set_total(change.pool, change.stock, datetime.now(UTC))
        except holds_store.BelowCommitted as below:
            assert change.stock is not None  # untracking is never refused
            refused[change.product_id] = refusal(change.product_id, change.stock, below.committed)
        except (exceptions.GoogleAPIError, WriteConflict) as error:
            raise ImportInterrupted(done - len(refused), total, error) from error
    return refused


def _set_code_totals(
    plan: CodeImportPlan, pools: Mapping[str, Pool], done: int, total: int
) -> dict[str, CodeProblem]:
    """Set each code's redemptions pool total (`maxRedemptions`), as stock is; the refusals (by
    code) of totals that redemptions held or sold made too low since the import checked."""
    refused: dict[str, CodeProblem] = {}
    for change in plan.redemption_changes:
        pool = pools.get(change.pool)
        if change.total is None and (pool is None or not pool.tracked):
            continue
        try:
            holds_store.set_total(change.pool, change.total, datetime.now(UTC))
        except holds_store.BelowCommitted as below:
            assert change.total is not None  # making a code unlimited is never refused
            refused[change.code] = redemption_refusal(change.code, change.total, below.committed)
        except (exceptions.GoogleAPIError, WriteConflict) as error:
            raise ImportInterrupted(done, total, error) from error
        done += 1
    return refused


def planned_code_writes(
    plan: CodeImportPlan, refused: frozenset[str] = frozenset()
) -> list[tuple[str, dict[str, Any]]]:
    """(code, fields to merge into its document) for each write of the codes' plan, but none
    for the `refused` codes."""
    return merged_writes(
        [(code.code, promotion_code.document_of(code)) for code in plan.added],
        [(item.code.code, item.changes) for item in plan.changed],
        plan.deactivated,
        refused,
    )


def write_plan(
    client: firestore.Client,
    plan: ImportPlan,
    pools: Mapping[str, Pool] | None = None,
    code_plan: CodeImportPlan | None = None,
    shipping: Mapping[str, Any] | None = None,
) -> list[Problem | CodeProblem]:
    """Commit the plan: the pools' totals (read as `pools`, or now), then the documents
    (products, then codes), BATCH_SIZE at a time, then the `shipping` rates document when
    given (shipping_section.ShippingPlan.write). Returns the products refused at the write
    (their stock below what was sold or held meanwhile), and the codes refused alike for
    `maxRedemptions`, none of whose writes were made.

    Merged product writes: fields of a document the catalog does not know (added by later
    capabilities) are kept. The shipping document is the section's alone: written whole.
    """
    if pools is None:
        pools = read_stock_pools(client, plan, code_plan)
    code_writes = planned_code_writes(code_plan) if code_plan is not None else []
    code_totals = len(code_plan.redemption_changes) if code_plan is not None else 0
    total = len(plan.stock_changes) + code_totals + plan.write_count + len(code_writes)
    total += shipping is not None
    refused = _set_totals(plan, pools, total)
    refused_codes: dict[str, CodeProblem] = {}
    if code_plan is not None:
        done = len(plan.stock_changes) - len(refused)
        refused_codes = _set_code_totals(code_plan, pools, done, total)
        code_writes = planned_code_writes(code_plan, frozenset(refused_codes))
    writes = [(PRODUCTS, name, fields) for name, fields in planned_writes(plan, frozenset(refused))]
    writes += [(PROMOTION_CODES, name, fields) for name, fields in code_writes]
    for start in range(0, len(writes), BATCH_SIZE):
        batch = client.batch()
        for collection, name, fields in writes[start : start + BATCH_SIZE]:
            batch.set(client.collection(collection).document(name), fields, merge=True)
        try:
            batch.commit(retry=RPC_RETRY, timeout=COMMIT_TIMEOUT_SECONDS)
        except exceptions.GoogleAPIError as error:
            written = len(plan.stock_changes) - len(refused) + code_totals + start
            raise ImportInterrupted(written, total, error) from error
    if shipping is not None:
        try:
            rates_reference(client).set(
                dict(shipping), retry=RPC_RETRY, timeout=COMMIT_TIMEOUT_SECONDS
            )
        except exceptions.GoogleAPIError as error:
            written = len(plan.stock_changes) - len(refused) + len(writes)
            raise ImportInterrupted(written, total, error) from error
    return [*refused.values(), *refused_codes.values()]
