"""Order statuses and the transitions between them: the one state machine, enforced on every write.

    pending ──> processing ──> paid ──> refunded
       │            │           │
       │            │           └────> needs_review   (amount/currency mismatch, found late)
       ├──> failed ─┴─> paid            (a later success still wins)
       ├──> canceled
       └──> needs_review               (succeeded, but amount/currency did not match the order)

Webhooks arrive late, twice and out of order, so a transition that is not listed here is
ignored rather than applied: a late `processing` or `payment_failed` never undoes `paid`.
"""

from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    PAID = "paid"
    FAILED = "failed"
    CANCELED = "canceled"
    REFUNDED = "refunded"
    NEEDS_REVIEW = "needs_review"


_S = OrderStatus

ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    _S.PENDING: frozenset({_S.PROCESSING, _S.PAID, _S.FAILED, _S.CANCELED, _S.NEEDS_REVIEW}),
    _S.PROCESSING: frozenset({_S.PAID, _S.FAILED, _S.CANCELED, _S.NEEDS_REVIEW}),
    # A failed attempt leaves the PaymentIntent open: the shopper may retry and succeed.
    _S.FAILED: frozenset({_S.PROCESSING, _S.PAID, _S.CANCELED, _S.NEEDS_REVIEW}),
    _S.PAID: frozenset({_S.REFUNDED, _S.NEEDS_REVIEW}),
    _S.NEEDS_REVIEW: frozenset({_S.REFUNDED}),
    _S.CANCELED: frozenset(),
    _S.REFUNDED: frozenset(),
}

# Statuses in which the cart, and so the PaymentIntent's amount, may still change.
EDITABLE_STATUSES = frozenset({_S.PENDING, _S.FAILED})


def can_transition(current: OrderStatus, new: OrderStatus) -> bool:
    return new in ALLOWED_TRANSITIONS[current]


# Statuses that a newer event may still take back (a retry after a failure, a failure after
# processing). Stripe does not deliver in order, so an event older than the order's newest
# applied event must not set one of these: it would undo something that happened after it.
PROVISIONAL_STATUSES = frozenset({_S.PROCESSING, _S.FAILED})
