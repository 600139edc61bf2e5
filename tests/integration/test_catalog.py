"""The catalog in the Firestore emulator: the owner's import (and its dry run, its refusals,
its exit statuses), export -> import changing nothing, the shop's read leaving a broken
document out, and the instance cache (0 reads warm; a change seen once the bound has passed,
time moved by injecting `now`)."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.cloud import firestore

from checkout.catalog.__main__ import main
from checkout.catalog.catalog_file import read_catalog_text
from checkout.catalog.import_writes import BATCH_SIZE
from checkout.platform.collections import PRODUCTS
from checkout.products.live_catalog import current_catalog, shop_catalog
from checkout.products.product import document_of
from dev.stack import free_port
from tests.conftest import FUNCTIONS_DIR, ROOT
from tests.firestore_rpcs import count_rpcs

SAMPLE = ROOT / "catalog.json"

# Each test writes the products it needs.
pytestmark = pytest.mark.without_sample_catalog


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    shop_catalog.clear()
    yield
    shop_catalog.clear()


def write_catalog(path: Path, *entries: dict[str, Any], currency: str = "usd") -> Path:
    path.write_text(json.dumps({"currency": currency, "products": list(entries)}))
    return path


def entry(product_id: str, unit_amount: int, position: int, **more: Any) -> dict[str, Any]:
    return {
        "id": product_id,
        "name": product_id.replace("-", " ").title(),
        "description": f"About {product_id}.",
        "unitAmount": unit_amount,
        "active": True,
        "position": position,
        **more,
    }


def documents(db: firestore.Client) -> dict[str, dict[str, Any]]:
    return {s.id: s.to_dict() or {} for s in db.collection(PRODUCTS).stream()}


def update_times(db: firestore.Client) -> dict[str, Any]:
    return {s.id: s.update_time for s in db.collection(PRODUCTS).stream()}


def cli(*args: str, unset: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m checkout.catalog ARGS` from functions/, as the owner runs it."""
    environ = {k: v for k, v in os.environ.items() if k != unset}
    return subprocess.run(
        [sys.executable, "-m", "checkout.catalog", *args],
        cwd=FUNCTIONS_DIR, env={**environ, **env}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_import_writes_every_product_with_the_shops_currency(
    firestore_db: firestore.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(SAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "written: 3 added, 0 changed, 0 deactivated, 0 unchanged" in out
    sample = read_catalog_text(SAMPLE.read_text(), "usd")
    assert documents(firestore_db) == {p.id: document_of(p) for p in sample.products}
    assert all(d["currency"] == "usd" for d in documents(firestore_db).values())


def test_a_dry_run_prints_the_changes_and_writes_nothing(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(SAMPLE)]) == 0
    before = update_times(firestore_db)
    capsys.readouterr()
    changed = write_catalog(
        tmp_path / "catalog.json",
        entry(
            "tee-classic", 2500, 1, name="Classic tee", description="Organic cotton, unisex fit."
        ),
        entry("mug-enamel", 1600, 2, name="Enamel mug", description="Camp-style, 350 ml."),
        entry("poster", 3000, 4),
    )
    with count_rpcs(firestore_db) as rpcs:
        assert main(["import", str(changed), "--dry-run"]) == 0
    assert rpcs.by_method()["Commit"] == 0
    assert update_times(firestore_db) == before
    assert "poster" not in documents(firestore_db)
    assert capsys.readouterr().out.splitlines() == [
        'added poster: "Poster", 3000 usd',
        "changed mug-enamel: unitAmount 1400 -> 1600",
        "deactivated sticker-pack",
        "dry run: 1 added, 1 changed, 1 deactivated, 1 unchanged; nothing written",
    ]


def test_an_invalid_file_writes_nothing_and_exits_1_naming_product_and_field(
    firestore_db: firestore.Client, tmp_path: Path
) -> None:
    assert main(["import", str(SAMPLE)]) == 0
    before = documents(firestore_db), update_times(firestore_db)
    bad = write_catalog(
        tmp_path / "bad.json",
        entry("tee-classic", 2600, 1),  # valid, and still not written
        entry("mug-enamel", -1400, 2),
        entry("new-one", 100, 3, colour="red"),
    )
    result = cli("import", str(bad))
    assert result.returncode == 1, result.stderr
    assert f"{bad}: product 'mug-enamel', field 'unitAmount': must be from 0" in result.stderr
    assert f"{bad}: product 'new-one', field 'colour': is not a product field" in result.stderr
    assert "nothing was written" in result.stderr
    assert (documents(firestore_db), update_times(firestore_db)) == before


def test_products_missing_from_the_file_are_deactivated_not_deleted(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(SAMPLE)]) == 0
    firestore_db.collection(PRODUCTS).document("mug-enamel").update({"stock": 7})
    smaller = write_catalog(
        tmp_path / "smaller.json",
        entry(
            "tee-classic", 2500, 1, name="Classic tee", description="Organic cotton, unisex fit."
        ),
    )
    capsys.readouterr()
    assert main(["import", str(smaller)]) == 0
    assert "deactivated mug-enamel\ndeactivated sticker-pack\n" in capsys.readouterr().out
    stored = documents(firestore_db)
    assert set(stored) == {"tee-classic", "mug-enamel", "sticker-pack"}
    assert stored["mug-enamel"]["active"] is False and stored["sticker-pack"]["active"] is False
    # Only `active` was written: the rest, and fields the catalog does not know, are kept.
    assert stored["mug-enamel"]["unitAmount"] == 1400 and stored["mug-enamel"]["stock"] == 7
    assert [p.id for p in current_catalog().products] == ["tee-classic"]
    assert current_catalog().off_sale == {"mug-enamel", "sticker-pack"}
    # Back in the file, it is on sale again.
    shop_catalog.clear()
    assert main(["import", str(SAMPLE)]) == 0
    assert [p.id for p in current_catalog().products] == [
        "tee-classic",
        "mug-enamel",
        "sticker-pack",
    ]


def test_a_document_broken_by_hand_is_left_out_with_an_error_log(
    firestore_db: firestore.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(SAMPLE)]) == 0
    products = firestore_db.collection(PRODUCTS)
    products.document("mug-enamel").update({"unitAmount": -1400})
    products.document("sticker-pack").update({"active": "yes"})
    products.document("typo").set({"name": "Half a product"})
    capsys.readouterr()

    catalog = current_catalog()  # never raises: the rest of the shop keeps selling
    assert [p.id for p in catalog.products] == ["tee-classic"]
    assert catalog.off_sale == {"mug-enamel", "sticker-pack", "typo"}
    errors = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    logged = {(e["productId"], e["field"]) for e in errors if e["severity"] == "ERROR"}
    assert {("mug-enamel", "unitAmount"), ("sticker-pack", "active")} <= logged
    assert ("typo", "unitAmount") in logged
    assert all(e["message"] == "catalog product left out" for e in errors)


