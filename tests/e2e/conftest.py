"""End-to-end tests: a real browser against the whole local stack.

The stack (Hosting + Functions emulators serving the offline site, Firestore emulator, localstripe
with its webhook registered, the Stripe.js stand-in) is started by `python dev/stack.py e2e -- ...`
(or `make e2e`). These tests never start or skip anything themselves: when the stack is not up,
every test fails and says so.

Settings (environment; dev/stack.py sets them): CHECKOUT_BASE_URL, STRIPE_API_BASE and
STRIPE_SECRET_KEY (localstripe, to check what was charged), FIRESTORE_EMULATOR_HOST, GCLOUD_PROJECT,
CHROMIUM_PATH.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Response,
    expect,
    sync_playwright,
)

from tests.shipping_address import US_ADDRESS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
# Where the stack runs: dev/stack.py chooses free ports for each run and sets these; nothing
# here assumes a port.
REQUIRED_ENV = (
    "CHECKOUT_BASE_URL",
    "STRIPE_API_BASE",
    "STRIPE_SECRET_KEY",
    "FIRESTORE_EMULATOR_HOST",
    "GCLOUD_PROJECT",
)
BASE_URL = os.environ.get("CHECKOUT_BASE_URL", "").rstrip("/")
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "").rstrip("/")
STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
FIRESTORE_HOST = os.environ.get("FIRESTORE_EMULATOR_HOST", "")
PROJECT_ID = os.environ.get("GCLOUD_PROJECT", "")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}

# Stripe test cards (the stand-in and localstripe treat them as Stripe does).
CARD_OK = "4242 4242 4242 4242"
CARD_DECLINED = "4000 0000 0000 0341"
CARD_3DS = "4000 0027 6000 3184"
CARD_3DS_OTHER = "4000 0025 0000 3155"

# First answers from a cold Python worker take a few seconds; webhooks arrive ~1 s after payment.
SLOW = 20_000


def stripe_get(path: str) -> dict[str, Any]:
    """Read an object from localstripe with the secret key (what was really charged)."""
    response = requests.get(f"{STRIPE_API_BASE}{path}", auth=(STRIPE_SECRET_KEY, ""), timeout=10)
    response.raise_for_status()
    return dict(response.json())


def firestore_order(payment_intent_id: str) -> dict[str, Any]:
    """The order document as stored, read through the emulator's REST API as the admin."""
    url = (
        f"http://{FIRESTORE_HOST}/v1/projects/{PROJECT_ID}/databases/(default)/documents/"
        f"orders/{payment_intent_id}"
    )
    response = requests.get(url, headers={"Authorization": "Bearer owner"}, timeout=10)
    response.raise_for_status()
    return dict(response.json()["fields"])


def firestore_status(payment_intent_id: str) -> str | None:
    """The order's status in Firestore, or None while there is no order."""
    try:
        return str(firestore_order(payment_intent_id)["status"]["stringValue"])
    except requests.HTTPError:
        return None


