"""What one reconciliation pass carries through its steps: its settings, its time budget, and
its summary (the pass's one-line report)."""

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from google.cloud import firestore

from checkout.platform import structured_log as logger
from checkout.platform.errors import ApiError
from checkout.platform.settings import ABANDON_CHECKOUT_AFTER_SECONDS, stock_hold_seconds
from checkout.stripe_events.apply import FULFILMENT_FAILED


def _abandon_after() -> timedelta:
    return timedelta(seconds=ABANDON_CHECKOUT_AFTER_SECONDS.value)


def _stock_hold() -> timedelta:
    return timedelta(seconds=stock_hold_seconds())


@dataclass(frozen=True)
class PassSettings:
    # A pending or failed checkout idle for this long whose PaymentIntent nobody is still paying
    # is canceled (the setting; idle: no activity, checkout.orders.reconciler_fields).
    abandon_after: timedelta = field(default_factory=_abandon_after)
    # A pending or failed checkout that holds stock, idle for this long (its hold lapsed), gets
    # the abandonment treatment (the setting STOCK_HOLD_SECONDS).
    stock_hold: timedelta = field(default_factory=_stock_hold)
    # A pending or processing order not changed for this long is checked with Stripe; a
    # sold-out order with no refund recorded this long after has its refund asked for again.
    stuck_after: timedelta = timedelta(minutes=10)
    # A paid order with no fulfilledAt for this long is fulfilled by the pass. It is also the
    # lease of a fulfilment claim: the webhook (or a pass) that claimed it is given this long.
    fulfil_after: timedelta = timedelta(minutes=5)
    # Orders taken per query, and events per Stripe page (Stripe's maximum is 100).
    page_size: int = 100
    # A pass stops starting new work after this; the scheduled function's timeout is longer.
    time_budget: timedelta = timedelta(minutes=4)
    # With no cursor yet, the events catch-up starts this far back (Stripe keeps 30 days).
    first_lookback: timedelta = timedelta(days=3)
    # Stripe may list an event a little after its `created`: the cursor stays this far behind.
    settle: timedelta = timedelta(seconds=60)


class Budget:
    def __init__(self, limit: timedelta) -> None:
        self.deadline = time.monotonic() + limit.total_seconds()

    def spent(self) -> bool:
        return time.monotonic() >= self.deadline


class Summary:
    """Counts per step and action, and errors per step: the pass's one-line report."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.errors: dict[str, int] = defaultdict(int)
        self.left_for_next_pass: set[str] = set()
        self.completed = False
        # Orders whose PaymentIntent this pass asked Stripe for, and how many Stripe did not know.
        self.checked = 0
        self.unknown = 0

    def count(self, step: str, action: str, n: int = 1) -> None:
        self.counts[step][action] += n

    def fulfilment(self, step: str, result: str | None) -> None:
        """Count what fulfilling a newly paid order did; a failure counts as an error too."""
        if result is None:
            return
        self.count(step, result)
        if result == FULFILMENT_FAILED:
            # Already logged by the apply pipeline; the recovery step retries it after its grace
            # period.
            self.errors[step] += 1

    def error(self, step: str, error: BaseException, **fields: Any) -> None:
        self.errors[step] += 1
        # The type and our own code only: messages of unexpected errors may quote data.
        code = error.code if isinstance(error, ApiError) else None
        logger.error(
            "reconcile step failed", step=step, errorType=type(error).__name__, code=code, **fields
        )

    def checked_with_stripe(self, step: str, *, missing: bool) -> None:
        """Count an order's PaymentIntent asked for; `missing`: Stripe does not know it."""
        self.checked += 1
        if missing:
            self.unknown += 1
            self.count(step, "stripe_missing")

    def alert_if_mostly_unknown(self) -> None:
        """One CRITICAL entry when Stripe knew fewer than half of the orders asked about: not a
        few odd orders, but most likely the keys of another account or mode (test or live)."""
        if self.unknown * 2 > self.checked:
            logger.critical(
                "Most orders checked with Stripe this pass are unknown to it (No such "
                "payment_intent): STRIPE_SECRET_KEY is probably a key of another Stripe account "
                "or mode (test or live) than the one these orders were made with. Each is now "
                "marked stripeMissing and left out of later passes (docs/operations.md).",
                unknown=self.unknown,
                checked=self.checked,
            )

    def left_over(self, step: str) -> None:
        self.left_for_next_pass.add(step)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": "reconcile",
            "completed": self.completed,
            "seconds": round(time.monotonic() - self.started, 3),
            **{step: dict(actions) for step, actions in sorted(self.counts.items())},
            "errors": {"total": self.error_count, **dict(sorted(self.errors.items()))},
            "leftForNextPass": sorted(self.left_for_next_pass),
        }


Step = Callable[[PassSettings, Budget, Summary, datetime], None]


OrderSnapshot: TypeAlias = "firestore.DocumentSnapshot[firestore.DocumentReference]"


def for_each_order(
    step: str,
    query: firestore.Query,
    budget: Budget,
    summary: Summary,
    handle: Callable[[OrderSnapshot], None],
    after_failure: Callable[[OrderSnapshot], None] | None = None,
) -> None:
    """Hand each order the query finds to `handle` until the budget is spent. A failure is
    counted and logged, `after_failure` may move the order to the back of its queue, and the
    step goes on with the next order: one order that keeps failing never blocks the others."""
    for snapshot in query.stream():
        if budget.spent():
            summary.left_over(step)
            return
        try:
            handle(snapshot)
        except Exception as error:  # noqa: BLE001 - counted; a later pass tries this order again
            summary.error(step, error, orderId=snapshot.id)
            if after_failure is not None:
                after_failure(snapshot)
