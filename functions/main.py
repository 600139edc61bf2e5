"""The two HTTP entry points. They only parse, call and respond; the work is in `checkout/`.

Firebase discovers them through the `on_request` decorator; each also runs under plain
functions-framework (`functions-framework --target checkout_api --source functions/main.py`).
"""

from firebase_functions import https_fn
from flask import Request, Response

from checkout.platform.settings import STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET


@https_fn.on_request(secrets=[STRIPE_SECRET_KEY])
def checkout_api(request: Request) -> Response:
    """GET /api/config, POST /api/payment-intents, GET /api/orders/{paymentIntentId}."""
    # Imported on first use so that the webhook function never loads the checkout routes.
    from checkout.intents import routes

    return routes.handle(request)


@https_fn.on_request(secrets=[STRIPE_WEBHOOK_SECRET])
def stripe_webhook(request: Request) -> Response:
    """POST /api/stripe-webhook: Stripe's events, verified and applied to orders exactly once."""
    # Imported on first use, like checkout_api's routes: each function loads only its own code.
    from checkout.webhooks import route

    return route.handle(request)
