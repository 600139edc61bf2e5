"""The shop's catalog: broken documents left out with an ERROR naming the product and field,
position order; the instance cache reads at most once per bound (time moved, never waited)."""

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from checkout.platform.settings import (
    InvalidSetting,
    catalog_cache_seconds,
    catalog_source,
    shop_currency,
)
from checkout.products.live_catalog import CatalogCache, ShopCatalog, catalog_from_documents
from checkout.products.product import DOCUMENT_FIELDS, Product, document_of

MUG = Product("mug", "Enamel mug", "Camp-style.", 1400, "usd", True, 2)
TEE = Product("tee", "Classic tee", "Cotton.", 2500, "usd", True, 1)


def error_entries(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


def test_active_products_in_position_order_then_id() -> None:
    cap = Product("cap", "Cap", "", 900, "usd", True, 2)
    gone = Product("gone", "Gone", "", 100, "usd", False, 0)
    documents = {p.id: document_of(p) for p in (MUG, TEE, cap, gone)}
    catalog = catalog_from_documents(documents, "usd")
    assert [p.id for p in catalog.products] == ["tee", "cap", "mug"]
    assert catalog.off_sale == {"gone"}
    assert catalog.on_sale("mug") == MUG
    assert catalog.on_sale("gone") is None


def test_a_broken_document_is_left_out_and_logged_with_its_id_and_field(
    capsys: pytest.CaptureFixture[str],
) -> None:
    documents = {
        "mug": document_of(MUG),
        "tee": {**document_of(TEE), "unitAmount": -2500},
        "euro": {**document_of(TEE), "currency": "eur"},
        "bare": {"name": "Bare"},
    }
    catalog = catalog_from_documents(documents, "usd")
    assert [p.id for p in catalog.products] == ["mug"]
    assert catalog.off_sale == {"tee", "euro", "bare"}
    entries = error_entries(capsys.readouterr().err)
    assert {e["severity"] for e in entries} == {"ERROR"}
    assert {(e["productId"], e["field"]) for e in entries} == {
        ("tee", "unitAmount"),
        ("euro", "currency"),
        ("bare", "description"),
        ("bare", "unitAmount"),
        ("bare", "currency"),
        ("bare", "active"),
        ("bare", "position"),
    }


class Loads:
    def __init__(self) -> None:
        self.count = 0
        self.catalog = ShopCatalog((MUG,), frozenset(), "usd")

    def __call__(self) -> ShopCatalog:
        self.count += 1
        return self.catalog


def test_the_cache_reads_once_per_bound() -> None:
    load = Loads()
    cache = CatalogCache(load, lambda: 30)
    first = cache.get(now=1000.0)
    assert cache.get(now=1000.0) is first
    assert cache.get(now=1029.9) is first
    assert load.count == 1 and cache.loads == 1
    load.catalog = ShopCatalog((TEE,), frozenset(), "usd")
    assert cache.get(now=1030.0).products == (TEE,)  # the bound reached: read again
    assert cache.loads == 2
    assert cache.get(now=1059.0).products == (TEE,)
    assert cache.loads == 2


def test_zero_seconds_reads_every_time() -> None:
    load = Loads()
    cache = CatalogCache(load, lambda: 0)
    cache.get(now=5.0)
    cache.get(now=5.0)
    assert load.count == 2


def test_clear_forgets_the_catalog() -> None:
    load = Loads()
    cache = CatalogCache(load, lambda: 30)
    cache.get(now=0.0)
    cache.clear()
    assert cache.loads == 0
    cache.get(now=1.0)
    assert load.count == 2


def test_a_failed_read_is_not_cached() -> None:
    calls = []

    def flaky() -> ShopCatalog:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("Firestore unavailable")
        return ShopCatalog((MUG,), frozenset(), "usd")

    cache = CatalogCache(flaky, lambda: 30)
    with pytest.raises(RuntimeError):
        cache.get(now=0.0)
    assert cache.get(now=0.1).products == (MUG,)
    assert cache.loads == 1


def test_requests_finding_it_stale_together_wait_for_one_read() -> None:
    started, release = threading.Event(), threading.Event()
    load_count = 0

    def slow() -> ShopCatalog:
        nonlocal load_count
        load_count += 1
        started.set()
        release.wait(10)
        return ShopCatalog((MUG,), frozenset(), "usd")

    cache = CatalogCache(slow, lambda: 30)
    results: list[ShopCatalog] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get(now=1.0))) for _ in range(8)
    ]
    threads[0].start()
    started.wait(10)
    for thread in threads[1:]:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(results) == 8 and load_count == 1


def test_catalog_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SHOP_CURRENCY", "CATALOG_CACHE_SECONDS", "CATALOG_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    assert (shop_currency(), catalog_cache_seconds(), catalog_source()) == ("usd", 30, "firestore")
    monkeypatch.setenv("SHOP_CURRENCY", " EUR ")
    monkeypatch.setenv("CATALOG_CACHE_SECONDS", "-5")
    monkeypatch.setenv("CATALOG_SOURCE", "Stripe")
    assert (shop_currency(), catalog_cache_seconds(), catalog_source()) == ("eur", 0, "stripe")


@pytest.mark.parametrize(
    ("name", "value"), [("SHOP_CURRENCY", "dollars"), ("CATALOG_SOURCE", "sheet")]
)
def test_a_catalog_setting_that_cannot_be_used_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidSetting, match=name):
        shop_currency() if name == "SHOP_CURRENCY" else catalog_source()


ODD_VALUES: list[Any] = [
    None, True, 0, -1, 10**12, 1.5, float("nan"), "", " ", "x", "1400", [], [1], [None],
    ["https://[x"], ["/ok.png", 3], {}, {"a": 1}, b"bytes", datetime(2026, 1, 1, tzinfo=UTC),
]  # fmt: skip


def test_no_value_in_any_field_makes_the_read_raise(capsys: pytest.CaptureFixture[str]) -> None:
    documents = {"mug": document_of(MUG)}
    for field in (*DOCUMENT_FIELDS, "extra"):
        for n, value in enumerate(ODD_VALUES):
            documents[f"{field}-{n}"] = {**document_of(TEE), field: value}
    documents["not an id"] = document_of(TEE)
    catalog = catalog_from_documents(documents, "usd")
    assert "mug" in {p.id for p in catalog.products}
    assert "not an id" in catalog.off_sale
    assert all(json.loads(line) for line in capsys.readouterr().err.splitlines())
