"""What a checkout does to a pool, planned from its shards as read: pure, no I/O.

Each planner returns the shards it changes, in their new state (`Changes`), or why it cannot
(`NotEnough`, `BelowCommitted`). checkout.holds.store writes the changes with preconditions (each
shard only if it is still the version planned from), so a plan made from a stale read is never
committed: it is planned again.

- `hold`: checkout `key` holds exactly `units` (takes more, gives back the rest), with a new
  `until`; all of them or nothing.
- `convert`: the checkout's units become sold (taken again first, if its hold lapsed).
- `release`: the checkout's units go back on sale.
- `set_total`: the owner puts `total` units on sale in all, never below what is sold or held.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from checkout.holds.pool import SHARDS, Hold, Pool, Shard

# Shards in their new state, by index; empty: nothing to write.
Changes = dict[int, Shard]


@dataclass(frozen=True)
class NotEnough:
    available: int  # units this checkout could hold now (its own live hold included)


@dataclass(frozen=True)
class BelowCommitted:
    committed: int  # units sold or held by live checkouts


def _with_hold(shard: Shard, key: str, units: int, until: datetime | None, now: datetime) -> Shard:
    holds = dict(shard.without_lapsed(now).holds)
    if units > 0:
        holds[key] = Hold(units, until)
    else:
        holds.pop(key, None)
    return replace(shard, holds=holds)


def hold(
    pool: Pool,
    key: str,
    units: int,
    until: datetime | None,
    now: datetime,
    keep_until_within: timedelta = timedelta(0),
) -> Changes | NotEnough:
    """Checkout `key` holds exactly `units` of the pool, each until `until` (None: pinned).

    Units it already holds stay where they are; more are taken walking from its own shard;
    fewer are given back from the last shards it holds in. A hold whose only change would be
    an `until` less than `keep_until_within` later is left unwritten (a renewal that can wait).
    """
    if not pool.tracked:
        return {}
    if units > pool.available(now, key):
        return NotEnough(pool.available(now, key))
    walk = pool.walk(key)
    wanted = {shard.index: shard.held_by(key, now) for shard in walk}
    missing = units - sum(wanted.values())
    for shard in walk:  # take: from the free units, its own shard first
        if missing <= 0:
            break
        taken = min(missing, shard.free(now, key) - wanted[shard.index])
        if taken > 0:
            wanted[shard.index] += taken
            missing -= taken
    surplus = sum(wanted.values()) - units
    for shard in reversed(walk):  # give back: from the far end of its walk
        if surplus <= 0:
            break
        given = min(surplus, wanted[shard.index])
        wanted[shard.index] -= given
        surplus -= given
    changes: Changes = {}
    for shard in walk:
        current = shard.holds.get(key)
        held_now = shard.held_by(key, now)
        new_units = wanted[shard.index]
        if new_units == held_now and (
            new_units == 0 or _keeps(current, until, now, keep_until_within)
        ):
            continue
        changes[shard.index] = _with_hold(shard, key, new_units, until, now)
    return changes


def _keeps(current: Hold | None, until: datetime | None, now: datetime, within: timedelta) -> bool:
    """Whether the live hold `current` may stay as written instead of getting `until`."""
    if current is None or not current.live(now):
        return False
    if until is None or current.until is None:
        return current.until == until
    return current.until >= until - within


def convert(pool: Pool, key: str, units: int, now: datetime) -> Changes | NotEnough:
    """Checkout `key`'s `units` become sold: those it holds, and, if its hold lapsed or fell
    short, units still on sale. NotEnough when they are not: nothing is sold then."""
    if not pool.tracked:
        return {}
    held = hold(pool, key, units, None, now)
    if isinstance(held, NotEnough):
        return held
    shards = {**pool.shards, **held}
    changes: Changes = {}
    for index, shard in shards.items():
        holding = shard.holds.get(key)
        if holding is None or not holding.live(now):
            if index in held:
                changes[index] = shard
            continue
        holds = {k: h for k, h in shard.without_lapsed(now).holds.items() if k != key}
        changes[index] = replace(shard, sold=shard.sold + holding.units, holds=holds)
    return changes


def release(pool: Pool, key: str, now: datetime) -> Changes:
    """Checkout `key`'s units go back on sale (nothing to write if it holds none)."""
    return {
        index: _with_hold(shard, key, 0, None, now)
        for index, shard in pool.shards.items()
        if key in shard.holds
    }


def set_total(pool: Pool, total: int, now: datetime) -> Changes | BelowCommitted:
    """The owner's `total`: each shard keeps what it has sold and held, and the units still on
    sale are spread evenly again. Creates the shards of a pool not tracked before."""
    shards = {index: pool.shards.get(index, Shard(pool.name, index)) for index in range(SHARDS)}
    committed = {index: shard.committed(now) for index, shard in shards.items()}
    free = total - sum(committed.values())
    if free < 0:
        return BelowCommitted(sum(committed.values()))
    changes: Changes = {}
    for index, shard in shards.items():
        units = committed[index] + free // SHARDS + (1 if index < free % SHARDS else 0)
        if units != shard.units or index not in pool.shards:
            changes[index] = replace(shard.without_lapsed(now), units=units)
    return changes
