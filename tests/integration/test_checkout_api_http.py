"""The checkout function as a browser and an operator see it: order polling, CORS, logs, serving."""

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
import requests
from flask.testing import FlaskClient
from google.cloud import firestore

from checkout.orders.order_number import order_number
from checkout.platform.collections import ORDERS
from dev.stack import free_port
from tests.conftest import FUNCTIONS_DIR, ROOT

CART = {"items": [{"productId": "mug-enamel", "quantity": 2}]}


def new_intent(client: FlaskClient) -> dict[str, str]:
    response = client.post("/api/payment-intents", json={"checkoutId": str(uuid.uuid4()), **CART})
    assert response.status_code == 200, response.get_json()
    body: dict[str, str] = response.get_json()
    return body


def test_order_status_for_the_holder_of_the_client_secret(checkout_api: FlaskClient) -> None:
    intent = new_intent(checkout_api)
    response = checkout_api.get(
        f"/api/orders/{intent['paymentIntentId']}",
        headers={"X-Client-Secret": intent["clientSecret"]},
    )
    assert response.status_code == 200
    assert response.get_json() == {
        "paymentIntentId": intent["paymentIntentId"],
        "orderNumber": order_number(intent["paymentIntentId"]),
        "status": "pending",
        "amount": intent["amount"],
        "currency": "usd",
        "lastPaymentError": None,
        "declineCount": 0,
        "refundedAmount": 0,
        "dispute": None,
        "soldOut": False,
    }
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("secret", [None, "", "pi_x_secret_wrong"])
def test_order_status_is_404_without_the_right_secret(
    checkout_api: FlaskClient, secret: str | None
) -> None:
    intent = new_intent(checkout_api)
    headers = {} if secret is None else {"X-Client-Secret": secret}
    response = checkout_api.get(f"/api/orders/{intent['paymentIntentId']}", headers=headers)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "order_not_found"


def test_an_order_without_a_secret_hash_is_404_not_500(
    checkout_api: FlaskClient, firestore_db: firestore.Client
) -> None:
    # As the webhook writes an order for a payment made outside the page.
    firestore_db.collection(ORDERS).document("pi_outside").set(
        {"status": "paid", "amount": 500, "currency": "usd", "clientSecretHash": None}
    )
    response = checkout_api.get("/api/orders/pi_outside", headers={"X-Client-Secret": "guess"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "path", ["/api/orders/not-an-intent", "/api/orders/pi_a/b", "/api/orders/"]
)
def test_malformed_order_ids_are_404(checkout_api: FlaskClient, path: str) -> None:
    assert checkout_api.get(path, headers={"X-Client-Secret": "x"}).status_code == 404


def test_cors_preflight_for_an_allowlisted_origin(
    checkout_api: FlaskClient, restore_env: None
) -> None:
    os.environ["CORS_ALLOWED_ORIGINS"] = "https://shop.example"
    preflight = checkout_api.options(
        "/api/payment-intents",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]

    response = checkout_api.get("/api/config", headers={"Origin": "https://shop.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"


def test_cors_refuses_other_origins(checkout_api: FlaskClient, restore_env: None) -> None:
    os.environ["CORS_ALLOWED_ORIGINS"] = "https://shop.example"
    preflight = checkout_api.options(
        "/api/payment-intents",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 403
    assert "Access-Control-Allow-Origin" not in preflight.headers
    response = checkout_api.get("/api/config", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_logs_carry_the_trace_and_ids_but_no_checkout_id_secret_or_email(
    checkout_api: FlaskClient, capsys: pytest.CaptureFixture[str]
) -> None:
    checkout_id = str(uuid.uuid4())
    body = {"checkoutId": checkout_id, "email": "ada@example.com", **CART}
    headers = {"X-Cloud-Trace-Context": f"{TRACE_ID}/1;o=1"}
    response = checkout_api.post("/api/payment-intents", json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    intent = response.get_json()
    # A repeat, and a changed cart: more log lines about the same checkout.
    checkout_api.post("/api/payment-intents", json=body, headers=headers)
    changed = {**body, "items": [{"productId": "mug-enamel", "quantity": 3}]}
    assert checkout_api.post("/api/payment-intents", json=changed).status_code == 200
    captured = capsys.readouterr()
    entries = [json.loads(line) for line in captured.out.splitlines() if line.startswith("{")]
    created = [e for e in entries if e.get("paymentIntentId") == intent["paymentIntentId"]]
    assert created, entries
    assert created[0]["severity"] == "INFO"
    assert created[0]["message"] == "payment intent created"
    assert created[0]["logging.googleapis.com/trace"] == (
        f"projects/{os.environ['GCLOUD_PROJECT']}/traces/{TRACE_ID}"
    )
    assert created[0]["orderId"] == intent["paymentIntentId"]
    updated = [e for e in entries if e["message"] == "payment intent cart updated"]
    # The same checkout is recognisable across lines by its keyed hash, never by its id.
    assert updated and updated[0]["checkout"] == created[0]["checkout"]
    assert len(created[0]["checkout"]) == 12
    everything = captured.out + captured.err
    for secret in (checkout_id, intent["clientSecret"], "ada@example.com"):
        assert secret not in everything
    assert checkout_id.replace("-", "") not in everything
    assert os.environ["STRIPE_SECRET_KEY"] not in everything


@pytest.fixture
def served_checkout_api() -> Iterator[str]:
    """The function under plain functions-framework, as `gcloud functions deploy --gen2` runs it."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "functions_framework",
            "--target", "checkout_api", "--source", str(FUNCTIONS_DIR / "main.py"),
            "--port", str(port), "--host", "127.0.0.1",
        ],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                requests.get(f"{base}/api/config", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(10)


def test_runs_under_plain_functions_framework(served_checkout_api: str) -> None:
    config = requests.get(f"{served_checkout_api}/api/config", timeout=10)
    assert config.status_code == 200
    assert config.json()["publishableKey"].startswith("pk_")
    created = requests.post(
        f"{served_checkout_api}/api/payment-intents",
        json={"checkoutId": str(uuid.uuid4()), **CART},
        timeout=30,
    )
    assert created.status_code == 200, created.text
    assert created.json()["amount"] == 2 * 1400
