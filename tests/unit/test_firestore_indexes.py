"""Every query the code makes has a composite index declared in firestore.indexes.json.

Production Firestore refuses a query with no index to serve it ("The query requires an index");
the emulator serves anything, so only this test catches a missing one before a deploy.
"""

import ast
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


# Single-field exemptions of timestamps (issue 20). A field whose value only grows (a time)
# makes every index on it a hotspot: Firestore then caps the collection at about 500 writes a
# second ("Sharded timestamps"). Where no query needs the field, it is simply not indexed.
def exemptions() -> set[tuple[str, str]]:
    """(collection, field) of every field exempted from indexing, TTL fields included."""
    return {
        (o["collectionGroup"], o["fieldPath"])
        for o in INDEXES["fieldOverrides"]
        if o.get("indexes") == []
    }


# Maps and arrays exempted whole (their own entries are never queried), not timestamps.
EXEMPT_CONTAINERS = {
    ("orders", "disputes"),
    ("orders", "history"),
    ("orders", "items"),
    ("orders", "recentDeclines"),
    ("orders", "refunds"),
    # Each hold's `until` (checkout.holds.pool): read with its shard, never queried.
    ("shards", "holds"),
    # An email's subject and bodies: large text, read by id, never queried.
    ("mail", "message"),
}


def queried_fields() -> set[tuple[str, str]]:
    """(collection, field) of every field a query filters or orders on."""
    fields: set[tuple[str, str]] = set()
    for build in queries.ALL_QUERIES:
        proto = build(offline_client(), datetime(2026, 1, 1, tzinfo=UTC), 10)._to_protobuf()
        collection = proto.from_[0].collection_id
        filters = field_filters(proto.where) if proto._pb.HasField("where") else []
        fields |= {(collection, name) for name, _ in filters}
        fields |= {(collection, o.field.field_path) for o in proto.order_by}
    return fields


def test_no_query_filters_or_orders_on_an_exempted_field() -> None:
    needed = queried_fields() | {
        (index["collectionGroup"], field["fieldPath"])
        for index in INDEXES["indexes"]
        for field in index["fields"]
    }
    assert ("orders", "updatedAt") in needed  # the check sees the queries
    assert exemptions() & needed == set()


# What a time looks like where the code writes it: Firestore's server time, a datetime, a clock
# reading (`now`, `started`, `*_at`), or a Stripe time (`created`, `updated`, Unix seconds).
TIME_NAMES = re.compile(r"(now|started|created|created_from|\w+_at)")
TIME_KEYS = {"created", "updated"}


def is_time_valued(value: ast.expr) -> bool:
    for node in ast.walk(value):
        if isinstance(node, ast.Attribute) and (
            node.attr == "SERVER_TIMESTAMP" or TIME_NAMES.fullmatch(node.attr)
        ):
            return True
        if isinstance(node, ast.Name) and (node.id == "datetime" or TIME_NAMES.fullmatch(node.id)):
            return True
        if isinstance(node, ast.Constant) and node.value in TIME_KEYS:
            return True
    return False


def string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level NAME = "text" (or NAME: Final = "text"), as field names are declared."""
    names: dict[str, str] = {}
    for node in tree.body:
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            names |= {t.id: value.value for t in targets if isinstance(t, ast.Name)}
    return names


def time_fields_written() -> set[str]:
    """Every field that functions/checkout writes a time into (inside a map literal, also with
    its dotted path): keys of dict literals, keyword arguments and item assignments whose value
    is time-valued."""
    trees = {p: ast.parse(p.read_text()) for p in (FUNCTIONS_DIR / "checkout").rglob("*.py")}
    constants: dict[str, str] = {}
    for tree in trees.values():
        constants |= string_constants(tree)

    def key_name(key: ast.expr | None) -> str | None:
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return key.value
        if isinstance(key, ast.Name):
            return constants.get(key.id)
        return None

    found: set[str] = set()

    def visit_dict(node: ast.Dict, prefix: str) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            name = key_name(key)
            if name is None:
                continue
            if isinstance(value, ast.Dict):
                visit_dict(value, f"{prefix}{name}.")
            elif is_time_valued(value):
                found.update((prefix + name, name))  # a helper's map may be written under any field

    for tree in trees.values():
        nested = {id(v) for n in ast.walk(tree) if isinstance(n, ast.Dict) for v in n.values}
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict) and id(node) not in nested:
                visit_dict(node, "")
            elif isinstance(node, ast.keyword) and node.arg and is_time_valued(node.value):
                found.add(node.arg)
            elif isinstance(node, ast.Assign) and is_time_valued(node.value):
                for target in node.targets:
                    if isinstance(target, ast.Subscript) and key_name(target.slice):
                        found.add(str(key_name(target.slice)))
    return found


def test_every_exempted_field_is_a_time_the_code_writes() -> None:
    # An exemption of a field nobody writes is a typo or a leftover; of a field that is not a
    # time, a decision that belongs to another reason (then list it with the containers).
    written = time_fields_written()
    assert {"updatedAt", "expireAt", "abandonmentCheck.at", "startedAt"} <= written
    timestamps = exemptions() - EXEMPT_CONTAINERS
    # A field inside a map (`payment.eventCreated`) is often built by a helper and written
    # under its map elsewhere: its own name must be written as a time.
    assert {field.rsplit(".", 1)[-1] for _, field in timestamps} - written == set()


def test_the_time_check_catches_what_is_not_a_time() -> None:
    assert is_time_valued(ast.parse("firestore.SERVER_TIMESTAMP", mode="eval").body)
    assert is_time_valued(ast.parse("now + LEDGER_RETENTION", mode="eval").body)
    assert not is_time_valued(ast.parse("firestore.Increment(1)", mode="eval").body)
    assert not is_time_valued(ast.parse("new.value", mode="eval").body)
    assert "count" not in time_fields_written() and "status" not in time_fields_written()
