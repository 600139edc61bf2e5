"""Cart validation: every malformed body is a 400 with a specific code, never another error, and
every valid one parses to exactly the cart it holds."""

import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from checkout.cart.validation import MAX_LINES, CartLine, CartRequest, parse_cart_request
from checkout.platform.errors import ApiError
from checkout.products.product import is_valid_id
from tests.sample_catalog import sample_products

PRODUCTS = sample_products()

CHECKOUT_ID = "0b9c6f1e-3f4a-4d6e-9a57-1f2d3c4b5a69"


def body(**overrides: Any) -> dict[str, Any]:
    return {"checkoutId": CHECKOUT_ID, "items": [{"productId": "tee-classic", "quantity": 2}]} | (
        overrides
    )


def error_code(raw: Any) -> str:
    with pytest.raises(ApiError) as caught:
        parse_cart_request(raw)
    assert caught.value.status == 400
    return caught.value.code


def test_valid_cart_is_parsed() -> None:
    parsed = parse_cart_request(body(email="ada@example.com"))
    assert parsed.checkout_id == CHECKOUT_ID
    assert parsed.lines == (CartLine("tee-classic", 2),)
    assert parsed.email == "ada@example.com"


def test_checkout_id_is_normalised_to_lower_case() -> None:
    assert parse_cart_request(body(checkoutId=CHECKOUT_ID.upper())).checkout_id == CHECKOUT_ID


def test_client_amounts_are_not_read() -> None:
    parsed = parse_cart_request(
        body(amount=1, items=[{"productId": "mug-enamel", "quantity": 1, "unitAmount": 1}])
    )
    assert parsed.lines == (CartLine("mug-enamel", 1),)


@pytest.mark.parametrize("raw", [None, [], "cart", 3])
def test_body_must_be_an_object(raw: Any) -> None:
    assert error_code(raw) == "invalid_body"


@pytest.mark.parametrize("checkout_id", [None, "", "not-a-uuid", 42, str(uuid.uuid4())[:-1] + "z"])
def test_checkout_id_must_be_a_uuid(checkout_id: Any) -> None:
    assert error_code(body(checkoutId=checkout_id)) == "invalid_checkout_id"


@pytest.mark.parametrize("items", [None, [], {}, "tee-classic"])
def test_empty_or_missing_cart(items: Any) -> None:
    assert error_code(body(items=items)) == "empty_cart"


def test_too_many_lines() -> None:
    items = [{"productId": "tee-classic", "quantity": 1}] * (MAX_LINES + 1)
    assert error_code(body(items=items)) == "too_many_items"


@pytest.mark.parametrize("product_id", ["no pe", None, 7, "", "-lead", "x" * 65, "tee/classic"])
def test_an_id_no_product_can_have_is_an_unknown_product(product_id: Any) -> None:
    assert error_code(body(items=[{"productId": product_id, "quantity": 1}])) == "unknown_product"


def test_whether_the_shop_sells_a_product_is_for_pricing_to_say() -> None:
    # The live catalog decides (checkout.cart.pricing): 400 unknown_product or 409 off sale.
    parsed = parse_cart_request(body(items=[{"productId": "nope", "quantity": 1}]))
    assert parsed.lines == (CartLine("nope", 1),)


@pytest.mark.parametrize("quantity", [0, 100, -1, 1.5, "2", True, None])
def test_quantity_must_be_whole_1_to_99(quantity: Any) -> None:
    assert error_code(body(items=[{"productId": "tee-classic", "quantity": quantity}])) == (
        "invalid_quantity"
    )


@pytest.mark.parametrize("quantity", [1, 99])
def test_quantity_bounds_are_inclusive(quantity: int) -> None:
    items = [{"productId": "tee-classic", "quantity": quantity}]
    assert parse_cart_request(body(items=items)).lines[0].quantity == quantity


def test_a_product_appears_once() -> None:
    items = [
        {"productId": "tee-classic", "quantity": 1},
        {"productId": "tee-classic", "quantity": 2},
    ]
    assert error_code(body(items=items)) == "duplicate_product"


def test_item_must_be_an_object() -> None:
    assert error_code(body(items=["tee-classic"])) == "invalid_item"


