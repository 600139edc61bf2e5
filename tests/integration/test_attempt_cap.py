"""The attempt cap holds whichever path records the decline that reaches it (issue 16, point 4):
the webhook, the reconciler's events catch-up, the return page's check and the reconciler's
stuck step each cancel the PaymentIntent at Stripe once they record it; and a reconciler pass
cancels any open PaymentIntent whose order is already at or over the cap.

Against the Firestore emulator and localstripe, with no webhook delivered unless a test does.
The declines before the last one are seeded as counted (what the webhook records, see
test_money_after_payment.py); the last one is a real decline at localstripe.
"""

import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import stripe
from flask.testing import FlaskClient
from google.cloud import firestore

from checkout.orders.attempts import MAX_DECLINED_ATTEMPTS
from checkout.platform.collections import ORDERS
from checkout.reconcile import catch_up, stuck_orders
from checkout.reconcile.one_pass import run_pass
from checkout.reconcile.pass_state import Budget, PassSettings, Summary
from checkout.stripe_api import payment_intents
from tests.integration.conftest import function_client
from tests.stripe_signing import body, sign

Json = dict[str, Any]

# Nothing is old enough to count as stuck, abandoned or unfulfilled unless a test says so.
QUIET = PassSettings(
    stuck_after=timedelta(days=1), fulfil_after=timedelta(days=1), abandon_after=timedelta(days=2)
)


def open_checkout(checkout_api: FlaskClient) -> Json:
    response = checkout_api.post(
        "/api/payment-intents",
        json={
            "checkoutId": str(uuid.uuid4()),
            "items": [{"productId": "tee-classic", "quantity": 1}],
        },
    )
    assert response.status_code == 200, response.get_json()
    opened: Json = response.get_json()
    return opened


def counted_declines(db: firestore.Client, pi_id: str, count: int, status: str = "pending") -> None:
    """Seed the declines recorded so far. `pending`: an order the return page still checks."""
    long_ago = datetime.now(UTC) - timedelta(minutes=30)
    db.collection(ORDERS).document(pi_id).update(
        {"declineCount": count, "status": status, "createdAt": long_ago, "updatedAt": long_ago}
    )


def decline_at_stripe(client: stripe.StripeClient, pi_id: str) -> None:
    """What a card tester holding the client secret does directly at Stripe: confirm with a card
    that is declined. localstripe confirms again only once its failed charge is cleared (Stripe
    needs nothing); JSON, because only JSON can send null. Test-only, as in the stand-in."""
    requests.post(
        f"{os.environ['STRIPE_API_BASE']}/v1/payment_intents/{pi_id}",
        json={"latest_charge": None, "payment_method": "pm_card_chargeCustomerFail"},
        auth=(os.environ["STRIPE_SECRET_KEY"], ""),
        timeout=10,
    ).raise_for_status()
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(pi_id)


def fresh_cursor(db: firestore.Client) -> int:
    """Start the events catch-up at the next second: this test's events, none of the earlier
    ones (localstripe keeps every event of the run)."""
    second = int(time.time()) + 1
    catch_up.store_cursor(db, second)
    time.sleep(max(0.0, second - time.time()))
    return second


def stripe_status(client: stripe.StripeClient, pi_id: str) -> str:
    return str(client.v1.payment_intents.retrieve(pi_id).status)


def order_of(db: firestore.Client, pi_id: str) -> Json:
    return db.collection(ORDERS).document(pi_id).get().to_dict() or {}


def failed_event(client: stripe.StripeClient, pi_id: str, since: int) -> Json:
    """The payment_intent.payment_failed event Stripe made for the decline."""
    listed = client.v1.events.list(
        params={"type": "payment_intent.payment_failed", "created": {"gte": since}}
    )
    (event,) = [e.to_dict() for e in listed.data if e.data.object["id"] == pi_id]
    return event


