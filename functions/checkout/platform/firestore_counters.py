"""Counters in Firestore that cost one round trip: increment, learn the new value.

An `Increment(1)` transform in a commit returns its result (the new value) in the commit
response, so no read and no transaction is needed, and concurrent increments never conflict
(transforms are applied on the server). A counter's increment can also ride in another commit
(`add_increment`), which then tells its new value too (`count_of`).

`ShardedBudget` spends a per-window budget that many requests share (the shop's new checkouts)
without one document taking every write: the budget is split over shard documents, each with
its own share, and a request takes one unit from a shard that still has some.
"""

import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.cloud import firestore

from checkout.platform.collections import RATE_LIMITS
from checkout.platform.firestore_client import db

_TIMEOUT_SECONDS = 5.0

# A shard's share of a window's budget is at most this many units. A shard takes its share's
# writes plus at most one from each instance that finds it spent (then it remembers), so at the
# default of 300 new checkouts a minute (30 shards) and 10 instances no document takes more than
# 20 writes a minute: 1 in 10 of a 200-checkout sale, one write every 3 s, under Firestore's
# guideline of about one sustained write a second per document. Smaller shares spread the writes
# further but cost an instance more commits to learn that a spent budget is spent.
SHARD_SHARE = 10


@dataclass(frozen=True)
class Counter:
    """rate_limits/{doc_id}: `count`, and `expireAt`, when a TTL policy deletes it."""

    doc_id: str
    expire_at: datetime


def add_increment(batch: firestore.WriteBatch, counter: Counter) -> None:
    """Add 1 to the counter in `batch`; its new value is `count_of` the batch's last result."""
    batch.set(
        db().collection(RATE_LIMITS).document(counter.doc_id),
        {"count": firestore.Increment(1), "expireAt": counter.expire_at},
        merge=True,
    )


def count_of(write_result: Any) -> int:
    """The new value of a counter from the result of the write that incremented it."""
    return int(write_result.transform_results[0].integer_value)


def increment(counter: Counter) -> int:
    """Add 1 to the counter (one commit); its new value."""
    batch = db().batch()
    add_increment(batch, counter)
    return count_of(batch.commit(timeout=_TIMEOUT_SECONDS)[-1])


def shard_shares(limit: int) -> list[int]:
    """Each shard's share of `limit`: as few shards as SHARD_SHARE allows, the shares summing
    to exactly `limit` (so the shards together never let more through than the limit)."""
    shards = max(1, math.ceil(limit / SHARD_SHARE))
    return [limit // shards + (1 if k < limit % shards else 0) for k in range(shards)]


class ShardedBudget:
    """`limit` units per window, spread over shard documents `{prefix}-{window}-{k}-of-{n}`.

    `take` increments one shard picked at random among those not yet known to be spent: if
    the new count is within the shard's share, the unit is the caller's; if not, that shard is
    spent (its count past its share takes nothing from anyone) and the next one is tried. So
    the shards never let more than `limit` through in a window, and a caller is refused only
    after every shard was found spent. This instance remembers the spent shards of the current
    window, so a request refused by a spent budget costs no write at all. One commit in the
    common case; one more each time a shard turns out to be spent.
    """

    def __init__(self, prefix: str, increment: Callable[[Counter], int] | None = None) -> None:
        self.prefix = prefix
        self._increment = increment  # None: this module's `increment`, looked up at each call
        self._lock = threading.Lock()
        self._window: tuple[int, int] = (0, 0)  # (window start, limit) the memory is about
        self._spent: set[int] = set()

    def take(self, limit: int, window_start: int, expire_at: datetime) -> bool:
        """Take one unit of this window's budget; False when it is all spent."""
        shares = shard_shares(limit)
        tried: set[int] = set()  # at most one increment per shard per call
        while True:
            with self._lock:
                if self._window != (window_start, limit):
                    self._window, self._spent = (window_start, limit), set()
                left = [k for k in range(len(shares)) if k not in self._spent | tried]
            if not left:
                return False
            shard = random.choice(left)  # noqa: S311 (spreads writes; not a secret)
            tried.add(shard)
            doc_id = f"{self.prefix}-{window_start}-{shard}-of-{len(shares)}"
            count = (self._increment or increment)(Counter(doc_id, expire_at))
            if count <= shares[shard]:
                return True
            with self._lock:
                if self._window == (window_start, limit):
                    self._spent.add(shard)

    def forget(self) -> None:
        """Drop what this instance knows of spent shards (tests empty the database between
        cases)."""
        with self._lock:
            self._window, self._spent = (0, 0), set()
