"""A promotion code: its fields, the rules each must follow, and the code they make.

One set of rules for both places a code is written down: a Firestore document
`promotion_codes/{CODE}` (times as timestamps, "none" as null, and the shop's `currency`) and an
entry of the catalog file's `promotionCodes` list (times as RFC 3339 strings, "none" by leaving
the field out). As for products, checking never stops at the first problem: every problem found
is returned, each naming the code and the field (docs/catalog.md has them field by field).

Codes are case-insensitive: what an owner or a shopper types is upper-cased once, here
(`normalize`), and stored, compared and shown upper-case.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from checkout.products.product import MAX_UNIT_AMOUNT, is_int, is_valid_id

# 3 to 32 ASCII letters, digits, _ or -, starting with a letter or digit. ASCII on purpose:
# str.upper() maps some other letters onto ASCII ones (the long s, U+017F, becomes "S"), and
# two spellings must never name one code. Short enough to type; long enough to be hard to guess.
CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,31}", re.ASCII)
MAX_REDEMPTIONS = 1_000_000_000  # any real limit; it keeps a typo inside Firestore's integers
# RFC 3339 with its offset: "2027-01-31T23:59:59Z", "2027-01-31T23:59:59.5+01:00". Fractions
# down to the microsecond, as Firestore keeps them.
RFC_3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)

# Fields in the order the file and the export write them (`code` only in the file: in
# Firestore it is the document's id).
REQUIRED_FIELDS = ("active",)
DISCOUNT_FIELDS = ("percentOff", "amountOff")  # exactly one of the two
OPTIONAL_FIELDS = (
    "startsAt",
    "expiresAt",
    "maxRedemptions",
    "minimumAmount",
    "productIds",
    "oncePerEmail",
)
FILE_FIELDS = ("code", *REQUIRED_FIELDS, *DISCOUNT_FIELDS, *OPTIONAL_FIELDS)
DOCUMENT_FIELDS = (*FILE_FIELDS[1:], "currency")
TIME_FIELDS = ("startsAt", "expiresAt")
DEFAULTS: Mapping[str, Any] = {"oncePerEmail": False}  # every other optional field: none


@dataclass(frozen=True)
class PromotionCode:
    code: str  # upper-case
    currency: str  # of amount_off and minimum_amount: the shop's
    active: bool
    percent_off: int | None = None  # 1..100; exactly one of percent_off and amount_off
    amount_off: int | None = None  # minor units
    starts_at: datetime | None = None  # valid from (inclusive)
    expires_at: datetime | None = None  # valid until (exclusive)
    max_redemptions: int | None = None  # None: unlimited
    minimum_amount: int | None = None  # the subtotal before the discount must reach it
    product_ids: tuple[str, ...] | None = None  # None: the whole cart
    once_per_email: bool = False


@dataclass(frozen=True)
class CodeProblem:
    """What is wrong with one field of one promotion code.

    `code` names it: the code quoted, or its place in the file ("promotionCodes[3]") when it has
    no valid code. `field` is None when the problem is the whole entry.
    """

    code: str
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"promotion code {self.code}"
        if self.field is not None:
            where += f", field {self.field!r}"
        return f"{where}: {self.message}"


class InvalidPromotionCode(Exception):
    def __init__(self, problems: list[CodeProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def normalize(text: object) -> str | None:
    """The code `text` names (upper-case), or None when it cannot be a code at all."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    return text.upper() if CODE_PATTERN.fullmatch(text) else None


def parse_time(text: str) -> datetime | None:
    """The moment an RFC 3339 string names (timezone-aware), or None."""
    if not RFC_3339.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:  # a month 13, a February 30
        return None


def format_time(moment: datetime) -> str:
    """`moment` as the file writes it: RFC 3339 in UTC, "Z", fractions only when it has some."""
    utc = moment.astimezone(UTC)
    spec = "microseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def _is_amount(value: object, least: int) -> bool:
    return is_int(value) and least <= value <= MAX_UNIT_AMOUNT


def field_problem(field: str, value: Any, in_file: bool) -> str | None:
    """Why `value` cannot be the field `field` (a known field, present), or None.

    `in_file`: times are RFC 3339 strings and "none" is a field left out; in a document times
    are timestamps and "none" is null.
    """
    if value is None and field in (*DISCOUNT_FIELDS, *OPTIONAL_FIELDS):
        if in_file:
            return "must not be null: leave the field out for none"
        return None
    if field in ("active", "oncePerEmail"):
        return None if isinstance(value, bool) else "must be true or false"
    if field == "percentOff":
        return None if is_int(value) and 1 <= value <= 100 else "must be a whole number 1 to 100"
    if field == "amountOff":
        if _is_amount(value, 1):
            return None
        return f"must be a whole number of the minor unit (500 for 5.00), 1 to {MAX_UNIT_AMOUNT}"
    if field == "minimumAmount":
        if _is_amount(value, 1):
            return None
        return f"must be a whole number of the minor unit (2000 for 20.00), 1 to {MAX_UNIT_AMOUNT}"
    if field == "maxRedemptions":
        if is_int(value) and 1 <= value <= MAX_REDEMPTIONS:
            return None
        return f"must be a whole number 1 to {MAX_REDEMPTIONS} (leave it out for no limit)"
    if field in TIME_FIELDS:
        if in_file:
            if isinstance(value, str) and parse_time(value) is not None:
                return None
            return "must be an RFC 3339 time with its offset, like 2027-01-31T23:59:59Z"
        ok = isinstance(value, datetime) and value.tzinfo is not None
        return None if ok else "must be a timestamp"
    if field == "productIds":
        if not isinstance(value, list) or not value:
            return "must be a non-empty list of product ids (leave it out for the whole cart)"
        bad = [item for item in value if not is_valid_id(item)]
        if bad:
            return f"{bad[0]!r} is not a product id"
        if len(set(value)) != len(value):
            return "names a product twice"
        return None
    if field == "currency":
        return None if isinstance(value, str) else "must be a string"
    raise AssertionError(f"no rule for field {field}")


