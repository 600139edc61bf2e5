"""Promotion codes through the owner's catalog tool, in the Firestore emulator: imported to
promotion_codes/{CODE} with timestamps, the dry run writing nothing, codes left out of the file
deactivated (a file without the section leaving them alone), a wrong code refusing the whole
file, export -> import changing nothing; and the shop's read of one code."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.cloud import firestore

from checkout.catalog.__main__ import main
from checkout.discounts import store
from checkout.discounts.promotion_code import PromotionCode
from checkout.discounts.redemptions import code_pool
from checkout.holds import store as holds_store
from checkout.platform.collections import PRODUCTS, PROMOTION_CODES
from checkout.platform.firestore_client import db
from tests.conftest import ROOT
from tests.firestore_rpcs import count_rpcs
from tests.integration.test_catalog import cli

SAMPLE = ROOT / "catalog.json"

pytestmark = pytest.mark.without_sample_catalog

WELCOME = {"code": "WELCOME10", "active": True, "percentOff": 10, "oncePerEmail": False}
SPRING = {
    "code": "spring-27",
    "active": True,
    "amountOff": 500,
    "startsAt": "2027-03-01T00:00:00+01:00",
    "expiresAt": "2027-03-31T23:59:59Z",
    "maxRedemptions": 50,
    "minimumAmount": 2000,
    "productIds": ["mug-enamel"],
    "oncePerEmail": True,
}


def with_codes(path: Path, *codes: dict[str, Any], section: bool = True) -> Path:
    """catalog.json's products, and `codes` as its `promotionCodes` (no section: none)."""
    data = json.loads(SAMPLE.read_text())
    data.pop("promotionCodes", None)
    shipping = data.pop("shipping", None)
    if section:
        data["promotionCodes"] = list(codes)
    if shipping is not None:  # after the codes, where an export writes it
        data["shipping"] = shipping
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def codes_in(db: firestore.Client) -> dict[str, dict[str, Any]]:
    return {s.id: s.to_dict() or {} for s in db.collection(PROMOTION_CODES).stream()}


def update_times(db: firestore.Client) -> dict[str, Any]:
    return {s.id: s.update_time for s in db.collection(PROMOTION_CODES).stream()}


def test_the_import_writes_codes_upper_case_with_timestamps(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(with_codes(tmp_path / "c.json", WELCOME, SPRING))]) == 0
    out = capsys.readouterr().out
    assert "added promotion code SPRING-27: 500 usd off" in out
    assert "written: 3 added, 0 changed, 0 deactivated, 0 unchanged; promotion codes: 2 added" in (
        out
    )
    stored = codes_in(firestore_db)
    assert set(stored) == {"WELCOME10", "SPRING-27"}
    spring = stored["SPRING-27"]
    assert spring["startsAt"] == datetime(2027, 2, 28, 23, 0, tzinfo=UTC)  # a timestamp
    assert spring["expiresAt"] == datetime(2027, 3, 31, 23, 59, 59, tzinfo=UTC)
    assert spring["productIds"] == ["mug-enamel"] and spring["currency"] == "usd"
    assert stored["WELCOME10"]["maxRedemptions"] is None
    assert store.read_code(firestore_db, "SPRING-27", "usd") == PromotionCode(
        code="SPRING-27",
        currency="usd",
        active=True,
        amount_off=500,
        starts_at=datetime(2027, 2, 28, 23, 0, tzinfo=UTC),
        expires_at=datetime(2027, 3, 31, 23, 59, 59, tzinfo=UTC),
        max_redemptions=50,
        minimum_amount=2000,
        product_ids=("mug-enamel",),
        once_per_email=True,
    )
    assert store.read_code(firestore_db, "NOSUCH", "usd") is None


def test_a_dry_run_prints_the_codes_changes_and_writes_nothing(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(with_codes(tmp_path / "a.json", SPRING))]) == 0
    before = update_times(firestore_db)
    capsys.readouterr()
    changed = with_codes(
        tmp_path / "b.json",
        SPRING | {"maxRedemptions": 80, "expiresAt": "2027-04-30T23:59:59Z"},
        {"code": "new5", "active": True, "percentOff": 5},
    )
    with count_rpcs(firestore_db) as rpcs:
        assert main(["import", str(changed), "--dry-run"]) == 0
    assert rpcs.by_method()["Commit"] == 0
    assert update_times(firestore_db) == before
    assert capsys.readouterr().out.splitlines() == [
        "added promotion code NEW5: 5% off",
        "changed promotion code SPRING-27: expiresAt 2027-03-31T23:59:59Z -> 2027-04-30T23:59:59Z",
        "changed promotion code SPRING-27: maxRedemptions 50 -> 80",
        "dry run: 0 added, 0 changed, 0 deactivated, 3 unchanged; "
        "promotion codes: 1 added, 1 changed, 0 deactivated, 0 unchanged; shipping unchanged; "
        "nothing written",
    ]


