"""The catalog file: checked as a whole, every problem naming the product (or the top level)
and the field; the export's format reads back as the same catalog; the sample catalog.json."""

import json
from typing import Any

import pytest

from checkout.catalog.catalog_file import (
    InvalidCatalogFile,
    parse_catalog,
    read_catalog_text,
    render,
)
from checkout.discounts import promotion_code
from checkout.discounts.promotion_code import CodeProblem
from checkout.products.product import Problem, Product, file_entry_of
from checkout.shipping.rates import Rate, ShippingRates
from tests.conftest import ROOT


def entry(product_id: str = "mug-enamel", **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": product_id,
        "name": "Enamel mug",
        "description": "Camp-style, 350 ml.",
        "unitAmount": 1400,
        "active": True,
        "position": 2,
        "shippable": True,
        "images": [],
    }
    return {**fields, **changes}


def catalog(*entries: Any, **top: Any) -> dict[str, Any]:
    return {"currency": "usd", "products": list(entries), **top}


def problems(data: Any, shop_currency: str = "usd") -> list[tuple[str | None, str | None]]:
    with pytest.raises(InvalidCatalogFile) as caught:
        parse_catalog(data, shop_currency)
    return [(named(p), p.field) for p in caught.value.problems]


def named(problem: Problem | CodeProblem) -> str | None:
    """The product or promotion code a problem names."""
    return problem.product if isinstance(problem, Problem) else problem.code


def test_a_valid_file_gives_its_products_in_the_shops_currency() -> None:
    parsed = parse_catalog(catalog(entry(), entry("tee", position=1)), "usd")
    assert parsed.currency == "usd"
    assert [p.id for p in parsed.products] == ["mug-enamel", "tee"]
    assert parsed.products[0].currency == "usd"


def test_shippable_and_images_may_be_left_out() -> None:
    minimal = {k: v for k, v in entry().items() if k not in ("shippable", "images")}
    (product,) = parse_catalog(catalog(minimal), "usd").products
    assert product.shippable is True and product.images == ()


def test_an_unknown_top_level_key_is_named() -> None:
    assert problems(catalog(entry(), shiping={}, promotionCode=[])) == [
        (None, "shiping"),
        (None, "promotionCode"),
    ]


def test_an_unknown_product_field_is_named_with_its_product() -> None:
    assert problems(catalog(entry(unitamount=1400, colour="red"))) == [
        ("'mug-enamel'", "unitamount"),
        ("'mug-enamel'", "colour"),
    ]


def test_a_product_carries_no_currency() -> None:
    with pytest.raises(InvalidCatalogFile) as caught:
        parse_catalog(catalog(entry(currency="usd")), "usd")
    (problem,) = caught.value.problems
    assert (named(problem), problem.field) == ("'mug-enamel'", "currency")
    assert "states it once" in problem.message


@pytest.mark.parametrize("currency", ["eur", "USD", "us", 840, None])
def test_a_currency_other_than_the_shops_is_refused(currency: Any) -> None:
    data = catalog(entry(), currency=currency)
    if currency is None:
        del data["currency"]
    assert problems(data) == [(None, "currency")]


def test_the_shops_currency_comes_from_the_setting() -> None:
    assert parse_catalog(catalog(entry(), currency="eur"), "eur").products[0].currency == "eur"
    with pytest.raises(InvalidCatalogFile) as caught:
        parse_catalog(catalog(entry()), "eur")
    assert str(caught.value) == (
        "top level, field 'currency': is 'usd', but the shop sells in 'eur' (SHOP_CURRENCY)"
    )


def test_duplicate_ids_are_refused_naming_both_places() -> None:
    with pytest.raises(InvalidCatalogFile) as caught:
        parse_catalog(catalog(entry("tee"), entry("mug"), entry("tee")), "usd")
    (problem,) = caught.value.problems
    assert (named(problem), problem.field) == ("'tee'", "id")
    assert "products[0] and products[2]" in problem.message


def test_a_product_without_a_valid_id_is_named_by_its_place() -> None:
    no_id = entry()
    del no_id["id"]
    assert problems(catalog(entry("a"), no_id, entry("b c"), "mug")) == [
        ("products[1]", "id"),
        ("products[2]", "id"),
        ("products[3]", None),
    ]


