"""Mail against the Firestore emulator and real SMTP servers (aiosmtpd): delivered once, retried
by the reconciler after a refusal or an outage, never sent twice by racing senders, given up
after its last attempt. The documents are created as the ledger's commit creates them."""

import email
import email.policy
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from google.api_core import exceptions
from google.cloud import firestore

from checkout.mail import delivery, sender, smtp
from checkout.mail.documents import MailDocument, MailSettings, mail_for_change
from checkout.mail.sender import SendResult
from checkout.platform.collections import MAIL
from checkout.reconcile import mail_retries
from checkout.reconcile.pass_state import Budget, PassSettings, Summary
from dev.stack import MAIL_DIR_VARIABLE, free_port

SETTINGS = MailSettings(owner_email="owner@shop.test", public_base_url="https://shop.test")


class Inbox:
    """aiosmtpd's handler: what it received; it refuses recipients while `refuse` says so."""

    def __init__(self) -> None:
        self.received: list[Envelope] = []
        self.connections: list[Any] = []  # each message's connection (the client's address)
        self.refuse: str | None = None  # e.g. "451 4.3.0 Try again later"
        self.lock = threading.Lock()

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        with self.lock:
            self.received.append(envelope)
            self.connections.append(session.peer)
        return "250 Message accepted for delivery"

    def messages(self) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(e.original_content or b"", policy=email.policy.default)
            for e in self.received
        ]


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server in this process; SMTP_URL and MAIL_FROM point the sender at it."""
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("MAIL_FROM", "Shop <orders@shop.test>")
    try:
        yield handler
    finally:
        controller.stop()


def paid_order(order_id: str) -> dict[str, Any]:
    return {
        "paymentIntentId": order_id,
        "status": "paid",
        "items": [{"productId": "mug", "name": "Mug", "unitAmount": 1250, "quantity": 2}],
        "amount": 2500,
        "currency": "usd",
        "email": "ann@example.test",
    }


def create_mail(db: firestore.Client, order_id: str, now: datetime) -> list[str]:
    """The paid order's documents, created as the ledger's commit creates them."""
    plan = mail_for_change(order_id, {"status": "pending"}, paid_order(order_id), SETTINGS, now)
    batch = db.batch()
    for mail in plan.documents:
        batch.create(db.collection(MAIL).document(mail.doc_id), mail.fields)
    batch.commit()
    return plan.doc_ids


def create_held_mail(
    db: firestore.Client, order_id: str, now: datetime
) -> tuple[list[MailDocument], Any]:
    """The documents as the ledger's commit creates them with mail on: claimed by the function
    that commits them. Returns them and the commit's time."""
    plan = mail_for_change(order_id, {"status": "pending"}, paid_order(order_id), SETTINGS, now)
    plan = plan.held_by_committer(now)
    batch = db.batch()
    for mail in plan.documents:
        batch.create(db.collection(MAIL).document(mail.doc_id), mail.fields)
    batch.commit()
    return plan.documents, batch.commit_time


def stored(db: firestore.Client, doc_id: str) -> dict[str, Any]:
    document = db.collection(MAIL).document(doc_id).get().to_dict()
    assert document is not None
    return document


def reconcile_mail(now: datetime) -> Summary:
    """The reconciler's mail step, as a pass at `now` runs it."""
    summary = Summary()
    mail_retries.run(PassSettings(), Budget(timedelta(minutes=4)), summary, now)
    return summary


def counts(summary: Summary) -> dict[str, int]:
    return dict(summary.counts.get(mail_retries.STEP, {}))


