"""Writing an import's plan to the `products` collection, in batches, every commit bounded;
then the shipping rates' document, when the file's section changes it.

Each batch is atomic; the import as a whole is not, and running it again finishes it (the plan
of a second run holds only what the first did not write).
"""

from collections.abc import Mapping
from typing import Any

from google.api_core import exceptions
from google.cloud import firestore

from checkout.catalog.changes import ImportPlan
from checkout.platform.collections import PRODUCTS
from checkout.platform.firestore_client import RPC_RETRY
from checkout.products.product import document_of
from checkout.shipping.live_rates import rates_reference

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


def write_plan(
    client: firestore.Client, plan: ImportPlan, shipping: Mapping[str, Any] | None = None
) -> int:
    """Commit the plan's writes, BATCH_SIZE at a time, then the `shipping` rates document when
    given (shipping_section.ShippingPlan.write); returns how many commits were made.

    Merged product writes: fields of a document the catalog does not know (added by later
    capabilities) are kept. The shipping document is the section's alone: written whole.
    """
    writes = planned_writes(plan)
    total = len(writes) + (shipping is not None)
    collection = client.collection(PRODUCTS)
    batches = 0
    for start in range(0, len(writes), BATCH_SIZE):
        batch = client.batch()
        for product_id, fields in writes[start : start + BATCH_SIZE]:
            batch.set(collection.document(product_id), fields, merge=True)
        try:
            batch.commit(retry=RPC_RETRY, timeout=COMMIT_TIMEOUT_SECONDS)
        except exceptions.GoogleAPIError as error:
            raise ImportInterrupted(start, total, error) from error
        batches += 1
    if shipping is not None:
        try:
            rates_reference(client).set(
                dict(shipping), retry=RPC_RETRY, timeout=COMMIT_TIMEOUT_SECONDS
            )
        except exceptions.GoogleAPIError as error:
            raise ImportInterrupted(len(writes), total, error) from error
        batches += 1
    return batches
