"""POST /api/payment-intents: one PaymentIntent per checkout, priced by the server.

The flow, in order:
  1. price the cart from the live catalog (the client's amounts are never read; a product off
     sale is a 409 product_unavailable), with its promotion code's discount when it names one
     (checkout.intents.promotion: a refusal is a 400 of its own; the code's redemption pools
     are held with the cart's units below);
  2. read the checkout record: if it already holds this cart (and the order can still be
     used), answer from it, with no Stripe call: the common repeat, and Pay's re-check. It
     renews the checkout's stock hold (checkout.intents.stock_holds; written at most once a
     minute), taking the units again if the hold lapsed, or refuses with 409 out_of_stock;
  3. otherwise claim the checkout in Firestore, so concurrent requests take turns with Stripe
     (a new checkout's claim also counts it for its client, in the same commit);
  4. a new checkout is checked against its client's limit, and only then takes from the shop's
     budget; then its cart's units are held (or 409 out_of_stock, before any Stripe call), and
     its PaymentIntent is created (idempotency key from the checkout); an existing one holds its
     new cart's units, then is read from Stripe and updated;
  5. write the pending order and the record (what the intent holds, its sealed client secret,
     the pools its units are held in).

Shipping (checkout.shipping.charge): the cart is priced with the shopper's address when it
needs shipping and has one (after any discount), so a changed address or country is a changed
cart: re-priced, the same PaymentIntent updated (its `shipping` too) while it is editable. The
record's `cart` signature holds a digest of the address, never the address.

A checkout whose payment is under way (its order no longer editable) takes and renews no hold
here: the ledger pins its units while Stripe works (checkout.stripe_events).
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore

from checkout.cart.metadata import (
    cart_adjustments,
    cart_items,
    cart_shipping_digest,
    cart_signature,
    holds_cart,
)
from checkout.cart.pricing import PricedCart, price_cart
from checkout.cart.validation import CartRequest
from checkout.intents import promotion, rate_limits, stock_holds
from checkout.intents.errors import (
    checkout_attempts_exhausted,
    checkout_busy,
    checkout_expired,
    checkout_locked,
)
from checkout.orders import sealed_secret
from checkout.orders import store as order_store
from checkout.orders.attempts import attempts_exhausted
from checkout.orders.status import EDITABLE_STATUSES, OrderStatus
from checkout.platform import structured_log as logger
from checkout.platform.errors import ApiError
from checkout.products.live_catalog import current_catalog
from checkout.shipping.address import ShippingAddress
from checkout.shipping.charge import shipped_cart
from checkout.shipping.live_rates import current_rates
from checkout.shipping.rates import NOWHERE
from checkout.stripe_api import payment_intents
from checkout.stripe_api.payment_intents import (
    ABANDONED,
    UPDATABLE_INTENT_STATUSES,
    IntentNotUpdatable,
    IntentSummary,
)

# How long a request waits for another request that holds the checkout's claim.
_BUSY_WAIT_SECONDS = 8.0
_BUSY_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class CheckoutIntent:
    client_secret: str
    payment_intent_id: str
    amount: int  # the total to pay
    currency: str
    subtotal: int = 0  # the lines, before the discount
    discount: int = 0
    promotion_code: str | None = None
    shipping_amount: int | None = None  # None: nothing to ship, or no address yet

    def body(self) -> dict[str, str | int | None]:
        return {
            "clientSecret": self.client_secret,
            "paymentIntentId": self.payment_intent_id,
            "amount": self.amount,
            "currency": self.currency,
            "subtotal": self.subtotal,
            "discount": self.discount,
            "promotionCode": self.promotion_code,
            "shippingAmount": self.shipping_amount,
        }


def _answer(client_secret: str, payment_intent_id: str, cart: PricedCart) -> CheckoutIntent:
    discount, shipping = cart.discount, cart.shipping
    return CheckoutIntent(
        client_secret,
        payment_intent_id,
        cart.amount,
        cart.currency,
        cart.subtotal,
        discount.amount if discount else 0,
        discount.code if discount else None,
        shipping.amount if shipping else None,
    )


def _await_other_request(checkout_id: str, deadline: float) -> None:
    """Wait until the request holding the checkout's claim has recorded its outcome."""
    while time.monotonic() < deadline:
        time.sleep(_BUSY_POLL_SECONDS)
        record = order_store.read_checkout(checkout_id) or {}
        if not order_store.claim_is_fresh(record, datetime.now(UTC)):
            return
    raise checkout_busy()


class _RecordChanged(Exception):
    """The checkout record changed while a repeat renewed its hold: decide again from it."""


def _create(
    checkout_id: str, cart: PricedCart, claim_token: str, hold_pools: list[str]
) -> IntentSummary:
    try:
        intent = payment_intents.create_intent(checkout_id, cart)
    except Exception:
        # Without a PaymentIntent nobody can pay for the units: back on sale now, not when the
        # hold lapses.
        stock_holds.release_cart(checkout_id, hold_pools)
        order_store.release_claim(checkout_id, claim_token)
        raise
    logger.bind(orderId=intent.id)
    logger.info(
        "payment intent created",
        paymentIntentId=intent.id,
        checkout=logger.pseudonym(checkout_id),
        amount=cart.amount,
    )
    return intent


