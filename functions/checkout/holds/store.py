"""Reading pools and committing their plans (checkout.holds.plan) to Firestore.

One batched read fetches every shard of the pools concerned; one commit writes the changed
shards, each created with create() or updated only if its update_time is still the one read.
A commit that loses to a concurrent one writes nothing, and the attempt reads and plans again
(as the ledger does: no transactions, so no lock waits under a rush). A checkout's hold over
several pools (a cart of several tracked products) commits in one batch: all or nothing.

The ledger (checkout.stripe_events.ledger) does not call the functions that commit here: it
reads with `read_pools`, plans with checkout.holds.plan, and adds the writes to its own commit
with `add_writes`, so that a payment's units are sold in the commit that records it paid.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.cloud import firestore

from checkout.holds import plan
from checkout.holds.pool import SHARDS, Pool, document_of, shard_from_document
from checkout.platform.collections import POOL_SHARDS, POOLS
from checkout.platform.firestore_client import (
    RPC_RETRY,
    RPC_TIMEOUT_SECONDS,
    commit_conditional,
    db,
    retry_on_conflict,
)

# A hold's renewal that would move its end by less than this is not written: a shopper's
# repeated requests a few seconds apart cost a read each, not a write each.
RENEW_AFTER = timedelta(seconds=60)


class NotEnough(Exception):
    """Some pools have fewer units on sale than asked for: nothing was held."""

    def __init__(self, available: Mapping[str, int]) -> None:
        super().__init__(dict(available))
        self.available = dict(available)  # pool -> units this checkout could hold now


class BelowCommitted(Exception):
    """The owner's new total is below the units already sold or held: nothing was changed."""

    def __init__(self, pool: str, committed: int) -> None:
        super().__init__(pool, committed)
        self.pool = pool
        self.committed = committed


@dataclass(frozen=True)
class ReadPools:
    """Pools as read, with each shard's version (the precondition of its write)."""

    pools: dict[str, Pool]
    versions: dict[tuple[str, int], Any]  # (pool, shard index) -> update_time


def _shard_ref(client: firestore.Client, pool: str, index: int) -> firestore.DocumentReference:
    ref: firestore.DocumentReference = (
        client.collection(POOLS).document(pool).collection(POOL_SHARDS).document(str(index))
    )
    return ref


def read_pools(client: firestore.Client, pools: Iterable[str]) -> ReadPools:
    """Every shard of `pools`, in one read."""
    names = sorted(set(pools))
    refs = [_shard_ref(client, pool, index) for pool in names for index in range(SHARDS)]
    shards: dict[str, dict[int, Any]] = {pool: {} for pool in names}
    versions: dict[tuple[str, int], Any] = {}
    if refs:
        for snapshot in client.get_all(refs, retry=RPC_RETRY, timeout=RPC_TIMEOUT_SECONDS):
            if not snapshot.exists:
                continue
            pool = snapshot.reference.parent.parent.id
            index = int(snapshot.id)
            shards[pool][index] = shard_from_document(pool, index, snapshot.to_dict() or {})
            versions[(pool, index)] = snapshot.update_time
    return ReadPools({pool: Pool(pool, shards[pool]) for pool in names}, versions)


def add_writes(
    client: firestore.Client,
    batch: firestore.WriteBatch,
    read: ReadPools,
    pool: str,
    changes: plan.Changes,
) -> None:
    """Add a plan's changes of `pool` to `batch`, each shard on the condition that it is still
    the version read (created, if it did not exist)."""
    for index, shard in changes.items():
        ref = _shard_ref(client, pool, index)
        version = read.versions.get((pool, index))
        if version is None:
            batch.create(ref, document_of(shard))
        else:
            batch.update(
                ref, document_of(shard), option=client.write_option(last_update_time=version)
            )


def _commit(batch: firestore.WriteBatch) -> None:
    commit_conditional(lambda: batch.commit(retry=RPC_RETRY, timeout=RPC_TIMEOUT_SECONDS))


def availability(
    pools: Iterable[str], now: datetime, key: str | None = None
) -> dict[str, int | None]:
    """Units on sale in each pool now (None: not tracked, no limit); with `key`, what that
    checkout holds itself counts as on sale to it."""
    read = read_pools(db(), pools)
    return {
        name: pool.available(now, key) if pool.tracked else None
        for name, pool in read.pools.items()
    }


def hold(
    key: str, demands: Mapping[str, int], now: datetime, until: datetime | None
) -> dict[str, int | None]:
    """Checkout `key` holds exactly `demands` (pool -> units; 0 gives all back), until `until`.

    All pools or none: raises NotEnough (naming every pool short of units) and holds nothing
    new. Returns what is now available to the checkout in each pool (None: not tracked).
    """
    client = db()

    def attempt() -> dict[str, int | None]:
        read = read_pools(client, demands)
        batch = client.batch()
        short: dict[str, int] = {}
        writes = 0
        for name, units in demands.items():
            pool = read.pools[name]
            changes = plan.hold(pool, key, units, until, now, keep_until_within=RENEW_AFTER)
            if isinstance(changes, plan.NotEnough):
                short[name] = changes.available
                continue
            add_writes(client, batch, read, name, changes)
            writes += len(changes)
        if short:
            raise NotEnough(
                {
                    **{n: p.available(now, key) for n, p in read.pools.items() if p.tracked},
                    **short,
                }
            )
        if writes:
            _commit(batch)
        return {n: p.available(now, key) if p.tracked else None for n, p in read.pools.items()}

    return retry_on_conflict(attempt)


def release(key: str, pools: Iterable[str], now: datetime) -> None:
    """Checkout `key`'s units in `pools` go back on sale (idempotent)."""
    client = db()

    def attempt() -> None:
        read = read_pools(client, pools)
        batch = client.batch()
        writes = 0
        for name, pool in read.pools.items():
            changes = plan.release(pool, key, now)
            add_writes(client, batch, read, name, changes)
            writes += len(changes)
        if writes:
            _commit(batch)

    retry_on_conflict(attempt)


def set_total(pool: str, total: int | None, now: datetime) -> None:
    """The owner's total for `pool` (None: not tracked any more, its shards are deleted).
    Raises BelowCommitted, changing nothing, when `total` is below what is sold or held."""
    client = db()

    def attempt() -> None:
        read = read_pools(client, [pool])
        batch = client.batch()
        if total is None:
            for index in read.pools[pool].shards:
                batch.delete(
                    _shard_ref(client, pool, index),
                    option=client.write_option(last_update_time=read.versions[(pool, index)]),
                )
            if read.pools[pool].shards:
                _commit(batch)
            return
        changes = plan.set_total(read.pools[pool], total, now)
        if isinstance(changes, plan.BelowCommitted):
            raise BelowCommitted(pool, changes.committed)
        add_writes(client, batch, read, pool, changes)
        if changes:
            _commit(batch)

    retry_on_conflict(attempt)
