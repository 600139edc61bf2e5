"""The owner's shipping rates: their rules, their document, and what shipping a cart costs.

    {"rates": [{"countries": ["US"], "amount": 500}, {"countries": ["CA", "MX"], "amount": 1500}],
     "freeAbove": 10000}

The countries the shop ships to are those its rates list, each in exactly one rate; `freeAbove`
(optional) makes shipping free when the cart's subtotal after any discount is at least that.
Amounts are in the shop's currency's minor unit, like the products'. One set of rules for the
catalog file's `shipping` section and the Firestore document `shop/shipping` (which also
carries the `currency` it was written in). Checking never stops at the first problem: every
problem is returned, each naming its field by its dotted path (`shipping.rates[1].amount`).
Pure: live_rates reads the document.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from checkout.cart.pricing import Shipping
from checkout.platform.errors import ApiError
from checkout.products.product import MAX_UNIT_AMOUNT, Problem, is_int

SECTION = "shipping"  # the catalog file's key, and the start of every problem's field path
SECTION_FIELDS = ("rates", "freeAbove")
RATE_FIELDS = ("countries", "amount")
COUNTRY_FIELD = "shipping.address.country"  # where a request names the country

# ISO 3166-1 alpha-2 (as /usr/share/zoneinfo/iso3166.tab lists it), plus XK (Kosovo), which
# Stripe's Address Element offers. A code outside it ("UK" for GB) is an owner's typo.
_COUNTRY_CODES_TEXT = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW XK
"""
COUNTRY_CODES = frozenset(_COUNTRY_CODES_TEXT.split())


@dataclass(frozen=True)
class Rate:
    countries: tuple[str, ...]  # ISO 3166-1 alpha-2, upper-case, as the owner listed them
    amount: int  # minor unit of the shop's currency


@dataclass(frozen=True)
class ShippingRates:
    rates: tuple[Rate, ...] = ()
    free_above: int | None = None

    @property
    def countries(self) -> frozenset[str]:
        """The countries the shop ships to."""
        return frozenset(country for rate in self.rates for country in rate.countries)

    def rate_to(self, country: str) -> Rate | None:
        return next((rate for rate in self.rates if country in rate.countries), None)


NOWHERE = ShippingRates()  # no rates: the shop ships nowhere (a shop of downloads)


