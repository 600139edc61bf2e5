"""Firestore: the `products` collection, read whole, the call bounded.

Without bounds the client retries an unreachable Firestore for minutes; a page load, or an
owner waiting at a terminal, is better served by a clear failure within seconds.
"""

from typing import Any

from google.cloud import firestore

from checkout.platform.collections import PRODUCTS
from checkout.platform.firestore_client import RPC_RETRY

READ_TIMEOUT_SECONDS = 10.0  # one whole-collection query: a few hundred small documents

Documents = dict[str, dict[str, Any]]


def read_documents(client: firestore.Client) -> Documents:
    """Every product document, active or not, by id (one query)."""
    stream = client.collection(PRODUCTS).stream(retry=RPC_RETRY, timeout=READ_TIMEOUT_SECONDS)
    return {snapshot.id: snapshot.to_dict() or {} for snapshot in stream}
