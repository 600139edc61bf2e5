"""Receiving one webhook delivery: verify its signature, then hand it to the one pipeline
(checkout.stripe_events.apply).

What Stripe sees: 400 for anything that is not a genuine, recent event (nothing is written);
200 for every genuine event, handled or not, new or redelivered; an exception (5xx in the
route) when the change could not be recorded, so that Stripe retries it later.
"""

from dataclasses import dataclass

from checkout.orders.status import OrderStatus
from checkout.platform import structured_log as logger
from checkout.platform.errors import ApiError
from checkout.platform.settings import webhook_secrets
from checkout.stripe_events.apply import apply
from checkout.stripe_events.handlers import order_id_for
from checkout.stripe_events.plan import Outcome, Source
from checkout.webhooks.signature import InvalidWebhook, verified_event


@dataclass(frozen=True)
class Receipt:
    """What became of a delivery; the route sends it back as the 200 body (Stripe ignores it)."""

    event_id: str
    outcome: Outcome
    order_id: str | None = None
    status: OrderStatus | None = None

    def body(self) -> dict[str, str | None]:
        return {
            "received": self.event_id,
            "outcome": self.outcome.value,
            "orderId": self.order_id,
            "status": self.status.value if self.status else None,
        }


def receive(payload: bytes, signature_header: str | None) -> Receipt:
    try:
        event = verified_event(payload, signature_header, webhook_secrets())
    except InvalidWebhook as invalid:
        logger.warn("webhook rejected", reason=str(invalid))
        raise ApiError(400, "invalid_webhook", "Not a valid, signed Stripe event.") from None

    event_id, event_type = event["id"], event["type"]
    logger.bind(eventId=event_id)
    order_id = order_id_for(event)
    if order_id is not None:
        logger.bind(orderId=order_id)
    try:
        result = apply(event, Source.WEBHOOK)
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
    # Unhandled types are acknowledged too, or Stripe would retry them for days (and
    # eventually disable the endpoint).
    return Receipt(event_id, result.outcome, result.order_id, result.status)
