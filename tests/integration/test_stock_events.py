"""What Stripe's word does to held units, against the Firestore emulator and localstripe: a
success sells them once (duplicates and concurrent paths included), a cancel gives them back
(the shopper's, the reconciler's expiry of a lapsed hold, the attempt cap's), `processing` pins
the hold past STOCK_HOLD_SECONDS, and a late payment for units another shopper bought is
refunded in full, marked `soldOut`, needs_review then refunded, never fulfilled.

Each checkout is opened through the real checkout function (a real PaymentIntent in
localstripe, and the opening's own hold); the hold is then set to what each test needs (given
back, and taken again as of `held_at`), with the order's `holdKey`/`holdPools` as the opening
writes them.
"""

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from flask.testing import FlaskClient

from checkout.holds import store as holds_store
from checkout.holds.pool import Pool, product_pool
from checkout.platform.collections import ORDERS
from checkout.platform.errors import ApiError
from checkout.platform.firestore_client import db
from checkout.reconcile import sold_out_refunds
from checkout.reconcile.one_pass import run_pass
from checkout.reconcile.pass_state import Budget, PassSettings, Summary
from checkout.stripe_api import refunds
from checkout.stripe_events import observations, sold_out
from checkout.stripe_events.apply import apply
from checkout.stripe_events.plan import Source
from tests import stripe_events as se
from tests.integration.conftest import Deliver, Fulfilled
from tests.integration.reconcile_support import backdate, later
from tests.integration.test_attempt_cap import decline_at_stripe
from tests.integration.test_reconcile import counts, open_checkout
from tests.integration.test_webhook_end_to_end import card, confirm

Json = dict[str, Any]

POOL = product_pool("tee-classic")
HOLD = timedelta(seconds=900)
# Only the stock steps have anything to do: nothing else is due for weeks.
SETTINGS = PassSettings(
    abandon_after=timedelta(days=1),
    stock_hold=HOLD,
    stuck_after=timedelta(days=30),
    fulfil_after=timedelta(days=30),
)
VISA = "4242424242424242"


def stock(total: int) -> None:
    holds_store.set_total(POOL, total, datetime.now(UTC))


def pool(at: datetime | None = None) -> tuple[int, int, int]:
    """(on sale, held, sold) of the tee's pool at `at` (now)."""
    at = at or datetime.now(UTC)
    read: Pool = holds_store.read_pools(db(), [POOL]).pools[POOL]
    on_sale, held, sold = read.available(at), read.held(at), read.sold()
    assert on_sale + held + sold == read.total()  # conserved
    return on_sale, held, sold


def held_checkout(
    checkout_api: FlaskClient, quantity: int = 2, *, held_at: datetime | None = None
) -> Json:
    # (open_checkout asks for 2 tees; the hold is what a test wants.)
    """A checkout of `quantity` tees holding its units since `held_at` (now), as opened."""
    checkout_id = str(uuid.uuid4())
    opened = {**open_checkout(checkout_api, checkout_id), "checkoutId": checkout_id}
    pi_id = opened["paymentIntentId"]
    at = held_at or datetime.now(UTC)
    holds_store.release(checkout_id, [POOL], datetime.now(UTC))  # the opening's own hold
    holds_store.hold(checkout_id, {POOL: quantity}, at, at + HOLD)
    db().collection(ORDERS).document(pi_id).update({"holdKey": checkout_id, "holdPools": [POOL]})
    return opened


def order_of(pi_id: str) -> Json:
    return db().collection(ORDERS).document(pi_id).get().to_dict() or {}


def intent_event(client: stripe.StripeClient, kind: str, pi_id: str, **fields: Any) -> Json:
    """Stripe's event for the PaymentIntent as localstripe has it now (with `fields`)."""
    obj = {**client.v1.payment_intents.retrieve(pi_id).to_dict(), **fields}
    return se.event(kind, obj, created=int(datetime.now(UTC).timestamp()))


def pay(client: stripe.StripeClient, pi_id: str) -> Json:
    assert confirm(client, pi_id, card(client, VISA)).status == "succeeded"
    return intent_event(client, "payment_intent.succeeded", pi_id)


