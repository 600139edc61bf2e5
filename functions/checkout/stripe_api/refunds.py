"""Refunds: a PaymentIntent refunded in full, once."""

from typing import Any

from checkout.stripe_api import connection


def sold_out_idempotency_key(payment_intent_id: str) -> str:
    # From the order alone: the follow-up after the commit and the reconciler's retries ask
    # for the same refund, and Stripe makes it once (a key is kept at least 24 hours).
    return f"sold-out-refund-{payment_intent_id}"


def refund_in_full(payment_intent_id: str) -> dict[str, Any]:
    """Refund everything the PaymentIntent received, because its units were sold out; the
    Refund, as a dict."""
    with connection.translated_errors():
        return (
            connection.client()
            .v1.refunds.create(
                params={
                    "payment_intent": payment_intent_id,
                    "reason": "requested_by_customer",
                    "metadata": {"reason": "sold_out"},
                },
                options={"idempotency_key": sold_out_idempotency_key(payment_intent_id)},
            )
            .to_dict()
        )
