"""PaymentIntents at Stripe: create, retrieve, update the cart, cancel."""

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import stripe

if TYPE_CHECKING:  # types only: importing stripe.params costs start-up time
    from stripe.params import PaymentIntentCreateParams, PaymentIntentUpdateParamsShipping

from checkout.cart.metadata import (
    adjustments_metadata,
    adjustments_value,
    cart_signature,
    items_metadata,
    items_value,
    shipping_digest,
)
from checkout.cart.pricing import PricedCart
from checkout.orders.ownership import marked
from checkout.platform.errors import ApiError
from checkout.stripe_api import connection
from checkout.stripe_api.connection import UNEXPECTED_STATE, PaymentIntentMissing

# PaymentIntent statuses in which Stripe still accepts a new amount.
UPDATABLE_INTENT_STATUSES = frozenset({"requires_payment_method", "requires_confirmation"})
# PaymentIntent statuses in which nobody has paid and nothing is under way: an idle one can be
# canceled. (Order statuses have their own: checkout.orders.status.UNPAID_ORDER_STATUSES.)
UNPAID_INTENT_STATUSES = frozenset(
    {"requires_payment_method", "requires_confirmation", "requires_action"}
)
# The cancellation_reason the reconciler gives an abandoned checkout's PaymentIntent.
ABANDONED = "abandoned"


class IntentNotUpdatable(Exception):
    """Stripe refused the new cart: the payment got under way between our read and our update."""


@dataclass(frozen=True)
class IntentSummary:
    """The fields of a PaymentIntent the checkout's own requests need."""

    id: str
    client_secret: str
    amount: int
    currency: str
    status: str
    items: str  # the lines its metadata holds (checkout.cart.metadata.items_value)
    cancellation_reason: str | None = None
    adjustments: str = ""  # its discount and shipping (checkout.cart.metadata.adjustments_value)
    shipping: str = ""  # its `shipping`'s digest (checkout.cart.metadata.shipping_digest)


def _plain(value: Any) -> Any:
    return value.to_dict() if isinstance(value, stripe.StripeObject) else value


def _summary(obj: stripe.PaymentIntent) -> IntentSummary:
    return IntentSummary(
        id=obj.id,
        client_secret=obj.client_secret or "",
        amount=obj.amount,
        currency=obj.currency,
        status=obj.status,
        items=items_value(obj.metadata.to_dict()) if obj.metadata else "",
        cancellation_reason=getattr(obj, "cancellation_reason", None),
        adjustments=adjustments_value(obj.metadata.to_dict()) if obj.metadata else "",
        shipping=shipping_digest(_plain(getattr(obj, "shipping", None))),
    )


def idempotency_key(checkout_id: str, cart: PricedCart) -> str:
    # Derived from the checkout and its cart: a retry of the same create returns the same
    # PaymentIntent, while a changed cart is not refused as a mismatched replay.
    # The amount and unit amounts are in it too: a price change must not replay an old create.
    cart_digest = hashlib.sha256(cart_signature(cart).encode()).hexdigest()
    return f"checkout-{checkout_id}-{cart_digest[:32]}"


def _cart_metadata(cart: PricedCart) -> dict[str, str]:
    """Every metadata key the cart writes: "" for those it does not need (Stripe deletes them)."""
    return {**items_metadata(cart), **adjustments_metadata(cart)}


def _items_set(cart: PricedCart) -> dict[str, str]:
    return {key: value for key, value in _cart_metadata(cart).items() if value}


def shipping_param(cart: PricedCart) -> "PaymentIntentUpdateParamsShipping | None":
    """The cart's address as a PaymentIntent's `shipping` (Stripe's fraud checks use it), or
    None. An empty optional field is sent as "", which clears it at Stripe, rather than left
    out, which would keep an old one."""
    address = cart.shipping.address if cart.shipping else None
    if address is None:
        return None
    inner = address.get("address") or {}
    return {
        "name": str(address.get("name") or ""),
        "phone": str(address.get("phone") or ""),
        "address": {
            "line1": str(inner.get("line1") or ""),
            "line2": str(inner.get("line2") or ""),
            "city": str(inner.get("city") or ""),
            "state": str(inner.get("state") or ""),
            "postal_code": str(inner.get("postal_code") or ""),
            "country": str(inner.get("country") or ""),
        },
    }


def create_intent(checkout_id: str, cart: PricedCart) -> IntentSummary:
    params: PaymentIntentCreateParams = {
        "amount": cart.amount,
        "currency": cart.currency,
        # The mark tells the webhook this PaymentIntent is ours (orders/ownership.py).
        "metadata": marked({"checkoutId": checkout_id, **_items_set(cart)}),
    }
    shipping = shipping_param(cart)
    if shipping is not None:
        params["shipping"] = shipping
    with connection.translated_errors():
        obj = connection.client().v1.payment_intents.create(
            params=params,
            options={"idempotency_key": idempotency_key(checkout_id, cart)},
        )
    return _summary(obj)


def retrieve_intent_summary(payment_intent_id: str) -> IntentSummary:
    """The PaymentIntent's fields the checkout needs (retrieve_payment_intent: all of it)."""
    with connection.translated_errors():
        return _summary(connection.client().v1.payment_intents.retrieve(payment_intent_id))


def update_intent_cart(payment_intent_id: str, cart: PricedCart) -> IntentSummary:
    """Give the PaymentIntent a new cart; IntentNotUpdatable when Stripe's state refuses it."""
    try:
        with connection.translated_errors():
            obj = connection.client().v1.payment_intents.update(
                payment_intent_id,
                params={
                    "amount": cart.amount,
                    "metadata": _cart_metadata(cart),
                    # "": none (a cart with no address, or nothing to ship) unsets it.
                    "shipping": shipping_param(cart) or "",
                },
            )
    except ApiError as error:
        if error.stripe_code == UNEXPECTED_STATE:
            raise IntentNotUpdatable(payment_intent_id) from None
        raise
    return _summary(obj)


def cancel_intent(payment_intent_id: str) -> dict[str, Any]:
    """Cancel a PaymentIntent that must not be paid (a spare, or one past the attempt cap);
    the canceled intent, as a dict."""
    with connection.translated_errors():
        return connection.client().v1.payment_intents.cancel(payment_intent_id).to_dict()


def retrieve_payment_intent(payment_intent_id: str) -> dict[str, Any]:
    """The whole PaymentIntent as Stripe has it now, as a plain dict (what an event's
    data.object is). Raises PaymentIntentMissing when Stripe does not know it."""
    with connection.translated_errors():
        try:
            return connection.client().v1.payment_intents.retrieve(payment_intent_id).to_dict()
        except stripe.InvalidRequestError as error:
            # Stripe answers an id it does not know with 404 `resource_missing` ("No such
            # payment_intent"), also for one made in the other mode or another account.
            if error.http_status == 404:
                raise PaymentIntentMissing(error.code) from None
            raise


def cancel_abandoned_intent(payment_intent_id: str) -> dict[str, Any]:
    """Cancel an idle checkout's PaymentIntent as `abandoned`; the canceled intent, as a dict."""
    with connection.translated_errors():
        return (
            connection.client()
            .v1.payment_intents.cancel(payment_intent_id, params={"cancellation_reason": ABANDONED})
            .to_dict()
        )
