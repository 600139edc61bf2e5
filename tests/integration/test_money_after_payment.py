"""After the payment, through the real webhook (in-process, as functions-framework serves it) on
the Firestore emulator, and on localstripe where it can: refunds in any order, disputes, fraud
warnings, every decline, and only this shop's PaymentIntents.

localstripe really refunds (`POST /v1/refunds`) but sends no refund, dispute or cancel events,
so these tests deliver the signed events Stripe would send, in the current API's shapes
(tests/fixtures/stripe_objects.json), carrying localstripe's real ids and amounts.
"""

import json
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import stripe
from flask.testing import FlaskClient
from google.cloud import firestore

from checkout.orders.ownership import MARK_KEY, MARK_VALUE
from checkout.orders.store import client_secret_hash
from checkout.platform.collections import ORDERS, PRODUCTS, PROMOTION_CODES, SHOP, STRIPE_EVENTS
from checkout.reconcile import catch_up
from checkout.reconcile.pass_state import Summary
from checkout.stripe_events import observations
from checkout.stripe_events.plan import Source
from tests import stripe_events as se
from tests.payment_lives import Observation, Step, lives, lives_seen_by_everyone
from tests.sample_catalog import sample_shop
from tests.shipping_address import US_ADDRESS

Json = dict[str, Any]
Deliver = Callable[[Json], Any]
SECRET = "pi_x_secret_money_after_payment"

# Fields that record the order of delivery itself, or which document this is. An observation is
# dated when Stripe was asked, so lastEventCreated and lastActivityAt follow who looked first.
ORDER_OF_DELIVERY = {
    "history",
    "lastEventCreated",
    "lastActivityAt",
    "fulfilledAt",
    "createdAt",
    "updatedAt",
    "checkoutId",
    # Which statuses the order passed through and was mailed for: like fulfilment, a matter of
    # the delivery order (a dispute before the success: never paid, never confirmed).
    "mailCreatedFor",
}


def seed(db: firestore.Client, pi_id: str | None = None) -> str:
    pi_id = pi_id or se.new_id("pi")
    order = se.order(pi_id, clientSecretHash=client_secret_hash(SECRET))
    db.collection(ORDERS).document(pi_id).set({**order, "createdAt": firestore.SERVER_TIMESTAMP})
    return pi_id


def order_of(db: firestore.Client, pi_id: str) -> Json:
    order = db.collection(ORDERS).document(pi_id).get().to_dict()
    assert order is not None
    return order


def all_documents(db: firestore.Client) -> dict[str, Json]:
    """Every document but the catalog's: its products, promotion codes and shipping rates (the
    sample_catalog fixture imports them)."""
    return {
        f"{c.id}/{d.id}": d.to_dict() or {}
        for c in db.collections()
        if c.id not in (PRODUCTS, PROMOTION_CODES, SHOP)
        for d in c.stream()
    }


def facts(order: Json, pi_id: str) -> Any:
    """The order's facts, comparable across orders (ids of this order's events made neutral).
    The time of a payment state that is not final is left out: an observation is dated when
    Stripe was asked (see tests/unit/test_any_delivery_order.py)."""
    kept = {k: v for k, v in order.items() if k not in ORDER_OF_DELIVERY}
    if isinstance(kept.get("payment"), dict):
        kept["payment"] = {"state": kept["payment"]["state"]}
    return json.loads(json.dumps(kept, default=str, sort_keys=True).replace(pi_id, "PI"))


def polled(checkout_api: FlaskClient, pi_id: str, secret: str = SECRET) -> Json:
    response = checkout_api.get(f"/api/orders/{pi_id}", headers={"X-Client-Secret": secret})
    assert response.status_code == 200, response.get_data()
    result: Json = response.get_json()
    return result


# --- 5. one state machine, order-independent: the property, through the real webhook


