"""Firestore: the `promotion_codes` collection, one code by its id or all of them, bounded.

A document broken by hand (a field deleted or mistyped in the console) is no code: the shop
answers as for an unknown one, and each problem is logged at ERROR so that the owner sees it.
"""

from typing import Any

from google.cloud import firestore

from checkout.discounts.promotion_code import (
    InvalidPromotionCode,
    PromotionCode,
    code_from_document,
)
from checkout.platform import structured_log as logger
from checkout.platform.collections import PROMOTION_CODES
from checkout.platform.firestore_client import RPC_RETRY, RPC_TIMEOUT_SECONDS

READ_TIMEOUT_SECONDS = 10.0  # the whole collection, for the owner's tool

Documents = dict[str, dict[str, Any]]


def read_documents(client: firestore.Client) -> Documents:
    """Every promotion code document, active or not, by code (one query)."""
    stream = client.collection(PROMOTION_CODES).stream(
        retry=RPC_RETRY, timeout=READ_TIMEOUT_SECONDS
    )
    return {snapshot.id: snapshot.to_dict() or {} for snapshot in stream}


def code_or_none(code: str, document: dict[str, Any] | None, currency: str) -> PromotionCode | None:
    """The code `document` holds, or None when there is none or it is broken (logged)."""
    if document is None:
        return None
    try:
        return code_from_document(code, document, currency)
    except InvalidPromotionCode as invalid:
        logger.error_per_problem("promotion code left out", invalid.problems, promotionCode=code)
        return None


def read_code(client: firestore.Client, code: str, currency: str) -> PromotionCode | None:
    """The promotion code `code` (already normalized: upper-case), or None: one read, bounded
    as a shopper's request is."""
    snapshot = (
        client.collection(PROMOTION_CODES)
        .document(code)
        .get(retry=RPC_RETRY, timeout=RPC_TIMEOUT_SECONDS)
    )
    return code_or_none(code, snapshot.to_dict() if snapshot.exists else None, currency)
