"""`python -m checkout.catalog`: the owner's tool, run from functions/ with the functions' settings.

    python -m checkout.catalog import FILE [--dry-run]   the file becomes the catalog
    python -m checkout.catalog export                    the catalog, as a file, on stdout
    python -m checkout.catalog sync-from-stripe          CATALOG_SOURCE=stripe: the backfill

Exit status: 0 written (or a dry run, or exported, or synced); 1 the file is invalid, or sets a
product's stock below the units already sold or held, and nothing was written (a product sold
or held meanwhile: that one; sync: Stripe listed products whose ids cannot be product ids,
named; the rest were written); 2 a usage or settings error, no connection to Firestore (or
Stripe), an import refused (CATALOG_SOURCE=stripe) or a sync refused (CATALOG_SOURCE=firestore),
or either interrupted part-way (running it again finishes it).

The tool sits in the top layer, beside the three functions' packages: it writes the products
(checkout.products) and the promotion codes (checkout.discounts) and, for sync-from-stripe, uses
Stripe's API and the webhook's conditional commit (checkout.catalog.sync_from_stripe), which only
that command loads.
"""

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from google.api_core.exceptions import GoogleAPIError
from google.auth.exceptions import GoogleAuthError
from google.cloud import firestore

from checkout.catalog import import_writes
from checkout.catalog.catalog_file import InvalidCatalogFile, read_catalog_text
from checkout.catalog.changes import describe, plan_import, stock_refusals, summary
from checkout.catalog.code_changes import (
    CodeImportPlan,
    describe_codes,
    plan_code_import,
    redemption_refusals,
    summary_codes,
)
from checkout.catalog.export import export_text
from checkout.catalog.shipping_section import (
    describe_shipping,
    plan_shipping,
    shipping_summary,
)
from checkout.discounts import store as code_store
from checkout.discounts.promotion_code import CodeProblem
from checkout.platform import structured_log as logger
from checkout.platform.errors import ApiError
from checkout.platform.firestore_client import db
from checkout.platform.settings import (
    InvalidSetting,
    MissingSetting,
    catalog_source,
    shop_currency,
)
from checkout.products import store
from checkout.products.product import Problem
from checkout.shipping.live_rates import read_document as read_shipping_document

EXIT_OK = 0
EXIT_INVALID_FILE = 1
EXIT_NOT_DONE = 2

# What failing to reach Firestore looks like: an RPC that failed or ran out of retries, no
# credentials, no project (the client raises OSError for that).
CONNECTION_ERRORS = (GoogleAPIError, GoogleAuthError, OSError)

T = TypeVar("T")


def _fail(message: str) -> None:
    print(f"catalog: {message}", file=sys.stderr, flush=True)


def _firestore_named() -> str:
    emulator = os.environ.get("FIRESTORE_EMULATOR_HOST")
    if emulator:
        return f"the Firestore emulator at {emulator}"
    return f"Firestore of project {logger.project_id() or '(none set)'}"


def _fail_no_connection(error: Exception) -> None:
    _fail(f"no connection to {_firestore_named()}: {type(error).__name__}: {error}")


def _read_or_none(read: Callable[[firestore.Client], T]) -> T | None:
    """What `read` reads from Firestore, or None when Firestore could not be reached (said
    why)."""
    try:
        return read(db())
    except CONNECTION_ERRORS as error:
        _fail_no_connection(error)
        return None


def _read_shipping_document() -> tuple[bool, dict[str, Any] | None]:
    """(read, the document): read is False when Firestore could not be reached (said why);
    the document itself may be None."""
    try:
        return True, read_shipping_document(db())
    except CONNECTION_ERRORS as error:
        _fail_no_connection(error)
        return False, None


