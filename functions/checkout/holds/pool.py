"""A pool of limited units and its shards: what each shard document says, read as plain data.

A pool is a product's stock (`product_pool`) or a promotion code's redemptions
(`promotion_pool`). Its units are split over `SHARDS` documents, pools/{pool}/shards/{n}:

    {"pool": "product:mug", "shard": 3,
     "units": 5,   # units allotted to this shard; the pool's total is the sum over its shards
     "sold": 2,    # units sold: final
     "holds": {"<checkout key>": {"units": 1, "until": <timestamp> or None}}}

A unit is on sale, held by one live checkout, or sold, and the three add up to `units`. A hold
whose `until` has passed is not held, for every reader at once: nobody waits for a sweep or a
TTL to put its units back on sale. `until` None pins a hold while Stripe says the payment is
under way. A pool without shard documents is not tracked: it sells without limit.

Spreading one pool over shards is what keeps a popular product from being one hot document:
each checkout starts at its own shard (`first_shard`) and writes only the shards it takes from.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

# Enough that 200 shoppers racing for one product spread their writes: each shard of a
# 50-unit pool takes 5 holds and 5 sales, not 1 in 10 of the checkouts.
SHARDS = 10


def product_pool(product_id: str) -> str:
    return f"product:{product_id}"


def promotion_pool(code: str) -> str:
    return f"promotion:{code.upper()}"


def product_of(pool: str) -> str | None:
    """The product id of a product's pool; None for another kind of pool."""
    kind, _, name = pool.partition(":")
    return name if kind == "product" else None


def first_shard(key: str) -> int:
    """Where checkout `key` starts taking units: spread evenly, the same on every request."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % SHARDS


@dataclass(frozen=True)
class Hold:
    units: int
    until: datetime | None  # None: pinned while the payment is under way

    def live(self, now: datetime) -> bool:
        return self.until is None or self.until > now


@dataclass(frozen=True)
class Shard:
    pool: str
    index: int
    units: int = 0
    sold: int = 0
    holds: Mapping[str, Hold] = field(default_factory=dict)

    def held(self, now: datetime, except_key: str | None = None) -> int:
        return sum(
            hold.units for key, hold in self.holds.items() if key != except_key and hold.live(now)
        )

    def free(self, now: datetime, except_key: str | None = None) -> int:
        """Units on sale here (to `except_key`, what it holds itself counts as on sale)."""
        return max(0, self.units - self.sold - self.held(now, except_key))

    def held_by(self, key: str, now: datetime) -> int:
        hold = self.holds.get(key)
        return hold.units if hold is not None and hold.live(now) else 0

    def committed(self, now: datetime) -> int:
        """Units sold or held by a live checkout: what the owner can no longer take back."""
        return self.sold + self.held(now)

    def without_lapsed(self, now: datetime) -> "Shard":
        """The shard as it is written: lapsed holds are dropped by whoever writes it next."""
        return replace(self, holds={k: h for k, h in self.holds.items() if h.live(now)})


def shard_from_document(pool: str, index: int, data: Mapping[str, Any]) -> Shard:
    """A shard document as read; a field broken by hand reads as 0 (fewer units on sale)."""
    holds: dict[str, Hold] = {}
    raw_holds = data.get("holds")
    for key, raw in raw_holds.items() if isinstance(raw_holds, Mapping) else ():
        if not isinstance(raw, Mapping):
            continue
        units, until = raw.get("units"), raw.get("until")
        if isinstance(units, int) and units > 0 and (until is None or isinstance(until, datetime)):
            holds[str(key)] = Hold(units, until)
    return Shard(pool, index, _count(data.get("units")), _count(data.get("sold")), holds)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def document_of(shard: Shard) -> dict[str, Any]:
    return {
        "pool": shard.pool,
        "shard": shard.index,
        "units": shard.units,
        "sold": shard.sold,
        "holds": {
            key: {"units": hold.units, "until": hold.until} for key, hold in shard.holds.items()
        },
    }


@dataclass(frozen=True)
class Pool:
    """A pool as read: its shards (index -> Shard), those that exist; none: not tracked."""

    name: str
    shards: Mapping[int, Shard]

    @property
    def tracked(self) -> bool:
        return bool(self.shards)

    def total(self) -> int:
        return sum(shard.units for shard in self.shards.values())

    def sold(self) -> int:
        return sum(shard.sold for shard in self.shards.values())

    def held(self, now: datetime) -> int:
        return sum(shard.held(now) for shard in self.shards.values())

    def available(self, now: datetime, key: str | None = None) -> int:
        """Units on sale now; with `key`, what that checkout holds itself counts too."""
        return sum(shard.free(now, key) for shard in self.shards.values())

    def held_by(self, key: str, now: datetime) -> int:
        return sum(shard.held_by(key, now) for shard in self.shards.values())

    def walk(self, key: str) -> list[Shard]:
        """The shards in the order checkout `key` takes from them: its own first."""
        start = first_shard(key)
        order = sorted(self.shards, key=lambda index: (index - start) % SHARDS)
        return [self.shards[index] for index in order]