class InvalidRates(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def _problem(path: str, message: str) -> Problem:
    return Problem(None, path, message)


def _amount_problem(value: Any) -> str | None:
    if not is_int(value):
        return "must be a whole number of the currency's minor unit (500 for 5.00)"
    if not 0 <= value <= MAX_UNIT_AMOUNT:
        return f"must be from 0 to {MAX_UNIT_AMOUNT}, got {value}"
    return None


def _countries_problems(index: int, value: Any, first_rate: dict[str, int]) -> list[Problem]:
    """The problems of rate `index`'s `countries`; `first_rate` maps each country seen in an
    earlier rate to that rate's index (updated here)."""
    path = f"{SECTION}.rates[{index}].countries"
    if not isinstance(value, list) or not value:
        return [_problem(path, 'must be a non-empty list of country codes, like ["US"]')]
    problems = []
    seen: set[str] = set()
    for country in value:
        if not isinstance(country, str) or country not in COUNTRY_CODES:
            shown = repr(country) if isinstance(country, str) else "each country"
            message = (
                f"{shown} is not a country code: ISO 3166-1 alpha-2, upper-case, like US or GB"
            )
            problems.append(_problem(path, message))
        elif country in seen:
            problems.append(_problem(path, f"lists {country} twice"))
        elif country in first_rate:
            message = (
                f"{country} is also in shipping.rates[{first_rate[country]}]: a country has "
                "one rate"
            )
            problems.append(_problem(path, message))
        else:
            seen.add(country)
            first_rate[country] = index
    return problems


def _rate_problems(index: int, rate: Any, first_rate: dict[str, int]) -> list[Problem]:
    path = f"{SECTION}.rates[{index}]"
    if not isinstance(rate, dict):
        return [_problem(path, 'must be a JSON object: {"countries": [...], "amount": ...}')]
    known = ", ".join(RATE_FIELDS)
    problems = [
        _problem(f"{path}.{key}", f"is not a rate field (they are: {known})")
        for key in rate
        if key not in RATE_FIELDS
    ]
    if "countries" not in rate:
        problems.append(_problem(f"{path}.countries", "is missing"))
    else:
        problems += _countries_problems(index, rate["countries"], first_rate)
    if "amount" not in rate:
        problems.append(_problem(f"{path}.amount", "is missing"))
    else:
        message = _amount_problem(rate["amount"])
        if message is not None:
            problems.append(_problem(f"{path}.amount", message))
    return problems


def rates_problems(data: Any, extra_fields: tuple[str, ...] = ()) -> list[Problem]:
    """Every problem of a shipping section `data` (a document may hold `extra_fields` too)."""
    if not isinstance(data, dict):
        message = 'must be a JSON object: {"rates": [...], "freeAbove": ...}'
        return [_problem(SECTION, message)]
    known = ", ".join(SECTION_FIELDS)
    problems = [
        _problem(f"{SECTION}.{key}", f"is not a shipping field (they are: {known})")
        for key in data
        if key not in SECTION_FIELDS and key not in extra_fields
    ]
    rates = data.get("rates")
    if "rates" not in data:
        problems.append(_problem(f"{SECTION}.rates", "is missing"))
    elif not isinstance(rates, list):
        problems.append(_problem(f"{SECTION}.rates", "must be a list of rates"))
    else:
        first_rate: dict[str, int] = {}
        for index, rate in enumerate(rates):
            problems += _rate_problems(index, rate, first_rate)
    free_above_problem = _amount_problem(data["freeAbove"]) if "freeAbove" in data else None
    if free_above_problem is not None:
        problems.append(_problem(f"{SECTION}.freeAbove", free_above_problem))
    return problems


def _build(data: Mapping[str, Any]) -> ShippingRates:
    rates = tuple(Rate(tuple(r["countries"]), r["amount"]) for r in data["rates"])
    return ShippingRates(rates, data.get("freeAbove"))


def parse_rates(data: Any) -> ShippingRates:
    """The rates of a catalog file's shipping section; raises InvalidRates naming every problem."""
    problems = rates_problems(data)
    if problems:
        raise InvalidRates(problems)
    return _build(data)


def section_of(rates: ShippingRates) -> dict[str, Any]:
    """`rates` as the catalog file writes them (`freeAbove` only when there is one)."""
    section: dict[str, Any] = {
        "rates": [{"countries": list(r.countries), "amount": r.amount} for r in rates.rates]
    }
    if rates.free_above is not None:
        section["freeAbove"] = rates.free_above
    return section


def document_of(rates: ShippingRates, currency: str) -> dict[str, Any]:
    """The Firestore document of `rates`: the section and the currency its amounts are in."""
    return {**section_of(rates), "currency": currency}


def rates_from_document(data: Mapping[str, Any], currency: str) -> ShippingRates:
    """The rates the document `shop/shipping` holds, for a shop selling in `currency`; raises
    InvalidRates (a document broken by hand, or written for another currency)."""
    problems = rates_problems(dict(data), extra_fields=("currency",))
    if data.get("currency") != currency:
        message = f"must be {currency!r} (SHOP_CURRENCY), the currency of the amounts"
        problems.append(_problem(f"{SECTION}.currency", message))
    if problems:
        raise InvalidRates(problems)
    return _build(data)


def country_not_shipped_to() -> ApiError:
    return ApiError(
        400,
        "invalid_shipping",
        f"{COUNTRY_FIELD} must be a country the shop ships to.",
        details={"field": COUNTRY_FIELD},
    )


def price_shipping(rates: ShippingRates, country: str, subtotal_after_discount: int) -> Shipping:
    """What shipping a cart to `country` costs: its rate's amount, or 0 when the subtotal after
    any discount is at least `freeAbove`. A country no rate lists: 400 invalid_shipping."""
    rate = rates.rate_to(country)
    if rate is None:
        raise country_not_shipped_to()
    free = rates.free_above is not None and subtotal_after_discount >= rates.free_above
    return Shipping(amount=0 if free else rate.amount, country=country)
