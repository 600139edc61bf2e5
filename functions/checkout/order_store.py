"""Firestore reads and writes for the checkout side: claiming a checkout, pending orders.

Collections (names defined once, here):
  checkouts/{checkoutId}      -> which PaymentIntent serves this checkout
  orders/{paymentIntentId}    -> the order; only the webhook moves it past `pending`
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import firestore

from checkout.errors import ApiError
from checkout.firestore_client import db
from checkout.order_status import EDITABLE_STATUSES, OrderStatus
from checkout.pricing import PricedCart, order_items

CHECKOUTS = "checkouts"
ORDERS = "orders"
STRIPE_EVENTS = "stripe_events"

# How long one request may hold a checkout while it creates the PaymentIntent. After that a
# crashed holder's claim is taken over; the Stripe idempotency key makes the retry safe.
CLAIM_LEASE = timedelta(seconds=30)


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a checkout: exactly one field tells what to do next."""

    payment_intent_id: str | None = None  # the checkout already has its PaymentIntent
    claimed: bool = False  # we hold the claim: create the PaymentIntent
    busy: bool = False  # another request holds a fresh claim


def claim_checkout(checkout_id: str, now: datetime | None = None) -> Claim:
    now = now or datetime.now(UTC)
    ref = db().collection(CHECKOUTS).document(checkout_id)

    @firestore.transactional
    def claim(transaction: firestore.Transaction) -> Claim:
        snapshot = ref.get(transaction=transaction)
        record = snapshot.to_dict() or {}
        if record.get("paymentIntentId"):
            return Claim(payment_intent_id=record["paymentIntentId"])
        claimed_at = record.get("claimedAt")
        if claimed_at is not None and now - claimed_at < CLAIM_LEASE:
            return Claim(busy=True)
        transaction.set(ref, {"checkoutId": checkout_id, "claimedAt": now})
        return Claim(claimed=True)

    result: Claim = claim(db().transaction())
    return result


def release_claim(checkout_id: str) -> None:
    """Let the next request try at once, after our PaymentIntent creation failed."""
    db().collection(CHECKOUTS).document(checkout_id).update({"claimedAt": firestore.DELETE_FIELD})


def checkout_intent_id(checkout_id: str) -> str | None:
    record = db().collection(CHECKOUTS).document(checkout_id).get().to_dict() or {}
    return record.get("paymentIntentId")


def client_secret_hash(client_secret: str) -> str:
    # Only a hash is stored: reading Firestore must not give the power to confirm a payment.
    return hashlib.sha256(client_secret.encode()).hexdigest()


def _cart_fields(cart: PricedCart, email: str | None) -> dict[str, Any]:
    return {
        "items": order_items(cart),
        "amount": cart.amount,
        "currency": cart.currency,
        "email": email,
    }


def save_pending_order(
    *,
    checkout_id: str,
    payment_intent_id: str,
    client_secret: str,
    cart: PricedCart,
    email: str | None,
) -> None:
    """Create the pending order, or update its cart while it is still editable.

    Also records the PaymentIntent on the checkout, in the same transaction.
    """
    order_ref = db().collection(ORDERS).document(payment_intent_id)
    checkout_ref = db().collection(CHECKOUTS).document(checkout_id)
    cart_fields = _cart_fields(cart, email)

    @firestore.transactional
    def save(transaction: firestore.Transaction) -> None:
        order = order_ref.get(transaction=transaction).to_dict()
        if order is None:
            transaction.create(
                order_ref,
                {
                    **cart_fields,
                    "paymentIntentId": payment_intent_id,
                    "checkoutId": checkout_id,
                    "status": OrderStatus.PENDING.value,
                    "clientSecretHash": client_secret_hash(client_secret),
                    "history": [],
                    "createdAt": firestore.SERVER_TIMESTAMP,
                    "updatedAt": firestore.SERVER_TIMESTAMP,
                },
            )
        elif any(order.get(key) != value for key, value in cart_fields.items()):
            if order["status"] not in EDITABLE_STATUSES:
                raise ApiError(409, "checkout_locked", "This order can no longer be changed.")
            transaction.update(order_ref, {**cart_fields, "updatedAt": firestore.SERVER_TIMESTAMP})
        transaction.set(
            checkout_ref,
            {"paymentIntentId": payment_intent_id, "claimedAt": firestore.DELETE_FIELD},
            merge=True,
        )

    save(db().transaction())


def read_order_status(payment_intent_id: str, client_secret: str) -> dict[str, Any] | None:
    """The order's status fields, for the holder of its client secret; None otherwise."""
    order = db().collection(ORDERS).document(payment_intent_id).get().to_dict()
    # Orders rebuilt by the webhook (paid outside the page) have no hash: nobody may poll them.
    stored_hash = (order or {}).get("clientSecretHash") or ""
    if order is None or not hmac.compare_digest(stored_hash, client_secret_hash(client_secret)):
        return None
    return {
        "paymentIntentId": payment_intent_id,
        "status": order["status"],
        "amount": order["amount"],
        "currency": order["currency"],
        "lastPaymentError": order.get("lastPaymentError"),
    }
