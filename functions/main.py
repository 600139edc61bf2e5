"""The two HTTP entry points. They only parse, call and respond; the work is in `checkout/`.

Firebase discovers them through the `on_request` decorator; each also runs under plain
functions-framework (`functions-framework --target checkout_api --source functions/main.py`).
"""

from firebase_functions import https_fn
from flask import Request, Response

from checkout.settings import STRIPE_SECRET_KEY


@https_fn.on_request(secrets=[STRIPE_SECRET_KEY])
def checkout_api(request: Request) -> Response:
    """GET /api/config, POST /api/payment-intents, GET /api/orders/{paymentIntentId}."""
    # Imported on first use so that the webhook function never loads the checkout routes.
    from checkout import checkout_routes

    return checkout_routes.handle(request)