@pytest.fixture
def cancels(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """PaymentIntents canceled at Stripe (really canceled, and counted)."""
    calls: list[str] = []
    real = payment_intents.cancel_intent

    def counting(pi_id: str) -> Any:
        calls.append(pi_id)
        return real(pi_id)

    monkeypatch.setattr(payment_intents, "cancel_intent", counting)
    return calls


# --- one way in per source: each records the capping decline and must cancel


def webhook_outcome(client: stripe.StripeClient, pi_id: str, since: int) -> str:
    payload = body(failed_event(client, pi_id, since))
    secret = os.environ["STRIPE_WEBHOOK_SECRET"].split(",")[0]
    response = function_client("stripe_webhook").post(
        "/api/stripe-webhook",
        data=payload,
        headers={"Stripe-Signature": sign(payload, secret), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.get_data()
    return str(response.get_json()["outcome"])


def catch_up_outcome() -> dict[str, int]:
    summary = Summary()
    catch_up.run(QUIET, Budget(QUIET.time_budget), summary, datetime.now(UTC))
    assert summary.error_count == 0, summary.as_dict()
    return dict(summary.counts[catch_up.STEP])


def by_webhook(client: stripe.StripeClient, checkout: Json, since: int) -> None:
    assert webhook_outcome(client, checkout["paymentIntentId"], since) == "applied"


def by_catch_up(client: stripe.StripeClient, checkout: Json, since: int) -> None:
    assert catch_up_outcome()["applied"] == 1


def by_return_page(client: stripe.StripeClient, checkout: Json, since: int) -> None:
    response = function_client("checkout_api").get(
        f"/api/orders/{checkout['paymentIntentId']}",
        headers={"X-Client-Secret": checkout["clientSecret"]},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["declineCount"] == MAX_DECLINED_ATTEMPTS


def by_stuck_step(client: stripe.StripeClient, checkout: Json, since: int) -> None:
    settings = PassSettings(**{**QUIET.__dict__, "stuck_after": timedelta(0)})
    summary = Summary()
    now = datetime.now(UTC) + timedelta(seconds=1)
    stuck_orders.run(settings, Budget(settings.time_budget), summary, now)
    assert summary.error_count == 0, summary.as_dict()
    assert summary.counts[stuck_orders.STEP]["applied"] == 1


Source = Callable[[stripe.StripeClient, Json, int], None]


def declined_once_more(
    checkout_api: FlaskClient, db: firestore.Client, client: stripe.StripeClient, counted: int
) -> tuple[Json, int]:
    """A checkout with `counted` declines recorded, then one more at Stripe that nothing has
    recorded yet; and the second the events catch-up starts from."""
    checkout = open_checkout(checkout_api)
    pi_id = checkout["paymentIntentId"]
    counted_declines(db, pi_id, counted)
    since = fresh_cursor(db)
    decline_at_stripe(client, pi_id)
    assert stripe_status(client, pi_id) == "requires_payment_method"
    return checkout, since


@pytest.mark.parametrize(
    "source",
    [by_webhook, by_catch_up, by_return_page, by_stuck_step],
    ids=["webhook", "events-catch-up", "return-page", "stuck-step"],
)
def test_the_path_that_records_the_capping_decline_cancels_the_payment_intent(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    cancels: list[str],
    source: Source,
) -> None:
    checkout, since = declined_once_more(
        checkout_api, firestore_db, stripe_client, MAX_DECLINED_ATTEMPTS - 1
    )
    pi_id = checkout["paymentIntentId"]

    source(stripe_client, checkout, since)

    assert order_of(firestore_db, pi_id)["declineCount"] == MAX_DECLINED_ATTEMPTS
    assert stripe_status(stripe_client, pi_id) == "canceled"
    assert cancels == [pi_id]
    # Stripe's event then reaches the webhook and the catch-up: the decline is known (at most
    # Stripe's record takes the observation's place), so nothing cancels again.
    webhook_outcome(stripe_client, pi_id, since)
    catch_up_outcome()
    assert order_of(firestore_db, pi_id)["declineCount"] == MAX_DECLINED_ATTEMPTS
    assert cancels == [pi_id]


def test_fewer_declines_than_the_cap_leave_the_payment_intent_open(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, firestore_db: firestore.Client
) -> None:
    checkout, since = declined_once_more(
        checkout_api, firestore_db, stripe_client, MAX_DECLINED_ATTEMPTS - 2
    )
    pi_id = checkout["paymentIntentId"]
    by_catch_up(stripe_client, checkout, since)
    assert order_of(firestore_db, pi_id)["declineCount"] == MAX_DECLINED_ATTEMPTS - 1
    assert stripe_status(stripe_client, pi_id) == "requires_payment_method"


# --- the pass's own sweep


@pytest.mark.parametrize("count", [MAX_DECLINED_ATTEMPTS, MAX_DECLINED_ATTEMPTS + 2])
def test_a_pass_cancels_an_open_payment_intent_whose_order_is_at_the_cap(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    count: int,
) -> None:
    # The capping decline was recorded, but its cancel never happened (the instance died, or
    # Stripe was down): the order is at the cap and its PaymentIntent still open.
    capped = open_checkout(checkout_api)["paymentIntentId"]
    below = open_checkout(checkout_api)["paymentIntentId"]
    counted_declines(firestore_db, capped, count, status="failed")
    counted_declines(firestore_db, below, MAX_DECLINED_ATTEMPTS - 1, status="failed")
    catch_up.store_cursor(firestore_db, int(time.time()) + 1)

    summary = run_pass(QUIET)

    assert summary.error_count == 0, summary.as_dict()
    assert summary.as_dict()["attempt_cap"] == {"canceled_at_stripe": 1, "applied": 1}
    assert stripe_status(stripe_client, capped) == "canceled"
    assert order_of(firestore_db, capped)["status"] == "canceled"
    assert stripe_status(stripe_client, below) == "requires_payment_method"
    assert order_of(firestore_db, below)["status"] == "failed"
    # Nothing left for the next pass.
    assert "attempt_cap" not in run_pass(QUIET).as_dict()


def test_five_declines_only_a_pass_records_cancel_the_payment_intent_and_end_the_order(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    cancels: list[str],
) -> None:
    # The reproduction: the webhook is down while a card tester confirms at Stripe.
    pi_id = open_checkout(checkout_api)["paymentIntentId"]
    fresh_cursor(firestore_db)
    for _ in range(MAX_DECLINED_ATTEMPTS):
        decline_at_stripe(stripe_client, pi_id)

    summary = run_pass(QUIET)

    assert summary.error_count == 0, summary.as_dict()
    events = summary.as_dict()["events"]
    assert (events["applied"], events["canceled_at_cap"]) == (MAX_DECLINED_ATTEMPTS, 1)
    assert stripe_status(stripe_client, pi_id) == "canceled"
    order = order_of(firestore_db, pi_id)
    assert order["declineCount"] == MAX_DECLINED_ATTEMPTS
    # Stripe's payment_intent.canceled comes after this pass's catch-up; the sweep applies the
    # cancellation in the same pass.
    assert order["status"] == "canceled"
    assert cancels[0] == pi_id
