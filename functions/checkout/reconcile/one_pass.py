"""One reconciliation pass: the steps in order, each bounded by the pass's budget.

Each step is safe to run at the same time as itself (another pass) and as the webhook: events
and observed PaymentIntents go through the one apply pipeline (checkout.stripe_events.apply,
exactly once), and fulfilment recovery takes a claim in a transaction. A failure of Stripe or
Firestore is logged and counted, and the pass goes on with what it can still do; whatever is
left (by a failure, the page size or the time budget) is picked up by the next pass.
docs/operations.md describes the steps.
"""

from datetime import UTC, datetime

from checkout.platform import structured_log as logger
from checkout.reconcile import (
    abandonment,
    capped_orders,
    catch_up,
    fulfilment_recovery,
    lapsed_holds,
    mail_retries,
    older_orders,
    sold_out_refunds,
    stuck_orders,
)
from checkout.reconcile.pass_state import Budget, PassSettings, Step, Summary


def run_pass(settings: PassSettings | None = None, now: datetime | None = None) -> Summary:
    """One pass: catch up on events, cancel PaymentIntents left open past the attempt cap, give
    orders of an older version the fields the queries need, expire abandoned checkouts and
    those whose stock holds lapsed, re-check stuck orders, recover fulfilment, retry sold-out
    refunds, retry mail. Never raises for Stripe's or Firestore's failures: they
    are counted."""
    settings = settings or PassSettings()
    now = now or datetime.now(UTC)
    budget = Budget(settings.time_budget)
    summary = Summary()
    steps: list[tuple[str, Step]] = [
        ("events", catch_up.run),
        (capped_orders.STEP, capped_orders.run),
        ("older_orders", older_orders.run),
        ("abandoned", abandonment.run),
        (lapsed_holds.STEP, lapsed_holds.run),
        ("stuck", stuck_orders.run),
        ("fulfilment", fulfilment_recovery.run),
        (sold_out_refunds.STEP, sold_out_refunds.run),
        (mail_retries.STEP, mail_retries.run),
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
