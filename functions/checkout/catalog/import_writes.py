"""Writing an import's plan to the `products` (and `promotion_codes`) collections, in batches,
every commit bounded.

Each batch is atomic; the import as a whole is not, and running it again finishes it (the plan
of a second run holds only what the first did not write).
"""

from typing import Any

from google.api_core import exceptions
from google.cloud import firestore

from checkout.catalog.changes import ImportPlan
from checkout.catalog.code_changes import CodeImportPlan
from checkout.discounts import promotion_code
from checkout.platform.collections import PRODUCTS, PROMOTION_CODES
from checkout.platform.firestore_client import RPC_RETRY
from checkout.products.product import document_of

COMMIT_TIMEOUT_SECONDS = 20.0
BATCH_SIZE = 500  # Firestore's most writes in one batch


class ImportInterrupted(Exception):
    """A batch failed after `written` of `total` writes were committed (each batch is atomic;
    the import as a whole is not, and running it again finishes it)."""

    def __init__(self, written: int, total: int, cause: BaseException) -> None:
        super().__init__(f"{written} of {total} writes committed before: {cause}")
        self.written = written
        self.total = total


def planned_writes(plan: ImportPlan) -> list[tuple[str, dict[str, Any]]]:
    """(product id, fields to merge into its document) for each write of the plan."""
    writes = [(product.id, document_of(product)) for product in plan.added]
    writes += [
        (item.product.id, {change.field: change.new for change in item.changes})
        for item in plan.changed
    ]
    writes += [(product_id, {"active": False}) for product_id in plan.deactivated]
    return writes


def planned_code_writes(plan: CodeImportPlan) -> list[tuple[str, dict[str, Any]]]:
    """(code, fields to merge into its document) for each write of the codes' plan."""
    writes = [(code.code, promotion_code.document_of(code)) for code in plan.added]
    writes += [
        (item.code.code, {change.field: change.new for change in item.changes})
        for item in plan.changed
    ]
    writes += [(code, {"active": False}) for code in plan.deactivated]
    return writes


def write_plan(
    client: firestore.Client, plan: ImportPlan, code_plan: CodeImportPlan | None = None
) -> int:
    """Commit the plan's writes (products, then codes), BATCH_SIZE at a time; returns how many
    batches were committed.

    Merged writes: fields of a document the catalog does not know (added by later capabilities)
    are kept.
    """
    writes = [(PRODUCTS, name, fields) for name, fields in planned_writes(plan)]
    if code_plan is not None:
        writes += [(PROMOTION_CODES, n, f) for n, f in planned_code_writes(code_plan)]
    batches = 0
    for start in range(0, len(writes), BATCH_SIZE):
        batch = client.batch()
        for collection, name, fields in writes[start : start + BATCH_SIZE]:
            batch.set(client.collection(collection).document(name), fields, merge=True)
        try:
            batch.commit(retry=RPC_RETRY, timeout=COMMIT_TIMEOUT_SECONDS)
        except exceptions.GoogleAPIError as error:
            raise ImportInterrupted(start, len(writes), error) from error
        batches += 1
    return batches
