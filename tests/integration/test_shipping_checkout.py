"""Shipping through POST /api/payment-intents, against localstripe and the Firestore emulator:
the address priced on the server, the PaymentIntent's amount and `shipping`, the order's record,
invalid_shipping for each field, and the review of a payment without an address or to another
country than priced."""

import uuid
from typing import Any

import pytest
import stripe
from flask.testing import FlaskClient
from google.cloud import firestore

from checkout.platform.collections import CHECKOUTS, ORDERS
from checkout.stripe_api import payment_intents
from tests import stripe_events as se
from tests.integration.conftest import Deliver
from tests.sample_catalog import unit_amount
from tests.shipping_address import US_ADDRESS, address_in

TEE = unit_amount("tee-classic")
MUG = unit_amount("mug-enamel")
ONE_TEE = [{"productId": "tee-classic", "quantity": 1}]


def post(client: FlaskClient, checkout_id: str, items: Any = None, **extra: Any) -> Any:
    body = {"checkoutId": checkout_id, "items": items or ONE_TEE, **extra}
    return client.post("/api/payment-intents", json=body)


def answer(client: FlaskClient, checkout_id: str, **extra: Any) -> dict[str, Any]:
    response = post(client, checkout_id, **extra)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def moved(line1: str) -> dict[str, Any]:
    return {**US_ADDRESS, "address": {**US_ADDRESS["address"], "line1": line1}}


def shopper_fields(shipping: Any) -> Any:
    """A PaymentIntent's `shipping` without Stripe's own carrier and tracking number."""
    if shipping is None:
        return None
    return {key: shipping[key] for key in ("name", "phone", "address")}


@pytest.fixture
def checkout_id() -> str:
    return str(uuid.uuid4())


def test_config_names_the_countries_shipped_to_and_each_products_shippable(
    checkout_api: FlaskClient,
) -> None:
    config = checkout_api.get("/api/config").get_json()
    assert config["shippingCountries"] == ["CA", "MX", "US"]
    assert all(product["shippable"] is True for product in config["products"])


def test_an_address_is_priced_on_the_server_and_given_to_the_payment_intent(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    checkout_id: str,
) -> None:
    first = answer(checkout_api, checkout_id)
    assert (first["amount"], first["shippingAmount"]) == (TEE, None)
    order = firestore_db.collection(ORDERS).document(first["paymentIntentId"]).get().to_dict()
    assert order is not None and order["shipping"] is None and order["shippingRequired"] is True

    shipped = answer(checkout_api, checkout_id, shipping=US_ADDRESS)
    assert shipped["paymentIntentId"] == first["paymentIntentId"]
    assert (shipped["amount"], shipped["shippingAmount"]) == (TEE + 500, 500)
    intent = stripe_client.v1.payment_intents.retrieve(shipped["paymentIntentId"]).to_dict()
    assert int(intent["amount"]) == TEE + 500  # (localstripe keeps an update's as text)
    assert intent["metadata"]["shipping"] == "500:US"
    assert shopper_fields(intent["shipping"]) == US_ADDRESS
    order = firestore_db.collection(ORDERS).document(shipped["paymentIntentId"]).get().to_dict()
    assert order is not None
    assert order["amount"] == TEE + 500
    assert order["shipping"] == {"amount": 500, "country": "US", "address": US_ADDRESS}
    # The record keeps a digest of the address, never the address.
    record = firestore_db.collection(CHECKOUTS).document(checkout_id).get().to_dict() or {}
    assert "Main" not in str(record) and "Lovelace" not in str(record)


def test_a_changed_street_updates_the_same_payment_intent_and_a_repeat_is_not_stale(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    checkout_id: str,
) -> None:
    home = answer(checkout_api, checkout_id, shipping=US_ADDRESS)
    elsewhere = answer(checkout_api, checkout_id, shipping=moved("2 Elm St"))
    assert elsewhere["paymentIntentId"] == home["paymentIntentId"]
    assert elsewhere["amount"] == home["amount"]  # same country, same rate
    intent = stripe_client.v1.payment_intents.retrieve(home["paymentIntentId"]).to_dict()
    assert intent["shipping"]["address"]["line1"] == "2 Elm St"
    # Back to the first address: answered with it at Stripe and on the order, not the last one.
    again = answer(checkout_api, checkout_id, shipping=US_ADDRESS)
    assert again["paymentIntentId"] == home["paymentIntentId"]
    intent = stripe_client.v1.payment_intents.retrieve(home["paymentIntentId"]).to_dict()
    assert intent["shipping"]["address"]["line1"] == "1 Main St"
    order = firestore_db.collection(ORDERS).document(home["paymentIntentId"]).get().to_dict()
    assert order is not None and order["shipping"]["address"] == US_ADDRESS