def _time_of(value: Any, in_file: bool) -> datetime | None:
    if value is None:
        return None
    return parse_time(value) if in_file else value


def check_fields(label: str, data: Mapping[str, Any], in_file: bool) -> list[CodeProblem]:
    """The problems of `data`'s fields (not `code`, not `currency`), each on its own, then the
    rules between them: one discount, a start before the end."""
    problems = [
        CodeProblem(label, field, "is missing") for field in REQUIRED_FIELDS if field not in data
    ]
    for field in (*REQUIRED_FIELDS, *DISCOUNT_FIELDS, *OPTIONAL_FIELDS):
        if field in data:
            message = field_problem(field, data[field], in_file)
            if message is not None:
                problems.append(CodeProblem(label, field, message))
    discounts = [field for field in DISCOUNT_FIELDS if data.get(field) is not None]
    if not discounts:
        message = "needs one of percentOff and amountOff"
        problems.append(CodeProblem(label, None, message))
    elif len(discounts) > 1:
        message = "a code takes percentOff or amountOff, not both"
        problems.append(CodeProblem(label, "amountOff", message))
    bad = {p.field for p in problems}
    if not bad & set(TIME_FIELDS):
        starts = _time_of(data.get("startsAt"), in_file)
        expires = _time_of(data.get("expiresAt"), in_file)
        if starts is not None and expires is not None and expires <= starts:
            problems.append(CodeProblem(label, "expiresAt", "must be later than startsAt"))
    return problems


def build(code: str, data: Mapping[str, Any], currency: str, in_file: bool) -> PromotionCode:
    """The PromotionCode of fields already checked."""
    product_ids = data.get("productIds")
    return PromotionCode(
        code=code,
        currency=currency,
        active=data["active"],
        percent_off=data.get("percentOff"),
        amount_off=data.get("amountOff"),
        starts_at=_time_of(data.get("startsAt"), in_file),
        expires_at=_time_of(data.get("expiresAt"), in_file),
        max_redemptions=data.get("maxRedemptions"),
        minimum_amount=data.get("minimumAmount"),
        product_ids=None if product_ids is None else tuple(product_ids),
        once_per_email=data.get("oncePerEmail", DEFAULTS["oncePerEmail"]),
    )


def code_from_document(code: str, data: Mapping[str, Any], currency: str) -> PromotionCode:
    """The code a Firestore document holds, in the shop's `currency`; raises
    InvalidPromotionCode. Fields the code does not know are ignored."""
    label = repr(code)
    problems = []
    if normalize(code) != code:
        problems.append(CodeProblem(label, "code", "is not an upper-case promotion code"))
    problems += check_fields(label, data, in_file=False)
    if "currency" not in data:
        problems.append(CodeProblem(label, "currency", "is missing"))
    elif data["currency"] != currency:
        message = f"is {data['currency']!r}, the shop sells in {currency!r} (SHOP_CURRENCY)"
        problems.append(CodeProblem(label, "currency", message))
    if problems:
        raise InvalidPromotionCode(problems)
    return build(code, data, currency, in_file=False)


def document_of(code: PromotionCode) -> dict[str, Any]:
    """The Firestore document of `code` (its code is the document's id). Every field is
    written, null for none, so that a merged write also clears what the file no longer sets."""
    return {
        "active": code.active,
        "percentOff": code.percent_off,
        "amountOff": code.amount_off,
        "startsAt": code.starts_at,
        "expiresAt": code.expires_at,
        "maxRedemptions": code.max_redemptions,
        "minimumAmount": code.minimum_amount,
        "productIds": None if code.product_ids is None else list(code.product_ids),
        "oncePerEmail": code.once_per_email,
        "currency": code.currency,
    }


def file_entry_of(code: PromotionCode) -> dict[str, Any]:
    """`code` as the catalog file writes it, fields in FILE_FIELDS order, none left out."""
    document = document_of(code)
    entry: dict[str, Any] = {"code": code.code}
    for field in FILE_FIELDS[1:]:
        value = document[field]
        if value is None:
            continue
        entry[field] = format_time(value) if field in TIME_FIELDS else value
    return entry
