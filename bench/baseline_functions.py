"""Cold-start baseline: the same third-party imports as functions/main.py's functions, no work.

Whatever cold start this file has, ours cannot beat; the ratio to it is what our own code adds.
"""

import flask
import google.cloud.firestore  # noqa: F401 - imported only for its import cost
import stripe  # noqa: F401 - imported only for its import cost
from firebase_functions import https_fn, params  # noqa: F401


@https_fn.on_request()
def checkout_api(request: flask.Request) -> flask.Response:
    return flask.Response("{}", 200, mimetype="application/json")


@https_fn.on_request()
def stripe_webhook(request: flask.Request) -> flask.Response:
    return flask.Response("{}", 200, mimetype="application/json")
