"""The hold mechanism against the Firestore emulator: preconditioned commits under a rush."""

import threading
from datetime import UTC, datetime, timedelta

import pytest

from checkout.holds import store
from checkout.holds.pool import SHARDS, product_pool
from checkout.platform.collections import POOL_SHARDS, POOLS
from checkout.platform.firestore_client import db

POOL = product_pool("flash-mug")


def now() -> datetime:
    return datetime.now(UTC)


def hold_for(key: str, units: int, minutes: int = 15) -> dict[str, int | None]:
    moment = now()
    return store.hold(key, {POOL: units}, moment, moment + timedelta(minutes=minutes))


def test_an_untracked_pool_has_no_limit_and_writes_nothing() -> None:
    assert hold_for("a", 1000) == {POOL: None}
    assert store.availability([POOL], now()) == {POOL: None}
    assert list(db().collection(POOLS).document(POOL).collection(POOL_SHARDS).stream()) == []


def test_hold_give_back_release_and_the_owners_total() -> None:
    store.set_total(POOL, 10, now())
    assert len(list(db().collection(POOLS).document(POOL).collection(POOL_SHARDS).stream())) == (
        SHARDS
    )
    assert hold_for("a", 7) == {POOL: 10}  # available to "a": its own 7 and the 3 on sale
    assert store.availability([POOL], now()) == {POOL: 3}
    with pytest.raises(store.NotEnough) as refused:
        hold_for("b", 4)
    assert refused.value.available == {POOL: 3}
    with pytest.raises(store.BelowCommitted) as below:
        store.set_total(POOL, 6, now())
    assert below.value.committed == 7
    hold_for("a", 2)  # a smaller cart gives 5 back
    assert store.availability([POOL], now()) == {POOL: 8}
    store.set_total(POOL, 20, now())  # the owner adds 10 mid-sale
    assert store.availability([POOL], now()) == {POOL: 18}
    store.release("a", [POOL], now())
    assert store.availability([POOL], now()) == {POOL: 20}
    store.set_total(POOL, None, now())
    assert store.availability([POOL], now()) == {POOL: None}


def test_twenty_checkouts_race_for_the_last_unit_and_one_wins() -> None:
    store.set_total(POOL, 1, now())
    barrier = threading.Barrier(20)
    won: list[str] = []
    refused: list[str] = []
    errors: list[BaseException] = []

    def shopper(key: str) -> None:
        barrier.wait()
        try:
            hold_for(key, 1)
            won.append(key)
        except store.NotEnough:
            refused.append(key)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=shopper, args=(f"shopper-{n}",)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(won) == 1 and len(refused) == 19
    assert store.availability([POOL], now()) == {POOL: 0}
