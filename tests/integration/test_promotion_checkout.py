"""Promotion codes through POST /api/payment-intents (the real function app, the Firestore
emulator, localstripe): every refusal, the discounted total charged, the last redemption raced
by 50 checkouts, redemptions given back on cancel, removal and expiry, sold once on success
whatever the duplicates, one use per email, and the wrong-code limit's 429."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from flask.testing import FlaskClient

from checkout.discounts import redemptions
from checkout.discounts.promotion_code import PromotionCode, document_of
from checkout.holds import store as holds_store
from checkout.holds.pool import Pool
from checkout.intents import rate_limits
from checkout.platform.collections import ORDERS, PROMOTION_CODES
from checkout.platform.firestore_client import db
from tests.integration.conftest import Deliver, function_client
from tests.integration.test_stock_events import intent_event, pay
from tests.shipping_address import US_ADDRESS

Json = dict[str, Any]
TEE, MUG = "tee-classic", "mug-enamel"  # 2500 and 1400 in the sample catalog
POOL = redemptions.code_pool("LAST1")


def now() -> datetime:
    return datetime.now(UTC)


def add_code(code: str, **fields: Any) -> PromotionCode:
    """A code in Firestore as the import writes it (its pool's total too, as the import sets)."""
    made = PromotionCode(code=code, currency="usd", active=True, **fields)
    db().collection(PROMOTION_CODES).document(code).set(document_of(made))
    if made.max_redemptions is not None:
        holds_store.set_total(redemptions.code_pool(code), made.max_redemptions, now())
    return made


def body(
    checkout_id: str, code: str | None = None, tees: int = 2, mugs: int = 0, **more: Any
) -> Json:
    items = [{"productId": TEE, "quantity": tees}] if tees else []
    if mugs:
        items.append({"productId": MUG, "quantity": mugs})
    sent: Json = {"checkoutId": checkout_id, "items": items, **more}
    if code is not None:
        sent["promotionCode"] = code
    return sent


def post(client: FlaskClient, sent: Json, ip: str = "203.0.113.9") -> Any:
    return client.post(
        "/api/payment-intents", json=sent, headers={"X-Forwarded-For": f"{ip}, 10.0.0.1"}
    )


def refused(response: Any) -> Json:
    assert response.status_code == 400, response.get_json()
    error: Json = response.get_json()["error"]
    return error


def counts(pool: str) -> tuple[int, int, int]:
    """(on sale, held, sold) of `pool` now."""
    at = now()
    read: Pool = holds_store.read_pools(db(), [pool]).pools[pool]
    return read.available(at), read.held(at), read.sold()


def order_of(pi_id: str) -> Json:
    return db().collection(ORDERS).document(pi_id).get().to_dict() or {}


def test_a_code_prices_the_cart_and_the_payment_intent_charges_the_total(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient
) -> None:
    add_code("SAVE10", percent_off=10)
    checkout_id = str(uuid.uuid4())
    response = post(checkout_api, body(checkout_id, " save10 ", mugs=1))
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert (answer["subtotal"], answer["discount"], answer["amount"]) == (6400, 640, 5760)
    assert answer["promotionCode"] == "SAVE10"
    intent = stripe_client.v1.payment_intents.retrieve(answer["paymentIntentId"])
    assert intent.amount == 5760
    assert intent.metadata["discount"] == "SAVE10:640:tee-classic mug-enamel"
    order = order_of(answer["paymentIntentId"])
    assert order["amount"] == 5760 and order["subtotal"] == 6400
    assert order["discount"] == {
        "code": "SAVE10",
        "amount": 640,
        "productIds": ["tee-classic", "mug-enamel"],
    }

    # The same cart again is answered from the record; without the code the code is removed.
    assert post(checkout_api, body(checkout_id, "SAVE10", mugs=1)).get_json() == answer
    removed = post(checkout_api, body(checkout_id, mugs=1)).get_json()
    assert (removed["amount"], removed["discount"], removed["promotionCode"]) == (6400, 0, None)
    # (localstripe answers an updated amount as a string.)
    assert int(stripe_client.v1.payment_intents.retrieve(answer["paymentIntentId"]).amount) == 6400
    assert order_of(answer["paymentIntentId"])["discount"] is None


def test_every_refusal(checkout_api: FlaskClient) -> None:
    past, future = now() - timedelta(days=1), now() + timedelta(days=1)
    add_code("OLD10", percent_off=10, expires_at=past)
    add_code("SOON10", percent_off=10, starts_at=future)
    add_code("GONE", percent_off=10, max_redemptions=1)
    holds_store.hold("someone-else", {redemptions.code_pool("GONE"): 1}, now(), future)
    add_code("MUGS", percent_off=10, product_ids=(MUG,))
    add_code("BIG", amount_off=500, minimum_amount=6000)
    add_code("ONCE", percent_off=10, once_per_email=True)
    add_code("HUGE", amount_off=4990)
    db().collection(PROMOTION_CODES).document("OFF").set(
        document_of(PromotionCode("OFF", "usd", False, percent_off=10))
    )

    def code_of(code: str, **more: Any) -> Json:
        return refused(post(checkout_api, body(str(uuid.uuid4()), code, **more)))

    assert code_of("NOPE")["code"] == "promotion_code_unknown"
    assert code_of("OFF")["code"] == "promotion_code_unknown"
    assert code_of("!!")["code"] == "promotion_code_unknown"  # not even a code's shape
    assert code_of("OLD10")["code"] == "promotion_code_expired"
    assert code_of("SOON10")["code"] == "promotion_code_expired"
    assert code_of("GONE")["code"] == "promotion_code_used_up"
    assert code_of("MUGS")["code"] == "promotion_code_not_applicable"
    error = code_of("BIG")  # 2 tees: 5000 < 6000
    assert error["code"] == "promotion_code_minimum_not_met" and error["minimumAmount"] == 6000
    assert code_of("ONCE")["code"] == "promotion_code_requires_email"
    assert code_of("HUGE")["code"] == "amount_too_small"  # 5000 - 4990 < 50
    assert code_of("x" * 65)["code"] == "invalid_promotion_code"
    # A refused code costs no PaymentIntent and leaves no order.
    assert list(db().collection(ORDERS).stream()) == []


def test_once_per_email_one_use_then_already_used(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, deliver: Deliver
) -> None:
    add_code("ONCE", percent_off=10, once_per_email=True)
    first = post(
        checkout_api,
        body(str(uuid.uuid4()), "ONCE", email="ada@example.com", shipping=US_ADDRESS),
    )
    assert first.status_code == 200, first.get_json()
    # A second checkout of the same email while the first holds it, any case of the address.
    second = post(checkout_api, body(str(uuid.uuid4()), "ONCE", email="ADA@example.com"))
    assert refused(second)["code"] == "promotion_code_already_used"
    pi_id = first.get_json()["paymentIntentId"]
    deliver(pay(stripe_client, pi_id))
    assert order_of(pi_id)["status"] == "paid"
    third = post(checkout_api, body(str(uuid.uuid4()), "ONCE", email="ada@example.com"))
    assert refused(third)["code"] == "promotion_code_already_used"
    other = post(checkout_api, body(str(uuid.uuid4()), "ONCE", email="bob@example.com"))
    assert other.status_code == 200


def test_the_last_redemption_raced_by_fifty_checkouts_goes_to_one(
    stripe_client: stripe.StripeClient,
) -> None:
    add_code("LAST1", percent_off=10, max_redemptions=1)
    racers = 50
    clients = [function_client("checkout_api") for _ in range(racers)]
    start = threading.Barrier(racers)
    checkout_ids = [str(uuid.uuid4()) for _ in range(racers)]

    def shopper(index: int) -> tuple[int, Any]:
        sent = body(checkout_ids[index], "LAST1")
        start.wait()
        response = post(clients[index], sent, ip=f"198.51.100.{index + 1}")
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=racers) as pool:
        results = list(pool.map(shopper, range(racers)))

    served = [answer for status, answer in results if status == 200]
    losers = [answer["error"]["code"] for status, answer in results if status != 200]
    assert len(served) == 1, results
    assert set(losers) == {"promotion_code_used_up"}, losers
    assert counts(POOL) == (0, 1, 0)  # never more than maxRedemptions
    assert [o.id for o in db().collection(ORDERS).stream()] == [served[0]["paymentIntentId"]]


