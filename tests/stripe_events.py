"""Stripe objects and events as plain dicts, shaped like the current API's (only the fields
the webhook reads, plus a few it must ignore)."""

import itertools
import time
import uuid
from typing import Any

Json = dict[str, Any]

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    # Unique across test runs too: ledger documents outlive a test when the emulator is shared.
    return f"{prefix}_test{uuid.uuid4().hex[:16]}{next(_ids)}"


def payment_intent(
    pi_id: str | None = None,
    *,
    amount: int = 5000,
    currency: str = "usd",
    status: str = "succeeded",
    metadata: dict[str, str] | None = None,
    **extra: Any,
) -> Json:
    return {
        "id": pi_id or new_id("pi"),
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount if status == "succeeded" else 0,
        "currency": currency,
        "status": status,
        "metadata": metadata
        if metadata is not None
        else {"checkoutId": str(uuid.uuid4()), "items": "tee-classic:2"},
        "last_payment_error": None,
        "cancellation_reason": None,
        "receipt_email": None,
        "livemode": False,
        **extra,
    }


def failed_payment_intent(pi_id: str, *, code: str = "card_declined", **extra: Any) -> Json:
    return payment_intent(
        pi_id,
        status="requires_payment_method",
        last_payment_error={
            "code": code,
            "decline_code": "generic_decline",
            "message": "Your card was declined.",
            "type": "card_error",
        },
        **extra,
    )


def charge(
    pi_id: str, *, amount: int = 5000, amount_refunded: int = 0, currency: str = "usd"
) -> Json:
    return {
        "id": new_id("ch"),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "refunded": amount_refunded >= amount,
        "currency": currency,
        "payment_intent": pi_id,
        "paid": True,
        "status": "succeeded",
    }


def event(
    event_type: str, obj: Json, *, created: int | None = None, event_id: str | None = None
) -> Json:
    return {
        "id": event_id or new_id("evt"),
        "object": "event",
        "api_version": "2025-10-29.clover",
        "created": int(time.time()) if created is None else created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def order(pi_id: str, *, amount: int = 5000, status: str = "pending", **extra: Any) -> Json:
    """A pending order as the checkout writes it (timestamps left out)."""
    return {
        "paymentIntentId": pi_id,
        "checkoutId": str(uuid.uuid4()),
        "status": status,
        "items": [
            {"productId": "tee-classic", "name": "Classic tee", "unitAmount": 2500, "quantity": 2}
        ],
        "amount": amount,
        "currency": "usd",
        "email": "shopper@example.com",
        "clientSecretHash": "0" * 64,
        "history": [],
        **extra,
    }
