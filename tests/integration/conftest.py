"""Fixtures for tests against the real local servers: the Firestore emulator and localstripe.

`make test` (dev/stack.py) starts both and sets FIRESTORE_EMULATOR_HOST, STRIPE_API_BASE and the
offline STRIPE_* settings; running pytest any other way fails here with that advice.
"""

import copy
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import stripe
from flask.testing import FlaskClient
from functions_framework import create_app
from google.cloud import firestore

from checkout.intents import rate_limits
from checkout.orders import fulfilment
from checkout.platform.firestore_client import db
from checkout.products import live_catalog
from checkout.reconcile import catch_up
from checkout.shipping import live_rates
from checkout.stripe_api import payment_intents
from tests.conftest import FUNCTIONS_DIR
from tests.sample_catalog import import_sample_catalog as import_into
from tests.stripe_signing import body, sign

# A signed event posted to the webhook function -> its 200 answer's JSON body.
Deliver = Callable[[dict[str, Any]], Any]

REQUIRED_ENV = ("FIRESTORE_EMULATOR_HOST", "STRIPE_API_BASE", "STRIPE_SECRET_KEY", "GCLOUD_PROJECT")


@pytest.fixture(scope="session", autouse=True)
def local_servers() -> None:
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not set: run integration tests through `make test` "
            "(or `functions/venv/bin/python dev/stack.py test -- "
            "functions/venv/bin/python -m pytest ...`).",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def empty_firestore() -> None:
    """Every test starts with an empty database."""
    host, project = os.environ["FIRESTORE_EMULATOR_HOST"], os.environ["GCLOUD_PROJECT"]
    url = f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents"
    requests.delete(url, timeout=10).raise_for_status()
    # What this process remembers of spent budget shards described the database just emptied.
    rate_limits.shop_budget.forget()


def import_sample_catalog() -> None:
    """catalog.json becomes the catalog, as `python -m checkout.catalog import` makes it, and
    this process's instance cache forgets what it read: the next request reads it."""
    import_into(db())
    live_catalog.shop_catalog.clear()
    live_rates.shipping_rates.clear()


@pytest.fixture(autouse=True)
def sample_catalog(request: pytest.FixtureRequest, empty_firestore: None) -> None:
    """The shop sells catalog.json's products (the stacks import it too), unless the test is
    marked `without_sample_catalog`; either way the instance cache starts empty."""
    if request.node.get_closest_marker("without_sample_catalog"):
        live_catalog.shop_catalog.clear()
        live_rates.shipping_rates.clear()
        return
    import_sample_catalog()


@pytest.fixture
def firestore_db() -> firestore.Client:
    return db()


@pytest.fixture
def fresh_cursor(firestore_db: firestore.Client) -> int:
    """Start the events catch-up at the next second: this test's events, none of the earlier."""
    second = int(time.time()) + 1
    catch_up.store_cursor(firestore_db, second)
    time.sleep(max(0.0, second - time.time()))
    return second


def function_client(target: str) -> FlaskClient:
    client: FlaskClient = create_app(target, str(FUNCTIONS_DIR / "main.py")).test_client()
    return client


@pytest.fixture(scope="session")
def stripe_webhook() -> FlaskClient:
    """The webhook function, in-process, exactly as functions-framework serves it."""
    return function_client("stripe_webhook")


@pytest.fixture
def deliver(stripe_webhook: FlaskClient) -> Deliver:
    """Sign `event` and POST it to the webhook function, as Stripe does; the 200 answer's body."""
    return lambda event: deliver_to(stripe_webhook, event)


def deliver_to(client: FlaskClient, event: dict[str, Any]) -> Any:
    """Sign `event` and POST it to the webhook function `client`; the 200 answer's body."""
    secret = os.environ["STRIPE_WEBHOOK_SECRET"].split(",")[0]
    payload = body(event)
    response = client.post(
        "/api/stripe-webhook",
        data=payload,
        headers={"Stripe-Signature": sign(payload, secret), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


@pytest.fixture
def stripe_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """PaymentIntents retrieved from Stripe (really retrieved, and counted)."""
    calls: list[str] = []
    real = payment_intents.retrieve_payment_intent

    def counting(pi_id: str) -> dict[str, Any]:
        calls.append(pi_id)
        return real(pi_id)

    monkeypatch.setattr(payment_intents, "retrieve_payment_intent", counting)
    return calls


class Fulfilled(list[str]):
    """The ids of the orders passed to fulfil(), in call order (so `fulfilled == [pi_id]`), and
    in `orders` each whole order as fulfil() received it (a copy)."""

    def __init__(self) -> None:
        super().__init__()
        self.orders: list[dict[str, Any]] = []

    def order(self, order_id: str) -> dict[str, Any]:
        """The order fulfil() received for `order_id`, which it must have received once."""
        (received,) = [o for o in self.orders if o.get("paymentIntentId") == order_id]
        return received


# Written by the commit (server timestamps, absent from the order fulfil() gets) or after it.
_WRITTEN_AROUND_FULFILMENT = frozenset({"createdAt", "updatedAt", "fulfilledAt"})


def assert_fulfilled_as_stored(received: dict[str, Any], stored: dict[str, Any]) -> None:
    """fulfil() got the order as the commit that made it paid left it, not an older copy."""
    assert {k: v for k, v in received.items() if k not in _WRITTEN_AROUND_FULFILMENT} == {
        k: v for k, v in stored.items() if k not in _WRITTEN_AROUND_FULFILMENT
    }


@pytest.fixture
def fulfilled(monkeypatch: pytest.MonkeyPatch) -> Iterator[Fulfilled]:
    """Orders passed to fulfil(), which still does its real work. Only a paid order is ever
    fulfilled (docs/architecture.md, Fulfilment), whichever path hands it over: checked after
    every test."""
    calls = Fulfilled()
    lock = threading.Lock()
    real = fulfilment.fulfil

    def recording(order: dict[str, Any]) -> None:
        with lock:
            calls.append(order["paymentIntentId"])
            calls.orders.append(copy.deepcopy(order))
        real(order)

    monkeypatch.setattr(fulfilment, "fulfil", recording)
    yield calls
    handed_unpaid = [(o["paymentIntentId"], o.get("status")) for o in calls.orders]
    assert [h for h in handed_unpaid if h[1] != "paid"] == [], "fulfil() got an unpaid order"


@pytest.fixture(scope="session")
def checkout_api() -> FlaskClient:
    """The checkout function, in-process, exactly as functions-framework serves it."""
    return function_client("checkout_api")


@pytest.fixture(scope="session")
def stripe_client() -> stripe.StripeClient:
    """A direct client to localstripe, to check and drive what the function did there."""
    return stripe.StripeClient(
        os.environ["STRIPE_SECRET_KEY"], base_addresses={"api": os.environ["STRIPE_API_BASE"]}
    )


def intents_for_checkout(client: stripe.StripeClient, checkout_id: str) -> list[Any]:
    listed = client.v1.payment_intents.list(params={"limit": 100})
    return [
        pi
        for pi in listed.auto_paging_iter()
        if pi.metadata.to_dict().get("checkoutId") == checkout_id
    ]


@pytest.fixture
def restore_env() -> Iterator[None]:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