def test_a_redemption_is_sold_once_whatever_the_duplicates(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, deliver: Deliver
) -> None:
    add_code("LAST1", percent_off=10, max_redemptions=2)
    # The tees ship: $50 less 10%, plus $5 to the US (freeAbove counts the discounted $45).
    answer = post(checkout_api, body(str(uuid.uuid4()), "LAST1", shipping=US_ADDRESS)).get_json()
    pi_id = answer["paymentIntentId"]
    assert (answer["amount"], answer["shippingAmount"]) == (5000, 500)
    assert order_of(pi_id)["holdPools"] == [POOL]
    assert counts(POOL) == (1, 1, 0)
    succeeded = pay(stripe_client, pi_id)
    for _ in range(3):
        deliver(succeeded)
    assert counts(POOL) == (1, 0, 1)
    order = order_of(pi_id)
    assert order["status"] == "paid"  # the discounted amount was what the order asked
    assert order["amountReceived"] == 5000 and order["discount"]["code"] == "LAST1"
    charged = stripe_client.v1.payment_intents.retrieve(pi_id)  # (localstripe: no amount_received)
    assert (charged.status, int(charged.amount)) == ("succeeded", 5000)


def test_a_cancel_gives_the_redemption_back(
    checkout_api: FlaskClient, stripe_client: stripe.StripeClient, deliver: Deliver
) -> None:
    add_code("LAST1", percent_off=10, max_redemptions=1)
    pi_id = post(checkout_api, body(str(uuid.uuid4()), "LAST1")).get_json()["paymentIntentId"]
    assert counts(POOL) == (0, 1, 0)
    stripe_client.v1.payment_intents.cancel(pi_id)
    canceled = intent_event(stripe_client, "payment_intent.canceled", pi_id)
    deliver(canceled)
    deliver(canceled)
    assert counts(POOL) == (1, 0, 0)
    assert post(checkout_api, body(str(uuid.uuid4()), "LAST1")).status_code == 200


