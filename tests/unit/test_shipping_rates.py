"""The owner's shipping rates: every problem named by its dotted path; the document and its
currency; a broken document ships nowhere (logged); price_shipping and its freeAbove
boundary; the file's section round trip, and what an import plans for it."""

import json
from typing import Any

import pytest

from checkout.cart.pricing import Shipping
from checkout.catalog.catalog_file import (
    InvalidCatalogFile,
    parse_catalog,
    read_catalog_text,
    render,
)
from checkout.catalog.shipping_section import describe_shipping, plan_shipping, shipping_summary
from checkout.platform.errors import ApiError
from checkout.products.product import MAX_UNIT_AMOUNT
from checkout.shipping import live_rates
from checkout.shipping.rates import (
    NOWHERE,
    InvalidRates,
    Rate,
    ShippingRates,
    document_of,
    parse_rates,
    price_shipping,
    rates_from_document,
    section_of,
)

SECTION = {
    "rates": [{"countries": ["US"], "amount": 500}, {"countries": ["CA", "MX"], "amount": 1500}],
    "freeAbove": 10000,
}
RATES = ShippingRates((Rate(("US",), 500), Rate(("CA", "MX"), 1500)), free_above=10000)


def problems(section: Any) -> list[tuple[str | None, str]]:
    with pytest.raises(InvalidRates) as caught:
        parse_rates(section)
    assert all(p.product is None for p in caught.value.problems)
    return [(p.field, p.message) for p in caught.value.problems]


def fields(section: Any) -> list[str | None]:
    return [field for field, _ in problems(section)]


def test_a_valid_section() -> None:
    assert parse_rates(SECTION) == RATES
    assert RATES.countries == {"US", "CA", "MX"}
    assert section_of(RATES) == SECTION


def test_free_above_is_optional_and_no_rates_ship_nowhere() -> None:
    assert parse_rates({"rates": [{"countries": ["US"], "amount": 0}]}).free_above is None
    assert parse_rates({"rates": []}) == NOWHERE
    assert NOWHERE.countries == frozenset()
    assert section_of(ShippingRates((Rate(("US",), 1),))) == {
        "rates": [{"countries": ["US"], "amount": 1}]
    }


@pytest.mark.parametrize("section", [[], "free", None, 5])
def test_the_section_is_an_object(section: Any) -> None:
    assert fields(section) == ["shipping"]


def test_every_problem_is_named_by_its_path() -> None:
    section = {
        "rates": [
            {"countries": ["US", "UK", "US"], "amount": -1, "days": 3},
            "free",
            {"countries": [], "amount": 1.5},
            {"amount": 100},
            {"countries": ["CA", "us", 7, "US"]},
        ],
        "freeAbove": True,
        "currency": "usd",
    }
    assert problems(section) == [
        ("shipping.currency", "is not a shipping field (they are: rates, freeAbove)"),
        ("shipping.rates[0].days", "is not a rate field (they are: countries, amount)"),
        (
            "shipping.rates[0].countries",
            "'UK' is not a country code: ISO 3166-1 alpha-2, upper-case, like US or GB",
        ),
        ("shipping.rates[0].countries", "lists US twice"),
        ("shipping.rates[0].amount", f"must be from 0 to {MAX_UNIT_AMOUNT}, got -1"),
        ("shipping.rates[1]", 'must be a JSON object: {"countries": [...], "amount": ...}'),
        ("shipping.rates[2].countries", 'must be a non-empty list of country codes, like ["US"]'),
        (
            "shipping.rates[2].amount",
            "must be a whole number of the currency's minor unit (500 for 5.00)",
        ),
        ("shipping.rates[3].countries", "is missing"),
        (
            "shipping.rates[4].countries",
            "'us' is not a country code: ISO 3166-1 alpha-2, upper-case, like US or GB",
        ),
        (
            "shipping.rates[4].countries",
            "each country is not a country code: ISO 3166-1 alpha-2, upper-case, like US or GB",
        ),
        ("shipping.rates[4].countries", "US is also in shipping.rates[0]: a country has one rate"),
        ("shipping.rates[4].amount", "is missing"),
        (
            "shipping.freeAbove",
            "must be a whole number of the currency's minor unit (500 for 5.00)",
        ),
    ]


def test_a_country_in_two_rates_is_a_problem() -> None:
    section = {"rates": [{"countries": ["US"], "amount": 5}, {"countries": ["US"], "amount": 9}]}
    assert problems(section) == [
        ("shipping.rates[1].countries", "US is also in shipping.rates[0]: a country has one rate")
    ]


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({}, "shipping.rates"),
        ({"rates": {"US": 500}}, "shipping.rates"),
        ({"rates": [], "freeAbove": MAX_UNIT_AMOUNT + 1}, "shipping.freeAbove"),
        ({"rates": [], "freeAbove": None}, "shipping.freeAbove"),
        ({"rates": [{"countries": "US", "amount": 5}]}, "shipping.rates[0].countries"),
        ({"rates": [{"countries": ["US"], "amount": "500"}]}, "shipping.rates[0].amount"),
        ({"rates": [{"countries": ["US"], "amount": True}]}, "shipping.rates[0].amount"),
    ],
)
def test_each_rule(section: dict[str, Any], field: str) -> None:
    assert fields(section) == [field]


def test_the_bounds_of_amounts_pass() -> None:
    section = {"rates": [{"countries": ["US"], "amount": MAX_UNIT_AMOUNT}], "freeAbove": 0}
    assert parse_rates(section).free_above == 0


