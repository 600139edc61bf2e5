"""The checkout function's routes: GET /api/config, POST /api/payment-intents, GET /api/orders/{id}.

Each handler parses, calls the core, and responds; nothing else.
"""

import re

from flask import Request, Response

from checkout.cart import catalog
from checkout.cart.validation import parse_cart_request
from checkout.intents import opening
from checkout.orders import return_check
from checkout.platform.errors import ApiError
from checkout.platform.http_json import (
    cors_headers,
    error_response,
    guarded,
    json_response,
    read_json_body,
    require_method,
)
from checkout.platform.settings import STRIPE_PUBLISHABLE_KEY, require

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
    require_method(request, ["POST"])
    cart_request = parse_cart_request(read_json_body(request))
    return json_response(200, opening.open_checkout(cart_request).body())


def get_order(request: Request, payment_intent_id: str) -> Response:
    require_method(request, ["GET"])
    client_secret = request.headers.get("X-Client-Secret", "")
    order = (
        return_check.shoppers_order_status(payment_intent_id, client_secret)
        if client_secret
        else None
    )
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

    response = guarded(route, headers)
    response.headers.update(headers)
    return response