def _refuse_canceled(intent: IntentSummary) -> None:
    """A canceled PaymentIntent's client secret can never pay: the page starts a new checkout."""
    if intent.status == "canceled":
        # One the reconciler expired (checkout.reconcile) the page replaces without a word.
        if intent.cancellation_reason == ABANDONED:
            raise checkout_expired()
        raise checkout_locked("This payment was canceled; start a new checkout.")


def _intent_for_cart(payment_intent_id: str, checkout_id: str, cart: PricedCart) -> IntentSummary:
    """The checkout's existing PaymentIntent holding `cart`: read from Stripe, refused when it
    can no longer be used, and given the cart when it holds another."""
    intent = payment_intents.retrieve_intent_summary(payment_intent_id)
    _refuse_canceled(intent)
    if (
        (intent.amount, intent.currency) == (cart.amount, cart.currency)
        and holds_cart(intent.items, intent.adjustments, cart)
        and intent.shipping == cart_shipping_digest(cart)
    ):
        return intent
    if intent.status not in UPDATABLE_INTENT_STATUSES:
        raise checkout_locked()
    logger.info(
        "payment intent cart updated",
        paymentIntentId=payment_intent_id,
        checkout=logger.pseudonym(checkout_id),
        amount=cart.amount,
    )
    try:
        return payment_intents.update_intent_cart(payment_intent_id, cart)
    except IntentNotUpdatable:
        # The payment got under way between our read and our update.
        raise checkout_locked() from None


def _cancel_spare(payment_intent_id: str, checkout_id: str) -> None:
    """Cancel a PaymentIntent that lost the race to be the checkout's; nobody has its secret."""
    try:
        payment_intents.cancel_intent(payment_intent_id)
    except ApiError as error:
        # Harmless if it stays: without its client secret nobody can pay it.
        logger.warn("spare payment intent not canceled", paymentIntentId=payment_intent_id,
                    checkout=logger.pseudonym(checkout_id), code=error.code)  # fmt: skip
    else:
        logger.info("spare payment intent canceled", paymentIntentId=payment_intent_id,
                    checkout=logger.pseudonym(checkout_id))  # fmt: skip


def _save(
    request: CartRequest, cart: PricedCart, intent: IntentSummary, hold_pools: list[str] | None
) -> None:
    try:
        order_store.save_pending_order(
            checkout_id=request.checkout_id,
            payment_intent_id=intent.id,
            client_secret=intent.client_secret,
            sealed_client_secret=sealed_secret.seal(
                intent.client_secret, request.checkout_id, intent.id
            ),
            cart=cart,
            email=request.email,
            hold_pools=hold_pools,
        )
    except order_store.OrderLocked:
        raise checkout_locked("This order can no longer be changed.") from None


def _refuse_unusable(order: dict[str, Any] | None) -> None:
    if attempts_exhausted(order):
        raise checkout_attempts_exhausted()
    if (order or {}).get("status") == OrderStatus.CANCELED.value:
        # One the reconciler expired (checkout.reconcile) the page replaces without a word.
        if (order or {}).get("cancellationReason") == ABANDONED:
            raise checkout_expired()
        raise checkout_locked("This payment was canceled; start a new checkout.")


def _editable(order: dict[str, Any] | None) -> bool:
    """Whether the checkout's cart may still change, so that opening holds its units."""
    return order is None or order.get("status") in EDITABLE_STATUSES


def _renew_hold(
    request: CartRequest,
    cart: PricedCart,
    order: dict[str, Any],
    seen: firestore.DocumentSnapshot[Any],
    redemptions: tuple[str, ...],
) -> list[str] | None:
    """The repeat's hold: renewed, or taken again if it lapsed (409 out_of_stock if the units
    are gone); None when the payment is under way (no hold is touched).

    Without the claim, a cart change of the same checkout may have held its own cart
    meanwhile: if the record moved on since `seen`, the caller decides again from it, and the
    hold ends up matching whichever cart is recorded last.
    """
    if not _editable(order):
        return None
    held_before = order.get("holdPools") or []
    held = stock_holds.hold_cart(request.checkout_id, cart, held_before, redemptions)
    if not held and not held_before:
        return held  # no stocked product, nothing held or written: nothing to check
    if order_store.checkout_snapshot(request.checkout_id).update_time != seen.update_time:
        raise _RecordChanged
    return held


