"""The checkout's own 409s, which the page knows and answers (a new checkout, a smaller cart)."""

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


def out_of_stock(available: dict[str, int]) -> ApiError:
    """Some products of the cart have fewer units on sale than it asks for: nothing was held.
    `error.available`: each stocked product of the cart -> the units this checkout can have."""
    return ApiError(
        409,
        "out_of_stock",
        "Some items in your cart are sold out or have fewer left than you chose.",
        details={"available": available},
    )


def checkout_busy() -> ApiError:
    """Another request of this checkout is changing it: the page asks again a moment later."""
    return ApiError(409, "checkout_busy", "This checkout is being set up; try again in a moment.")
