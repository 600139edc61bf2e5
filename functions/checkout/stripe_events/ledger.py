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

When the event moves the payment on for an order that holds units (a success, a cancel,
`processing`, a decline after it), the pools' shards are read too (a second read, only then),
and the same commit writes what checkout.stripe_events.stock decides (units sold, given back,
pinned), each shard on the condition that it is still the version read: the units follow the
payment exactly once, in the commit that records it.

When the change moves the order into `paid` (or `refunded`), the same commit creates its mail
documents with create() (checkout.mail.documents: mail/{id}, mail/{id}-owner, mail/{id}-refund)
and records them on the order (`mailCreatedFor`): one email per order is a database fact, for
every source, whatever the duplicates. With mail on, they are created claimed by this
function (PROCESSING, under a lease): `Applied.mail` holds them and `Applied.mail_held_at` the
commit's time, their update time, under which the caller (checkout.stripe_events.apply)
records their outcomes after sending them. Creating and claiming them costs no RPC.

A catalog event (CATALOG_SOURCE=stripe) follows the same rules with other documents:
`apply_catalog_change` reads its ledger entry with the product and price documents it touches
(checkout.stripe_events.catalog_events), and one commit creates the entry and writes those
documents, each created with create() or updated only if its update_time is still the one read.
Without an event (the backfill's observation of a listed Product) it writes no ledger entry.

A failed condition writes nothing, so the attempt re-reads and re-plans (jittered backoff);
any other failure writes nothing either, and Stripe's retry is processed in full. No
transaction, so no locks and no lock waits: concurrent deliveries cost a re-read, not a
timeout. An event that leaves the order unchanged writes only its ledger entry; its decision
rests on the order as read, which is the order it is serialised after.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import firestore

from checkout.holds import store as holds_store
from checkout.mail import documents as mail_documents
from checkout.platform.collections import MAIL, ORDERS, PRODUCTS, STRIPE_EVENTS, STRIPE_PRICES
from checkout.platform.firestore_client import (
    MAX_ATTEMPTS,
    RPC_RETRY,
    RPC_TIMEOUT_SECONDS,
    commit_conditional,
    retry_on_conflict,
)
from checkout.platform.json_fields import Json
from checkout.platform.settings import stock_hold_seconds
from checkout.stripe_events import stock
from checkout.stripe_events.catalog_events import CatalogPlan, DocumentChange, Target
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
    # mail/ documents this commit created: send them after it
    mail: tuple[mail_documents.MailDocument, ...] = ()
    # The commit's time when the documents were created held by this function (mail on);
    # None when they were created PENDING, or when the commit's answer was lost.
    mail_held_at: Any = None

    @property
    def mail_ids(self) -> tuple[str, ...]:
        return tuple(mail.doc_id for mail in self.mail)


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


def add_mail(
    client: firestore.Client,
    batch: firestore.WriteBatch,
    stored: Json | None,
    decided: Plan,
    mail: mail_documents.MailSettings,
    now: datetime,
) -> tuple[Plan, tuple[mail_documents.MailDocument, ...], bool]:
    """Add to `batch` the mail documents the order's change calls for, each created with
    create() (fails the commit if it exists); the plan gains what the order records of them.
    Also says whether they are created held by this function (mail on: it sends them)."""
    if not decided.writes:
        return decided, (), False
    planned = mail_documents.mail_for_change(
        decided.order_id, stored, stock.order_after(stored, decided), mail, now
    )
    held = bool(planned.documents) and _sends_mail()
    if held:
        planned = planned.held_by_committer(now)
    for document in planned.documents:
        batch.create(client.collection(MAIL).document(document.doc_id), document.fields)
    if planned.order_fields:
        decided = replace(decided, writes={**decided.writes, **planned.order_fields})
    return decided, tuple(planned.documents), held


def _sends_mail() -> bool:
    # Loaded only when an order is mailed: most events create no mail.
    from checkout.mail import sender

    return sender.ready()


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
    mail = mail_documents.mail_settings_for_commit()

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
        pools = stock.pools_to_read(stored, decided)
        if pools:
            # Only an event that moves the payment on, for an order that holds units: the
            # shards are read now, and written in this commit on their own conditions.
            read = holds_store.read_pools(client, pools)
            settled = stock.settle(stored, decided, read.pools, now, stock_hold_seconds())
            decided = settled.plan
            for pool, changes in settled.changes.items():
                holds_store.add_writes(client, batch, read, pool, changes)
        decided, mail_created, held = add_mail(client, batch, stored, decided, mail, now)
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
        applied = Applied(duplicate=False, plan=decided, order=order, mail=mail_created)
        if not decided.recorded:
            # A foreign event leaves no trace (its plan writes nothing); a redelivery is judged
            # anew.
            return applied
        batch.create(ledger_ref, ledger_entry(event, decided, now, token, source))
        # (A retried commit whose first try landed returns this from the read: without the
        # commit's time, its held mail waits for the reconciler.)
        committed_by[token] = applied
        commit_conditional(lambda: batch.commit(retry=RPC_RETRY, timeout=RPC_TIMEOUT_SECONDS))
        return replace(applied, mail_held_at=batch.commit_time) if held else applied

    return retry_on_conflict(attempt, max_attempts)


# --- catalog events


@dataclass(frozen=True)
class CatalogApplied:
    duplicate: bool  # the ledger already had this event: nothing was written
    plan: CatalogPlan | None  # what was committed (None for a duplicate)


CATALOG_DUPLICATE = CatalogApplied(duplicate=True, plan=None)

# The documents as read (None: missing) -> the plan of their change.
CatalogDecision = Callable[[Json | None, Json | None], CatalogPlan]


def catalog_ledger_entry(
    event: StripeEvent,
    target: Target,
    decided: CatalogPlan,
    now: datetime,
    commit_token: str,
    source: Source,
) -> Json:
    return {
        "eventId": event["id"],
        "source": source.value,
        "type": event["type"],
        "productId": target.product_id,
        "priceId": target.price_id,
        "outcome": decided.outcome.value,
        "reason": decided.reason,
        "eventCreated": datetime.fromtimestamp(event["created"], UTC),
        "processedAt": firestore.SERVER_TIMESTAMP,
        "expireAt": now + LEDGER_RETENTION,
        "commitToken": commit_token,
    }


def _write(
    client: firestore.Client,
    batch: firestore.WriteBatch,
    ref: firestore.DocumentReference | None,
    snapshot: Any,
    change: DocumentChange | None,
) -> bool:
    if ref is None or change is None:
        return False
    if change.creates:
        batch.create(ref, change.fields)  # precondition: it does not exist
    else:  # precondition: it is still the version that was planned from
        batch.update(
            ref, change.fields, option=client.write_option(last_update_time=snapshot.update_time)
        )
    return True


def apply_catalog_change(
    client: firestore.Client,
    target: Target,
    decide: CatalogDecision,
    event: StripeEvent | None,
    max_attempts: int = MAX_ATTEMPTS,
    *,
    source: Source = Source.WEBHOOK,
) -> CatalogApplied:
    """Plan (`decide`) and commit the change of the `target`'s documents, and record `event`
    (None: an observation, recorded nowhere) exactly once. Raises on any Firestore error, and
    WriteConflict if the documents kept changing under it for `max_attempts` attempts."""
    product_ref = client.collection(PRODUCTS).document(target.product_id)
    price_ref = (
        client.collection(STRIPE_PRICES).document(target.price_id) if target.price_id else None
    )
    ledger_ref = client.collection(STRIPE_EVENTS).document(event["id"]) if event else None
    committed_by: dict[str, CatalogApplied] = {}

    def attempt() -> CatalogApplied:
        refs = [ref for ref in (ledger_ref, product_ref, price_ref) if ref is not None]
        snapshots = {
            s.reference.path: s
            for s in client.get_all(refs, retry=RPC_RETRY, timeout=RPC_TIMEOUT_SECONDS)
        }
        if ledger_ref is not None:
            entry = snapshots[ledger_ref.path]
            if entry.exists:
                token = str((entry.to_dict() or {}).get("commitToken"))
                return committed_by.get(token, CATALOG_DUPLICATE)
        product = snapshots[product_ref.path]
        price = snapshots[price_ref.path] if price_ref is not None else None
        decided = decide(product.to_dict(), price.to_dict() if price is not None else None)
        batch = client.batch()
        writes = _write(client, batch, product_ref, product, decided.product)
        writes = _write(client, batch, price_ref, price, decided.price) or writes
        applied = CatalogApplied(duplicate=False, plan=decided)
        if event is not None and ledger_ref is not None:
            token = uuid.uuid4().hex
            now = datetime.now(UTC)
            batch.create(
                ledger_ref, catalog_ledger_entry(event, target, decided, now, token, source)
            )
            committed_by[token] = applied
        elif not writes:
            return applied
        commit_conditional(lambda: batch.commit(retry=RPC_RETRY, timeout=RPC_TIMEOUT_SECONDS))
        return applied

    return retry_on_conflict(attempt, max_attempts)
