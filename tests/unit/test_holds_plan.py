"""The hold planners (checkout.holds.plan): pure, from shards as read to shards as written."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from checkout.holds import plan
from checkout.holds.pool import (
    SHARDS,
    Hold,
    Pool,
    Shard,
    document_of,
    first_shard,
    shard_from_document,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=15)
POOL = "product:mug"


def stocked(total: int) -> Pool:
    changes = plan.set_total(Pool(POOL, {}), total, NOW)
    assert not isinstance(changes, plan.BelowCommitted)
    return Pool(POOL, changes)


def applied(pool: Pool, changes: plan.Changes | plan.NotEnough | plan.BelowCommitted) -> Pool:
    assert isinstance(changes, dict), changes
    return Pool(pool.name, {**pool.shards, **changes})


def test_set_total_spreads_the_units_over_every_shard() -> None:
    pool = stocked(53)
    assert pool.total() == 53
    assert sorted(shard.units for shard in pool.shards.values()) == [5] * 7 + [6] * 3
    assert len(pool.shards) == SHARDS


def test_an_untracked_pool_holds_nothing_and_never_runs_out() -> None:
    assert plan.hold(Pool(POOL, {}), "a", 1000, LATER, NOW) == {}
    assert plan.convert(Pool(POOL, {}), "a", 1000, NOW) == {}


def test_a_checkout_takes_from_its_own_shard_first() -> None:
    pool = stocked(50)
    changes = plan.hold(pool, "shopper", 2, LATER, NOW)
    assert isinstance(changes, dict)
    assert list(changes) == [first_shard("shopper")]
    assert changes[first_shard("shopper")].holds["shopper"] == Hold(2, LATER)


def test_a_hold_spans_shards_when_its_own_has_too_few() -> None:
    pool = applied(stocked(50), plan.hold(stocked(50), "big", 12, LATER, NOW))
    assert pool.held_by("big", NOW) == 12
    assert pool.available(NOW) == 38


def test_the_last_units_are_found_whichever_shard_holds_them() -> None:
    pool = stocked(3)  # 3 shards of 1 unit, 7 empty
    pool = applied(pool, plan.hold(pool, "a", 3, LATER, NOW))
    assert pool.available(NOW) == 0
    assert plan.hold(pool, "b", 1, LATER, NOW) == plan.NotEnough(0)


def test_not_enough_names_what_the_checkout_could_hold_with_its_own_units() -> None:
    pool = stocked(5)
    pool = applied(pool, plan.hold(pool, "a", 2, LATER, NOW))
    pool = applied(pool, plan.hold(pool, "b", 2, LATER, NOW))
    assert plan.hold(pool, "a", 4, LATER, NOW) == plan.NotEnough(3)
    assert pool.held_by("a", NOW) == 2  # nothing changed


def test_a_smaller_cart_gives_units_back() -> None:
    pool = stocked(10)
    pool = applied(pool, plan.hold(pool, "a", 7, LATER, NOW))
    pool = applied(pool, plan.hold(pool, "a", 2, LATER, NOW))
    assert (pool.held_by("a", NOW), pool.available(NOW)) == (2, 8)
    pool = applied(pool, plan.hold(pool, "a", 0, LATER, NOW))
    assert pool.available(NOW) == 10
    assert all("a" not in shard.holds for shard in pool.shards.values())


def test_a_lapsed_hold_is_on_sale_at_once_for_every_reader() -> None:
    pool = stocked(1)
    pool = applied(pool, plan.hold(pool, "a", 1, LATER, NOW))
    assert pool.available(NOW) == 0
    after = LATER + timedelta(seconds=1)
    assert pool.available(after) == 1
    pool = applied(pool, plan.hold(pool, "b", 1, after + timedelta(minutes=15), after))
    assert pool.held_by("b", after) == 1
    # Whoever wrote the shard dropped the lapsed hold.
    assert all("a" not in shard.holds for shard in pool.shards.values())


def test_a_renewal_that_can_wait_writes_nothing() -> None:
    pool = stocked(10)
    pool = applied(pool, plan.hold(pool, "a", 1, LATER, NOW))
    soon = NOW + timedelta(seconds=10)
    assert plan.hold(pool, "a", 1, LATER + timedelta(seconds=10), soon, timedelta(seconds=60)) == {}
    renewed = plan.hold(pool, "a", 1, LATER + timedelta(minutes=2), soon, timedelta(seconds=60))
    assert isinstance(renewed, dict) and len(renewed) == 1


def test_a_pinned_hold_never_lapses_until_unpinned() -> None:
    pool = stocked(1)
    pool = applied(pool, plan.hold(pool, "a", 1, None, NOW))
    assert pool.available(NOW + timedelta(days=3)) == 0
    pool = applied(pool, plan.hold(pool, "a", 1, LATER, NOW))  # a failed attempt: unpinned
    assert pool.available(LATER + timedelta(seconds=1)) == 1


def test_convert_sells_the_held_units() -> None:
    pool = stocked(4)
    pool = applied(pool, plan.hold(pool, "a", 3, LATER, NOW))
    pool = applied(pool, plan.convert(pool, "a", 3, NOW))
    assert (pool.sold(), pool.held(NOW), pool.available(NOW)) == (3, 0, 1)


def test_convert_after_a_lapse_takes_units_still_on_sale() -> None:
    pool = stocked(2)
    pool = applied(pool, plan.hold(pool, "a", 1, LATER, NOW))
    after = LATER + timedelta(minutes=1)
    pool = applied(pool, plan.convert(pool, "a", 1, after))
    assert (pool.sold(), pool.available(after)) == (1, 1)


def test_convert_refuses_when_the_lapsed_units_were_sold_to_another() -> None:
    pool = stocked(1)
    pool = applied(pool, plan.hold(pool, "a", 1, LATER, NOW))
    after = LATER + timedelta(minutes=1)
    pool = applied(pool, plan.hold(pool, "b", 1, after + timedelta(minutes=15), after))
    pool = applied(pool, plan.convert(pool, "b", 1, after))
    assert plan.convert(pool, "a", 1, after) == plan.NotEnough(0)
    assert pool.sold() == 1


def test_release_puts_the_units_back_on_sale_and_is_idempotent() -> None:
    pool = stocked(3)
    pool = applied(pool, plan.hold(pool, "a", 3, LATER, NOW))
    pool = applied(pool, plan.release(pool, "a", NOW))
    assert pool.available(NOW) == 3
    assert plan.release(pool, "a", NOW) == {}


def test_set_total_refuses_below_sold_and_held() -> None:
    pool = stocked(10)
    pool = applied(pool, plan.hold(pool, "a", 4, LATER, NOW))
    pool = applied(pool, plan.convert(pool, "a", 4, NOW))
    pool = applied(pool, plan.hold(pool, "b", 3, LATER, NOW))
    assert plan.set_total(pool, 6, NOW) == plan.BelowCommitted(7)
    pool = applied(pool, plan.set_total(pool, 7, NOW))
    assert (pool.total(), pool.available(NOW), pool.held_by("b", NOW)) == (7, 0, 3)
    pool = applied(pool, plan.set_total(pool, 17, NOW))  # the owner adds 10 mid-sale
    assert (pool.total(), pool.available(NOW)) == (17, 10)


def test_set_total_of_the_same_total_changes_nothing() -> None:
    pool = stocked(10)
    assert plan.set_total(pool, 10, NOW) == {}


def test_a_shard_document_round_trips_and_broken_fields_read_as_nothing() -> None:
    shard = Shard(POOL, 3, 5, 2, {"a": Hold(1, LATER), "b": Hold(2, None)})
    assert shard_from_document(POOL, 3, document_of(shard)) == shard
    broken = {"units": "5", "sold": -1, "holds": {"a": {"units": "x"}, "b": 3}}
    assert shard_from_document(POOL, 3, broken) == Shard(POOL, 3)


# --- the invariant, under any sequence of the operations

KEYS = ["a", "b", "c", "d"]
operation = st.one_of(
    st.tuples(st.just("hold"), st.sampled_from(KEYS), st.integers(0, 6), st.booleans()),
    st.tuples(st.just("convert"), st.sampled_from(KEYS), st.integers(1, 6), st.just(False)),
    st.tuples(st.just("release"), st.sampled_from(KEYS), st.just(0), st.just(False)),
    st.tuples(st.just("total"), st.just(""), st.integers(0, 20), st.just(False)),
    st.tuples(st.just("wait"), st.just(""), st.integers(1, 20), st.just(False)),
)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 12), st.lists(operation, max_size=25))
def test_never_oversold_and_everything_adds_up(
    total: int, operations: list[tuple[str, str, int, bool]]
) -> None:
    pool, now, owner_total = stocked(total), NOW, total
    sold: dict[str, int] = {}
    for name, key, units, pinned in operations:
        if name == "hold":
            until = None if pinned else now + timedelta(minutes=5)
            changes = plan.hold(pool, key, units, until, now)
            if isinstance(changes, dict):
                pool = applied(pool, changes)
                assert pool.held_by(key, now) == units
        elif name == "convert":
            changes = plan.convert(pool, key, units, now)
            if isinstance(changes, dict):
                pool = applied(pool, changes)
                sold[key] = sold.get(key, 0) + units
                assert pool.held_by(key, now) == 0
        elif name == "release":
            pool = applied(pool, plan.release(pool, key, now))
            assert pool.held_by(key, now) == 0
        elif name == "total":
            new_total = plan.set_total(pool, units, now)
            if isinstance(new_total, dict):
                pool, owner_total = applied(pool, new_total), units
        else:
            now += timedelta(minutes=units)
        assert pool.total() == owner_total
        assert pool.sold() == sum(sold.values())
        for shard in pool.shards.values():
            assert shard.sold + shard.held(now) <= shard.units  # never oversold, per shard
        assert pool.available(now) + pool.held(now) + pool.sold() == owner_total
