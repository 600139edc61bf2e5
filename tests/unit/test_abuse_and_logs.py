"""Issue 10's pure parts: the trusted IP hop, trace fields and the log context, pseudonyms,
strict emails, the limiter's windows, the sealed client secret, the attempt cap (and which
application of a decline cancels at it), the Stripe deadline and the functions' ceilings."""

import json
import subprocess
import sys
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from checkout.cart.validation import MAX_EMAIL_LENGTH, parse_cart_request
from checkout.intents.rate_limits import RequestCounter, window
from checkout.orders import sealed_secret
from checkout.orders.attempts import MAX_DECLINED_ATTEMPTS, attempts_exhausted, should_cancel
from checkout.platform import structured_log
from checkout.platform.client_ip import client_ip
from checkout.platform.deadline import request_deadline
from checkout.platform.errors import ApiError
from checkout.stripe_api import connection, payment_intents
from checkout.stripe_events.attempt_cap import recorded_capping_decline
from checkout.stripe_events.ledger import Applied
from checkout.stripe_events.plan import Outcome, plan
from tests import stripe_events as se
from tests.conftest import FUNCTIONS_DIR

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

# --- the client IP: only what Google's front end appended counts


@pytest.mark.parametrize(
    ("forwarded_for", "remote", "hop", "expected"),
    [
        ("203.0.113.7, 35.191.0.1", "169.254.1.1", 2, "203.0.113.7"),
        # Whatever the client sent stays on the left; Google appends after it.
        ("6.6.6.6, 203.0.113.7, 35.191.0.1", "169.254.1.1", 2, "203.0.113.7"),
        ("1.1.1.1,2.2.2.2 , 203.0.113.7,35.191.0.1", "169.254.1.1", 2, "203.0.113.7"),
        # Fewer proxies than configured (emulator, local run): the leftmost, written by a proxy.
        ("127.0.0.1", "127.0.0.1", 2, "127.0.0.1"),
        (None, "192.0.2.5", 2, "192.0.2.5"),
        # 0: no proxy in front; the header is the client's own and ignored.
        ("6.6.6.6", "192.0.2.5", 0, "192.0.2.5"),
        # An unparseable hop falls back to the peer address.
        ("junk, 35.191.0.1", "192.0.2.5", 2, "192.0.2.5"),
        # IPv6 grouped by /64; IPv4-mapped addresses are IPv4.
        ("2001:db8:1:2:aaaa::1, 35.191.0.1", None, 2, "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9, 35.191.0.1", None, 2, "203.0.113.9"),
    ],
)
def test_client_ip(forwarded_for: str | None, remote: str | None, hop: int, expected: str) -> None:
    assert client_ip(forwarded_for, remote, hop) == expected


# --- trace fields and the per-request log context

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_trace_from_cloud_trace_context() -> None:
    fields = structured_log.trace_fields(f"{TRACE}/12345;o=1", None, "shop")
    assert fields[structured_log.TRACE_FIELD] == f"projects/shop/traces/{TRACE}"
    assert fields[structured_log.SPAN_FIELD] == f"{12345:016x}"


def test_trace_from_traceparent() -> None:
    fields = structured_log.trace_fields(None, f"00-{TRACE}-00f067aa0ba902b7-01", "shop")
    assert fields == {
        structured_log.TRACE_FIELD: f"projects/shop/traces/{TRACE}",
        structured_log.SPAN_FIELD: "00f067aa0ba902b7",
    }


@pytest.mark.parametrize("header", ["", "nope", "0" * 32, f"{TRACE}x", f"{TRACE}/abc"])
def test_malformed_trace_headers_are_ignored(header: str) -> None:
    assert structured_log.trace_fields(header, header, "shop") == {}


def test_entries_carry_the_request_context_and_nothing_after_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with structured_log.request_context(**{structured_log.TRACE_FIELD: "projects/p/traces/t"}):
        structured_log.bind(orderId="pi_1")
        structured_log.info("inside", eventId="evt_1")
    structured_log.info("outside")
    inside, outside = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert inside == {
        "severity": "INFO",
        "message": "inside",
        structured_log.TRACE_FIELD: "projects/p/traces/t",
        "orderId": "pi_1",
        "eventId": "evt_1",
    }
    assert outside == {"severity": "INFO", "message": "outside"}


