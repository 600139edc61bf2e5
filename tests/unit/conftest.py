"""Unit tests touch no server: the shop's live catalog is catalog.json, read from the file."""

from collections.abc import Iterator

import pytest

from checkout.products import live_catalog
from tests.sample_catalog import sample_shop


@pytest.fixture(autouse=True)
def sample_live_catalog(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """current_catalog() answers catalog.json's products instead of reading Firestore."""
    live_catalog.shop_catalog.clear()
    monkeypatch.setattr(live_catalog.shop_catalog, "_load", sample_shop)
    yield
    live_catalog.shop_catalog.clear()
