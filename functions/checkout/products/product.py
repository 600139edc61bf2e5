"""A product: its fields, the rules each must follow, and the product they make.

One set of rules for both places a product is written down: a Firestore document
`products/{id}` (which carries its `currency`) and an entry of the catalog file (which does not:
the file states the currency once). Checking never stops at the first problem: every problem
found is returned, each naming the product and the field, so an owner fixes a file in one go.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard
from urllib.parse import urlsplit

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # Stripe's prod_... ids fit too

# Stripe's largest amount: eight digits (99999999 cents is $999,999.99).
MAX_UNIT_AMOUNT = 99_999_999
MAX_NAME_LENGTH = 250
MAX_DESCRIPTION_LENGTH = 5000
MAX_IMAGES = 8  # as many as a Stripe Product takes
MAX_IMAGE_LENGTH = 2048
# Far beyond any shop's stock; a typo of a few extra digits is refused rather than sold.
MAX_STOCK = 1_000_000_000

# A path on the site, served by Hosting: "/images/mug.jpg". Not "//host/..." (another site).
SITE_PATH = re.compile(r"/[A-Za-z0-9._~%+-][A-Za-z0-9._~%+/-]*")
# The page's Content-Security-Policy: img-src 'self' data: https://*.stripe.com. Stripe's
# product images are served from files.stripe.com.
STRIPE_IMAGE_HOST_SUFFIX = ".stripe.com"

# Fields in the order the file and the export write them.
REQUIRED_FIELDS = ("name", "description", "unitAmount", "active", "position")
# `stock` None (or absent): not tracked, sold without limit.
OPTIONAL_FIELDS: Mapping[str, Any] = {"shippable": True, "images": [], "stock": None}
FILE_FIELDS = ("id", *REQUIRED_FIELDS, *OPTIONAL_FIELDS)
# A document holds the same fields plus its currency; its id is the document's id.
DOCUMENT_FIELDS = (*REQUIRED_FIELDS, *OPTIONAL_FIELDS, "currency")


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    description: str
    unit_amount: int  # in the currency's minor unit (cents), as Stripe expects
    currency: str
    active: bool
    position: int  # the page's order: lowest first
    images: tuple[str, ...] = ()
    shippable: bool = True
    # Every unit ever put on sale, sold ones included (on sale + held + sold = stock): the
    # total of the product's pool (checkout.holds). None: not tracked, sold without limit.
    stock: int | None = None


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field of one product.

    `product` names the product: its id quoted, or its place in the file ("products[3]") when
    it has no valid id; None for the catalog file's top level. `field` is None when the problem
    is the whole thing (a file that is not JSON, an entry that is not an object).
    """

    product: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = "top level" if self.product is None else f"product {self.product}"
        if self.field is not None:
            where += f", field {self.field!r}"
        return f"{where}: {self.message}"


