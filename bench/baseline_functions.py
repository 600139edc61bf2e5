"""Cold-start baseline: the third-party imports of functions/main.py's functions, and the first
Firestore read of checkout_api's first request; no other work.

Whatever cold start this file has, ours cannot beat; the ratio to it is what our own code adds.
Each function loads here what ours loads by the end of its first request: checkout_api's first
GET /api/config reads the live catalog (the `products` collection, one query) but needs no
Stripe (tests/unit/test_cold_start.py keeps the two in step), the webhook's first event needs both.
"""

from functools import cache
from typing import Any

import flask
from firebase_functions import https_fn, params, scheduler_fn  # noqa: F401


@cache
def _firestore() -> Any:
    from google.cloud import firestore

    return firestore.Client(project=params.PROJECT_ID.value or None)


@https_fn.on_request()
def checkout_api(request: flask.Request) -> flask.Response:
    # Imported on first use and created once, as ours is; the same read GET /api/config makes
    # when its instance has no catalog yet.
    from google.api_core import exceptions
    from google.api_core import retry as retries

    # Ours gives up after 5 s of retries (checkout.platform.firestore_client.RPC_RETRY).
    retry = retries.Retry(predicate=retries.if_transient_error, initial=0.1, timeout=5.0)
    try:
        products = list(_firestore().collection("products").stream(retry=retry, timeout=10))
    except exceptions.GoogleAPIError:
        return flask.Response("{}", 503, mimetype="application/json")
    return flask.Response(f'{{"products": {len(products)}}}', 200, mimetype="application/json")


@https_fn.on_request()
def stripe_webhook(request: flask.Request) -> flask.Response:
    # Imported on first use, as ours are, and only for their import cost.
    import google.cloud.firestore  # noqa: F401
    import stripe  # noqa: F401

    return flask.Response("{}", 200, mimetype="application/json")
