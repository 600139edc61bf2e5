"""The test stack's localstripe takes a PaymentIntent's `shipping` as Stripe does (localstripe
itself refuses it on create, update and confirm; dev/localstripe_server.py adds it): set on
create or update, in Stripe's shape, unset by "", and a bad one refused."""

from typing import Any

import pytest
import stripe

SHIPPING: Any = {
    "name": "Ada Lovelace",
    "address": {"line1": "1 Main St", "city": "Springfield", "state": "IL",
                "postal_code": "62701", "country": "US"},
}  # fmt: skip
STORED: Any = {
    "name": "Ada Lovelace",
    "phone": None,
    "address": {**SHIPPING["address"], "line2": None},
    "carrier": None,
    "tracking_number": None,
}


def test_shipping_on_create_update_and_unset(stripe_client: stripe.StripeClient) -> None:
    plain = stripe_client.v1.payment_intents.create(params={"amount": 500, "currency": "usd"})
    assert plain.shipping is None
    params: Any = {"amount": 500, "currency": "usd", "shipping": SHIPPING}
    created = stripe_client.v1.payment_intents.create(params=params)
    assert created.to_dict()["shipping"] == STORED
    moved: Any = {**SHIPPING, "address": {**SHIPPING["address"], "country": "CA"}}
    updated = stripe_client.v1.payment_intents.update(
        plain.id,
        params={"shipping": moved},
    )
    assert updated.to_dict()["shipping"]["address"]["country"] == "CA"
    unset_params: Any = {"shipping": ""}
    unset = stripe_client.v1.payment_intents.update(plain.id, params=unset_params)
    assert unset.shipping is None


def test_a_shipping_without_name_or_line1_is_refused(stripe_client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        bad: Any = {"amount": 500, "currency": "usd", "shipping": {"name": "Ada"}}
        stripe_client.v1.payment_intents.create(params=bad)