def test_concurrent_requests_keep_their_own_context(capsys: pytest.CaptureFixture[str]) -> None:
    ready = threading.Barrier(2)

    def serve(order_id: str) -> None:
        with structured_log.request_context(trace=order_id):
            structured_log.bind(orderId=order_id)
            ready.wait()
            structured_log.info("serving")

    threads = [threading.Thread(target=serve, args=(f"pi_{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted((e["trace"], e["orderId"]) for e in entries) == [
        ("pi_0", "pi_0"),
        ("pi_1", "pi_1"),
    ]


def test_pseudonyms_are_short_stable_and_keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    checkout_id = "0b8a5f2e-9f35-4a53-8d53-2f3c4d1e7a10"
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_one")
    structured_log._pseudonym_key.cache_clear()
    first = structured_log.pseudonym(checkout_id)
    assert first == structured_log.pseudonym(checkout_id)
    assert len(first) == 12 and first not in checkout_id
    assert structured_log.pseudonym("another") != first
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_two")
    structured_log._pseudonym_key.cache_clear()
    assert structured_log.pseudonym(checkout_id) != first  # keyed: not a plain hash
    structured_log._pseudonym_key.cache_clear()


# --- strict email

CART = [{"productId": "tee-classic", "quantity": 1}]
CHECKOUT_ID = "0b8a5f2e-9f35-4a53-8d53-2f3c4d1e7a10"


@pytest.mark.parametrize(
    "email",
    [
        "ada@example.com\n",
        "ada@example.com\r\n",
        "\nada@example.com",
        "ada@exa\x00mple.com",
        "ada@example.com\x7f",
        "ada\u200b@example.com",  # zero-width space
        "ada@example.com\u202e",  # right-to-left override
        "ada @example.com",
        "ada@example.com ",
        "ada@\u00a0example.com",
        "ada\t@example.com",
        "ada@@example.com",
        "ada@example",
        "a" * (MAX_EMAIL_LENGTH - len("@example.com") + 1) + "@example.com",
        42,
    ],
)
def test_email_must_match_in_full_without_controls_or_whitespace(email: object) -> None:
    with pytest.raises(ApiError) as refused:
        parse_cart_request({"checkoutId": CHECKOUT_ID, "items": CART, "email": email})
    assert (refused.value.status, refused.value.code) == (400, "invalid_email")


@pytest.mark.parametrize(
    "email",
    [
        "ada@example.com",
        "o'brien+shop@mail.example.co.uk",
        "ünïcødé@exämple.de",
        "a" * (MAX_EMAIL_LENGTH - len("@example.com")) + "@example.com",
    ],
)
def test_ordinary_emails_are_accepted(email: str) -> None:
    assert parse_cart_request({"checkoutId": CHECKOUT_ID, "items": CART, "email": email}).email == (
        email
    )


# --- the limiter's windows


def test_fixed_windows() -> None:
    assert window(1_000_000.0, 600) == (999_600, 200)
    assert window(999_600.0, 600) == (999_600, 600)


def test_request_counter_counts_per_key_and_forgets_old_windows() -> None:
    counter = RequestCounter(60)
    assert [counter.hit("a", 120.0)[0] for _ in range(3)] == [1, 2, 3]
    assert counter.hit("b", 121.0) == (1, 59)
    assert counter.hit("a", 180.0) == (1, 60)  # a new minute


# --- the sealed client secret


def test_sealed_secret_opens_only_for_its_record_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_seal")
    sealed = sealed_secret.seal("pi_1_secret_abc", "checkout-1", "pi_1")
    assert "pi_1_secret_abc" not in sealed and "abc" not in sealed
    assert sealed_secret.unseal(sealed, "checkout-1", "pi_1") == "pi_1_secret_abc"
    assert sealed_secret.unseal(sealed, "checkout-2", "pi_1") is None
    assert sealed_secret.unseal(sealed, "checkout-1", "pi_2") is None
    assert sealed_secret.unseal(sealed[:-4] + "AAAA", "checkout-1", "pi_1") is None
    assert sealed_secret.unseal(None, "checkout-1", "pi_1") is None
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_rotated")
    assert sealed_secret.unseal(sealed, "checkout-1", "pi_1") is None


# --- the attempt cap


def test_attempt_cap() -> None:
    assert not attempts_exhausted({"declineCount": MAX_DECLINED_ATTEMPTS - 1})
    assert attempts_exhausted({"declineCount": MAX_DECLINED_ATTEMPTS})
    assert not attempts_exhausted({"declineCount": True}) and not attempts_exhausted(None)
    capped = {"declineCount": MAX_DECLINED_ATTEMPTS}
    assert should_cancel({**capped, "status": "failed"})
    assert should_cancel({**capped, "status": "pending"})
    # A later success (or a cancel already recorded) is never undone.
    assert not should_cancel({**capped, "status": "paid"})
    assert not should_cancel({**capped, "status": "canceled"})


def applied_decline(order: dict[str, Any], pi: dict[str, Any], event_id: str) -> Applied:
    """What applying a payment_failed event (Stripe's, or an observation's) to `order` commits."""
    decided = plan(order, se.event("payment_intent.payment_failed", pi, event_id=event_id), NOW)
    return Applied(duplicate=False, plan=decided, order={**order, **decided.writes})


def test_only_the_application_that_counts_the_capping_decline_cancels() -> None:
    pi = se.failed_payment_intent("pi_testcap1")
    pi["last_payment_error"]["charge"] = "ch_testcap5"
    below = se.order("pi_testcap1", status="failed", declineCount=MAX_DECLINED_ATTEMPTS - 1)
    capping = applied_decline(below, pi, "evt_testcap5")
    assert recorded_capping_decline(capping)
    assert capping.order is not None and capping.order["declineCount"] == MAX_DECLINED_ATTEMPTS
    # The same decline again, from Stripe or observed: nothing new is counted, nothing cancels.
    assert not recorded_capping_decline(applied_decline(capping.order, pi, "evt_testcap5"))
    assert not recorded_capping_decline(
        applied_decline(capping.order, pi, "reconciler_pi_testcap1_payment_failed_1")
    )
    # An observation counted it first: Stripe's event takes its record's place, no new count.
    observed = applied_decline(below, pi, "return_page_pi_testcap1_payment_failed_0")
    assert recorded_capping_decline(observed)
    assert observed.order is not None
    replaced = applied_decline(observed.order, pi, "evt_testcap5")
    assert replaced.plan is not None and replaced.plan.outcome is Outcome.APPLIED
    assert not recorded_capping_decline(replaced)
    # A new decline over the cap tries again (Stripe took one before the cancel landed).
    pi["last_payment_error"]["charge"] = "ch_testcap6"
    assert recorded_capping_decline(applied_decline(capping.order, pi, "evt_testcap6"))
    # Fewer than the cap, or an order paid since: nothing to cancel.
    fewer = se.order("pi_testcap1", status="failed", declineCount=MAX_DECLINED_ATTEMPTS - 2)
    assert not recorded_capping_decline(applied_decline(fewer, pi, "evt_testcap7"))
    paid = {**below, "status": "paid", "payment": {"state": "succeeded"}, "amountReceived": 5000}
    assert not recorded_capping_decline(applied_decline(paid, pi, "evt_testcap8"))


# --- a Stripe call that could outlive the request is not started


def test_no_stripe_call_starts_past_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[str] = []
    monkeypatch.setattr(connection, "client", lambda: called.append("client"))
    timeout = int(connection.WORST_CASE_CALL_SECONDS)  # minus the margin: too little left
    with request_deadline(timeout), pytest.raises(ApiError) as refused:
        payment_intents.retrieve_intent_summary("pi_1")
    assert (refused.value.status, refused.value.code) == (502, "stripe_unavailable")
    assert called == []


def test_the_worst_stripe_call_fits_the_default_timeout() -> None:
    from checkout.platform.deadline import MARGIN_SECONDS
    from checkout.platform.settings import CHECKOUT_TIMEOUT_SECONDS, WEBHOOK_TIMEOUT_SECONDS

    for timeout in (CHECKOUT_TIMEOUT_SECONDS, WEBHOOK_TIMEOUT_SECONDS):
        assert timeout.value - MARGIN_SECONDS >= connection.WORST_CASE_CALL_SECONDS


# --- ceilings: every function's instances, concurrency, memory and timeout are params


def test_every_function_has_ceilings_from_params() -> None:
    script = (
        "import json, main\n"
        "from firebase_functions.private import serving\n"
        "print(json.dumps({name: fn.__firebase_endpoint__.__dict__ for name, fn in "
        "serving.get_functions().items()}, default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=FUNCTIONS_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    endpoints = json.loads(result.stdout.strip().splitlines()[-1])
    prefix = {
        "checkout_api": "CHECKOUT",
        "stripe_webhook": "WEBHOOK",
        "reconcile_orders": "RECONCILE",
    }
    assert set(endpoints) == set(prefix)
    for name, endpoint in endpoints.items():
        assert endpoint["maxInstances"] == f"{{{{ params.{prefix[name]}_MAX_INSTANCES }}}}"
        assert endpoint["availableMemoryMb"] == f"{{{{ params.{prefix[name]}_MEMORY_MB }}}}"
        assert endpoint["timeoutSeconds"] == f"{{{{ params.{prefix[name]}_TIMEOUT_SECONDS }}}}"
        if name != "reconcile_orders":  # one scheduled event at a time: concurrency is moot
            assert endpoint["concurrency"] == f"{{{{ params.{prefix[name]}_CONCURRENCY }}}}"


def test_a_reconcile_pass_ends_inside_its_timeout() -> None:
    from checkout.platform.settings import RECONCILE_TIMEOUT_SECONDS
    from checkout.reconcile.pass_state import PassSettings

    assert PassSettings().time_budget.total_seconds() < RECONCILE_TIMEOUT_SECONDS.value
