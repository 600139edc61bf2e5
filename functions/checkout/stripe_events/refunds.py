"""How much of a payment is refunded, from Stripe's cumulative figures, in any delivery order.

Two kinds of event tell about refunds, and either may arrive first, late, or twice:
- `charge.refunded` carries the Charge, whose `amount_refunded` is Stripe's running total at
  the time of the event (it goes down again when a refund fails);
- `refund.created|updated|failed` and `charge.refund.updated` carry one Refund: its id, amount
  and status.
The order keeps the newest Charge figure (`chargeRefunded`) and every Refund by id with its most
advanced status (`refunds`). The refunded amount is derived from those two
(checkout.orders.money.refunded_amount): the Charge's total, corrected by what the Refunds say
happened after it, and never less than the live Refunds. Event amounts are never added up, so
a duplicate or a late event cannot count twice.
"""

from checkout.platform.json_fields import Json, dict_field, int_field, str_field

# A refund only moves forward: pending -> succeeded -> failed, or pending -> canceled.
_RANK = {"pending": 0, "requires_action": 0, "succeeded": 1, "failed": 2, "canceled": 2}


def refund_record(refund: Json, event_created: int) -> Json | None:
    """One Refund as the order keeps it, or None if the object lacks what counting needs."""
    refund_id, amount = str_field(refund, "id"), int_field(refund, "amount")
    status = str_field(refund, "status") or "pending"
    if refund_id is None or amount is None:
        return None
    return {
        "id": refund_id,
        "amount": amount,
        "status": status,
        "created": int_field(refund, "created") or event_created,
        # When its status was true: the time of the event that said so.
        "statusAt": event_created,
    }


def _key(record: Json) -> tuple[int, int, str]:
    return (_RANK.get(record["status"], 0), record["statusAt"], record["status"])


def merged_refunds(known: list[Json], records: list[Json]) -> list[Json]:
    """`known` with `records` folded in: per id the most advanced status wins. Sorted by id."""
    by_id = {r["id"]: r for r in known}
    for record in records:
        current = by_id.get(record["id"])
        if current is None or _key(record) > _key(current):
            by_id[record["id"]] = record
    return [by_id[i] for i in sorted(by_id)]


def charge_snapshot(charge: Json, event_created: int) -> Json | None:
    refunded = int_field(charge, "amount_refunded")
    if refunded is None:
        return None
    return {"amountRefunded": refunded, "eventCreated": event_created}


def newer_snapshot(known: Json | None, snapshot: Json) -> Json:
    """The newer of two Charge figures; within one second, the larger (refunds add up faster
    than they fail)."""
    if known is None:
        return snapshot
    key = ("eventCreated", "amountRefunded")
    return max(known, snapshot, key=lambda s: tuple(s.get(k) or 0 for k in key))


def charge_refund_records(charge: Json, event_created: int) -> list[Json]:
    """The Refunds listed on the Charge itself (older API versions, or an expanded Charge)."""
    listed = dict_field(charge, "refunds").get("data")
    records = [refund_record(r, event_created) for r in listed or [] if isinstance(r, dict)]
    return [r for r in records if r is not None]
