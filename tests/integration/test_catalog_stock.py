"""The catalog's `stock` against the Firestore emulator: an import creates each product's pool
(its availability is the stock), an export re-imported changes nothing, the owner adds units
mid-sale, a stock below the units sold and held is refused naming the product (nothing written,
even when a checkout holds them between the check and the write: that product is then left
out), stock null untracks, and a crash between the pool and the document is finished by running
the import again."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from google.cloud import firestore

from checkout.catalog.__main__ import main
from checkout.catalog.catalog_file import read_catalog_text
from checkout.catalog.changes import plan_import
from checkout.catalog.import_writes import read_stock_pools, write_plan
from checkout.holds import plan as holds_plan
from checkout.holds import store as holds_store
from checkout.holds.pool import product_pool
from checkout.platform.collections import POOL_SHARDS, POOLS, PRODUCTS
from checkout.products import store as products_store
from tests.firestore_rpcs import count_rpcs

pytestmark = pytest.mark.without_sample_catalog

MUG, TEE = product_pool("mug"), product_pool("tee")


def now() -> datetime:
    return datetime.now(UTC)


def entry(product_id: str, position: int, **more: Any) -> dict[str, Any]:
    return {
        "id": product_id,
        "name": product_id.title(),
        "description": f"About {product_id}.",
        "unitAmount": 1000 + position,
        "active": True,
        "position": position,
        **more,
    }


def write_catalog(path: Path, *entries: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"currency": "usd", "products": list(entries)}))
    return path


def documents(db: firestore.Client) -> dict[str, dict[str, Any]]:
    return {s.id: s.to_dict() or {} for s in db.collection(PRODUCTS).stream()}


def update_times(db: firestore.Client) -> dict[str, Any]:
    """Every product document's and every shard's update time: what an import may write."""
    times = {s.id: s.update_time for s in db.collection(PRODUCTS).stream()}
    times |= {s.reference.path: s.update_time for s in db.collection_group(POOL_SHARDS).stream()}
    return times


def available(*pools: str) -> dict[str, int | None]:
    return holds_store.availability(pools, now())


def hold(key: str, pool: str, units: int) -> None:
    moment = now()
    holds_store.hold(key, {pool: units}, moment, moment + timedelta(minutes=15))


def sell(db: firestore.Client, key: str, pool: str, units: int) -> None:
    """Checkout `key`'s units become sold, as the ledger sells them."""
    read = holds_store.read_pools(db, [pool])
    changes = holds_plan.convert(read.pools[pool], key, units, now())
    assert not isinstance(changes, holds_plan.NotEnough)
    batch = db.batch()
    holds_store.add_writes(db, batch, read, pool, changes)
    batch.commit()


def imported(path: Path, *more: str) -> int:
    return main(["import", str(path), *more])


