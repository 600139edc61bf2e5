"""The page: the bytes we ship (raw, and gzipped as Hosting serves them: tests/page_weight.py),
and how soon a shopper can pay (offline Stripe.js stand-in).

Needs the local stack that `make dev` starts (Hosting emulator serving the offline site).
"""

import os
import time

from bench.timing import median
from tests.page_weight import weight

RUNS = 5
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def time_to_payment_form(base_url: str) -> tuple[list[float], int]:
    from playwright.sync_api import sync_playwright

    durations, requests_seen = [], 0
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for _ in range(RUNS):
            context = browser.new_context()  # a new shopper: empty cache, new checkout
            page = context.new_page()
            seen: list[str] = []
            page.on("request", lambda request: seen.append(request.url))  # noqa: B023 - used at once
            started = time.perf_counter()
            page.goto(base_url)
            # The pay button is enabled once the Payment Element reports `ready`.
            page.wait_for_selector("#pay-button:not([disabled])", timeout=30_000)
            durations.append(time.perf_counter() - started)
            requests_seen = len(seen)
            context.close()
        browser.close()
    return durations, requests_seen


def run() -> dict[str, float | int]:
    base_url = os.environ.get("CHECKOUT_BASE_URL", "http://127.0.0.1:5000")
    durations, requests_seen = time_to_payment_form(base_url)
    return {**weight(), "requests": requests_seen, "mount_median": median(durations), "runs": RUNS}
