"""Disputes (chargebacks and inquiries) and early fraud warnings, as the order records them.

Every `charge.dispute.*` event carries the whole Dispute, so the order keeps the newest one:
a closed dispute (won, lost, an inquiry closed) is final and outranks any open state; among
open states the newer event wins. Either way the answer does not depend on delivery order.
"""

from datetime import datetime

from checkout.orders.status import DisputeState
from checkout.webhooks.stripe_fields import Json, dict_field, int_field, str_field, time_field

_OPEN = {
    "warning_needs_response": 0,
    "needs_response": 0,
    "warning_under_review": 1,
    "under_review": 1,
}
_KEPT = frozenset({"won", "warning_closed", "prevented"})
_LOST = frozenset({"lost"})


def dispute_state(status: str | None) -> DisputeState | None:
    if status is None:
        return None
    if status in _LOST:
        return DisputeState.LOST
    if status in _KEPT:
        return DisputeState.KEPT
    # Open, or a status this code does not know yet: keep the money on hold rather than ship.
    return DisputeState.OPEN


def dispute_record(dispute: Json) -> Json | None:
    """The dispute fields the order keeps (the GET /api/orders contract), or None without an id."""
    dispute_id = str_field(dispute, "id")
    if dispute_id is None:
        return None
    return {
        "id": dispute_id,
        "reason": str_field(dispute, "reason"),
        "status": str_field(dispute, "status"),
        "amount": int_field(dispute, "amount"),
        "evidenceDueBy": time_field(dict_field(dispute, "evidence_details"), "due_by"),
    }


def _key(record: Json, event_created: int) -> tuple[int, int, int, str]:
    status = record.get("status") or ""
    closed = 0 if dispute_state(status) is DisputeState.OPEN else 1
    # lost > won among closed ones: they cannot both happen, but the order must not care.
    rank = 2 if status in _LOST else _OPEN.get(status, 1)
    return (closed, event_created, rank, record.get("id") or "")


def is_newer(known: Json | None, known_created: int | None, record: Json, created: int) -> bool:
    if known is None:
        return True
    return _key(record, created) > _key(known, known_created or 0)


def due_by(record: Json) -> str:
    due = record.get("evidenceDueBy")
    return due.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(due, datetime) else "unknown"


def fraud_warning_record(warning: Json) -> Json | None:
    warning_id = str_field(warning, "id")
    if warning_id is None:
        return None
    return {
        "id": warning_id,
        "fraudType": str_field(warning, "fraud_type"),
        "actionable": warning.get("actionable") is True,
        "charge": str_field(warning, "charge"),
    }
