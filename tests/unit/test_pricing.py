"""Pricing comes from the live catalog alone; a product off sale is a 409 naming it, one the
shop never had a 400; the PaymentIntent's items metadata carries what was priced."""

from dataclasses import replace

import pytest

from checkout.cart.metadata import (
    ITEM_KEYS,
    MAX_VALUE_LENGTH,
    SoldLine,
    adjustments_metadata,
    adjustments_value,
    cart_items,
    cart_signature,
    holds_cart,
    items_metadata,
    items_value,
    parse_discount,
    parse_items,
    parse_shipping,
)
from checkout.cart.pricing import (
    Discount,
    PricedCart,
    PricedLine,
    Shipping,
    cart_adjustment_fields,
    price_cart,
)
from checkout.cart.validation import MAX_LINES, MAX_QUANTITY, CartLine
from checkout.platform.errors import ApiError
from checkout.products.live_catalog import catalog_from_documents
from checkout.products.product import MAX_UNIT_AMOUNT
from tests.sample_catalog import sample_documents, sample_shop, unit_amount


def test_amount_is_sum_of_catalog_prices() -> None:
    cart = price_cart((CartLine("tee-classic", 2), CartLine("sticker-pack", 3)), sample_shop())
    assert cart.amount == 2 * unit_amount("tee-classic") + 3 * unit_amount("sticker-pack")
    assert cart.currency == "usd"
    assert [line.name for line in cart.lines] == ["Classic tee", "Sticker pack"]


def test_a_new_price_prices_new_carts() -> None:
    documents = sample_documents()
    documents["mug-enamel"]["unitAmount"] = 1600
    cart = price_cart((CartLine("mug-enamel", 2),), catalog_from_documents(documents, "usd"))
    assert cart.amount == 3200


def off_sale_shop() -> dict[str, dict[str, object]]:
    documents = sample_documents()
    documents["mug-enamel"]["active"] = False
    documents["sticker-pack"]["unitAmount"] = -5  # broken by hand in the console
    return documents


def test_products_off_sale_are_409_product_unavailable_naming_each() -> None:
    shop = catalog_from_documents(off_sale_shop(), "usd")
    lines = (CartLine("sticker-pack", 1), CartLine("tee-classic", 1), CartLine("mug-enamel", 2))
    with pytest.raises(ApiError) as caught:
        price_cart(lines, shop)
    assert (caught.value.status, caught.value.code) == (409, "product_unavailable")
    body = caught.value.body()["error"]
    assert body["products"] == ["sticker-pack", "mug-enamel"]
    assert body["message"]


def test_an_id_the_shop_never_had_stays_400_unknown_product() -> None:
    shop = catalog_from_documents(off_sale_shop(), "usd")
    with pytest.raises(ApiError) as caught:
        price_cart((CartLine("mug-enamel", 1), CartLine("ghost", 1)), shop)
    assert (caught.value.status, caught.value.code) == (400, "unknown_product")
    assert "products" not in caught.value.body()["error"]


def test_items_metadata_carries_unit_amounts_and_round_trips() -> None:
    cart = price_cart((CartLine("tee-classic", 2), CartLine("mug-enamel", 1)), sample_shop())
    metadata = items_metadata(cart)
    assert metadata["items"] == "tee-classic:2:2500,mug-enamel:1:1400"
    assert set(metadata) == set(ITEM_KEYS)
    assert all(metadata[key] == "" for key in ITEM_KEYS[1:])  # "" deletes a key at Stripe
    assert parse_items(metadata) == (
        SoldLine("tee-classic", 2, 2500),
        SoldLine("mug-enamel", 1, 1400),
    )


def test_the_largest_cart_fits_stripes_metadata_limits() -> None:
    # 20 lines, 64-character ids, 99 of each at the largest amount: 1539 characters, more than
    # one value holds (500): the lines are spread over ITEM_KEYS, never one split in two.
    lines = tuple(
        PricedLine(f"{i:02d}" + "p" * 62, "name", MAX_UNIT_AMOUNT, MAX_QUANTITY)
        for i in range(MAX_LINES)
    )
    cart = PricedCart(lines, "usd")
    metadata = items_metadata(cart)
    assert all(len(value) <= MAX_VALUE_LENGTH for value in metadata.values())
    assert all(len(key) <= 40 for key in metadata)
    assert len(metadata) + 2 <= 50  # with checkoutId and the shop's mark
    assert parse_items(metadata) == tuple(
        SoldLine(line.product_id, line.quantity, line.unit_amount) for line in lines
    )
    assert items_value(metadata) == cart_items(cart)


