"""Applying a Stripe event to its order in one Firestore transaction: exactly once, in order.

The transaction reads the ledger entry stripe_events/{event id} and the order, plans the change
(checkout.webhooks.events, pure), and writes the order change together with the ledger entry.
So a redelivered event finds its entry and does nothing, and a failed transaction writes neither,
leaving Stripe's retry to be processed in full. Concurrent deliveries of one event, or of two
events for one order, are serialised by the transaction: each plans from what the last wrote.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import retry as retries
from google.cloud import firestore

from checkout.orders.store import ORDERS, STRIPE_EVENTS
from checkout.platform.firestore_client import MAX_ATTEMPTS, retry_on_contention
from checkout.webhooks.events import Json, Plan, plan
from checkout.webhooks.signature import StripeEvent

# Calls give up after a few seconds: with Firestore unreachable the client would retry reads
# for up to 300 s while Stripe waits, when a quick 5xx lets Stripe retry later. (Transaction
# begin and commit keep the client's defaults; they only run after a read has succeeded.)
RPC_RETRY = retries.Retry(
    predicate=retries.if_transient_error, initial=0.1, maximum=1.0, multiplier=2.0, timeout=5.0
)
RPC_TIMEOUT_SECONDS = 3.0

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


def ledger_entry(event: StripeEvent, decided: Plan, now: datetime) -> Json:
    return {
        "eventId": event["id"],
        "type": event["type"],
        "orderId": decided.order_id,
        "outcome": decided.outcome.value,
        "reason": decided.reason,
        "previousStatus": decided.previous_status.value if decided.previous_status else None,
        "status": decided.status.value if decided.status else None,
        "eventCreated": datetime.fromtimestamp(event["created"], UTC),
        "processedAt": firestore.SERVER_TIMESTAMP,
        "expireAt": now + LEDGER_RETENTION,
    }


def apply_event(
    client: firestore.Client,
    event: StripeEvent,
    order_id: str,
    max_attempts: int = MAX_ATTEMPTS,
) -> Applied:
    """Record `event` against orders/{order_id} exactly once. Raises on any Firestore error."""
    ledger_ref = client.collection(STRIPE_EVENTS).document(event["id"])
    order_ref = client.collection(ORDERS).document(order_id)

    # The body may run several times; only the return value of the attempt that committed
    # reaches the caller, so side effects (fulfilment) wait for it.
    def attempt(transaction: firestore.Transaction) -> Applied:
        snapshots = {
            s.reference.path: s
            for s in transaction.get_all(
                [ledger_ref, order_ref], retry=RPC_RETRY, timeout=RPC_TIMEOUT_SECONDS
            )
        }
        if snapshots[ledger_ref.path].exists:
            return DUPLICATE
        stored: dict[str, Any] | None = snapshots[order_ref.path].to_dict()
        now = datetime.now(UTC)
        decided = plan(stored, event, now)
        order = stored
        if decided.creates:
            order = decided.writes
            transaction.create(
                order_ref,
                {
                    **decided.writes,
                    "createdAt": firestore.SERVER_TIMESTAMP,
                    "updatedAt": firestore.SERVER_TIMESTAMP,
                },
            )
        elif decided.writes:
            order = {**(stored or {}), **decided.writes}
            transaction.update(
                order_ref, {**decided.writes, "updatedAt": firestore.SERVER_TIMESTAMP}
            )
        if decided.recorded:  # a foreign event leaves no trace; its redelivery is judged anew
            transaction.create(ledger_ref, ledger_entry(event, decided, now))
        return Applied(duplicate=False, plan=decided, order=order)

    run = firestore.transactional(attempt)

    def once() -> Applied:
        # Outside any transaction: a redelivery (the common case) takes no locks at all.
        # An entry, once there, stays, so "exists" is final; "absent" is re-checked inside.
        if ledger_ref.get(retry=RPC_RETRY, timeout=RPC_TIMEOUT_SECONDS).exists:
            return DUPLICATE
        result: Applied = run(client.transaction(max_attempts=1))
        return result

    return retry_on_contention(once, max_attempts)


def mark_fulfilled(client: firestore.Client, order_id: str) -> None:
    client.collection(ORDERS).document(order_id).update(
        {"fulfilledAt": firestore.SERVER_TIMESTAMP, "updatedAt": firestore.SERVER_TIMESTAMP},
        retry=RPC_RETRY,
        timeout=RPC_TIMEOUT_SECONDS,
    )