def test_removing_the_code_gives_the_redemption_back(checkout_api: FlaskClient) -> None:
    add_code("LAST1", percent_off=10, max_redemptions=1)
    checkout_id = str(uuid.uuid4())
    assert post(checkout_api, body(checkout_id, "LAST1")).status_code == 200
    assert refused(post(checkout_api, body(str(uuid.uuid4()), "LAST1")))["code"] == (
        "promotion_code_used_up"
    )
    assert post(checkout_api, body(checkout_id)).status_code == 200  # removed
    assert counts(POOL) == (1, 0, 0)
    assert post(checkout_api, body(str(uuid.uuid4()), "LAST1")).status_code == 200


def test_a_lapsed_hold_frees_the_redemption_for_another(
    checkout_api: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_code("LAST1", percent_off=10, max_redemptions=1)
    monkeypatch.setenv("STOCK_HOLD_SECONDS", "1")
    first = str(uuid.uuid4())
    assert post(checkout_api, body(first, "LAST1")).status_code == 200
    threading.Event().wait(1.5)  # the hold lapses (a state to reach, not a timing asserted)
    assert counts(POOL) == (1, 0, 0)
    monkeypatch.setenv("STOCK_HOLD_SECONDS", "900")
    assert post(checkout_api, body(str(uuid.uuid4()), "LAST1")).status_code == 200
    # The first checkout's Pay re-check finds the redemption gone: told before paying.
    assert refused(post(checkout_api, body(first, "LAST1")))["code"] == "promotion_code_used_up"


def test_a_code_that_expires_while_held_still_honours_that_checkout(
    checkout_api: FlaskClient,
) -> None:
    add_code("LAST1", percent_off=10, max_redemptions=5)
    checkout_id = str(uuid.uuid4())
    assert post(checkout_api, body(checkout_id, "LAST1")).status_code == 200
    ended = document_of(
        PromotionCode("LAST1", "usd", True, percent_off=10, max_redemptions=5, expires_at=now())
    )
    db().collection(PROMOTION_CODES).document("LAST1").set(ended)
    again = post(checkout_api, body(checkout_id, "LAST1", mugs=1))  # Pay's re-check, a new cart
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["discount"] == 640
    assert refused(post(checkout_api, body(str(uuid.uuid4()), "LAST1")))["code"] == (
        "promotion_code_expired"
    )


def test_wrong_codes_past_the_limit_get_429_even_for_a_real_code(
    checkout_api: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WRONG_PROMOTION_CODES_PER_IP_PER_10_MINUTES", "3")
    monkeypatch.setattr(rate_limits, "clock", lambda: 1_800_000_100.0)  # one window
    add_code("SAVE10", percent_off=10)
    ip = "192.0.2.77"
    for guess in ("AAA1", "BBB2", "CCC3"):
        assert refused(post(checkout_api, body(str(uuid.uuid4()), guess), ip))["code"] == (
            "promotion_code_unknown"
        )
    for code in ("DDD4", "SAVE10"):
        limited = post(checkout_api, body(str(uuid.uuid4()), code), ip)
        assert limited.status_code == 429, limited.get_json()
        assert limited.get_json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) == 500  # to the window's end
    # Another address is not concerned, and a cart without a code is served.
    assert post(checkout_api, body(str(uuid.uuid4()), "SAVE10"), "192.0.2.78").status_code == 200
    assert post(checkout_api, body(str(uuid.uuid4())), ip).status_code == 200