def test_the_old_format_has_no_unit_amounts() -> None:
    # PaymentIntents made before unit amounts were written: ids and quantities only.
    assert parse_items({"items": "tee-classic:2,mug-enamel:1"}) == (
        SoldLine("tee-classic", 2, None),
        SoldLine("mug-enamel", 1, None),
    )


def test_parse_items_skips_malformed_parts() -> None:
    value = "tee-classic:2:2500,ghost:1,mug-enamel:x,,bad id:1,cap:1:-5,cap:1:1.5,tee:1:2:3"
    assert parse_items({"items": value}) == (
        SoldLine("tee-classic", 2, 2500),
        SoldLine("ghost", 1, None),
    )


def test_parse_items_refuses_non_ascii_digits() -> None:
    assert parse_items({"items": "tee-classic:\u00b2,mug-enamel:1:1\u00b2,mug-enamel:1"}) == (
        SoldLine("mug-enamel", 1, None),
    )


def test_parse_items_reads_only_strings() -> None:
    assert parse_items({"items": 5, "items_2": "mug-enamel:1:1400"}) == (
        SoldLine("mug-enamel", 1, 1400),
    )


def test_a_payment_intent_of_the_old_format_holds_the_same_cart() -> None:
    # Made before unit amounts were written: the same ids and quantities at the same total are
    # the same cart (a payment under way then is not refused as a changed cart).
    cart = price_cart((CartLine("tee-classic", 2), CartLine("mug-enamel", 1)), sample_shop())
    assert holds_cart("tee-classic:2:2500,mug-enamel:1:1400", "", cart)
    assert holds_cart("tee-classic:2,mug-enamel:1", "", cart)
    assert not holds_cart("tee-classic:2:2400,mug-enamel:1:1500", "", cart)
    assert not holds_cart("tee-classic:1,mug-enamel:1", "", cart)


def discounted_cart() -> PricedCart:
    cart = price_cart((CartLine("tee-classic", 2), CartLine("mug-enamel", 1)), sample_shop())
    return replace(
        cart,
        discount=Discount("WELCOME10", 500, ("tee-classic",)),
        shipping=Shipping(700, "US"),
    )


def test_the_total_is_the_lines_less_the_discount_plus_shipping() -> None:
    cart = discounted_cart()
    assert (cart.subtotal, cart.amount) == (6400, 6400 - 500 + 700)
    assert cart_adjustment_fields(cart) == {
        "subtotal": 6400,
        "discount": {"code": "WELCOME10", "amount": 500, "productIds": ["tee-classic"]},
        "shipping": {"amount": 700, "country": "US", "address": None},
    }


def test_discount_and_shipping_round_trip_through_metadata() -> None:
    cart = discounted_cart()
    metadata = adjustments_metadata(cart)
    assert metadata == {"discount": "WELCOME10:500:tee-classic", "shipping": "700:US"}
    assert (parse_discount(metadata), parse_shipping(metadata)) == (cart.discount, cart.shipping)
    # A cart without them deletes both keys at Stripe.
    assert adjustments_metadata(replace(cart, discount=None, shipping=None)) == {
        "discount": "",
        "shipping": "",
    }


def test_a_payment_intent_holds_the_cart_only_with_its_discount_and_shipping() -> None:
    cart = discounted_cart()
    items = cart_items(cart)
    assert holds_cart(items, adjustments_value(adjustments_metadata(cart)), cart)
    assert not holds_cart(items, "", cart)
    assert not holds_cart(items, "discount=WELCOME10:400:tee-classic;shipping=700:US", cart)
    # A cart without adjustments keeps its signature from before they existed.
    plain = replace(cart, discount=None, shipping=None)
    assert cart_signature(plain) == f"usd|6400|{cart_items(plain)}"
    assert cart_signature(cart) != cart_signature(plain)


def test_metadata_we_could_not_have_written_is_no_discount_or_shipping() -> None:
    for value in ("welcome:5:", "A:5", "A:-5:", "A:5:bad id!", "A:x:"):
        assert parse_discount({"discount": value}) is None, value
    for shipping in ("700", "700:us", "700:USA", "x:US", 700):
        assert parse_shipping({"shipping": shipping}) is None, shipping
