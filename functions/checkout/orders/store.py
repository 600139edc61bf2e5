"""Firestore reads and writes for the checkout side: claiming a checkout, pending orders."""

import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from google.cloud import firestore

from checkout.cart.metadata import cart_signature
from checkout.cart.pricing import PricedCart, cart_adjustment_fields, order_items
from checkout.orders.order import SHIPPING_REQUIRED, new_order
from checkout.orders.order_number import order_number
from checkout.orders.reconciler_fields import LAST_ACTIVITY_AT
from checkout.orders.status import EDITABLE_STATUSES
from checkout.platform import firestore_client, firestore_counters
from checkout.platform.collections import CHECKOUTS, ORDERS
from checkout.platform.errors import ApiError
from checkout.platform.firestore_client import db

T = TypeVar("T")

# How long one request may hold a checkout while it creates the PaymentIntent: longer than the
# slowest create can take (checkout.stripe_api.connection.WORST_CASE_CALL_SECONDS), so that a
# live holder is never overtaken. After it, a crashed holder's claim is taken over.
CLAIM_LEASE = timedelta(seconds=90)

# A checkout record without a PaymentIntent (its first request was refused by a rate limit, or
# failed at Stripe, and the client never came back) carries expireAt: Firestore's TTL policy
# deletes it a little after. Far longer than a claim's lease, so no live request loses it.
UNSERVED_CHECKOUT_TTL = timedelta(days=1)


class OrderLocked(Exception):
    """The order's cart can no longer change: its payment got under way since it was read."""


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
    counted: int | None = None  # a new checkout's claim: `count_if_new`'s new value


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


def claim_is_fresh(record: dict[str, Any], now: datetime) -> bool:
    """Whether a request holds the checkout's claim (taken within the lease) at `now`."""
    claimed_at = record.get("claimedAt")
    return isinstance(claimed_at, datetime) and now - claimed_at < CLAIM_LEASE


def claim_checkout(
    checkout_id: str,
    now: datetime | None = None,
    seen: firestore.DocumentSnapshot[Any] | None = None,
    count_if_new: firestore_counters.Counter | None = None,
) -> Claim:
    """Claim the checkout for whatever needs Stripe: creating its PaymentIntent, or changing it.

    Holding the claim while Stripe is called keeps the record's `cart` in step with what the
    PaymentIntent holds: updates of one checkout happen one at a time, in the order their
    results are recorded. The claim also drops `cart` until the change is recorded, so that
    if the holder dies mid-update no request trusts the old record (they ask Stripe instead).

    `seen`: the record as the caller just read it (checkout_snapshot), which saves a read; a
    retry after losing to another request reads afresh.

    `count_if_new`: a counter incremented in the claim's own commit when the checkout has no
    PaymentIntent yet (the client's new checkouts, checkout.intents.rate_limits): counting
    then costs no round trip, and only the request that wins the claim counts.
    """
    now = now or datetime.now(UTC)
    ref = db().collection(CHECKOUTS).document(checkout_id)
    unread = [seen] if seen is not None else []

    def claim() -> Claim:
        snapshot = unread.pop() if unread else ref.get()
        record = snapshot.to_dict() or {}
        payment_intent_id = record.get("paymentIntentId")
        if claim_is_fresh(record, now):
            return Claim(payment_intent_id=payment_intent_id, busy=True)
        token = uuid.uuid4().hex
        fields: dict[str, Any] = {"checkoutId": checkout_id, "claimedAt": now, "claimToken": token}
        if payment_intent_id:
            fields["cart"] = firestore.DELETE_FIELD
        else:
            fields["expireAt"] = now + UNSERVED_CHECKOUT_TTL
        batch = db().batch()
        if snapshot.exists:
            # Only the version whose claim we judged free or stale: of two requests, one takes it.
            batch.update(ref, fields, option=_unchanged(snapshot))
        else:
            batch.create(ref, fields)
        counter = None if payment_intent_id else count_if_new
        if counter is not None:
            firestore_counters.add_increment(batch, counter)  # last: its result is results[-1]
        results = firestore_client.commit_conditional(batch.commit)
        counted = firestore_counters.count_of(results[-1]) if counter is not None else None
        return Claim(payment_intent_id=payment_intent_id, token=token, counted=counted)

    return _run_conditional(claim)