@pytest.mark.parametrize("life", sorted(lives("pi_x")))
def test_any_delivery_order_through_the_webhook_ends_as_in_order(
    deliver: Deliver, firestore_db: firestore.Client, fulfilled: list[str], life: str
) -> None:
    in_order, shuffled = seed(firestore_db), seed(firestore_db)
    for event in lives(in_order)[life]:
        deliver(event)

    events = lives(shuffled)[life]
    rng = random.Random(f"{life}-8")  # a fixed, different permutation per life
    delivery = [*events, *rng.sample(events, 4)]
    rng.shuffle(delivery)
    outcomes = [deliver(event)["outcome"] for event in delivery]
    assert outcomes.count("duplicate") >= 4  # the ledger stops what Stripe sends twice

    assert facts(order_of(firestore_db, shuffled), shuffled) == facts(
        order_of(firestore_db, in_order), in_order
    )
    assert fulfilled.count(in_order) == 1  # in order, the success came before any refund
    assert fulfilled.count(shuffled) <= 1


def apply_step(
    step: Step, pi_id: str, via_webhook: bool, db: firestore.Client, deliver: Deliver
) -> None:
    """One step of a life through the path that takes it in production: an observation through
    checkout.stripe_events.observations (the return page's and the stuck step's), Stripe's events
    through the webhook or the events catch-up."""
    if isinstance(step, Observation):
        order = db.collection(ORDERS).document(pi_id).get().to_dict()
        source = Source(step.observer)
        observations.apply_observation(step.payment_intent, order, source, step.created)
    elif via_webhook:
        deliver(step)
    else:
        summary = Summary()
        catch_up.apply_listed(step, summary)
        assert summary.error_count == 0


@pytest.mark.parametrize("life", sorted(lives_seen_by_everyone("pi_x")))
def test_every_failed_attempt_counts_once_whichever_path_sees_it_first(
    deliver: Deliver, firestore_db: firestore.Client, life: str
) -> None:
    # Issue 16, point 5: the webhook, the events catch-up, the return page and the reconciler.
    in_order, shuffled = seed(firestore_db), seed(firestore_db)
    for n, step in enumerate(lives_seen_by_everyone(in_order)[life]):
        apply_step(step, in_order, n % 2 == 0, firestore_db, deliver)

    steps = lives_seen_by_everyone(shuffled)[life]
    rng = random.Random(f"{life}-16")
    for round_ in range(3):  # three orders of delivery, each on a fresh order
        if round_:
            shuffled = seed(firestore_db)
            steps = lives_seen_by_everyone(shuffled)[life]
        delivery = [*steps, *rng.sample(steps, 3)]
        rng.shuffle(delivery)
        for step in delivery:
            apply_step(step, shuffled, rng.random() < 0.5, firestore_db, deliver)
        assert facts(order_of(firestore_db, shuffled), shuffled) == facts(
            order_of(firestore_db, in_order), in_order
        )
    expected = 4 if life == "four-attempts-then-paid" else 5
    assert order_of(firestore_db, in_order)["declineCount"] == expected


# --- 1. refunds


def test_a_full_refund_before_the_success_is_kept_and_the_order_never_paid(
    deliver: Deliver, firestore_db: firestore.Client, fulfilled: list[str]
) -> None:
    pi_id = seed(firestore_db)
    now = int(time.time())
    early = se.event("charge.refunded", se.charge(pi_id, amount_refunded=5000), created=now)
    reply = deliver(early)
    assert (reply["outcome"], reply["status"]) == ("applied", "pending")
    assert order_of(firestore_db, pi_id)["refundedAmount"] == 5000

    late = se.event("payment_intent.succeeded", se.payment_intent(pi_id), created=now - 60)
    assert deliver(late)["status"] == "refunded"
    order = order_of(firestore_db, pi_id)
    assert order["status"] == "refunded"
    assert "paid" not in [h["status"] for h in order["history"]]
    assert "fulfilledAt" not in order
    assert fulfilled == []


