"""The order document's shape (`Order`) and its one constructor, `new_order`.

An order is made two ways, and both go through `new_order`: by the page's first POST
(checkout.orders.store.save_pending_order) and, for a PaymentIntent of ours paid without one,
rebuilt from the PaymentIntent (checkout.stripe_events.rebuild). Everything after that is
recorded by Stripe's events (docs/architecture.md).
"""

from datetime import datetime
from typing import Any, TypedDict

from checkout.cart.pricing import AdjustmentFields
from checkout.orders.reconciler_fields import STRIPE_MISSING
from checkout.orders.status import OrderStatus

# `source` of an order rebuilt from its PaymentIntent: its amount came from Stripe, not from our
# catalog (the page's own orders have no `source`). The value predates the other sources.
REBUILT = "webhook"

# True on an order whose cart holds a shippable product (the catalog's `shippable`): paid
# without a shipping address, it is reviewed, never fulfilled (checkout.stripe_events).
# Absent on orders written before shipping existed: those are not reviewed for it.
SHIPPING_REQUIRED = "shippingRequired"


class Order(TypedDict, total=False):
    """orders/{paymentIntentId}, as written; read back, a document may lack newer fields."""

    paymentIntentId: str
    checkoutId: str | None
    status: str  # an OrderStatus value
    items: list[dict[str, str | int]]
    subtotal: int  # the items, before discount and shipping (absent on older orders)
    discount: dict[str, Any] | None  # {"code", "amount", "productIds"}
    # {"amount", "country", "address": Stripe's shape, or None when only the PaymentIntent's
    # metadata said it (a rebuilt order whose PaymentIntent has no `shipping`)}
    shipping: dict[str, Any] | None
    shippingRequired: bool  # SHIPPING_REQUIRED
    amount: int  # the total to pay
    currency: str
    email: str | None
    clientSecretHash: str | None  # None: rebuilt, nobody may poll it
    # The page's orders: the key its stock is held under (its checkoutId), and the pools its
    # cart holds (the stocked products of its cart). A rebuilt order has neither.
    holdKey: str
    holdPools: list[str]
    history: list[dict[str, Any]]  # one entry per applied event, with the path that applied it
    refundedAmount: int
    dispute: dict[str, Any] | None
    declineCount: int
    lastPaymentError: dict[str, Any] | None
    source: str  # REBUILT, or absent
    stripeMissing: bool
    lastActivityAt: datetime
    # Recorded by Stripe's events (checkout.stripe_events): the facts the status derives from.
    payment: dict[str, Any]
    amountReceived: int | None
    refunds: list[dict[str, Any]]
    chargeRefunded: dict[str, Any]
    disputes: dict[str, dict[str, Any]]
    fraudWarning: dict[str, Any]
    recentDeclines: list[dict[str, Any]]
    reviewReason: str
    cartCorrectedFrom: dict[str, Any]
    itemsRepriced: bool  # items priced from the catalog: an old PaymentIntent had no prices
    cancellationReason: str | None
    # Paid for units no longer on sale: {"products": {productId: units short}, "at": datetime}.
    soldOut: dict[str, Any]
    lastEventCreated: int
    fulfilledAt: datetime | None
    # The statuses ("paid", "refunded") whose mail/ documents the ledger's commit created
    # (checkout.mail.documents.MAIL_CREATED_FOR): each is created once per order.
    mailCreatedFor: list[str]


def new_order(
    *,
    payment_intent_id: str,
    checkout_id: str | None,
    items: list[dict[str, str | int]],
    adjustments: AdjustmentFields,
    amount: int,
    currency: str,
    email: str | None,
    client_secret_hash: str | None,
    rebuilt: bool = False,
) -> Order:
    """A pending order with nothing recorded yet (the store adds its timestamps)."""
    order: Order = {
        "paymentIntentId": payment_intent_id,
        "checkoutId": checkout_id,
        "status": OrderStatus.PENDING.value,
        "items": items,
        "subtotal": adjustments["subtotal"],
        "discount": adjustments["discount"],
        "shipping": adjustments["shipping"],
        "amount": amount,
        "currency": currency,
        "email": email,
        "clientSecretHash": client_secret_hash,
        "history": [],
        # Written as Stripe reports refunds, disputes and declines.
        "refundedAmount": 0,
        "dispute": None,
        "declineCount": 0,
        "lastPaymentError": None,
        STRIPE_MISSING: False,
    }
    if rebuilt:
        order["source"] = REBUILT
    return order