def _from_record(
    request: CartRequest,
    cart: PricedCart,
    seen: firestore.DocumentSnapshot[Any],
    redemptions: tuple[str, ...],
) -> CheckoutIntent | None:
    """The answer from the checkout record alone, when it holds this very cart; else None.

    Reads the record (read by the caller), its order, the cart's stock pools, and the record
    again; no Stripe call, and no write unless the email changed or the hold needs renewing.
    The order says whether the checkout may still be used (canceled, attempt cap).
    """
    record: dict[str, Any] = seen.to_dict() or {}
    payment_intent_id = record.get("paymentIntentId")
    if not payment_intent_id:
        return None
    order = order_store.read_order(payment_intent_id)
    _refuse_unusable(order)
    if (
        order is None
        or record.get("cart") != cart_signature(cart)
        or order_store.claim_is_fresh(record, datetime.now(UTC))
    ):
        return None
    client_secret = sealed_secret.unseal(
        record.get("clientSecretSealed"), request.checkout_id, payment_intent_id
    )
    if client_secret is None:
        return None
    hold_pools = _renew_hold(request, cart, order, seen, redemptions)
    intent = IntentSummary(
        payment_intent_id,
        client_secret,
        cart.amount,
        cart.currency,
        "",
        cart_items(cart),
        adjustments=cart_adjustments(cart),
        shipping=cart_shipping_digest(cart),
    )
    if order.get("email") != request.email or (
        hold_pools is not None
        and (order.get("holdPools") != hold_pools or order.get("holdKey") != request.checkout_id)
    ):
        # (A product the owner started stocking since: the order now names its pool.)
        _save(request, cart, intent, hold_pools)
    logger.bind(orderId=payment_intent_id)
    return _answer(client_secret, payment_intent_id, cart)


def _with_claim(
    request: CartRequest,
    cart: PricedCart,
    client_ip: str,
    claim: order_store.Claim,
    now: float,
    redemptions: tuple[str, ...],
) -> IntentSummary:
    """Create (new checkout) or update (existing one) the PaymentIntent, holding the claim."""
    token, payment_intent_id = claim.token or "", claim.payment_intent_id
    if payment_intent_id is None:
        try:
            # The claim counted it for its client (count_if_new); 0 only if it somehow did not.
            rate_limits.check_new_checkout(client_ip, claim.counted or 0, now)
        except Exception:
            order_store.release_claim(request.checkout_id, token)
            raise
        # Before Stripe: a shopper refused for stock costs no PaymentIntent.
        try:
            hold_pools = stock_holds.hold_cart(request.checkout_id, cart, (), redemptions)
        except Exception:
            order_store.release_claim(request.checkout_id, token)
            raise
        intent = _create(request.checkout_id, cart, token, hold_pools)
        try:
            _save(request, cart, intent, hold_pools)
        except order_store.CheckoutHasAnotherIntent as other:
            # Our claim outlived its lease and another request recorded its intent first.
            _cancel_spare(intent.id, request.checkout_id)
            intent = _intent_for_cart(other.payment_intent_id, request.checkout_id, cart)
            _save(request, cart, intent, hold_pools)
        return intent
    try:
        logger.bind(orderId=payment_intent_id)
        # Read afresh under the claim: the pools held before, and whether it is still editable.
        order = order_store.read_order(payment_intent_id)
        _refuse_unusable(order)
        held = (
            stock_holds.hold_cart(
                request.checkout_id, cart, (order or {}).get("holdPools") or [], redemptions
            )
            if _editable(order)
            else None
        )
        intent = _intent_for_cart(payment_intent_id, request.checkout_id, cart)
        _save(request, cart, intent, held)
    except Exception:
        order_store.release_claim(request.checkout_id, token)
        raise
    return intent


def open_checkout(
    request: CartRequest, client_ip: str, shipping: ShippingAddress | None = None
) -> CheckoutIntent:
    shop = current_catalog()
    priced = price_cart(request.lines, shop)
    rates = current_rates() if shipping is not None else NOWHERE
    deadline = time.monotonic() + _BUSY_WAIT_SECONDS
    while True:
        seen = order_store.checkout_snapshot(request.checkout_id)
        applied = promotion.apply_code(request, priced, client_ip, seen.to_dict() or {})
        redemptions = applied.pools if applied else ()
        # After any discount: freeAbove counts the subtotal after it.
        cart = shipped_cart(applied.cart if applied else priced, shop, shipping, rates)
        try:
            answered = _from_record(request, cart, seen, redemptions)
        except _RecordChanged:
            if time.monotonic() > deadline:
                raise checkout_busy() from None
            continue
        if answered is not None:
            return answered
        now = rate_limits.clock()
        claim = order_store.claim_checkout(
            request.checkout_id,
            seen=seen,
            count_if_new=rate_limits.new_checkout_counter(client_ip, now),
        )
        if claim.token:
            intent = _with_claim(request, cart, client_ip, claim, now, redemptions)
            return _answer(intent.client_secret, intent.id, cart)
        # Another request is creating or changing this checkout's intent: wait, then look again.
        # Logged: how often shoppers' requests collide (double submits, retries) and wait.
        logger.info(
            "checkout busy: waiting for the request that holds its claim",
            checkout=logger.pseudonym(request.checkout_id),
        )
        _await_other_request(request.checkout_id, deadline)
