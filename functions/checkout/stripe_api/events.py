"""Stripe's Events API: one page of events of one type, created in a time window."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from checkout.stripe_api import connection

if TYPE_CHECKING:
    from stripe.params import EventListParams


@dataclass(frozen=True)
class EventsPage:
    events: list[dict[str, Any]]  # each as a plain dict, as a webhook delivery carries it
    has_more: bool


def list_events_page(
    event_type: str,
    created_from: int,
    created_before: int | None,
    limit: int,
    starting_after: str | None = None,
) -> EventsPage:
    """Events of `event_type` created in [created_from, created_before), newest first (Stripe's
    order), after the event `starting_after`."""
    params: EventListParams = {"type": event_type, "limit": limit}
    params["created"] = (
        {"gte": created_from, "lt": created_before}
        if created_before is not None
        else {"gte": created_from}
    )
    if starting_after is not None:
        params["starting_after"] = starting_after
    with connection.translated_errors():
        page = connection.client().v1.events.list(params=params)
    return EventsPage([connection.plain_json(e.to_dict()) for e in page.data], bool(page.has_more))
