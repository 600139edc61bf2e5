"""What an import changes, and how a dry run says it: added, changed (old -> new per field),
deactivated (never deleted); a document broken by hand is repaired; nothing else is touched."""

from typing import Any

from checkout.catalog.changes import MISSING, FieldChange, describe, plan_import, summary
from checkout.catalog.import_writes import planned_writes
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
