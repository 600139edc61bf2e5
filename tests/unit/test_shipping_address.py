"""A request's `shipping` (Stripe's shape) checked: each field required or optional as Stripe's
Address Element gives it, at most 200 characters, no control characters, no unknown key, a
country the shop ships to; the first bad field named by its dotted path; never the value."""

import copy
from typing import Any

import pytest

from checkout.platform.errors import ApiError
from checkout.shipping.address import MAX_LENGTH, ShippingAddress, parse_shipping
from checkout.shipping.rates import Rate, ShippingRates

RATES = ShippingRates((Rate(("US",), 500), Rate(("CA", "MX"), 1500)), free_above=10000)
REQUIRED = (
    "shipping.name",
    "shipping.address.line1",
    "shipping.address.city",
    "shipping.address.postal_code",
    "shipping.address.country",
)
OPTIONAL = ("shipping.phone", "shipping.address.line2", "shipping.address.state")
EVERY_FIELD = REQUIRED + OPTIONAL


def valid() -> dict[str, Any]:
    return {
        "name": "Ada Lovelace",
        "phone": "+15555550100",
        "address": {
            "line1": "1 Main St",
            "line2": "Apt 2",
            "city": "Springfield",
            "state": "IL",
            "postal_code": "62701",
            "country": "US",
        },
    }


def with_field(path: str, value: Any, drop: bool = False) -> dict[str, Any]:
    """valid() with the field at the dotted `path` set to `value` (or removed)."""
    shipping = copy.deepcopy(valid())
    *parents, last = path.split(".")[1:]
    target = shipping
    for key in parents:
        target = target[key]
    if drop:
        del target[last]
    else:
        target[last] = value
    return shipping


def refused(value: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_shipping(value, RATES)
    error = caught.value
    assert (error.status, error.code) == (400, "invalid_shipping")
    assert error.body()["error"]["field"] == error.details["field"]
    return error


def test_a_valid_address_in_stripes_shape() -> None:
    address = parse_shipping(valid(), RATES)
    assert address == ShippingAddress(
        "Ada Lovelace", "1 Main St", "Springfield", "62701", "US", "+15555550100", "Apt 2", "IL"
    )
    assert address.stripe_shipping() == valid()


def test_optional_fields_may_be_absent_null_or_empty() -> None:
    shipping = {"name": "Ada", "address": {"line1": "1 Main St", "city": "Toronto",
                                           "postal_code": "M5V 2T6", "country": "CA",
                                           "line2": None, "state": ""}}  # fmt: skip
    address = parse_shipping(shipping, RATES)
    assert (address.phone, address.line2, address.state) == (None, None, None)
    assert address.stripe_shipping()["address"]["line2"] is None


@pytest.mark.parametrize("path", REQUIRED)
@pytest.mark.parametrize("value", [None, "", "   ", "drop"])
def test_each_required_field_is_required(path: str, value: Any) -> None:
    error = refused(with_field(path, value, drop=value == "drop"))
    assert error.details == {"field": path}
    assert error.message == f"{path} is required."


@pytest.mark.parametrize("path", EVERY_FIELD)
@pytest.mark.parametrize("value", [5, True, ["x"], {"x": 1}])
def test_each_field_must_be_a_string(path: str, value: Any) -> None:
    assert refused(with_field(path, value)).details == {"field": path}


@pytest.mark.parametrize("path", EVERY_FIELD)
def test_each_field_holds_at_most_200_characters(path: str) -> None:
    if path != "shipping.address.country":  # 200 characters is never a country code
        parse_shipping(with_field(path, "x" * MAX_LENGTH), RATES)
    error = refused(with_field(path, "x" * (MAX_LENGTH + 1)))
    assert error.details == {"field": path}
    assert "at most 200 characters" in error.message


@pytest.mark.parametrize("path", EVERY_FIELD)
@pytest.mark.parametrize("bad", ["\x00", "\n", "\r", "\t", "\x1b", "\x7f", "\x85", "\u2028",
                                 "\u2029", "\ud800"])  # fmt: skip
def test_each_field_refuses_control_characters(path: str, bad: str) -> None:
    error = refused(with_field(path, f"A{bad}B"))
    assert error.details == {"field": path}
    assert "control characters" in error.message


def test_letters_of_any_script_pass() -> None:
    address = parse_shipping(with_field("shipping.name", "Zoë Ångström 王小明 (ñ)"), RATES)
    assert address.name == "Zoë Ångström 王小明 (ñ)"


@pytest.mark.parametrize(
    ("shipping", "field"),
    [
        ({**valid(), "email": "a@b.c"}, "shipping.email"),
        ({**valid(), "carrier": None}, "shipping.carrier"),
        (with_field("shipping.address.county", "X"), "shipping.address.county"),
        (with_field("shipping.address.zip", "62701"), "shipping.address.zip"),
        # A key that is no field name is not echoed back: its object is named.
        ({**valid(), "a b\n": 1}, "shipping"),
        (with_field("shipping.address.<script>", 1), "shipping.address"),
    ],
)
def test_unknown_keys_are_refused(shipping: dict[str, Any], field: str) -> None:
    error = refused(shipping)
    assert error.details == {"field": field}
    assert error.message == f"{field} is not a field of a shipping address."


@pytest.mark.parametrize("value", ["nope", 5, [], None])
def test_shipping_must_be_an_object(value: Any) -> None:
    assert refused(value).details == {"field": "shipping"}


@pytest.mark.parametrize("value", ["1 Main St", 5, []])
def test_the_address_must_be_an_object(value: Any) -> None:
    assert refused(with_field("shipping.address", value)).details == {"field": "shipping.address"}


def test_the_address_is_required() -> None:
    error = refused(with_field("shipping.address", None, drop=True))
    assert error.details == {"field": "shipping.address"}


@pytest.mark.parametrize("country", ["FR", "GB", "us", "USA", "XX", " US", "U"])
def test_a_country_the_rates_do_not_list_is_refused(country: str) -> None:
    error = refused(with_field("shipping.address.country", country))
    assert error.details == {"field": "shipping.address.country"}
    assert error.message == "shipping.address.country must be a country the shop ships to."


@pytest.mark.parametrize("country", ["US", "CA", "MX"])
def test_every_country_of_the_rates_is_accepted(country: str) -> None:
    assert parse_shipping(with_field("shipping.address.country", country), RATES).country == country


def test_a_shop_without_rates_ships_nowhere() -> None:
    with pytest.raises(ApiError) as caught:
        parse_shipping(valid(), ShippingRates())
    assert caught.value.details == {"field": "shipping.address.country"}


def test_the_first_bad_field_is_named_in_stripes_order() -> None:
    shipping = with_field("shipping.address.city", "")
    shipping["name"] = ""
    shipping["address"]["country"] = "FR"
    assert refused(shipping).details == {"field": "shipping.name"}
    shipping["name"] = "Ada"
    assert refused(shipping).details == {"field": "shipping.address.city"}


def test_no_message_or_repr_holds_a_value_of_the_address() -> None:
    secret = "Secret Lane 7"
    for path in EVERY_FIELD:
        for value in (f"{secret}\x00", secret * 20):
            error = refused(with_field(path, value))
            assert secret not in error.message and secret not in str(error.body())
    address = parse_shipping(with_field("shipping.address.line1", secret), RATES)
    assert secret not in repr(address) and secret not in str(address)
    assert repr(address) == "ShippingAddress(country='US', ...)"