def test_a_success_sells_the_held_units_once_whatever_paths_deliver_it_at_once(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, fulfilled: Fulfilled
) -> None:
    stock(5)
    pi_id = held_checkout(checkout_api, 2)["paymentIntentId"]
    assert pool() == (3, 2, 0)
    succeeded = pay(stripe_client, pi_id)
    payment_intent = succeeded["data"]["object"]
    order = order_of(pi_id)

    def webhook() -> None:
        apply(succeeded, Source.WEBHOOK)

    def catch_up() -> None:
        apply(succeeded, Source.CATCH_UP)

    def return_page() -> None:
        observations.apply_observation(
            payment_intent, order, Source.RETURN_PAGE, succeeded["created"]
        )

    threads = [threading.Thread(target=f) for f in (webhook, webhook, catch_up, return_page)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    apply(succeeded, Source.WEBHOOK)  # and a late duplicate

    assert pool() == (3, 0, 2)  # sold once
    assert order_of(pi_id)["status"] == "paid"
    assert "soldOut" not in order_of(pi_id)
    assert fulfilled == [pi_id]


def test_a_success_after_the_hold_lapsed_takes_the_units_again_when_on_sale(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, deliver: Deliver
) -> None:
    stock(3)
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    pi_id = held_checkout(checkout_api, 2, held_at=long_ago)["paymentIntentId"]
    assert pool() == (3, 0, 0)  # lapsed: on sale again

    deliver(pay(stripe_client, pi_id))

    assert pool() == (1, 0, 2)
    assert order_of(pi_id)["status"] == "paid"


def test_a_cancel_gives_the_units_back(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, deliver: Deliver
) -> None:
    stock(5)
    pi_id = held_checkout(checkout_api, 2)["paymentIntentId"]
    stripe_client.v1.payment_intents.cancel(pi_id)
    canceled = intent_event(stripe_client, "payment_intent.canceled", pi_id)

    deliver(canceled)
    deliver(canceled)

    assert pool() == (5, 0, 0)
    assert order_of(pi_id)["status"] == "canceled"


def test_the_attempt_cap_gives_the_units_back(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    deliver: Deliver,
    fresh_cursor: int,
) -> None:
    stock(5)
    pi_id = held_checkout(checkout_api, 2)["paymentIntentId"]
    db().collection(ORDERS).document(pi_id).update({"declineCount": 4})
    decline_at_stripe(stripe_client, pi_id)

    # The 5th decline: the webhook records it and cancels the PaymentIntent at Stripe...
    assert deliver(intent_event(stripe_client, "payment_intent.payment_failed", pi_id))
    assert stripe_client.v1.payment_intents.retrieve(pi_id).status == "canceled"
    assert pool() == (3, 2, 0)
    # ... and Stripe's payment_intent.canceled gives the units back.
    deliver(intent_event(stripe_client, "payment_intent.canceled", pi_id))
    assert pool() == (5, 0, 0)


def test_a_pass_cancels_a_checkout_whose_hold_lapsed_and_stock_is_conserved(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, fresh_cursor: int
) -> None:
    stock(6)
    idle = held_checkout(checkout_api, 2)["paymentIntentId"]
    active = held_checkout(checkout_api, 3)["paymentIntentId"]
    backdate(db(), idle, HOLD + timedelta(minutes=1))
    assert pool() == (1, 5, 0)

    summary = run_pass(SETTINGS)

    assert summary.error_count == 0, summary.as_dict()
    assert counts(summary, "lapsed_holds")["canceled_at_stripe"] == 1
    assert stripe_client.v1.payment_intents.retrieve(idle).status == "canceled"
    assert order_of(idle)["status"] == "canceled"
    assert stripe_client.v1.payment_intents.retrieve(active).status != "canceled"
    assert order_of(active)["status"] == "pending"
    assert pool() == (3, 3, 0)  # the idle checkout's units are on sale again, for good


def test_a_processing_payment_keeps_its_units_past_the_hold_time(
    checkout_api: FlaskClient, deliver: Deliver
) -> None:
    stock(4)
    opened = held_checkout(checkout_api, 2)
    pi_id = opened["paymentIntentId"]
    metadata = se.payment_intent(pi_id)["metadata"] | {"checkoutId": opened["checkoutId"]}
    now = int(datetime.now(UTC).timestamp())
    processing = se.payment_intent(pi_id, status="processing", amount=opened["amount"])
    deliver(
        se.event("payment_intent.processing", {**processing, "metadata": metadata}, created=now)
    )

    much_later = datetime.now(UTC) + 4 * HOLD
    assert pool(much_later) == (2, 2, 0)  # pinned: Stripe says the payment is under way

    failed = se.failed_payment_intent(pi_id, amount=opened["amount"])
    deliver(se.event("payment_intent.payment_failed", failed, created=now + 1))
    assert pool() == (2, 2, 0)  # unpinned: held for STOCK_HOLD_SECONDS from the decline
    assert pool(much_later) == (4, 0, 0)


def test_a_late_payment_for_units_another_shopper_bought_is_refunded_in_full(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    deliver: Deliver,
    fulfilled: Fulfilled,
) -> None:
    stock(2)
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    late = held_checkout(checkout_api, 2, held_at=long_ago)["paymentIntentId"]
    first = held_checkout(checkout_api, 2)["paymentIntentId"]  # the lapsed units, taken
    deliver(pay(stripe_client, first))
    assert pool() == (0, 0, 2)

    deliver(pay(stripe_client, late))

    order = order_of(late)
    assert order["status"] == "needs_review"
    assert order["soldOut"]["products"] == {"tee-classic": 2}
    assert isinstance(order["soldOut"]["at"], datetime)
    assert pool() == (0, 0, 2)  # nothing more sold
    assert refunded_at_stripe(stripe_client, late) == order["amount"]  # refunded in full, at once
    # The shopper's page is told.
    response = checkout_api.get(
        f"/api/orders/{late}", headers={"X-Client-Secret": order_secret(late, stripe_client)}
    )
    assert response.get_json()["soldOut"] is True
    # Stripe's refund event makes it refunded; it is never fulfilled.
    refund_event = se.charge(late, amount=order["amount"], amount_refunded=order["amount"])
    deliver(se.event("charge.refunded", refund_event))
    assert order_of(late)["status"] == "refunded"
    assert fulfilled == [first]


def refunded_at_stripe(client: stripe.StripeClient, pi_id: str) -> int:
    charge = client.v1.payment_intents.retrieve(pi_id).latest_charge
    assert charge is not None
    charge_id = charge if isinstance(charge, str) else charge.id  # localstripe expands it
    return int(client.v1.charges.retrieve(str(charge_id)).amount_refunded)


def order_secret(pi_id: str, client: stripe.StripeClient) -> str:
    return str(client.v1.payment_intents.retrieve(pi_id).client_secret)


def test_a_sold_out_refund_that_failed_is_retried_by_the_reconciler(
    checkout_api: FlaskClient,
    stripe_client: stripe.StripeClient,
    deliver: Deliver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stock(2)
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    late = held_checkout(checkout_api, 2, held_at=long_ago)["paymentIntentId"]
    holds_store.hold("another-shopper", {POOL: 2}, datetime.now(UTC), None)
    real = refunds.refund_in_full

    def down(pi_id: str) -> Json:
        raise ApiError(502, "stripe_unavailable", "down")

    monkeypatch.setattr(refunds, "refund_in_full", down)
    event = pay(stripe_client, late)
    assert apply(event, Source.WEBHOOK).sold_out == sold_out.NOT_REFUNDED
    assert order_of(late)["status"] == "needs_review"

    monkeypatch.setattr(refunds, "refund_in_full", real)
    summary = Summary()
    # A pass after the refund's events had time to come (SETTINGS.stuck_after).
    sold_out_refunds.run(SETTINGS, Budget(timedelta(minutes=1)), summary, later(31))

    assert summary.counts[sold_out_refunds.STEP] == {sold_out.REFUNDED: 1}
    assert refunded_at_stripe(stripe_client, late) == order_of(late)["amount"]
    assert pool() == (0, 2, 0)
