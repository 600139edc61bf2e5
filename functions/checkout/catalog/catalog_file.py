"""The catalog file the owner edits: read and checked as a whole, and written by the export.

    {"currency": "usd", "products": [{"id": "mug-enamel", "name": "Enamel mug", ...}, ...],
     "promotionCodes": [{"code": "WELCOME10", "active": true, "percentOff": 10}, ...],
     "shipping": {"rates": [{"countries": ["US"], "amount": 500}], "freeAbove": 10000}}

The file states the currency once; its products carry the fields of a Firestore product
document except `currency`, and so do its promotion codes (checkout.discounts.promotion_code),
times written as RFC 3339 strings. `promotionCodes` may be left out: the import then leaves the
codes as they are; so may the `shipping` section, which holds the shipping rates
(checkout.shipping.rates has their rules). Anything the format does not know is an error naming
it: later capabilities add their own top-level sections, and a typo must not pass for one of
them.
"""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from checkout.discounts import promotion_code as codes
from checkout.discounts.promotion_code import CodeProblem, PromotionCode
from checkout.products.product import (
    FILE_FIELDS,
    Problem,
    Product,
    build,
    check_fields,
    is_valid_id,
)
from checkout.shipping.rates import ShippingRates, parse_rates, rates_problems, section_of

TOP_LEVEL_KEYS = ("currency", "products", "promotionCodes", "shipping")
CURRENCY_CODE = re.compile(r"[a-z]{3}")  # as Stripe writes them


@dataclass(frozen=True)
class CatalogFile:
    currency: str
    products: tuple[Product, ...]
    # None: the file has no `promotionCodes` section, and the import leaves the codes alone.
    promotion_codes: tuple[PromotionCode, ...] | None = None
    shipping: ShippingRates | None = None  # None: no section (the rates are left as they are)


# Each problem names its product or promotion code (or the top level) and its field.
EntryProblem = Problem | CodeProblem


