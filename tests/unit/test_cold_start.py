"""Cold start: each function loads only its own code, and clients are created once."""

import json
import os
import subprocess
import sys
from functools import cache

import pytest

from checkout.stripe_api import connection
from tests.conftest import FUNCTIONS_DIR, ROOT

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


@cache
def checkout_modules_after_importing_main() -> str:
    """The checkout modules a fresh interpreter has loaded once it imported main, as printed."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, main; print(sorted(m for m in sys.modules if m.startswith('checkout')))",
        ],
        cwd=FUNCTIONS_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_importing_main_loads_no_handler_code() -> None:
    assert "checkout.intents" not in checkout_modules_after_importing_main()
    assert "webhook" not in checkout_modules_after_importing_main()


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
            "checkout.stripe_api.payment_intents",
        }
        & loaded
    )


def test_stripe_client_is_created_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_once")
    monkeypatch.delenv("STRIPE_API_BASE", raising=False)
    assert connection.client() is connection.client()


def test_a_rotated_key_gets_its_own_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_old")
    old = connection.client()
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_new")
    assert connection.client() is not old


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
        "with Flask('t').test_request_context("
        "'/api/orders/pi_x', headers={'X-Client-Secret': 's'}):\n"
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
    assert "checkout.intents.return_check" in poll
    assert "checkout.stripe_events.observations" not in poll


def test_importing_main_does_not_load_the_reconciler() -> None:
    assert "checkout.reconcile" not in checkout_modules_after_importing_main()


# The page's first request. It needs the live catalog (Firestore) and the publishable key,
# nothing else: Stripe's library, the checkout's core and AES-GCM wait for the first POST.
NOT_FOR_GET_CONFIG = (
    "stripe",
    "cryptography.hazmat.primitives.ciphers.aead",
    "checkout.intents.opening",
    "checkout.intents.rate_limits",
    "checkout.stripe_api.payment_intents",
    "checkout.orders",
)


# No server in unit tests: the catalog's first read goes to a port where nothing listens, and is
# answered 503 after its retries (about 5 s), having loaded what a read loads.
NO_FIRESTORE = {"FIRESTORE_EMULATOR_HOST": "127.0.0.1:9", "GCLOUD_PROJECT": "demo-checkout"}


def test_the_first_get_config_reads_the_live_catalog_but_loads_no_stripe() -> None:
    loaded = first_config_loads()[str(FUNCTIONS_DIR / "main.py")]
    assert {"checkout.products.live_catalog", "google.cloud.firestore"} <= loaded
    needless = sorted(m for m in loaded if m.startswith(NOT_FOR_GET_CONFIG))
    assert not needless, f"GET /api/config loads {needless[:10]}"


# What bench/cold_start.py does, in process: the function's first GET /api/config through
# functions-framework, then every module that is neither the standard library's nor our own.
FIRST_CONFIG_THIRD_PARTY = """
import json, sys
import functions_framework
app = functions_framework.create_app(sys.argv[1], sys.argv[2])
# 503: the read found no Firestore (NO_FIRESTORE), after making its request.
assert app.test_client().get("/api/config").status_code == 503
print(json.dumps(sorted(sys.modules)))
"""
SOURCES = (str(FUNCTIONS_DIR / "main.py"), str(ROOT / "bench" / "baseline_functions.py"))


@cache
def first_config_loads() -> dict[str, set[str]]:
    """Every module loaded by the first GET /api/config, for ours and for the baseline: both
    run at once (each waits out its read's retries)."""
    env = {**os.environ, "STRIPE_PUBLISHABLE_KEY": "pk_test_x", **NO_FIRESTORE}
    runs = {
        source: subprocess.Popen(
            [sys.executable, "-c", FIRST_CONFIG_THIRD_PARTY, "checkout_api", source],
            cwd=FUNCTIONS_DIR,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for source in SOURCES
    }
    loaded = {}
    for source, run in runs.items():
        out, _ = run.communicate(timeout=120)
        assert run.returncode == 0, f"the first GET /api/config of {source} failed"
        loaded[source] = set(json.loads(out.strip().splitlines()[-1]))
    return loaded


def third_party_loaded_by_first_config(source: str) -> set[str]:
    ours = ("checkout", "main", "baseline_functions")
    return {
        m
        for m in first_config_loads()[source]
        if m.split(".")[0] not in sys.stdlib_module_names and not m.startswith(ours)
    }


def test_the_cold_start_baseline_loads_what_our_first_get_config_loads() -> None:
    """bench/baseline_functions.py is the floor `make bench` compares checkout_api with: it
    must load the same third-party modules, so that the ratio measures our own code only."""
    ours = third_party_loaded_by_first_config(SOURCES[0])
    baseline = third_party_loaded_by_first_config(SOURCES[1])
    assert sorted(ours - baseline) == [], "ours loads more: add it to the baseline"
    assert sorted(baseline - ours) == [], "the baseline loads more than checkout_api needs"
