"""Re-checking stuck orders: a pending or processing order not changed for a while has its
PaymentIntent retrieved, and what Stripe says is applied through the state machine (the event
id and the history name the reconciler).

An order the check does not change is touched (updatedAt), so that the next pass takes the
orders checked longest ago first and a long queue of idle checkouts cannot starve the rest.
"""

import contextlib
from datetime import datetime
from typing import Any

from google.api_core import exceptions
from google.cloud import firestore

from checkout.orders import stripe_sync
from checkout.orders.return_check import CHECKED_AT
from checkout.platform.firestore_client import db
from checkout.reconcile import queries
from checkout.reconcile.one_pass import Budget, PassSettings, Summary

STEP = "stuck"


def touch(
    snapshot: "firestore.DocumentSnapshot[firestore.DocumentReference]",
    fields: dict[str, Any] | None = None,
) -> None:
    """Record that the reconciler asked Stripe about the order (and set `fields`), unless the
    order changed since `snapshot` was read: then it is not stuck anyway."""
    with contextlib.suppress(exceptions.FailedPrecondition):
        snapshot.reference.update(
            {
                "updatedAt": firestore.SERVER_TIMESTAMP,
                CHECKED_AT: firestore.SERVER_TIMESTAMP,
                **(fields or {}),
            },
            option=db().write_option(last_update_time=snapshot.update_time),
        )


def run(settings: PassSettings, budget: Budget, summary: Summary, now: datetime) -> None:
    query = queries.stuck_orders(db(), now - settings.stuck_after, settings.page_size)
    for snapshot in query.stream():
        if budget.spent():
            summary.left_over(STEP)
            return
        try:
            synced = stripe_sync.sync_order(snapshot.id, snapshot.to_dict(), stripe_sync.RECONCILER)
            summary.count(STEP, synced.outcome)
            summary.fulfilment(STEP, synced.fulfilment)
            if synced.outcome != "applied":
                touch(snapshot)
        except Exception as error:  # noqa: BLE001 - counted; the next pass tries this order again
            summary.error(STEP, error, orderId=snapshot.id)