def test_every_problem_of_every_product_is_listed() -> None:
    data = catalog(entry("a", unitAmount=-1), entry("b", active="yes", images=["x.png"]), nope=1)
    assert problems(data) == [
        (None, "nope"),
        ("'a'", "unitAmount"),
        ("'b'", "active"),
        ("'b'", "images"),
    ]


@pytest.mark.parametrize(
    "data",
    [[], "catalog", None, {"currency": "usd"}, {"currency": "usd", "products": {}}],
)
def test_the_shape_of_the_file_is_checked(data: Any) -> None:
    assert problems(data)


def test_an_empty_product_list_is_a_catalog() -> None:
    assert parse_catalog(catalog(), "usd").products == ()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"currency": "usd", "products": [', "not JSON"),
        ('{"currency": "usd", "currency": "eur", "products": []}', "'currency' appears twice"),
        ('{"currency": "usd", "products": [{"unitAmount": NaN}]}', "NaN"),
    ],
)
def test_text_that_is_not_strict_json_is_refused(text: str, says: str) -> None:
    with pytest.raises(InvalidCatalogFile) as caught:
        read_catalog_text(text, "usd")
    assert says in str(caught.value)


def test_floats_are_not_amounts() -> None:
    text = json.dumps(catalog(entry(unitAmount=1400.0)))
    with pytest.raises(InvalidCatalogFile, match="unitAmount"):
        read_catalog_text(text, "usd")


def test_the_export_format_reads_back_as_the_same_catalog() -> None:
    products = (
        Product("tee", "Tee", "Cotton.", 2500, "usd", True, 1),
        Product("mug", "Mug «émail»", "", 0, "usd", False, 2, ("/images/mug.jpg",), False),
        Product(
            "prod_1", "Print", "A3.", 99_999_999, "usd", True, -3, ("https://files.stripe.com/l/x",)
        ),
    )
    text = render("usd", [file_entry_of(p) for p in products])
    assert read_catalog_text(text, "usd").products == products
    # Every field written, in the order the docs show them.
    first = json.loads(text)["products"][0]
    assert list(first) == [
        "id", "name", "description", "unitAmount", "active", "position", "shippable", "images"
    ]  # fmt: skip


def test_stock_is_written_only_when_tracked_and_reads_back() -> None:
    products = (
        Product("tee", "Tee", "Cotton.", 2500, "usd", True, 1, stock=50),
        Product("mug", "Mug", "", 1400, "usd", True, 2, stock=0),
        Product("cap", "Cap", "", 900, "usd", True, 3),
    )
    text = render("usd", [file_entry_of(p) for p in products])
    assert read_catalog_text(text, "usd").products == products
    entries = json.loads(text)["products"]
    assert list(entries[0])[-1] == "stock" and entries[0]["stock"] == 50
    assert entries[1]["stock"] == 0
    assert "stock" not in entries[2]
    # null, as an owner may write it, is not tracked too.
    (cap,) = parse_catalog(catalog(entry("cap", stock=None)), "usd").products
    assert cap.stock is None


def test_a_wrong_stock_is_named_with_its_product() -> None:
    assert problems(catalog(entry(stock=-1), entry("tee", stock="5"), entry("cap", stock=2.5))) == [
        ("'mug-enamel'", "stock"),
        ("'tee'", "stock"),
        ("'cap'", "stock"),
    ]


def test_the_sample_catalog_is_the_shops_catalog_exactly_as_the_export_writes_it() -> None:
    text = (ROOT / "catalog.json").read_text(encoding="utf-8")
    sample = read_catalog_text(text, "usd")
    assert [(p.id, p.unit_amount, p.position) for p in sample.products] == [
        ("tee-classic", 2500, 1),
        ("mug-enamel", 1400, 2),
        ("sticker-pack", 500, 3),
    ]
    assert all(p.active and p.shippable for p in sample.products)
    assert sample.shipping == ShippingRates(
        (Rate(("US",), 500), Rate(("CA", "MX"), 1500)), free_above=10000
    )
    assert [code.code for code in sample.promotion_codes or ()] == ["WELCOME10"]
    code_entries = [promotion_code.file_entry_of(c) for c in sample.promotion_codes or ()]
    products = [file_entry_of(p) for p in sample.products]
    assert render("usd", products, code_entries, shipping=sample.shipping) == text
