"""The catalog file's `promotionCodes` section: checked with the products, every problem named
by code (or place) and field; what an import changes; the export reading back as the same codes
and changing nothing."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from checkout.catalog.catalog_file import InvalidCatalogFile, parse_catalog, read_catalog_text
from checkout.catalog.code_changes import describe_codes, plan_code_import, summary_codes
from checkout.catalog.export import export_text
from checkout.discounts.promotion_code import CodeProblem, PromotionCode, document_of
from tests.sample_catalog import sample_documents


def product(product_id: str = "mug") -> dict[str, Any]:
    return {
        "id": product_id,
        "name": product_id.title(),
        "description": "",
        "unitAmount": 1400,
        "active": True,
        "position": 1,
    }


def code(name: str = "welcome10", **changes: Any) -> dict[str, Any]:
    return {"code": name, "active": True, "percentOff": 10, **changes}


def catalog(*codes: Any, products: Any = None) -> dict[str, Any]:
    return {
        "currency": "usd",
        "products": [product(), product("tee")] if products is None else products,
        "promotionCodes": list(codes),
    }


def code_problems(data: Any) -> list[tuple[str | None, str | None]]:
    with pytest.raises(InvalidCatalogFile) as caught:
        parse_catalog(data, "usd")
    return [
        (p.code if isinstance(p, CodeProblem) else p.product, p.field)
        for p in caught.value.problems
    ]


def test_a_valid_section_gives_its_codes() -> None:
    five = {"code": "Five", "active": False, "amountOff": 500, "productIds": ["tee"]}
    parsed = parse_catalog(catalog(code(expiresAt="2027-01-31T23:59:59Z"), five), "usd")
    assert parsed.promotion_codes == (
        PromotionCode(
            code="WELCOME10",
            currency="usd",
            active=True,
            percent_off=10,
            expires_at=datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC),
        ),
        PromotionCode(
            code="FIVE", currency="usd", active=False, amount_off=500, product_ids=("tee",)
        ),
    )


def test_without_the_section_there_are_no_codes_to_plan() -> None:
    data = catalog()
    del data["promotionCodes"]
    assert parse_catalog(data, "usd").promotion_codes is None
    assert parse_catalog(catalog(), "usd").promotion_codes == ()


def test_every_problem_of_codes_and_products_is_listed_at_once() -> None:
    bad_product = product("tee") | {"unitAmount": -1}
    data = catalog(
        code(percentOff=0),
        code("x"),
        {"active": True, "amountOff": 5},
        code("spring", productIds=["mug", "poster"], colour="red", currency="usd"),
        "WELCOME",
        products=[product(), bad_product],
    )
    assert code_problems(data) == [
        ("'tee'", "unitAmount"),
        ("'WELCOME10'", "percentOff"),
        ("promotionCodes[1]", "code"),
        ("promotionCodes[2]", "code"),
        ("'SPRING'", "colour"),
        ("'SPRING'", "currency"),
        ("'SPRING'", "productIds"),
        ("promotionCodes[4]", None),
    ]


def test_a_code_names_only_products_of_the_file() -> None:
    with pytest.raises(InvalidCatalogFile) as caught:
        parse_catalog(catalog(code(productIds=["poster"])), "usd")
    assert str(caught.value) == (
        "promotion code 'WELCOME10', field 'productIds': 'poster' is not a product of this file"
    )


def test_codes_are_case_insensitive_so_two_spellings_are_a_duplicate() -> None:
    with pytest.raises(InvalidCatalogFile) as caught:
        parse_catalog(catalog(code("welcome10"), code("WELCOME10")), "usd")
    (problem,) = caught.value.problems
    assert str(problem) == (
        "promotion code 'WELCOME10', field 'code': appears twice (codes are case-insensitive): "
        "promotionCodes[0] and promotionCodes[1]"
    )


def test_null_is_refused_and_a_section_that_is_no_list_is_named() -> None:
    assert code_problems(catalog(code(maxRedemptions=None))) == [("'WELCOME10'", "maxRedemptions")]
    data = catalog()
    data["promotionCodes"] = {"WELCOME10": {}}
    assert code_problems(data) == [(None, "promotionCodes")]


WELCOME = PromotionCode(
    code="WELCOME10",
    currency="usd",
    active=True,
    percent_off=10,
    starts_at=datetime(2027, 1, 1, tzinfo=UTC),
    max_redemptions=100,
)


def test_an_import_adds_changes_and_deactivates_codes() -> None:
    documents = {
        "WELCOME10": document_of(WELCOME) | {"percentOff": 15, "redeemed": 3},
        "OLD": {"active": True, "percentOff": 5, "currency": "usd"},
        "GONE": {"active": False, "percentOff": 5, "currency": "usd"},
    }
    spring = PromotionCode(code="SPRING", currency="usd", active=True, amount_off=500)
    plan = plan_code_import([WELCOME, spring], documents)
    assert describe_codes(plan) == [
        "added promotion code SPRING: 500 usd off",
        "changed promotion code WELCOME10: percentOff 15 -> 10",
        "deactivated promotion code OLD",
    ]
    assert summary_codes(plan) == (
        "promotion codes: 1 added, 1 changed, 1 deactivated, 0 unchanged"
    )


def test_a_timestamp_compares_by_its_moment_and_a_string_typed_for_it_differs() -> None:
    same_moment = document_of(WELCOME)
    same_moment["startsAt"] = datetime(2027, 1, 1, tzinfo=UTC).astimezone()  # another zone
    assert plan_code_import([WELCOME], {"WELCOME10": same_moment}).unchanged == 1
    typed = document_of(WELCOME) | {"startsAt": "2027-01-01T00:00:00Z"}
    plan = plan_code_import([WELCOME], {"WELCOME10": typed})
    assert describe_codes(plan) == [
        'changed promotion code WELCOME10: startsAt "2027-01-01T00:00:00Z" -> 2027-01-01T00:00:00Z'
    ]


def test_a_document_lacking_optional_fields_reads_as_none() -> None:
    bare = {"active": True, "amountOff": 500, "currency": "usd"}
    five = PromotionCode(code="FIVE", currency="usd", active=True, amount_off=500)
    assert plan_code_import([five], {"FIVE": bare}).unchanged == 1


def test_the_export_reads_back_as_the_same_codes_and_plans_nothing() -> None:
    five = PromotionCode(
        code="FIVE", currency="usd", active=False, amount_off=500, product_ids=("tee-classic",)
    )
    code_documents = {c.code: document_of(c) for c in (WELCOME, five)}
    text = export_text(sample_documents(), "usd", code_documents)
    assert [c["code"] for c in json.loads(text)["promotionCodes"]] == ["FIVE", "WELCOME10"]
    parsed = read_catalog_text(text, "usd")
    assert parsed.promotion_codes == (five, WELCOME)
    plan = plan_code_import(parsed.promotion_codes, code_documents)
    assert plan.write_count == 0 and plan.unchanged == 2


def test_a_shop_without_codes_exports_no_section() -> None:
    assert "promotionCodes" not in json.loads(export_text(sample_documents(), "usd", {}))


def test_a_broken_code_document_is_exported_as_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    broken = document_of(WELCOME) | {"percentOff": "10"}
    text = export_text({}, "usd", {"WELCOME10": broken})
    (entry,) = json.loads(text)["promotionCodes"]
    assert entry["percentOff"] == "10" and entry["startsAt"] == "2027-01-01T00:00:00Z"
    assert "currency" not in entry
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(e["promotionCode"], e["field"]) for e in logged] == [("WELCOME10", "percentOff")]
