"""The one way Stripe's word is applied to an order, whatever path brought it: `apply`.

For an event from any `Source` it finds the order (or answers unhandled, foreign, ignored),
records the event exactly once (checkout.stripe_events.ledger, with what it does to the stock),
logs one line, fulfils an order it made paid, cancels the PaymentIntent when the event reached
the attempt cap, refunds one that paid for units sold out, and sends the mail its commit
created (checkout.mail.sender: never raises; what is not sent, the reconciler sends). Callers keep
only what is theirs: HTTP and signatures (checkout.webhooks.delivery), paging and the cursor
(checkout.reconcile.catch_up), asking Stripe (checkout.stripe_events.observations).
docs/architecture.md has the exactly-once and fulfilment reasoning.
"""

from collections.abc import Callable
from dataclasses import dataclass

from checkout.orders import fulfilment
from checkout.orders.status import OrderStatus
from checkout.platform import structured_log as logger
from checkout.platform.firestore_client import db
from checkout.platform.json_fields import Json
from checkout.platform.settings import shop_currency
from checkout.products.stripe_products import OWNERS_CHOICES
from checkout.stripe_events import attempt_cap, ledger, sold_out
from checkout.stripe_events.catalog_events import (
    catalog_events_handled,
    is_catalog_event,
    plan_catalog_event,
    target_of,
)
from checkout.stripe_events.event import StripeEvent
from checkout.stripe_events.handlers import is_handled, names_no_payment_intent, order_id_for
from checkout.stripe_events.plan import Outcome, Plan, Source

# What fulfilling a newly paid order did, for a caller's counts (the reconciler's summary).
FULFILLED = "fulfilled"
FULFILMENT_FAILED = "fulfilment_failed"


@dataclass(frozen=True)
class Routine:
    """How a source logs an event that changed (or was recorded on) its order."""

    log: Callable[..., None]
    message: str


# Alerts go to ERROR and warnings to WARNING from every source; the rest at the source's level.
ROUTINE: dict[Source, Routine] = {
    Source.WEBHOOK: Routine(logger.info, "webhook event recorded"),
    # Worth a WARNING: the webhook should have applied it, and did not (yet).
    Source.CATCH_UP: Routine(logger.warn, "missed event applied by the reconciler"),
    Source.RETURN_PAGE: Routine(logger.info, "order checked with stripe"),
    Source.RECONCILER: Routine(logger.info, "order checked with stripe"),
}


@dataclass(frozen=True)
class Result:
    """What became of one event."""

    event_id: str | None  # None: an observation that implied no event
    outcome: Outcome
    order_id: str | None = None
    status: OrderStatus | None = None  # the order's status after it (applied or ignored)
    order: Json | None = None  # the order as committed, without server timestamps
    fulfilment: str | None = None  # FULFILLED or FULFILMENT_FAILED when it made the order paid
    attempt_cap: str | None = None  # attempt_cap.CANCELED or NOT_CANCELED when it reached the cap
    # sold_out.REFUNDED or NOT_REFUNDED when it paid for units no longer on sale
    sold_out: str | None = None
    product_id: str | None = None  # a catalog event's product (CATALOG_SOURCE=stripe)


def apply(event: StripeEvent, source: Source) -> Result:
    """Apply `event`, come by `source`, to its order exactly once, and follow up. Raises when
    the event could not be recorded (Firestore's errors): nothing was written then."""
    event_id, event_type = event["id"], event["type"]
    if is_catalog_event(event):
        return _apply_catalog_event(event, source)
    if not is_handled(event):
        return Result(event_id, Outcome.UNHANDLED)
    order_id = order_id_for(event)
    if order_id is None and names_no_payment_intent(event):
        # A Charge, Refund or Dispute made without a PaymentIntent: not from this checkout.
        _log_foreign(event, source, "names no payment intent")
        return Result(event_id, Outcome.FOREIGN)
    if order_id is None:
        # Genuine but unusable: retrying cannot fix it, so acknowledge and make it visible.
        logger.error(
            "event names no payment intent", eventId=event_id, type=event_type, source=source
        )
        return Result(event_id, Outcome.IGNORED)

    applied = ledger.apply_event(db(), event, order_id, source=source)
    decided = applied.plan
    if applied.duplicate or decided is None:
        if source is Source.WEBHOOK:
            logger.info("webhook redelivery ignored", eventId=event_id, type=event_type)
        return Result(event_id, Outcome.DUPLICATE, order_id)
    if decided.outcome is Outcome.FOREIGN:
        _log_foreign(event, source, decided.reason)
        return Result(event_id, Outcome.FOREIGN, order_id)
    _log_outcome(event, decided, source)
    fulfilled = _fulfil(applied.order) if decided.newly_paid and applied.order else None
    result = Result(
        event_id,
        decided.outcome,
        order_id,
        decided.status,
        applied.order,
        fulfilled,
        attempt_cap.follow_up(applied),
        sold_out.follow_up(applied),
    )
    _send_mail(applied)
    return result