def test_refunds_on_localstripe_followed_by_the_events_stripe_sends(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    deliver: Deliver,
    firestore_db: firestore.Client,
    fulfilled: list[str],
) -> None:
    opened = checkout_api.post(
        "/api/payment-intents",
        json={
            "checkoutId": str(uuid.uuid4()),
            "items": [{"productId": "tee-classic", "quantity": 2}],
            "shipping": US_ADDRESS,
        },
    ).get_json()
    pi_id, secret, amount = opened["paymentIntentId"], opened["clientSecret"], opened["amount"]
    intent = stripe_client.v1.payment_intents.retrieve(pi_id)
    assert intent.metadata[MARK_KEY] == MARK_VALUE  # the intent creator marks it

    stripe_client.v1.payment_intents.update(pi_id, params={"payment_method": "pm_card_visa"})
    paid = stripe_client.v1.payment_intents.confirm(pi_id)
    assert paid.status == "succeeded"
    metadata = paid.metadata.to_dict()
    deliver(
        se.event(
            "payment_intent.succeeded", se.payment_intent(pi_id, amount=amount, metadata=metadata)
        )
    )
    assert polled(checkout_api, pi_id, secret)["status"] == "paid"
    assert fulfilled == [pi_id]

    def refund_for_real(refund_amount: int) -> tuple[Json, Json]:
        """Refund on localstripe; the two events Stripe would send, with its ids and totals."""
        made = stripe_client.v1.refunds.create(
            params={"payment_intent": pi_id, "amount": refund_amount}
        )
        charge = stripe_client.v1.charges.retrieve(str(made.charge))
        refund = se.refund(
            pi_id, amount=made.amount, status=str(made.status), refund_id=made.id,
            created=made.created, charge_id=charge.id,
        )  # fmt: skip
        charge_obj = se.charge(
            pi_id, amount=charge.amount, amount_refunded=charge.amount_refunded, charge_id=charge.id
        )
        now = int(time.time())
        return (
            se.event("refund.created", refund, created=now),
            se.event("charge.refunded", charge_obj, created=now),
        )

    created, charge_refunded = refund_for_real(1000)
    # The Charge's total first, then the Refund it counts: counted once.
    assert deliver(charge_refunded)["status"] == "paid"
    assert deliver(created)["status"] == "paid"
    shown = polled(checkout_api, pi_id, secret)
    assert (shown["status"], shown["refundedAmount"]) == ("paid", 1000)

    created, charge_refunded = refund_for_real(amount - 1000)
    assert deliver(created)["status"] == "refunded"
    assert deliver(charge_refunded)["outcome"] == "applied"
    shown = polled(checkout_api, pi_id, secret)
    assert (shown["status"], shown["refundedAmount"]) == ("refunded", amount)
    assert fulfilled == [pi_id]


def test_a_failed_refund_gives_the_amount_back(
    deliver: Deliver, firestore_db: firestore.Client
) -> None:
    pi_id = seed(firestore_db)
    now = int(time.time())
    deliver(se.event("payment_intent.succeeded", se.payment_intent(pi_id), created=now - 100))
    refund = se.refund(pi_id, amount=5000, refund_id=se.new_id("re"), created=now - 50)
    deliver(se.event("refund.created", refund, created=now - 50))
    assert order_of(firestore_db, pi_id)["status"] == "refunded"
    reply = deliver(se.event("refund.failed", {**refund, "status": "failed"}, created=now))
    assert reply["status"] == "paid"
    assert order_of(firestore_db, pi_id)["refundedAmount"] == 0


# --- 2. disputes and fraud warnings


def test_a_dispute_before_the_success_keeps_the_order_from_being_fulfilled(
    checkout_api: FlaskClient,
    deliver: Deliver,
    firestore_db: firestore.Client,
    fulfilled: list[str],
    capfd: pytest.CaptureFixture[str],
) -> None:
    pi_id = seed(firestore_db)
    now = int(time.time())
    opened = se.event(
        "charge.dispute.created", se.dispute(pi_id, due_by=1_790_600_000), created=now
    )
    assert deliver(opened)["status"] == "pending"
    _, err = capfd.readouterr()
    errors = [json.loads(line) for line in err.splitlines() if '"ERROR"' in line]
    assert len(errors) == 1 and "evidence due by 2026-09-28T12:53:20Z" in errors[0]["message"]

    success = se.event("payment_intent.succeeded", se.payment_intent(pi_id), created=now - 3600)
    assert deliver(success)["status"] == "disputed"
    shown = polled(checkout_api, pi_id)
    assert shown["status"] == "disputed"
    assert shown["dispute"] == {
        "id": "dp_test1",
        "reason": "fraudulent",
        "status": "needs_response",
        "amount": 5000,
        "evidenceDueBy": "2026-09-28T12:53:20Z",
    }

    won = se.event("charge.dispute.closed", se.dispute(pi_id, status="won"), created=now + 60)
    assert deliver(won)["status"] == "paid"
    assert fulfilled == []  # disputed before it was fulfilled: never fulfilled
    assert "fulfilledAt" not in order_of(firestore_db, pi_id)


