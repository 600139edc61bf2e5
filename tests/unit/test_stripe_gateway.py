"""The parts of the Stripe gateway that need no Stripe: keys and error translation."""

import json

import pytest
import stripe

from checkout.cart.pricing import price_cart
from checkout.cart.validation import CartLine
from checkout.platform.errors import ApiError
from checkout.stripe_api import connection
from checkout.stripe_api.connection import translated_errors
from checkout.stripe_api.payment_intents import idempotency_key
from tests.sample_catalog import sample_shop

CHECKOUT = "0b9c6f1e-3f4a-4d6e-9a57-1f2d3c4b5a69"


def test_idempotency_key_is_derived_from_checkout_and_cart() -> None:
    cart = price_cart((CartLine("tee-classic", 1),), sample_shop())
    other_cart = price_cart((CartLine("tee-classic", 2),), sample_shop())
    assert idempotency_key(CHECKOUT, cart) == idempotency_key(CHECKOUT, cart)
    assert idempotency_key(CHECKOUT, cart).startswith(f"checkout-{CHECKOUT}-")
    assert idempotency_key(CHECKOUT, cart) != idempotency_key(CHECKOUT, other_cart)
    assert len(idempotency_key(CHECKOUT, cart)) <= 255


@pytest.mark.parametrize(
    ("raised", "status", "code"),
    [
        (stripe.InvalidRequestError("Amount too small", "amount"), 400, "stripe_invalid_request"),
        (stripe.APIConnectionError("down"), 502, "stripe_unavailable"),
        (stripe.APIError("boom"), 502, "stripe_unavailable"),
        (stripe.RateLimitError("slow down"), 502, "stripe_unavailable"),
        (
            stripe.AuthenticationError("Invalid API Key provided: sk_test_****"),
            500,
            "stripe_auth_failed",
        ),
    ],
)
def test_stripe_errors_are_translated(raised: Exception, status: int, code: str) -> None:
    with pytest.raises(ApiError) as caught, translated_errors():
        raise raised
    assert (caught.value.status, caught.value.code) == (status, code)
    assert "sk_" not in caught.value.message


def test_invalid_request_keeps_stripes_message() -> None:
    with pytest.raises(ApiError) as caught, translated_errors():
        raise stripe.InvalidRequestError("Amount must be at least 50 cents", "amount")
    assert caught.value.message == "Amount must be at least 50 cents"


def test_a_catalog_price_change_changes_the_idempotency_key() -> None:
    # Same items, new price: Stripe must not see the old key with new parameters.
    from checkout.cart.pricing import PricedCart, PricedLine

    before = PricedCart((PricedLine("tee-classic", "Classic tee", 2500, 1),), "usd")
    after = PricedCart((PricedLine("tee-classic", "Classic tee", 2700, 1),), "usd")
    assert idempotency_key(CHECKOUT, before) != idempotency_key(CHECKOUT, after)


def test_the_claim_lease_outlasts_the_slowest_stripe_call() -> None:
    from checkout.orders.store import CLAIM_LEASE
    from checkout.stripe_api.connection import WORST_CASE_CALL_SECONDS

    assert CLAIM_LEASE.total_seconds() > WORST_CASE_CALL_SECONDS


def test_listed_objects_are_plain_json_as_a_webhook_carries_them() -> None:
    # The SDK makes a Price's unit_amount_decimal a Decimal; the events catch-up json.dumps
    # what it lists, as a delivery's body.
    price = stripe.Price.construct_from(
        {"id": "price_1", "object": "price", "unit_amount_decimal": "2000"}, "sk_test"
    )
    event = {"data": {"object": price.to_dict()}, "list": [price.to_dict()]}
    assert json.loads(json.dumps(connection.plain_json(event))) == {
        "data": {"object": {"id": "price_1", "object": "price", "unit_amount_decimal": "2000"}},
        "list": [{"id": "price_1", "object": "price", "unit_amount_decimal": "2000"}],
    }