def _send_mail(applied: ledger.Applied) -> None:
    """The committed mail, sent now (after Stripe's follow-ups, which matter more). Loaded only
    when there is mail: most events create none."""
    if not applied.mail:
        return
    from checkout.mail import sender

    if applied.mail_held_at is not None:
        sender.send_held(applied.mail, applied.mail_held_at)
    else:
        sender.send(applied.mail_ids)  # created PENDING: claimed first (or left, mail off)


def _apply_catalog_event(event: StripeEvent, source: Source) -> Result:
    """A product.* or price.* event: the catalog's documents and the ledger, in one commit.
    With CATALOG_SOURCE=firestore the owner's file is the catalog: acknowledged, nothing done."""
    event_id, event_type = event["id"], event["type"]
    if not catalog_events_handled():
        return Result(event_id, Outcome.UNHANDLED)
    target = target_of(event)
    if target is None:
        # Retrying cannot fix it: acknowledge, and make it visible.
        logger.error("catalog event names no usable product", eventId=event_id, type=event_type)
        return Result(event_id, Outcome.IGNORED)
    currency = shop_currency()
    applied = ledger.apply_catalog_change(
        db(),
        target,
        lambda product, price: plan_catalog_event(event, product, price, currency),
        event,
        source=source,
    )
    decided = applied.plan
    if applied.duplicate or decided is None:
        if source is Source.WEBHOOK:
            logger.info("webhook redelivery ignored", eventId=event_id, type=event_type)
        return Result(event_id, Outcome.DUPLICATE, product_id=target.product_id)
    fields = {
        "eventId": event_id,
        "type": event_type,
        "productId": target.product_id,
        "priceId": target.price_id,
        "outcome": decided.outcome.value,
        "reason": decided.reason,
        "source": source.value,
    }
    if decided.off_sale is not None and decided.off_sale not in OWNERS_CHOICES:
        # Not the owner's choice (archived, deleted): a price the shop cannot sell at.
        logger.warn("catalog product off sale", **fields)
    else:
        routine = ROUTINE[source]
        routine.log(routine.message, **fields)
    return Result(event_id, decided.outcome, product_id=target.product_id)


def _log_outcome(event: StripeEvent, decided: Plan, source: Source) -> None:
    """An alert at ERROR, a warning at WARNING, and otherwise the source's routine line."""
    fields = {
        "eventId": event["id"],
        "type": event["type"],
        "orderId": decided.order_id,
        "outcome": decided.outcome.value,
        "reason": decided.reason,
        "source": source.value,
    }
    if decided.alert:
        logger.error(decided.alert, **fields)
    elif decided.warning:
        logger.warn(decided.warning, **fields)
    else:
        routine = ROUTINE[source]
        routine.log(routine.message, **fields)


def _fulfil(order: Json) -> str:
    try:
        fulfilment.fulfil(order)
    except Exception as error:  # noqa: BLE001 - the payment is recorded; recovery retries this
        # A retry would find the event recorded and stop (a webhook's 5xx would not re-run
        # this), so the error is logged and left to the recovery sweep (paid, fulfilledAt null).
        logger.error(
            "fulfilment failed; order is paid but not fulfilled",
            orderId=order.get("paymentIntentId"),
            errorType=type(error).__name__,
        )
        return FULFILMENT_FAILED
    return FULFILLED


def _log_foreign(event: StripeEvent, source: Source, reason: str) -> None:
    # INFO, from every source: other payments on the account are normal, not an alert.
    logger.info(
        "event is not for this shop's payments; nothing recorded",
        eventId=event["id"],
        type=event["type"],
        reason=reason,
        source=source.value,
    )
