"""Helpers for the reconciler's integration tests: orders made to look old, and PaymentIntents
in states localstripe cannot reach.

Where localstripe cannot give a state that real Stripe gives (micro-deposits, an ACH debit
`processing`), the retrieved PaymentIntent is localstripe's own object with that state, in the
shape of Stripe's published objects, laid over it; everything else is localstripe's answer.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from google.cloud import firestore

from checkout.platform.collections import ORDERS
from checkout.stripe_api import payment_intents

Json = dict[str, Any]


def backdate(db: firestore.Client, pi_id: str, ago: timedelta, **fields: Any) -> None:
    """Make the order look opened, last active and last written `ago` (and set `fields`)."""
    then = datetime.now(UTC) - ago
    times = {"createdAt": then, "updatedAt": then, "lastActivityAt": then}
    db.collection(ORDERS).document(pi_id).update({**times, **fields})


def later(days: float) -> datetime:
    """A pass's `now` that many days ahead: a pass that runs that much later."""
    return datetime.now(UTC) + timedelta(days=days)


def stripe_status(client: stripe.StripeClient, pi_id: str) -> str:
    return str(client.v1.payment_intents.retrieve(pi_id).status)


@pytest.fixture
def stripe_says(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, Json], None]:
    """`stripe_says(pi_id, fields)`: retrieving that PaymentIntent gives localstripe's object
    with `fields` laid over it."""
    overlays: dict[str, Json] = {}
    real = payment_intents.retrieve_payment_intent

    def retrieve(pi_id: str) -> Json:
        return {**real(pi_id), **overlays.get(pi_id, {})}

    monkeypatch.setattr(payment_intents, "retrieve_payment_intent", retrieve)
    return overlays.__setitem__
