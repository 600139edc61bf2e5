"""Expiring abandoned checkouts: a pending or failed order with no activity (lastActivityAt,
checkout.orders.reconciler_fields) for the setting's period, whose PaymentIntent nobody is still
paying, has that PaymentIntent canceled at Stripe (`cancellation_reason=abandoned`) and is itself
`canceled`, through the ledger like any other Stripe event. A shopper coming back with that
checkout gets 409 checkout_expired, and the page starts a fresh one without a word.

What Stripe says decides (`verdict`):
- nobody paying (requires_payment_method, requires_confirmation): canceled;
- a payment finished away from the page, on a bank's or the payer's schedule (micro-deposits
  take 1 to 2 business days; bank transfers, vouchers), with a deadline Stripe itself keeps:
  never canceled; the checkout's hold on stock is pinned instead (it does not lapse);
- a challenge (3D Secure): the shopper may have started it a second ago, so when the step first
  sees it, it restarts the idle clock; seen again a whole period later with no activity between,
  it is canceled;
- paid, processing or canceled: what Stripe says is applied instead.

An order the step leaves as it was has its idle clock restarted (lastActivityAt, and why in
`abandonmentCheck`), so that it leaves the head of the queue and is looked at again a whole
period later; so has an order whose check failed. An order whose PaymentIntent Stripe does not
know is marked (stripeMissing) and left out of later passes.
"""

import contextlib
import time
from datetime import UTC, datetime
from enum import StrEnum

from google.cloud import firestore

from checkout.holds import store as holds_store
from checkout.orders.reconciler_fields import LAST_ACTIVITY_AT, last_activity
from checkout.platform import structured_log as logger
from checkout.platform.errors import ApiError
from checkout.platform.firestore_client import db
from checkout.platform.json_fields import Json
from checkout.reconcile import bookkeeping, queries
from checkout.reconcile.pass_state import Budget, PassSettings, Summary, for_each_order
from checkout.stripe_api import payment_intents
from checkout.stripe_api.connection import PaymentIntentMissing
from checkout.stripe_events import observations, stock
from checkout.stripe_events.plan import Outcome, Source

STEP = "abandoned"
# {"at": when the step last left the order as it was, "result": a Verdict's value, or "error"}
CHECK = "abandonmentCheck"
FAILED_CHECK = "error"

# next_action types of a payment finished away from the page, which Stripe expires itself.
AWAY_FROM_THE_PAGE = frozenset(
    {
        "verify_with_microdeposits",
        "display_bank_transfer_instructions",
        "boleto_display_details",
        "konbini_display_details",
        "multibanco_display_details",
        "oxxo_display_details",
    }
)


class Verdict(StrEnum):
    CANCEL = "cancel"
    WAITING_ON_BANK = "waiting_on_bank"
    CHALLENGE_SEEN = "challenge_seen"  # first seen since the last activity
    APPLY = "apply"


def _challenge_idle_since_seen(order: Json) -> bool:
    """Whether the step saw a challenge and nothing has happened since (a whole period ago:
    seeing it restarted the idle clock, and the order is idle again)."""
    check = order.get(CHECK)
    if not isinstance(check, dict) or check.get("result") != Verdict.CHALLENGE_SEEN:
        return False
    seen, active = check.get("at"), last_activity(order)
    return isinstance(seen, datetime) and active is not None and seen >= active


def verdict(payment_intent: Json, order: Json) -> Verdict:
    """What to do with an idle checkout whose PaymentIntent Stripe describes so."""
    status = payment_intent.get("status")
    if status == "requires_action":
        next_action = payment_intent.get("next_action")
        action = next_action.get("type") if isinstance(next_action, dict) else None
        if action in AWAY_FROM_THE_PAGE:
            return Verdict.WAITING_ON_BANK
        return Verdict.CANCEL if _challenge_idle_since_seen(order) else Verdict.CHALLENGE_SEEN
    if status in payment_intents.UNPAID_INTENT_STATUSES:
        return Verdict.CANCEL
    return Verdict.APPLY


def pin_hold(order: Json, now: datetime) -> None:
    """A payment waiting on a bank keeps its units: the checkout's hold is pinned (it does not
    lapse); a lapsed one is taken again if the units are on sale, else the success decides."""
    wanted = stock.demands(order)
    if not wanted:
        return
    with contextlib.suppress(holds_store.NotEnough):
        holds_store.hold(stock.hold_key(order), wanted, now, None)


def expire(order_id: str, order: Json, summary: Summary, step: str = STEP) -> Verdict | None:
    """Cancel the checkout if it is abandoned, or apply what Stripe says. The verdict when the
    order was left as it was; None when it changed."""
    observed_at = int(time.time())
    payment_intent = payment_intents.retrieve_payment_intent(order_id)
    decided = verdict(payment_intent, order)
    if decided is Verdict.WAITING_ON_BANK:
        pin_hold(order, datetime.now(UTC))
    if decided in (Verdict.WAITING_ON_BANK, Verdict.CHALLENGE_SEEN):
        summary.count(step, decided.value)
        return decided
    if decided is Verdict.CANCEL:
        observed_at = int(time.time())
        try:
            payment_intent = payment_intents.cancel_abandoned_intent(order_id)
        except ApiError as error:
            if error.status != 400:
                raise
            # Paid, under way or canceled since we looked (Stripe refuses the cancel): apply
            # what it is now instead.
            observed_at = int(time.time())
            payment_intent = payment_intents.retrieve_payment_intent(order_id)
        else:
            summary.count(step, "canceled_at_stripe")
            logger.info("abandoned checkout canceled", orderId=order_id, step=step)
    result = observations.apply_observation(payment_intent, order, Source.RECONCILER, observed_at)
    summary.count(step, result.outcome)
    summary.fulfilment(step, result.fulfilment)
    return None if result.outcome is Outcome.APPLIED else decided


def idle_clock_restart(result: str, now: datetime) -> dict[str, object]:
    """The fields that restart the order's idle clock at `now`, saying why."""
    return {LAST_ACTIVITY_AT: now, CHECK: {"at": now, "result": result}}


def check(
    snapshot: "firestore.DocumentSnapshot[firestore.DocumentReference]",
    summary: Summary,
    now: datetime,
    step: str = STEP,
) -> None:
    try:
        left = expire(snapshot.id, snapshot.to_dict() or {}, summary, step)
    except PaymentIntentMissing:
        summary.checked_with_stripe(step, missing=True)
        bookkeeping.mark_missing(snapshot, now)
        return
    summary.checked_with_stripe(step, missing=False)
    if left is not None:
        bookkeeping.touch(snapshot, idle_clock_restart(left.value, now))


def run(settings: PassSettings, budget: Budget, summary: Summary, now: datetime) -> None:
    query = queries.idle_checkouts(db(), now - settings.abandon_after, settings.page_size)
    expire_each(STEP, query, budget, summary, now)


def expire_each(
    step: str, query: firestore.Query, budget: Budget, summary: Summary, now: datetime
) -> None:
    """The abandonment treatment for each order `query` finds, counted under `step`."""
    # A failed check restarts the order's idle clock: it is looked at again a period later.
    for_each_order(
        step,
        query,
        budget,
        summary,
        lambda snapshot: check(snapshot, summary, now, step),
        after_failure=lambda snapshot: bookkeeping.touch_after_failure(
            snapshot, idle_clock_restart(FAILED_CHECK, now)
        ),
    )
