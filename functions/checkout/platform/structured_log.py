"""Structured logs for Cloud Logging: one JSON object per line, each written in one piece.

The entries look like firebase_functions.logger's (`severity`, `message`, plus fields), but
that logger print()s the JSON and its newline as two writes, so entries of concurrent requests
(an instance serves many at once) can land on one line and stop being JSON; `make bench`
showed it.

Each request's route opens `request_context(trace=...)`; every entry written while it serves
the request then carries `logging.googleapis.com/trace` (Cloud Logging groups a request's
entries by it) and whatever ids were `bind()`-ed since (orderId, eventId). A contextvar keeps
concurrent requests' contexts apart (functions-framework serves each request in its own thread).

Never pass card data, client secrets, checkout ids, emails or keys as fields: a checkout that
must be told apart in logs goes in as `pseudonym(checkout_id)`.
"""

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from functools import cache
from typing import Any, Protocol

TRACE_FIELD = "logging.googleapis.com/trace"
SPAN_FIELD = "logging.googleapis.com/spanId"

_context: ContextVar[dict[str, Any] | None] = ContextVar("log_context", default=None)

# X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=OPTIONS (span id decimal); traceparent (W3C):
# 00-TRACE_ID-SPAN_ID-FLAGS (span id hex). Trace ids are 32 hex digits, never all zeros.
_CLOUD_TRACE = re.compile(r"^(?P<trace>[0-9a-fA-F]{32})(?:/(?P<span>\d{1,20}))?(?:;o=\d)?$")
_TRACEPARENT = re.compile(
    r"^[0-9a-f]{2}-(?P<trace>[0-9a-f]{32})-(?P<span>[0-9a-f]{16})-[0-9a-f]{2}$"
)


def trace_fields(
    cloud_trace_context: str | None, traceparent: str | None, project: str
) -> dict[str, str]:
    """Cloud Logging's trace (and span) fields from the request's trace headers, or {}."""
    for header, pattern, span_base in (
        (cloud_trace_context, _CLOUD_TRACE, 10),
        (traceparent, _TRACEPARENT, 16),
    ):
        match = pattern.match((header or "").strip())
        if not match or set(match["trace"]) == {"0"} or not project:
            continue
        fields = {TRACE_FIELD: f"projects/{project}/traces/{match['trace'].lower()}"}
        if match["span"] and int(match["span"], span_base):
            # Cloud Logging wants the span id as 16 hex digits.
            fields[SPAN_FIELD] = f"{int(match['span'], span_base) & (2**64 - 1):016x}"
        return fields
    return {}


def project_id() -> str:
    # Set by Cloud Functions / Cloud Run and by the emulators; no Firebase import needed here.
    return os.environ.get("GCLOUD_PROJECT") or os.environ.get("GOOGLE_CLOUD_PROJECT") or ""


@contextlib.contextmanager
def request_context(**fields: Any) -> Iterator[None]:
    """Every entry written inside carries `fields` (and what `bind` adds), for this request only."""
    token = _context.set(dict(fields))
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add fields (an orderId, an eventId) to every later entry of the current request."""
    current = _context.get()
    if current is not None:
        current.update(fields)


@cache
def _pseudonym_key() -> bytes:
    # Derived from the Stripe secret key, which both functions hold: no extra secret to manage,
    # and whoever can compute pseudonyms already holds the keys to everything else. Without
    # it (tests, a misconfigured instance), a per-process random key: still not reversible.
    stripe_key = os.environ.get("STRIPE_SECRET_KEY", "").strip()
    if not stripe_key:
        return secrets.token_bytes(32)
    return hmac.new(stripe_key.encode(), b"checkout log pseudonyms v1", hashlib.sha256).digest()


def pseudonym(value: str) -> str:
    """A short keyed hash: tells two checkouts apart in logs without revealing either."""
    return hmac.new(_pseudonym_key(), value.encode(), hashlib.sha256).hexdigest()[:12]


def _write(severity: str, message: str, fields: dict[str, Any]) -> None:
    stream = sys.stderr if severity in ("ERROR", "CRITICAL") else sys.stdout
    entry = {"severity": severity, "message": message, **(_context.get() or {}), **fields}
    stream.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
    stream.flush()


def info(message: str, **fields: Any) -> None:
    _write("INFO", message, fields)


def warn(message: str, **fields: Any) -> None:
    _write("WARNING", message, fields)


def error(message: str, **fields: Any) -> None:
    _write("ERROR", message, fields)


class FieldProblem(Protocol):
    """What is wrong with one field of a document (a product's, a code's, the rates')."""

    @property
    def field(self) -> str | None: ...

    @property
    def message(self) -> str: ...


def error_per_problem(message: str, problems: Iterable[FieldProblem], **fields: Any) -> None:
    """One ERROR entry per problem of a document broken by hand, with its field and what is
    wrong, so the owner sees each one (`fields` name the document)."""
    for problem in problems:
        error(message, **fields, field=problem.field, problem=problem.message)


def critical(message: str, **fields: Any) -> None:
    """Something is wrong with the whole deployment, not one order: a person must act now."""
    _write("CRITICAL", message, fields)
