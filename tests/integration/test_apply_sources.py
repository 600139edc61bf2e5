"""One pipeline, four sources: the same Stripe fact, applied through the webhook, the events
catch-up, the return page's check or a reconciler step, has the same effect: the same order
document, ledger outcome, fulfilment and attempt-cap cancel. Only which path it was differs,
and the order's history and the ledger say so (`source`)."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from checkout.platform.collections import ORDERS, STRIPE_EVENTS
from checkout.reconcile import catch_up
from checkout.reconcile.pass_state import Summary
from checkout.stripe_api import payment_intents
from checkout.stripe_events import observations
from checkout.stripe_events.plan import Source
from tests import stripe_events as se
from tests.integration.conftest import Fulfilled

Json = dict[str, Any]
Deliver = Callable[[Json], Any]
CREATED = 1_790_000_000
CHECKOUT_ID = "0b7e2c4a-3f1d-4c5e-9a8b-7d6c5b4a3f2e"  # one for all: orders alike but their id
# Written by the server (timestamps), or naming the event (its id differs by path: neutralised).
_PATH_FIELDS = {"createdAt", "updatedAt", "fulfilledAt", "history"}


def through(source: Source, event: Json, db: firestore.Client, deliver: Deliver) -> None:
    """`event` applied the way `source` applies it in production."""
    if source is Source.WEBHOOK:
        deliver(event)
    elif source is Source.CATCH_UP:
        summary = Summary()
        catch_up.apply_listed(event, summary)
        assert summary.error_count == 0
    else:
        payment_intent = event["data"]["object"]
        order = db.collection(ORDERS).document(payment_intent["id"]).get().to_dict()
        # Observed at the event's own time, so that the two are the same fact.
        observations.apply_observation(payment_intent, order, source, event["created"])


def effect(db: firestore.Client, pi_id: str) -> tuple[Json, list[Json]]:
    """The order without what only the path decides, and the ledger's entries for it."""
    order = db.collection(ORDERS).document(pi_id).get().to_dict() or {}
    (entry,) = order["history"]
    text = json.dumps(
        {k: v for k, v in order.items() if k not in _PATH_FIELDS}, default=str, sort_keys=True
    )
    neutral = json.loads(text.replace(entry["eventId"], "EVENT").replace(pi_id, "PI"))
    ledger = [
        s.to_dict() or {}
        for s in db.collection(STRIPE_EVENTS)
        .where(filter=FieldFilter("orderId", "==", pi_id))
        .stream()
    ]
    return neutral, ledger


Case = tuple[Callable[[str], Json], Callable[[str], Json], str]
CASES: dict[str, Case] = {
    "success": (
        lambda pi: se.order(pi, checkoutId=CHECKOUT_ID),
        lambda pi: se.event("payment_intent.succeeded", se.payment_intent(pi), created=CREATED),
        "paid",
    ),
    "the decline that reaches the attempt cap": (
        lambda pi: se.order(pi, checkoutId=CHECKOUT_ID, declineCount=4),
        lambda pi: se.event(
            "payment_intent.payment_failed", se.failed_payment_intent(pi), created=CREATED
        ),
        "failed",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_source_has_the_same_effect(
    case: str,
    firestore_db: firestore.Client,
    deliver: Deliver,
    fulfilled: Fulfilled,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_order, make_event, status = CASES[case]
    cancels: list[str] = []
    real_cancel = payment_intents.cancel_intent

    def counting(payment_intent_id: str) -> dict[str, Any]:
        cancels.append(payment_intent_id)
        return real_cancel(payment_intent_id)  # localstripe does not know it: not canceled

    monkeypatch.setattr(payment_intents, "cancel_intent", counting)
    effects: dict[Source, tuple[Json, list[Json], list[str], list[str]]] = {}
    for source in Source:
        pi_id = se.new_id("pi")
        firestore_db.collection(ORDERS).document(pi_id).set(make_order(pi_id))
        through(source, make_event(pi_id), firestore_db, deliver)
        order, ledger = effect(firestore_db, pi_id)
        (entry,) = ledger
        history = (firestore_db.collection(ORDERS).document(pi_id).get().to_dict() or {})["history"]
        # Which path applied it, in the order's history and in the ledger.
        assert [h["source"] for h in history] == [source.value]
        assert entry["source"] == source.value
        outcome = {k: entry[k] for k in ("outcome", "previousStatus", "status", "reason")}
        effects[source] = (
            order,
            [outcome],
            ["fulfilled" for pi in fulfilled if pi == pi_id],
            ["canceled" for pi in cancels if pi == pi_id],
        )
    webhook = effects[Source.WEBHOOK]
    assert webhook[0]["status"] == status
    assert webhook[1][0]["outcome"] == "applied"
    assert webhook[2] == (["fulfilled"] if status == "paid" else [])
    assert webhook[3] == (["canceled"] if case.startswith("the decline") else [])
    for source, seen in effects.items():
        assert seen == webhook, f"{source} differs from the webhook"
