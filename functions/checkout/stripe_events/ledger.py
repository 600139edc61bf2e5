"""Applying a Stripe event to its order exactly once, in order: one read, one conditional commit.

One batched read fetches the ledger entry stripe_events/{event id} and the order together. If
the entry exists, the event was handled: nothing more happens (1 RPC). Otherwise the change is
planned (checkout.stripe_events.plan, pure) from the order as read, and one commit writes the
order change and creates the ledger entry, atomically, on two conditions Firestore checks:

- the ledger entry is created with create(), which fails if it exists: a concurrent delivery
  of the same event committed first, and this one is a duplicate;
- the order is created with create() if it was missing, or updated only if its update_time is
  still the one read: a concurrent change to the order (another event, a cart update) fails
  the commit, and the event is planned again from the order as it now is.

A failed condition writes nothing, so the attempt re-reads and re-plans (jittered backoff);
any other failure writes nothing either, and Stripe's retry is processed in full. No
transaction, so no locks and no lock waits: concurrent deliveries cost a re-read, not a
timeout. An event that leaves the order unchanged writes only its ledger entry; its decision
rests on the order as read, which is the order it is serialised after.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import firestore

from checkout.platform.collections import ORDERS, STRIPE_EVENTS
from checkout.platform.firestore_client import (
    MAX_ATTEMPTS,
    RPC_RETRY,
    RPC_TIMEOUT_SECONDS,
    commit_conditional,
    retry_on_conflict,
)
from checkout.platform.json_fields import Json
from checkout.stripe_events.event import StripeEvent
from checkout.stripe_events.plan import Plan, Source, plan

# Stripe retries a delivery for up to 3 days, and events can be resent by hand for 30 days;
# past that an entry is dead weight. A Firestore TTL policy on expireAt deletes it
# (firestore.indexes.json); even then a very late replay only meets the state machine.
LEDGER_RETENTION = timedelta(days=90)


@dataclass(frozen=True)
class Applied:
    duplicate: bool  # the ledger already had this event: nothing was written
    plan: Plan | None  # what was committed (None for a duplicate)
    order: Json | None  # the order as committed, without server timestamps


DUPLICATE = Applied(duplicate=True, plan=None, order=None)


def ledger_entry(
    event: StripeEvent, decided: Plan, now: datetime, commit_token: str, source: Source
) -> Json:
    return {
        "eventId": event["id"],
        "source": source.value,
        "type": event["type"],
        "orderId": decided.order_id,
        "outcome": decided.outcome.value,
        "reason": decided.reason,
        "previousStatus": decided.previous_status.value if decided.previous_status else None,
        "status": decided.status.value if decided.status else None,
        "eventCreated": datetime.fromtimestamp(event["created"], UTC),
        "processedAt": firestore.SERVER_TIMESTAMP,
        "expireAt": now + LEDGER_RETENTION,
        # Which commit wrote the entry: if the client retried a commit whose first try landed
        # but whose answer was lost, the retry fails as "exists", and the token shows that the
        # entry is ours, so the event still counts as applied here (and is fulfilled).
        "commitToken": commit_token,
    }


def apply_event(
    client: firestore.Client,
    event: StripeEvent,
    order_id: str,
    max_attempts: int = MAX_ATTEMPTS,
    *,
    source: Source = Source.WEBHOOK,
) -> Applied:
    """Record `event`, come by `source`, against orders/{order_id} exactly once. Raises on any
    Firestore error, and WriteConflict if the order kept changing under it for `max_attempts`
    attempts."""
    ledger_ref = client.collection(STRIPE_EVENTS).document(event["id"])
    order_ref = client.collection(ORDERS).document(order_id)
    # What each of our commits would have returned, by the token it wrote into the entry.
    committed_by: dict[str, Applied] = {}

    def attempt() -> Applied:
        snapshots = {
            s.reference.path: s
            for s in client.get_all(
                [ledger_ref, order_ref], retry=RPC_RETRY, timeout=RPC_TIMEOUT_SECONDS
            )
        }
        entry = snapshots[ledger_ref.path]
        if entry.exists:
            # An entry, once there, stays: the event was handled, here or by another delivery.
            return committed_by.get(str((entry.to_dict() or {}).get("commitToken")), DUPLICATE)
        order_snapshot = snapshots[order_ref.path]
        stored: dict[str, Any] | None = order_snapshot.to_dict()
        now = datetime.now(UTC)
        decided = plan(stored, event, now, source)
        token = uuid.uuid4().hex
        batch = client.batch()
        order = stored
        if decided.creates:
            order = decided.writes
            batch.create(  # precondition: the order does not exist
                order_ref,
                {
                    **decided.writes,
                    "createdAt": firestore.SERVER_TIMESTAMP,
                    "updatedAt": firestore.SERVER_TIMESTAMP,
                },
            )
        elif decided.writes:
            order = {**(stored or {}), **decided.writes}
            batch.update(  # precondition: the order is still the version that was planned from
                order_ref,
                {**decided.writes, "updatedAt": firestore.SERVER_TIMESTAMP},
                option=client.write_option(last_update_time=order_snapshot.update_time),
            )
        applied = Applied(duplicate=False, plan=decided, order=order)
        if not decided.recorded:
            # A foreign event leaves no trace (its plan writes nothing); a redelivery is judged
            # anew.
            return applied
        batch.create(ledger_ref, ledger_entry(event, decided, now, token, source))
        committed_by[token] = applied
        commit_conditional(lambda: batch.commit(retry=RPC_RETRY, timeout=RPC_TIMEOUT_SECONDS))
        return applied

    return retry_on_conflict(attempt, max_attempts)
