"""Counters in Firestore that cost one round trip: increment several, learn their new values.

One batch commit of `Increment(1)` transforms; Firestore returns each transform's result (the
new value) in the commit response, so no read and no transaction is needed, and concurrent
increments never conflict (transforms are applied on the server).
"""

from datetime import datetime

from google.cloud import firestore

from checkout.platform.firestore_client import db

RATE_LIMITS = "rate_limits"
_TIMEOUT_SECONDS = 5.0


def increment(doc_ids: list[str], expire_at: datetime) -> list[int]:
    """Add 1 to rate_limits/{id}.count for each id; the new counts, in the same order."""
    batch = db().batch()
    for doc_id in doc_ids:
        batch.set(
            db().collection(RATE_LIMITS).document(doc_id),
            {"count": firestore.Increment(1), "expireAt": expire_at},
            merge=True,
        )
    results = batch.commit(timeout=_TIMEOUT_SECONDS)
    return [int(result.transform_results[0].integer_value) for result in results]
