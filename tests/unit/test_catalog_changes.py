"""What an import changes, and how a dry run says it: added, changed (old -> new per field),
deactivated (never deleted); a document broken by hand is repaired; nothing else is touched.
Stock: each change sets its product's pool, and one below the units sold and held is refused."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from checkout.catalog.changes import (
    MISSING,
    FieldChange,
    StockChange,
    describe,
    plan_import,
    stock_refusals,
    summary,
)
from checkout.catalog.import_writes import planned_writes
from checkout.holds.pool import Hold, Pool, Shard, product_pool
from checkout.products.product import Product, document_of

MUG = Product("mug", "Enamel mug", "Camp-style.", 1400, "usd", True, 2)
TEE = Product("tee", "Classic tee", "Cotton.", 2500, "usd", True, 1)


def test_same_catalog_changes_nothing() -> None:
    plan = plan_import([MUG, TEE], {"mug": document_of(MUG), "tee": document_of(TEE)})
    assert plan.write_count == 0 and plan.unchanged == 2
    assert describe(plan) == []
    assert planned_writes(plan) == []


def test_added_changed_and_deactivated() -> None:
    old_mug = {**document_of(MUG), "unitAmount": 1200, "name": "Mug"}
    sticker = document_of(Product("sticker", "Stickers", "", 500, "usd", True, 3))
    plan = plan_import([MUG, TEE], {"mug": old_mug, "sticker": sticker})
    assert plan.added == (TEE,)
    (changed,) = plan.changed
    assert changed.changes == (
        FieldChange("name", "Mug", "Enamel mug"),
        FieldChange("unitAmount", 1200, 1400),
    )
    assert plan.deactivated == ("sticker",)
    assert describe(plan) == [
        'added tee: "Classic tee", 2500 usd',
        'changed mug: name "Mug" -> "Enamel mug"',
        "changed mug: unitAmount 1200 -> 1400",
        "deactivated sticker",
    ]
    assert summary(plan) == "1 added, 1 changed, 1 deactivated, 0 unchanged"
    assert planned_writes(plan) == [
        ("tee", document_of(TEE)),
        ("mug", {"name": "Enamel mug", "unitAmount": 1400}),
        ("sticker", {"active": False}),
    ]


def test_a_product_already_inactive_and_absent_from_the_file_is_left_alone() -> None:
    inactive = {**document_of(MUG), "active": False}
    plan = plan_import([TEE], {"mug": inactive, "tee": document_of(TEE)})
    assert plan.deactivated == () and plan.write_count == 0


def test_a_document_broken_by_hand_is_repaired_field_by_field() -> None:
    broken = {"name": "Enamel mug", "description": "Camp-style.", "unitAmount": "1400",
              "currency": "eur", "active": 1, "position": 2, "note": "kept"}  # fmt: skip
    (changed,) = plan_import([MUG], {"mug": broken}).changed
    assert changed.changes == (
        FieldChange("unitAmount", "1400", 1400),
        FieldChange("active", 1, True),
        FieldChange("currency", "eur", "usd"),
    )
    missing: dict[str, Any] = {k: v for k, v in document_of(MUG).items() if k != "description"}
    (changed,) = plan_import([MUG], {"mug": missing}).changed
    assert changed.changes == (FieldChange("description", MISSING, "Camp-style."),)
    assert describe(plan_import([MUG], {"mug": missing})) == [
        'changed mug: description (missing) -> "Camp-style."'
    ]


def test_optional_fields_a_document_lacks_compare_as_their_defaults() -> None:
    lean = {k: v for k, v in document_of(MUG).items() if k not in ("shippable", "images")}
    assert plan_import([MUG], {"mug": lean}).write_count == 0
    unshippable = Product("mug", "Enamel mug", "Camp-style.", 1400, "usd", True, 2, (), False)
    (changed,) = plan_import([unshippable], {"mug": lean}).changed
    assert changed.changes == (FieldChange("shippable", True, False),)


def test_a_document_with_a_broken_active_flag_is_deactivated_too() -> None:
    plan = plan_import([], {"mug": {**document_of(MUG), "active": "no"}, "tee": {}})
    assert plan.deactivated == ("mug", "tee")


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STOCKED_MUG = replace(MUG, stock=10)


def pool_of(product_id: str, units: int = 0, sold: int = 0, held: int = 0) -> Pool:
    """A pool of one shard holding `units`, of which `sold` sold and `held` held (live)."""
    name = product_pool(product_id)
    if not units:
        return Pool(name, {})
    holds = {"checkout-1": Hold(held, NOW + timedelta(minutes=5))} if held else {}
    return Pool(name, {0: Shard(name, 0, units, sold, holds)})


def test_a_stock_change_is_a_field_change_and_a_pool_total() -> None:
    documents = {"mug": document_of(STOCKED_MUG), "tee": document_of(TEE)}
    plan = plan_import([replace(STOCKED_MUG, stock=20), TEE], documents)
    assert describe(plan) == ["changed mug: stock 10 -> 20"]
    assert plan.stock_changes == (StockChange("mug", 20),)
    assert planned_writes(plan) == [("mug", {"stock": 20})]


def test_stock_null_after_a_number_untracks_and_a_document_without_stock_is_untracked() -> None:
    plan = plan_import([MUG], {"mug": document_of(STOCKED_MUG)})
    assert describe(plan) == ["changed mug: stock 10 -> null"]
    assert plan.stock_changes == (StockChange("mug", None),)
    assert planned_writes(plan) == [("mug", {"stock": None})]
    assert plan_import([MUG], {"mug": {**document_of(MUG), "stock": None}}).write_count == 0


def test_every_added_product_sets_its_pool_and_says_its_stock() -> None:
    plan = plan_import([STOCKED_MUG, TEE], {})
    assert describe(plan) == [
        'added mug: "Enamel mug", 1400 usd, stock 10',
        'added tee: "Classic tee", 2500 usd',
    ]
    assert plan.stock_changes == (StockChange("mug", 10), StockChange("tee", None))


def test_stock_below_the_units_sold_and_held_is_refused_naming_the_product() -> None:
    cap = Product("cap", "Cap", "", 900, "usd", True, 3, stock=1)
    documents = {"mug": document_of(STOCKED_MUG), "tee": document_of(TEE)}
    plan = plan_import([replace(STOCKED_MUG, stock=6), replace(TEE, stock=3), cap], documents)
    pools = {
        product_pool("mug"): pool_of("mug", 10, sold=4, held=3),  # 7 committed: 6 is too few
        product_pool("tee"): pool_of("tee"),  # not tracked yet: 3 is fine
        product_pool("cap"): pool_of("cap", 5, sold=2, held=0),  # a pool left from before
    }
    problems = stock_refusals(plan, pools, NOW)
    assert [str(p) for p in problems] == [
        "product 'cap', field 'stock': 1 is below the 2 unit(s) already sold or held: stock "
        "counts every unit put on sale, sold ones included, so it must be at least 2",
        "product 'mug', field 'stock': 6 is below the 7 unit(s) already sold or held: stock "
        "counts every unit put on sale, sold ones included, so it must be at least 7",
    ]
    # Exactly the units sold and held is fine; a lapsed hold is not held; null never refused.
    exact = plan_import([replace(STOCKED_MUG, stock=7)], {"mug": document_of(STOCKED_MUG)})
    assert stock_refusals(exact, pools, NOW) == []
    later = NOW + timedelta(minutes=6)  # checkout-1's hold has lapsed: 4 committed
    four = plan_import([replace(STOCKED_MUG, stock=4)], {"mug": document_of(STOCKED_MUG)})
    assert stock_refusals(four, pools, later) == []
    untrack = plan_import([MUG], {"mug": document_of(STOCKED_MUG)})
    assert stock_refusals(untrack, pools, NOW) == []


def test_a_product_refused_at_the_write_is_not_written_at_all() -> None:
    documents = {"mug": document_of(STOCKED_MUG), "sticker": document_of(TEE)}
    plan = plan_import([replace(STOCKED_MUG, stock=1, name="Mug"), TEE], documents)
    assert planned_writes(plan, frozenset({"mug"})) == [
        ("tee", document_of(TEE)),
        ("sticker", {"active": False}),
    ]
