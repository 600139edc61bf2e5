"""Catching up on Stripe events the webhook never applied: the Events API, from a cursor.

The cursor (reconciler/events, `createdFrom`, Unix seconds) means: every handled event created
before this second has been applied. A pass lists the handled types' events created since it
(one `type` per request, `created[gte]`/`created[lt]`, `limit`, `starting_after`: parameters
real Stripe accepts), oldest first, and applies them through the one pipeline
(checkout.stripe_events.apply), so an event the webhook already applied, or that another pass
is applying, is a duplicate with no effect. docs/operations.md describes the reconciler.

Stripe lists newest first, so to apply the oldest first the pass reads a time window whole and
sorts it. A window with more than MAX_PAGES pages of one type is halved until it fits, which
bounds what one pass holds; the window's end is where the next pass resumes. An event that fails
to apply holds the cursor at its second, and the next pass tries it again.
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from google.cloud import firestore

from checkout.platform import firestore_client
from checkout.platform import structured_log as logger
from checkout.platform.collections import RECONCILER_STATE
from checkout.platform.firestore_client import db
from checkout.platform.json_fields import Json
from checkout.platform.settings import InvalidSetting
from checkout.reconcile.pass_state import Budget, PassSettings, Summary
from checkout.stripe_api import events as stripe_events_api
from checkout.stripe_events.apply import apply
from checkout.stripe_events.catalog_events import CATALOG_EVENT_TYPES, catalog_events_handled
from checkout.stripe_events.event import MalformedEvent, parse_event
from checkout.stripe_events.handlers import EVENT_RULES
from checkout.stripe_events.plan import Outcome, Source

STEP = "events"
CURSOR_DOCUMENT = "events"
# Stripe keeps events for 30 days; a cursor older than that is moved up (with an hour's margin,
# so that a request never asks for a second Stripe has just dropped).
RETENTION = timedelta(days=30) - timedelta(hours=1)
MAX_PAGES = 5


def handled_types() -> list[str]:
    """The event types the webhook handles: the same table decides what the pass lists, and
    the catalog's events when the shop runs its catalog from Stripe (a missed product.updated
    heals like a missed payment)."""
    try:
        catalog = list(CATALOG_EVENT_TYPES) if catalog_events_handled() else []
    except InvalidSetting as invalid:
        # The orders' events must not wait for a catalog setting; the webhook answers 5xx for
        # catalog events meanwhile, and `sync-from-stripe` heals what was missed.
        logger.error("catalog events not caught up", problem=str(invalid))
        catalog = []
    return sorted([*EVENT_RULES, *catalog])


# --- the cursor


def _cursor_ref(client: firestore.Client) -> firestore.DocumentReference:
    return client.collection(RECONCILER_STATE).document(CURSOR_DOCUMENT)


def read_cursor(client: firestore.Client) -> int | None:
    value = (_cursor_ref(client).get().to_dict() or {}).get("createdFrom")
    return value if isinstance(value, int) else None


def store_cursor(client: firestore.Client, created_from: int) -> None:
    """Set the cursor, also backwards (to re-scan from a time; tests bound themselves so)."""
    _cursor_ref(client).set({"createdFrom": created_from, "updatedAt": firestore.SERVER_TIMESTAMP})


def advance_cursor(client: firestore.Client, created_from: int) -> None:
    """Move the cursor forward only: a slower pass that started earlier never moves it back."""
    ref = _cursor_ref(client)

    def advance(transaction: firestore.Transaction) -> None:
        current = (ref.get(transaction=transaction).to_dict() or {}).get("createdFrom")
        if not isinstance(current, int) or created_from > current:
            transaction.set(
                ref, {"createdFrom": created_from, "updatedAt": firestore.SERVER_TIMESTAMP}
            )

    run = firestore.transactional(advance)
    firestore_client.retry_on_contention(lambda: run(firestore_client.transaction()))


# --- listing


@dataclass(frozen=True)
class Window:
    start: int  # created[gte]
    end: int | None  # created[lt]; None: up to now


def list_events(event_type: str, window: Window, page_size: int, max_pages: int | None) -> (
    list[Json] | None
):  # fmt: skip
    """The window's events of one type, or None when there are more than max_pages pages."""
    events: list[Json] = []
    after: str | None = None
    pages = 0
    while True:
        page = stripe_events_api.list_events_page(
            event_type, window.start, window.end, page_size, after
        )
        events.extend(page.events)
        pages += 1
        if not page.has_more or not page.events:
            return events
        if max_pages is not None and pages >= max_pages:
            return None
        after = str(page.events[-1]["id"])


