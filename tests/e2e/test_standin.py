"""The Stripe.js stand-in server: it acts only for the holder of the client secret, only for the
page's origin, and answers in Stripe.js's shapes."""

from typing import Any

import pytest
import requests

from tests.e2e.conftest import BASE_URL, STRIPE_API_BASE, STRIPE_SECRET_KEY

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