def test_codes_missing_from_the_section_are_deactivated_and_no_section_leaves_them(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    welcome = with_codes(tmp_path / "welcome.json", WELCOME)
    assert main(["import", str(welcome)]) == 0
    firestore_db.collection(PROMOTION_CODES).document("WELCOME10").update({"note": "kept"})
    before = update_times(firestore_db)

    assert main(["import", str(with_codes(tmp_path / "none.json", section=False))]) == 0
    assert update_times(firestore_db) == before  # no section: codes left alone
    capsys.readouterr()

    assert main(["import", str(with_codes(tmp_path / "empty.json"))]) == 0
    assert "deactivated promotion code WELCOME10" in capsys.readouterr().out
    stored = codes_in(firestore_db)["WELCOME10"]
    assert stored["active"] is False and stored["percentOff"] == 10
    assert stored["note"] == "kept"  # only `active` was written
    assert store.read_code(firestore_db, "WELCOME10", "usd").active is False  # type: ignore[union-attr]

    assert main(["import", str(welcome)]) == 0  # listed again: active again
    assert codes_in(firestore_db)["WELCOME10"]["active"] is True


def test_a_wrong_code_refuses_the_whole_file_naming_code_and_field(
    firestore_db: firestore.Client, tmp_path: Path
) -> None:
    bad = with_codes(
        tmp_path / "bad.json",
        SPRING | {"productIds": ["poster"]},
        {"code": "half", "active": True, "percentOff": 50, "amountOff": 100},
    )
    result = cli("import", str(bad))
    assert result.returncode == 1, result.stderr
    assert (
        f"{bad}: promotion code 'SPRING-27', field 'productIds': 'poster' is not a product"
        in result.stderr
    )
    assert f"{bad}: promotion code 'HALF', field 'amountOff': a code takes" in result.stderr
    assert codes_in(firestore_db) == {}
    assert list(firestore_db.collection(PRODUCTS).stream()) == []


def test_export_prints_the_codes_and_importing_it_changes_nothing(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inactive = {"code": "OLD", "active": False, "amountOff": 300}
    assert main(["import", str(with_codes(tmp_path / "c.json", SPRING, inactive))]) == 0
    exported = cli("export")
    assert exported.returncode == 0, exported.stderr
    codes = json.loads(exported.stdout)["promotionCodes"]
    assert codes == [
        {"code": "OLD", "active": False, "amountOff": 300, "oncePerEmail": False},
        SPRING | {"code": "SPRING-27", "startsAt": "2027-02-28T23:00:00Z"},
    ]
    export_file = tmp_path / "export.json"
    export_file.write_text(exported.stdout)
    before = update_times(firestore_db)
    capsys.readouterr()
    with count_rpcs(firestore_db) as rpcs:
        assert main(["import", str(export_file)]) == 0
    assert rpcs.by_method()["Commit"] == 0
    assert update_times(firestore_db) == before
    assert "promotion codes: 0 added, 0 changed, 0 deactivated, 2 unchanged" in (
        capsys.readouterr().out
    )


def test_a_catalog_with_codes_exports_as_itself(
    firestore_db: firestore.Client, tmp_path: Path
) -> None:
    catalog = with_codes(tmp_path / "catalog.json", WELCOME)
    assert main(["import", str(catalog)]) == 0
    assert cli("export").stdout == catalog.read_text()


def test_a_code_document_broken_by_hand_is_no_code_and_is_logged(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(with_codes(tmp_path / "c.json", WELCOME))]) == 0
    firestore_db.collection(PROMOTION_CODES).document("WELCOME10").update({"percentOff": "10"})
    capsys.readouterr()
    assert store.read_code(firestore_db, "WELCOME10", "usd") is None
    (logged,) = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert logged["severity"] == "ERROR" and logged["message"] == "promotion code left out"
    assert (logged["promotionCode"], logged["field"]) == ("WELCOME10", "percentOff")


def redemptions_pool(code: str) -> tuple[int, int]:
    """(total, held) of the code's redemptions pool now (0, 0: not tracked)."""
    pool = holds_store.read_pools(db(), [code_pool(code)]).pools[code_pool(code)]
    return pool.total(), pool.held(datetime.now(UTC))


def test_max_redemptions_is_a_pool_never_set_below_what_is_held(
    firestore_db: firestore.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["import", str(with_codes(tmp_path / "a.json", SPRING | {"maxRedemptions": 3}))]) == 0
    )
    assert redemptions_pool("SPRING-27") == (3, 0)
    now = datetime.now(UTC)
    for key in ("checkout-1", "checkout-2"):
        holds_store.hold(key, {code_pool("SPRING-27"): 1}, now, now.replace(year=now.year + 1))
    capsys.readouterr()
    lower = with_codes(tmp_path / "b.json", SPRING | {"maxRedemptions": 1})
    assert main(["import", str(lower), "--dry-run"]) != 0
    assert main(["import", str(lower)]) != 0
    err = capsys.readouterr().err
    assert "promotion code 'SPRING-27', field 'maxRedemptions': 1 is below the 2" in err
    assert codes_in(firestore_db)["SPRING-27"]["maxRedemptions"] == 3  # nothing written
    assert redemptions_pool("SPRING-27") == (3, 2)
    assert (
        main(["import", str(with_codes(tmp_path / "c.json", SPRING | {"maxRedemptions": 2}))]) == 0
    )
    assert redemptions_pool("SPRING-27") == (2, 2)
    unlimited = {k: v for k, v in SPRING.items() if k != "maxRedemptions"}
    assert main(["import", str(with_codes(tmp_path / "d.json", unlimited))]) == 0
    assert redemptions_pool("SPRING-27") == (0, 0)  # not tracked: unlimited
