"""Stock held by checkouts through POST /api/payment-intents (the real function app, the
Firestore emulator, localstripe): never oversold, given back, lapsing, renewed by Pay's re-check."""

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from flask.testing import FlaskClient
from google.cloud import firestore

from checkout.holds import store as holds
from checkout.holds.pool import product_pool
from checkout.intents import stock_holds
from checkout.platform.collections import ORDERS, POOL_SHARDS, POOLS
from checkout.platform.errors import ApiError
from checkout.products import live_catalog
from checkout.stripe_api import payment_intents
from tests.integration.conftest import function_client

MUG = product_pool("mug-enamel")
TEE = product_pool("tee-classic")


def now() -> datetime:
    return datetime.now(UTC)


def stock(pool: str, total: int) -> None:
    holds.set_total(pool, total, now())


def on_sale(pool: str) -> int | None:
    return holds.availability([pool], now())[pool]


def cart(checkout_id: str, mugs: int = 1, tees: int = 0) -> dict[str, Any]:
    items = [{"productId": "mug-enamel", "quantity": mugs}] if mugs else []
    if tees:
        items.append({"productId": "tee-classic", "quantity": tees})
    return {"checkoutId": checkout_id, "items": items}


def post(client: FlaskClient, body: dict[str, Any], ip: str = "203.0.113.7") -> Any:
    # Each shopper from its own address (X-Forwarded-For as Google's front end writes it).
    return client.post(
        "/api/payment-intents", json=body, headers={"X-Forwarded-For": f"{ip}, 10.0.0.1"}
    )


def refused_for_stock(response: Any) -> dict[str, int]:
    assert response.status_code == 409, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "out_of_stock"
    available: dict[str, int] = error["available"]
    return available


def order_of(firestore_db: firestore.Client, body: dict[str, Any]) -> dict[str, Any]:
    order = firestore_db.collection(ORDERS).document(body["paymentIntentId"]).get().to_dict()
    assert order is not None
    return order


def hold_of(firestore_db: firestore.Client, pool: str, key: str) -> list[dict[str, Any]]:
    shards = firestore_db.collection(POOLS).document(pool).collection(POOL_SHARDS).stream()
    return [
        {"ref": shard.reference, **(shard.to_dict() or {})["holds"][key]}
        for shard in shards
        if key in ((shard.to_dict() or {}).get("holds") or {})
    ]


@pytest.fixture
def short_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOCK_HOLD_SECONDS", "1")


def lapse() -> None:
    """Let a 1-second hold lapse (a wait for the clock, not a timed assertion)."""
    time.sleep(1.5)


def test_the_last_unit_raced_by_twenty_checkouts_goes_to_one(
    stripe_client: stripe.StripeClient, firestore_db: firestore.Client
) -> None:
    stock(MUG, 1)
    racers = 20
    clients = [function_client("checkout_api") for _ in range(racers)]
    start = threading.Barrier(racers)

    checkout_ids = [str(uuid.uuid4()) for _ in range(racers)]

    def shopper(index: int) -> tuple[int, Any]:
        body = cart(checkout_ids[index])
        start.wait()
        response = post(clients[index], body, ip=f"198.51.100.{index + 1}")
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(max_workers=racers) as pool:
        results = list(pool.map(shopper, range(racers)))

    served = [body for status, body in results if status == 200]
    refused = [body["error"] for status, body in results if status == 409]
    assert len(served) == 1 and len(refused) == racers - 1, results
    assert {e["code"] for e in refused} == {"out_of_stock"}
    assert all(e["available"] == {"mug-enamel": 0} for e in refused)
    assert on_sale(MUG) == 0  # never oversold: the one unit is held by the one served
    # A shopper refused for stock cost no PaymentIntent, and left no order.
    assert [o.id for o in firestore_db.collection(ORDERS).stream()] == [
        served[0]["paymentIntentId"]
    ]
    listed = stripe_client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter()
    made = [pi.id for pi in listed if pi.metadata.to_dict().get("checkoutId") in checkout_ids]
    assert made == [served[0]["paymentIntentId"]]


