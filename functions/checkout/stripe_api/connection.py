"""The Stripe client, and Stripe's failures translated for our callers.

One StripeClient per (key, base), created on first use and reused across requests.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import cache
from typing import Any

import stripe

from checkout.platform.deadline import remaining_seconds
from checkout.platform.errors import ApiError
from checkout.platform.settings import STRIPE_API_BASE, STRIPE_SECRET_KEY, optional, require

# A serverless request should fail fast rather than hang for the SDK's default 80 s.
_TIMEOUT_SECONDS = (3.0, 10.0)  # (connect, read)
_MAX_NETWORK_RETRIES = 2
# The longest one call can take: every attempt timing out, plus the SDK's pauses between
# attempts (0.5 s, then 1 s, jittered down). The checkout claim's lease (order_store.CLAIM_LEASE)
# must outlast two of them (retrieve + update), and a call is only started when the request's
# deadline (platform/deadline.py, from the function's timeout) leaves room for all of it.
WORST_CASE_CALL_SECONDS = (_MAX_NETWORK_RETRIES + 1) * sum(_TIMEOUT_SECONDS) + 2

# Stripe's code for a call the object's current state refuses (already paid, canceled, ...).
UNEXPECTED_STATE = "payment_intent_unexpected_state"


class PaymentIntentMissing(ApiError):
    """Stripe does not know the PaymentIntent: made with the keys of another account or mode."""

    def __init__(self, stripe_code: str | None) -> None:
        super().__init__(
            404,
            "stripe_payment_intent_missing",
            "The payment provider does not know this payment.",
            stripe_code=stripe_code,
        )


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


def plain_json(value: Any) -> Any:
    """`value` (an object's to_dict()) as Stripe sends it on the wire: the SDK turns decimal
    strings (a Price's `unit_amount_decimal`) into Decimal, which JSON cannot hold and a
    webhook delivery never carries."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: plain_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_json(item) for item in value]
    return value
