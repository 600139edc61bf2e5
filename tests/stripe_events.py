"""Stripe objects and events as plain dicts, built from Stripe's own published example objects
(tests/fixtures/stripe_objects.json) with only the fields a test is about set."""

import copy
import itertools
import json
import time
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from checkout.orders.ownership import marked
from tests.shipping_address import US_ADDRESS, at_stripe

Json = dict[str, Any]

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stripe_objects.json"
API_VERSION = "2025-10-29.clover"

_ids = itertools.count(1)


@cache
def _fixtures() -> Json:
    loaded: Json = json.loads(FIXTURES.read_text())
    return loaded


def fixture(name: str) -> Json:
    """A fresh copy of Stripe's example object `name`."""
    return copy.deepcopy(_fixtures()[name])


def new_id(prefix: str) -> str:
    # Unique across test runs too: ledger documents outlive a test when the emulator is shared.
    return f"{prefix}_test{uuid.uuid4().hex[:16]}{next(_ids)}"


def shop_metadata(**metadata: str) -> dict[str, str]:
    """PaymentIntent metadata as this shop's checkout writes it, mark included; its goods ship
    to the US (free: the amount is the items'), the PaymentIntent's own `shipping` says where."""
    return marked(
        {"checkoutId": str(uuid.uuid4()), "items": "tee-classic:2", "shipping": "0:US", **metadata}
    )


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
        **fixture("payment_intent"),
        "id": pi_id or new_id("pi"),
        "amount": amount,
        "amount_received": amount if status == "succeeded" else 0,
        "amount_capturable": 0,
        "client_secret": None,  # as in webhook payloads, which never carry it
        "currency": currency,
        "status": status,
        "metadata": metadata if metadata is not None else shop_metadata(),
        "last_payment_error": None,
        "next_action": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "receipt_email": None,
        # Where the shop's checkout ships it (tests.shipping_address).
        "shipping": at_stripe(US_ADDRESS),
        **extra,
    }


def failed_payment_intent(
    pi_id: str,
    *,
    code: str = "card_declined",
    decline_code: str = "generic_decline",
    message: str = "Your card was declined.",
    **extra: Any,
) -> Json:
    return payment_intent(
        pi_id,
        status="requires_payment_method",
        last_payment_error={
            "code": code,
            "decline_code": decline_code,
            "message": message,
            "type": "card_error",
        },
        **extra,
    )


def charge(
    pi_id: str | None,
    *,
    amount: int = 5000,
    amount_refunded: int = 0,
    currency: str = "usd",
    charge_id: str | None = None,
) -> Json:
    obj = fixture("charge")
    obj["refunds"]["data"] = []  # not included by default in the current API
    return {
        **obj,
        "id": charge_id or new_id("ch"),
        "amount": amount,
        "amount_captured": amount,
        "captured": True,
        "amount_refunded": amount_refunded,
        "refunded": amount_refunded >= amount,
        "currency": currency,
        "payment_intent": pi_id,
        "paid": True,
        "status": "succeeded",
    }


def refund(
    pi_id: str | None,
    *,
    amount: int,
    status: str = "succeeded",
    refund_id: str | None = None,
    created: int | None = None,
    charge_id: str = "ch_test",
) -> Json:
    return {
        **fixture("refund"),
        "id": refund_id or new_id("re"),
        "amount": amount,
        "status": status,
        "payment_intent": pi_id,
        "charge": charge_id,
        "created": int(time.time()) if created is None else created,
    }


def dispute(
    pi_id: str | None,
    *,
    status: str = "needs_response",
    amount: int = 5000,
    reason: str = "fraudulent",
    dispute_id: str = "dp_test1",
    due_by: int = 1_790_600_000,
    charge_id: str = "ch_test",
) -> Json:
    obj = fixture("dispute")
    obj["evidence_details"]["due_by"] = due_by
    obj["payment_method_details"]["card"]["case_type"] = (
        "inquiry" if status.startswith("warning_") else "chargeback"
    )
    return {
        **obj,
        "id": dispute_id,
        "amount": amount,
        "status": status,
        "reason": reason,
        "payment_intent": pi_id,
        "charge": charge_id,
    }


def early_fraud_warning(
    pi_id: str | None, *, warning_id: str = "issfr_test1", charge_id: str = "ch_test"
) -> Json:
    return {
        **fixture("radar.early_fraud_warning"),
        "id": warning_id,
        "fraud_type": "made_with_stolen_card",
        "payment_intent": pi_id,
        "charge": charge_id,
    }


def event(
    event_type: str, obj: Json, *, created: int | None = None, event_id: str | None = None
) -> Json:
    return {
        **fixture("event"),
        "id": event_id or new_id("evt"),
        "api_version": API_VERSION,
        "created": int(time.time()) if created is None else created,
        "data": {"object": obj},
        "pending_webhooks": 1,
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
        "refundedAmount": 0,
        "dispute": None,
        "declineCount": 0,
        "lastPaymentError": None,
        **extra,
    }


def product(
    product_id: str | None = None,
    *,
    updated: int = 1_790_000_000,
    default_price: str | Json | None = None,
    active: bool = True,
    name: str = "T-shirt",
    **extra: Any,
) -> Json:
    """A Stripe Product (the catalog's Stripe mode)."""
    return {
        **fixture("product"),
        "id": product_id or new_id("prod"),
        "name": name,
        "active": active,
        "updated": updated,
        "created": min(updated, 1_780_000_000),
        "default_price": default_price,
        "package_dimensions": None,
        **extra,
    }


def price(
    product_id: str,
    *,
    price_id: str | None = None,
    unit_amount: int | None = 2000,
    currency: str = "usd",
    active: bool = True,
    recurring: bool = False,
    billing_scheme: str = "per_unit",
    **extra: Any,
) -> Json:
    """A Stripe Price, one-time unless `recurring` (Stripe's example is a monthly one)."""
    obj = fixture("price")
    return {
        **obj,
        "id": price_id or new_id("price"),
        "product": product_id,
        "unit_amount": unit_amount,
        "unit_amount_decimal": None if unit_amount is None else str(unit_amount),
        "currency": currency,
        "active": active,
        "type": "recurring" if recurring else "one_time",
        "recurring": obj["recurring"] if recurring else None,
        "billing_scheme": billing_scheme,
        "tiers_mode": "graduated" if billing_scheme == "tiered" else None,
        "transform_quantity": None,
        **extra,
    }
