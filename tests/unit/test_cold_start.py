"""Cold start: each function loads only its own code, and clients are created once."""

import json
import os
import subprocess
import sys

import pytest

from checkout.intents import stripe_gateway
from tests.conftest import FUNCTIONS_DIR

# Run in a fresh interpreter: this test process has long since imported everything.
PROBE = """
import json, sys
import main
before = set(sys.modules)
{call}
print(json.dumps(sorted(m for m in set(sys.modules) - before if m.startswith("checkout"))))
"""


def modules_loaded_by(call: str) -> set[str]:
    env = {**os.environ, "STRIPE_PUBLISHABLE_KEY": "pk_test_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(call=call)],
        cwd=FUNCTIONS_DIR, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return set(loaded)


def test_importing_main_loads_no_handler_code() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import sys, main; print(sorted(m for m in sys.modules if m.startswith('checkout')))"],
        cwd=FUNCTIONS_DIR, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "checkout.intents" not in result.stdout
    assert "webhook" not in result.stdout


def test_checkout_api_does_not_load_webhook_code() -> None:
    loaded = modules_loaded_by(
        "from flask import Flask\n"
        "with Flask('t').test_request_context('/api/config'):\n"
        "    from flask import request; main.checkout_api(request)"
    )
    assert "checkout.intents.routes" in loaded
    assert not {m for m in loaded if "webhook" in m}


def test_stripe_webhook_does_not_load_checkout_routes() -> None:
    loaded = modules_loaded_by(
        "from flask import Flask\n"
        "with Flask('t').test_request_context('/api/stripe-webhook', method='POST', data=b'{}'):\n"
        "    from flask import request; main.stripe_webhook(request)"
    )
    assert "checkout.webhooks.route" in loaded
    assert (
        not {
            "checkout.intents.routes",
            "checkout.intents.opening",
            "checkout.intents.stripe_gateway",
        }
        & loaded
    )


def test_stripe_client_is_created_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_once")
    monkeypatch.delenv("STRIPE_API_BASE", raising=False)
    assert stripe_gateway.client() is stripe_gateway.client()


def test_a_rotated_key_gets_its_own_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_old")
    old = stripe_gateway.client()
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_new")
    assert stripe_gateway.client() is not old


def test_firestore_client_is_created_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from checkout.platform.firestore_client import db

    # Creating the client opens no connection, so no emulator is needed here.
    monkeypatch.setenv(
        "FIRESTORE_EMULATOR_HOST", os.environ.get("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
    )
    monkeypatch.setenv("GCLOUD_PROJECT", "demo-checkout")
    assert db() is db()


def test_neither_http_function_loads_the_reconciler() -> None:
    config = modules_loaded_by(
        "from flask import Flask\n"
        "with Flask('t').test_request_context('/api/config'):\n"
        "    from flask import request; main.checkout_api(request)"
    )
    poll = modules_loaded_by(
        "from flask import Flask\n"
        "with Flask('t').test_request_context('/api/orders/pi_x', headers={'X-Client-Secret': 's'}):\n"
        "    from flask import request; main.checkout_api(request)"
    )
    webhook = modules_loaded_by(
        "from flask import Flask\n"
        "with Flask('t').test_request_context('/api/stripe-webhook', method='POST', data=b'{}'):\n"
        "    from flask import request; main.stripe_webhook(request)"
    )
    for loaded in (config, poll, webhook):
        assert not {m for m in loaded if m.startswith("checkout.reconcile")}
    # A poll loads the Stripe check only when one is due, never on the way in.
    assert "checkout.orders.return_check" in poll
    assert "checkout.orders.stripe_sync" not in poll


def test_importing_main_does_not_load_the_reconciler() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import sys, main; print(sorted(m for m in sys.modules if m.startswith('checkout')))"],
        cwd=FUNCTIONS_DIR, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "checkout.reconcile" not in result.stdout