def test_a_paid_orders_mail_is_delivered_once(firestore_db: firestore.Client, inbox: Inbox) -> None:
    ids = create_mail(firestore_db, "pi_mail_delivered", datetime.now(UTC))
    assert ids == ["pi_mail_delivered", "pi_mail_delivered-owner"]
    assert sender.send(ids) == [SendResult.SENT, SendResult.SENT]

    confirmation, owner = inbox.messages()
    assert confirmation["To"] == "ann@example.test" and owner["To"] == "owner@shop.test"
    assert confirmation["From"] == "Shop <orders@shop.test>"
    assert confirmation["Message-ID"] == "<mail-pi_mail_delivered@shop.test>"
    text = confirmation.get_body(("plain",))
    assert text is not None and "2 x Mug at $12.50: $25.00" in text.get_content()
    assert [e.rcpt_tos for e in inbox.received] == [["ann@example.test"], ["owner@shop.test"]]
    for doc_id in ids:
        mail = stored(firestore_db, doc_id)
        assert mail["delivery"]["state"] == "SUCCESS"
        assert mail["delivery"]["attempts"] == 1
        assert mail["delivery"]["leaseExpireTime"] is None
        assert mail["delivery"]["info"]["accepted"] == [mail["to"]]
        assert mail["nextAttemptAt"] is None
        assert mail["expireAt"] - mail["delivery"]["endTime"] == delivery.KEEP_DELIVERED

    # Sent is final: another send, or a pass, sends nothing more.
    assert sender.send(ids) == [SendResult.NOT_OURS, SendResult.NOT_OURS]
    assert counts(reconcile_mail(datetime.now(UTC) + timedelta(days=1))) == {}
    assert len(inbox.received) == 2


def test_a_mail_document_is_created_once_per_order(firestore_db: firestore.Client) -> None:
    now = datetime.now(UTC)
    create_mail(firestore_db, "pi_mail_once", now)
    with pytest.raises(exceptions.AlreadyExists):
        create_mail(firestore_db, "pi_mail_once", now)


def test_a_refused_send_is_retried_by_the_reconciler_then_delivered(
    firestore_db: firestore.Client, inbox: Inbox
) -> None:
    now = datetime.now(UTC)
    (doc_id, _) = create_mail(firestore_db, "pi_mail_refused", now)
    inbox.refuse = "451 4.3.0 Try again later"
    assert sender.send([doc_id]) == [SendResult.FAILED]
    mail = stored(firestore_db, doc_id)
    assert mail["delivery"]["state"] == "ERROR"
    assert mail["delivery"]["error"].startswith("recipient refused: 451")
    due = mail["nextAttemptAt"]
    assert due - mail["delivery"]["endTime"] == delivery.RETRY_AFTER[0]

    inbox.refuse = None
    # Not due yet: the pass leaves it (the owner's message, never sent by send() here, is
    # due a little after its creation).
    assert counts(reconcile_mail(due - timedelta(seconds=1))) == {}
    summary = reconcile_mail(due + timedelta(minutes=2))
    assert counts(summary) == {"sent": 2}
    assert summary.error_count == 0
    mail = stored(firestore_db, doc_id)
    assert mail["delivery"]["state"] == "SUCCESS" and mail["delivery"]["attempts"] == 2
    assert sorted(e.rcpt_tos[0] for e in inbox.received) == ["ann@example.test", "owner@shop.test"]


