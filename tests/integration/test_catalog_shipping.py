"""The catalog file's shipping section in the Firestore emulator: imported into shop/shipping,
shown by --dry-run (nothing written), changed, left alone by a file without it, refused with the
rest of a file's problems, exported; and the rates the shop reads (cached like the catalog, a
broken document shipping nowhere)."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.cloud import firestore

from checkout.catalog.__main__ import main
from checkout.shipping import live_rates
from checkout.shipping.rates import NOWHERE, Rate, ShippingRates
from tests.conftest import ROOT
from tests.firestore_rpcs import count_rpcs

SAMPLE = ROOT / "catalog.json"
SAMPLE_RATES = ShippingRates((Rate(("US",), 500), Rate(("CA", "MX"), 1500)), free_above=10000)

pytestmark = pytest.mark.without_sample_catalog


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    live_rates.shipping_rates.clear()
    yield
    live_rates.shipping_rates.clear()


def rates_document(db: firestore.Client) -> dict[str, Any] | None:
    snapshot = db.collection("shop").document("shipping").get()
    return snapshot.to_dict() if snapshot.exists else None


def with_shipping(path: Path, shipping: Any) -> Path:
    data = json.loads(SAMPLE.read_text())
    if shipping is None:
        del data["shipping"]
    else:
        data["shipping"] = shipping
    path.write_text(json.dumps(data))
    return path


def test_import_writes_the_rates_with_the_currency(
    firestore_db: firestore.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rates_document(firestore_db) is None
    assert live_rates.read_shipping_rates() == NOWHERE
    assert main(["import", str(SAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "added shipping: US 500; CA, MX 1500, free from 10000 usd\n" in out
    assert out.endswith(
        "written: 3 added, 0 changed, 0 deactivated, 0 unchanged; promotion codes: 1 added, "
        "0 changed, 0 deactivated, 0 unchanged; shipping added\n"
    )
    assert rates_document(firestore_db) == {
        "rates": [
            {"countries": ["US"], "amount": 500},
            {"countries": ["CA", "MX"], "amount": 1500},
        ],
        "freeAbove": 10000,
        "currency": "usd",
    }
    assert live_rates.current_rates() == SAMPLE_RATES


def test_a_dry_run_shows_the_change_and_writes_nothing(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(SAMPLE)]) == 0
    before = firestore_db.collection("shop").document("shipping").get().update_time
    capsys.readouterr()
    changed = with_shipping(
        tmp_path / "catalog.json",
        {"rates": [{"countries": ["US", "PR"], "amount": 500}], "freeAbove": 5000},
    )
    with count_rpcs(firestore_db) as rpcs:
        assert main(["import", str(changed), "--dry-run"]) == 0
    assert rpcs.by_method()["Commit"] == 0
    assert firestore_db.collection("shop").document("shipping").get().update_time == before
    lines = capsys.readouterr().out.splitlines()
    assert lines[-3:] == [
        'changed shipping: rates [{"amount": 500, "countries": ["US"]}, {"amount": 1500, '
        '"countries": ["CA", "MX"]}] -> [{"amount": 500, "countries": ["US", "PR"]}]',
        "changed shipping: freeAbove 10000 -> 5000",
        "dry run: 0 added, 0 changed, 0 deactivated, 3 unchanged; promotion codes: 0 added, "
        "0 changed, 0 deactivated, 1 unchanged; shipping changed; nothing written",
    ]

    assert main(["import", str(changed)]) == 0
    assert rates_document(firestore_db) == {
        "rates": [{"countries": ["US", "PR"], "amount": 500}],
        "freeAbove": 5000,
        "currency": "usd",
    }
    assert live_rates.read_shipping_rates() == ShippingRates((Rate(("US", "PR"), 500),), 5000)


def test_a_file_without_the_section_leaves_the_rates_and_reads_nothing_of_them(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(SAMPLE)]) == 0
    before = firestore_db.collection("shop").document("shipping").get().update_time
    capsys.readouterr()
    without = with_shipping(tmp_path / "catalog.json", None)
    with count_rpcs(firestore_db) as rpcs:
        assert main(["import", str(without)]) == 0
    assert "BatchGetDocuments" not in rpcs.by_method()
    assert "shipping" not in capsys.readouterr().out
    assert firestore_db.collection("shop").document("shipping").get().update_time == before


def test_importing_the_same_rates_writes_nothing_and_no_rates_ships_nowhere(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(SAMPLE)]) == 0
    capsys.readouterr()
    with count_rpcs(firestore_db) as rpcs:
        assert main(["import", str(SAMPLE)]) == 0
    assert rpcs.by_method()["Commit"] == 0
    assert capsys.readouterr().out.endswith("unchanged; shipping unchanged\n")
    assert main(["import", str(with_shipping(tmp_path / "none.json", {"rates": []}))]) == 0
    assert rates_document(firestore_db) == {"rates": [], "currency": "usd"}
    assert live_rates.read_shipping_rates() == NOWHERE


def test_an_invalid_section_is_listed_with_the_files_other_problems_and_nothing_is_written(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(SAMPLE.read_text())
    data["products"][0]["unitAmount"] = -1
    data["shipping"] = {"rates": [{"countries": ["UK"], "amount": 500}], "freeAbove": "100"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    assert main(["import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: product 'tee-classic', field 'unitAmount'" in err
    assert (
        f"{bad}: top level, field 'shipping.rates[0].countries': 'UK' is not a country code" in err
    )
    assert f"{bad}: top level, field 'shipping.freeAbove': must be a whole number" in err
    assert "3 problem(s)" in err
    assert rates_document(firestore_db) is None
    assert list(firestore_db.collection("products").stream()) == []


def test_export_writes_the_section_and_importing_it_changes_nothing(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(SAMPLE)]) == 0
    capsys.readouterr()
    assert main(["export"]) == 0
    exported = capsys.readouterr().out
    assert exported == SAMPLE.read_text()
    assert json.loads(exported)["shipping"]["freeAbove"] == 10000
    (tmp_path / "export.json").write_text(exported)
    with count_rpcs(firestore_db) as rpcs:
        assert main(["import", str(tmp_path / "export.json")]) == 0
    assert rpcs.by_method()["Commit"] == 0


def test_export_without_rates_has_no_section(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(with_shipping(tmp_path / "c.json", None))]) == 0
    capsys.readouterr()
    assert main(["export"]) == 0
    assert "shipping" not in json.loads(capsys.readouterr().out)


def test_a_document_broken_by_hand_ships_nowhere_is_logged_and_exported_as_it_is(
    firestore_db: firestore.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(SAMPLE)]) == 0
    reference = firestore_db.collection("shop").document("shipping")
    reference.update({"freeAbove": "lots"})
    capsys.readouterr()
    assert live_rates.current_rates() == NOWHERE
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(log["severity"], log["field"]) for log in logged] == [("ERROR", "shipping.freeAbove")]
    assert main(["export"]) == 0
    assert json.loads(capsys.readouterr().out)["shipping"]["freeAbove"] == "lots"
    # Rates written for another currency are never charged in this one.
    reference.update({"freeAbove": 10000, "currency": "eur"})
    assert live_rates.read_shipping_rates() == NOWHERE


def test_the_rates_are_read_once_per_cache_period(firestore_db: firestore.Client) -> None:
    assert main(["import", str(SAMPLE)]) == 0
    start = 1000.0
    with count_rpcs(firestore_db) as rpcs:
        first = live_rates.current_rates(now=start)
        assert live_rates.current_rates(now=start + 29.9) is first
    assert len(rpcs.calls) == 1
    with count_rpcs(firestore_db) as rpcs:
        live_rates.current_rates(now=start + 30.0)
    assert len(rpcs.calls) == 1
    assert live_rates.shipping_rates.loads == 2
