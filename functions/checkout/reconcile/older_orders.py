"""Open orders written by an older version, given the fields the reconciler's queries select by.

A Firestore query never returns a document that lacks a field it filters on, so an order written
before `lastActivityAt` existed would never be found by the abandonment step's query. This step
walks the open orders (pending, processing, failed) in creation order, from a cursor kept in
reconciler/older_orders, and gives each one that lacks a field its value for an old order
(checkout.orders.reconciler_fields.older_order_fields); every order written since has them from
the start. The walk ends for good once it has passed every order created until ROLLOUT after
it first ran, when no instance of an older version can still be writing orders. After running
an older version again, delete reconciler/older_orders: the walk starts over.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import firestore

from checkout.orders.reconciler_fields import older_order_fields
from checkout.platform import firestore_client
from checkout.platform.collections import RECONCILER_STATE
from checkout.platform.firestore_client import db
from checkout.reconcile import queries
from checkout.reconcile.pass_state import Budget, PassSettings, Summary

STEP = "older_orders"
STATE_DOCUMENT = "older_orders"
# A deploy has replaced every instance of the older version well within this.
ROLLOUT = timedelta(hours=1)
_BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


def give_fields(ref: firestore.DocumentReference) -> bool:
    """Give the order the fields it lacks; False if it has them all (or is gone)."""

    def attempt() -> bool:
        snapshot = ref.get()
        fields = older_order_fields(snapshot.to_dict() or {}) if snapshot.exists else {}
        if fields:
            # Only the version read: never over a lastActivityAt written meanwhile.
            option = db().write_option(last_update_time=snapshot.update_time)
            firestore_client.commit_conditional(lambda: ref.update(fields, option=option))
        return bool(fields)

    given: bool = firestore_client.retry_on_conflict(attempt)
    return given


def run(settings: PassSettings, budget: Budget, summary: Summary, now: datetime) -> None:
    state_ref = db().collection(RECONCILER_STATE).document(STATE_DOCUMENT)
    state: dict[str, Any] = state_ref.get().to_dict() or {}
    if state.get("done"):
        return
    started = state.get("startedAt") or now
    created_from = state.get("createdFrom") or _BEGINNING
    after_id = state.get("afterId")
    try:
        while not budget.spent():
            query = queries.open_orders_by_creation(
                db(), created_from, settings.page_size, after_id
            )
            page = list(query.stream())
            for snapshot in page:
                if give_fields(snapshot.reference):
                    summary.count(STEP, "updated")
                created_from, after_id = snapshot.get("createdAt"), snapshot.id
            if len(page) < settings.page_size:
                state["done"] = now >= started + ROLLOUT
                return
        summary.left_over(STEP)
    finally:
        state.update(startedAt=started, createdFrom=created_from, afterId=after_id)
        state_ref.set(state)
