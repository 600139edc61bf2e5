"""The Stripe calls the checkout makes, and what their failures mean to our callers.

One StripeClient per (key, base), created on first use and reused across requests.
"""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import stripe

from checkout.cart.pricing import PricedCart, cart_signature, items_metadata
from checkout.orders.ownership import marked
from checkout.platform.deadline import remaining_seconds
from checkout.platform.errors import ApiError, checkout_locked
from checkout.platform.settings import STRIPE_API_BASE, STRIPE_SECRET_KEY, optional, require

# PaymentIntent statuses in which Stripe still accepts a new amount.
UPDATABLE_STATUSES = frozenset({"requires_payment_method", "requires_confirmation"})
# Statuses in which nobody has paid and nothing is under way: an idle one can be canceled.
UNPAID_STATUSES = frozenset({"requires_payment_method", "requires_confirmation", "requires_action"})
# The cancellation_reason the reconciler gives an abandoned checkout's PaymentIntent.
ABANDONED = "abandoned"

# A serverless request should fail fast rather than hang for the SDK's default 80 s.
_TIMEOUT_SECONDS = (3.0, 10.0)  # (connect, read)
_MAX_NETWORK_RETRIES = 2
# The longest one call can take: every attempt timing out, plus the SDK's pauses between
# attempts (0.5 s, then 1 s, jittered down). The checkout claim's lease (order_store.CLAIM_LEASE)
# must outlast two of them (retrieve + update), and a call is only started when the request's
# deadline (platform/deadline.py, from the function's timeout) leaves room for all of it.
WORST_CASE_CALL_SECONDS = (_MAX_NETWORK_RETRIES + 1) * sum(_TIMEOUT_SECONDS) + 2


@dataclass(frozen=True)
class Intent:
    id: str
    client_secret: str
    amount: int
    currency: str
    status: str
    items: str  # the "items" metadata value
    cancellation_reason: str | None = None


@cache
def _client(api_key: str, api_base: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        http_client=stripe.RequestsClient(timeout=_TIMEOUT_SECONDS),
        # The SDK retries connection errors and 409/5xx with the same idempotency key.
        max_network_retries=_MAX_NETWORK_RETRIES,
    )


def client() -> stripe.StripeClient:
    return _client(require(STRIPE_SECRET_KEY), optional(STRIPE_API_BASE))


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn Stripe's exceptions into ApiErrors a caller can act on, with no secret in them.

    Also refuses to start a call that might outlive the request (see platform/deadline.py).
    """
    if remaining_seconds() < WORST_CASE_CALL_SECONDS:
        raise ApiError(502, "stripe_unavailable", "The payment provider is slow; try again.")
    try:
        yield
    except (stripe.InvalidRequestError, stripe.IdempotencyError, stripe.CardError) as e:
        message = e.user_message or "Stripe rejected the request."
        raise ApiError(400, "stripe_invalid_request", message, stripe_code=e.code) from None
    except stripe.AuthenticationError:
        # Our key is wrong: the caller can do nothing about it, so say so without detail.
        raise ApiError(
            500, "stripe_auth_failed", "The payment provider rejected our credentials."
        ) from None
    except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError, stripe.StripeError):
        raise ApiError(
            502, "stripe_unavailable", "The payment provider is unavailable; try again."
        ) from None


def _intent(obj: stripe.PaymentIntent) -> Intent:
    return Intent(
        id=obj.id,
        client_secret=obj.client_secret or "",
        amount=obj.amount,
        currency=obj.currency,
        status=obj.status,
        items=obj.metadata.to_dict().get("items", "") if obj.metadata else "",
        cancellation_reason=getattr(obj, "cancellation_reason", None),
    )


def idempotency_key(checkout_id: str, cart: PricedCart) -> str:
    # Derived from the checkout and its cart: a retry of the same create returns the same
    # PaymentIntent, while a changed cart is not refused as a mismatched replay.
    # The amount is in it too: a catalog price change must not replay an old create.
    cart_digest = hashlib.sha256(cart_signature(cart).encode()).hexdigest()
    return f"checkout-{checkout_id}-{cart_digest[:32]}"


def create_intent(checkout_id: str, cart: PricedCart) -> Intent:
    with translated_errors():
        obj = client().v1.payment_intents.create(
            params={
                "amount": cart.amount,
                "currency": cart.currency,
                # The mark tells the webhook this PaymentIntent is ours (orders/ownership.py).
                "metadata": marked({"checkoutId": checkout_id, "items": items_metadata(cart)}),
            },
            options={"idempotency_key": idempotency_key(checkout_id, cart)},
        )
    return _intent(obj)


def retrieve_intent(payment_intent_id: str) -> Intent:
    with translated_errors():
        return _intent(client().v1.payment_intents.retrieve(payment_intent_id))


def update_intent_cart(payment_intent_id: str, cart: PricedCart) -> Intent:
    try:
        with translated_errors():
            obj = client().v1.payment_intents.update(
                payment_intent_id,
                params={"amount": cart.amount, "metadata": {"items": items_metadata(cart)}},
            )
    except ApiError as error:
        # The payment got under way between our read and our update.
        if error.stripe_code == "payment_intent_unexpected_state":
            raise checkout_locked() from None
        raise
    return _intent(obj)


def cancel_intent(payment_intent_id: str) -> dict[str, Any]:
    """Cancel a PaymentIntent that must not be paid (a spare, or one past the attempt cap);
    the canceled intent, as a dict."""
    with translated_errors():
        return client().v1.payment_intents.cancel(payment_intent_id).to_dict()


class PaymentIntentMissing(ApiError):
    """Stripe does not know the PaymentIntent: made with the keys of another account or mode."""

    def __init__(self, stripe_code: str | None) -> None:
        super().__init__(
            404,
            "stripe_payment_intent_missing",
            "The payment provider does not know this payment.",
            stripe_code=stripe_code,
        )


def retrieve_payment_intent(payment_intent_id: str) -> dict[str, Any]:
    """The PaymentIntent as Stripe has it now, as a plain dict (what an event's data.object is).

    Raises PaymentIntentMissing when Stripe does not know it."""
    with translated_errors():
        try:
            return client().v1.payment_intents.retrieve(payment_intent_id).to_dict()
        except stripe.InvalidRequestError as error:
            # Stripe answers an id it does not know with 404 `resource_missing` ("No such
            # payment_intent"), also for one made in the other mode or another account.
            if error.http_status == 404:
                raise PaymentIntentMissing(error.code) from None
            raise


def cancel_abandoned_intent(payment_intent_id: str) -> dict[str, Any]:
    """Cancel an idle checkout's PaymentIntent as `abandoned`; the canceled intent, as a dict."""
    with translated_errors():
        return (
            client()
            .v1.payment_intents.cancel(payment_intent_id, params={"cancellation_reason": ABANDONED})
            .to_dict()
        )
