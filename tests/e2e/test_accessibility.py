"""axe-core finds no serious or critical accessibility problem, on a phone and on a desktop,
before paying, with an error shown, and after paying."""

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    BASE_URL,
    CARD_OK,
    PHONE,
    ROOT,
    SLOW,
    Checkout,
    fill_address,
    open_context,
)

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(params=[PHONE, {"width": 1280, "height": 900}], ids=["phone", "desktop"])
def page(request: pytest.FixtureRequest, browser: Browser, stack: dict[str, Any]) -> Iterator[Page]:
    assert AXE.is_file(), "axe-core is missing: run npm ci"
    # axe is injected as an inline <script>, which the page's CSP rightly refuses; the CSP itself
    # is checked by every other e2e test.
    context = open_context(browser, viewport=request.param, bypass_csp=True)
    yield context.new_page()
    context.close()


def serious_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_no_serious_accessibility_violations(page: Page) -> None:
    page.goto(BASE_URL + "/")
    expect(page.locator("#pay-button")).to_be_enabled(timeout=SLOW)
    assert serious_violations(page) == []

    page.fill("#standin-card-number", "4242")
    page.click("#pay-button")
    expect(page.locator("#payment-message")).to_be_visible()
    assert serious_violations(page) == []

    fill_address(page)
    expect(page.locator("#shipping-line")).to_be_visible()
    page.fill("#standin-card-number", CARD_OK)
    page.fill("#standin-card-expiry", "12 / 34")
    page.fill("#standin-card-cvc", "123")
    page.click("#pay-button")
    expect(page.locator("#order-status")).to_have_attribute("data-status", "paid", timeout=SLOW)
    assert serious_violations(page) == []


def test_empty_live_regions_stay_in_the_accessibility_tree(checkout: Checkout) -> None:
    """Screen readers announce text added to a live region only if the region was already in the
    accessibility tree: an empty one must not be display: none."""
    checkout.open()
    hidden = checkout.page.evaluate(
        """() => [...document.querySelectorAll('[aria-live], [role=alert], [role=status]')]
            .filter((e) => !e.closest('[hidden]') && getComputedStyle(e).display === 'none')
            .map((e) => e.id)"""
    )
    assert hidden == []
    assert checkout.page.text_content("#payment-message") == ""
