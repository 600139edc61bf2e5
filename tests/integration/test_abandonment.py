"""Expiring abandoned checkouts, against the Firestore emulator and localstripe: idleness is
measured from the checkout's last activity, payments still being completed are left alone, and
failed checkouts expire like pending ones.

A pass run with `now` some days ahead stands for a pass that runs that much later (nothing
sleeps). What Stripe says is localstripe's answer, but for micro-deposits, which localstripe
cannot reach (tests/integration/reconcile_support.py).
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import stripe
from flask.testing import FlaskClient
from google.cloud import firestore

from checkout.platform.collections import ORDERS
from checkout.reconcile.one_pass import run_pass
from checkout.reconcile.pass_state import PassSettings, Summary
from tests.integration.reconcile_support import backdate, later, stripe_says, stripe_status
from tests.integration.test_reconcile import counts, open_checkout, order_of
from tests.integration.test_webhook_end_to_end import card, confirm
from tests.shipping_address import US_ADDRESS

Json = dict[str, Any]

__all__ = ["stripe_says"]  # a fixture, used by name

PERIOD = timedelta(days=1)
# Only the abandonment step has anything to do: nothing is stuck or unfulfilled for weeks.
SETTINGS = PassSettings(
    abandon_after=PERIOD, stuck_after=timedelta(days=30), fulfil_after=timedelta(days=30)
)
CARD_DECLINED = "4000000000000341"
CARD_3DS = "4000002760003184"


def change_cart(checkout_api: FlaskClient, checkout_id: str, quantity: int) -> None:
    response = checkout_api.post(
        "/api/payment-intents",
        json={
            "checkoutId": checkout_id,
            "items": [{"productId": "tee-classic", "quantity": quantity}],
            "shipping": US_ADDRESS,  # as open_checkout sends it
        },
    )
    assert response.status_code == 200, response.get_json()


MICRODEPOSITS = {
    "status": "requires_action",
    "next_action": {
        "type": "verify_with_microdeposits",
        "verify_with_microdeposits": {
            "arrival_date": 1767225600,
            "hosted_verification_url": "https://payments.stripe.com/microdeposit/pacs_test_x",
            "microdeposit_type": "descriptor_code",
        },
    },
}


def no_errors(summary: Summary) -> None:
    assert summary.completed and summary.error_count == 0, summary.as_dict()


# --- point 3: idleness is measured from the last activity


def test_a_checkout_opened_long_ago_whose_cart_just_changed_is_not_abandoned(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, firestore_db: firestore.Client
) -> None:
    checkout_id = "1f0c9a8e-7d6b-4c5a-8e9f-0a1b2c3d4e5f"
    pi_id = open_checkout(checkout_api, checkout_id)["paymentIntentId"]
    backdate(firestore_db, pi_id, timedelta(days=3))

    change_cart(checkout_api, checkout_id, 3)  # the shopper is here, right now
    summary = run_pass(SETTINGS)

    no_errors(summary)
    assert "canceled_at_stripe" not in counts(summary, "abandoned")
    assert stripe_status(stripe_client, pi_id) != "canceled"
    order = order_of(firestore_db, pi_id)
    assert order["status"] == "pending"
    assert order["lastActivityAt"] > order["createdAt"] + timedelta(days=2)
    # Idle for the whole period after that change, it is abandoned.
    no_errors(summary := run_pass(SETTINGS, now=later(1.01)))
    assert counts(summary, "abandoned")["canceled_at_stripe"] == 1
    assert stripe_status(stripe_client, pi_id) == "canceled"


def test_a_repeat_of_the_same_cart_writes_nothing(
    checkout_api: FlaskClient, firestore_db: firestore.Client
) -> None:
    checkout_id = "2a1b0c9d-8e7f-4a6b-9c5d-1e2f3a4b5c6d"
    pi_id = open_checkout(checkout_api, checkout_id)["paymentIntentId"]
    before = firestore_db.collection(ORDERS).document(pi_id).get()
    assert isinstance(before.get("lastActivityAt"), datetime)

    change_cart(checkout_api, checkout_id, 2)  # what open_checkout already asked for

    assert firestore_db.collection(ORDERS).document(pi_id).get().update_time == before.update_time


def test_a_payment_waiting_on_micro_deposits_is_never_abandoned(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    stripe_says: Callable[[str, Json], None],
) -> None:
    pi_id = open_checkout(checkout_api)["paymentIntentId"]
    backdate(firestore_db, pi_id, timedelta(days=3))
    stripe_says(pi_id, MICRODEPOSITS)

    for days in (0, 1.01, 2.02, 3.03):  # the deposits take a few business days
        summary = run_pass(SETTINGS, now=later(days))
        no_errors(summary)
        assert "canceled_at_stripe" not in counts(summary, "abandoned")
    assert counts(run_pass(SETTINGS), "abandoned") == {}  # looked at again a period later only
    assert stripe_status(stripe_client, pi_id) != "canceled"
    order = order_of(firestore_db, pi_id)
    assert order["status"] == "pending" and order["history"] == []


def test_a_3d_secure_challenge_is_abandoned_only_after_a_whole_idle_period(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, firestore_db: firestore.Client
) -> None:
    pi_id = open_checkout(checkout_api)["paymentIntentId"]
    assert confirm(stripe_client, pi_id, card(stripe_client, CARD_3DS)).status == "requires_action"
    # The cart was last changed days ago; the challenge may have started a second ago.
    backdate(firestore_db, pi_id, timedelta(days=3))

    first = run_pass(SETTINGS)
    no_errors(first)
    assert counts(first, "abandoned") == {"challenge_seen": 1}
    assert stripe_status(stripe_client, pi_id) == "requires_action"
    # Not yet a whole period since the challenge was seen.
    no_errors(run_pass(SETTINGS, now=later(0.9)))
    assert stripe_status(stripe_client, pi_id) == "requires_action"

    last = run_pass(SETTINGS, now=later(1.01))

    no_errors(last)
    assert counts(last, "abandoned")["canceled_at_stripe"] == 1
    assert stripe_status(stripe_client, pi_id) == "canceled"
    order = order_of(firestore_db, pi_id)
    assert (order["status"], order["cancellationReason"]) == ("canceled", "abandoned")


# --- point 8: failed checkouts expire like pending ones


def test_an_idle_failed_checkout_is_expired(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    fresh_cursor: int,
) -> None:
    pi_id = open_checkout(checkout_api)["paymentIntentId"]
    with pytest.raises(stripe.CardError):
        confirm(stripe_client, pi_id, card(stripe_client, CARD_DECLINED))
    no_errors(run_pass(SETTINGS))  # the catch-up records the decline
    assert order_of(firestore_db, pi_id)["status"] == "failed"
    # The decline is activity: not abandoned until a whole period after it.
    no_errors(run_pass(SETTINGS, now=later(0.9)))
    assert stripe_status(stripe_client, pi_id) == "requires_payment_method"
    backdate(firestore_db, pi_id, timedelta(days=3))

    summary = run_pass(SETTINGS)

    no_errors(summary)
    assert counts(summary, "abandoned")["canceled_at_stripe"] == 1
    assert stripe_status(stripe_client, pi_id) == "canceled"
    order = order_of(firestore_db, pi_id)
    assert (order["status"], order["cancellationReason"]) == ("canceled", "abandoned")
    assert order["declineCount"] == 1  # the decline stays on record


# --- orders written before lastActivityAt existed


def test_an_order_written_before_last_activity_existed_is_still_expired(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, firestore_db: firestore.Client
) -> None:
    pi_id = open_checkout(checkout_api)["paymentIntentId"]
    # As the previous version wrote it: idle since it was created, no newer fields.
    backdate(
        firestore_db,
        pi_id,
        timedelta(days=3),
        lastActivityAt=firestore.DELETE_FIELD,
        stripeMissing=firestore.DELETE_FIELD,
    )

    summary = run_pass(SETTINGS)

    no_errors(summary)
    assert counts(summary, "older_orders") == {"updated": 1}
    assert counts(summary, "abandoned")["canceled_at_stripe"] == 1
    assert stripe_status(stripe_client, pi_id) == "canceled"
    assert order_of(firestore_db, pi_id)["status"] == "canceled"