def test_warm_reads_make_no_firestore_read_and_a_change_shows_after_the_bound(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(SAMPLE)]) == 0
    start = time.monotonic()
    with count_rpcs(firestore_db) as rpcs:
        cold = current_catalog(now=start)
    # The products, then their stock pools (how many units are on sale), in one batched read.
    assert rpcs.calls == ["RunQuery", "BatchGetDocuments"]
    assert cold.on_sale("mug-enamel") is not None
    assert cold.on_sale("mug-enamel").unit_amount == 1400  # type: ignore[union-attr]

    dearer = json.loads(SAMPLE.read_text())
    dearer["products"][1]["unitAmount"] = 1500
    (tmp_path / "dearer.json").write_text(json.dumps(dearer))
    assert main(["import", str(tmp_path / "dearer.json")]) == 0

    with count_rpcs(firestore_db) as rpcs:
        for elapsed in (0.0, 1.0, 29.9):
            warm = current_catalog(now=start + elapsed)
            assert warm is cold  # the old price, within the bound
    assert rpcs.calls == []
    with count_rpcs(firestore_db) as rpcs:
        after = current_catalog(now=start + 30.0)
    assert rpcs.calls == ["RunQuery", "BatchGetDocuments"]
    assert after.on_sale("mug-enamel").unit_amount == 1500  # type: ignore[union-attr]
    assert shop_catalog.loads == 2


