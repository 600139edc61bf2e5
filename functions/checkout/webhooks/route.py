"""The webhook function's one route, POST /api/stripe-webhook: read the raw body, respond.

The body is read as bytes and never parsed before the signature is checked over exactly them.
"""

from flask import Request, Response

from checkout.platform.deadline import request_deadline
from checkout.platform.http_json import (
    guarded,
    json_response,
    read_raw_body,
    request_log_context,
    require_method,
)
from checkout.platform.settings import WEBHOOK_TIMEOUT_SECONDS
from checkout.webhooks import delivery

# Stripe's events are a few KB, but metadata alone may reach ~25 KB (50 keys x 500 chars); a
# genuine event refused for its size would be retried for days, so the limit is generous.
MAX_WEBHOOK_BODY_BYTES = 1024 * 1024


def handle(request: Request) -> Response:
    def route() -> Response:
        require_method(request, ["POST"])
        receipt = delivery.receive(
            read_raw_body(request, MAX_WEBHOOK_BODY_BYTES), request.headers.get("Stripe-Signature")
        )
        return json_response(200, receipt.body())

    # guarded: 400/405/413 as JSON, and 5xx for storage or any other failure, so Stripe retries.
    with request_log_context(request), request_deadline(WEBHOOK_TIMEOUT_SECONDS.value):
        return guarded(route, {})
