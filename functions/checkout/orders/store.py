"""Firestore reads and writes for the checkout side: claiming a checkout, pending orders.

Collections (names defined once, here):
  checkouts/{checkoutId}      -> which PaymentIntent serves this checkout, what it holds (`cart`),
                                 its client secret sealed (orders/sealed_secret.py)
  orders/{paymentIntentId}    -> the order; only Stripe's events (delivered by the webhook, or
                                 observed by the return page and the reconciler) move it on
  stripe_events/{eventId}     -> the ledger of applied events (checkout.webhooks.ledger)
  reconciler/events           -> the reconciler's events cursor (checkout.reconcile)
"""

import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from google.api_core import exceptions
from google.cloud import firestore

from checkout.cart.pricing import PricedCart, cart_signature, order_items
from checkout.orders.status import EDITABLE_STATUSES, OrderStatus
from checkout.platform import firestore_client
from checkout.platform.errors import ApiError, checkout_locked
from checkout.platform.firestore_client import db

CHECKOUTS = "checkouts"
ORDERS = "orders"
STRIPE_EVENTS = "stripe_events"
RECONCILER_STATE = "reconciler"  # reconciler/events: how far the events catch-up has got

T = TypeVar("T")

# How long one request may hold a checkout while it creates the PaymentIntent: longer than the
# slowest create can take (stripe_gateway.WORST_CASE_CALL_SECONDS), so that a live holder is
# never overtaken. After it, a crashed holder's claim is taken over.
CLAIM_LEASE = timedelta(seconds=90)


class CheckoutHasAnotherIntent(Exception):
    """The checkout was recorded with another PaymentIntent while we were creating ours."""

    def __init__(self, payment_intent_id: str) -> None:
        super().__init__(payment_intent_id)
        self.payment_intent_id = payment_intent_id


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a checkout: `token` or `busy` tells what to do next."""

    payment_intent_id: str | None = None  # the checkout's PaymentIntent, if it has one yet
    token: str | None = None  # we hold the claim (this token): create or change the intent
    busy: bool = False  # another request holds a fresh claim: wait for it


def _run(transactional: Callable[[firestore.Transaction], T]) -> T:
    """Run a transaction; running out of attempts under contention is a 503, not a 500."""
    run = firestore.transactional(transactional)

    def attempt() -> T:
        result: T = run(firestore_client.transaction())
        return result

    try:
        return firestore_client.retry_on_contention(attempt)
    except (exceptions.Aborted, ValueError) as error:
        if firestore_client.is_contention(error):
            raise ApiError(503, "storage_busy", "Too many changes at once; try again.") from None
        raise


def claim_checkout(checkout_id: str, now: datetime | None = None) -> Claim:
    """Claim the checkout for whatever needs Stripe: creating its PaymentIntent, or changing it.

    Holding the claim while Stripe is called keeps the record's `cart` in step with what the
    PaymentIntent holds: updates of one checkout happen one at a time, in the order their
    results are recorded. The claim also drops `cart` until the change is recorded, so that
    if the holder dies mid-update no request trusts the old record (they ask Stripe instead).
    """
    now = now or datetime.now(UTC)
    ref = db().collection(CHECKOUTS).document(checkout_id)

    def claim(transaction: firestore.Transaction) -> Claim:
        record = ref.get(transaction=transaction).to_dict() or {}
        payment_intent_id = record.get("paymentIntentId")
        claimed_at = record.get("claimedAt")
        if isinstance(claimed_at, datetime) and now - claimed_at < CLAIM_LEASE:
            return Claim(payment_intent_id=payment_intent_id, busy=True)
        token = uuid.uuid4().hex
        if payment_intent_id:
            transaction.update(
                ref, {"claimedAt": now, "claimToken": token, "cart": firestore.DELETE_FIELD}
            )
        else:
            transaction.set(ref, {"checkoutId": checkout_id, "claimedAt": now, "claimToken": token})
        return Claim(payment_intent_id=payment_intent_id, token=token)

    return _run(claim)


def read_checkout(checkout_id: str) -> dict[str, Any] | None:
    """The checkout record as stored (one read, no transaction)."""
    return db().collection(CHECKOUTS).document(checkout_id).get().to_dict()


def read_order(payment_intent_id: str) -> dict[str, Any] | None:
    return db().collection(ORDERS).document(payment_intent_id).get().to_dict()


def release_claim(checkout_id: str, token: str) -> None:
    """Let the next request try at once after our create failed, if the claim is still ours."""
    ref = db().collection(CHECKOUTS).document(checkout_id)

    def release(transaction: firestore.Transaction) -> None:
        record = ref.get(transaction=transaction).to_dict() or {}
        if record.get("claimToken") == token:
            transaction.update(
                ref, {"claimedAt": firestore.DELETE_FIELD, "claimToken": firestore.DELETE_FIELD}
            )

    _run(release)


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
    sealed_client_secret: str = "",  # empty: no repeat is answered from the record
    cart: PricedCart,
    email: str | None,
) -> None:
    """Create the pending order, or update its cart while it is still editable.

    Also records the PaymentIntent on the checkout, in the same transaction; raises
    CheckoutHasAnotherIntent if the checkout already records a different one.
    """
    order_ref = db().collection(ORDERS).document(payment_intent_id)
    checkout_ref = db().collection(CHECKOUTS).document(checkout_id)
    cart_fields = _cart_fields(cart, email)

    def save(transaction: firestore.Transaction) -> None:
        # Reads first (Firestore transactions read before they write).
        checkout = checkout_ref.get(transaction=transaction).to_dict() or {}
        order = order_ref.get(transaction=transaction).to_dict()
        recorded = checkout.get("paymentIntentId")
        if recorded and recorded != payment_intent_id:
            raise CheckoutHasAnotherIntent(recorded)
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
                    # Written by the webhook as Stripe reports refunds, disputes and declines.
                    "refundedAmount": 0,
                    "dispute": None,
                    "declineCount": 0,
                    "lastPaymentError": None,
                    "createdAt": firestore.SERVER_TIMESTAMP,
                    "updatedAt": firestore.SERVER_TIMESTAMP,
                },
            )
        elif any(order.get(key) != value for key, value in cart_fields.items()):
            if order.get("status") not in EDITABLE_STATUSES:
                raise checkout_locked("This order can no longer be changed.")
            transaction.update(order_ref, {**cart_fields, "updatedAt": firestore.SERVER_TIMESTAMP})
        if (
            recorded != payment_intent_id
            or "claimToken" in checkout
            or checkout.get("cart") != cart_signature(cart)
        ):
            # Only when something changes: duplicate requests then only read, and readers do
            # not queue behind each other's write locks. `cart` and the sealed client secret
            # are what lets a repeat of this cart be answered without asking Stripe.
            transaction.set(
                checkout_ref,
                {
                    "paymentIntentId": payment_intent_id,
                    "cart": cart_signature(cart),
                    "clientSecretSealed": sealed_client_secret,
                    "claimedAt": firestore.DELETE_FIELD,
                    "claimToken": firestore.DELETE_FIELD,
                },
                merge=True,
            )

    _run(save)


def read_order_status(payment_intent_id: str, client_secret: str) -> dict[str, Any] | None:
    """The order's status fields, for the holder of its client secret; None otherwise."""
    order = read_shoppers_order(payment_intent_id, client_secret)
    return None if order is None else order_status(payment_intent_id, order)


