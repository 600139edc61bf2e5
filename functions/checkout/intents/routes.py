"""The checkout function's routes: GET /api/config, POST /api/payment-intents, GET /api/orders/{id}.

Each handler parses, calls the core, and responds; nothing else.

A cold instance's first request is usually the page's GET /api/config, which needs only the
catalog and the publishable key. So each handler imports its own core on first use: the Firestore
and Stripe client libraries (most of the cold start) load with the first POST or order check,
never on the way to the config (tests/unit/test_cold_start.py).
"""

import re

from flask import Request, Response

from checkout.cart import catalog
from checkout.platform import structured_log as logger
from checkout.platform.client_ip import client_address, diagnostic_fields
from checkout.platform.deadline import request_deadline
from checkout.platform.errors import ApiError
from checkout.platform.http_json import (
    cors_headers,
    error_response,
    guarded,
    json_response,
    read_json_body,
    request_log_context,
    require_method,
)
from checkout.platform.settings import (
    CHECKOUT_TIMEOUT_SECONDS,
    CLIENT_IP_DIAGNOSTIC,
    FORWARDED_FOR_CLIENT_HOP,
    STRIPE_PUBLISHABLE_KEY,
    require,
)

_ORDER_PATH = re.compile(r"^/api/orders/(?P<id>pi_[A-Za-z0-9_]{1,250})$")


def get_config(request: Request) -> Response:
    require_method(request, ["GET"])
    return json_response(
        200,
        {
            "publishableKey": require(STRIPE_PUBLISHABLE_KEY),
            "currency": catalog.CURRENCY,
            "products": catalog.public_catalog(),
        },
    )


def post_payment_intent(request: Request) -> Response:
    from checkout.cart.validation import parse_cart_request
    from checkout.intents import opening, rate_limits

    require_method(request, ["POST"])
    address = client_address(
        request.headers.get("X-Forwarded-For"), request.remote_addr, FORWARDED_FOR_CLIENT_HOP.value
    )
    if CLIENT_IP_DIAGNOSTIC.value:
        fastly_client_ip = request.headers.get("Fastly-Client-IP")
        logger.info("client address diagnostic", **diagnostic_fields(address, fastly_client_ip))
    # First, before reading the body: a flood is turned away at no cost.
    rate_limits.check_request(address.ip)
    cart_request = parse_cart_request(read_json_body(request))
    return json_response(200, opening.open_checkout(cart_request, address.ip).body())


def get_order(request: Request, payment_intent_id: str) -> Response:
    from checkout.intents import return_check

    require_method(request, ["GET"])
    client_secret = request.headers.get("X-Client-Secret", "")
    order = (
        return_check.shoppers_order_status(payment_intent_id, client_secret)
        if client_secret
        else None
    )
    logger.bind(orderId=payment_intent_id)
    if order is None:
        # One answer for "no such order" and "wrong secret": existence is not revealed.
        raise ApiError(404, "order_not_found", "No order matches this payment and secret.")
    return json_response(200, order)


def handle(request: Request) -> Response:
    headers = cors_headers(request, "GET, POST")
    if request.method == "OPTIONS":
        if not headers:
            return error_response(
                ApiError(403, "origin_not_allowed", "This origin may not call the API.")
            )
        return Response(status=204, headers=headers)

    def route() -> Response:
        if request.path == "/api/config":
            return get_config(request)
        if request.path == "/api/payment-intents":
            return post_payment_intent(request)
        if match := _ORDER_PATH.match(request.path):
            return get_order(request, match["id"])
        raise ApiError(404, "not_found", "No such endpoint.")

    with request_log_context(request), request_deadline(CHECKOUT_TIMEOUT_SECONDS.value):
        response = guarded(route, headers)
    response.headers.update(headers)
    return response
