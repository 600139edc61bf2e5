"""Bad input, Stripe failures and missing settings: clear 4xx/5xx JSON, no Stripe call, no
secret."""

import json
import os
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import stripe
from flask.testing import FlaskClient
from google.cloud import firestore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkout.platform.collections import CHECKOUTS
from tests.integration.conftest import function_client
from tests.sample_catalog import sample_products

VALID_ITEMS = [{"productId": "tee-classic", "quantity": 1}]


def intent_count(client: stripe.StripeClient) -> int:
    return len(list(client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()))


def cart_body(items: list[Any], **extra: Any) -> dict[str, Any]:
    """Keyword arguments for the test client: a JSON cart with a fresh checkout."""
    return {"json": {"checkoutId": str(uuid.uuid4()), "items": items, **extra}}


def one_line(product_id: str = "tee-classic", quantity: Any = 1) -> list[dict[str, Any]]:
    return [{"productId": product_id, "quantity": quantity}]


BAD_REQUESTS: list[tuple[str, dict[str, Any], int, str]] = [
    ("not json", {"data": "{nope", "content_type": "application/json"}, 400, "invalid_json"),
    ("wrong type", {"data": "{}", "content_type": "text/plain"}, 415, "unsupported_media_type"),
    ("form body", {"data": {"checkoutId": "x"}}, 415, "unsupported_media_type"),
    ("over 16 KiB", cart_body(VALID_ITEMS, pad="x" * 17000), 413, "body_too_large"),
    ("no checkoutId", {"json": {"items": VALID_ITEMS}}, 400, "invalid_checkout_id"),
    (
        "bad checkoutId",
        {"json": {"checkoutId": "abc", "items": VALID_ITEMS}},
        400,
        "invalid_checkout_id",
    ),
    ("empty cart", cart_body([]), 400, "empty_cart"),
    ("too many lines", cart_body(VALID_ITEMS * 21), 400, "too_many_items"),
    ("unknown product", cart_body(one_line("ghost")), 400, "unknown_product"),
    ("quantity 0", cart_body(one_line(quantity=0)), 400, "invalid_quantity"),
    ("quantity 100", cart_body(one_line(quantity=100)), 400, "invalid_quantity"),
    ("quantity 1.5", cart_body(one_line(quantity=1.5)), 400, "invalid_quantity"),
]


@pytest.mark.parametrize(
    ("name", "request_kw", "status", "code"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS]
)
def test_bad_input_is_a_clear_4xx_and_makes_no_stripe_call(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    name: str,
    request_kw: dict[str, Any],
    status: int,
    code: str,
) -> None:
    before = intent_count(stripe_client)
    response = checkout_api.post("/api/payment-intents", **request_kw)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert response.get_json()["error"]["message"]
    assert intent_count(stripe_client) == before


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/api/payment-intents", "POST"),
        ("PUT", "/api/payment-intents", "POST"),
        ("DELETE", "/api/config", "GET"),
        ("POST", "/api/config", "GET"),
        ("POST", "/api/orders/pi_123", "GET"),
    ],
)
def test_wrong_method_is_405_with_allow(
    checkout_api: FlaskClient, method: str, path: str, allow: str
) -> None:
    response = checkout_api.open(path, method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_unknown_path_is_404_json(checkout_api: FlaskClient) -> None:
    response = checkout_api.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
    max_leaves=10,
)


# Ids that pass the checkoutId check (in either case) and ones that fail it.
valid_checkout_ids = st.uuids().map(str) | st.uuids().map(lambda u: str(u).upper())
checkout_ids = valid_checkout_ids | json_values
product_ids = st.sampled_from(sorted(sample_products()))
good_line = st.fixed_dictionaries({"productId": product_ids, "quantity": st.integers(1, 99)})
good_items = st.lists(good_line, min_size=1, max_size=4, unique_by=lambda line: line["productId"])
odd_line = (
    st.fixed_dictionaries(
        {
            "productId": product_ids | st.sampled_from(["ghost", ""]) | json_values,
            "quantity": st.integers(-2, 101) | st.floats() | json_values,
        }
    )
    | st.fixed_dictionaries({}, optional={"productId": product_ids, "quantity": json_values})
    | json_values
)
cart_items = good_items | st.lists(good_line | odd_line, max_size=22) | json_values
emails = st.emails() | st.text(max_size=30) | json_values


