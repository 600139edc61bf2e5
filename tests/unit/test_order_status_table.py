"""`derive_status` over every combination of facts, with the expected status written out.

The delivery-order tests check that each change is an allowed transition and compare the status
with the code's own calculation; this table is what pins the priority itself (docs/architecture.md,
"The order state machine"): before the success nothing but the payment counts; after it a lost
dispute outranks an open one, which outranks a full refund, which outranks a review (a payment
that does not match, or one for units sold out: both needs_review).
"""

import itertools

import pytest

from checkout.orders.status import DisputeState, OrderStatus, PaymentState, derive_status

P, D, S = PaymentState, DisputeState, OrderStatus

DISPUTES = (None, D.OPEN, D.KEPT, D.LOST)

# (payment, needs_review, sold_out, fully_refunded): the status for a dispute that is
#                                 none            open        kept (won/closed)  lost
TABLE: dict[tuple[PaymentState | None, bool, bool, bool], tuple[OrderStatus, ...]] = {
    (None, False, False, False): (S.PENDING, S.PENDING, S.PENDING, S.PENDING),
    (None, False, False, True): (S.PENDING, S.PENDING, S.PENDING, S.PENDING),
    (None, False, True, False): (S.PENDING, S.PENDING, S.PENDING, S.PENDING),
    (None, False, True, True): (S.PENDING, S.PENDING, S.PENDING, S.PENDING),
    (None, True, False, False): (S.PENDING, S.PENDING, S.PENDING, S.PENDING),
    (None, True, False, True): (S.PENDING, S.PENDING, S.PENDING, S.PENDING),
    (None, True, True, False): (S.PENDING, S.PENDING, S.PENDING, S.PENDING),
    (None, True, True, True): (S.PENDING, S.PENDING, S.PENDING, S.PENDING),
    (P.PROCESSING, False, False, False): (S.PROCESSING, S.PROCESSING, S.PROCESSING, S.PROCESSING),
    (P.PROCESSING, False, False, True): (S.PROCESSING, S.PROCESSING, S.PROCESSING, S.PROCESSING),
    (P.PROCESSING, False, True, False): (S.PROCESSING, S.PROCESSING, S.PROCESSING, S.PROCESSING),
    (P.PROCESSING, False, True, True): (S.PROCESSING, S.PROCESSING, S.PROCESSING, S.PROCESSING),
    (P.PROCESSING, True, False, False): (S.PROCESSING, S.PROCESSING, S.PROCESSING, S.PROCESSING),
    (P.PROCESSING, True, False, True): (S.PROCESSING, S.PROCESSING, S.PROCESSING, S.PROCESSING),
    (P.PROCESSING, True, True, False): (S.PROCESSING, S.PROCESSING, S.PROCESSING, S.PROCESSING),
    (P.PROCESSING, True, True, True): (S.PROCESSING, S.PROCESSING, S.PROCESSING, S.PROCESSING),
    (P.FAILED, False, False, False): (S.FAILED, S.FAILED, S.FAILED, S.FAILED),
    (P.FAILED, False, False, True): (S.FAILED, S.FAILED, S.FAILED, S.FAILED),
    (P.FAILED, False, True, False): (S.FAILED, S.FAILED, S.FAILED, S.FAILED),
    (P.FAILED, False, True, True): (S.FAILED, S.FAILED, S.FAILED, S.FAILED),
    (P.FAILED, True, False, False): (S.FAILED, S.FAILED, S.FAILED, S.FAILED),
    (P.FAILED, True, False, True): (S.FAILED, S.FAILED, S.FAILED, S.FAILED),
    (P.FAILED, True, True, False): (S.FAILED, S.FAILED, S.FAILED, S.FAILED),
    (P.FAILED, True, True, True): (S.FAILED, S.FAILED, S.FAILED, S.FAILED),
    (P.CANCELED, False, False, False): (S.CANCELED, S.CANCELED, S.CANCELED, S.CANCELED),
    (P.CANCELED, False, False, True): (S.CANCELED, S.CANCELED, S.CANCELED, S.CANCELED),
    (P.CANCELED, False, True, False): (S.CANCELED, S.CANCELED, S.CANCELED, S.CANCELED),
    (P.CANCELED, False, True, True): (S.CANCELED, S.CANCELED, S.CANCELED, S.CANCELED),
    (P.CANCELED, True, False, False): (S.CANCELED, S.CANCELED, S.CANCELED, S.CANCELED),
    (P.CANCELED, True, False, True): (S.CANCELED, S.CANCELED, S.CANCELED, S.CANCELED),
    (P.CANCELED, True, True, False): (S.CANCELED, S.CANCELED, S.CANCELED, S.CANCELED),
    (P.CANCELED, True, True, True): (S.CANCELED, S.CANCELED, S.CANCELED, S.CANCELED),
    (P.SUCCEEDED, False, False, False): (S.PAID, S.DISPUTED, S.PAID, S.DISPUTE_LOST),
    (P.SUCCEEDED, False, False, True): (S.REFUNDED, S.DISPUTED, S.REFUNDED, S.DISPUTE_LOST),
    (P.SUCCEEDED, False, True, False): (S.NEEDS_REVIEW, S.DISPUTED, S.NEEDS_REVIEW, S.DISPUTE_LOST),
    (P.SUCCEEDED, False, True, True): (S.REFUNDED, S.DISPUTED, S.REFUNDED, S.DISPUTE_LOST),
    (P.SUCCEEDED, True, False, False): (S.NEEDS_REVIEW, S.DISPUTED, S.NEEDS_REVIEW, S.DISPUTE_LOST),
    (P.SUCCEEDED, True, False, True): (S.REFUNDED, S.DISPUTED, S.REFUNDED, S.DISPUTE_LOST),
    (P.SUCCEEDED, True, True, False): (S.NEEDS_REVIEW, S.DISPUTED, S.NEEDS_REVIEW, S.DISPUTE_LOST),
    (P.SUCCEEDED, True, True, True): (S.REFUNDED, S.DISPUTED, S.REFUNDED, S.DISPUTE_LOST),
}

CASES = [
    (payment, review, sold_out, refunded, dispute, expected)
    for (payment, review, sold_out, refunded), row in TABLE.items()
    for dispute, expected in zip(DISPUTES, row, strict=True)
]


def case_id(
    payment: PaymentState | None, review: bool, sold_out: bool, refunded: bool, dispute: object
) -> str:
    facts = [payment.value if payment else "no-payment"]
    facts += ["needs-review"] * review + ["sold-out"] * sold_out + ["fully-refunded"] * refunded
    facts.append(f"dispute-{dispute.value}" if isinstance(dispute, DisputeState) else "no-dispute")
    return ",".join(facts)


def test_the_table_holds_every_combination_of_facts() -> None:
    every = set(
        itertools.product(
            [None, *PaymentState], [False, True], [False, True], [False, True], DISPUTES
        )
    )
    assert {case[:5] for case in CASES} == every
    assert len(CASES) == len(every) == 160


@pytest.mark.parametrize(
    ("payment", "needs_review", "sold_out", "fully_refunded", "dispute", "expected"),
    CASES,
    ids=[case_id(*case[:5]) for case in CASES],
)
def test_the_facts_add_up_to_the_status_in_the_table(
    payment: PaymentState | None,
    needs_review: bool,
    sold_out: bool,
    fully_refunded: bool,
    dispute: DisputeState | None,
    expected: OrderStatus,
) -> None:
    derived = derive_status(
        payment,
        needs_review=needs_review,
        sold_out=sold_out,
        fully_refunded=fully_refunded,
        dispute=dispute,
    )
    assert derived is expected