@pytest.mark.parametrize("email", ["no-at-sign", "a@b", 5, "x" * 250 + "@example.com"])
def test_invalid_email(email: Any) -> None:
    assert error_code(body(email=email)) == "invalid_email"


@pytest.mark.parametrize("code", [5, True, ["SAVE10"], "x" * 65, "SAVE\x0010"])
def test_invalid_promotion_code(code: Any) -> None:
    assert error_code(body(promotionCode=code)) == "invalid_promotion_code"


@pytest.mark.parametrize("code", [None, "", "   "])
def test_promotion_code_is_optional(code: Any) -> None:
    assert parse_cart_request(body(promotionCode=code)).promotion_code is None


def test_promotion_code_is_kept_as_typed_but_trimmed() -> None:
    # Whether it names a code (and in which case) is for checkout.discounts to say.
    assert parse_cart_request(body(promotionCode=" save10 ")).promotion_code == "save10"


@pytest.mark.parametrize("email", [None, ""])
def test_email_is_optional(email: Any) -> None:
    assert parse_cart_request(body(email=email)).email is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)
checkout_ids = st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper())
product_ids = st.sampled_from(sorted(PRODUCTS))
good_line = st.fixed_dictionaries({"productId": product_ids, "quantity": st.integers(1, 99)})
cart_like = st.fixed_dictionaries(
    {},
    optional={
        "checkoutId": st.just(CHECKOUT_ID) | checkout_ids | json_values,
        "items": st.lists(
            good_line
            | st.fixed_dictionaries(
                {},
                optional={
                    "productId": st.sampled_from(["tee-classic", "mug-enamel", "x"]) | json_values,
                    "quantity": st.integers(-5, 120) | json_values,
                },
            )
            | json_values,
            max_size=25,
        )
        | json_values,
        "email": st.sampled_from(["ada@example.com", ""]) | json_values,
        "promotionCode": st.sampled_from(["SAVE10", ""]) | json_values,
    },
)


valid_lines = st.lists(
    good_line, min_size=1, max_size=len(PRODUCTS), unique_by=lambda line: line["productId"]
)
valid_cart_fields: dict[str, st.SearchStrategy[Any]] = {
    "checkoutId": checkout_ids,
    "items": valid_lines,
}
optional_fields: dict[str, st.SearchStrategy[Any]] = {
    "email": st.none() | st.just("") | st.emails().filter(lambda e: len(e) <= 254),
    "promotionCode": st.none() | st.text(max_size=64).filter(str.isprintable),
    "amount": st.integers(),  # money the client states is never read
}
valid_carts = st.fixed_dictionaries(valid_cart_fields, optional=optional_fields)


def cart_in(raw: dict[str, Any]) -> CartRequest:
    """What a body that is a valid cart says, read field by field: the parse must return it."""
    return CartRequest(
        checkout_id=str(uuid.UUID(raw["checkoutId"])),  # canonical: lower case, hyphenated
        lines=tuple(CartLine(line["productId"], line["quantity"]) for line in raw["items"]),
        email=raw.get("email") or None,
        promotion_code=(raw.get("promotionCode") or "").strip() or None,
    )


def assert_a_valid_cart(parsed: CartRequest) -> None:
    assert parsed.checkout_id == str(uuid.UUID(parsed.checkout_id))
    assert 1 <= len(parsed.lines) <= MAX_LINES
    assert len({line.product_id for line in parsed.lines}) == len(parsed.lines)
    for line in parsed.lines:
        assert is_valid_id(line.product_id)
        assert type(line.quantity) is int and 1 <= line.quantity <= 99
    assert parsed.email is None or "@" in parsed.email


# Valid carts too: otherwise a successful parse, and what it returns, is hardly ever seen.
@given(json_values | cart_like | valid_carts)
def test_fuzzed_bodies_raise_only_api_errors_or_parse_to_the_cart_they_hold(raw: Any) -> None:
    try:
        parsed = parse_cart_request(raw)
    except ApiError as error:
        assert 400 <= error.status < 500
        return
    assert_a_valid_cart(parsed)
    assert parsed == cart_in(raw)


@given(valid_carts)
def test_every_valid_cart_parses_to_exactly_its_lines_in_order(raw: dict[str, Any]) -> None:
    parsed = parse_cart_request(raw)
    assert parsed == cart_in(raw)
    assert_a_valid_cart(parsed)
