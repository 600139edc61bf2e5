"""Retrying mail: documents due an attempt are sent (checkout.mail.sender), with backoff.

Due: a new document the committing function did not send (it died, or mail was disabled then),
one whose sender died holding its lease, one whose last attempt failed and whose backoff is
over. The sender's claim makes this safe beside the committing functions and other passes.
Counted: `sent`, `failed` (retried later), `gave_up` (left ERROR for good: also an error of the
pass, so it logs at ERROR), `not_ours` (another sender took it first), `disabled`.
"""

import time
from datetime import datetime, timedelta

from checkout.mail import sender
from checkout.mail.sender import SendResult
from checkout.platform.firestore_client import db
from checkout.reconcile import queries
from checkout.reconcile.pass_state import Budget, PassSettings, Summary

STEP = "mail"


def run(settings: PassSettings, budget: Budget, summary: Summary, now: datetime) -> None:
    try:
        if sender.smtp_server() is None:
            summary.count(STEP, SendResult.DISABLED)
            return
    except sender.MailConfigError as error:
        summary.error(STEP, error, reason=str(error))
        return
    started = time.monotonic()
    for snapshot in queries.due_mail(db(), now, settings.page_size).stream():
        if budget.spent():
            summary.left_over(STEP)
            return
        # The pass's clock, moved on by what this step has taken: leases and backoffs start
        # when the attempt really does.
        current = now + timedelta(seconds=time.monotonic() - started)
        try:
            result = sender.send_one(snapshot.id, current)
        except Exception as error:  # noqa: BLE001 - counted; a later pass tries it again
            summary.error(STEP, error, mailId=snapshot.id)
            continue
        summary.count(STEP, result.value)
        if result is SendResult.GAVE_UP:
            summary.errors[STEP] += 1
