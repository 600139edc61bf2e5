"""Sending mail documents: claim with a lease, send over SMTP, record the outcome.

API: `send(doc_ids)` right after the commit that created the documents (by the function that
committed it; it never raises: mail must not fail the request), and `send_one(doc_id, now)`,
which the reconciler calls for each document due again (checkout.reconcile.mail_retries).

Each document is claimed before it is sent: read, planned (checkout.mail.delivery) and
committed with a `last_update_time` precondition, no transaction. Of two senders racing for
one document, one commits PROCESSING with a 60 s lease; the other's precondition fails, it
reads again and finds the lease held: it sends nothing. The outcome (SUCCESS, or ERROR with
the next attempt's time or given up) is written under the claim's own update time, so a
sender whose lease was taken over after expiry does not overwrite the newer attempt.

SMTP_URL=disabled sends nothing: documents stay PENDING (and are sent once it is set, by the
reconciler). An SMTP_URL or MAIL_FROM that is missing or malformed is logged at ERROR and also
leaves the documents as they are: no attempt is spent on a configuration mistake.
"""

import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from google.cloud import firestore

from checkout.mail import delivery, smtp
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


def _deliver(server: SmtpServer, sender_address: str, doc_id: str, mail: dict[str, Any]) -> Any:
    message = mail.get("message") or {}
    built = smtp.build_message(
        sender_address,
        str(mail.get("to") or ""),
        str(message.get("subject") or ""),
        str(message.get("text") or ""),
        str(message.get("html") or ""),
        smtp.message_id(doc_id, sender_address),
    )
    return smtp.send_message(server, built)


def _send(server: SmtpServer, sender_address: str, doc_id: str, now: datetime) -> SendResult:
    ref = db().collection(MAIL).document(doc_id)
    claimed = _claim(ref, now)
    if claimed is None:
        return SendResult.NOT_OURS
    mail, claimed_at, gave_up = claimed
    if gave_up:
        logger.error("mail given up", mailId=doc_id, kind=mail.get("kind"), reason="lease")
        return SendResult.GAVE_UP
    attempt = delivery.attempts(mail) + 1
    started = time.monotonic()
    try:
        info = _deliver(server, sender_address, doc_id, mail)
    except smtp.SendFailed as failed:
        ended = now + timedelta(seconds=time.monotonic() - started)
        fields = delivery.failure_fields(attempt, failed.error, ended, failed.permanent)
        _finish(ref, claimed_at, fields)
        gave_up = delivery.given_up(fields)
        # Never the recipient or the server's words (they may quote the address).
        (logger.error if gave_up else logger.warn)(
            "mail given up" if gave_up else "mail not sent, will retry",
            mailId=doc_id,
            kind=mail.get("kind"),
            attempt=attempt,
            errorType=failed.kind,
            smtpCode=failed.code,
        )
        return SendResult.GAVE_UP if gave_up else SendResult.FAILED
    ended = now + timedelta(seconds=time.monotonic() - started)
    _finish(ref, claimed_at, delivery.success_fields(ended, info))
    logger.info("mail sent", mailId=doc_id, kind=mail.get("kind"), attempt=attempt)
    return SendResult.SENT


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
