"""Disputes (chargebacks and inquiries) and early fraud warnings, as the order records them.

A payment can be disputed more than once (an inquiry that closes, then a chargeback; or a second
chargeback), so the order keeps each dispute by its id, in `disputes`. Every `charge.dispute.*`
event carries the whole Dispute, and for one dispute id the newest fact wins by Stripe's own
ordering: the event's `created`, then, within one second, how far the status is along a
dispute's life. The order's dispute state is derived from all of them (a lost one is final; else
an open one, whichever came first, makes the order disputed), so the answer does not depend on
delivery order. `dispute` is the one the page and the API show: an open one, else the newest.
"""

from datetime import datetime

from checkout.orders.status import DisputeState
from checkout.platform.json_fields import Json, dict_field, int_field, str_field, time_field

# How far a status is along a dispute's life: breaks a tie between two events about one dispute
# created in the same second. An inquiry's closing ranks below the chargeback it can turn into.
_LIFE = {
    "warning_needs_response": 0,
    "warning_under_review": 1,
    "warning_closed": 2,
    "needs_response": 3,
    "under_review": 4,
    "won": 5,
    "prevented": 5,
    "lost": 6,
}
_UNKNOWN_RANK = 3
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


def recorded_disputes(order: Json) -> dict[str, Json]:
    """The order's disputes by id, each with the `eventCreated` of the event it came from.

    Orders written when one dispute was kept (`dispute` and `disputeEventCreated`) are read as
    that one dispute."""
    recorded = order.get("disputes")
    if isinstance(recorded, dict):
        return {k: v for k, v in recorded.items() if isinstance(v, dict)}
    legacy = order.get("dispute")
    if isinstance(legacy, dict) and isinstance(legacy.get("id"), str):
        created = int_field(order, "disputeEventCreated") or 0
        return {legacy["id"]: {**legacy, "eventCreated": created}}
    return {}


def _key(entry: Json) -> tuple[int, int]:
    status = entry.get("status")
    rank = _LIFE.get(status, _UNKNOWN_RANK) if isinstance(status, str) else _UNKNOWN_RANK
    return (int_field(entry, "eventCreated") or 0, rank)


def with_dispute(known: dict[str, Json], record: Json, created: int) -> dict[str, Json] | None:
    """`known` with `record` (from an event created at `created`) as its dispute's newest fact,
    or None when the order already knows as much or more about that dispute."""
    entry = {**record, "eventCreated": created}
    before = known.get(record["id"])
    if before is not None and _key(entry) <= _key(before):
        return None
    return {**known, record["id"]: entry}


def order_dispute_state(recorded: dict[str, Json]) -> DisputeState | None:
    """What all the order's disputes add up to: a lost one is final, then any open one."""
    states = {dispute_state(entry.get("status")) for entry in recorded.values()}
    for state in (DisputeState.LOST, DisputeState.OPEN, DisputeState.KEPT):
        if state in states:
            return state
    return None


def shown_dispute(recorded: dict[str, Json]) -> Json | None:
    """The dispute the order shows as `dispute`: an open one (the newest of them), else the
    newest; without its bookkeeping."""
    if not recorded:
        return None

    def relevance(item: tuple[str, Json]) -> tuple[bool, tuple[int, int], str]:
        dispute_id, entry = item
        is_open = dispute_state(entry.get("status")) is DisputeState.OPEN
        return (is_open, _key(entry), dispute_id)

    _, entry = max(recorded.items(), key=relevance)
    return {k: v for k, v in entry.items() if k != "eventCreated"}


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
