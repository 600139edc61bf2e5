"""A product document's rules: each problem names the product and the field; images are what the
page's Content-Security-Policy can show; bool never passes for a number."""

from typing import Any

import pytest

from checkout.products.product import (
    InvalidProduct,
    Product,
    document_of,
    image_problem,
    product_from_document,
)


def document(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "Enamel mug",
        "description": "Camp-style, 350 ml.",
        "unitAmount": 1400,
        "currency": "usd",
        "active": True,
        "position": 2,
    }
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not REMOVE}


REMOVE: Any = object()


def problems_of(product_id: str, data: dict[str, Any]) -> list[tuple[str | None, str | None]]:
    with pytest.raises(InvalidProduct) as caught:
        product_from_document(product_id, data, "usd")
    return [(p.product, p.field) for p in caught.value.problems]


def test_a_document_makes_a_product_with_the_defaults() -> None:
    assert product_from_document("mug-enamel", document(), "usd") == Product(
        id="mug-enamel",
        name="Enamel mug",
        description="Camp-style, 350 ml.",
        unit_amount=1400,
        currency="usd",
        active=True,
        position=2,
        images=(),
        shippable=True,
    )


def test_a_document_round_trips() -> None:
    product = product_from_document(
        "prod_NWjs8kKbJWmuuc",
        document(images=["/images/mug.jpg"], shippable=False, active=False),
        "usd",
    )
    assert product_from_document(product.id, document_of(product), "usd") == product


def test_fields_the_product_does_not_know_are_ignored() -> None:
    product = product_from_document("mug", document(note=3, updatedAt="x"), "usd")
    assert product.unit_amount == 1400


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", REMOVE),
        ("name", ""),
        ("name", "  "),
        ("name", 7),
        ("name", "x" * 251),
        ("description", REMOVE),
        ("description", None),
        ("unitAmount", REMOVE),
        ("unitAmount", -1),
        ("unitAmount", 14.0),
        ("unitAmount", "1400"),
        ("unitAmount", True),
        ("unitAmount", 100_000_000),
        ("currency", REMOVE),
        ("currency", "eur"),
        ("currency", "USD"),
        ("currency", 840),
        ("active", REMOVE),
        ("active", "true"),
        ("active", 1),
        ("position", REMOVE),
        ("position", 1.5),
        ("position", False),
        ("shippable", "yes"),
        ("images", "/images/mug.jpg"),
        ("images", ["https://example.com/mug.jpg"]),
        ("stock", -1),
        ("stock", 1.0),
        ("stock", "5"),
        ("stock", True),
        ("stock", 1_000_000_001),
    ],
)
def test_each_problem_names_the_product_and_the_field(field: str, value: Any) -> None:
    assert problems_of("mug-enamel", document(**{field: value})) == [("'mug-enamel'", field)]


@pytest.mark.parametrize(("value", "stock"), [(REMOVE, None), (None, None), (0, 0), (50, 50)])
def test_stock_is_a_count_of_units_or_not_tracked(value: Any, stock: int | None) -> None:
    product = product_from_document("mug", document(stock=value), "usd")
    assert product.stock == stock
    assert product_from_document("mug", document_of(product), "usd") == product
    # Not tracked is written as no stock at all, so files and documents without it read alike.
    assert ("stock" in document_of(product)) is (stock is not None)


def test_a_negative_stock_says_what_it_got() -> None:
    with pytest.raises(InvalidProduct, match="field 'stock': must be from 0 to 1000000000, or "):
        product_from_document("mug", document(stock=-3), "usd")


def test_every_problem_is_reported_not_only_the_first() -> None:
    assert problems_of("mug", document(unitAmount=-5, active="no", name=REMOVE)) == [
        ("'mug'", "name"),
        ("'mug'", "unitAmount"),
        ("'mug'", "active"),
    ]


def test_a_negative_amount_says_what_it_got() -> None:
    with pytest.raises(InvalidProduct) as caught:
        product_from_document("mug", document(unitAmount=-5), "usd")
    assert (
        str(caught.value) == "product 'mug', field 'unitAmount': must be from 0 to 99999999, got -5"
    )


def test_another_currency_says_which_one_the_shop_sells_in() -> None:
    with pytest.raises(InvalidProduct) as caught:
        product_from_document("mug", document(currency="eur"), "usd")
    assert "'eur'" in str(caught.value) and "'usd' (SHOP_CURRENCY)" in str(caught.value)


@pytest.mark.parametrize(
    "product_id", ["", "-mug", "_mug", "mug enamel", "mug/1", "m" * 65, "mug\n"]
)
def test_an_id_outside_the_pattern_is_refused(product_id: str) -> None:
    assert problems_of(product_id, document()) == [(repr(product_id), "id")]


@pytest.mark.parametrize("product_id", ["m", "M1", "prod_NWjs8kKbJWmuuc", "mug-enamel_2", "9" * 64])
def test_ids_in_the_pattern_pass(product_id: str) -> None:
    assert product_from_document(product_id, document(), "usd").id == product_id


@pytest.mark.parametrize(
    "image",
    [
        "/images/mug.jpg",
        "/m.png",
        "/images/a%20b-c_d~e+f.webp",
        "https://files.stripe.com/links/MDB8YWNjdF8xTjhLdEcyZVp2S1lsbzJDfGZsX3Rlc3Rf",
        "https://files.stripe.com/files/f_test_123",
    ],
)
def test_site_paths_and_stripe_images_are_allowed(image: str) -> None:
    assert image_problem(image) is None
    product = product_from_document("mug", document(images=[image]), "usd")
    assert product.images == (image,)


@pytest.mark.parametrize(
    "image",
    [
        "images/mug.jpg",  # relative: depends on the page's URL
        "//evil.example/mug.jpg",  # another site, whatever the scheme
        "/",
        "/images/mug.jpg?v=1",
        "/images/mug jpg",
        "/images\\mug.jpg",
        "http://files.stripe.com/x.png",  # not https
        "https://stripe.com/x.png",  # the CSP allows *.stripe.com, not stripe.com
        "https://files.stripe.com.evil.example/x.png",
        "https://evil.example/files.stripe.com/x.png",
        "https://user@files.stripe.com/x.png",
        "https://files.stripe.com:8443/x.png",
        "data:image/png;base64,iVBORw0KGgo=",
        "javascript:alert(1)",
        "https://[files.stripe.com/x.png",  # urlsplit raises on this: still just refused
        "https://files.stripe.com/" + "x" * 2048,
        3,
    ],
)
def test_images_the_page_cannot_show_are_refused(image: object) -> None:
    assert image_problem(image) is not None
    assert problems_of("mug", document(images=[image])) == [("'mug'", "images")]


def test_at_most_eight_images() -> None:
    images = [f"/images/{n}.jpg" for n in range(9)]
    assert problems_of("mug", document(images=images)) == [("'mug'", "images")]
    assert len(product_from_document("mug", document(images=images[:8]), "usd").images) == 8


def test_zero_is_a_price() -> None:
    assert product_from_document("gift", document(unitAmount=0), "usd").unit_amount == 0