def cart_post(checkout_api: FlaskClient, body: dict[str, Any]) -> tuple[int, str]:
    """POST a JSON cart: (status, error code or "opened"), after the checks every answer passes."""
    response = checkout_api.post("/api/payment-intents", json=body)
    assert response.status_code < 500, response.get_data(as_text=True)
    answer = response.get_json()
    if response.status_code == 200:
        assert answer["clientSecret"].startswith(answer["paymentIntentId"])
        return 200, "opened"
    assert answer["error"]["message"]
    return response.status_code, answer["error"]["code"]


FUZZ = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.fixed_dictionaries(
        {"checkoutId": checkout_ids, "items": cart_items}, optional={"email": emails}
    ).map(lambda v: json.dumps(v).encode()),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/json; charset=utf-8"]
    ),
)
def test_fuzzed_bodies_never_yield_a_500(
    checkout_api: FlaskClient, body: bytes, content_type: str
) -> None:
    response = checkout_api.post("/api/payment-intents", data=body, content_type=content_type)
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.status_code == 200 or response.get_json()["error"]["code"]


@FUZZ
@given(
    st.fixed_dictionaries(
        {"checkoutId": valid_checkout_ids, "items": cart_items}, optional={"email": emails}
    )
)
def test_fuzzed_items_behind_a_valid_checkout_id_never_yield_a_500(
    checkout_api: FlaskClient, body: dict[str, Any]
) -> None:
    _, code = cart_post(checkout_api, body)
    assert code not in {"invalid_body", "invalid_checkout_id"}  # the items were read


@FUZZ
@given(
    st.fixed_dictionaries({"checkoutId": valid_checkout_ids, "items": good_items, "email": emails})
)
def test_fuzzed_emails_on_a_valid_cart_never_yield_a_500(
    checkout_api: FlaskClient, body: dict[str, Any]
) -> None:
    _, code = cart_post(checkout_api, body)
    assert code in {"opened", "invalid_email"}  # the id and items passed: the email was read


def test_stripe_invalid_request_is_a_4xx_with_stripes_message(
    checkout_api: FlaskClient, firestore_db: firestore.Client, stripe_client: stripe.StripeClient
) -> None:
    # The checkout points at a PaymentIntent Stripe does not know: retrieve fails with 404.
    checkout_id = str(uuid.uuid4())
    firestore_db.collection(CHECKOUTS).document(checkout_id).set(
        {"paymentIntentId": "pi_doesnotexist"}
    )
    response = checkout_api.post(
        "/api/payment-intents", json={"checkoutId": checkout_id, "items": VALID_ITEMS}
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "stripe_invalid_request"
    with pytest.raises(stripe.InvalidRequestError) as direct:
        stripe_client.v1.payment_intents.retrieve("pi_doesnotexist")
    assert error["message"] == direct.value.user_message  # Stripe's own words reach the caller


class _JsonServer(BaseHTTPRequestHandler):
    """A stand-in Stripe API on loopback, for failures localstripe cannot produce."""

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        pass


class _StripeDown(_JsonServer):
    """A Stripe API that is up but failing: every call is a 500, as during an incident."""

    requests_seen: list[dict[str, str]] = []  # noqa: RUF012 - shared on purpose, read by tests

    def do_POST(self) -> None:
        _StripeDown.requests_seen.append(dict(self.headers))
        self._send(500, {"error": {"type": "api_error", "message": "An unknown error occurred"}})

    do_GET = do_POST  # noqa: N815


@pytest.fixture
def failing_stripe(restore_env: None) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StripeDown)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _StripeDown.requests_seen.clear()
    os.environ["STRIPE_API_BASE"] = f"http://127.0.0.1:{server.server_port}"
    yield os.environ["STRIPE_API_BASE"]
    server.shutdown()


def test_stripe_5xx_is_a_502(checkout_api: FlaskClient, failing_stripe: str) -> None:
    checkout_id = str(uuid.uuid4())
    response = checkout_api.post(
        "/api/payment-intents", json={"checkoutId": checkout_id, "items": VALID_ITEMS}
    )
    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "stripe_unavailable"
    # Every attempt, retries included, carried the same idempotency key derived from the checkout.
    keys = {seen.get("Idempotency-Key") for seen in _StripeDown.requests_seen}
    assert len(keys) == 1
    assert next(iter(keys)).startswith(f"checkout-{checkout_id}-")  # type: ignore[union-attr]


def test_a_failed_create_releases_the_claim(
    checkout_api: FlaskClient, failing_stripe: str, firestore_db: firestore.Client
) -> None:
    checkout_id = str(uuid.uuid4())
    checkout_api.post(
        "/api/payment-intents", json={"checkoutId": checkout_id, "items": VALID_ITEMS}
    )
    # Released, and with no PaymentIntent recorded the record goes too: nothing is left behind.
    assert not firestore_db.collection(CHECKOUTS).document(checkout_id).get().exists