def test_export_prints_the_file_and_importing_it_changes_nothing(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(SAMPLE)]) == 0
    # An inactive product, one with images, one not shippable: all of them exported.
    extra = json.loads(SAMPLE.read_text())
    extra["products"] += [
        entry("poster", 3000, 0, images=["/images/poster.jpg"], shippable=False),
        entry("print", 4000, 5, images=["https://files.stripe.com/links/abc"], active=False),
    ]
    (tmp_path / "extra.json").write_text(json.dumps(extra))
    assert main(["import", str(tmp_path / "extra.json")]) == 0
    capsys.readouterr()

    exported = cli("export")
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert data["currency"] == "usd"
    assert [p["id"] for p in data["products"]] == [
        "poster",
        "tee-classic",
        "mug-enamel",
        "sticker-pack",
        "print",
    ]
    export_file = tmp_path / "export.json"
    export_file.write_text(exported.stdout)

    before = update_times(firestore_db)
    with count_rpcs(firestore_db) as rpcs:
        assert main(["import", str(export_file)]) == 0
    assert rpcs.by_method()["Commit"] == 0
    assert update_times(firestore_db) == before
    assert "written: 0 added, 0 changed, 0 deactivated, 5 unchanged" in capsys.readouterr().out


def test_the_sample_catalog_exports_as_itself(firestore_db: firestore.Client) -> None:
    assert main(["import", str(SAMPLE)]) == 0
    assert cli("export").stdout == SAMPLE.read_text()


def test_more_products_than_one_batch_holds(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    count = BATCH_SIZE + 20
    big = write_catalog(tmp_path / "big.json", *(entry(f"p{n}", n, n) for n in range(count)))
    with count_rpcs(firestore_db) as rpcs:
        assert main(["import", str(big)]) == 0
    assert rpcs.by_method()["Commit"] == 2
    assert len(documents(firestore_db)) == count
    assert len(current_catalog().products) == count
    assert f"written: {count} added" in capsys.readouterr().out


def test_no_connection_exits_2(tmp_path: Path) -> None:
    nothing_there = f"127.0.0.1:{free_port()}"
    began = time.monotonic()
    imported = cli("import", str(SAMPLE), FIRESTORE_EMULATOR_HOST=nothing_there)
    exported = cli("export", FIRESTORE_EMULATOR_HOST=nothing_there)
    print(f"no connection reported after {time.monotonic() - began:.1f} s (import + export)")
    for result in (imported, exported):
        assert result.returncode == 2, result.stderr
        assert f"no connection to the Firestore emulator at {nothing_there}" in result.stderr
    assert imported.stdout == exported.stdout == ""


def test_no_credentials_for_a_real_project_exits_2(tmp_path: Path) -> None:
    result = cli(
        "export",
        unset="FIRESTORE_EMULATOR_HOST",
        GOOGLE_APPLICATION_CREDENTIALS=str(tmp_path / "missing-key.json"),
        GCLOUD_PROJECT="demo-no-such-project",
    )
    assert result.returncode == 2
    assert "no connection to Firestore of project demo-no-such-project" in result.stderr
    assert "DefaultCredentialsError" in result.stderr


def test_in_stripe_mode_import_is_refused_and_export_works(firestore_db: firestore.Client) -> None:
    assert main(["import", str(SAMPLE)]) == 0
    before = update_times(firestore_db)
    for args in (["import", str(SAMPLE)], ["import", str(SAMPLE), "--dry-run"]):
        refused = cli(*args, CATALOG_SOURCE="stripe")
        assert refused.returncode == 2
        assert "the Stripe Dashboard is the source" in refused.stderr
    assert update_times(firestore_db) == before
    exported = cli("export", CATALOG_SOURCE="stripe")
    assert exported.returncode == 0 and exported.stdout == SAMPLE.read_text()


def test_a_file_in_another_currency_is_refused(tmp_path: Path) -> None:
    euros = write_catalog(tmp_path / "eur.json", entry("mug", 1400, 1), currency="eur")
    refused = cli("import", str(euros))
    assert refused.returncode == 1
    assert "field 'currency': is 'eur', but the shop sells in 'usd'" in refused.stderr
    assert cli("import", str(euros), SHOP_CURRENCY="eur").returncode == 0


@pytest.mark.parametrize(
    "args", [[], ["import"], ["sync"], ["import", "/nonexistent/catalog.json"], ["export", "x"]]
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert cli(*args).returncode == 2


def test_a_setting_that_cannot_be_used_exits_2() -> None:
    result = cli("export", CATALOG_SOURCE="spreadsheet")
    assert result.returncode == 2 and "CATALOG_SOURCE" in result.stderr
