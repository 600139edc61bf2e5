"""The checkout's own refusals: 409s the page knows and answers by starting a new checkout."""

from checkout.platform.errors import ApiError


def checkout_locked(
    message: str = "This payment is already under way; start a new checkout.",
) -> ApiError:
    """The one answer for a checkout whose cart can no longer change (the page offers a new one)."""
    return ApiError(409, "checkout_locked", message)


def checkout_attempts_exhausted() -> ApiError:
    """The checkout's PaymentIntent saw too many declined attempts and is (being) canceled."""
    return ApiError(
        409,
        "checkout_attempts_exhausted",
        "This payment was declined too many times and has been closed; start a new checkout.",
    )


def checkout_expired() -> ApiError:
    """The checkout was abandoned and its PaymentIntent canceled: the page silently starts anew."""
    return ApiError(409, "checkout_expired", "This checkout has expired; start a new one.")
