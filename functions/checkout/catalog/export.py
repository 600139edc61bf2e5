"""The live catalog as a catalog file: what `python -m checkout.catalog export` prints.

Every product document, active or not, in the shop's order, every promotion code document, by
code, and the shipping rates when there is a document of them, in the file format, so that
importing an export changes nothing. A document broken by hand is written as it is (its known
fields) and logged: importing it then names what to fix, instead of deactivating it.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from checkout.catalog.catalog_file import render
from checkout.discounts import promotion_code
from checkout.discounts.promotion_code import InvalidPromotionCode, code_from_document
from checkout.platform import structured_log as logger
from checkout.products.product import (
    FILE_FIELDS,
    InvalidProduct,
    file_entry_of,
    is_int,
    product_from_document,
)
from checkout.shipping.rates import (
    SECTION_FIELDS,
    InvalidRates,
    ShippingRates,
    rates_from_document,
)


def export_entry(product_id: str, document: Mapping[str, Any], currency: str) -> dict[str, Any]:
    try:
        return file_entry_of(product_from_document(product_id, document, currency))
    except InvalidProduct as invalid:
        logger.error_per_problem(
            "catalog product exported as it is, with a problem",
            invalid.problems,
            productId=product_id,
        )
        return {"id": product_id, **{f: document[f] for f in FILE_FIELDS[1:] if f in document}}


def export_code_entry(code: str, document: Mapping[str, Any], currency: str) -> dict[str, Any]:
    try:
        return promotion_code.file_entry_of(code_from_document(code, document, currency))
    except InvalidPromotionCode as invalid:
        logger.error_per_problem(
            "catalog promotion code exported as it is, with a problem",
            invalid.problems,
            promotionCode=code,
        )
    entry: dict[str, Any] = {"code": code}
    for field in promotion_code.FILE_FIELDS[1:]:
        value = document.get(field)
        if value is not None:
            is_time = isinstance(value, datetime)
            entry[field] = promotion_code.format_time(value) if is_time else value
    return entry


def export_shipping(
    document: Mapping[str, Any] | None, currency: str
) -> ShippingRates | dict[str, Any] | None:
    """The file's `shipping` section of the rates `document` (None: no document, no section)."""
    if document is None:
        return None
    try:
        return rates_from_document(document, currency)
    except InvalidRates as invalid:
        logger.error_per_problem(
            "shipping rates exported as they are, with a problem", invalid.problems
        )
        return {field: document[field] for field in SECTION_FIELDS if field in document}


def export_text(
    documents: Mapping[str, Mapping[str, Any]],
    currency: str,
    code_documents: Mapping[str, Mapping[str, Any]] | None = None,
    shipping: Mapping[str, Any] | None = None,
) -> str:
    """The catalog file of `documents` (by id): by position, then id; broken positions last;
    then the promotion codes of `code_documents` (by code), in the order of their codes; and
    the `shipping` rates document, if there is one."""

    def order(product_id: str) -> tuple[int, int, str]:
        position = documents[product_id].get("position")
        return (0, position, product_id) if is_int(position) else (1, 0, product_id)

    entries = [export_entry(pid, documents[pid], currency) for pid in sorted(documents, key=order)]
    codes = code_documents or {}
    code_entries = [export_code_entry(code, codes[code], currency) for code in sorted(codes)]
    return render(currency, entries, code_entries, export_shipping(shipping, currency))
