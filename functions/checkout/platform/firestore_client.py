"""One Firestore client per process (created on first use, not at import: cold start), and
how transactions and conditional writes are retried when they lose to concurrent ones."""

import random
import time
from collections.abc import Callable
from functools import cache
from typing import TypeVar

from firebase_functions.params import PROJECT_ID
from google.api_core import exceptions
from google.api_core import retry as retries
from google.cloud import firestore

T = TypeVar("T")

# Fresh transactions tried, with jittered backoff between them. The client's own in-place
# retries are not used: they retry at once, and in the emulator (measured: 10 and 20 concurrent
# deliveries of one event, 8 concurrent claims of one checkout) the transactions, all holding
# read locks on the same documents, then time out together (2 s "Transaction lock timeout")
# again and again. A random pause of up to BACKOFF_SECONDS (doubling per attempt) lets one go
# first. With pauses capped at 1 s, 3 of 10 runs of 20 deliveries still ended in 5xx; with
# these, 0 of 22.
MAX_ATTEMPTS = 8
BACKOFF_SECONDS = (0.5, 4.0)  # (first pause at most, cap)

# A conditional write (a commit whose preconditions say "the document is still as I read it")
# holds no locks, so a loser has nothing to wait out: it re-reads at once and plans again. The
# short jitter only spreads out writers that keep colliding on one document.
CONFLICT_BACKOFF_SECONDS = (0.01, 0.5)


# For calls made while a caller waits (Stripe, for a webhook): they give up after a few seconds.
# With Firestore unreachable the client would retry reads for up to 300 s (commits for 60 s)
# while Stripe waits, when a quick 5xx lets Stripe retry.
RPC_RETRY = retries.Retry(
    predicate=retries.if_transient_error, initial=0.1, maximum=1.0, multiplier=2.0, timeout=5.0
)
RPC_TIMEOUT_SECONDS = 3.0


@cache
def db() -> firestore.Client:
    # With FIRESTORE_EMULATOR_HOST set (emulator, tests) the client talks to the emulator.
    return firestore.Client(project=PROJECT_ID.value or None)


def is_contention(error: BaseException) -> bool:
    """Whether a transaction failed by losing to concurrent ones (worth a retry later).

    The client reports an aborted commit as Aborted, or, once its attempts are used up, as a
    ValueError caused by Aborted.
    """
    return isinstance(error, exceptions.Aborted) or isinstance(error.__cause__, exceptions.Aborted)


def transaction() -> firestore.Transaction:
    """A transaction that tries once: retry_on_contention does the retrying."""
    return db().transaction(max_attempts=1)


def _pause(number: int, backoff: tuple[float, float]) -> None:
    first, cap = backoff
    time.sleep(random.uniform(0, min(cap, first * 2 ** (number - 1))))  # noqa: S311


def retry_on_contention(attempt: Callable[[], T], max_attempts: int = MAX_ATTEMPTS) -> T:
    """Call `attempt` (one transaction, and whatever reads go with it) until it does not lose
    to a concurrent one; the last attempt's contention error goes to the caller."""
    for number in range(1, max_attempts):
        try:
            return attempt()
        except (exceptions.Aborted, ValueError) as error:
            if not is_contention(error):
                raise
        _pause(number, BACKOFF_SECONDS)
    return attempt()


class WriteConflict(Exception):
    """A conditional commit found a document changed since it was read: read again, re-plan."""


# How Firestore refuses a commit whose preconditions failed: a create() whose document exists
# (ALREADY_EXISTS), an update whose document has another update_time (FAILED_PRECONDITION); and,
# from real Firestore under heavy write contention on one document, ABORTED.
CONFLICT_ERRORS = (exceptions.AlreadyExists, exceptions.FailedPrecondition, exceptions.Aborted)


def commit_conditional(write: Callable[[], T]) -> T:
    """Run `write` (a commit carrying preconditions); a failed precondition is a WriteConflict."""
    try:
        return write()
    except CONFLICT_ERRORS as error:
        raise WriteConflict(str(error)) from error


def retry_on_conflict(attempt: Callable[[], T], max_attempts: int = MAX_ATTEMPTS) -> T:
    """Call `attempt` (read, plan, conditional commit) until its commit does not raise
    WriteConflict; the last attempt's WriteConflict goes to the caller."""
    for number in range(1, max_attempts):
        try:
            return attempt()
        except WriteConflict:
            pass
        _pause(number, CONFLICT_BACKOFF_SECONDS)
    return attempt()
