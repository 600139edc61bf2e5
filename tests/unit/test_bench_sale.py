"""The flash sale benchmark's pure parts (bench/sale.py) and the functions' write recorder
(dev/firestore_writes/sitecustomize.py): what they count, without a server."""

import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Any

from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from bench.sale import (
    OUT_OF_STOCK,
    Buyer,
    collection_of,
    hottest,
    paid_units,
    sale_catalog,
    sale_figures,
    writes_per_document,
)
from tests.conftest import ROOT


def recorder() -> ModuleType:
    # Loaded by path under another name: as `sitecustomize` it only installs itself in a
    # function's process (FUNCTION_TARGET and FIRESTORE_WRITE_LOG set), which a test is not.
    path = ROOT / "dev" / "firestore_writes" / "sitecustomize.py"
    spec = importlib.util.spec_from_file_location("firestore_write_recorder", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_recorder_names_every_document_a_commit_writes() -> None:
    client = firestore.Client(project="demo-unit", credentials=AnonymousCredentials())
    batch = client.batch()
    batch.set(client.document("orders/pi_1"), {"status": "paid"})
    batch.set(client.document("rate_limits/shop-60-3-of-30"), {"count": firestore.Increment(1)})
    batch.delete(client.document("checkouts/c1"))
    batch.update(client.document("pools/product:mug/shards/4"), {"sold": 1})
    paths = recorder().written_paths({"database": "x", "writes": batch._write_pbs})
    assert paths == [
        "orders/pi_1",
        "rate_limits/shop-60-3-of-30",
        "checkouts/c1",
        "pools/product:mug/shards/4",
    ]


def test_the_recorder_writes_only_while_its_folder_exists(tmp_path: Path) -> None:
    module = recorder()
    folder = tmp_path / "writes"
    commit = module.recording(lambda self, request, **kw: "response", str(folder), "checkout_api")
    client = firestore.Client(project="demo-unit", credentials=AnonymousCredentials())
    batch = client.batch()
    batch.set(client.document("orders/pi_1"), {"status": "paid"})
    request: dict[str, Any] = {"writes": batch._write_pbs}
    assert commit(None, request) == "response"
    assert not folder.exists()  # nothing recorded, nothing created
    folder.mkdir()
    commit(None, request)
    commit(None, request=request)
    log = folder / f"{os.getpid()}.log"
    assert log.read_text() == "checkout_api\torders/pi_1\n" * 2


def test_the_recorder_stays_out_of_processes_that_are_not_functions() -> None:
    module = recorder()
    assert not module.install({})
    assert not module.install({"FIRESTORE_WRITE_LOG": "writes"})  # the bench's own process


def test_writes_are_tallied_per_document_and_the_hottest_found() -> None:
    lines = [
        "checkout_api\trate_limits/shop-60-1-of-30",
        "checkout_api\trate_limits/shop-60-1-of-30",
        "stripe_webhook\torders/pi_1",
        "checkout_api\torders/pi_1",
        "checkout_api\torders/pi_1",
        "checkout_api\tpools/product:mug/shards/3",
        "",
    ]
    tally = writes_per_document(lines)
    assert tally["orders/pi_1"] == 3
    found = hottest(tally, checkouts=20)
    assert (found["document"], found["writes"], found["share"]) == ("orders/pi_1", 3, 0.15)
    assert found["per_collection"]["rate_limits"]["writes"] == 2
    assert found["per_collection"]["shards"]["document"] == "pools/product:mug/shards/3"
    assert collection_of("pools/product:mug/shards/3") == "shards"
    assert hottest(writes_per_document([]), 20)["writes"] == 0


def test_sold_counts_paid_units_of_the_product_only() -> None:
    orders = [
        {"status": "paid", "items": [{"productId": "mug", "quantity": 2}]},
        {"status": "refunded", "items": [{"productId": "mug", "quantity": 1}]},
        {"status": "pending", "items": [{"productId": "mug", "quantity": 1}]},
        {"status": "paid", "items": [{"productId": "tee", "quantity": 5}]},
    ]
    assert paid_units(orders, "mug") == 3


def test_the_figures_tell_refusals_from_other_answers() -> None:
    buyers = [Buyer(n) for n in range(5)]
    for buyer, status, code in zip(
        buyers,
        (200, 200, 409, 409, 429),
        (None, None, OUT_OF_STOCK, "checkout_locked", "rate_limited"),
        strict=True,
    ):
        buyer.status, buyer.error_code, buyer.seconds_to_hold = status, code, 0.1
    buyers[0].confirmed = True
    figures = sale_figures(buyers, sold=3, stock=2)
    assert figures["held"] == 2 and figures["refused"] == 1 and figures["confirmed"] == 1
    assert figures["other_answers"] == {"409 checkout_locked": 1, "429 rate_limited": 1}
    assert figures["oversold"] == 1
    assert len({b.address for b in (Buyer(n) for n in range(200))}) == 200


def test_the_sale_product_is_in_the_catalog_file_with_stock_or_without() -> None:
    from checkout.catalog.catalog_file import InvalidCatalogFile, read_catalog_text

    without = read_catalog_text(sale_catalog(with_stock=False), "usd")
    assert "flash-sale-mug" in {p.id for p in without.products}
    assert '"stock": 50' in sale_catalog(with_stock=True)
    try:  # today's catalog refuses the field, naming it; once stock exists it is read
        read_catalog_text(sale_catalog(with_stock=True), "usd")
    except InvalidCatalogFile as error:
        assert "stock" in str(error)
