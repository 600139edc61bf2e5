"""Which PaymentIntents are this shop's: the mark its checkout puts in their metadata.

A Stripe account sends every PaymentIntent's events to every endpoint: Invoices, Payment Links,
other apps on the same account. Only the PaymentIntents our checkout created carry the mark, and
only those may become orders here.
"""

from typing import Any

# One metadata key and value, set by checkout.stripe_api.payment_intents.create_intent.
MARK_KEY = "createdBy"
MARK_VALUE = "stripe-firebase-checkout"


def marked(metadata: dict[str, str]) -> dict[str, str]:
    """`metadata` with the shop's mark added."""
    return {**metadata, MARK_KEY: MARK_VALUE}


def is_marked(payment_intent: dict[str, Any]) -> bool:
    metadata = payment_intent.get("metadata")
    return isinstance(metadata, dict) and metadata.get(MARK_KEY) == MARK_VALUE
