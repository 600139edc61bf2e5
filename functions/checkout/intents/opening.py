"""POST /api/payment-intents: one PaymentIntent per checkout, priced by the server.

The flow, in order:
  1. price the cart from the catalog (the client's amounts are never read);
  2. claim the checkout in Firestore, so concurrent duplicate requests create one intent;
  3. create the PaymentIntent (idempotency key from the checkout) or update the existing one;
  4. write the pending order.
"""

import time
from dataclasses import dataclass

from checkout.cart.pricing import PricedCart, items_metadata, price_cart
from checkout.cart.validation import CartRequest
from checkout.intents import stripe_gateway
from checkout.intents.stripe_gateway import ABANDONED
from checkout.orders import store as order_store
from checkout.platform import structured_log as logger
from checkout.platform.errors import ApiError, checkout_expired, checkout_locked

# How long a duplicate request waits for the request that holds the claim.
_BUSY_WAIT_SECONDS = 8.0
_BUSY_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class CheckoutIntent:
    client_secret: str
    payment_intent_id: str
    amount: int
    currency: str

    def body(self) -> dict[str, str | int]:
        return {
            "clientSecret": self.client_secret,
            "paymentIntentId": self.payment_intent_id,
            "amount": self.amount,
            "currency": self.currency,
        }


def _await_other_request(checkout_id: str) -> str:
    deadline = time.monotonic() + _BUSY_WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(_BUSY_POLL_SECONDS)
        payment_intent_id = order_store.checkout_intent_id(checkout_id)
        if payment_intent_id:
            return payment_intent_id
    raise ApiError(409, "checkout_busy", "This checkout is being set up; try again in a moment.")


def _create(checkout_id: str, cart: PricedCart, claim_token: str) -> stripe_gateway.Intent:
    try:
        intent = stripe_gateway.create_intent(checkout_id, cart)
    except Exception:
        order_store.release_claim(checkout_id, claim_token)
        raise
    logger.info(
        "payment intent created",
        paymentIntentId=intent.id,
        checkoutId=checkout_id,
        amount=cart.amount,
    )
    return intent


def _reuse(payment_intent_id: str, checkout_id: str, cart: PricedCart) -> stripe_gateway.Intent:
    intent = stripe_gateway.retrieve_intent(payment_intent_id)
    if intent.status == "canceled":
        # Its client secret can never pay: the page must start a new checkout. One the
        # reconciler expired (checkout.reconcile) the page replaces without a word.
        if intent.cancellation_reason == ABANDONED:
            raise checkout_expired()
        raise checkout_locked("This payment was canceled; start a new checkout.")
    if (intent.amount, intent.currency, intent.items) == (
        cart.amount,
        cart.currency,
        items_metadata(cart),
    ):
        return intent
    if intent.status not in stripe_gateway.UPDATABLE_STATUSES:
        raise checkout_locked()
    logger.info(
        "payment intent cart updated",
        paymentIntentId=payment_intent_id,
        checkoutId=checkout_id,
        amount=cart.amount,
    )
    return stripe_gateway.update_intent_cart(payment_intent_id, cart)


def _cancel_spare(payment_intent_id: str, checkout_id: str) -> None:
    """Cancel a PaymentIntent that lost the race to be the checkout's; nobody has its secret."""
    try:
        stripe_gateway.cancel_intent(payment_intent_id)
    except ApiError as error:
        # Harmless if it stays: without its client secret nobody can pay it.
        logger.warn("spare payment intent not canceled", paymentIntentId=payment_intent_id,
                    checkoutId=checkout_id, code=error.code)  # fmt: skip
    else:
        logger.info("spare payment intent canceled", paymentIntentId=payment_intent_id,
                    checkoutId=checkout_id)  # fmt: skip


def _save(request: CartRequest, cart: PricedCart, intent: stripe_gateway.Intent) -> None:
    order_store.save_pending_order(
        checkout_id=request.checkout_id,
        payment_intent_id=intent.id,
        client_secret=intent.client_secret,
        cart=cart,
        email=request.email,
    )


def open_checkout(request: CartRequest) -> CheckoutIntent:
    cart = price_cart(request.lines)
    claim = order_store.claim_checkout(request.checkout_id)
    if claim.token:
        intent = _create(request.checkout_id, cart, claim.token)
        try:
            _save(request, cart, intent)
        except order_store.CheckoutHasAnotherIntent as other:
            # Our claim outlived its lease and another request recorded its intent first.
            _cancel_spare(intent.id, request.checkout_id)
            intent = _reuse(other.payment_intent_id, request.checkout_id, cart)
            _save(request, cart, intent)
    else:
        payment_intent_id = claim.payment_intent_id or _await_other_request(request.checkout_id)
        intent = _reuse(payment_intent_id, request.checkout_id, cart)
        _save(request, cart, intent)
    return CheckoutIntent(intent.client_secret, intent.id, cart.amount, cart.currency)
