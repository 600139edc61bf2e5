"""Pricing comes from the catalog alone."""

from checkout.cart.catalog import CURRENCY, PRODUCTS, public_catalog
from checkout.cart.pricing import items_metadata, parse_items_metadata, price_cart
from checkout.cart.validation import CartLine


def test_amount_is_sum_of_catalog_prices() -> None:
    cart = price_cart((CartLine("tee-classic", 2), CartLine("sticker-pack", 3)))
    expected = 2 * PRODUCTS["tee-classic"].unit_amount + 3 * PRODUCTS["sticker-pack"].unit_amount
    assert cart.amount == expected
    assert cart.currency == CURRENCY
    assert [line.name for line in cart.lines] == ["Classic tee", "Sticker pack"]


def test_items_metadata_round_trips() -> None:
    lines = (CartLine("tee-classic", 2), CartLine("mug-enamel", 1))
    encoded = items_metadata(price_cart(lines))
    assert encoded == "tee-classic:2,mug-enamel:1"
    assert parse_items_metadata(encoded) == lines


def test_parse_items_metadata_skips_unknown_or_malformed_parts() -> None:
    assert parse_items_metadata("tee-classic:2,ghost:1,mug-enamel:x,") == (
        CartLine("tee-classic", 2),
    )


def test_public_catalog_matches_products() -> None:
    ids = [p["id"] for p in public_catalog()]
    assert ids == list(PRODUCTS)
    assert all(p["currency"] == CURRENCY for p in public_catalog())
    assert all(isinstance(p["unitAmount"], int) for p in public_catalog())


def test_parse_items_metadata_refuses_non_ascii_digits() -> None:
    assert parse_items_metadata("tee-classic:²,mug-enamel:1") == (CartLine("mug-enamel", 1),)
