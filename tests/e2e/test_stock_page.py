"""Stock on the page: "Only N left" and "Sold out" in the product list, and a shopper whose unit
was taken by another checkout is told when pressing Pay, before anything is confirmed."""

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from playwright.sync_api import expect

from checkout.holds import store as holds
from checkout.holds.pool import product_pool
from checkout.platform.collections import POOL_SHARDS, POOLS
from checkout.platform.firestore_client import db
from tests.e2e.conftest import BASE_URL, CARD_OK, Checkout

MUG, STICKERS = product_pool("mug-enamel"), product_pool("sticker-pack")


def available() -> dict[str, int | None]:
    response = requests.get(f"{BASE_URL}/api/config", timeout=10)
    response.raise_for_status()
    return {p["id"]: p["available"] for p in response.json()["products"]}


@pytest.fixture
def stock() -> Iterator[Callable[[str, int], None]]:
    """The owner stocks a product (the stack's Firestore); afterwards nothing is stocked."""
    stocked: list[str] = []

    def put_on_sale(pool: str, total: int) -> None:
        holds.set_total(pool, total, datetime.now(UTC))
        stocked.append(pool)

    yield put_on_sale
    for pool in stocked:
        holds.set_total(pool, None, datetime.now(UTC))


def test_the_list_says_only_n_left_and_sold_out(
    checkout: Checkout, stock: Callable[[str, int], None]
) -> None:
    stock(MUG, 3)
    stock(STICKERS, 0)
    # The functions keep the catalog, stock included, 1 s on the e2e stack.
    checkout.page.goto(BASE_URL + "/")
    checkout.wait_until(lambda: available()["sticker-pack"] == 0)
    checkout.open()
    page = checkout.page
    expect(page.locator("#stock-mug-enamel")).to_have_text("Only 3 left")
    expect(page.locator("#stock-sticker-pack")).to_have_text("Sold out")
    expect(page.locator("#qty-sticker-pack")).to_be_disabled()
    expect(page.locator("#qty-mug-enamel")).to_be_enabled()
    # Heard with the field it limits.
    expect(page.locator("#qty-sticker-pack")).to_have_attribute(
        "aria-describedby", "stock-sticker-pack"
    )
    expect(page.locator("#stock-tee-classic")).to_have_text("")  # not stocked: no limit


def test_a_shopper_whose_unit_was_taken_is_told_before_paying(
    checkout: Checkout, stock: Callable[[str, int], None]
) -> None:
    stock(MUG, 1)
    checkout.open()
    checkout.set_quantity("mug-enamel", 1)
    page = checkout.page
    expect(page.locator("#amount")).to_have_text("$39.00")  # a tee and the mug, held
    checkout.expect_ready()
    checkout.fill_card(CARD_OK)

    # The shopper's hold lapses (as after STOCK_HOLD_SECONDS away), and another checkout takes
    # the last mug through the API.
    shards = db().collection(POOLS).document(MUG).collection(POOL_SHARDS)
    key = checkout.checkout_id()
    for shard in shards.stream():
        if key in ((shard.to_dict() or {}).get("holds") or {}):
            past = datetime.now(UTC) - timedelta(seconds=1)
            shard.reference.update({f"holds.`{key}`.until": past})
    other = requests.post(
        f"{BASE_URL}/api/payment-intents",
        json={
            "checkoutId": str(uuid.uuid4()),
            "items": [{"productId": "mug-enamel", "quantity": 1}],
        },
        timeout=30,
    )
    assert other.status_code == 200, other.text

    checkout.pay()  # the page checks the cart with the server first: 409 out_of_stock
    checkout.expect_payment_error("Not enough in stock")
    expect(page.locator("#status-message")).to_contain_text("Enamel mug is sold out")
    expect(page.locator("#qty-mug-enamel")).to_have_value("0")
    expect(page.locator("#stock-mug-enamel")).to_have_text("Sold out")
    expect(page.locator("#qty-mug-enamel")).to_be_disabled()
    assert checkout.focused() == "payment-message"
    # The rest of the cart is priced again, and can be paid.
    expect(page.locator("#pay-button")).to_have_text("Pay $30.00", timeout=20_000)  # + $5 to US
    assert checkout.confirm_requests == 0, "nothing was confirmed for the mug that was gone"
