"""Every query the code makes has a composite index declared in firestore.indexes.json.

Production Firestore refuses a query with no index to serve it ("The query requires an index");
the emulator serves anything, so only this test catches a missing one before a deploy.
"""

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.firestore_v1.types import StructuredQuery

from checkout.reconcile import queries
from tests.conftest import FUNCTIONS_DIR, ROOT

INDEXES = json.loads((ROOT / "firestore.indexes.json").read_text())

Op = StructuredQuery.FieldFilter.Operator
EQUALITY_OPS = {Op.EQUAL, Op.IN, Op.ARRAY_CONTAINS, Op.ARRAY_CONTAINS_ANY}
# An IS_NULL / IS_NAN filter is an equality on the index.
Direction = StructuredQuery.Direction


def offline_client() -> firestore.Client:
    # Building a query opens no connection.
    return firestore.Client(project="demo-index-test", credentials=AnonymousCredentials())


def field_filters(where: StructuredQuery.Filter) -> list[tuple[str, bool]]:
    """(field, is_equality) for every filter in a (possibly composite) where clause."""
    kind = where._pb.WhichOneof("filter_type")
    if kind == "composite_filter":
        return [f for sub in where.composite_filter.filters for f in field_filters(sub)]
    if kind == "field_filter":
        return [(where.field_filter.field.field_path, where.field_filter.op in EQUALITY_OPS)]
    if kind == "unary_filter":
        return [(where.unary_filter.field.field_path, True)]
    return []


def required_index(query: Any) -> tuple[str, frozenset[str], list[tuple[str, str]]] | None:
    """(collection, equality fields, ordered fields with direction), or None when Firestore's
    automatic single-field indexes serve the query."""
    proto = query._to_protobuf()
    filters = field_filters(proto.where) if proto._pb.HasField("where") else []
    equality = frozenset(name for name, is_eq in filters if is_eq)
    ranged = [name for name, is_eq in filters if not is_eq]
    ordered = [
        (o.field.field_path, "ASCENDING" if o.direction != Direction.DESCENDING else "DESCENDING")
        for o in proto.order_by
        if o.field.field_path != "__name__"
    ]
    # Firestore orders by an inequality field first, implicitly when not said.
    for name in ranged:
        if name not in [f for f, _ in ordered]:
            ordered.insert(0, (name, "ASCENDING"))
    if len(equality) + len(ordered) <= 1:
        return None
    return proto.from_[0].collection_id, equality, ordered


def declared(collection: str, equality: frozenset[str], ordered: list[tuple[str, str]]) -> bool:
    for index in INDEXES["indexes"]:
        if index["collectionGroup"] != collection or index.get("queryScope") != "COLLECTION":
            continue
        fields = [(f["fieldPath"], f.get("order")) for f in index["fields"]]
        head, tail = fields[: len(equality)], fields[len(equality) :]
        if {name for name, _ in head} == equality and tail == ordered:
            return True
    return False


@pytest.mark.parametrize("build", queries.ALL_QUERIES, ids=lambda q: q.__name__)
def test_each_reconciler_query_has_a_declared_index(build: Any) -> None:
    query = build(offline_client(), datetime(2026, 1, 1, tzinfo=UTC), 10)
    needed = required_index(query)
    assert needed is not None, f"{build.__name__} needs no composite index: drop it from the file"
    assert declared(*needed), f"firestore.indexes.json has no index for {build.__name__}: {needed}"


def test_every_index_declared_is_used() -> None:
    built = [q(offline_client(), datetime(2026, 1, 1, tzinfo=UTC), 10) for q in queries.ALL_QUERIES]
    needed = [required_index(q) for q in built]
    for index in INDEXES["indexes"]:
        assert any(n is not None and declared(*n) and _same(index, n) for n in needed), index


def _same(index: dict[str, Any], needed: tuple[str, frozenset[str], list[tuple[str, str]]]) -> bool:
    _, equality, ordered = needed
    return len(index["fields"]) == len(equality) + len(ordered)


def test_no_query_is_made_outside_the_registered_ones() -> None:
    # A query anywhere else would escape the check above: register it in queries.ALL_QUERIES.
    querying = re.compile(r"\.(where|order_by|collection_group)\(")
    offenders = [
        str(path.relative_to(FUNCTIONS_DIR))
        for path in (FUNCTIONS_DIR / "checkout").rglob("*.py")
        if querying.search(path.read_text()) and path.name != "queries.py"
    ]
    assert offenders == []


def test_the_check_catches_a_missing_index() -> None:
    # The matcher itself: a range on one field ordered by another needs an index nobody declared.
    query = (
        offline_client()
        .collection("orders")
        .where(filter=firestore.FieldFilter("status", "==", "paid"))
        .order_by("amount", direction=firestore.Query.DESCENDING)
    )
    needed = required_index(query)
    assert needed == ("orders", frozenset({"status"}), [("amount", "DESCENDING")])
    assert not declared(*needed)


def test_every_collection_with_expiring_documents_has_a_ttl_policy() -> None:
    # Documents that carry expireAt are deleted by Firestore only where a TTL policy says so:
    # the events ledger, the rate-limit counters, checkout records that never got a
    # PaymentIntent (a refused or failed first request), and mail delivered or given up.
    ttl = {
        (o["collectionGroup"], o["fieldPath"]) for o in INDEXES["fieldOverrides"] if o.get("ttl")
    }
    assert ttl == {
        ("stripe_events", "expireAt"),
        ("rate_limits", "expireAt"),
        ("checkouts", "expireAt"),
        ("mail", "expireAt"),
    }
    # TTL fields are left unindexed, as Google recommends for timestamps written at a steady rate.
    assert all(o.get("indexes") == [] for o in INDEXES["fieldOverrides"] if o.get("ttl"))
