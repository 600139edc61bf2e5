"""The catalog's Stripe mode, pure: what a Stripe Product and its default Price make of a product
document (each reason a product is off sale), and which of two facts is the newer."""

from typing import Any

import pytest

from checkout.products.product import product_from_document
from checkout.products.stripe_products import (
    CREATED,
    OFF_SALE_REASON,
    PRODUCT_FACT,
    UPDATED,
    newer_price_fact,
    newer_product_fact,
    price_fact,
    product_document,
    product_fact,
)
from tests import stripe_events as se

Json = dict[str, Any]
NOW = 1_790_000_100


def document_for(product: Json, price: Json | None, currency: str = "usd") -> Json:
    fact = product_fact(product, NOW)
    return product_document(product, fact, price and price_fact(price, NOW), currency)


def test_a_product_with_a_one_time_default_price_in_the_shops_currency_is_on_sale() -> None:
    product = se.product("prod_A", name="Mug", description="Blue.", images=[])
    price = se.price("prod_A", price_id="price_A", unit_amount=1400)
    product["default_price"] = "price_A"
    document = document_for(product, price)
    assert document["active"] is True
    assert document[OFF_SALE_REASON] is None
    # A valid catalog document, which the shop sells from like any other.
    sold = product_from_document("prod_A", document, "usd")
    assert (sold.name, sold.description, sold.unit_amount, sold.currency) == (
        "Mug",
        "Blue.",
        1400,
        "usd",
    )
    assert sold.shippable is True and sold.images == () and sold.position == 0
    assert document[PRODUCT_FACT]["defaultPrice"] == "price_A"


@pytest.mark.parametrize(
    ("product_changes", "price_changes", "reason"),
    [
        ({"active": False}, {}, "archived"),
        ({"default_price": None}, {}, "no default price"),
        ({}, {"recurring": True}, "recurring"),
        ({}, {"billing_scheme": "tiered", "unit_amount": None}, "tiered"),
        ({}, {"currency": "eur"}, "eur"),
        ({}, {"active": False}, "archived"),
        ({}, {"unit_amount": None, "custom_unit_amount": {"minimum": 100}}, "no unit amount"),
        ({}, {"unit_amount": 100_000_000}, "99999999"),
    ],
)
def test_each_reason_leaves_the_product_off_sale_and_says_why(
    product_changes: Json, price_changes: Json, reason: str
) -> None:
    product = se.product("prod_B", **{"default_price": "price_B", **product_changes})
    price = se.price("prod_B", price_id="price_B", **price_changes)
    document = document_for(product, price)
    assert document["active"] is False
    assert reason in document[OFF_SALE_REASON]
    # Off sale, but a valid document: the shop counts it off sale, not broken (no ERROR).
    assert product_from_document("prod_B", document, "usd").active is False


def test_a_default_price_not_known_yet_leaves_it_off_sale() -> None:
    document = document_for(se.product("prod_C", default_price="price_C"), None)
    assert document["active"] is False and "price_C" in document[OFF_SALE_REASON]


def test_a_price_of_another_product_is_not_its_price() -> None:
    product = se.product("prod_D", default_price="price_D")
    price = se.price("prod_OTHER", price_id="price_D")
    assert document_for(product, price)["active"] is False


def test_an_expanded_default_price_is_read_as_its_id() -> None:
    price = se.price("prod_E", price_id="price_E")
    product = se.product("prod_E", default_price=price)
    assert product_fact(product, NOW)["defaultPrice"] == "price_E"
    assert document_for(product, price)["active"] is True


def test_a_deleted_product_is_off_sale_whatever_its_price() -> None:
    product = se.product("prod_F", default_price="price_F")
    fact = product_fact(product, NOW, deleted=True)
    price = price_fact(se.price("prod_F", price_id="price_F"), NOW)
    document = product_document(product, fact, price, "usd")
    assert document["active"] is False and "deleted" in document[OFF_SALE_REASON]


def test_fields_the_catalog_cannot_hold_are_made_to_fit_and_named() -> None:
    product = se.product(
        "prod_G",
        default_price="price_G",
        name="N" * 300,
        description=None,
        shippable=None,
        images=["https://files.stripe.com/links/abc", "https://example.com/cat.png"],
        metadata={"position": "7"},
    )
    document = document_for(product, se.price("prod_G", price_id="price_G"))
    sold = product_from_document("prod_G", document, "usd")  # valid whatever Stripe held
    assert sold.images == ("https://files.stripe.com/links/abc",)
    assert sold.description == "" and sold.shippable is True and sold.position == 7
    assert sold.active is False and "name" in document[OFF_SALE_REASON]


# --- ordering


def test_product_facts_are_ordered_by_the_products_updated() -> None:
    older = product_fact(se.product("prod_H", updated=100, name="old"), seen_at=500)
    newer = product_fact(se.product("prod_H", updated=200, name="new"), seen_at=300)
    assert newer_product_fact(None, older)
    assert newer_product_fact(older, newer)
    # A late event (created later, about an older version) never overwrites the newer one.
    assert not newer_product_fact(newer, older)
    assert not newer_product_fact(newer, newer)


def test_a_deleted_product_stays_deleted() -> None:
    product = se.product("prod_I", updated=100)
    deleted = product_fact(product, 150, deleted=True)
    late_update = product_fact(se.product("prod_I", updated=120), 160)
    assert newer_product_fact(product_fact(product, 110), deleted)
    assert not newer_product_fact(deleted, late_update)
    assert not newer_product_fact(deleted, deleted)


def test_price_facts_are_ordered_by_the_events_created() -> None:
    price = se.price("prod_J", price_id="price_J")
    created = price_fact(price, 100)
    archived = price_fact({**price, "active": False}, 200)
    assert newer_price_fact(None, created)
    assert newer_price_fact(created, archived)
    assert not newer_price_fact(archived, created)  # an old price.updated after a newer one
    assert not newer_price_fact(archived, archived)


def test_within_one_second_off_sale_wins_either_way() -> None:
    price = se.price("prod_K", price_id="price_K")
    active, archived = price_fact(price, 100), price_fact({**price, "active": False}, 100)
    assert newer_price_fact(active, archived) and not newer_price_fact(archived, active)
    deleted = price_fact(price, 50, deleted=True)
    assert newer_price_fact(active, deleted) and not newer_price_fact(deleted, active)
    product = se.product("prod_K", updated=100)
    on, off = product_fact(product, 100), product_fact({**product, "active": False}, 100)
    assert newer_product_fact(on, off) and not newer_product_fact(off, on)


def test_within_one_second_an_update_comes_after_the_creation() -> None:
    # A script: the Product, its Price, then the Price made its default, all in one second.
    product = se.product("prod_L", updated=100)
    created = product_fact(product, 100, step=CREATED)
    updated = product_fact({**product, "default_price": "price_L"}, 100, step=UPDATED)
    assert newer_product_fact(created, updated) and not newer_product_fact(updated, created)
    price = se.price("prod_L", price_id="price_L")
    made, archived = (
        price_fact(price, 100, step=CREATED),
        price_fact({**price, "active": False}, 100),
    )
    assert newer_price_fact(made, archived) and not newer_price_fact(archived, made)
