"""Sending mail documents: each sent by one sender under a lease, its outcome recorded.

API:
- `ready()`: whether mail is on and configured; the ledger then creates a paid order's
  documents already claimed by the committing function (checkout.mail.delivery's
  held_at_creation), and that function calls
- `send_held(documents, claimed_at)` right after its commit (claimed_at: the commit's time,
  each document's update time): all of them over one SMTP connection, and their outcomes in
  one commit. Never raises: mail must not fail the request; what is not sent, the reconciler
  sends once the lease has passed.
- `send(doc_ids)`: documents created PENDING (mail off, or misconfigured): claimed first.
- `send_one(doc_id, now)`, which the reconciler calls for each document due again
  (checkout.reconcile.mail_retries).

A document not held from its creation is claimed before it is sent: read, planned
(checkout.mail.delivery) and committed with a `last_update_time` precondition, no
transaction. Of two senders racing for one document, one commits PROCESSING with a 60 s lease;
the other's precondition fails, it reads again and finds the lease held: it sends nothing. The
outcome (SUCCESS, or ERROR with the next attempt's time or given up) is written under the
claim's own update time, so a sender whose lease was taken over after expiry does not overwrite
the newer attempt.

SMTP_URL=disabled sends nothing: documents stay PENDING (and are sent once it is set, by the
reconciler). An SMTP_URL or MAIL_FROM that is missing or malformed is logged at ERROR and also
leaves the documents as they are: no attempt is spent on a configuration mistake.
"""

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from enum import StrEnum
from typing import Any

from google.cloud import firestore

from checkout.mail import delivery, smtp
from checkout.mail.documents import MailDocument
from checkout.mail.smtp import InvalidSmtpUrl, SmtpServer, parse_smtp_url
from checkout.platform import firestore_client
from checkout.platform import structured_log as logger
from checkout.platform.collections import MAIL
from checkout.platform.firestore_client import db
from checkout.platform.settings import MAIL_FROM, SMTP_URL, MissingSetting, require


class SendResult(StrEnum):
    SENT = "sent"
    FAILED = "failed"  # ERROR, retried after its backoff
    GAVE_UP = "gave_up"  # ERROR for good
    NOT_OURS = "not_ours"  # sent, given up, held by another sender, not yet due, or missing
    DISABLED = "disabled"  # SMTP_URL=disabled
    MISCONFIGURED = "misconfigured"  # SMTP_URL or MAIL_FROM missing or malformed
    UNSENT = "unsent"  # Firestore failed: left for the reconciler


class MailConfigError(Exception):
    """SMTP_URL or MAIL_FROM cannot be used; the message names the setting, never a value."""


def smtp_server() -> SmtpServer | None:
    """The server SMTP_URL names; None when mail is disabled; MailConfigError otherwise."""
    try:
        return parse_smtp_url(require(SMTP_URL))
    except (MissingSetting, InvalidSmtpUrl) as error:
        raise MailConfigError(str(error)) from None


def mail_from() -> str:
    try:
        return require(MAIL_FROM)
    except MissingSetting as error:
        raise MailConfigError(str(error)) from None


def _claim(ref: firestore.DocumentReference, now: datetime) -> tuple[Any, Any, bool] | None:
    """(the document, the claim's update time, gives_up) when this sender now holds it."""

    def attempt() -> tuple[Any, Any, bool] | None:
        snapshot = ref.get()
        mail = snapshot.to_dict()
        claim = None if mail is None else delivery.plan_claim(mail, now)
        if claim is None:
            return None
        fields, option = claim.fields, db().write_option(last_update_time=snapshot.update_time)
        result = firestore_client.commit_conditional(lambda: ref.update(fields, option=option))
        return mail, result.update_time, claim.gives_up

    return firestore_client.retry_on_conflict(attempt)


def _finish(ref: firestore.DocumentReference, claimed_at: Any, fields: dict[str, Any]) -> None:
    option = db().write_option(last_update_time=claimed_at)
    try:
        firestore_client.commit_conditional(lambda: ref.update(fields, option=option))
    except firestore_client.WriteConflict:
        # Our lease expired mid-send and another sender took the document: its outcome stands.
        logger.warn("mail outcome not recorded: the document was taken over", mailId=ref.id)


def _message(sender_address: str, doc_id: str, mail: dict[str, Any]) -> EmailMessage:
    message = mail.get("message") or {}
    return smtp.build_message(
        sender_address,
        str(mail.get("to") or ""),
        str(message.get("subject") or ""),
        str(message.get("text") or ""),
        str(message.get("html") or ""),
        smtp.message_id(doc_id, sender_address),
    )


def _outcome(
    doc_id: str, mail: dict[str, Any], attempt: int, sent: dict[str, Any] | smtp.SendFailed,
    ended: datetime,
) -> tuple[dict[str, Any], SendResult]:  # fmt: skip
    """What one attempt's outcome writes to its document, and the result; logged."""
    if not isinstance(sent, smtp.SendFailed):
        logger.info("mail sent", mailId=doc_id, kind=mail.get("kind"), attempt=attempt)
        return delivery.success_fields(ended, sent), SendResult.SENT
    fields = delivery.failure_fields(attempt, sent.error, ended, sent.permanent)
    gave_up = delivery.given_up(fields)
    # Never the recipient or the server's words (they may quote the address).
    (logger.error if gave_up else logger.warn)(
        "mail given up" if gave_up else "mail not sent, will retry",
        mailId=doc_id,
        kind=mail.get("kind"),
        attempt=attempt,
        errorType=sent.kind,
        smtpCode=sent.code,
    )
    return fields, SendResult.GAVE_UP if gave_up else SendResult.FAILED