def test_the_order_names_its_hold_and_a_smaller_cart_gives_units_back(
    checkout_api: FlaskClient, firestore_db: firestore.Client
) -> None:
    stock(MUG, 5)
    stock(TEE, 2)
    ada, bob = str(uuid.uuid4()), str(uuid.uuid4())
    first = post(checkout_api, cart(ada, mugs=3, tees=2))
    assert first.status_code == 200, first.get_json()
    order = order_of(firestore_db, first.get_json())
    assert order["holdKey"] == ada
    assert order["holdPools"] == sorted([MUG, TEE])
    assert (on_sale(MUG), on_sale(TEE)) == (2, 0)

    # What is available to a checkout counts its own hold: ada may have all 5 mugs, bob 2.
    assert refused_for_stock(post(checkout_api, cart(bob, mugs=3, tees=1))) == {
        "mug-enamel": 2,
        "tee-classic": 0,
    }
    assert refused_for_stock(post(checkout_api, cart(ada, mugs=6, tees=2))) == {
        "mug-enamel": 5,
        "tee-classic": 2,
    }
    assert (on_sale(MUG), on_sale(TEE)) == (2, 0)  # a refusal holds nothing new

    # Ada's smaller cart, without the tees: 2 mugs and both tees go back on sale.
    smaller = post(checkout_api, cart(ada, mugs=1))
    assert smaller.status_code == 200, smaller.get_json()
    assert (on_sale(MUG), on_sale(TEE)) == (4, 2)
    assert order_of(firestore_db, smaller.get_json())["holdPools"] == [MUG]
    assert post(checkout_api, cart(bob, mugs=3, tees=1)).status_code == 200
    assert (on_sale(MUG), on_sale(TEE)) == (1, 1)


def test_an_untracked_product_holds_nothing(
    checkout_api: FlaskClient, firestore_db: firestore.Client
) -> None:
    stock(MUG, 5)
    response = post(checkout_api, cart(str(uuid.uuid4()), mugs=1, tees=50))
    assert response.status_code == 200, response.get_json()
    assert order_of(firestore_db, response.get_json())["holdPools"] == [MUG]
    assert (on_sale(MUG), on_sale(TEE)) == (4, None)