def read_shoppers_order(payment_intent_id: str, client_secret: str) -> dict[str, Any] | None:
    """The whole order document, for the holder of its client secret; None otherwise."""
    order = db().collection(ORDERS).document(payment_intent_id).get().to_dict()
    # Orders rebuilt by the webhook (paid outside the page) have no hash: nobody may poll them.
    stored_hash = (order or {}).get("clientSecretHash") or ""
    if order is None or not hmac.compare_digest(stored_hash, client_secret_hash(client_secret)):
        return None
    return order


def order_status(payment_intent_id: str, order: dict[str, Any]) -> dict[str, Any]:
    """What GET /api/orders/{id} shows of an order: its status fields, nothing private."""
    return {
        "paymentIntentId": payment_intent_id,
        "status": order["status"],
        "amount": order["amount"],
        "currency": order["currency"],
        "lastPaymentError": order.get("lastPaymentError"),
        "declineCount": order.get("declineCount") or 0,
        "refundedAmount": order.get("refundedAmount") or 0,
        "dispute": _public_dispute(order.get("dispute")),
    }


def _public_dispute(dispute: Any) -> dict[str, Any] | None:
    """The dispute as the page shows it: the evidence deadline as an ISO 8601 UTC time."""
    if not isinstance(dispute, dict):
        return None
    due = dispute.get("evidenceDueBy")
    return {
        "id": dispute.get("id"),
        "reason": dispute.get("reason"),
        "status": dispute.get("status"),
        "amount": dispute.get("amount"),
        "evidenceDueBy": due.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(due, datetime)
        else None,
    }
