"""Rate limits on POST /api/payment-intents: what card testers and bots run into.

Three limits (each a Firebase param, platform/settings.py):
  - requests per client IP per minute: counted in this instance's memory, so repeats cost no
    Firestore write. With N instances a client spread over all of them gets up to N times the
    limit (Cloud Run tends to keep one client's connection on one instance, but need not);
    the two Firestore-counted limits below are exact across instances.
  - new checkouts per client IP per 10 minutes: counted in Firestore, in the very commit that
    claims the new checkout (the Increment transform returns the new value), so at no cost of
    its own; refused attempts count too, for that client only;
  - new checkouts per minute for the whole shop: taken only by a new checkout that its client's
    limit let through, from a budget sharded over several documents (no hot document), one
    commit. So a new checkout pays one extra round trip and repeats pay none; a client over
    its own limit never spends the shop's budget.

A fourth, on promotion codes (checkout.intents.promotion): unknown codes per client IP per 10
minutes, counted in Firestore; past it every code that client sends is refused, known or not, so
that guessing stops paying.

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
    WRONG_PROMOTION_CODES_PER_IP_PER_10_MINUTES,
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


def clock() -> float:
    """Now, in seconds: the limits' windows are read from it (tests can hold it still)."""
    return time.time()


def check_request(ip: str, now: float | None = None) -> None:
    """Every POST: refuse a client over its per-minute request limit (no I/O)."""
    count, remaining = request_counter.hit(ip, clock() if now is None else now)
    if count > positive(REQUESTS_PER_IP_PER_MINUTE):
        if count == positive(REQUESTS_PER_IP_PER_MINUTE) + 1:  # once per window, not per request
            logger.warn("rate limited", limit="requests_per_ip_per_minute",
                        client=logger.pseudonym(ip))  # fmt: skip
        raise rate_limited(remaining)


def new_checkout_counter(ip: str, now: float) -> firestore_counters.Counter:
    """The client's count of new checkouts in this window.

    Incremented in the commit that claims a new checkout (checkout.orders.store.claim_checkout),
    so counting costs no round trip of its own and a lost claim counts nothing.
    """
    start, _ = window(now, IP_WINDOW_SECONDS)
    # The IP goes into the document id only as a keyed hash: counters are not an IP log.
    return firestore_counters.Counter(
        f"ip-{logger.pseudonym(ip)}-{start}",
        # Kept a little past the window; a TTL policy on expireAt deletes them.
        expire_at=_expiry(now),
    )


# The shop's new checkouts of each minute, sharded (no hot document); what this instance knows
# of spent shards is kept here (tests clear it with the database).
shop_budget = firestore_counters.ShardedBudget("shop")


def check_new_checkout(ip: str, per_ip_count: int, now: float) -> None:
    """A new checkout, already counted for its client (`per_ip_count`): refuse it over a limit.

    The per-address limit comes first, and only a checkout within it takes from the shop's
    budget: a client refused for its own excess spends nothing of what other shoppers share.
    """
    per_ip_limit = positive(NEW_CHECKOUTS_PER_IP_PER_10_MINUTES)
    if per_ip_count > per_ip_limit:
        if per_ip_count == per_ip_limit + 1:  # one line per client and window, not per request
            logger.warn("rate limited", limit="new_checkouts_per_ip_per_10_minutes",
                        client=logger.pseudonym(ip))  # fmt: skip
        raise rate_limited(window(now, IP_WINDOW_SECONDS)[1])
    shop_start, shop_remaining = window(now, GLOBAL_WINDOW_SECONDS)
    if not shop_budget.take(positive(NEW_CHECKOUTS_PER_MINUTE), shop_start, _expiry(now)):
        logger.warn("rate limited", limit="new_checkouts_per_minute")
        raise rate_limited(shop_remaining)


def wrong_code_counter(ip: str, now: float) -> firestore_counters.Counter:
    """The client's count of unknown promotion codes in this 10-minute window."""
    start, _ = window(now, IP_WINDOW_SECONDS)
    return firestore_counters.Counter(f"code-{logger.pseudonym(ip)}-{start}", _expiry(now))


def check_wrong_codes(ip: str, count: int, now: float, counted: bool) -> None:
    """Refuse a client whose unknown codes in this window are past the limit: `count` as
    read before this request (`counted` False: the client may not try another), or as this
    request's own increment made it (`counted` True)."""
    limit = positive(WRONG_PROMOTION_CODES_PER_IP_PER_10_MINUTES)
    if count > limit or (count == limit and not counted):
        if count == limit + 1:  # one line per client and window
            logger.warn("rate limited", limit="wrong_promotion_codes_per_ip_per_10_minutes",
                        client=logger.pseudonym(ip))  # fmt: skip
        raise rate_limited(window(now, IP_WINDOW_SECONDS)[1])


def _expiry(now: float) -> datetime:
    return datetime.fromtimestamp(now, UTC) + timedelta(seconds=2 * IP_WINDOW_SECONDS)
