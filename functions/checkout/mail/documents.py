"""The mail documents an order's change creates: what the ledger's commit adds.

API (the ledger calls it while planning the commit that changes the order; pure):

    plan = documents.mail_for_change(order_id, before, after, documents.mail_settings(), now)
    if plan.documents and sender.ready():          # mail on: this function sends them
        plan = plan.held_by_committer(now)         # created PROCESSING, under its lease
    for mail in plan.documents:                    # 0 to 2 MailDocument(doc_id, fields)
        batch.create(db().collection(MAIL).document(mail.doc_id), mail.fields)
    order_update |= plan.order_fields              # {MAIL_CREATED_FOR: [...]}, or {}
    ... commit ...
    sender.send_held(plan.documents, batch.commit_time)  # right after (checkout.mail.sender)

`before` is the order as read (None if there was none), `after` as the commit writes it. An
order that becomes `paid` gets `mail/{orderId}` (its confirmation, to the order's email, when it
has one) and `mail/{orderId}-owner` (to OWNER_EMAIL, when set: the items and the address); one
that becomes `refunded` (a full refund) gets `mail/{orderId}-refund` (to the order's email).
Each only once per order: the order records what it was mailed for (MAIL_CREATED_FOR, in the
same commit), so a dispute won (disputed -> paid) or a refund that failed and came again
creates nothing twice; and create() makes "one email per order" a database fact besides.

`mail_settings()` reads OWNER_EMAIL and PUBLIC_BASE_URL (InvalidSetting if malformed); the
ledger reads `mail_settings_for_commit()`, which logs a malformed one and leaves it out.

Each document (the Trigger Email shape, plus what the shop needs):

    to          the recipient
    message     {subject, text, html} (checkout.mail.compose)
    delivery    {state, attempts, startTime, endTime, error, leaseExpireTime, info}
                (checkout.mail.delivery: PENDING -> PROCESSING -> SUCCESS or ERROR)
    orderId, kind (confirmation / owner / refund), createdAt
    nextAttemptAt  when the reconciler next looks at it; expireAt once final (TTL)
"""

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from checkout.mail.compose import MailKind, compose
from checkout.mail.delivery import held_at_creation, new_delivery
from checkout.orders.status import OrderStatus
from checkout.orders.view_token import make_view_token
from checkout.platform import settings
from checkout.platform import structured_log as logger

# The order's record of the statuses it was mailed for ("paid", "refunded").
MAIL_CREATED_FOR = "mailCreatedFor"

# Which status creates which messages.
_MAIL_FOR_STATUS = {
    OrderStatus.PAID.value: (MailKind.CONFIRMATION, MailKind.OWNER),
    OrderStatus.REFUNDED.value: (MailKind.REFUND,),
}


@dataclass(frozen=True)
class MailSettings:
    owner_email: str = ""  # empty: no owner message
    public_base_url: str = ""  # empty: no link to the order's status


def mail_settings() -> MailSettings:
    return MailSettings(
        owner_email=settings.owner_email(), public_base_url=settings.public_base_url()
    )


def mail_settings_for_commit() -> MailSettings:
    """mail_settings() for the paying commit, which a mail setting must never fail: a malformed
    one is logged at ERROR and left out (no owner message, or no link), the payment recorded."""
    try:
        return mail_settings()
    except settings.InvalidSetting as error:
        logger.error("mail setting not usable; left out", setting=error.name, reason=str(error))
    owner, base = "", ""
    with suppress(settings.InvalidSetting):
        owner = settings.owner_email()
    with suppress(settings.InvalidSetting):
        base = settings.public_base_url()
    return MailSettings(owner_email=owner, public_base_url=base)


class MailDocument(NamedTuple):
    doc_id: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class MailPlan:
    documents: list[MailDocument] = field(default_factory=list)
    order_fields: dict[str, Any] = field(default_factory=dict)

    @property
    def doc_ids(self) -> list[str]:
        return [mail.doc_id for mail in self.documents]

    def held_by_committer(self, now: datetime) -> "MailPlan":
        """The same documents, created claimed by the function that commits them (it sends
        them right after, checkout.mail.sender.send_held): PROCESSING, under a lease."""
        held = [
            MailDocument(mail.doc_id, mail.fields | held_at_creation(now))
            for mail in self.documents
        ]
        return MailPlan(held, self.order_fields)


def mail_id(order_id: str, kind: MailKind) -> str:
    """mail/{orderId} for the confirmation, mail/{orderId}-{kind} for the others."""
    return order_id if kind is MailKind.CONFIRMATION else f"{order_id}-{kind.value}"


def status_url(order_id: str, mail: MailSettings, now: datetime) -> str | None:
    """The order's status page with a view token, or None without PUBLIC_BASE_URL."""
    if not mail.public_base_url:
        return None
    return f"{mail.public_base_url}/?order={order_id}&view={make_view_token(order_id, now)}"


def _recipient(kind: MailKind, order: Mapping[str, Any], mail: MailSettings) -> str | None:
    if kind is MailKind.OWNER:
        return mail.owner_email or None
    email = order.get("email")
    return email.strip() if isinstance(email, str) and email.strip() else None


def order_mail(
    order_id: str, order: Mapping[str, Any], kind: MailKind, mail: MailSettings, now: datetime
) -> MailDocument | None:
    """The document of one message about the order, or None when it has nobody to go to."""
    to = _recipient(kind, order, mail)
    if to is None:
        return None
    message = compose(kind, order_id, order, status_url(order_id, mail, now))
    return MailDocument(
        mail_id(order_id, kind),
        {
            "to": to,
            "message": {"subject": message.subject, "text": message.text, "html": message.html},
            **new_delivery(now),
            "orderId": order_id,
            "kind": kind.value,
            "createdAt": now,
        },
    )


def mail_for_change(
    order_id: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    mail: MailSettings,
    now: datetime,
) -> MailPlan:
    """The documents to create, and what the order records of them, when the commit moves the
    order from `before` to `after`."""
    status = after.get("status")
    created_for = list((before or {}).get(MAIL_CREATED_FOR) or [])
    if not isinstance(status, str) or status not in _MAIL_FOR_STATUS or status in created_for:
        return MailPlan()
    if before is not None and before.get("status") == status:
        # Only a move into the status mails: an order paid before mail existed (no record)
        # gets nothing when a later event leaves it paid.
        return MailPlan()
    documents = [
        document
        for kind in _MAIL_FOR_STATUS[status]
        if (document := order_mail(order_id, after, kind, mail, now)) is not None
    ]
    return MailPlan(documents, {MAIL_CREATED_FOR: [*created_for, status]})