def checkout_snapshot(checkout_id: str) -> firestore.DocumentSnapshot[Any]:
    """The checkout record as stored, with its version (one read, no transaction)."""
    return db().collection(CHECKOUTS).document(checkout_id).get()


def read_checkout(checkout_id: str) -> dict[str, Any] | None:
    return checkout_snapshot(checkout_id).to_dict()


def read_order(payment_intent_id: str) -> dict[str, Any] | None:
    return db().collection(ORDERS).document(payment_intent_id).get().to_dict()


def release_claim(checkout_id: str, token: str) -> None:
    """Let the next request try at once after ours failed (at Stripe, or refused by a rate
    limit), if the claim is still ours. A record that has no PaymentIntent yet is deleted:
    the failed first request leaves nothing behind."""
    ref = db().collection(CHECKOUTS).document(checkout_id)

    def release() -> None:
        snapshot = ref.get()
        record = snapshot.to_dict() or {}
        if record.get("claimToken") == token and not record.get("paymentIntentId"):
            firestore_client.commit_conditional(lambda: ref.delete(option=_unchanged(snapshot)))
        elif record.get("claimToken") == token:
            firestore_client.commit_conditional(
                lambda: ref.update(
                    {"claimedAt": firestore.DELETE_FIELD, "claimToken": firestore.DELETE_FIELD},
                    option=_unchanged(snapshot),
                )
            )

    _run_conditional(release)


def client_secret_hash(client_secret: str) -> str:
    # Only a hash is stored: reading Firestore must not give the power to confirm a payment.
    return hashlib.sha256(client_secret.encode()).hexdigest()


def _cart_fields(
    cart: PricedCart, email: str | None, checkout_id: str, hold_pools: list[str] | None
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "items": order_items(cart),
        **cart_adjustment_fields(cart),
        "amount": cart.amount,
        "currency": cart.currency,
        "email": email,
        # Whether it ships: a payment without an address is then reviewed (the ledger).
        SHIPPING_REQUIRED: cart.needs_shipping,
    }
    if hold_pools is not None:
        fields["holdKey"] = checkout_id
        fields["holdPools"] = hold_pools
    return fields


def _cart_changes(order: dict[str, Any], cart_fields: dict[str, Any]) -> bool:
    # The subtotal follows from the items: an older order without one has not changed.
    return any(order.get(key) != value for key, value in cart_fields.items() if key != "subtotal")


