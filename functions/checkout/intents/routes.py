"""The checkout function's routes: GET /api/config, POST /api/payment-intents, GET /api/orders/{id}
(by the client secret, or `?view=` an email's view token).

Each handler parses, calls the core, and responds; nothing else.

A cold instance's first request is usually the page's GET /api/config, which needs only the
live catalog (Firestore) and the publishable key. So each handler imports its own core on first
use: Stripe's library and the rest of the checkout load with the first POST or order check,
never on the way to the config (tests/unit/test_cold_start.py).
"""

import re

from flask import Request, Response

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

# GET /api/config may be kept by Firebase Hosting's CDN for CONFIG_CDN_SECONDS, but by no
# browser: so a change to the catalog shows at most CATALOG_CACHE_SECONDS (the instance's copy)
# + CONFIG_CDN_SECONDS late (docs/catalog.md), and a reload asks the CDN again.
CONFIG_MAX_AGE_SECONDS = 0
CONFIG_CDN_SECONDS = 30
CONFIG_CACHING = {
    "Cache-Control": (f"public, max-age={CONFIG_MAX_AGE_SECONDS}, s-maxage={CONFIG_CDN_SECONDS}"),
    # An allowed origin gets CORS headers that another must not be served from the cache.
    "Vary": "Origin",
}


def get_config(request: Request) -> Response:
    from checkout.products.live_catalog import current_catalog
    from checkout.shipping.live_rates import current_rates

    require_method(request, ["GET"])
    publishable_key = require(STRIPE_PUBLISHABLE_KEY)
    shop = current_catalog()  # no Firestore read while the instance's copy is fresh
    body = {
        "publishableKey": publishable_key,
        "currency": shop.currency,
        "products": shop.page_products(),
        # The Address Element's allowedCountries (cached like the catalog).
        "shippingCountries": sorted(current_rates().countries),
    }
    return json_response(200, body, CONFIG_CACHING)


def post_payment_intent(request: Request) -> Response:
    from checkout.cart.validation import parse_cart_request
    from checkout.intents import opening, rate_limits
    from checkout.shipping.address import parse_request_shipping

    require_method(request, ["POST"])
    address = client_address(
        request.headers.get("X-Forwarded-For"), request.remote_addr, FORWARDED_FOR_CLIENT_HOP.value
    )
    if CLIENT_IP_DIAGNOSTIC.value:
        fastly_client_ip = request.headers.get("Fastly-Client-IP")
        logger.info("client address diagnostic", **diagnostic_fields(address, fastly_client_ip))
    # First, before reading the body: a flood is turned away at no cost.
    rate_limits.check_request(address.ip)
    body = read_json_body(request)
    cart_request = parse_cart_request(body)
    shipping = parse_request_shipping(body.get("shipping"))
    return json_response(200, opening.open_checkout(cart_request, address.ip, shipping).body())


def get_order(request: Request, payment_intent_id: str) -> Response:
    from checkout.intents import return_check

    require_method(request, ["GET"])
    client_secret = request.headers.get("X-Client-Secret", "")
    if not client_secret and "view" in request.args:
        return get_viewed_order(payment_intent_id, request.args["view"])
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


def get_viewed_order(payment_intent_id: str, view_token: str) -> Response:
    """GET /api/orders/{id}?view=<token>: an email's link, without the client secret."""
    from checkout.intents import return_check

    logger.bind(orderId=payment_intent_id)
    order = return_check.viewers_order_status(payment_intent_id, view_token)
    if order is None:
        raise ApiError(404, "order_not_found", "No order matches this link.")
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