def test_another_country_is_priced_again_and_a_post_without_shipping_removes_it(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    checkout_id: str,
) -> None:
    answer(checkout_api, checkout_id, shipping=US_ADDRESS)
    canada = answer(checkout_api, checkout_id, shipping=address_in("CA"))
    assert (canada["amount"], canada["shippingAmount"]) == (TEE + 1500, 1500)
    removed = answer(checkout_api, checkout_id)
    assert removed["paymentIntentId"] == canada["paymentIntentId"]
    assert (removed["amount"], removed["shippingAmount"]) == (TEE, None)
    intent = stripe_client.v1.payment_intents.retrieve(removed["paymentIntentId"]).to_dict()
    assert int(intent["amount"]) == TEE and intent["shipping"] is None
    assert not intent["metadata"].get("shipping")  # ("" deletes it at Stripe; localstripe keeps it)
    order = firestore_db.collection(ORDERS).document(removed["paymentIntentId"]).get().to_dict()
    assert order is not None and order["shipping"] is None and order["amount"] == TEE


def test_shipping_is_free_from_free_above(checkout_api: FlaskClient, checkout_id: str) -> None:
    items = [{"productId": "tee-classic", "quantity": 4}]  # 10000: catalog.json's freeAbove
    free = answer(checkout_api, checkout_id, items=items, shipping=address_in("MX"))
    assert (free["amount"], free["shippingAmount"]) == (4 * TEE, 0)
    less = answer(checkout_api, checkout_id, items=[{"productId": "tee-classic", "quantity": 3}],
                  shipping=address_in("MX"))  # fmt: skip
    assert (less["amount"], less["shippingAmount"]) == (3 * TEE + 1500, 1500)


def without(key: str) -> dict[str, Any]:
    return {k: v for k, v in US_ADDRESS.items() if k != key}


def with_address(**fields: Any) -> dict[str, Any]:
    return {**US_ADDRESS, "address": {**US_ADDRESS["address"], **fields}}


@pytest.mark.parametrize(
    ("shipping", "field"),
    [
        ("1 Main St", "shipping"),
        ({**US_ADDRESS, "email": "a@example.com"}, "shipping.email"),
        (without("name"), "shipping.name"),
        ({**US_ADDRESS, "name": "   "}, "shipping.name"),
        ({**US_ADDRESS, "phone": 5555550100}, "shipping.phone"),
        (without("address"), "shipping.address"),
        (with_address(line1=""), "shipping.address.line1"),
        (with_address(line2="x" * 201), "shipping.address.line2"),
        (with_address(city="Spring\nfield"), "shipping.address.city"),
        (with_address(state="\u2028"), "shipping.address.state"),
        (with_address(postal_code=None), "shipping.address.postal_code"),
        (with_address(country="FR"), "shipping.address.country"),
        (with_address(country="us"), "shipping.address.country"),
    ],
)
def test_invalid_shipping_names_the_field_never_the_value(
    checkout_api: FlaskClient, checkout_id: str, shipping: Any, field: str
) -> None:
    response = post(checkout_api, checkout_id, shipping=shipping)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert (error["code"], error["field"]) == ("invalid_shipping", field)
    assert "Lovelace" not in error["message"] and "Main" not in error["message"]


# --- the review rules at success


def paid(stripe_client: stripe.StripeClient, pi_id: str, **confirm: Any) -> dict[str, Any]:
    """Confirm the PaymentIntent at localstripe with a card; the succeeded PaymentIntent."""
    stripe_client.v1.payment_intents.update(pi_id, params={"payment_method": "pm_card_visa"})
    stripe_client.v1.payment_intents.confirm(pi_id, params=confirm)  # type: ignore[arg-type]
    return payment_intents.retrieve_payment_intent(pi_id)


def order_after(
    deliver: Deliver, firestore_db: firestore.Client, intent: dict[str, Any]
) -> dict[str, Any]:
    deliver(se.event("payment_intent.succeeded", intent))
    order = firestore_db.collection(ORDERS).document(intent["id"]).get().to_dict()
    assert order is not None
    return order


def test_a_paid_order_with_its_address_is_paid_and_records_it(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    deliver: Deliver,
    checkout_id: str,
) -> None:
    opened = answer(checkout_api, checkout_id, shipping=US_ADDRESS)
    order = order_after(deliver, firestore_db, paid(stripe_client, opened["paymentIntentId"]))
    assert order["status"] == "paid"
    assert order["shipping"] == {"amount": 500, "country": "US", "address": US_ADDRESS}


def test_a_shippable_order_paid_without_an_address_needs_review(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    deliver: Deliver,
    checkout_id: str,
) -> None:
    opened = answer(checkout_api, checkout_id)  # the page bypassed: no address ever sent
    order = order_after(deliver, firestore_db, paid(stripe_client, opened["paymentIntentId"]))
    assert order["status"] == "needs_review"
    assert "no shipping address" in order["reviewReason"]
    assert order.get("fulfilledAt") is None


def test_a_payment_shipped_to_another_country_than_priced_needs_review(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    deliver: Deliver,
    checkout_id: str,
) -> None:
    opened = answer(checkout_api, checkout_id, shipping=US_ADDRESS)
    # The Address Element attaches its own address at confirmPayment: here, a Canadian one.
    intent = paid(stripe_client, opened["paymentIntentId"], shipping=address_in("CA"))
    assert intent["shipping"]["address"]["country"] == "CA"
    order = order_after(deliver, firestore_db, intent)
    assert order["status"] == "needs_review"
    assert order["reviewReason"] == "shipping was priced to US but the payment ships to CA"
