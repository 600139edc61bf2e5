"""Unit tests touch no server: the shop's live catalog and shipping rates are catalog.json's,
read from the file."""

from collections.abc import Iterator

import pytest

from checkout.products import live_catalog
from checkout.shipping import live_rates
from tests.sample_catalog import sample_rates, sample_shop


@pytest.fixture(autouse=True)
def sample_live_catalog(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """current_catalog() answers catalog.json's products instead of reading Firestore."""
    live_catalog.shop_catalog.clear()
    live_rates.shipping_rates.clear()
    monkeypatch.setattr(live_catalog.shop_catalog, "_load", sample_shop)
    monkeypatch.setattr(live_rates.shipping_rates, "_load", sample_rates)
    yield
    live_catalog.shop_catalog.clear()
    live_rates.shipping_rates.clear()
