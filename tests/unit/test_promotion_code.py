"""A promotion code's rules: the code's spelling, each field, the rules between fields, and the
two mappings (file entry <-> code <-> Firestore document) reading back as the same code."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from checkout.discounts.promotion_code import (
    FILE_FIELDS,
    InvalidPromotionCode,
    PromotionCode,
    build,
    check_fields,
    code_from_document,
    document_of,
    file_entry_of,
    format_time,
    normalize,
    parse_time,
)


def fields(**changes: Any) -> dict[str, Any]:
    return {"active": True, "percentOff": 10, **changes}


def problems(data: dict[str, Any], in_file: bool = True) -> list[tuple[str | None, str]]:
    return [(p.field, p.message) for p in check_fields("'X'", data, in_file)]


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("welcome10", "WELCOME10"),
        ("  Welcome10 ", "WELCOME10"),
        ("SUMMER_SALE-2027", "SUMMER_SALE-2027"),
        ("abc", "ABC"),
        ("A" * 32, "A" * 32),
    ],
)
def test_codes_are_case_insensitive_and_stored_upper_case(typed: str, code: str) -> None:
    assert normalize(typed) == code


@pytest.mark.parametrize(
    "typed",
    ["", "ab", "A" * 33, "-WELCOME", "WEL COME", "WELCOME!", "wel\u017fcome", "ÄBC", 10, None],
)
def test_what_cannot_be_a_code_is_none(typed: object) -> None:
    # U+017F (long s) upper-cases to "S": two spellings must never name one code.
    assert normalize(typed) is None


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2027-01-31T23:59:59Z", datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC)),
        ("2027-01-31t23:59:59z", datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC)),
        ("2027-02-01T00:59:59+01:00", datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC)),
        ("2027-01-31T23:59:59.5Z", datetime(2027, 1, 31, 23, 59, 59, 500000, tzinfo=UTC)),
    ],
)
def test_rfc_3339_times_name_one_moment(text: str, moment: datetime) -> None:
    assert parse_time(text) == moment


@pytest.mark.parametrize(
    "text",
    [
        "2027-01-31",
        "2027-01-31T23:59:59",  # no offset: which moment?
        "2027-01-31 23:59:59Z",
        "2027-13-01T00:00:00Z",
        "2027-02-30T00:00:00Z",
        "2027-01-31T23:59:59.1234567Z",
        "tomorrow",
    ],
)
def test_anything_but_rfc_3339_with_an_offset_is_no_time(text: str) -> None:
    assert parse_time(text) is None


def test_times_are_written_in_utc_with_fractions_only_when_there_are_some() -> None:
    plus_one = timezone(timedelta(hours=1))
    assert format_time(datetime(2027, 2, 1, 0, 59, 59, tzinfo=plus_one)) == "2027-01-31T23:59:59Z"
    assert format_time(datetime(2027, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)) == (
        "2027-01-01T00:00:00.250000Z"
    )


def test_a_valid_entry_has_no_problem() -> None:
    assert problems(fields()) == []
    assert problems({"active": False, "amountOff": 500, "oncePerEmail": True}) == []


@pytest.mark.parametrize("value", [0, 101, -5, 10.0, "10", True])
def test_percent_off_is_a_whole_number_from_1_to_100(value: Any) -> None:
    assert [f for f, _ in problems(fields(percentOff=value))] == ["percentOff"]


@pytest.mark.parametrize("value", [0, -1, 100_000_000, 5.5, "500", False])
def test_amount_off_is_a_positive_amount(value: Any) -> None:
    data = {"active": True, "amountOff": value}
    assert [f for f, _ in problems(data)] == ["amountOff"]


def test_a_code_has_exactly_one_of_percent_off_and_amount_off() -> None:
    assert problems({"active": True}) == [(None, "needs one of percentOff and amountOff")]
    assert problems(fields(amountOff=500)) == [
        ("amountOff", "a code takes percentOff or amountOff, not both")
    ]


def test_active_is_required() -> None:
    assert problems({"percentOff": 10}) == [("active", "is missing")]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("maxRedemptions", 0),
        ("maxRedemptions", 1_000_000_001),
        ("maxRedemptions", "5"),
        ("minimumAmount", 0),
        ("minimumAmount", 20.0),
        ("productIds", []),
        ("productIds", "mug"),
        ("productIds", ["mug", "mug"]),
        ("productIds", ["not an id"]),
        ("oncePerEmail", "yes"),
        ("startsAt", "2027-01-31"),
        ("expiresAt", 1800000000),
        ("active", 1),
    ],
)
def test_each_field_is_checked_and_named(field: str, value: Any) -> None:
    assert [f for f, _ in problems(fields(**{field: value}))] == [field]


def test_in_the_file_none_is_a_field_left_out_not_null() -> None:
    ((field, message),) = problems(fields(maxRedemptions=None))
    assert field == "maxRedemptions" and "leave the field out" in message
    assert problems(fields(maxRedemptions=None), in_file=False) == []


def test_every_problem_is_listed() -> None:
    data = {"percentOff": 0, "minimumAmount": -1, "productIds": [], "oncePerEmail": 1}
    assert [f for f, _ in problems(data)] == [
        "active",
        "percentOff",
        "minimumAmount",
        "productIds",
        "oncePerEmail",
    ]


def test_a_code_expires_after_it_starts() -> None:
    data = fields(startsAt="2027-01-31T00:00:00Z", expiresAt="2027-01-31T00:00:00Z")
    assert problems(data) == [("expiresAt", "must be later than startsAt")]
    data = fields(startsAt="2027-01-31T01:00:00+01:00", expiresAt="2027-01-31T00:00:01Z")
    assert problems(data) == []


WELCOME = PromotionCode(
    code="WELCOME10",
    currency="usd",
    active=True,
    percent_off=10,
    starts_at=datetime(2027, 1, 1, tzinfo=UTC),
    expires_at=datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC),
    max_redemptions=100,
    minimum_amount=2000,
    product_ids=("mug-enamel", "tee-classic"),
    once_per_email=True,
)
FIVE_OFF = PromotionCode(code="FIVE", currency="usd", active=False, amount_off=500)


@pytest.mark.parametrize("code", [WELCOME, FIVE_OFF])
def test_document_and_file_entry_read_back_as_the_same_code(code: PromotionCode) -> None:
    assert code_from_document(code.code, document_of(code), "usd") == code
    entry = file_entry_of(code)
    assert list(entry) == [f for f in FILE_FIELDS if f in entry]
    assert check_fields("'X'", entry, in_file=True) == []
    assert build(entry["code"], entry, "usd", in_file=True) == code


def test_the_file_entry_leaves_none_out_and_writes_times_as_text() -> None:
    assert file_entry_of(FIVE_OFF) == {
        "code": "FIVE",
        "active": False,
        "amountOff": 500,
        "oncePerEmail": False,
    }
    assert file_entry_of(WELCOME)["expiresAt"] == "2027-01-31T23:59:59Z"


def test_the_document_writes_every_field_null_for_none() -> None:
    document = document_of(FIVE_OFF)
    assert document["maxRedemptions"] is None and document["percentOff"] is None
    assert document["currency"] == "usd"


def test_a_document_broken_by_hand_names_each_problem() -> None:
    document = {**document_of(WELCOME), "percentOff": "10", "currency": "eur"}
    del document["active"]
    with pytest.raises(InvalidPromotionCode) as caught:
        code_from_document("WELCOME10", document, "usd")
    assert [(p.code, p.field) for p in caught.value.problems] == [
        ("'WELCOME10'", "active"),
        ("'WELCOME10'", "percentOff"),
        ("'WELCOME10'", "currency"),
    ]
    with pytest.raises(InvalidPromotionCode):
        code_from_document("welcome10", document_of(WELCOME), "usd")  # ids are upper-case
    with pytest.raises(InvalidPromotionCode):
        code_from_document("WELCOME10", {**document_of(WELCOME), "startsAt": "2027"}, "usd")


def test_a_document_may_lack_optional_fields() -> None:
    code = code_from_document("FIVE", {"active": True, "amountOff": 500, "currency": "usd"}, "usd")
    assert code == PromotionCode(code="FIVE", currency="usd", active=True, amount_off=500)
