"""The webhook's Firestore round trips, counted on the wire, and the conditional commit that
keeps them few without losing exactly-once: concurrent deliveries, concurrent changes to the
order, a lost commit answer. On the Firestore emulator, in-process."""

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from google.api_core import exceptions
from google.cloud import firestore

from checkout.holds import store as holds_store
from checkout.holds.pool import product_pool
from checkout.orders.ownership import marked
from checkout.platform.collections import MAIL, ORDERS, STRIPE_EVENTS
from checkout.products.live_catalog import current_catalog
from checkout.stripe_events import ledger, plan
from tests import stripe_events as se
from tests.firestore_rpcs import RpcCounter, count_rpcs
from tests.integration.conftest import deliver_to, function_client

Json = dict[str, Any]
READ, COMMIT = "BatchGetDocuments", "Commit"
# Sending a paid order's mail after the commit (checkout.mail.sender.send_held): the commit
# created the documents claimed by this function, so no read and no claim; one more commit
# records every message's outcome. The test stack's paid orders have two messages (the shopper's
# confirmation, the owner's: OWNER_EMAIL is set in the stacks), sent over one SMTP connection.
MAIL_OUTCOMES = [COMMIT]


@pytest.fixture
def rpcs(firestore_db: firestore.Client) -> Iterator[RpcCounter]:
    """Every RPC of the process's Firestore client (the one the webhook uses)."""
    # The instance has read its catalog already (a rebuilt order takes names from it): that
    # read, one RunQuery per instance per CATALOG_CACHE_SECONDS, is not an event's own.
    current_catalog()
    with count_rpcs(firestore_db) as counter:
        yield counter


def seed(db: firestore.Client, **fields: Any) -> str:
    pi_id = se.new_id("pi")
    db.collection(ORDERS).document(pi_id).set(se.order(pi_id, **fields))
    return pi_id


def order_of(db: firestore.Client, pi_id: str) -> Json:
    return db.collection(ORDERS).document(pi_id).get().to_dict() or {}


def ledger_size(db: firestore.Client) -> int:
    return sum(1 for _ in db.collection(STRIPE_EVENTS).stream())


# --- the round trips of one delivery, counted


def test_an_event_that_changes_an_order_costs_a_read_and_a_commit(
    stripe_webhook: FlaskClient, firestore_db: firestore.Client, rpcs: RpcCounter
) -> None:
    pi_id = seed(firestore_db)
    processing = se.event("payment_intent.processing", se.payment_intent(pi_id))
    with rpcs.counting() as calls:
        assert deliver_to(stripe_webhook, processing)["status"] == "processing"
    assert calls == [READ, COMMIT]


def test_a_payment_with_fulfilment_costs_one_more_commit_and_its_mail_one_more(
    stripe_webhook: FlaskClient, firestore_db: firestore.Client, rpcs: RpcCounter
) -> None:
    pi_id = seed(firestore_db)
    succeeded = se.event("payment_intent.succeeded", se.payment_intent(pi_id))
    with rpcs.counting() as calls:
        assert deliver_to(stripe_webhook, succeeded)["status"] == "paid"
    # The mail documents ride in the one commit; the third call writes fulfilledAt; the fourth
    # records that both messages were sent.
    assert calls == [READ, COMMIT, COMMIT, *MAIL_OUTCOMES]
    assert order_of(firestore_db, pi_id)["fulfilledAt"] is not None
    assert order_of(firestore_db, pi_id)["mailCreatedFor"] == ["paid"]
    for doc_id in (pi_id, f"{pi_id}-owner"):
        mail = firestore_db.collection(MAIL).document(doc_id).get().to_dict() or {}
        assert (mail["delivery"]["state"], mail["delivery"]["attempts"]) == ("SUCCESS", 1)