def test_import_with_stock_creates_the_pool_and_export_reimported_changes_nothing(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = write_catalog(tmp_path / "c.json", entry("mug", 1, stock=50), entry("tee", 2))
    assert imported(file, "--dry-run") == 0
    assert capsys.readouterr().out.splitlines() == [
        'added mug: "Mug", 1001 usd, stock 50',
        'added tee: "Tee", 1002 usd',
        "dry run: 2 added, 0 changed, 0 deactivated, 0 unchanged; nothing written",
    ]
    assert available(MUG, TEE) == {MUG: None, TEE: None}

    assert imported(file) == 0
    assert available(MUG, TEE) == {MUG: 50, TEE: None}  # tee: not tracked, no limit
    assert documents(firestore_db)["mug"]["stock"] == 50
    assert "stock" not in documents(firestore_db)["tee"]

    # A sale under way: the export still says every unit put on sale, sold ones included.
    hold("checkout-a", MUG, 3)
    sell(firestore_db, "checkout-a", MUG, 3)
    hold("checkout-b", MUG, 2)
    capsys.readouterr()
    assert main(["export"]) == 0
    exported = capsys.readouterr().out
    assert [p.get("stock") for p in json.loads(exported)["products"]] == [50, None]
    assert "stock" not in json.loads(exported)["products"][1]
    export_file = tmp_path / "export.json"
    export_file.write_text(exported)
    before = update_times(firestore_db)
    with count_rpcs(firestore_db) as rpcs:
        assert imported(export_file) == 0
    assert rpcs.by_method()["Commit"] == 0
    assert update_times(firestore_db) == before
    assert available(MUG) == {MUG: 45}
    assert "written: 0 added, 0 changed, 0 deactivated, 2 unchanged" in capsys.readouterr().out


def test_raising_stock_mid_sale_puts_more_units_on_sale(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert imported(write_catalog(tmp_path / "c.json", entry("mug", 1, stock=5))) == 0
    hold("checkout-a", MUG, 3)
    hold("checkout-b", MUG, 2)
    sell(firestore_db, "checkout-b", MUG, 2)
    assert available(MUG) == {MUG: 0}
    capsys.readouterr()

    assert imported(write_catalog(tmp_path / "c.json", entry("mug", 1, stock=15))) == 0
    assert capsys.readouterr().out.splitlines() == [
        "changed mug: stock 5 -> 15",
        "written: 0 added, 1 changed, 0 deactivated, 0 unchanged",
    ]
    assert available(MUG) == {MUG: 10}  # the 10 added; checkout-a keeps its 3
    assert holds_store.availability([MUG], now(), key="checkout-a") == {MUG: 13}
    read = holds_store.read_pools(firestore_db, [MUG]).pools[MUG]
    assert (read.total(), read.sold(), read.held(now())) == (15, 2, 3)
    assert documents(firestore_db)["mug"]["stock"] == 15


def test_stock_below_units_sold_and_held_refuses_the_whole_import_naming_the_product(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = write_catalog(tmp_path / "c.json", entry("mug", 1, stock=10), entry("tee", 2, stock=4))
    assert imported(first) == 0
    hold("checkout-a", MUG, 4)
    sell(firestore_db, "checkout-a", MUG, 4)
    hold("checkout-b", MUG, 3)  # 7 sold or held
    before = update_times(firestore_db)
    capsys.readouterr()

    # The mug is too low; the tee's price and stock change and a poster is added: none of it.
    lower = write_catalog(
        tmp_path / "lower.json",
        entry("mug", 1, stock=6),
        entry("tee", 2, stock=8, unitAmount=2500),
        entry("poster", 3, stock=1),
    )
    for args in (["--dry-run"], []):
        with count_rpcs(firestore_db) as rpcs:
            assert imported(lower, *args) == 1
        assert rpcs.by_method()["Commit"] == 0
        out, err = capsys.readouterr()
        assert err.splitlines()[0] == (
            f"{lower}: product 'mug', field 'stock': 6 is below the 7 unit(s) already sold or "
            "held: stock counts every unit put on sale, sold ones included, so it must be at "
            "least 7"
        )
        assert len(err.splitlines()) == 2
        if not args:  # the import itself
            assert out == ""
            assert err.splitlines()[1] == (
                "catalog: import refused: 1 product(s) with a stock below the units already "
                "sold or held; nothing was written"
            )
        else:
            assert "changed mug: stock 10 -> 6" in out and "nothing written" in out
            assert "the import would be refused" in err
    assert update_times(firestore_db) == before
    assert available(MUG, TEE) == {MUG: 3, TEE: 4}
    assert set(documents(firestore_db)) == {"mug", "tee"}

    # Exactly the units sold and held: nothing left on sale, and the rest written.
    exact = write_catalog(
        tmp_path / "exact.json", entry("mug", 1, stock=7), entry("tee", 2, stock=8)
    )
    assert imported(exact) == 0
    assert available(MUG, TEE) == {MUG: 0, TEE: 8}


def test_a_hold_taken_between_the_check_and_the_write_refuses_that_product_only(
    firestore_db: firestore.Client, tmp_path: Path
) -> None:
    assert imported(write_catalog(tmp_path / "c.json", entry("mug", 1, stock=5))) == 0
    hold("checkout-a", MUG, 2)
    text = json.dumps(
        {"currency": "usd", "products": [entry("mug", 1, stock=3, name="Big mug"), entry("tee", 2)]}
    )
    plan = plan_import(
        read_catalog_text(text, "usd").products, products_store.read_documents(firestore_db)
    )
    checked = read_stock_pools(firestore_db, plan)  # 2 held: 3 would be fine
    hold("checkout-b", MUG, 2)  # meanwhile: 4 held
    (refused,) = write_plan(firestore_db, plan, checked)
    assert str(refused).startswith("product 'mug', field 'stock': 3 is below the 4 unit(s)")
    assert documents(firestore_db)["mug"]["stock"] == 5
    assert documents(firestore_db)["mug"]["name"] == "Mug"  # nothing of the mug written
    assert "tee" in documents(firestore_db)
    assert available(MUG) == {MUG: 1}


def test_stock_null_after_a_number_untracks_the_product(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert imported(write_catalog(tmp_path / "c.json", entry("mug", 1, stock=5))) == 0
    hold("checkout-a", MUG, 5)
    assert available(MUG) == {MUG: 0}
    capsys.readouterr()
    assert imported(write_catalog(tmp_path / "c.json", entry("mug", 1, stock=None))) == 0
    assert capsys.readouterr().out.splitlines()[0] == "changed mug: stock 5 -> null"
    assert available(MUG) == {MUG: None}
    shards = firestore_db.collection(POOLS).document(MUG).collection(POOL_SHARDS)
    assert list(shards.stream()) == []
    assert documents(firestore_db)["mug"]["stock"] is None
    # Left out of the file is the same as null: nothing more to write.
    capsys.readouterr()
    assert imported(write_catalog(tmp_path / "c.json", entry("mug", 1))) == 0
    assert "0 changed" in capsys.readouterr().out
    assert main(["export"]) == 0
    assert "stock" not in json.loads(capsys.readouterr().out)["products"][0]


def test_a_crash_between_the_pool_and_the_document_is_finished_by_importing_again(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert imported(write_catalog(tmp_path / "c.json", entry("mug", 1, stock=5))) == 0
    hold("checkout-a", MUG, 2)
    # The import of stock 9 set the pool, then stopped before the document.
    holds_store.set_total(MUG, 9, now())
    assert documents(firestore_db)["mug"]["stock"] == 5
    capsys.readouterr()
    assert imported(write_catalog(tmp_path / "c.json", entry("mug", 1, stock=9))) == 0
    assert "changed mug: stock 5 -> 9" in capsys.readouterr().out
    assert documents(firestore_db)["mug"]["stock"] == 9
    assert available(MUG) == {MUG: 7}
    # The same for a new product: its pool, then its document.
    holds_store.set_total(TEE, 3, now())
    capsys.readouterr()
    both = write_catalog(tmp_path / "c.json", entry("mug", 1, stock=9), entry("tee", 2, stock=3))
    assert imported(both) == 0
    assert documents(firestore_db)["tee"]["stock"] == 3
    assert available(TEE) == {TEE: 3}
