"""The current request's deadline: outbound calls that could not finish before it are not made.

The route sets it from its function's timeout (a param) minus a margin for the rest of the
work; a Stripe call starts only if its worst case (timeouts and bounded retries) still fits,
so a request always answers before Cloud Functions would cut it off.
"""

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar

# Left for Firestore and the response after the last outbound call.
MARGIN_SECONDS = 5.0

_deadline: ContextVar[float | None] = ContextVar("request_deadline", default=None)


@contextlib.contextmanager
def request_deadline(function_timeout_seconds: int) -> Iterator[None]:
    token = _deadline.set(time.monotonic() + function_timeout_seconds - MARGIN_SECONDS)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining_seconds() -> float:
    """Seconds left in the current request (infinite outside one: scripts, tests)."""
    deadline = _deadline.get()
    return float("inf") if deadline is None else deadline - time.monotonic()
