"""Reading fields of JSON objects defensively: a signed Stripe event is genuine, not necessarily
complete, and an order document may have been written by an older version."""

from datetime import UTC, datetime
from typing import Any

# A JSON object as Stripe sends it or Firestore returns it: the one alias for untyped data.
Json = dict[str, Any]


def int_field(obj: Json, key: str) -> int | None:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def str_field(obj: Json, key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value else None


def dict_field(obj: Json, key: str) -> Json:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def time_field(obj: Json, key: str) -> datetime | None:
    """A Unix time as a UTC datetime (Firestore stores it as a timestamp)."""
    seconds = int_field(obj, key)
    try:
        return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None
    except (OverflowError, OSError, ValueError):
        return None
