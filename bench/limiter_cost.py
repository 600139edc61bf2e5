"""What the rate limits cost a request (issue 10), against the Firestore emulator.

- the per-IP request limit: an in-memory count, timed over many calls;
- a new checkout's limit check: one Firestore commit (an Increment of one shard of the shop's
  budget; the client's own count rides in the claim's commit), timed;
- a repeat POST of an unchanged cart, in-process: answered from the checkout record (two reads,
  no write, no Stripe call), next to a new checkout's POST (Stripe stubbed as in
  request_overhead), with the Firestore writes each made, counted from the commits sent.
"""

import contextlib
import io
import time
import uuid
from typing import Any

import stripe
from google.cloud.firestore_v1 import Client

from bench import request_overhead
from bench.timing import median, p99
from tests.shipping_address import US_ADDRESS

CALLS_IN_MEMORY = 100_000
COMMITS = 200
REQUESTS = 200


def run() -> dict[str, float | int]:
    from functions_framework import create_app

    from checkout.intents import rate_limits
    from checkout.platform.firestore_client import db
    from tests.conftest import FUNCTIONS_DIR

    started = time.perf_counter()
    for n in range(CALLS_IN_MEMORY):
        rate_limits.request_counter.hit(f"198.51.100.{n % 250}", 1_000_000.0)
    in_memory = (time.perf_counter() - started) / CALLS_IN_MEMORY
    rate_limits.request_counter.clear()

    commits = []
    for n in range(COMMITS):
        began = time.perf_counter()
        # The client's own count rides in the claim's commit; this is the shop budget's commit.
        rate_limits.check_new_checkout(f"203.0.113.{n % 200}", 1, time.time())
        commits.append(time.perf_counter() - began)

    # Count the documents each request writes, from the commits the client sends.
    writes: list[int] = [0]
    commit = db()._firestore_api.commit

    def counting_commit(*args: Any, **kwargs: Any) -> Any:
        writes[-1] += len(kwargs["request"]["writes"])
        return commit(*args, **kwargs)

    db()._firestore_api.commit = counting_commit
    stripe.RequestsClient.request = request_overhead.canned_stripe  # type: ignore[method-assign]
    client = create_app("checkout_api", str(FUNCTIONS_DIR / "main.py")).test_client()
    body = {"items": [{"productId": "tee-classic", "quantity": 1}], "shipping": US_ADDRESS}
    new: list[float] = []
    repeat: list[float] = []
    new_writes: list[int] = []
    repeat_writes: list[int] = []
    with contextlib.redirect_stdout(io.StringIO()):
        for _ in range(REQUESTS):
            checkout = {"checkoutId": str(uuid.uuid4()), **body}
            for timings, counts in ((new, new_writes), (repeat, repeat_writes)):
                writes.append(0)
                began = time.perf_counter()
                response = client.post("/api/payment-intents", json=checkout)
                timings.append(time.perf_counter() - began)
                counts.append(writes[-1])
                assert response.status_code == 200, response.get_data(as_text=True)
    db()._firestore_api.commit = commit
    assert isinstance(db(), Client)
    return {
        "in_memory_check_us": in_memory * 1e6,
        "new_checkout_commit_median": median(commits),
        "new_checkout_commit_p99": p99(commits),
        "new_post_median": median(new),
        "repeat_post_median": median(repeat),
        "repeat_post_p99": p99(repeat),
        "new_post_writes": max(new_writes),
        "repeat_post_writes": max(repeat_writes),
    }
