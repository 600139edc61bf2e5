"""A mail document's `delivery`: its states, who may take it, and what each outcome writes.

Pure: the document as read and the time in, the fields to write out (dotted paths, for an
update). The sender (checkout.mail.sender) commits them under a precondition.

    PENDING     created by the commit that made the order paid (or refunded), with mail off
                or misconfigured then; never tried
    PROCESSING  claimed by one sender, for LEASE; its lease expired, another may take it. With
                mail on, the commit creates it so, held by the function that commits it, which
                sends it right after (`held_at_creation`): no claim to write, no read
    SUCCESS     the SMTP server accepted it (final; expireAt = then + KEEP_DELIVERED)
    ERROR       the last attempt failed: retried at nextAttemptAt, or, with nextAttemptAt null,
                given up for good (final; expireAt = then + KEEP_GIVEN_UP)

`nextAttemptAt` is when the reconciler should next look at the document (its one query):
a PENDING one a little after creation, a claimed one when its lease ends (a sender that died),
a failed one after its backoff; null once final.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class DeliveryState(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"


# The states the reconciler's query looks in (SUCCESS is final, and so is a given-up ERROR,
# whose nextAttemptAt is null, which no range filter matches).
OPEN_STATES = (DeliveryState.PENDING, DeliveryState.PROCESSING, DeliveryState.ERROR)

NEXT_ATTEMPT_AT = "nextAttemptAt"
EXPIRE_AT = "expireAt"

# The Trigger Email extension's lease: a sender that dies mid-send is replaced after it. One
# send is bounded well inside it (checkout.mail.smtp.TIMEOUT_SECONDS per SMTP step).
LEASE = timedelta(seconds=60)
# When the reconciler first looks at a PENDING document (created while mail was off or
# misconfigured in the committing instance; a deploy may be fixing it meanwhile).
FIRST_LOOK_AFTER = timedelta(minutes=2)
# The wait after the n-th failed attempt (n = 1, 2, ...); after MAX_ATTEMPTS, no more.
RETRY_AFTER = (
    timedelta(minutes=1),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
)
MAX_ATTEMPTS = len(RETRY_AFTER) + 1
# Personal data has a lifetime: a delivered message is kept this long (to answer "I never got
# it"), one given up on longer (for the owner to notice and act); then Firestore's TTL deletes it.
KEEP_DELIVERED = timedelta(days=30)
KEEP_GIVEN_UP = timedelta(days=90)


def new_delivery(now: datetime) -> dict[str, Any]:
    """The fields of a new document's delivery, as the Trigger Email convention shapes them."""
    return {
        "delivery": {
            "state": DeliveryState.PENDING.value,
            "attempts": 0,
            "startTime": None,
            "endTime": None,
            "error": None,
            "leaseExpireTime": None,
            "info": None,
        },
        NEXT_ATTEMPT_AT: now + FIRST_LOOK_AFTER,
    }


def _lease(attempt: int, now: datetime) -> dict[str, Any]:
    """What any claim sets in `delivery`: attempt `attempt` starts now, under a lease."""
    return {
        "state": DeliveryState.PROCESSING.value,
        "attempts": attempt,
        "startTime": now,
        "endTime": None,
        "leaseExpireTime": now + LEASE,
    }


def held_at_creation(now: datetime) -> dict[str, Any]:
    """The fields of a new document that the committing function claims as it creates it:
    its first attempt starts now, under a lease like any claim's."""
    return {
        "delivery": new_delivery(now)["delivery"] | _lease(1, now),
        # The committing function dies before sending: the reconciler takes it after the lease.
        NEXT_ATTEMPT_AT: now + LEASE,
    }


def _delivery(mail: dict[str, Any]) -> dict[str, Any]:
    delivery = mail.get("delivery")
    return delivery if isinstance(delivery, dict) else {}


def attempts(mail: dict[str, Any]) -> int:
    count = _delivery(mail).get("attempts")
    return count if isinstance(count, int) else 0


def _due(value: Any, now: datetime) -> bool:
    return isinstance(value, datetime) and value <= now


@dataclass(frozen=True)
class Claim:
    """What taking the document writes; `gives_up`: it is not sent, but given up for good
    (a sender died during its last attempt)."""

    fields: dict[str, Any]
    gives_up: bool = False


def plan_claim(mail: dict[str, Any], now: datetime) -> Claim | None:
    """Taking the document to send it now, or None when it is not for us (sent, given up, held
    by a live lease, or failed and not yet due). A PENDING one is always taken: a sender asked to
    send it need not wait for its first nextAttemptAt."""
    delivery = _delivery(mail)
    state = delivery.get("state")
    if state == DeliveryState.PENDING.value:
        pass
    elif state == DeliveryState.ERROR.value:
        if not _due(mail.get(NEXT_ATTEMPT_AT), now):
            return None
    elif state == DeliveryState.PROCESSING.value:
        if not _due(delivery.get("leaseExpireTime"), now):
            return None
        if attempts(mail) >= MAX_ATTEMPTS:
            return Claim(
                failure_fields(attempts(mail), "the sender stopped during the last attempt", now)
                | {"delivery.leaseExpireTime": None},
                gives_up=True,
            )
    else:
        return None
    lease = _lease(attempts(mail) + 1, now)
    return Claim(
        {f"delivery.{name}": value for name, value in lease.items()}
        # A sender that dies holding it: the reconciler takes it when the lease ends.
        | {NEXT_ATTEMPT_AT: now + LEASE}
    )


def success_fields(now: datetime, info: dict[str, Any]) -> dict[str, Any]:
    return {
        "delivery.state": DeliveryState.SUCCESS.value,
        "delivery.endTime": now,
        "delivery.error": None,
        "delivery.leaseExpireTime": None,
        "delivery.info": info,
        NEXT_ATTEMPT_AT: None,
        EXPIRE_AT: now + KEEP_DELIVERED,
    }


def failure_fields(
    attempts_made: int, error: str, now: datetime, permanent: bool = False
) -> dict[str, Any]:
    """ERROR after `attempts_made` attempts: retried after its backoff, or given up for good
    (the last attempt, or a `permanent` refusal such as an unknown recipient)."""
    fields: dict[str, Any] = {
        "delivery.state": DeliveryState.ERROR.value,
        "delivery.endTime": now,
        "delivery.error": error,
        "delivery.leaseExpireTime": None,
    }
    if permanent or attempts_made >= MAX_ATTEMPTS:
        return fields | {NEXT_ATTEMPT_AT: None, EXPIRE_AT: now + KEEP_GIVEN_UP}
    wait = RETRY_AFTER[min(max(attempts_made, 1), len(RETRY_AFTER)) - 1]
    return fields | {NEXT_ATTEMPT_AT: now + wait}


def given_up(fields: dict[str, Any]) -> bool:
    """Whether these fields (failure_fields') leave the document ERROR for good."""
    return (
        fields.get("delivery.state") == DeliveryState.ERROR.value
        and fields.get(NEXT_ATTEMPT_AT, 0) is None
    )