@pytest.fixture(scope="session", autouse=True)
def stack_settings() -> None:
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not set: run the end-to-end tests through `make e2e` (or "
            "`functions/venv/bin/python dev/stack.py e2e -- functions/venv/bin/python -m pytest "
            "tests/e2e`), which starts the stack and sets them.",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def stack() -> dict[str, Any]:
    """The running stack's public config; fails every test loudly when the stack is not up."""
    try:
        config = requests.get(f"{BASE_URL}/api/config", timeout=30)
        page = requests.get(f"{BASE_URL}/", timeout=10)
    except requests.RequestException as e:
        pytest.fail(
            f"The local stack is not answering at {BASE_URL} ({e}). "
            "Start it with: python dev/stack.py e2e -- pytest tests/e2e"
        )
    assert config.status_code == 200, f"GET /api/config: {config.status_code} {config.text[:300]}"
    match = re.search(r'<script src="([^"]+)/v3/"></script>', page.text)
    assert match and "js.stripe.com" not in match.group(1), (
        "The page does not load the Stripe.js stand-in: these tests need the offline site "
        "(built by dev/stack.py under .run/)"
    )
    return {**config.json(), "standinOrigin": match.group(1)}


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class Checkout:
    """The checkout page, and what it sent and received, as a test sees it."""

    page: Page
    name: str
    intents: list[dict[str, Any]] = field(default_factory=list)  # POST /api/payment-intents answers
    confirm_requests: int = 0  # card confirmations sent to the Stripe stand-in
    csp_violations: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def watch(self) -> None:
        self.page.on("response", self._on_response)
        self.page.on("request", self._on_request)
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def _on_response(self, response: Response) -> None:
        if response.url.endswith("/api/payment-intents") and response.ok:
            self.intents.append(response.json())

    def _on_request(self, request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/v1/confirm"):
            self.confirm_requests += 1

    def _on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    # ---- actions ----

    def open(self, path: str = "/") -> None:
        self.page.goto(BASE_URL + path)
        self.expect_ready()

    def expect_ready(self) -> None:
        """The server priced the cart and the Payment Element is mounted: paying is possible."""
        expect(self.page.locator("#pay-button")).to_be_enabled(timeout=SLOW)
        expect(self.page.locator("#standin-card-number")).to_be_visible()

    def set_quantity(self, product_id: str, quantity: int) -> None:
        field_ = self.page.locator(f"#qty-{product_id}")
        field_.fill(str(quantity))
        field_.blur()  # the page reacts on `change`, as a shopper leaves the field

    def fill_address(self, shipping: dict[str, Any] = US_ADDRESS) -> None:
        """Types `shipping` into the stand-in's Address Element (the cart ships) and waits for
        the server's price with it."""
        fill_address(self.page, shipping)
        # Priced with it: later steps (and any answer a test intercepts) see the next request.
        expect(self.page.locator("#shipping-line")).to_be_visible(timeout=SLOW)
        self.expect_ready()

    def fill_card(self, number: str, expiry: str = "12 / 34", cvc: str = "123") -> None:
        # Every flow that buys a shippable product sends an address (tests.shipping_address).
        name = self.page.locator("#standin-address-name")
        if name.is_visible() and not name.input_value():
            self.fill_address()
        self.page.fill("#standin-card-number", number)
        self.page.fill("#standin-card-expiry", expiry)
        self.page.fill("#standin-card-cvc", cvc)

    def pay(self) -> None:
        self.page.click("#pay-button")

    def expect_order(self, status: str) -> None:
        expect(self.page.locator("#order-status")).to_have_attribute(
            "data-status", status, timeout=SLOW
        )

    def expect_payment_error(self, pattern: str) -> None:
        expect(self.page.locator("#payment-message")).to_be_visible(timeout=SLOW)
        expect(self.page.locator("#payment-message")).to_contain_text(re.compile(pattern, re.I))

    def focused(self) -> str:
        return str(self.page.evaluate("() => document.activeElement.id"))

    def wait_until(self, condition: Callable[[], bool], timeout_ms: int = SLOW) -> None:
        """Wait for something outside the page (Firestore, Stripe), letting the page run."""
        for _ in range(timeout_ms // 200):
            if condition():
                return
            self.page.wait_for_timeout(200)
        raise AssertionError(f"still not true after {timeout_ms} ms")

    def watch_order_status(self) -> None:
        """Record every value #order-status[data-status] takes from now on."""
        self.page.evaluate(
            """() => {
                const status = document.getElementById('order-status');
                window.orderStatuses = [];
                new MutationObserver(() => window.orderStatuses.push(status.dataset.status))
                    .observe(status, {attributeFilter: ['data-status']});
            }"""
        )

    def order_statuses(self) -> list[str]:
        return list(self.page.evaluate("() => window.orderStatuses"))

    def screenshot(self, stage: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{self.name}-{stage}.png"), full_page=True)

    def session_checkout(self) -> dict[str, Any] | None:
        saved = self.page.evaluate("() => sessionStorage.getItem('checkout')")
        return json.loads(saved) if saved else None

    def checkout_id(self) -> str:
        saved = self.session_checkout()
        assert saved is not None, "no checkout in sessionStorage"
        return str(saved["id"])

    @property
    def intent(self) -> dict[str, Any]:
        assert self.intents, "the page has not received a PaymentIntent"
        return self.intents[-1]


def fill_address(page: Page, shipping: dict[str, Any] = US_ADDRESS) -> None:
    """Types `shipping` into the stand-in's Address Element; the page then prices the cart."""
    address = shipping["address"]
    page.select_option("#standin-address-country", address["country"])
    for key in ("line1", "line2", "city", "state", "postal_code"):
        page.fill(f"#standin-address-{key.replace('_', '-')}", address[key] or "")
    page.fill("#standin-address-name", shipping["name"])


def open_context(browser: Browser, **options: Any) -> BrowserContext:
    context = browser.new_context(**options)
    context.set_default_timeout(SLOW)
    return context


@pytest.fixture
def checkout(
    request: pytest.FixtureRequest, browser: Browser, stack: dict[str, Any]
) -> Iterator[Checkout]:
    """A fresh browser context (own sessionStorage) with the page's traffic and errors watched."""
    marker = request.node.get_closest_marker("viewport")
    context = open_context(
        browser, viewport=marker.args[0] if marker else {"width": 1280, "height": 900}
    )
    shopper = Checkout(context.new_page(), request.node.name)
    shopper.watch()
    yield shopper
    context.close()
    # Checked for every test: the page must work under its CSP, without uncaught errors.
    assert not shopper.csp_violations, f"CSP violations: {shopper.csp_violations}"
    assert not shopper.page_errors, f"uncaught page errors: {shopper.page_errors}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "viewport(size): browser viewport for the `checkout` fixture"
    )
