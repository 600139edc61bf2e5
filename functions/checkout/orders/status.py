"""Order statuses and the transitions between them: the one state machine, enforced on every write.

An order's status is never set by an event directly. Each event adds a fact to the order (what
Stripe said about the payment, its refunds, its disputes), and the status is derived from all the
facts recorded so far by `derive_status`. Facts only grow or are replaced by newer ones, so the
status does not depend on the order in which Stripe delivers its events.

    before the success:  pending -> processing or failed; processing <-> failed (a retry)
                         any of them -> canceled              (final)
    the success:         any of them -> paid or needs_review, or straight to refunded, disputed
                         or dispute_lost when those facts arrived first
    after it:            paid / needs_review <-> refunded     (a refund that fails gives back)
                         paid / needs_review / refunded <-> disputed  (won: back where it was)
                         any of them -> dispute_lost          (final)

`ALLOWED_TRANSITIONS` below is the complete table; a derived status that is not allowed from the
current one is refused (and alerted) rather than written.
"""

from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    FAILED = "failed"
    CANCELED = "canceled"
    PAID = "paid"
    # Paid, but not what the order was for, or for units no longer on sale (refunded in full
    # automatically): a person looks.
    NEEDS_REVIEW = "needs_review"
    REFUNDED = "refunded"  # fully refunded (a partial refund keeps paid, with refundedAmount)
    DISPUTED = "disputed"  # a dispute (or an inquiry) is open
    DISPUTE_LOST = "dispute_lost"  # the money went back to the cardholder: final


class PaymentState(StrEnum):
    """The newest thing Stripe said about the PaymentIntent itself."""

    PROCESSING = "processing"
    FAILED = "failed"  # the last attempt was declined; the PaymentIntent stays open
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


class DisputeState(StrEnum):
    OPEN = "open"
    KEPT = "kept"  # closed in the merchant's favour: won, an inquiry closed, or prevented
    LOST = "lost"


_S = OrderStatus

# Order statuses a payment leaves for good once Stripe reports it succeeded; while in one, the
# payment can still change (the shopper may retry a failed one and pay).
UNPAID_ORDER_STATUSES = frozenset({_S.PENDING, _S.PROCESSING, _S.FAILED})

# Refunds and disputes recorded before the success arrive with it, so an unpaid order may
# go straight to any status a paid one can have.
_AFTER_SUCCESS = frozenset({_S.PAID, _S.NEEDS_REVIEW, _S.REFUNDED, _S.DISPUTED, _S.DISPUTE_LOST})

ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    _S.PENDING: frozenset({_S.PROCESSING, _S.FAILED, _S.CANCELED}) | _AFTER_SUCCESS,
    _S.PROCESSING: frozenset({_S.FAILED, _S.CANCELED}) | _AFTER_SUCCESS,
    # A failed attempt leaves the PaymentIntent open: the shopper may retry and succeed.
    _S.FAILED: frozenset({_S.PROCESSING, _S.CANCELED}) | _AFTER_SUCCESS,
    _S.PAID: frozenset({_S.REFUNDED, _S.DISPUTED, _S.DISPUTE_LOST}),
    _S.NEEDS_REVIEW: frozenset({_S.REFUNDED, _S.DISPUTED, _S.DISPUTE_LOST}),
    # A refund that fails or is canceled gives the money back: paid (or needs_review) again.
    _S.REFUNDED: frozenset({_S.PAID, _S.NEEDS_REVIEW, _S.DISPUTED, _S.DISPUTE_LOST}),
    # A dispute won returns the order to what it was.
    _S.DISPUTED: frozenset({_S.PAID, _S.NEEDS_REVIEW, _S.REFUNDED, _S.DISPUTE_LOST}),
    _S.DISPUTE_LOST: frozenset(),
    _S.CANCELED: frozenset(),
}

# Statuses in which the cart, and so the PaymentIntent's amount, may still change.
EDITABLE_STATUSES = frozenset({_S.PENDING, _S.FAILED})


def can_transition(current: OrderStatus, new: OrderStatus) -> bool:
    return new in ALLOWED_TRANSITIONS[current]


def derive_status(
    payment: PaymentState | None,
    *,
    needs_review: bool,
    sold_out: bool,
    fully_refunded: bool,
    dispute: DisputeState | None,
) -> OrderStatus:
    """The status that the recorded facts add up to (payment None: Stripe has said nothing yet).

    A refund or dispute recorded before the success changes nothing until the success is
    known; then a lost dispute outranks an open one, which outranks a full refund, which
    outranks a review (the payment does not match, or it paid for units sold out: `sold_out`).
    """
    if payment is PaymentState.SUCCEEDED:
        if dispute is DisputeState.LOST:
            return _S.DISPUTE_LOST
        if dispute is DisputeState.OPEN:
            return _S.DISPUTED
        if fully_refunded:
            return _S.REFUNDED
        return _S.NEEDS_REVIEW if needs_review or sold_out else _S.PAID
    if payment is PaymentState.CANCELED:
        return _S.CANCELED
    if payment is PaymentState.FAILED:
        return _S.FAILED
    if payment is PaymentState.PROCESSING:
        return _S.PROCESSING
    return _S.PENDING
