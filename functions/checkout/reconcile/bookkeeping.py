"""What the reconciler writes on an order about its own looking, beside what Stripe says:
when it last asked Stripe, and that Stripe does not know the order's PaymentIntent."""

import contextlib
from datetime import datetime
from typing import Any

from google.api_core import exceptions
from google.cloud import firestore

from checkout.orders.reconciler_fields import CHECKED_AT, STRIPE_MISSING, STRIPE_MISSING_AT
from checkout.platform import structured_log as logger
from checkout.platform.firestore_client import db


def touch(
    snapshot: "firestore.DocumentSnapshot[firestore.DocumentReference]",
    fields: dict[str, Any] | None = None,
) -> None:
    """Record that the reconciler asked Stripe about the order (and set `fields`), unless the
    order changed since `snapshot` was read: then whoever changed it has moved it on."""
    with contextlib.suppress(exceptions.FailedPrecondition):
        snapshot.reference.update(
            {
                "updatedAt": firestore.SERVER_TIMESTAMP,
                CHECKED_AT: firestore.SERVER_TIMESTAMP,
                **(fields or {}),
            },
            option=db().write_option(last_update_time=snapshot.update_time),
        )


def touch_after_failure(
    snapshot: "firestore.DocumentSnapshot[firestore.DocumentReference]",
    fields: dict[str, Any] | None = None,
) -> None:
    """`touch` after a failure already counted, so that the order goes to the back of the queue;
    if this fails too (Firestore down), it simply stays first in line."""
    with contextlib.suppress(Exception):
        touch(snapshot, fields)


def mark_missing(
    snapshot: "firestore.DocumentSnapshot[firestore.DocumentReference]", now: datetime
) -> None:
    """Stripe does not know the order's PaymentIntent: leave the order out of later passes."""
    logger.warn("payment intent unknown to stripe; order left out of later passes",
                orderId=snapshot.id)  # fmt: skip
    touch(snapshot, {STRIPE_MISSING: True, STRIPE_MISSING_AT: now})