def _send(server: SmtpServer, sender_address: str, doc_id: str, now: datetime) -> SendResult:
    ref = db().collection(MAIL).document(doc_id)
    claimed = _claim(ref, now)
    if claimed is None:
        return SendResult.NOT_OURS
    mail, claimed_at, gave_up = claimed
    if gave_up:
        logger.error("mail given up", mailId=doc_id, kind=mail.get("kind"), reason="lease")
        return SendResult.GAVE_UP
    started = time.monotonic()
    (sent,) = smtp.send_messages(server, [_message(sender_address, doc_id, mail)])
    ended = now + timedelta(seconds=time.monotonic() - started)
    fields, result = _outcome(doc_id, mail, delivery.attempts(mail) + 1, sent, ended)
    _finish(ref, claimed_at, fields)
    return result


def send_one(doc_id: str, now: datetime | None = None) -> SendResult:
    """Send one document if it is this sender's to send now. Raises MailConfigError, and
    Firestore's errors (the reconciler counts them); SMTP failures are recorded, not raised."""
    server = smtp_server()
    if server is None:
        return SendResult.DISABLED
    return _send(server, mail_from(), doc_id, now or datetime.now(UTC))


def send(doc_ids: Iterable[str]) -> list[SendResult]:
    """Send the documents just created, one result per id. Never raises: whatever is not sent
    here is the reconciler's to send."""
    ids = list(doc_ids)
    if not ids:
        return []
    try:
        server = smtp_server()
        sender_address = mail_from() if server is not None else ""
    except MailConfigError as error:
        logger.error("mail not sent: configuration", reason=str(error))
        return [SendResult.MISCONFIGURED] * len(ids)
    if server is None:
        return [SendResult.DISABLED] * len(ids)
    results = []
    for doc_id in ids:
        try:
            results.append(_send(server, sender_address, doc_id, datetime.now(UTC)))
        except Exception as error:  # noqa: BLE001 - the caller's response must not fail
            logger.error("mail not sent", mailId=doc_id, errorType=type(error).__name__)
            results.append(SendResult.UNSENT)
    return results


def ready() -> bool:
    """Mail is on and configured: a function that creates documents can send them itself."""
    try:
        return smtp_server() is not None and bool(mail_from())
    except MailConfigError:
        return False


def send_held(documents: Sequence[MailDocument], claimed_at: Any) -> list[SendResult]:
    """Send the documents the caller's commit created held by it (`claimed_at`: that commit's
    time) over one SMTP connection, and record every outcome in one commit. Never raises:
    what is not sent or not recorded here, the reconciler takes when the lease ends."""
    if not documents:
        return []
    try:
        server = smtp_server()
        sender_address = mail_from()
        if server is None:
            raise MailConfigError("SMTP_URL is disabled")  # ready() said otherwise at the commit
        messages = [_message(sender_address, mail.doc_id, mail.fields) for mail in documents]
    except Exception as error:  # noqa: BLE001 - the caller's response must not fail
        logger.error("mail not sent", errorType=type(error).__name__)
        return [SendResult.UNSENT] * len(documents)
    started_at, started = datetime.now(UTC), time.monotonic()
    outcomes = smtp.send_messages(server, messages)
    ended = started_at + timedelta(seconds=time.monotonic() - started)
    recorded = [
        (mail.doc_id, *_outcome(mail.doc_id, mail.fields, 1, sent, ended))
        for mail, sent in zip(documents, outcomes, strict=True)
    ]
    try:
        _finish_all(claimed_at, [(doc_id, fields) for doc_id, fields, _ in recorded])
    except Exception as error:  # noqa: BLE001 - the caller's response must not fail
        # Sent, or not, as logged above; the documents stay PROCESSING, and the reconciler
        # sends them again when the lease ends (same Message-ID, so a copy is recognisable).
        logger.error("mail outcome not recorded", errorType=type(error).__name__)
    return [result for _, _, result in recorded]


def _finish_all(claimed_at: Any, outcomes: list[tuple[str, dict[str, Any]]]) -> None:
    """Every outcome in one commit, each on its document still being the version created."""
    collection = db().collection(MAIL)
    batch = db().batch()
    option = db().write_option(last_update_time=claimed_at)
    for doc_id, fields in outcomes:
        batch.update(collection.document(doc_id), fields, option=option)
    try:
        firestore_client.commit_conditional(
            lambda: batch.commit(retry=firestore_client.RPC_RETRY,
                                 timeout=firestore_client.RPC_TIMEOUT_SECONDS)
        )  # fmt: skip
    except firestore_client.WriteConflict:
        # One was taken over after its lease (a send of over a minute): record the others.
        for doc_id, fields in outcomes:
            _finish(collection.document(doc_id), claimed_at, fields)
