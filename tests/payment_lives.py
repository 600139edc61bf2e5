"""Realistic lives of one payment, as the events Stripe sends in the order things happened.

Shared by the pure property test (tests/unit/test_any_delivery_order.py) and the same check
through the real webhook on the Firestore emulator. Event ids derive from the PaymentIntent id,
so each order's events are distinct in the ledger.

`lives_seen_by_everyone` adds what the return page and the reconciler see when they ask Stripe
(an `Observation`): the event they apply is built when they look, by
checkout.stripe_events.observations.observed_event, from the order as it is then.
"""

from dataclasses import dataclass
from typing import Any

from checkout.stripe_events.observations import RECONCILER, RETURN_PAGE
from tests import stripe_events as se

T0 = 1_790_000_000
Json = dict[str, Any]


def lives(pi: str) -> dict[str, list[Json]]:
    """Each life's events, in the order they happened, for the PaymentIntent `pi`."""

    def event(kind: str, obj: Json, at: int, suffix: str = "") -> Json:
        return se.event(
            kind, obj, created=T0 + at, event_id=f"evt_{pi}_{kind.replace('.', '_')}{suffix}_{at}"
        )

    def processing(at: int) -> Json:
        return event("payment_intent.processing", se.payment_intent(pi, status="processing"), at)

    def declined(at: int, decline_code: str) -> Json:
        failed = se.failed_payment_intent(pi, decline_code=decline_code)
        return event("payment_intent.payment_failed", failed, at)

    def succeeded(at: int) -> Json:
        return event("payment_intent.succeeded", se.payment_intent(pi), at)

    def refund(kind: str, refund_id: str, amount: int, status: str, at: int, created: int) -> Json:
        obj = se.refund(pi, amount=amount, status=status, refund_id=refund_id, created=T0 + created)
        return event(kind, obj, at, f"_{refund_id}")

    def charge_refunded(amount_refunded: int, at: int) -> Json:
        return event("charge.refunded", se.charge(pi, amount_refunded=amount_refunded), at)

    def dispute(kind: str, status: str, at: int, dispute_id: str = "dp_test1") -> Json:
        obj = se.dispute(pi, status=status, dispute_id=dispute_id)
        return event(f"charge.dispute.{kind}", obj, at, f"_{dispute_id}")

    def fraud_warning(at: int) -> Json:
        return event("radar.early_fraud_warning.created", se.early_fraud_warning(pi), at)

    return {
        # Declined, retried, paid; refunded in part, then the rest, which fails; disputed and won.
        "partial-refund-kept-dispute-won": [
            processing(1),
            declined(2, "insufficient_funds"),
            processing(3),
            succeeded(4),
            refund("refund.created", "re_1", 1000, "succeeded", 10, 10),
            charge_refunded(1000, 10),
            refund("refund.created", "re_2", 4000, "pending", 20, 20),
            charge_refunded(5000, 20),
            refund("refund.updated", "re_2", 4000, "succeeded", 21, 20),
            refund("refund.failed", "re_2", 4000, "failed", 30, 20),
            refund("charge.refund.updated", "re_2", 4000, "failed", 30, 20),
            fraud_warning(35),
            dispute("created", "needs_response", 40),
            dispute("funds_withdrawn", "needs_response", 40),
            dispute("updated", "under_review", 45),
            dispute("closed", "won", 50),
            dispute("funds_reinstated", "won", 50),
        ],
        # A card-testing run, then paid and fully refunded in two steps.
        "declines-then-full-refund": [
            declined(1, "stolen_card"),
            declined(2, "incorrect_cvc"),
            declined(3, "insufficient_funds"),
            succeeded(5),
            refund("refund.created", "re_1", 2000, "succeeded", 10, 10),
            charge_refunded(2000, 10),
            refund("refund.created", "re_2", 3000, "succeeded", 20, 20),
            charge_refunded(5000, 20),
            refund("refund.created", "re_3", 100, "canceled", 25, 25),
        ],
        # Paid, partly refunded, disputed and lost.
        "dispute-lost": [
            processing(1),
            succeeded(2),
            refund("refund.created", "re_1", 500, "succeeded", 10, 10),
            charge_refunded(500, 10),
            fraud_warning(15),
            dispute("created", "warning_needs_response", 40),
            dispute("updated", "needs_response", 42),
            dispute("funds_withdrawn", "needs_response", 42),
            dispute("closed", "lost", 50),
        ],
        # An inquiry that closes without a chargeback, and a refund that fails outright.
        "inquiry-closed": [
            succeeded(1),
            dispute("created", "warning_needs_response", 10),
            dispute("updated", "warning_under_review", 12),
            dispute("closed", "warning_closed", 20),
            refund("refund.created", "re_1", 5000, "succeeded", 30, 30),
            charge_refunded(5000, 30),
            refund("refund.failed", "re_1", 5000, "failed", 40, 30),
        ],
        # An inquiry closed, then a chargeback (another dispute) with its funds withdrawn.
        "inquiry-closed-then-chargeback": [
            succeeded(1),
            dispute("created", "warning_needs_response", 10, "dp_inquiry"),
            dispute("updated", "warning_under_review", 12, "dp_inquiry"),
            dispute("closed", "warning_closed", 20, "dp_inquiry"),
            dispute("created", "needs_response", 30, "dp_chargeback"),
            dispute("funds_withdrawn", "needs_response", 30, "dp_chargeback"),
            dispute("updated", "under_review", 35, "dp_chargeback"),
        ],
        # An inquiry closed, then escalated to a chargeback under the same dispute id.
        "inquiry-escalated": [
            succeeded(1),
            dispute("created", "warning_needs_response", 10),
            dispute("closed", "warning_closed", 20),
            dispute("updated", "needs_response", 30),
            dispute("funds_withdrawn", "needs_response", 30),
        ],
    }