def test_a_payment_with_mail_disabled_costs_no_more_than_before_mail(
    stripe_webhook: FlaskClient,
    firestore_db: firestore.Client,
    rpcs: RpcCounter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SMTP_URL", "disabled")
    pi_id = seed(firestore_db)
    succeeded = se.event("payment_intent.succeeded", se.payment_intent(pi_id))
    with rpcs.counting() as calls:
        assert deliver_to(stripe_webhook, succeeded)["status"] == "paid"
    assert calls == [READ, COMMIT, COMMIT]  # the documents are created, left PENDING


def test_a_duplicate_costs_one_read(
    stripe_webhook: FlaskClient, firestore_db: firestore.Client, rpcs: RpcCounter
) -> None:
    pi_id = seed(firestore_db)
    succeeded = se.event("payment_intent.succeeded", se.payment_intent(pi_id))
    deliver_to(stripe_webhook, succeeded)
    with rpcs.counting() as calls:
        assert deliver_to(stripe_webhook, succeeded)["outcome"] == "duplicate"
    assert calls == [READ]


def test_an_ignored_event_costs_a_read_and_a_commit_of_its_ledger_entry(
    stripe_webhook: FlaskClient, firestore_db: firestore.Client, rpcs: RpcCounter
) -> None:
    pi_id = seed(firestore_db, status="paid")
    before = order_of(firestore_db, pi_id)
    # (A late decline is recorded even on a paid order; a late `processing` adds nothing.)
    late = se.event("payment_intent.processing", se.payment_intent(pi_id, status="processing"))
    with rpcs.counting() as calls:
        assert deliver_to(stripe_webhook, late)["outcome"] == "ignored"
    assert calls == [READ, COMMIT]
    assert order_of(firestore_db, pi_id) == before
    assert ledger_size(firestore_db) == 1


def test_a_payment_for_a_missing_order_creates_it_in_the_same_commit(
    stripe_webhook: FlaskClient, firestore_db: firestore.Client, rpcs: RpcCounter
) -> None:
    pi_id = se.new_id("pi")
    succeeded = se.event(
        "payment_intent.succeeded",
        se.payment_intent(pi_id, amount=2500, metadata=marked({"items": "tee-classic:1"})),
    )
    with rpcs.counting() as calls:
        assert deliver_to(stripe_webhook, succeeded)["status"] == "paid"
    # A rebuilt order has no holdPools: its items' pools are read (none is tracked here). It
    # has no email: only the owner's message.
    assert calls == [READ, READ, COMMIT, COMMIT, *MAIL_OUTCOMES]
    assert order_of(firestore_db, pi_id)["source"] == "webhook"


def test_a_payment_that_sells_held_units_costs_one_more_read_and_writes_them_in_its_commit(
    stripe_webhook: FlaskClient, firestore_db: firestore.Client, rpcs: RpcCounter
) -> None:
    pool, checkout_id, now = product_pool("tee-classic"), str(uuid.uuid4()), datetime.now(UTC)
    holds_store.set_total(pool, 5, now)
    holds_store.hold(checkout_id, {pool: 2}, now, now + timedelta(minutes=15))
    pi_id = seed(firestore_db, checkoutId=checkout_id, holdKey=checkout_id, holdPools=[pool])
    succeeded = se.event("payment_intent.succeeded", se.payment_intent(pi_id))
    with rpcs.counting() as calls:
        assert deliver_to(stripe_webhook, succeeded)["status"] == "paid"
    # the shards' read; one commit sells them (and creates the mail)
    assert calls == [READ, READ, COMMIT, COMMIT, *MAIL_OUTCOMES]
    read = holds_store.read_pools(firestore_db, [pool]).pools[pool]
    assert (read.sold(), read.held(now)) == (2, 0)


# --- many deliveries at once


def test_sixteen_concurrent_deliveries_of_one_event_give_one_effect(
    firestore_db: firestore.Client, rpcs: RpcCounter, capfd: pytest.CaptureFixture[str]
) -> None:
    pi_id = seed(firestore_db)
    event = se.event("payment_intent.succeeded", se.payment_intent(pi_id))
    clients = [function_client("stripe_webhook") for _ in range(16)]
    start = threading.Barrier(16)

    def deliver(client: FlaskClient) -> str:
        start.wait()
        return str(deliver_to(client, event)["outcome"])

    began = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        outcomes = Counter(pool.map(deliver, clients))
    calls = rpcs.by_method()
    with capfd.disabled():
        print(f"16 concurrent deliveries: {dict(outcomes)} in {time.monotonic() - began:.2f} s, "
              f"RPCs {dict(calls)}")  # fmt: skip

    assert outcomes == {"applied": 1, "duplicate": 15}
    order = order_of(firestore_db, pi_id)
    assert order["status"] == "paid"
    assert [h["eventId"] for h in order["history"]] == [event["id"]]
    assert order["fulfilledAt"] is not None
    assert ledger_size(firestore_db) == 1
    assert capfd.readouterr().out.count('"order fulfilled"') == 1
    # No transactions, so nothing to begin or roll back and no locks to wait for; each loser
    # reads at most twice (its commit failed: the second read finds the entry); the winner
    # sends the order's two messages (a read each).
    assert set(calls) == {READ, COMMIT}
    assert calls[READ] <= 2 * 16 + 2


# --- the conditions of the commit, each lost to a write between the read and the commit


def between_read_and_commit(
    monkeypatch: pytest.MonkeyPatch, interfere: Any, times: int = 1
) -> list[Json | None]:
    """Run `interfere()` after apply_event has read and planned, before it commits (the
    first `times` plans); returns the orders each plan was made from."""
    seen: list[Json | None] = []
    real = plan.plan

    def planning(order: Json | None, event: Any, now: Any, source: Any) -> plan.Plan:
        decided = real(order, event, now, source)
        seen.append(order)
        if len(seen) <= times:
            interfere()
        return decided

    monkeypatch.setattr(ledger, "plan", planning)
    return seen


def test_an_order_changed_after_the_read_is_read_again_and_planned_again(
    firestore_db: firestore.Client, rpcs: RpcCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    pi_id = seed(firestore_db)
    now = int(time.time())
    processing = se.event("payment_intent.processing", se.payment_intent(pi_id), created=now - 1)
    succeeded = se.event("payment_intent.succeeded", se.payment_intent(pi_id), created=now)

    def another_event_commits() -> None:
        with monkeypatch.context() as inner:
            inner.setattr(ledger, "plan", plan.plan)
            ledger.apply_event(firestore_db, processing, pi_id)

    plans_from = between_read_and_commit(monkeypatch, another_event_commits)
    with rpcs.counting() as calls:
        applied = ledger.apply_event(firestore_db, succeeded, pi_id)

    assert [o["status"] if o else None for o in plans_from] == ["pending", "processing"]
    assert applied.plan is not None and applied.plan.previous_status == "processing"
    order = order_of(firestore_db, pi_id)
    assert [h["type"] for h in order["history"]] == [
        "payment_intent.processing",
        "payment_intent.succeeded",
    ]
    assert order["status"] == "paid"
    assert ledger_size(firestore_db) == 2
    # read, the other event (read, commit), our refused commit, read, commit
    assert calls == [READ, READ, COMMIT, COMMIT, READ, COMMIT]


def test_an_order_created_after_the_read_is_updated_not_overwritten(
    firestore_db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    pi_id = se.new_id("pi")
    succeeded = se.event(
        "payment_intent.succeeded",
        se.payment_intent(pi_id, amount=5000, metadata=marked({"items": "tee-classic:2"})),
    )

    def the_page_saves_the_order() -> None:
        firestore_db.collection(ORDERS).document(pi_id).set(se.order(pi_id))

    plans_from = between_read_and_commit(monkeypatch, the_page_saves_the_order)
    applied = ledger.apply_event(firestore_db, succeeded, pi_id)

    assert plans_from[0] is None and plans_from[1] is not None
    assert applied.plan is not None and not applied.plan.creates
    order = order_of(firestore_db, pi_id)
    assert (order["status"], order["email"]) == ("paid", "shopper@example.com")
    assert "source" not in order  # the page's order, not one rebuilt from the event


def test_a_delivery_that_loses_to_another_of_the_same_event_is_a_duplicate(
    firestore_db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    pi_id = seed(firestore_db)
    succeeded = se.event("payment_intent.succeeded", se.payment_intent(pi_id))
    won: list[ledger.Applied] = []

    def the_same_event_commits_first() -> None:
        with monkeypatch.context() as inner:
            inner.setattr(ledger, "plan", plan.plan)
            won.append(ledger.apply_event(firestore_db, succeeded, pi_id))

    between_read_and_commit(monkeypatch, the_same_event_commits_first)
    lost = ledger.apply_event(firestore_db, succeeded, pi_id)

    assert won[0].plan is not None and won[0].plan.newly_paid
    assert lost == ledger.DUPLICATE
    assert len(order_of(firestore_db, pi_id)["history"]) == 1
    assert ledger_size(firestore_db) == 1


def test_a_commit_whose_answer_was_lost_still_counts_as_applied(
    firestore_db: firestore.Client, rpcs: RpcCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client retries a commit on a transient error; if the first try had landed, the retry
    finds the ledger entry. The entry's commit token shows it is ours: applied, so fulfilled."""
    pi_id = seed(firestore_db)
    succeeded = se.event("payment_intent.succeeded", se.payment_intent(pi_id))
    real_batch = firestore_db.batch

    def batch_whose_answer_is_lost() -> Any:
        batch = real_batch()
        commit = batch.commit

        def landed_then_exists(**kwargs: Any) -> Any:
            commit(**kwargs)
            raise exceptions.AlreadyExists("entity already exists (the retried commit)")

        batch.commit = landed_then_exists  # type: ignore[method-assign,assignment]
        return batch

    monkeypatch.setattr(firestore_db, "batch", batch_whose_answer_is_lost)
    with rpcs.counting() as calls:
        applied = ledger.apply_event(firestore_db, succeeded, pi_id)

    assert not applied.duplicate
    assert applied.plan is not None and applied.plan.newly_paid
    assert calls == [READ, COMMIT, READ]
    assert len(order_of(firestore_db, pi_id)["history"]) == 1