def test_the_document_carries_the_currency_its_amounts_are_in() -> None:
    document = document_of(RATES, "usd")
    assert document == {**SECTION, "currency": "usd"}
    assert rates_from_document(document, "usd") == RATES
    with pytest.raises(InvalidRates) as caught:
        rates_from_document(document, "eur")
    assert [p.field for p in caught.value.problems] == ["shipping.currency"]
    with pytest.raises(InvalidRates):
        rates_from_document(SECTION, "usd")  # no currency


def test_no_document_or_a_broken_one_ships_nowhere_logged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert live_rates.rates_of(None, "usd") == NOWHERE
    assert capsys.readouterr().err == ""
    broken = {**document_of(RATES, "usd"), "freeAbove": "100"}
    assert live_rates.rates_of(broken, "usd") == NOWHERE
    (line,) = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert line["severity"] == "ERROR"
    assert line["field"] == "shipping.freeAbove"


def test_the_unit_tests_shop_prices_from_catalog_json() -> None:
    assert live_rates.current_rates() == RATES


# --- price_shipping


@pytest.mark.parametrize(("country", "amount"), [("US", 500), ("CA", 1500), ("MX", 1500)])
def test_each_country_costs_its_rate(country: str, amount: int) -> None:
    assert price_shipping(RATES, country, 2500) == Shipping(amount, country)


@pytest.mark.parametrize(
    ("subtotal", "amount"), [(0, 500), (9999, 500), (10000, 0), (10001, 0), (10**8, 0)]
)
def test_free_from_free_above_on_the_subtotal_after_discount(subtotal: int, amount: int) -> None:
    assert price_shipping(RATES, "US", subtotal) == Shipping(amount, "US")


def test_without_free_above_never_free() -> None:
    rates = ShippingRates((Rate(("US",), 500),))
    assert price_shipping(rates, "US", 10**8) == Shipping(500, "US")


def test_free_above_zero_is_always_free() -> None:
    assert price_shipping(ShippingRates((Rate(("US",), 500),), 0), "US", 0).amount == 0


@pytest.mark.parametrize("country", ["FR", "us", ""])
def test_a_country_not_shipped_to_is_400_invalid_shipping(country: str) -> None:
    with pytest.raises(ApiError) as caught:
        price_shipping(RATES, country, 100)
    assert (caught.value.status, caught.value.code) == (400, "invalid_shipping")
    assert caught.value.details == {"field": "shipping.address.country"}


# --- the catalog file's section


def catalog(**top: Any) -> dict[str, Any]:
    return {"currency": "usd", "products": [], **top}


def test_the_file_section_round_trips() -> None:
    parsed = parse_catalog(catalog(shipping=SECTION), "usd")
    assert parsed.shipping == RATES
    text = render("usd", [], shipping=parsed.shipping)
    assert json.loads(text)["shipping"] == SECTION
    assert read_catalog_text(text, "usd").shipping == RATES
    assert parse_catalog(catalog(), "usd").shipping is None
    assert "shipping" not in json.loads(render("usd", []))


def test_the_sections_problems_come_with_every_other_problem_of_the_file() -> None:
    data = {"currency": "eur", "products": "none", "shipping": {"rates": [], "freeAbove": -5}}
    with pytest.raises(InvalidCatalogFile) as caught:
        parse_catalog(data, "usd")
    assert [(getattr(p, "product", None), p.field) for p in caught.value.problems] == [
        (None, "currency"),
        (None, "shipping.freeAbove"),
        (None, "products"),
    ]
    assert "top level, field 'shipping.freeAbove': must be from 0 to" in str(caught.value)


def test_an_import_adds_changes_or_leaves_the_rates() -> None:
    added = plan_shipping(RATES, None, "usd")
    assert added.write == document_of(RATES, "usd")
    assert describe_shipping(added) == ["added shipping: US 500; CA, MX 1500, free from 10000 usd"]
    assert shipping_summary(added) == "; shipping added"

    # Firestore may give the maps' keys in another order: still the same.
    stored = {
        "currency": "usd",
        "freeAbove": 10000,
        "rates": [
            {"amount": 500, "countries": ["US"]},
            {"amount": 1500, "countries": ["CA", "MX"]},
        ],
    }
    same = plan_shipping(RATES, stored, "usd")
    assert same.write is None and describe_shipping(same) == []
    assert shipping_summary(same) == "; shipping unchanged"

    cheaper = ShippingRates((Rate(("US",), 400), Rate(("CA", "MX"), 1500)))
    changed = plan_shipping(cheaper, {**stored, "note": "by hand"}, "usd")
    assert changed.write == document_of(cheaper, "usd")
    assert describe_shipping(changed) == [
        'changed shipping: rates [{"amount": 500, "countries": ["US"]}, {"amount": 1500, '
        '"countries": ["CA", "MX"]}] -> [{"amount": 400, "countries": ["US"]}, {"amount": 1500, '
        '"countries": ["CA", "MX"]}]',
        "changed shipping: freeAbove 10000 -> (missing)",
        'changed shipping: note "by hand" -> (missing)',
    ]
    assert shipping_summary(changed) == "; shipping changed"

    none = plan_shipping(None, stored, "usd")
    assert none.write is None and describe_shipping(none) == [] and shipping_summary(none) == ""
    assert describe_shipping(plan_shipping(NOWHERE, None, "usd")) == [
        "added shipping: no rates usd"
    ]


def test_a_type_change_is_a_change() -> None:
    stored = {**document_of(RATES, "usd"), "freeAbove": 10000.0}
    plan = plan_shipping(RATES, stored, "usd")
    assert plan.write is not None
    assert describe_shipping(plan) == ["changed shipping: freeAbove 10000.0 -> 10000"]
