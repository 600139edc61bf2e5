"""The Stripe.js stand-in server: it acts only for the holder of the client secret, only for the
page's origin, and answers in Stripe.js's shapes."""

from typing import Any

import pytest
import requests

from tests.e2e.conftest import BASE_URL, STRIPE_API_BASE, STRIPE_SECRET_KEY, Checkout

CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


@pytest.fixture
def standin(stack: dict[str, Any]) -> str:
    return str(stack["standinOrigin"])


@pytest.fixture
def intent() -> dict[str, Any]:
    response = requests.post(
        f"{STRIPE_API_BASE}/v1/payment_intents",
        data={"amount": 500, "currency": "usd"},
        auth=(STRIPE_SECRET_KEY, ""),
        timeout=10,
    )
    response.raise_for_status()
    return dict(response.json())


def call(standin: str, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{standin}{path}", json=body, headers={"Origin": BASE_URL}, timeout=10)


def test_serves_the_script(standin: str) -> None:
    response = requests.get(f"{standin}/v3/", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert "confirmPayment" in response.text


def test_a_wrong_client_secret_is_refused_without_saying_whether_the_intent_exists(
    standin: str, stack: dict[str, Any], intent: dict[str, Any]
) -> None:
    key = stack["publishableKey"]
    wrong = call(
        standin,
        "/v1/confirm",
        {"key": key, "client_secret": f"{intent['id']}_secret_x", "card": CARD},
    )
    unknown = call(standin, "/v1/retrieve", {"key": key, "client_secret": "pi_unknown_secret_x"})
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json()
    status = requests.get(
        f"{STRIPE_API_BASE}/v1/payment_intents/{intent['id']}",
        auth=(STRIPE_SECRET_KEY, ""),
        timeout=10,
    )
    assert status.json()["status"] == "requires_payment_method", "nothing was confirmed"


def test_a_secret_key_is_not_a_publishable_key(standin: str, intent: dict[str, Any]) -> None:
    response = call(
        standin,
        "/v1/retrieve",
        {"key": STRIPE_SECRET_KEY, "client_secret": intent["client_secret"]},
    )
    assert response.status_code == 401


def test_answers_in_stripe_js_shapes_without_server_side_fields(
    standin: str, stack: dict[str, Any], intent: dict[str, Any]
) -> None:
    response = call(
        standin,
        "/v1/confirm",
        {"key": stack["publishableKey"], "client_secret": intent["client_secret"], "card": CARD},
    )
    assert response.status_code == 200
    paid = response.json()["paymentIntent"]
    assert paid["status"] == "succeeded"
    assert paid["client_secret"] == intent["client_secret"]
    assert not {"charges", "metadata", "customer", "latest_charge"} & paid.keys()


def test_cors_only_for_the_page_origin(standin: str) -> None:
    allowed = requests.options(f"{standin}/v1/confirm", headers={"Origin": BASE_URL}, timeout=10)
    other = requests.options(
        f"{standin}/v1/confirm", headers={"Origin": "https://evil.example"}, timeout=10
    )
    assert allowed.headers.get("Access-Control-Allow-Origin") == BASE_URL
    assert "Access-Control-Allow-Origin" not in other.headers


def test_the_address_element_mounts_in_stripes_shape_and_ships_with_the_confirm(
    checkout: Checkout, stack: dict[str, Any], intent: dict[str, Any]
) -> None:
    checkout.open()
    page = checkout.page
    # The page's own elements go; this test's Elements group takes their place.
    page.evaluate(
        """([key, secret]) => {
            document.body.replaceChildren();
            for (const id of ['test-address', 'test-payment']) {
                const box = document.createElement('div'); box.id = id; document.body.append(box);
            }
            const stripe = Stripe(key);
            const elements = stripe.elements({ clientSecret: secret });
            const address = elements.create('address', { mode: 'shipping',
                                                         allowedCountries: ['US', 'CA'] });
            window.addressChanges = [];
            address.on('change', (event) => window.addressChanges.push(event));
            address.mount('#test-address');
            elements.create('payment').mount('#test-payment');
            window.standinTest = { stripe, elements, address };
        }""",
        [stack["publishableKey"], intent["client_secret"]],
    )
    page.fill("#standin-address-name", "Ada Lovelace")
    page.select_option("#standin-address-country", "CA")
    page.fill("#standin-address-line1", "1 King St W")
    page.fill("#standin-address-city", "Toronto")
    page.fill("#standin-address-state", "ON")
    incomplete = page.evaluate("window.standinTest.address.getValue()")
    assert incomplete["complete"] is False
    page.fill("#standin-address-postal-code", "M5H 1A1")
    expected = {
        "name": "Ada Lovelace",
        "address": {"line1": "1 King St W", "line2": None, "city": "Toronto", "state": "ON",
                    "postal_code": "M5H 1A1", "country": "CA"},
    }  # fmt: skip
    last = page.evaluate("window.addressChanges[window.addressChanges.length - 1]")
    assert (last["elementType"], last["elementMode"], last["complete"]) == (
        "address",
        "shipping",
        True,
    )
    assert last["value"] == expected
    assert page.evaluate("window.standinTest.address.getValue()") == {
        "complete": True,
        "isNewAddress": True,
        "value": expected,
    }
    page.fill("#standin-card-number", "4242424242424242")
    page.fill("#standin-card-expiry", "12 / 34")
    page.fill("#standin-card-cvc", "123")
    result = page.evaluate(
        """() => window.standinTest.stripe.confirmPayment(
            { elements: window.standinTest.elements, redirect: 'if_required' })"""
    )
    assert result["paymentIntent"]["status"] == "succeeded"
    at_stripe = requests.get(
        f"{STRIPE_API_BASE}/v1/payment_intents/{intent['id']}",
        auth=(STRIPE_SECRET_KEY, ""),
        timeout=10,
    ).json()
    assert at_stripe["shipping"] == {
        **expected,
        "phone": None,
        "carrier": None,
        "tracking_number": None,
    }
