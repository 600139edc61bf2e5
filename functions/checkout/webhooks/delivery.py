"""Receiving one webhook delivery: verify it, apply it exactly once, fulfil a newly paid order.

What Stripe sees: 400 for anything that is not a genuine, recent event (nothing is written);
200 for every genuine event, handled or not, new or redelivered; an exception (5xx in the
route) when the change could not be recorded, so that Stripe retries it later.
"""

from dataclasses import dataclass

from checkout.orders import attempt_cap, fulfilment
from checkout.platform import structured_log as logger
from checkout.platform.errors import ApiError
from checkout.platform.firestore_client import db
from checkout.platform.settings import webhook_secrets
from checkout.webhooks import ledger
from checkout.webhooks.events import (
    Json,
    Outcome,
    is_handled,
    names_no_payment_intent,
    order_id_for,
)
from checkout.webhooks.signature import InvalidWebhook, verified_event


@dataclass(frozen=True)
class Receipt:
    """What became of a delivery; the route sends it back as the 200 body (Stripe ignores it)."""

    event_id: str
    outcome: str  # applied | ignored | duplicate | unhandled
    order_id: str | None = None
    status: str | None = None

    def body(self) -> dict[str, str | None]:
        return {
            "received": self.event_id,
            "outcome": self.outcome,
            "orderId": self.order_id,
            "status": self.status,
        }


def receive(payload: bytes, signature_header: str | None) -> Receipt:
    try:
        event = verified_event(payload, signature_header, webhook_secrets())
    except InvalidWebhook as invalid:
        logger.warn("webhook rejected", reason=str(invalid))
        raise ApiError(400, "invalid_webhook", "Not a valid, signed Stripe event.") from None

    event_id, event_type = event["id"], event["type"]
    logger.bind(eventId=event_id)
    if not is_handled(event):
        # Acknowledged, or Stripe would retry it for days (and eventually disable the endpoint).
        return Receipt(event_id, "unhandled")
    order_id = order_id_for(event)
    if order_id is None and names_no_payment_intent(event):
        # A Charge, Refund or Dispute made without a PaymentIntent: not from this checkout.
        _log_foreign(event_id, event_type, "names no payment intent")
        return Receipt(event_id, Outcome.FOREIGN.value)
    if order_id is None:
        # Genuine but unusable: retrying cannot fix it, so acknowledge and make it visible.
        logger.error("webhook event names no payment intent", eventId=event_id, type=event_type)
        return Receipt(event_id, "ignored")

    logger.bind(orderId=order_id)
    try:
        applied = ledger.apply_event(db(), event, order_id)
    except Exception as error:
        # Nothing was written; the route answers 5xx and Stripe retries the delivery later.
        logger.warn(
            "webhook event not recorded; Stripe will retry",
            eventId=event_id,
            type=event_type,
            orderId=order_id,
            errorType=type(error).__name__,
        )
        raise
    if applied.duplicate or applied.plan is None:
        logger.info("webhook redelivery ignored", eventId=event_id, type=event_type)
        return Receipt(event_id, "duplicate", order_id)

    decided = applied.plan
    if decided.outcome is Outcome.FOREIGN:
        _log_foreign(event_id, event_type, decided.reason)
        return Receipt(event_id, decided.outcome.value, order_id)
    ledger.log_outcome(event, order_id, decided, logger.info, "webhook event recorded")
    if decided.newly_paid and applied.order is not None:
        _fulfil(applied.order)
    attempt_cap.follow_up(applied)
    status = decided.status.value if decided.status else None
    return Receipt(event_id, decided.outcome.value, order_id, status)


def _fulfil(order: Json) -> None:
    try:
        fulfilment.fulfil(order)
    except Exception as error:  # noqa: BLE001 - the payment is recorded; a 5xx would not re-run this
        # Stripe's retry would find the event recorded and stop, so an error here is acknowledged
        # and left to the recovery sweep (status paid, fulfilledAt null).
        logger.error(
            "fulfilment failed; order is paid but not fulfilled",
            orderId=order.get("paymentIntentId"),
            errorType=type(error).__name__,
        )


def _log_foreign(event_id: str, event_type: str, reason: str) -> None:
    # INFO, once per delivery: other payments on the account are normal, not an alert.
    logger.info(
        "webhook event is not for this shop's payments; nothing recorded",
        eventId=event_id,
        type=event_type,
        reason=reason,
    )