class InvalidCatalogFile(Exception):
    """Every problem found in the file, each naming the product or code (or the top level) and
    the field."""

    def __init__(self, problems: list[EntryProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys silently; an owner's file means one of them.
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"the key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(text: str) -> Any:
    """The JSON value of `text`; raises InvalidCatalogFile for anything but strict JSON."""
    try:
        return json.loads(
            text, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant
        )
    except json.JSONDecodeError as error:
        message = f"not JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        raise InvalidCatalogFile([Problem(None, None, message)]) from error
    except ValueError as error:
        raise InvalidCatalogFile([Problem(None, None, str(error))]) from error


def _currency_problems(value: Any, shop_currency: str) -> list[Problem]:
    if value is None:
        return [Problem(None, "currency", "is missing")]
    if not isinstance(value, str) or not CURRENCY_CODE.fullmatch(value):
        return [Problem(None, "currency", "must be a lower-case ISO currency code, like usd")]
    if value != shop_currency:
        return [
            Problem(
                None,
                "currency",
                f"is {value!r}, but the shop sells in {shop_currency!r} (SHOP_CURRENCY)",
            )
        ]
    return []


def _product_label(entry: dict[str, Any], index: int) -> str:
    product_id = entry.get("id")
    return repr(product_id) if is_valid_id(product_id) else f"products[{index}]"


def _entry_problems(entry: dict[str, Any], label: str) -> list[Problem]:
    problems = []
    if "id" not in entry:
        problems.append(Problem(label, "id", "is missing"))
    elif not is_valid_id(entry["id"]):
        message = (
            f"{entry['id']!r} is not a product id: 1 to 64 letters, digits, _ or -, "
            "starting with a letter or digit"
        )
        problems.append(Problem(label, "id", message))
    for field in entry:
        if field == "currency":
            message = "products carry no currency: the file states it once, at the top"
            problems.append(Problem(label, field, message))
        elif field not in FILE_FIELDS:
            known = ", ".join(FILE_FIELDS)
            problems.append(Problem(label, field, f"is not a product field (they are: {known})"))
    return problems + check_fields(label, entry, FILE_FIELDS[1:])


def _code_problems(entry: dict[str, Any], label: str, product_ids: set[str]) -> list[CodeProblem]:
    problems = []
    if "code" not in entry:
        problems.append(CodeProblem(label, "code", "is missing"))
    elif codes.normalize(entry["code"]) is None:
        message = (
            f"{entry['code']!r} is not a promotion code: 3 to 32 letters, digits, _ or -, "
            "starting with a letter or digit"
        )
        problems.append(CodeProblem(label, "code", message))
    for field in entry:
        if field == "currency":
            message = "promotion codes carry no currency: the file states it once, at the top"
            problems.append(CodeProblem(label, field, message))
        elif field not in codes.FILE_FIELDS:
            known = ", ".join(codes.FILE_FIELDS)
            message = f"is not a promotion code field (they are: {known})"
            problems.append(CodeProblem(label, field, message))
    problems += codes.check_fields(label, entry, in_file=True)
    listed = entry.get("productIds")
    if isinstance(listed, list) and not any(p.field == "productIds" for p in problems):
        unknown = [product_id for product_id in listed if product_id not in product_ids]
        if unknown:
            message = f"{unknown[0]!r} is not a product of this file"
            problems.append(CodeProblem(label, "productIds", message))
    return problems


def parse_codes(
    entries: Any, shop_currency: str, product_ids: set[str]
) -> tuple[tuple[PromotionCode, ...], list[EntryProblem]]:
    """The promotion codes of the `promotionCodes` section, and every problem found in it."""
    if not isinstance(entries, list):
        return (), [Problem(None, "promotionCodes", "must be a list of promotion codes")]
    parsed: list[PromotionCode] = []
    problems: list[EntryProblem] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        place = f"promotionCodes[{index}]"
        if not isinstance(entry, dict):
            problems.append(CodeProblem(place, None, "must be a JSON object"))
            continue
        code = codes.normalize(entry.get("code"))
        label = place if code is None else repr(code)
        entry_problems = _code_problems(entry, label, product_ids)
        if code is not None:
            if code in first_index:
                message = (
                    f"appears twice (codes are case-insensitive): "
                    f"promotionCodes[{first_index[code]}] and {place}"
                )
                entry_problems.append(CodeProblem(label, "code", message))
            else:
                first_index[code] = index
        problems += entry_problems
        if not entry_problems:
            assert code is not None  # a missing or invalid code is a problem
            parsed.append(codes.build(code, entry, shop_currency, in_file=True))
    return tuple(parsed), problems


def parse_catalog(data: Any, shop_currency: str) -> CatalogFile:
    """The catalog `data` (the file's JSON value) describes; raises InvalidCatalogFile listing
    every problem when there is any, so that nothing is written from a file partly wrong."""
    if not isinstance(data, dict):
        message = 'must be one JSON object: {"currency": "...", "products": [...]}'
        raise InvalidCatalogFile([Problem(None, None, message)])
    problems: list[EntryProblem] = [
        Problem(None, key, f"is not a catalog section (they are: {', '.join(TOP_LEVEL_KEYS)})")
        for key in data
        if key not in TOP_LEVEL_KEYS
    ]
    problems += _currency_problems(data.get("currency"), shop_currency)
    problems += rates_problems(data["shipping"]) if "shipping" in data else []
    entries = data.get("products")
    if not isinstance(entries, list):
        problems.append(Problem(None, "products", "must be a list of products"))
        raise InvalidCatalogFile(problems)

    products: list[Product] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(Problem(f"products[{index}]", None, "must be a JSON object"))
            continue
        label = _product_label(entry, index)
        entry_problems = _entry_problems(entry, label)
        product_id = entry.get("id")
        if is_valid_id(product_id):
            if product_id in first_index:
                message = (
                    f"appears twice: products[{first_index[product_id]}] and products[{index}]"
                )
                entry_problems.append(Problem(label, "id", message))
            else:
                first_index[product_id] = index
        problems += entry_problems
        if not entry_problems:
            products.append(build(entry["id"], entry, shop_currency))
    promotion_codes = None
    if "promotionCodes" in data:
        product_ids = {e["id"] for e in entries if isinstance(e, dict) and is_valid_id(e.get("id"))}
        promotion_codes, more = parse_codes(data["promotionCodes"], shop_currency, product_ids)
        problems += more
    if problems:
        raise InvalidCatalogFile(problems)
    shipping = parse_rates(data["shipping"]) if "shipping" in data else None
    return CatalogFile(shop_currency, tuple(products), promotion_codes, shipping)


def read_catalog_text(text: str, shop_currency: str) -> CatalogFile:
    """The catalog of a file's text; raises InvalidCatalogFile."""
    return parse_catalog(parse_json(text), shop_currency)


def render(
    currency: str,
    entries: Sequence[dict[str, Any]],
    code_entries: Sequence[dict[str, Any]] = (),
    shipping: ShippingRates | dict[str, Any] | None = None,
) -> str:
    """The file's text for `entries` and `code_entries` (file entries, in the order given) and
    the `shipping` section (rates, or a section as it is; None: no section); a shop without
    promotion codes has no `promotionCodes` section."""
    document: dict[str, Any] = {"currency": currency, "products": list(entries)}
    if code_entries:
        document["promotionCodes"] = list(code_entries)
    if shipping is not None:
        document["shipping"] = (
            section_of(shipping) if isinstance(shipping, ShippingRates) else shipping
        )
    # default=str: a value broken by hand may be no JSON type (a timestamp); it is shown as text.
    return json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
