"""One reconciliation pass: its settings, its bounds, its summary, and the steps in order.

Each step is safe to run at the same time as itself (another pass) and as the webhook: events
and observed PaymentIntents go through the webhook's ledger (exactly once), and fulfilment
recovery takes a claim in a transaction. A failure of Stripe or Firestore is logged and
counted, and the pass goes on with what it can still do; whatever is left (by a failure, the
page size or the time budget) is picked up by the next pass.
"""

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from checkout.orders.stripe_sync import FULFILMENT_FAILED
from checkout.platform import structured_log as logger
from checkout.platform.errors import ApiError
from checkout.platform.settings import ABANDON_CHECKOUT_AFTER_SECONDS


def _abandon_after() -> timedelta:
    return timedelta(seconds=ABANDON_CHECKOUT_AFTER_SECONDS.value)


@dataclass(frozen=True)
class PassSettings:
    # A pending or failed checkout idle for this long whose PaymentIntent nobody is still paying
    # is canceled (the setting; idle: no activity, checkout.orders.reconciler_fields).
    abandon_after: timedelta = field(default_factory=_abandon_after)
    # A pending or processing order not changed for this long is checked with Stripe.
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
            # Already logged by stripe_sync; the recovery step retries it after its grace period.
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


def run_pass(settings: PassSettings | None = None, now: datetime | None = None) -> Summary:
    """One pass: catch up on events, cancel PaymentIntents left open past the attempt cap, give
    orders of an older version the fields the queries need, expire abandoned checkouts, re-check
    stuck orders, recover fulfilment. Never raises for Stripe's or Firestore's failures: they
    are counted."""
    # Imported here so that importing checkout.reconcile stays cheap for the CLI's --help.
    from checkout.reconcile import (
        abandonment,
        capped_orders,
        catch_up,
        fulfilment_recovery,
        older_orders,
        stuck_orders,
    )

    settings = settings or PassSettings()
    now = now or datetime.now(UTC)
    budget = Budget(settings.time_budget)
    summary = Summary()
    steps: list[tuple[str, Step]] = [
        ("events", catch_up.run),
        (capped_orders.STEP, capped_orders.run),
        ("older_orders", older_orders.run),
        ("abandoned", abandonment.run),
        ("stuck", stuck_orders.run),
        ("fulfilment", fulfilment_recovery.run),
    ]
    for name, step in steps:
        if budget.spent():
            summary.left_over(name)
            continue
        try:
            step(settings, budget, summary, now)
        except Exception as error:  # noqa: BLE001 - one step's failure must not stop the others
            summary.error(name, error)
    summary.completed = True
    summary.alert_if_mostly_unknown()
    report = summary.as_dict()
    (logger.error if summary.error_count else logger.info)("reconcile pass finished", **report)
    return summary
