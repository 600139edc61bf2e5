"""Firestore reads and writes for the checkout side: claiming a checkout, pending orders.

Collections (names defined once, here):
  checkouts/{checkoutId}      -> which PaymentIntent serves this checkout
  orders/{paymentIntentId}    -> the order; only the webhook moves it past `pending`
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

from checkout.cart.pricing import PricedCart, order_items
from checkout.orders.status import EDITABLE_STATUSES, OrderStatus
from checkout.platform import firestore_client
from checkout.platform.errors import ApiError, checkout_locked
from checkout.platform.firestore_client import db

CHECKOUTS = "checkouts"
ORDERS = "orders"
STRIPE_EVENTS = "stripe_events"

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
    """The outcome of claiming a checkout: exactly one field tells what to do next."""

    payment_intent_id: str | None = None  # the checkout already has its PaymentIntent
    token: str | None = None  # we hold the claim (this token): create the PaymentIntent
    busy: bool = False  # another request holds a fresh claim


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


# The checkout's requests read, decide, and then write under preconditions (create(): the
# document is still missing; update with last_update_time: it is still the version read).
# A write that loses to a concurrent one writes nothing and is read and decided again, as a
# transaction would, but with one round trip for the read and one for the commit, and none
# when nothing changes. A decision that writes nothing rests only on what it read.


def _run_conditional(attempt: Callable[[], T]) -> T:
    """Run a read-decide-write `attempt`; losing every attempt is a 503, not a 500."""
    try:
        return firestore_client.retry_on_conflict(attempt)
    except firestore_client.WriteConflict:
        raise ApiError(503, "storage_busy", "Too many changes at once; try again.") from None


def _unchanged(snapshot: firestore.DocumentSnapshot[Any]) -> Any:
    """The precondition "this document is still the version of `snapshot`"."""
    return db().write_option(last_update_time=snapshot.update_time)


def claim_checkout(checkout_id: str, now: datetime | None = None) -> Claim:
    now = now or datetime.now(UTC)
    ref = db().collection(CHECKOUTS).document(checkout_id)

    def claim() -> Claim:
        snapshot = ref.get()
        record = snapshot.to_dict() or {}
        if record.get("paymentIntentId"):
            return Claim(payment_intent_id=record["paymentIntentId"])
        claimed_at = record.get("claimedAt")
        if isinstance(claimed_at, datetime) and now - claimed_at < CLAIM_LEASE:
            return Claim(busy=True)
        token = uuid.uuid4().hex
        fields = {"checkoutId": checkout_id, "claimedAt": now, "claimToken": token}
        if snapshot.exists:
            # Only the version whose claim we judged stale: of two requests, one takes it.
            firestore_client.commit_conditional(
                lambda: ref.update(fields, option=_unchanged(snapshot))
            )
        else:
            firestore_client.commit_conditional(lambda: ref.create(fields))
        return Claim(token=token)

    return _run_conditional(claim)


def release_claim(checkout_id: str, token: str) -> None:
    """Let the next request try at once after our create failed, if the claim is still ours."""
    ref = db().collection(CHECKOUTS).document(checkout_id)

    def release() -> None:
        snapshot = ref.get()
        record = snapshot.to_dict() or {}
        if record.get("claimToken") == token and not record.get("paymentIntentId"):
            firestore_client.commit_conditional(
                lambda: ref.update(
                    {"claimedAt": firestore.DELETE_FIELD, "claimToken": firestore.DELETE_FIELD},
                    option=_unchanged(snapshot),
                )
            )

    _run_conditional(release)


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

    Also records the PaymentIntent on the checkout, in the same commit; raises
    CheckoutHasAnotherIntent if the checkout already records a different one.
    """
    order_ref = db().collection(ORDERS).document(payment_intent_id)
    checkout_ref = db().collection(CHECKOUTS).document(checkout_id)
    cart_fields = _cart_fields(cart, email)

    def save() -> None:
        # One read for both documents.
        snapshots = {s.reference.path: s for s in db().get_all([checkout_ref, order_ref])}
        checkout_snapshot, order_snapshot = snapshots[checkout_ref.path], snapshots[order_ref.path]
        checkout = checkout_snapshot.to_dict() or {}
        order = order_snapshot.to_dict()
        recorded = checkout.get("paymentIntentId")
        if recorded and recorded != payment_intent_id:
            raise CheckoutHasAnotherIntent(recorded)
        batch = db().batch()
        writes = False
        if order is None:
            writes = True
            batch.create(
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
            if order.get("status") not in EDITABLE_STATUSES:
                raise checkout_locked("This order can no longer be changed.")
            writes = True
            # Only the version read: a webhook that moved the order on meanwhile wins, and
            # the re-read finds it locked.
            batch.update(
                order_ref,
                {**cart_fields, "updatedAt": firestore.SERVER_TIMESTAMP},
                option=_unchanged(order_snapshot),
            )
        if recorded != payment_intent_id or "claimToken" in checkout:
            # Only when something changes: duplicate requests then only read. Only the version
            # read: if another request recorded its PaymentIntent meanwhile, the re-read finds it.
            writes = True
            if checkout_snapshot.exists:
                batch.update(
                    checkout_ref,
                    {
                        "paymentIntentId": payment_intent_id,
                        "claimedAt": firestore.DELETE_FIELD,
                        "claimToken": firestore.DELETE_FIELD,
                    },
                    option=_unchanged(checkout_snapshot),
                )
            else:
                batch.create(checkout_ref, {"paymentIntentId": payment_intent_id})
        if writes:
            firestore_client.commit_conditional(batch.commit)

    _run_conditional(save)


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