def save_pending_order(
    *,
    checkout_id: str,
    payment_intent_id: str,
    client_secret: str,
    sealed_client_secret: str = "",  # empty: no repeat is answered from the record
    cart: PricedCart,
    email: str | None,
    hold_pools: list[str] | None = None,
) -> None:
    """Create the pending order, or update its cart while it is still editable.

    `hold_pools`: the pools the checkout holds for this cart (checkout.intents.stock_holds),
    written with the cart as `holdPools`, under `holdKey` (the checkoutId); None leaves them
    as they are (a checkout that took no hold: its payment is under way).

    Also records the PaymentIntent on the checkout, in the same commit; raises
    CheckoutHasAnotherIntent if the checkout already records a different one, and OrderLocked
    if the cart changes on an order that can no longer be edited.
    """
    order_ref = db().collection(ORDERS).document(payment_intent_id)
    checkout_ref = db().collection(CHECKOUTS).document(checkout_id)
    cart_fields = _cart_fields(cart, email, checkout_id, hold_pools)
    record_fields = {
        "paymentIntentId": payment_intent_id,
        # `cart` and the sealed client secret let a repeat of this cart be answered without
        # asking Stripe (checkout.intents.opening).
        "cart": cart_signature(cart),
        "clientSecretSealed": sealed_client_secret,
    }

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
        record_changes = (
            recorded != payment_intent_id
            or "claimToken" in checkout
            or "expireAt" in checkout
            or checkout.get("cart") != record_fields["cart"]
        )
        cart_changes = order is not None and _cart_changes(order, cart_fields)
        if order is None:
            order_fields = new_order(
                payment_intent_id=payment_intent_id,
                checkout_id=checkout_id,
                items=order_items(cart),
                adjustments=cart_adjustment_fields(cart),
                amount=cart.amount,
                currency=cart.currency,
                email=email,
                client_secret_hash=client_secret_hash(client_secret),
            )
            batch.create(
                order_ref,
                {
                    **order_fields,
                    "holdKey": checkout_id,
                    "holdPools": hold_pools or [],
                    SHIPPING_REQUIRED: cart.needs_shipping,
                    LAST_ACTIVITY_AT: firestore.SERVER_TIMESTAMP,
                    "createdAt": firestore.SERVER_TIMESTAMP,
                    "updatedAt": firestore.SERVER_TIMESTAMP,
                },
            )
        elif cart_changes or record_changes:
            if cart_changes and order.get("status") not in EDITABLE_STATUSES:
                raise OrderLocked
            # A request that writes is the shopper at work: the abandonment step measures
            # idleness from it. Only the version read: a webhook that moved the order on
            # meanwhile wins, and the re-read finds it locked.
            batch.update(
                order_ref,
                {
                    **(cart_fields if cart_changes else {}),
                    LAST_ACTIVITY_AT: firestore.SERVER_TIMESTAMP,
                    "updatedAt": firestore.SERVER_TIMESTAMP,
                },
                option=_unchanged(order_snapshot),
            )
        if record_changes:
            # Only when something changes: duplicate requests then only read. Only the version
            # read: if another request recorded its PaymentIntent meanwhile, the re-read finds it.
            if checkout_snapshot.exists:
                batch.update(
                    checkout_ref,
                    {
                        **record_fields,
                        "claimedAt": firestore.DELETE_FIELD,
                        "claimToken": firestore.DELETE_FIELD,
                        # It has its PaymentIntent now: the record stays with its order.
                        "expireAt": firestore.DELETE_FIELD,
                    },
                    option=_unchanged(checkout_snapshot),
                )
            else:
                batch.create(checkout_ref, {"checkoutId": checkout_id, **record_fields})
        if order is None or cart_changes or record_changes:
            firestore_client.commit_conditional(batch.commit)

    _run_conditional(save)


def mark_fulfilled(payment_intent_id: str) -> None:
    """Stamp the order fulfilled: one RPC, a plain update (the paying commit wrote the order)."""
    db().collection(ORDERS).document(payment_intent_id).update(
        {"fulfilledAt": firestore.SERVER_TIMESTAMP, "updatedAt": firestore.SERVER_TIMESTAMP},
        retry=firestore_client.RPC_RETRY,
        timeout=firestore_client.RPC_TIMEOUT_SECONDS,
    )


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
        # For people (the page, the emails); the order stays keyed by its PaymentIntent id.
        "orderNumber": order_number(payment_intent_id),
        "status": order["status"],
        "amount": order["amount"],
        "currency": order["currency"],
        "lastPaymentError": order.get("lastPaymentError"),
        "declineCount": order.get("declineCount") or 0,
        "refundedAmount": order.get("refundedAmount") or 0,
        "dispute": _public_dispute(order.get("dispute")),
        # Paid for units sold out meanwhile: refunded in full (checkout.stripe_events.stock).
        "soldOut": isinstance(order.get("soldOut"), dict),
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
