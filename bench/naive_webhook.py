"""Throughput baseline: verify the signature, then one set(). No ledger, no state machine.

It is what a first draft of a webhook looks like, and it gets no exactly-once: the comparison
shows what correctness costs.
"""

import os

import flask
import stripe
from firebase_functions import https_fn
from google.cloud import firestore

_db = firestore.Client(project=os.environ.get("GCLOUD_PROJECT"))


@https_fn.on_request()
def stripe_webhook(request: flask.Request) -> flask.Response:
    try:
        event = stripe.Webhook.construct_event(
            request.get_data(), request.headers.get("Stripe-Signature", ""),
            os.environ["STRIPE_WEBHOOK_SECRET"],
        )  # fmt: skip
    except (ValueError, stripe.SignatureVerificationError):
        return flask.Response("{}", 400)
    intent = event.data.object
    _db.collection("orders").document(intent.id).set({"status": "paid"}, merge=True)
    return flask.Response("{}", 200)