@dataclass(frozen=True)
class Observation:
    """`observer` asked Stripe at `created` and was told `payment_intent` (its state then)."""

    id: str  # names the step in a test; the applied event's id comes from observed_event
    observer: str
    created: int
    payment_intent: Json


Step = Json | Observation


def step_id(step: Step) -> str:
    return step.id if isinstance(step, Observation) else str(step["id"])


AUTHENTICATION_FAILED = {
    "code": "payment_intent_authentication_failure",
    "message": "The provided PaymentMethod has failed authentication.",
    "type": "invalid_request_error",
}


def lives_seen_by_everyone(pi: str) -> dict[str, list[Step]]:
    """Lives with failed attempts that the webhook, the return page and the reconciler all see,
    in the order things happened. Two 3D Secure failures with the same error are two attempts."""

    def failed(error: Json, payment_method: str | None) -> Json:
        if payment_method is not None:
            error = {**error, "payment_method": {"id": payment_method, "object": "payment_method"}}
        return se.payment_intent(pi, status="requires_payment_method", last_payment_error=error)

    def authentication_failed(payment_method: str | None = None) -> Json:
        return failed(AUTHENTICATION_FAILED, payment_method)

    def card_declined(charge: str, decline_code: str) -> Json:
        error = {
            "charge": charge,
            "code": "card_declined",
            "decline_code": decline_code,
            "message": "Your card was declined.",
            "type": "card_error",
        }
        return failed(error, None)

    def stripe(kind: str, obj: Json, at: int) -> Json:
        return se.event(
            kind, obj, created=T0 + at, event_id=f"evt_{pi}_{kind.replace('.', '_')}_{at}"
        )

    def seen(observer: str, obj: Json, at: int) -> Observation:
        return Observation(f"{observer}@{at}", observer, T0 + at, obj)

    def attempts(without_method: bool) -> list[Step]:
        first = authentication_failed(None if without_method else "pm_test3ds1")
        again = authentication_failed(None if without_method else "pm_test3ds2")
        declined_1 = card_declined("ch_testdeclined1", "generic_decline")
        declined_2 = card_declined("ch_testdeclined2", "insufficient_funds")
        return [
            stripe("payment_intent.payment_failed", first, 2),
            seen(RETURN_PAGE, first, 3),
            stripe("payment_intent.payment_failed", declined_1, 5),
            seen(RECONCILER, declined_1, 6),
            stripe("payment_intent.payment_failed", again, 8),
            seen(RETURN_PAGE, again, 9),
            seen(RECONCILER, again, 10),
            stripe("payment_intent.payment_failed", declined_2, 11),
            seen(RETURN_PAGE, declined_2, 12),
        ]

    paid = se.payment_intent(pi)
    fifth = authentication_failed("pm_test3ds3")
    return {
        # Four failed attempts (two 3D Secure failures with the same error and no
        # PaymentMethod to tell them apart), then paid; everybody looks on the way.
        "four-attempts-then-paid": [
            *attempts(without_method=True),
            stripe("payment_intent.succeeded", paid, 14),
            seen(RECONCILER, paid, 15),
        ],
        # The same with PaymentMethods in the errors; then a fifth attempt reaches the cap.
        "five-attempts-to-the-cap": [
            *attempts(without_method=False),
            stripe("payment_intent.payment_failed", fifth, 13),
            seen(RECONCILER, fifth, 14),
        ],
    }
