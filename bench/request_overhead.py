"""In-process cost of POST /api/payment-intents, split into our own time and Firestore's.

Stripe is stubbed at the SDK's HTTP-client layer (a canned PaymentIntent, no network), so the
request runs all of our code and the real Firestore calls against the emulator.
"""

import contextlib
import io
import itertools
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import stripe

from bench.timing import median, p99
from tests.shipping_address import US_ADDRESS

REQUESTS = 300
_ids = itertools.count()


def canned_stripe(self: Any, method: str, url: str, headers: Any, post_data: Any = None) -> Any:
    """A Stripe answer without Stripe: a new PaymentIntent for every create."""
    n = next(_ids)
    body = {
        "id": f"pi_bench{n:08d}",
        "object": "payment_intent",
        "client_secret": f"pi_bench{n:08d}_secret_canned",
        "amount": 2500,
        "currency": "usd",
        "status": "requires_payment_method",
        "metadata": {"items": "tee-classic:1"},
    }
    return json.dumps(body).encode(), 200, {"request-id": f"req_{n}"}


def add_time_to(totals: list[float], wrapped: Callable[..., Any]) -> Callable[..., Any]:
    """`wrapped`, adding the seconds each call takes to the last entry of `totals`."""

    def timer(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return wrapped(*args, **kwargs)
        finally:
            totals[-1] += time.perf_counter() - started

    return timer


def run() -> dict[str, float | int]:
    from functions_framework import create_app

    from checkout.orders import store as order_store
    from tests.conftest import FUNCTIONS_DIR

    real_request = stripe.RequestsClient.request
    real_store = {
        name: getattr(order_store, name)
        for name in (
            "claim_checkout",
            "save_pending_order",
            "checkout_snapshot",
            "read_checkout",
            "read_order",
        )
    }
    stripe.RequestsClient.request = canned_stripe  # type: ignore[method-assign]
    firestore_time: list[float] = [0.0]
    from checkout.platform import firestore_counters

    real_increment = firestore_counters.increment
    # Every Firestore call the request makes goes through these functions.
    for name, function in real_store.items():
        setattr(order_store, name, add_time_to(firestore_time, function))
    firestore_counters.increment = add_time_to(firestore_time, real_increment)
    try:
        client = create_app("checkout_api", str(FUNCTIONS_DIR / "main.py")).test_client()
        body = {"items": [{"productId": "tee-classic", "quantity": 1}], "shipping": US_ADDRESS}
        client.post("/api/payment-intents", json={"checkoutId": str(uuid.uuid4()), **body})  # warm

        totals: list[float] = []
        with contextlib.redirect_stdout(io.StringIO()):  # drop the INFO log line of each request
            for _ in range(REQUESTS):
                firestore_time.append(0.0)
                started = time.perf_counter()
                checkout = {"checkoutId": str(uuid.uuid4()), **body}
                response = client.post("/api/payment-intents", json=checkout)
                totals.append(time.perf_counter() - started)
                assert response.status_code == 200, response.get_data(as_text=True)
    finally:
        # The later benchmarks use the real functions and Stripe (localstripe).
        stripe.RequestsClient.request = real_request  # type: ignore[method-assign]
        for name, function in real_store.items():
            setattr(order_store, name, function)
        firestore_counters.increment = real_increment
    firestore = firestore_time[-REQUESTS:]
    own = [total - fs for total, fs in zip(totals, firestore, strict=True)]
    return {
        "requests": REQUESTS,
        "total_median": median(totals),
        "total_p99": p99(totals),
        "firestore_median": median(firestore),
        "firestore_p99": p99(firestore),
        "own_median": median(own),
        "own_p99": p99(own),
    }