def test_a_server_that_is_down_is_retried_by_the_reconciler(
    firestore_db: firestore.Client, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    ids = create_mail(firestore_db, "pi_mail_down", now)
    working = os.environ["SMTP_URL"]
    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # nothing listens there
    assert sender.send(ids) == [SendResult.FAILED, SendResult.FAILED]
    assert "ConnectionRefusedError" in stored(firestore_db, ids[0])["delivery"]["error"]

    monkeypatch.setenv("SMTP_URL", working)
    assert counts(reconcile_mail(now + timedelta(minutes=5))) == {"sent": 2}
    assert len(inbox.received) == 2


def test_two_senders_racing_send_once(firestore_db: firestore.Client, inbox: Inbox) -> None:
    # Created a while ago: due for the pass too. All share one clock, as instances do (a lease
    # of 60 s assumes their clocks agree within seconds).
    ids = create_mail(firestore_db, "pi_mail_race", datetime.now(UTC) - timedelta(minutes=5))
    senders = 6
    start = threading.Barrier(senders + 1)
    results: list[SendResult] = []

    def send_after_start() -> None:
        start.wait()
        results.extend(sender.send(ids))

    def pass_after_start() -> None:
        start.wait()
        summary = reconcile_mail(datetime.now(UTC))
        results.extend(SendResult(name) for name, n in counts(summary).items() for _ in range(n))

    threads = [threading.Thread(target=send_after_start) for _ in range(senders)]
    threads.append(threading.Thread(target=pass_after_start))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(SendResult.SENT) == 2
    assert sorted(e.rcpt_tos[0] for e in inbox.received) == ["ann@example.test", "owner@shop.test"]
    for doc_id in ids:
        mail = stored(firestore_db, doc_id)
        assert mail["delivery"]["state"] == "SUCCESS" and mail["delivery"]["attempts"] == 1


def test_mail_is_given_up_after_its_last_attempt(
    firestore_db: firestore.Client, inbox: Inbox
) -> None:
    now = datetime.now(UTC)
    (doc_id, owner_id) = create_mail(firestore_db, "pi_mail_give_up", now)
    firestore_db.collection(MAIL).document(owner_id).delete()  # one document is enough here
    inbox.refuse = "421 4.7.0 Too busy"
    assert sender.send([doc_id]) == [SendResult.FAILED]
    results = []
    clock = now
    for _ in range(delivery.MAX_ATTEMPTS + 2):
        due = stored(firestore_db, doc_id)["nextAttemptAt"]
        if due is None:
            break
        clock = due + timedelta(seconds=1)
        summary = reconcile_mail(clock)
        results.append(counts(summary))
    assert results == [{"failed": 1}] * (delivery.MAX_ATTEMPTS - 2) + [{"gave_up": 1}]
    assert summary.errors[mail_retries.STEP] == 1  # giving up is an error of the pass
    mail = stored(firestore_db, doc_id)
    assert mail["delivery"]["state"] == "ERROR"
    assert mail["delivery"]["attempts"] == delivery.MAX_ATTEMPTS
    assert mail["nextAttemptAt"] is None
    assert mail["expireAt"] - mail["delivery"]["endTime"] == delivery.KEEP_GIVEN_UP
    # For good: even with the server back, no later pass sends it.
    inbox.refuse = None
    assert counts(reconcile_mail(clock + timedelta(days=7))) == {}
    assert inbox.received == []


def test_a_recipient_refused_for_good_is_given_up_at_once(
    firestore_db: firestore.Client, inbox: Inbox
) -> None:
    (doc_id, _) = create_mail(firestore_db, "pi_mail_unknown_user", datetime.now(UTC))
    inbox.refuse = "550 5.1.1 No such user"
    assert sender.send([doc_id]) == [SendResult.GAVE_UP]
    mail = stored(firestore_db, doc_id)
    assert mail["delivery"]["state"] == "ERROR" and mail["nextAttemptAt"] is None
    assert "550" in mail["delivery"]["error"]


def test_a_sender_that_died_holding_the_lease_is_replaced_after_it(
    firestore_db: firestore.Client, inbox: Inbox
) -> None:
    now = datetime.now(UTC)
    (doc_id, owner_id) = create_mail(firestore_db, "pi_mail_lease", now)
    firestore_db.collection(MAIL).document(owner_id).delete()
    ref = firestore_db.collection(MAIL).document(doc_id)
    claim = delivery.plan_claim(stored(firestore_db, doc_id), now)  # claimed, then it died
    assert claim is not None
    ref.update(claim.fields)
    assert sender.send([doc_id]) == [SendResult.NOT_OURS]  # the lease is held
    assert counts(reconcile_mail(now + delivery.LEASE - timedelta(seconds=1))) == {}
    assert counts(reconcile_mail(now + delivery.LEASE)) == {"sent": 1}
    assert stored(firestore_db, doc_id)["delivery"]["attempts"] == 2
    assert len(inbox.received) == 1


def test_with_mail_disabled_nothing_is_sent_and_documents_stay_pending(
    firestore_db: firestore.Client, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    ids = create_mail(firestore_db, "pi_mail_disabled", now)
    monkeypatch.setenv("SMTP_URL", "disabled")
    assert sender.send(ids) == [SendResult.DISABLED] * 2
    assert counts(reconcile_mail(now + timedelta(hours=1))) == {"disabled": 1}
    assert [stored(firestore_db, i)["delivery"]["state"] for i in ids] == ["PENDING"] * 2
    assert inbox.received == []


def test_the_stacks_smtp_server_keeps_each_message_in_the_runs_folder(
    firestore_db: firestore.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # dev/mail_server.py, as `make dev` runs it: the test stack started it and set SMTP_URL.
    folder = Path(os.environ[MAIL_DIR_VARIABLE])
    before = set(folder.glob("*.eml"))
    monkeypatch.setenv("MAIL_FROM", "Shop <orders@shop.test>")
    ids = create_mail(firestore_db, "pi_mail_stack", datetime.now(UTC))
    assert sender.send(ids) == [SendResult.SENT, SendResult.SENT]
    kept = sorted(set(folder.glob("*.eml")) - before)
    assert len(kept) == 2
    received = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default) for path in kept
    ]
    assert {m["To"] for m in received} == {"ann@example.test", "owner@shop.test"}
    for path in kept:
        html = path.with_suffix(".html").read_text()
        assert "Mug" in html and 'style="' in html


# --- sent by the function whose commit created them (mail on: created held by it)


def test_held_mail_goes_over_one_connection_and_its_outcomes_in_one_commit(
    firestore_db: firestore.Client, inbox: Inbox
) -> None:
    documents, created_at = create_held_mail(firestore_db, "pi_held_sent", datetime.now(UTC))
    assert [stored(firestore_db, m.doc_id)["delivery"]["state"] for m in documents] == [
        "PROCESSING"
    ] * 2
    assert sender.send_held(documents, created_at) == [SendResult.SENT, SendResult.SENT]
    assert sorted(e.rcpt_tos[0] for e in inbox.received) == ["ann@example.test", "owner@shop.test"]
    assert len(set(inbox.connections)) == 1
    for mail in documents:
        document = stored(firestore_db, mail.doc_id)
        assert (document["delivery"]["state"], document["delivery"]["attempts"]) == ("SUCCESS", 1)
        assert document["nextAttemptAt"] is None
    # Final: a later pass sends nothing more.
    assert counts(reconcile_mail(datetime.now(UTC) + timedelta(days=1))) == {}
    assert len(inbox.received) == 2


def test_held_mail_is_not_taken_by_a_pass_while_its_lease_holds_then_it_is(
    firestore_db: firestore.Client, inbox: Inbox
) -> None:
    # The committing function died after its commit, before sending.
    now = datetime.now(UTC)
    documents, _ = create_held_mail(firestore_db, "pi_held_died", now)
    assert counts(reconcile_mail(now + delivery.LEASE - timedelta(seconds=1))) == {}
    assert counts(reconcile_mail(now + delivery.LEASE)) == {"sent": 2}
    for mail in documents:
        assert stored(firestore_db, mail.doc_id)["delivery"]["attempts"] == 2
    assert len(inbox.received) == 2


def test_a_held_message_refused_fails_alone_and_is_retried(
    firestore_db: firestore.Client, inbox: Inbox
) -> None:
    documents, created_at = create_held_mail(firestore_db, "pi_held_refused", datetime.now(UTC))
    refused = documents[0]  # the shopper's confirmation

    async def refuse_the_shopper(
        server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address == "ann@example.test":
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    inbox.handle_RCPT = refuse_the_shopper  # type: ignore[method-assign]
    assert sender.send_held(documents, created_at) == [SendResult.FAILED, SendResult.SENT]
    assert [e.rcpt_tos for e in inbox.received] == [["owner@shop.test"]]
    mail = stored(firestore_db, refused.doc_id)
    assert (mail["delivery"]["state"], mail["delivery"]["attempts"]) == ("ERROR", 1)
    assert mail["nextAttemptAt"] - mail["delivery"]["endTime"] == delivery.RETRY_AFTER[0]


def test_held_mail_with_the_server_down_fails_every_message_for_the_reconciler(
    firestore_db: firestore.Client, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    documents, created_at = create_held_mail(firestore_db, "pi_held_down", now)
    working = os.environ["SMTP_URL"]
    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # nothing listens there
    assert sender.send_held(documents, created_at) == [SendResult.FAILED] * 2
    assert {stored(firestore_db, m.doc_id)["delivery"]["state"] for m in documents} == {"ERROR"}

    monkeypatch.setenv("SMTP_URL", working)
    assert counts(reconcile_mail(now + timedelta(minutes=5))) == {"sent": 2}
    assert len(inbox.received) == 2


def test_a_held_message_taken_over_after_its_lease_keeps_the_newer_outcome(
    firestore_db: firestore.Client, inbox: Inbox
) -> None:
    # The committing function stalled past the lease, and another sender took the owner's
    # message. The stalled sender's outcome for it is not written over the other's claim; the
    # confirmation's, still its own, is recorded.
    now = datetime.now(UTC)
    documents, created_at = create_held_mail(firestore_db, "pi_held_stalled", now)
    confirmation, owner = documents
    claim = delivery.plan_claim(stored(firestore_db, owner.doc_id), now + delivery.LEASE)
    assert claim is not None
    firestore_db.collection(MAIL).document(owner.doc_id).update(claim.fields)
    taken_over = stored(firestore_db, owner.doc_id)["delivery"]
    assert sender.send_held(documents, created_at) == [SendResult.SENT, SendResult.SENT]
    assert stored(firestore_db, owner.doc_id)["delivery"] == taken_over
    assert stored(firestore_db, confirmation.doc_id)["delivery"]["state"] == "SUCCESS"


# --- connections kept between requests


def test_an_instance_sends_the_next_orders_mail_over_the_connection_it_kept(
    firestore_db: firestore.Client, inbox: Inbox
) -> None:
    now = datetime.now(UTC)
    for order_id in ("pi_kept_1", "pi_kept_2"):
        documents, created_at = create_held_mail(firestore_db, order_id, now)
        assert sender.send_held(documents, created_at) == [SendResult.SENT, SendResult.SENT]
    assert len(inbox.received) == 4
    assert len(set(inbox.connections)) == 1


def test_a_kept_connection_the_server_dropped_is_replaced(
    firestore_db: firestore.Client, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, first, second = free_port(), Inbox(), Inbox()
    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{port}")
    now = datetime.now(UTC)
    for order_id, server in (("pi_dropped_1", first), ("pi_dropped_2", second)):
        # The server restarts on the same port: the kept connection is dead, NOOP finds it so.
        controller = Controller(server, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            documents, created_at = create_held_mail(firestore_db, order_id, now)
            assert sender.send_held(documents, created_at) == [SendResult.SENT, SendResult.SENT]
        finally:
            controller.stop()
    assert (len(first.received), len(second.received)) == (2, 2)


def test_a_connection_idle_too_long_is_not_used_again(
    firestore_db: firestore.Client, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smtp, "KEEP_IDLE_SECONDS", 0.0)
    now = datetime.now(UTC)
    for order_id in ("pi_idle_1", "pi_idle_2"):
        documents, created_at = create_held_mail(firestore_db, order_id, now)
        assert sender.send_held(documents, created_at) == [SendResult.SENT, SendResult.SENT]
    assert len(set(inbox.connections)) == 2