def test_a_lost_dispute_is_final(deliver: Deliver, firestore_db: firestore.Client) -> None:
    pi_id = seed(firestore_db)
    now = int(time.time())
    deliver(se.event("payment_intent.succeeded", se.payment_intent(pi_id), created=now - 100))
    deliver(se.event("charge.dispute.created", se.dispute(pi_id), created=now - 50))
    deliver(se.event("charge.dispute.closed", se.dispute(pi_id, status="lost"), created=now))
    late = se.event(
        "charge.dispute.updated", se.dispute(pi_id, status="under_review"), created=now - 10
    )
    assert deliver(late)["outcome"] == "ignored"
    order = order_of(firestore_db, pi_id)
    assert (order["status"], order["dispute"]["status"]) == ("dispute_lost", "lost")


def test_a_chargeback_after_a_closed_inquiry_disputes_the_order_and_alerts(
    checkout_api: FlaskClient,
    deliver: Deliver,
    firestore_db: firestore.Client,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # Issue 16, point 2: an inquiry opened and closed, then a new dispute with its funds taken.
    pi_id = seed(firestore_db)
    now = int(time.time())

    def dispute(kind: str, status: str, dispute_id: str, at: int) -> Json:
        obj = se.dispute(pi_id, status=status, dispute_id=dispute_id, due_by=1_790_600_000)
        return se.event(f"charge.dispute.{kind}", obj, created=now + at)

    deliver(se.event("payment_intent.succeeded", se.payment_intent(pi_id), created=now))
    deliver(dispute("created", "warning_needs_response", "dp_testinquiry", 10))
    assert deliver(dispute("closed", "warning_closed", "dp_testinquiry", 20))["status"] == "paid"
    capfd.readouterr()

    opened = deliver(dispute("created", "needs_response", "dp_testchargeback", 30))
    withdrawn = deliver(dispute("funds_withdrawn", "needs_response", "dp_testchargeback", 30))

    assert (opened["outcome"], opened["status"]) == ("applied", "disputed")
    assert withdrawn["status"] == "disputed"
    _, err = capfd.readouterr()
    alerts = [json.loads(line) for line in err.splitlines() if '"ERROR"' in line]
    assert len(alerts) == 1
    assert "dp_testchargeback opened" in alerts[0]["message"]
    assert "evidence due by 2026-09-28T12:53:20Z" in alerts[0]["message"]
    order = order_of(firestore_db, pi_id)
    assert {i: d["status"] for i, d in order["disputes"].items()} == {
        "dp_testinquiry": "warning_closed",
        "dp_testchargeback": "needs_response",
    }
    shown = polled(checkout_api, pi_id)
    assert shown["status"] == "disputed"
    assert (shown["dispute"]["id"], shown["dispute"]["status"]) == (
        "dp_testchargeback",
        "needs_response",
    )


def test_an_early_fraud_warning_flags_the_order_and_logs_an_error(
    deliver: Deliver, firestore_db: firestore.Client, capfd: pytest.CaptureFixture[str]
) -> None:
    pi_id = seed(firestore_db)
    deliver(se.event("payment_intent.succeeded", se.payment_intent(pi_id)))
    capfd.readouterr()
    deliver(se.event("radar.early_fraud_warning.created", se.early_fraud_warning(pi_id)))
    order = order_of(firestore_db, pi_id)
    assert order["fraudWarning"]["id"] == "issfr_test1"
    assert order["status"] == "paid"
    _, err = capfd.readouterr()
    errors = [json.loads(line) for line in err.splitlines() if '"ERROR"' in line]
    assert len(errors) == 1 and errors[0]["orderId"] == pi_id


@pytest.mark.parametrize(
    "make",
    [
        lambda: se.event("charge.dispute.created", se.dispute(se.new_id("pi"))),
        lambda: se.event(
            "radar.early_fraud_warning.created", se.early_fraud_warning(se.new_id("pi"))
        ),
        lambda: se.event("charge.dispute.created", se.dispute(None)),
    ],
    ids=["dispute", "warning", "dispute-without-payment-intent"],
)
def test_an_unknown_dispute_or_warning_writes_nothing(
    deliver: Deliver,
    firestore_db: firestore.Client,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[], Json],
) -> None:
    seed(firestore_db)
    before = all_documents(firestore_db)
    event = make()
    assert deliver(event)["outcome"] == "foreign"
    assert all_documents(firestore_db) == before  # no order, no ledger entry
    out, _ = capsys.readouterr()
    logged = [json.loads(line) for line in out.splitlines() if event["id"] in line]
    assert [e["severity"] for e in logged] == ["INFO"]


