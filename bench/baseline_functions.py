"""Cold-start baseline: the third-party imports of functions/main.py's functions, no work.

Whatever cold start this file has, ours cannot beat; the ratio to it is what our own code adds.
Each function loads here what ours loads by the end of its first request: checkout_api's first
GET /api/config needs no Firestore and no Stripe (tests/unit/test_cold_start.py keeps the two in
step), the webhook's first event needs both.
"""

import flask
from firebase_functions import https_fn, params, scheduler_fn  # noqa: F401


@https_fn.on_request()
def checkout_api(request: flask.Request) -> flask.Response:
    return flask.Response("{}", 200, mimetype="application/json")


@https_fn.on_request()
def stripe_webhook(request: flask.Request) -> flask.Response:
    # Imported on first use, as ours are, and only for their import cost.
    import google.cloud.firestore  # noqa: F401
    import stripe  # noqa: F401

    return flask.Response("{}", 200, mimetype="application/json")
