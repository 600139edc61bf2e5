"""The shop's sharded budget of new checkouts (issue 16, point 1), against an in-memory stand-in
for the counters' commits: exact across instances, no shard written by every checkout, and a
refusal by a spent budget costs no write."""

import random
import threading
from collections import Counter as Tally
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from checkout.platform.firestore_counters import (
    SHARD_SHARE,
    Counter,
    ShardedBudget,
    shard_shares,
)
from checkout.platform.settings import CHECKOUT_MAX_INSTANCES, NEW_CHECKOUTS_PER_MINUTE

EXPIRY = datetime(2030, 1, 1, tzinfo=UTC)


class Counters:
    """What Firestore's Increment transforms do: add 1, return the new value; counts the commits."""

    def __init__(self) -> None:
        self.counts: Tally[str] = Tally()
        self.commits = 0
        self._lock = threading.Lock()

    def increment(self, counter: Counter) -> int:
        with self._lock:
            self.commits += 1
            self.counts[counter.doc_id] += 1
            return self.counts[counter.doc_id]


@pytest.mark.parametrize("limit", [1, 2, 29, 30, 31, 59, 300, 301, 1000])
def test_shares_sum_to_the_limit_and_stay_small(limit: int) -> None:
    shares = shard_shares(limit)
    assert sum(shares) == limit
    assert max(shares) <= SHARD_SHARE and min(shares) >= 1
    assert max(shares) - min(shares) <= 1


def test_the_default_limit_is_spread_over_thirty_documents() -> None:
    assert shard_shares(300) == [10] * 30


SALE_CHECKOUTS = 200  # issue 20's flash sale: 200 new checkouts within one minute


def defaults() -> tuple[int, int]:
    """The shop's budget a minute and the checkout function's instance cap, as deployed."""
    limit, instances = NEW_CHECKOUTS_PER_MINUTE.default, CHECKOUT_MAX_INSTANCES.default
    assert isinstance(limit, int) and isinstance(instances, int)
    return limit, instances


@pytest.mark.parametrize("seed", range(40))
def test_in_a_sale_no_counter_document_takes_more_than_one_write_in_ten(seed: int) -> None:
    # A shard takes its share of writes, plus one from each instance that finds it spent (an
    # instance then remembers it): at most SHARD_SHARE + the instances, whatever the order.
    # At the default budget and instance cap, that must stay within 1 in 10 of the sale.
    limit, instances = defaults()
    assert SHARD_SHARE + instances <= SALE_CHECKOUTS // 10
    random.seed(seed)
    store = Counters()
    budgets = [ShardedBudget("shop", store.increment) for _ in range(instances)]
    order = random.Random(seed)
    taken = [order.choice(budgets).take(limit, 60, EXPIRY) for _ in range(SALE_CHECKOUTS)]
    assert all(taken)
    assert max(store.counts.values()) <= SALE_CHECKOUTS // 10, store.counts.most_common(3)


def test_a_budget_nearly_spent_still_takes_at_most_share_plus_instances_per_document() -> None:
    # The worst case for one document: the whole budget taken, then every instance refused.
    limit, instances = defaults()
    store = Counters()
    budgets = [ShardedBudget("shop", store.increment) for _ in range(instances)]
    order = random.Random(3)
    taken = [order.choice(budgets).take(limit, 60, EXPIRY) for _ in range(limit + 100)]
    assert sum(taken) == limit
    assert max(store.counts.values()) <= SHARD_SHARE + instances


def test_instances_together_let_exactly_the_limit_through() -> None:
    store = Counters()
    instances = [ShardedBudget("shop", store.increment) for _ in range(3)]
    taken = [instances[n % 3].take(100, 60, EXPIRY) for n in range(130)]
    assert taken == [True] * 100 + [False] * 30
    # No document took more than its share's writes, plus at most one per instance that found
    # it spent.
    assert len(store.counts) == len(shard_shares(100))
    assert all(count <= SHARD_SHARE + 3 for count in store.counts.values())


def test_a_spent_budget_refuses_without_a_write_and_a_new_window_starts_afresh() -> None:
    store = Counters()
    budget = ShardedBudget("shop", store.increment)
    assert all(budget.take(45, 60, EXPIRY) for _ in range(45))
    assert not budget.take(45, 60, EXPIRY)
    commits = store.commits
    assert not budget.take(45, 60, EXPIRY)
    assert store.commits == commits  # it knows every shard is spent
    assert budget.take(45, 120, EXPIRY)  # the next minute
    assert store.commits == commits + 1


def test_the_common_case_is_one_commit() -> None:
    store = Counters()
    budget = ShardedBudget("shop", store.increment)
    for _ in range(50):
        assert budget.take(300, 60, EXPIRY)
    assert store.commits == 50


def test_concurrent_takes_never_pass_the_limit() -> None:
    store = Counters()
    instances = [ShardedBudget("shop", store.increment) for _ in range(4)]
    start = threading.Barrier(16)

    def takes(n: int) -> int:
        start.wait()
        return sum(instances[n % 4].take(90, 60, EXPIRY) for _ in range(10))

    with ThreadPoolExecutor(16) as pool:
        assert sum(pool.map(takes, range(16))) == 90