class InvalidProduct(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def is_valid_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def is_int(value: object) -> TypeGuard[int]:
    # bool is an int in Python, and JSON true must not pass for 1.
    return isinstance(value, int) and not isinstance(value, bool)


def image_problem(image: object) -> str | None:
    """Why `image` cannot be shown by the page, or None."""
    if not isinstance(image, str):
        return "each image must be a string"
    if len(image) > MAX_IMAGE_LENGTH:
        return f"an image URL is at most {MAX_IMAGE_LENGTH} characters"
    if image.startswith("/"):
        if SITE_PATH.fullmatch(image):
            return None
        return (
            f"{image!r} is not a path on the site (like /images/mug.jpg: letters, digits "
            "and . _ ~ % + - /)"
        )
    try:
        url = urlsplit(image)
    except ValueError:  # e.g. an unclosed "[" in the host: no URL at all
        url = urlsplit("")
    host = url.hostname or ""
    if (
        url.scheme == "https"
        and host.endswith(STRIPE_IMAGE_HOST_SUFFIX)
        and url.netloc == host  # no user, password or port: the CSP would not allow them
        and not any(c.isspace() for c in image)
    ):
        return None
    return (
        f"{image!r} is neither a path on the site (/images/...) nor a Stripe image "
        "(https://files.stripe.com/...): the page's Content-Security-Policy shows no other"
    )


def field_problem(field: str, value: Any) -> str | None:
    """Why `value` cannot be the product field `field`, or None. `field` is a known field."""
    if field in ("name", "description"):
        longest = MAX_NAME_LENGTH if field == "name" else MAX_DESCRIPTION_LENGTH
        if not isinstance(value, str):
            return "must be a string"
        if field == "name" and not value.strip():
            return "must not be empty"
        if len(value) > longest:
            return f"must be at most {longest} characters"
        return None
    if field == "unitAmount":
        if not is_int(value):
            return "must be a whole number of the currency's minor unit (1400 for 14.00)"
        if not 0 <= value <= MAX_UNIT_AMOUNT:
            return f"must be from 0 to {MAX_UNIT_AMOUNT}, got {value}"
        return None
    if field in ("active", "shippable"):
        return None if isinstance(value, bool) else "must be true or false"
    if field == "position":
        return None if is_int(value) else "must be a whole number"
    if field == "images":
        if not isinstance(value, list):
            return "must be a list"
        if len(value) > MAX_IMAGES:
            return f"must hold at most {MAX_IMAGES} images"
        return next((p for p in map(image_problem, value) if p is not None), None)
    if field == "currency":
        return None if isinstance(value, str) else "must be a string"
    if field == "stock":
        if value is None:
            return None
        if not is_int(value):
            return "must be a whole number of units, or null (not tracked)"
        if not 0 <= value <= MAX_STOCK:
            return f"must be from 0 to {MAX_STOCK}, or null (not tracked), got {value}"
        return None
    raise AssertionError(f"no rule for field {field}")


def check_fields(product: str, data: Mapping[str, Any], fields: tuple[str, ...]) -> list[Problem]:
    """The problems of the `fields` of `data`: each missing required one, each wrong value."""
    problems = []
    for field in fields:
        if field not in data:
            if field not in OPTIONAL_FIELDS:
                problems.append(Problem(product, field, "is missing"))
            continue
        message = field_problem(field, data[field])
        if message is not None:
            problems.append(Problem(product, field, message))
    return problems


def build(product_id: str, data: Mapping[str, Any], currency: str) -> Product:
    """The Product of fields already checked."""
    return Product(
        id=product_id,
        name=data["name"],
        description=data["description"],
        unit_amount=data["unitAmount"],
        currency=currency,
        active=data["active"],
        position=data["position"],
        images=tuple(data.get("images", OPTIONAL_FIELDS["images"])),
        shippable=data.get("shippable", OPTIONAL_FIELDS["shippable"]),
        stock=data.get("stock"),
    )


def product_from_document(product_id: str, data: Mapping[str, Any], currency: str) -> Product:
    """The product a Firestore document holds, in the shop's `currency`; raises InvalidProduct.

    Fields the product does not know (added by hand, or by later capabilities) are ignored.
    """
    problems = []
    if not is_valid_id(product_id):
        problems.append(Problem(repr(product_id), "id", "is not a valid product id"))
    problems += check_fields(repr(product_id), data, DOCUMENT_FIELDS)
    if isinstance(data.get("currency"), str) and data["currency"] != currency:
        message = f"is {data['currency']!r}, the shop sells in {currency!r} (SHOP_CURRENCY)"
        problems.append(Problem(repr(product_id), "currency", message))
    if problems:
        raise InvalidProduct(problems)
    return build(product_id, data, currency)


def document_of(product: Product) -> dict[str, Any]:
    """The Firestore document of `product` (its id is the document's id)."""
    return {**file_entry_of(product, with_id=False), "currency": product.currency}


def file_entry_of(product: Product, with_id: bool = True) -> dict[str, Any]:
    """`product` as the catalog file writes it, fields in FILE_FIELDS order; `stock` only when
    tracked (a file without stock reads as it was written)."""
    entry: dict[str, Any] = {"id": product.id} if with_id else {}
    entry |= {
        "name": product.name,
        "description": product.description,
        "unitAmount": product.unit_amount,
        "active": product.active,
        "position": product.position,
        "shippable": product.shippable,
        "images": list(product.images),
    }
    if product.stock is not None:
        entry["stock"] = product.stock
    return entry