def test_stripe_unreachable_is_a_502(checkout_api: FlaskClient, restore_env: None) -> None:
    os.environ["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # discard port: nothing listens
    response = checkout_api.post(
        "/api/payment-intents", json={"checkoutId": str(uuid.uuid4()), "items": VALID_ITEMS}
    )
    assert response.status_code == 502
    assert response.get_json()["error"] == {
        "code": "stripe_unavailable",
        "message": "The payment provider is unavailable; try again.",
    }


def test_wrong_secret_key_is_reported_without_the_key(
    checkout_api: FlaskClient, restore_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    os.environ["STRIPE_SECRET_KEY"] = "sk_live_definitely_not_valid_here"
    os.environ["STRIPE_API_BASE"] = "http://127.0.0.1:9"
    response = checkout_api.post(
        "/api/payment-intents", json={"checkoutId": str(uuid.uuid4()), "items": VALID_ITEMS}
    )
    text = response.get_data(as_text=True)
    assert "sk_live" not in text and "Traceback" not in text
    captured = capsys.readouterr()
    assert "sk_live" not in captured.out + captured.err


@pytest.mark.parametrize(
    ("variable", "path", "method"),
    [
        ("STRIPE_SECRET_KEY", "/api/payment-intents", "POST"),
        ("STRIPE_PUBLISHABLE_KEY", "/api/config", "GET"),
    ],
)
def test_missing_setting_is_a_clear_error_and_a_log_line(
    checkout_api: FlaskClient,
    restore_env: None,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    path: str,
    method: str,
) -> None:
    del os.environ[variable]
    response = checkout_api.open(
        path, method=method, json={"checkoutId": str(uuid.uuid4()), "items": VALID_ITEMS}
    )
    assert response.status_code == 500
    assert response.get_json()["error"] == {
        "code": "server_misconfigured",
        "message": f"The server is missing {variable}.",
    }
    logs = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    assert {"severity": "ERROR", "message": "missing configuration", "setting": variable} in logs


def test_import_needs_no_settings(restore_env: None) -> None:
    for name in (
        "STRIPE_SECRET_KEY",
        "STRIPE_PUBLISHABLE_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "STRIPE_API_BASE",
    ):
        os.environ.pop(name, None)
    assert function_client("checkout_api").get("/api/config").status_code == 500


def test_no_secret_in_any_response(checkout_api: FlaskClient) -> None:
    secret = os.environ["STRIPE_SECRET_KEY"]
    checkout_id = str(uuid.uuid4())
    responses = [
        checkout_api.get("/api/config"),
        checkout_api.post(
            "/api/payment-intents", json={"checkoutId": checkout_id, "items": VALID_ITEMS}
        ),
        checkout_api.post("/api/payment-intents", data="{", content_type="application/json"),
        checkout_api.get("/api/orders/pi_unknown", headers={"X-Client-Secret": "x"}),
    ]
    for response in responses:
        assert secret not in response.get_data(as_text=True)
        assert "Traceback" not in response.get_data(as_text=True)


class _StripeRaceLost(_JsonServer):
    """A PaymentIntent that looks updatable when read, but is under way when updated."""

    def do_GET(self) -> None:
        self._send(
            200,
            {
                "id": "pi_race",
                "object": "payment_intent",
                "client_secret": "pi_race_secret_x",
                "amount": 999,
                "currency": "usd",
                "status": "requires_payment_method",
                "metadata": {"items": "mug-enamel:9"},
            },
        )

    def do_POST(self) -> None:
        self._send(
            400,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "payment_intent_unexpected_state",
                    "message": (
                        "This PaymentIntent's amount could not be updated because it has a "
                        "status of processing."
                    ),
                }
            },
        )


def test_an_update_that_loses_the_race_to_payment_is_409(
    checkout_api: FlaskClient, firestore_db: firestore.Client, restore_env: None
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StripeRaceLost)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["STRIPE_API_BASE"] = f"http://127.0.0.1:{server.server_port}"
    checkout_id = str(uuid.uuid4())
    firestore_db.collection(CHECKOUTS).document(checkout_id).set({"paymentIntentId": "pi_race"})
    try:
        response = checkout_api.post(
            "/api/payment-intents", json={"checkoutId": checkout_id, "items": VALID_ITEMS}
        )
    finally:
        server.shutdown()
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "checkout_locked"