@pytest.mark.usefixtures("short_holds")
def test_a_lapsed_hold_goes_to_another_shopper_and_pay_then_refuses(
    checkout_api: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    stock(MUG, 1)
    ada, bob = str(uuid.uuid4()), str(uuid.uuid4())
    assert post(checkout_api, cart(ada)).status_code == 200
    assert refused_for_stock(post(checkout_api, cart(bob), ip="198.51.100.2")) == {"mug-enamel": 0}
    lapse()
    assert on_sale(MUG) == 1  # read at once as on sale: no sweep
    monkeypatch.setenv("STOCK_HOLD_SECONDS", "900")
    assert post(checkout_api, cart(bob), ip="198.51.100.2").status_code == 200
    # Ada clicks Pay: the page's re-check is the same cart again, answered from the record,
    # and is told before paying that the unit is gone.
    assert refused_for_stock(post(checkout_api, cart(ada))) == {"mug-enamel": 0}
    assert on_sale(MUG) == 0


@pytest.mark.usefixtures("short_holds")
def test_pay_takes_a_lapsed_hold_again_while_the_units_are_on_sale(
    checkout_api: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    stock(MUG, 2)
    ada = str(uuid.uuid4())
    first = post(checkout_api, cart(ada, mugs=2))
    assert first.status_code == 200
    lapse()
    assert on_sale(MUG) == 2
    monkeypatch.setenv("STOCK_HOLD_SECONDS", "900")
    again = post(checkout_api, cart(ada, mugs=2))
    assert again.status_code == 200, again.get_json()
    assert again.get_json() == first.get_json()  # the same PaymentIntent, answered from the record
    assert on_sale(MUG) == 0


def test_pay_renews_a_hold_near_its_end(
    checkout_api: FlaskClient, firestore_db: firestore.Client
) -> None:
    stock(MUG, 3)
    ada = str(uuid.uuid4())
    assert post(checkout_api, cart(ada)).status_code == 200
    (held,) = hold_of(firestore_db, MUG, ada)
    assert held["until"] > now() + timedelta(seconds=880)
    # A repeat soon after writes nothing (a renewal less than a minute later is skipped).
    assert post(checkout_api, cart(ada)).status_code == 200
    assert hold_of(firestore_db, MUG, ada)[0]["until"] == held["until"]
    # 14 min 55 s later, as far as the hold is concerned: Pay's re-check renews it.
    near_end = now() + timedelta(seconds=5)
    held["ref"].update({f"holds.`{ada}`.until": near_end})
    assert post(checkout_api, cart(ada)).status_code == 200
    (renewed,) = hold_of(firestore_db, MUG, ada)
    assert renewed["units"] == 1 and renewed["until"] > now() + timedelta(seconds=880)


def test_the_owner_adds_stock_mid_sale_and_the_refused_shopper_is_served(
    checkout_api: FlaskClient,
) -> None:
    stock(MUG, 1)
    ada, bob = str(uuid.uuid4()), str(uuid.uuid4())
    assert post(checkout_api, cart(ada)).status_code == 200
    assert refused_for_stock(post(checkout_api, cart(bob, mugs=2))) == {"mug-enamel": 0}
    stock(MUG, 3)  # the owner raises the stock by 2 while ada's unit is held
    assert post(checkout_api, cart(bob, mugs=2)).status_code == 200
    assert on_sale(MUG) == 0


def test_a_payment_intent_that_cannot_be_made_gives_the_units_back(
    checkout_api: FlaskClient, monkeypatch: pytest.MonkeyPatch, firestore_db: firestore.Client
) -> None:
    stock(MUG, 2)

    def stripe_down(*_: Any) -> Any:
        raise ApiError(502, "stripe_unavailable", "Stripe is unavailable.")

    monkeypatch.setattr(payment_intents, "create_intent", stripe_down)
    response = post(checkout_api, cart(str(uuid.uuid4()), mugs=2))
    assert response.status_code == 502
    assert on_sale(MUG) == 2  # released at once, not when the hold lapses
    assert list(firestore_db.collection(ORDERS).stream()) == []


def test_a_payment_under_way_takes_no_hold(
    checkout_api: FlaskClient, firestore_db: firestore.Client, short_holds: None
) -> None:
    stock(MUG, 1)
    ada = str(uuid.uuid4())
    first = post(checkout_api, cart(ada))
    assert first.status_code == 200
    order_ref = firestore_db.collection(ORDERS).document(first.get_json()["paymentIntentId"])
    order_ref.update({"status": "processing"})  # as the webhook records it
    lapse()
    # The repeat answers from the record and leaves the units to the ledger (which pins them).
    assert post(checkout_api, cart(ada)).status_code == 200
    assert on_sale(MUG) == 1


def test_config_shows_what_is_on_sale(checkout_api: FlaskClient) -> None:
    stock(MUG, 3)
    assert post(checkout_api, cart(str(uuid.uuid4()), mugs=2)).status_code == 200
    live_catalog.shop_catalog.clear()  # the instance's copy was read before the stock
    products = checkout_api.get("/api/config").get_json()["products"]
    assert {p["id"]: p["available"] for p in products} == {
        "tee-classic": None,
        "mug-enamel": 1,
        "sticker-pack": None,
    }


def test_concurrent_requests_of_one_checkout_hold_what_its_order_records(
    firestore_db: firestore.Client,
) -> None:
    stock(MUG, 10)
    ada = str(uuid.uuid4())
    concurrent = 8
    clients = [function_client("checkout_api") for _ in range(concurrent)]
    assert post(clients[0], cart(ada, mugs=1)).status_code == 200
    start = threading.Barrier(concurrent)

    def shopper(index: int) -> int:
        start.wait()  # repeats of the cart and changes of it, all at once
        return int(post(clients[index], cart(ada, mugs=1 + index % 3)).status_code)

    with ThreadPoolExecutor(max_workers=concurrent) as pool:
        statuses = list(pool.map(shopper, range(concurrent)))
    assert set(statuses) <= {200, 409}, statuses
    (order,) = [o.to_dict() or {} for o in firestore_db.collection(ORDERS).stream()]
    (line,) = order["items"]
    # Whichever cart was recorded last, the checkout holds exactly its units.
    assert holds.read_pools(firestore_db, [MUG]).pools[MUG].held_by(ada, now()) == line["quantity"]
    assert on_sale(MUG) == 10 - line["quantity"]


def test_a_cart_change_while_a_repeat_holds_leaves_the_hold_matching_the_order(
    checkout_api: FlaskClient, firestore_db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repeat holds without the checkout's claim: a cart change recorded meanwhile must not
    be left with the repeat's (older) units held."""
    stock(MUG, 10)
    ada = str(uuid.uuid4())
    assert post(checkout_api, cart(ada, mugs=1)).status_code == 200
    other_client = function_client("checkout_api")
    real_hold = stock_holds.hold_cart
    interfered: list[int] = []

    def hold_after_a_change(
        checkout_id: str, priced: Any, held_before: Any = (), redemptions: Any = ()
    ) -> list[str]:
        if not interfered:
            # The repeat (1 mug) has read the record; a change to 3 mugs is recorded now.
            interfered.append(1)
            change = threading.Thread(target=post, args=(other_client, cart(ada, mugs=3)))
            change.start()
            change.join()
        return real_hold(checkout_id, priced, held_before, redemptions)

    monkeypatch.setattr(stock_holds, "hold_cart", hold_after_a_change)
    assert post(checkout_api, cart(ada, mugs=1)).status_code == 200
    (order,) = [o.to_dict() or {} for o in firestore_db.collection(ORDERS).stream()]
    (line,) = order["items"]
    held = holds.read_pools(firestore_db, [MUG]).pools[MUG].held_by(ada, now())
    assert (line["quantity"], held) == (1, 1)  # the repeat came last: its cart, its units
