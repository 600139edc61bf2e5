"""The owner changes the catalog while the shop runs (the owner's tool, `dev/catalog.py`, against
the stack's Firestore): a reload shows a new product and a new price, and a shopper whose cart
holds a product taken off sale sees it removed, is told, and pays for the rest."""

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.conftest import BASE_URL, CARD_OK, ROOT, Checkout, stripe_get

SAMPLE = ROOT / "catalog.json"


def owner_imports(path: Path) -> None:
    """`make catalog FILE=...`: the environment names the stack's Firestore emulator."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "dev" / "catalog.py"), "import", str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def config_products() -> dict[str, dict[str, Any]]:
    response = requests.get(f"{BASE_URL}/api/config", timeout=10)
    response.raise_for_status()
    return {p["id"]: p for p in response.json()["products"]}


def until(checkout: Checkout, condition: Callable[[], bool]) -> None:
    """The functions keep the catalog CATALOG_CACHE_SECONDS (1 s on the e2e stack)."""
    checkout.wait_until(condition)


@pytest.fixture
def catalog_file(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], Path]]:
    """Writes the owner's edited catalog; afterwards catalog.json is the catalog again."""

    def edited(changes: dict[str, Any]) -> Path:
        data = json.loads(SAMPLE.read_text(encoding="utf-8"))
        products = {p["id"]: p for p in data["products"]}
        for product_id, fields in changes.items():
            if fields is None:
                del products[product_id]
            else:
                products[product_id] = {**products.get(product_id, {}), **fields}
        data["products"] = list(products.values())
        path = tmp_path / "catalog.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return path

    yield edited
    owner_imports(SAMPLE)
    sample = {p["id"] for p in json.loads(SAMPLE.read_text(encoding="utf-8"))["products"]}
    for _ in range(100):  # the next test must find the sample shop again
        if set(config_products()) == sample:
            return
        requests.get(f"{BASE_URL}/api/config", timeout=10)


def test_a_new_product_and_a_new_price_show_on_reload(
    checkout: Checkout, catalog_file: Callable[[dict[str, Any]], Path]
) -> None:
    checkout.open()
    cap = {
        "id": "cap-wool", "name": "Wool cap", "description": "Warm.", "unitAmount": 1800,
        "active": True, "position": 4, "shippable": True, "images": [],
    }  # fmt: skip
    owner_imports(catalog_file({"cap-wool": cap, "mug-enamel": {"unitAmount": 1600}}))
    until(checkout, lambda: "cap-wool" in config_products())
    checkout.page.reload()
    checkout.expect_ready()
    page = checkout.page
    expect(page.locator("#qty-cap-wool")).to_be_visible()
    expect(page.locator(".product").nth(3)).to_contain_text("Wool cap")
    expect(page.locator(".product").nth(1)).to_contain_text("$16.00")
    checkout.set_quantity("mug-enamel", 1)
    checkout.set_quantity("cap-wool", 2)
    expect(page.locator("#amount")).to_have_text("$77.00")  # 25 + 16 + 2 x 18, by the server
    checkout.expect_ready()
    assert checkout.intent["amount"] == 7700


def test_a_product_taken_off_sale_leaves_the_cart_and_the_rest_is_paid(
    checkout: Checkout, catalog_file: Callable[[dict[str, Any]], Path]
) -> None:
    checkout.open()
    checkout.fill_address()  # before the catalog changes: Pay is what meets the change
    checkout.set_quantity("sticker-pack", 2)
    page = checkout.page
    expect(page.locator("#amount")).to_have_text("$40.00")  # + $5 to the US
    checkout.expect_ready()
    owner_imports(catalog_file({"sticker-pack": None}))  # deactivated: not in the file
    until(checkout, lambda: "sticker-pack" not in config_products())

    checkout.fill_card(CARD_OK)
    checkout.pay()  # the page checks the cart with the server first: 409 product_unavailable
    expect(page.locator("#status-message")).to_contain_text("Sticker pack")
    expect(page.locator("#status-message")).to_contain_text("No longer available")
    expect(page.locator("#qty-sticker-pack")).to_have_count(0)
    expect(page.locator("#pay-button")).to_have_text("Pay $30.00", timeout=20_000)  # + $5 to US
    checkout.expect_ready()
    assert checkout.confirm_requests == 0, "nothing was charged for the old cart"

    checkout.pay()
    checkout.expect_order("paid")
    charged = stripe_get(f"/v1/payment_intents/{checkout.intent['paymentIntentId']}")
    assert int(charged["amount"]) == 2500 + 500  # the tee, shipped to the US
    assert charged["metadata"]["items"] == "tee-classic:1:2500"
