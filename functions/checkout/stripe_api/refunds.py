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
                # No `reason`: none of Stripe's three (duplicate, fraudulent,
                # requested_by_customer) is ours; the metadata says why.
                params={"payment_intent": payment_intent_id, "metadata": {"reason": "sold_out"}},
                options={"idempotency_key": sold_out_idempotency_key(payment_intent_id)},
            )
            .to_dict()
        )
