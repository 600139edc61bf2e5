"""Rate limits on POST /api/payment-intents: what card testers and bots run into.

Three limits (each a Firebase param, platform/settings.py):
  - requests per client IP per minute: counted in this instance's memory, so repeats cost no
    Firestore write. With N instances a client spread over all of them gets up to N times the
    limit (Cloud Run tends to keep one client's connection on one instance, but need not);
    the two Firestore-counted limits below are exact across instances.
  - new checkouts per client IP per 10 minutes, and
  - new checkouts per minute for the whole shop: counted in Firestore, one commit per new
    checkout that increments both counters and returns their new values (Increment transform
    results), so a new checkout pays one extra round trip and repeats pay none.

Windows are fixed (aligned to the epoch): simple, exact, and Retry-After is the time to the
window's end. A burst across a window edge can get up to twice a limit in a short time;
that is the usual price of fixed windows and fine for abuse limits.
"""

import threading
import time
from datetime import UTC, datetime, timedelta

from checkout.platform import firestore_counters
from checkout.platform import structured_log as logger
from checkout.platform.errors import ApiError
from checkout.platform.settings import (
    NEW_CHECKOUTS_PER_IP_PER_10_MINUTES,
    NEW_CHECKOUTS_PER_MINUTE,
    REQUESTS_PER_IP_PER_MINUTE,
    positive,
)

IP_WINDOW_SECONDS = 600
GLOBAL_WINDOW_SECONDS = 60
REQUEST_WINDOW_SECONDS = 60


def rate_limited(retry_after: int) -> ApiError:
    seconds = max(1, retry_after)
    return ApiError(
        429,
        "rate_limited",
        f"Too many checkout requests; try again in {seconds} seconds.",
        headers={"Retry-After": str(seconds)},
    )


def window(now: float, length: int) -> tuple[int, int]:
    """(the window's start, seconds until it ends) for a fixed window of `length` seconds."""
    start = int(now) // length * length
    return start, start + length - int(now)


class RequestCounter:
    """Requests per key per fixed window, in this process's memory."""

    def __init__(self, window_seconds: int = REQUEST_WINDOW_SECONDS) -> None:
        self.window_seconds = window_seconds
        self._lock = threading.Lock()
        self._window_start = 0
        self._counts: dict[str, int] = {}

    def hit(self, key: str, now: float) -> tuple[int, int]:
        """Count one request; (its count in the window, seconds until the window ends)."""
        start, remaining = window(now, self.window_seconds)
        with self._lock:
            if start != self._window_start:
                # A new window: the old counts are dead. Memory stays bounded by one window's keys.
                self._window_start, self._counts = start, {}
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
        return count, remaining

    def clear(self) -> None:
        with self._lock:
            self._counts = {}


# This instance's per-minute request counts (tests clear it between cases).
request_counter = RequestCounter()


def check_request(ip: str, now: float | None = None) -> None:
    """Every POST: refuse a client over its per-minute request limit (no I/O)."""
    count, remaining = request_counter.hit(ip, time.time() if now is None else now)
    if count > positive(REQUESTS_PER_IP_PER_MINUTE):
        if count == positive(REQUESTS_PER_IP_PER_MINUTE) + 1:  # once per window, not per request
            logger.warn("rate limited", limit="requests_per_ip_per_minute",
                        client=logger.pseudonym(ip))  # fmt: skip
        raise rate_limited(remaining)


def check_new_checkout(ip: str, now: float | None = None) -> None:
    """A new checkout (about to create a PaymentIntent): count it, refuse it over a limit."""
    now = time.time() if now is None else now
    ip_start, ip_remaining = window(now, IP_WINDOW_SECONDS)
    shop_start, shop_remaining = window(now, GLOBAL_WINDOW_SECONDS)
    # The IP goes into the document id only as a keyed hash: counters are not an IP log.
    per_ip, shop = firestore_counters.increment(
        [f"ip-{logger.pseudonym(ip)}-{ip_start}", f"shop-{shop_start}"],
        # Kept a little past the window; a TTL policy on expireAt deletes them.
        expire_at=datetime.fromtimestamp(now, UTC) + timedelta(seconds=2 * IP_WINDOW_SECONDS),
    )
    per_ip_limit, shop_limit = (
        positive(NEW_CHECKOUTS_PER_IP_PER_10_MINUTES),
        positive(NEW_CHECKOUTS_PER_MINUTE),
    )
    if per_ip > per_ip_limit:
        if per_ip == per_ip_limit + 1:  # one line per client and window, not one per request
            logger.warn("rate limited", limit="new_checkouts_per_ip_per_10_minutes",
                        client=logger.pseudonym(ip))  # fmt: skip
        raise rate_limited(ip_remaining)
    if shop > shop_limit:
        if shop == shop_limit + 1:
            logger.warn("rate limited", limit="new_checkouts_per_minute")
        raise rate_limited(shop_remaining)
