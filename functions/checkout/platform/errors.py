"""The one error type the HTTP layer turns into a JSON response."""

from typing import Any


class ApiError(Exception):
    """An error with an HTTP status and a stable machine-readable code.

    `message` is shown to the caller, so it must never hold a secret or a stack trace.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        stripe_code: str | None = None,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.stripe_code = stripe_code  # Stripe's own error code, when Stripe raised it
        self.headers = headers or {}  # sent with the error response (e.g. Retry-After)
        self.details = details or {}  # more fields of `error` (e.g. the products off sale)

    def body(self) -> dict[str, dict[str, Any]]:
        return {"error": {**self.details, "code": self.code, "message": self.message}}