# --- 3. only this shop's payments


@pytest.mark.parametrize(
    "metadata",
    [{}, {"invoice": "in_1"}, {"checkoutId": "c0ffee00-0000-4000-8000-000000000000"}],
    ids=["empty", "invoice", "unmarked"],
)
def test_a_foreign_payment_becomes_no_order(
    deliver: Deliver,
    firestore_db: firestore.Client,
    fulfilled: list[str],
    capsys: pytest.CaptureFixture[str],
    metadata: dict[str, str],
) -> None:
    pi_id = se.new_id("pi")
    for kind, pi in (
        ("payment_intent.payment_failed", se.failed_payment_intent(pi_id, metadata=metadata)),
        ("payment_intent.succeeded", se.payment_intent(pi_id, metadata=metadata)),
    ):
        event = se.event(kind, pi)
        assert deliver(event)["outcome"] == "foreign"
        out, err = capsys.readouterr()
        assert not err  # no ERROR: other payments on the account are not alerts
        assert [json.loads(line)["eventId"] for line in out.splitlines()] == [event["id"]]
    assert all_documents(firestore_db) == {}
    assert fulfilled == []


def test_a_spare_intent_canceled_after_a_lost_race_becomes_no_order(
    stripe_client: stripe.StripeClient, deliver: Deliver, firestore_db: firestore.Client
) -> None:
    # What opening._cancel_spare leaves behind: one of ours, canceled, with no order.
    from checkout.cart.pricing import price_cart
    from checkout.cart.validation import CartLine
    from checkout.stripe_api import payment_intents

    spare = payment_intents.create_intent(
        str(uuid.uuid4()), price_cart((CartLine("tee-classic", 1),), sample_shop())
    )
    payment_intents.cancel_intent(spare.id)
    canceled = stripe_client.v1.payment_intents.retrieve(spare.id)
    assert canceled.status == "canceled" and canceled.metadata[MARK_KEY] == MARK_VALUE
    pi = se.payment_intent(
        spare.id, status="canceled", metadata=canceled.metadata.to_dict(), amount=spare.amount
    )
    assert deliver(se.event("payment_intent.canceled", pi))["outcome"] == "foreign"
    assert all_documents(firestore_db) == {}


# --- 4. every decline


def test_every_decline_is_recorded_and_the_page_sees_the_latest(
    checkout_api: FlaskClient, deliver: Deliver, firestore_db: firestore.Client
) -> None:
    pi_id = seed(firestore_db)
    now = int(time.time())
    messages = ["Your card has insufficient funds.", "Your card's security code is incorrect."]
    for n, message in enumerate(messages):
        failed = se.failed_payment_intent(pi_id, decline_code=f"code_{n}", message=message)
        assert (
            deliver(se.event("payment_intent.payment_failed", failed, created=now + n))["outcome"]
            == "applied"
        )
    order = order_of(firestore_db, pi_id)
    assert order["declineCount"] == 2
    assert [d["declineCode"] for d in order["recentDeclines"]] == ["code_0", "code_1"]
    shown = polled(checkout_api, pi_id)
    assert shown["status"] == "failed"
    assert shown["declineCount"] == 2
    assert shown["lastPaymentError"]["message"] == messages[1]
    assert shown["refundedAmount"] == 0 and shown["dispute"] is None
    entries = [d.to_dict() for d in firestore_db.collection(STRIPE_EVENTS).stream()]
    assert len(entries) == 2
