"""The catalog's Stripe mode against localstripe and the Firestore emulator: the backfill
(`python -m checkout.catalog sync-from-stripe`) and the reconciler's events catch-up healing
catalog events the webhook missed.

localstripe has no Prices and refuses a Product's `default_price`: dev/localstripe_server.py (the
project's launcher, dev and tests only) gives it both, with their events.
"""

import os
import subprocess
import sys
import time
from typing import Any

import pytest
import stripe
from google.cloud import firestore

from checkout.platform.collections import PRODUCTS
from checkout.products.stripe_products import OFF_SALE_REASON
from checkout.reconcile import catch_up
from checkout.reconcile.one_pass import run_pass
from checkout.reconcile.pass_state import PassSettings
from tests.conftest import FUNCTIONS_DIR

# Stripe mode starts from no products: the products are what Stripe says.
pytestmark = pytest.mark.without_sample_catalog

Json = dict[str, Any]
QUIET = PassSettings()


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m checkout.catalog ARGS` from functions/, as the owner runs it."""
    return subprocess.run(
        [sys.executable, "-m", "checkout.catalog", *args],
        cwd=FUNCTIONS_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def product_doc(db: firestore.Client, product_id: str) -> Json | None:
    return db.collection(PRODUCTS).document(product_id).get().to_dict()


def new_product(
    client: stripe.StripeClient, name: str, amount: int | None = 1500, monthly: bool = False
) -> str:
    """A Product in localstripe, with a default Price of `amount` (None: no price), made as an
    API script makes one: the Product, its Price, then the Price made its default."""
    product = client.v1.products.create(params={"name": name})
    if amount is None:
        return str(product.id)
    price = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": amount,
            **({"recurring": {"interval": "month"}} if monthly else {}),  # type: ignore[typeddict-item]
        }
    )
    client.v1.products.update(product.id, params={"default_price": price.id})
    return str(product.id)


def test_the_backfill_writes_stripes_products_and_deactivates_those_gone(
    stripe_client: stripe.StripeClient, firestore_db: firestore.Client
) -> None:
    on_sale = new_product(stripe_client, "Mug", 1500)
    monthly = new_product(stripe_client, "Club", 900, monthly=True)
    unpriced = new_product(stripe_client, "Sticker", None)
    archived = new_product(stripe_client, "Old poster", 700)
    stripe_client.v1.products.update(archived, params={"active": False})
    # On sale in Firestore, but archived in Stripe, or never there (an imported product).
    firestore_db.collection(PRODUCTS).document(archived).set({"name": "Old poster", "active": True})
    firestore_db.collection(PRODUCTS).document("mug-enamel").set({"name": "Mug", "active": True})

    result = cli("sync-from-stripe", CATALOG_SOURCE="stripe")
    assert result.returncode == 0, result.stderr
    assert f"on sale {on_sale}: 'Mug', 1500 usd" in result.stdout
    assert f"off sale {monthly}: " in result.stdout and "recurring" in result.stdout

    mug = product_doc(firestore_db, on_sale)
    assert mug is not None and (mug["active"], mug["unitAmount"], mug["name"]) == (
        True,
        1500,
        "Mug",
    )
    club = product_doc(firestore_db, monthly)
    assert club is not None and club["active"] is False and "recurring" in club[OFF_SALE_REASON]
    sticker = product_doc(firestore_db, unpriced)
    assert sticker is not None and sticker[OFF_SALE_REASON] == "no default price"
    poster = product_doc(firestore_db, archived)
    assert poster is not None and poster["active"] is False
    assert "archived" in poster[OFF_SALE_REASON]
    gone = product_doc(firestore_db, "mug-enamel")
    assert gone is not None and gone["active"] is False  # deactivated, not deleted
    assert "deleted" in gone[OFF_SALE_REASON]

    again = cli("sync-from-stripe", CATALOG_SOURCE="stripe")
    assert again.returncode == 0, again.stderr
    assert f" {on_sale}:" not in again.stdout and " 0 on sale, 0 off sale" in again.stdout
    assert product_doc(firestore_db, on_sale) == mug


def test_the_backfill_is_refused_in_firestore_mode_and_without_stripe(
    firestore_db: firestore.Client,
) -> None:
    refused = cli("sync-from-stripe", CATALOG_SOURCE="firestore")
    assert refused.returncode == 2 and "CATALOG_SOURCE" in refused.stderr
    unreachable = cli(
        "sync-from-stripe", CATALOG_SOURCE="stripe", STRIPE_API_BASE="http://127.0.0.1:9"
    )
    assert unreachable.returncode == 2 and "Stripe" in unreachable.stderr
    assert list(firestore_db.collection(PRODUCTS).stream()) == []


def next_second() -> None:
    """Wait for the next second: Stripe orders a Product's versions by `updated`, in seconds."""
    time.sleep(1 - time.time() % 1)


def test_the_catch_up_heals_missed_catalog_events_in_stripe_mode(
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    fresh_cursor: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CATALOG_SOURCE", "stripe")
    assert "product.updated" in catch_up.handled_types()
    assert "price.created" in catch_up.handled_types()
    # No webhook saw them: price.created and product.created, listed from the Events API.
    product_id = new_product(stripe_client, "Lamp", 4200)
    summary = run_pass(QUIET).as_dict()
    assert summary["events"].get("applied", 0) >= 2, summary
    lamp = product_doc(firestore_db, product_id)
    assert lamp is not None and (lamp["active"], lamp["unitAmount"]) == (True, 4200)

    # A missed product.updated heals at the next pass.
    next_second()
    stripe_client.v1.products.update(product_id, params={"name": "Desk lamp"})
    run_pass(QUIET)
    renamed = product_doc(firestore_db, product_id)
    assert renamed is not None and renamed["name"] == "Desk lamp" and renamed["active"] is True


def test_in_firestore_mode_the_catch_up_lists_no_catalog_events(
    stripe_client: stripe.StripeClient,
    firestore_db: firestore.Client,
    fresh_cursor: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CATALOG_SOURCE", "firestore")
    assert not any(t.startswith(("product.", "price.")) for t in catch_up.handled_types())
    new_product(stripe_client, "Chair", 9900)
    run_pass(QUIET)
    assert list(firestore_db.collection(PRODUCTS).stream()) == []
