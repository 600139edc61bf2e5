"""The JSON-over-HTTP conventions both functions share: body limits, errors, CORS, responses."""

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Request, Response

from checkout.platform import structured_log as logger
from checkout.platform.errors import ApiError
from checkout.platform.settings import MissingSetting, allowed_origins

MAX_BODY_BYTES = 16 * 1024
_CORS_ALLOWED_HEADERS = "Content-Type, X-Client-Secret"


@contextmanager
def request_log_context(request: Request) -> Iterator[None]:
    """Every log entry written while serving `request` carries its Cloud Trace id."""
    trace = logger.trace_fields(
        request.headers.get("X-Cloud-Trace-Context"),
        request.headers.get("traceparent"),
        logger.project_id(),
    )
    with logger.request_context(**trace):
        yield


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    response = Response(
        json.dumps(body, separators=(",", ":")), status, mimetype="application/json"
    )
    # Responses carry client secrets and order state: no shared cache may keep them.
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers or {})
    return response


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> Response:
    return json_response(error.status, error.body(), headers)


def require_method(request: Request, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if request.method not in allowed:
        raise MethodNotAllowed(allowed)


class MethodNotAllowed(ApiError):
    def __init__(self, allowed: tuple[str, ...]) -> None:
        super().__init__(405, "method_not_allowed", f"Use {' or '.join(allowed)}.")
        self.allow_header = ", ".join(allowed)


def read_raw_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, refusing more than `limit` bytes without reading them all."""
    too_large = ApiError(413, "body_too_large", f"The body may be at most {limit} bytes.")
    if (request.content_length or 0) > limit:
        raise too_large
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise too_large
    return data


def read_json_body(request: Request) -> Any:
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send Content-Type: application/json.")
    data = read_raw_body(request)
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):  # deep nesting: [[[[...
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None


def cors_headers(request: Request, methods: str) -> dict[str, str]:
    """CORS headers for an allowlisted Origin; none otherwise (same-origin needs none)."""
    origin = request.headers.get("Origin")
    if not origin or origin not in allowed_origins():
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": methods,
        "Access-Control-Allow-Headers": _CORS_ALLOWED_HEADERS,
        "Access-Control-Max-Age": "3600",
        "Access-Control-Expose-Headers": "Retry-After",
        "Vary": "Origin",
    }


def guarded(handler: Callable[[], Response], headers: dict[str, str]) -> Response:
    """Run a handler and turn every failure into a JSON error response: never a bare 500 page."""
    try:
        return handler()
    except MethodNotAllowed as error:
        return error_response(error, {**headers, "Allow": error.allow_header})
    except ApiError as error:
        return error_response(error, {**headers, **error.headers})
    except MissingSetting as missing:
        logger.error("missing configuration", setting=missing.name)
        return error_response(
            ApiError(500, "server_misconfigured", f"The server is missing {missing.name}."), headers
        )
    except Exception as error:  # noqa: BLE001 - the last line of defence must catch everything
        if storage_unavailable(error):
            logger.error("firestore unavailable", errorType=type(error).__name__)
            return error_response(
                ApiError(503, "storage_unavailable", "Order storage is unavailable; try again."),
                headers,
            )
        # The type only: messages of unexpected errors may quote data we must not log.
        logger.error("unhandled error", errorType=type(error).__name__)
        return error_response(
            ApiError(500, "internal_error", "Something went wrong on our side."), headers
        )


def storage_unavailable(error: Exception) -> bool:
    """Whether Firestore (its client library's errors) failed or timed out: worth a retry."""
    # Imported here, not at the top: GET /api/config never loads Firestore's client library,
    # and once one of its errors was raised the module is loaded and this import is a lookup.
    from google.api_core.exceptions import DeadlineExceeded, RetryError, ServerError

    return isinstance(error, ServerError | DeadlineExceeded | RetryError)