def run_import(path: Path, dry_run: bool, currency: str, source: str) -> int:
    if source == "stripe":
        _fail(
            "CATALOG_SOURCE is stripe: the Stripe Dashboard is the source of the catalog, so "
            "import is refused (change products in the Dashboard; export still works)"
        )
        return EXIT_NOT_DONE
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        _fail(f"{path} is not UTF-8 text ({error}); nothing was written")
        return EXIT_INVALID_FILE
    except OSError as error:
        _fail(f"cannot read {path}: {error.strerror or error}")
        return EXIT_NOT_DONE
    try:
        catalog = read_catalog_text(text, currency)
    except InvalidCatalogFile as invalid:
        for problem in invalid.problems:
            print(f"{path}: {problem}", file=sys.stderr)
        _fail(f"{len(invalid.problems)} problem(s) in {path}; nothing was written")
        return EXIT_INVALID_FILE

    documents = _read_or_none(store.read_documents)
    if documents is None:
        return EXIT_NOT_DONE
    rates_document = None
    if catalog.shipping is not None:  # a file without the section leaves the rates alone
        read, rates_document = _read_shipping_document()
        if not read:
            return EXIT_NOT_DONE
    plan = plan_import(catalog.products, documents)
    code_plan: CodeImportPlan | None = None
    if catalog.promotion_codes is not None:  # no section: the codes are left as they are
        code_documents = _read_or_none(code_store.read_documents)
        if code_documents is None:
            return EXIT_NOT_DONE
        code_plan = plan_code_import(catalog.promotion_codes, code_documents)
    try:
        pools = import_writes.read_stock_pools(db(), plan, code_plan)
    except CONNECTION_ERRORS as error:
        _fail_no_connection(error)
        return EXIT_NOT_DONE
    # Every stock change is checked before anything is written, so that a refusal leaves the
    # whole catalog as it was; set_total checks again as it writes (a hold taken meanwhile).
    refusals: list[Problem | CodeProblem] = [*stock_refusals(plan, pools, datetime.now(UTC))]
    if code_plan is not None:
        refusals += redemption_refusals(code_plan, pools, datetime.now(UTC))
    shipping = plan_shipping(catalog.shipping, rates_document, currency)
    if dry_run or not refusals:
        lines = describe(plan) + (describe_codes(code_plan) if code_plan else [])
        for line in lines + describe_shipping(shipping):
            print(line)
    for problem in refusals:
        print(f"{path}: {problem}", file=sys.stderr)
    summed = summary(plan) + (f"; {summary_codes(code_plan)}" if code_plan is not None else "")
    summed += shipping_summary(shipping)
    if dry_run:
        print(f"dry run: {summed}; nothing written", flush=True)
        if refusals:
            _fail(f"the import would be refused: {_stock_below(refusals)}")
            return EXIT_INVALID_FILE
        return EXIT_OK
    if refusals:
        _fail(f"import refused: {_stock_below(refusals)}; nothing was written")
        return EXIT_INVALID_FILE
    try:
        late = import_writes.write_plan(db(), plan, pools, code_plan, shipping.write)
    except import_writes.ImportInterrupted as interrupted:
        _fail(f"import interrupted: {interrupted}; run it again to finish")
        return EXIT_NOT_DONE
    if late:
        for problem in late:
            print(f"{path}: {problem}", file=sys.stderr)
        print(f"written: {summed}, except {len(late)} refused", flush=True)
        _fail(
            f"import refused for {len(late)} product(s) or code(s), sold or held meanwhile: "
            "nothing of them was written, the rest was"
        )
        return EXIT_INVALID_FILE
    print(f"written: {summed}", flush=True)
    return EXIT_OK


def _stock_below(refusals: list[Problem | CodeProblem]) -> str:
    products = sum(isinstance(problem, Problem) for problem in refusals)
    codes = len(refusals) - products
    parts = [f"{products} product(s) with a stock below the units already sold or held"]
    parts = parts if products else []
    if codes:
        parts.append(
            f"{codes} promotion code(s) with a maxRedemptions below the redemptions already "
            "sold or held"
        )
    return " and ".join(parts)


def run_export(currency: str) -> int:
    documents = _read_or_none(store.read_documents)
    if documents is None:
        return EXIT_NOT_DONE
    code_documents = _read_or_none(code_store.read_documents)
    if code_documents is None:
        return EXIT_NOT_DONE
    read, rates_document = _read_shipping_document()
    if not read:
        return EXIT_NOT_DONE
    sys.stdout.write(export_text(documents, currency, code_documents, rates_document))
    sys.stdout.flush()
    return EXIT_OK


def run_sync(currency: str, source: str) -> int:
    if source != "stripe":
        _fail(
            "CATALOG_SOURCE is firestore: the catalog file is the source, and a sync from "
            "Stripe would overwrite it (set CATALOG_SOURCE=stripe to run the catalog from Stripe)"
        )
        return EXIT_NOT_DONE
    # Loaded by this command only: import and export never load the Stripe SDK.
    from checkout.catalog.sync_from_stripe import sync_from_stripe

    try:
        report = sync_from_stripe(currency)
    except MissingSetting as missing:
        _fail(f"{missing.name} is not set: it is needed to ask Stripe")
        return EXIT_NOT_DONE
    except ApiError as error:
        _fail(f"cannot ask Stripe: {error.message} ({error.code}); run it again to finish")
        return EXIT_NOT_DONE
    except CONNECTION_ERRORS as error:
        _fail_no_connection(error)
        return EXIT_NOT_DONE
    for line in report.lines:
        print(line)
    for product_id in report.unusable:
        print(
            f"catalog: Stripe product {product_id!r} left out: its id cannot be a product id "
            "(letters, digits, _ and -, at most 64)",
            file=sys.stderr,
        )
    print(f"synced: {report.summary()}", flush=True)
    return EXIT_INVALID_FILE if report.unusable else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m checkout.catalog",
        description=(
            "The shop's catalog in Firestore: import a catalog file, export it, or (Stripe "
            "mode) sync it from Stripe."
        ),
        epilog="Exit status: 0 done, 1 invalid file (nothing written), 2 usage or no connection.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    importing = commands.add_parser(
        "import", help="make FILE the catalog: add, change, deactivate products"
    )
    importing.add_argument("file", type=Path, metavar="FILE", help="a catalog file (JSON)")
    importing.add_argument(
        "--dry-run", action="store_true", help="print what would change; write nothing"
    )
    commands.add_parser("export", help="print the catalog, every product, in the file format")
    commands.add_parser(
        "sync-from-stripe",
        help="CATALOG_SOURCE=stripe: write Stripe's active products, deactivate the others",
    )
    args = parser.parse_args(argv)  # a usage error exits 2

    try:
        currency = shop_currency()
        source = catalog_source()
    except InvalidSetting as invalid:
        _fail(str(invalid))
        return EXIT_NOT_DONE
    if args.command == "import":
        return run_import(args.file, args.dry_run, currency, source)
    if args.command == "sync-from-stripe":
        return run_sync(currency, source)
    return run_export(currency)


if __name__ == "__main__":
    sys.exit(main())