def list_window(window: Window, page_size: int, now_ts: int) -> list[Json] | None:
    """Every handled event in the window, oldest first; None when the window is too full."""
    # A one-second window cannot be split: read it whole, however long.
    single_second = (window.end if window.end is not None else now_ts + 1) - window.start <= 1
    events: list[Json] = []
    for event_type in handled_types():
        listed = list_events(event_type, window, page_size, None if single_second else MAX_PAGES)
        if listed is None:
            return None
        events.extend(listed)
    # Within one second Stripe gives no order; the plan copes with any order anyway.
    return sorted(events, key=lambda e: (e.get("created", 0), str(e.get("id"))))


# --- applying


def apply_listed(raw: Json, summary: Summary) -> None:
    """Apply one listed event as the webhook would have. Raises if it could not be recorded."""
    try:
        # The same checks as a delivery's body: the Events API is trusted, but an id becomes
        # a document path and `created` a datetime, so they are checked all the same.
        event = parse_event(json.dumps(raw).encode())
    except MalformedEvent as malformed:
        logger.error("listed event is malformed", eventId=raw.get("id"), reason=str(malformed))
        summary.count(STEP, Outcome.MALFORMED)
        return
    result = apply(event, Source.CATCH_UP)
    summary.count(STEP, result.outcome)
    summary.fulfilment(STEP, result.fulfilment)
    if result.attempt_cap is not None:
        summary.count(STEP, result.attempt_cap)


def run(settings: PassSettings, budget: Budget, summary: Summary, now: datetime) -> None:
    client = db()
    now_ts = int(now.timestamp())
    oldest = now_ts - int(RETENTION.total_seconds())
    stored = read_cursor(client)
    start = stored if stored is not None else now_ts - int(settings.first_lookback.total_seconds())
    start = max(start, oldest)
    # The cursor never passes this: events of the last `settle` seconds may still appear.
    horizon = now_ts - int(settings.settle.total_seconds())
    width: int | None = None  # None: the window reaches up to now

    while True:
        if budget.spent():
            summary.left_over(STEP)
            break
        end = None if width is None or start + width > now_ts else start + width
        window = Window(start, end)
        try:
            events = list_window(window, settings.page_size, now_ts)
        except Exception as error:  # noqa: BLE001 - counted; the cursor stays, the next pass retries
            summary.error(STEP, error, windowStart=start)
            break
        if events is None:
            width = max(1, ((end if end is not None else now_ts + 1) - start) // 2)
            continue
        summary.count(STEP, "listed", len(events))

        reached = end if end is not None else now_ts
        for raw in events:
            if budget.spent():
                reached = min(reached, int(raw["created"]))
                summary.left_over(STEP)
                break
            try:
                apply_listed(raw, summary)
            except Exception as error:  # noqa: BLE001 - counted; the cursor holds at this event
                summary.error(STEP, error, eventId=raw.get("id"))
                reached = min(reached, int(raw.get("created", start)))
        cursor = min(reached, horizon)
        if cursor > start or stored is None:
            advance_cursor(client, max(cursor, start))
        if end is None or reached < end or budget.spent():
            if end is not None and reached >= end:
                summary.left_over(STEP)
            break
        start = end
