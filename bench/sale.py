"""`sale` (issue 20): 200 buyers race for 50 units of one product, through the real functions.

Each buyer, from its own client address (`X-Forwarded-For`, which the emulated Hosting path
hands on: checkout/platform/client_ip.py), POSTs its cart to /api/payment-intents through
Hosting (its first answer is "a unit held" or `409 out_of_stock`), POSTs it again as the page's
Pay does, confirms its PaymentIntent at localstripe with a test card, and localstripe's webhook
reaches the webhook function through Hosting. Then the figures: oversold (paid units beyond the
stock), sold, refused, the time to a held unit (the first POST's answer), and the most writes any
one Firestore document took, as a share of the checkouts.

The writes are counted in the functions' own processes: dev/stack.py puts
dev/firestore_writes/sitecustomize.py on their Python path, which records each commit's documents
while the folder FIRESTORE_WRITE_LOG exists; this creates it for the sale and removes it after.

The product is imported through the owner's tool with `stock: 50`. Until the catalog knows the
field, the file is refused naming it; the sale then runs without stock (everyone may buy) and
says so. Nothing here asserts a time or a figure: it measures and reports.

`make bench` runs it on a stack of its own, at the shop's default budget of new checkouts (the
stack's own is higher); alone:

    NEW_CHECKOUTS_PER_MINUTE=300 functions/venv/bin/python dev/stack.py e2e -- \
        functions/venv/bin/python bench/run.py --only sale
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

from bench.timing import median, p99  # noqa: E402
from tests.shipping_address import US_ADDRESS  # noqa: E402

BUYERS = 200
STOCK = 50
PRODUCT_ID = "flash-sale-mug"
# The Functions emulator runs each request in a Python process of its own and starts up to 50
# at once (FUNCTIONS_EMULATOR_PARALLEL): they are started before the sale, so that the time to a
# held unit is the checkout's, not the emulator's process starts.
WARM_WORKERS = 50
SETTLE_SECONDS = 120  # the webhooks' deliveries, after the last confirmation
OUT_OF_STOCK = "out_of_stock"


@dataclass
class Buyer:
    """One buyer's way through the sale."""

    number: int
    checkout_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: int = 0  # the first POST's answer
    error_code: str | None = None
    seconds_to_hold: float = 0.0
    payment_intent_id: str | None = None
    pay_status: int = 0  # the second POST's answer (Pay's re-check)
    confirmed: bool = False
    problem: str | None = None
    proxy_resets: int = 0  # requests the emulator's proxy reset, asked again

    @property
    def address(self) -> str:
        # One address each, none of them a documentation (probe) address.
        return f"10.20.{self.number // 250}.{self.number % 250 + 1}"


# --- pure: the figures -------------------------------------------------------------------------


def writes_per_document(lines: Iterable[str]) -> Counter[str]:
    """How many committed writes each document took, from the recorder's `function\\tpath` lines."""
    tally: Counter[str] = Counter()
    for line in lines:
        _, _, path = line.rstrip("\n").partition("\t")
        if path:
            tally[path] += 1
    return tally


def collection_of(path: str) -> str:
    """The collection group of a document path (`pools/p/shards/3` -> `shards`)."""
    parts = path.split("/")
    return parts[-2] if len(parts) >= 2 else path


def hottest(tally: Counter[str], checkouts: int) -> dict[str, Any]:
    """The most-written document, overall and per collection, as counts and shares."""
    if not tally:
        return {"document": None, "writes": 0, "share": 0.0, "per_collection": {}}
    document, writes = tally.most_common(1)[0]
    per_collection: dict[str, dict[str, Any]] = {}
    for path, count in tally.items():
        best = per_collection.get(collection_of(path))
        if best is None or count > best["writes"]:
            per_collection[collection_of(path)] = {"document": path, "writes": count}
    return {
        "document": document,
        "writes": writes,
        "share": writes / checkouts,
        "per_collection": dict(sorted(per_collection.items())),
        "documents_written": len(tally),
        "writes_total": sum(tally.values()),
    }


def paid_units(orders: Iterable[dict[str, Any]], product_id: str) -> int:
    """Units of `product_id` in paid orders (refunded or disputed ones were paid too)."""
    paid_statuses = {"paid", "partially_refunded", "refunded", "disputed"}
    units = 0
    for order in orders:
        if order.get("status") not in paid_statuses:
            continue
        for item in order.get("items") or []:
            if item.get("productId") == product_id:
                units += int(item.get("quantity") or 0)
    return units


def sale_figures(buyers: list[Buyer], sold: int, stock: int) -> dict[str, Any]:
    held = [b for b in buyers if b.status == 200]
    holds = [b.seconds_to_hold for b in held]
    refused = [b for b in buyers if b.status == 409 and b.error_code == OUT_OF_STOCK]
    others = Counter(
        f"{b.status} {b.error_code}" for b in buyers if b.status != 200 and b not in refused
    )
    return {
        "buyers": len(buyers),
        "stock": stock,
        "held": len(held),
        "refused": len(refused),
        "other_answers": dict(others),
        "confirmed": sum(1 for b in buyers if b.confirmed),
        "problems": Counter(b.problem for b in buyers if b.problem).most_common(5),
        "sold": sold,
        "oversold": max(0, sold - stock),
        "proxy_resets_asked_again": sum(b.proxy_resets for b in buyers),
        "hold_median": median(holds) if holds else None,
        "hold_p99": p99(holds) if holds else None,
    }


# --- the stack: setting up, buying, paying, reading ----------------------------------------------


def sale_catalog(with_stock: bool) -> str:
    """catalog.json plus the sale's product (with `stock` when the catalog takes it)."""
    catalog = json.loads((ROOT / "catalog.json").read_text(encoding="utf-8"))
    product: dict[str, Any] = {
        "id": PRODUCT_ID,
        "name": "Flash sale mug",
        "description": "Fifty of them, for the benchmark's sale.",
        "unitAmount": 1200,
        "active": True,
        "position": 99,
        "shippable": True,
        "images": [],
    }
    if with_stock:
        product["stock"] = STOCK
    catalog["products"].append(product)
    return json.dumps(catalog, indent=2)


def import_catalog(text: str) -> subprocess.CompletedProcess[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        file.write(text)
    try:
        return subprocess.run(
            [sys.executable, "-m", "checkout.catalog", "import", file.name],
            cwd=ROOT / "functions", capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        os.unlink(file.name)


def set_up() -> bool:
    """An empty database and localstripe, the catalog with the sale's product; whether its
    stock is tracked."""
    host, project = os.environ["FIRESTORE_EMULATOR_HOST"], os.environ["GCLOUD_PROJECT"]
    url = f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents"
    requests.delete(url, timeout=30).raise_for_status()
    # Keeps the webhook registration; localstripe slows down as its data grows.
    requests.delete(f"{os.environ['STRIPE_API_BASE']}/_config/data", timeout=30).raise_for_status()
    result = import_catalog(sale_catalog(with_stock=True))
    with_stock = result.returncode == 0
    if result.returncode == 1 and "stock" in result.stdout + result.stderr:
        result = import_catalog(sale_catalog(with_stock=False))  # the catalog knows no stock yet
    if result.returncode != 0:
        raise RuntimeError(f"catalog import failed:\n{result.stdout}{result.stderr}")
    # The functions keep the catalog CATALOG_CACHE_SECONDS (1 s in the e2e stack).
    time.sleep(float(os.environ.get("CATALOG_CACHE_SECONDS", "30")) + 1)
    return with_stock


def warm_up(base_url: str) -> None:
    """Start the emulator's worker processes for both functions before the sale."""

    def config(_: int) -> int:
        return requests.get(f"{base_url}/api/config", timeout=120).status_code

    def webhook(_: int) -> int:  # unsigned: refused with 400 at once, but a worker is started
        return requests.post(f"{base_url}/api/stripe-webhook", data=b"{}", timeout=120).status_code

    with ThreadPoolExecutor(WARM_WORKERS) as pool:
        list(pool.map(config, range(WARM_WORKERS)))
        list(pool.map(webhook, range(WARM_WORKERS)))


def json_or_none(response: requests.Response) -> dict[str, Any] | None:
    try:
        answer = response.json()
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


# The Hosting emulator's proxy, overloaded, answers some requests itself with this, never
# reaching the function; a shopper's page would ask again (same checkout: the same answer).
EMULATOR_PROXY_RESET = '"code":"ECONNRESET"'
PROXY_RETRIES = 2


def post_as_a_page_would(
    buyer: Buyer,
    session: requests.Session,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
) -> requests.Response:
    """POST, asking again (up to PROXY_RETRIES) when the emulator's proxy reset the request."""
    for _ in range(PROXY_RETRIES):
        response = session.post(url, json=body, headers=headers, timeout=300)
        if not (response.status_code == 500 and EMULATOR_PROXY_RESET in response.text):
            return response
        buyer.proxy_resets += 1
    return session.post(url, json=body, headers=headers, timeout=300)


def buy(buyer: Buyer, base_url: str, start: threading.Barrier) -> None:
    session = requests.Session()
    body = {
        "checkoutId": buyer.checkout_id,
        "items": [{"productId": PRODUCT_ID, "quantity": 1}],
        "shipping": US_ADDRESS,  # every purchase of a shippable product sends one
    }
    headers = {"X-Forwarded-For": buyer.address}
    url = f"{base_url}/api/payment-intents"
    start.wait()
    started = time.perf_counter()
    response = post_as_a_page_would(buyer, session, url, body, headers)
    buyer.seconds_to_hold = time.perf_counter() - started
    buyer.status = response.status_code
    answer = json_or_none(response)
    if response.status_code != 200:
        buyer.error_code = ((answer or {}).get("error") or {}).get("code")
        if answer is None or "error" not in answer:  # the emulator's own answer: say what
            buyer.problem = f"first POST {response.status_code}: {response.text[:120]!r}"
        return
    assert answer is not None
    buyer.payment_intent_id = answer["paymentIntentId"]
    # Pay: the page asks the server once more, then confirms with Stripe.
    again = post_as_a_page_would(buyer, session, url, body, headers)
    buyer.pay_status = again.status_code
    if again.status_code != 200:
        error = ((json_or_none(again) or {}).get("error") or {}).get("code") or again.text[:120]
        buyer.problem = f"Pay's re-check answered {again.status_code}: {error!r}"
        return
    buyer.confirmed, buyer.problem = confirm_at_localstripe(session, buyer.payment_intent_id)


def confirm_at_localstripe(
    session: requests.Session, payment_intent_id: str
) -> tuple[bool, str | None]:
    stripe = os.environ["STRIPE_API_BASE"]
    auth = {"Authorization": f"Bearer {os.environ['STRIPE_SECRET_KEY']}"}
    intent_url = f"{stripe}/v1/payment_intents/{payment_intent_id}"
    attached = session.post(
        intent_url, data={"payment_method": "pm_card_visa"}, headers=auth, timeout=60
    )
    if attached.status_code != 200:
        return False, f"attach {attached.status_code}"
    confirmed = session.post(f"{intent_url}/confirm", headers=auth, timeout=60)
    if confirmed.status_code != 200 or confirmed.json().get("status") != "succeeded":
        return False, f"confirm {confirmed.status_code}"
    return True, None


def orders() -> list[dict[str, Any]]:
    from checkout.platform.firestore_client import db

    return [doc.to_dict() or {} for doc in db().collection("orders").stream()]


def settle(buyers: list[Buyer]) -> float:
    """Wait until every confirmed payment's order is paid (the webhooks), or SETTLE_SECONDS."""
    confirmed = {b.payment_intent_id for b in buyers if b.confirmed}
    started = time.perf_counter()
    while time.perf_counter() - started < SETTLE_SECONDS:
        paid = {o.get("paymentIntentId") for o in orders() if o.get("status") == "paid"}
        if confirmed <= paid:
            break
        time.sleep(1)
    return time.perf_counter() - started


def stock_shards_sold() -> int | None:
    """Units sold according to the stock's own shard documents, once stock exists (the holds'
    pools/product:{id}/shards); None when there are none."""
    from checkout.platform.firestore_client import db

    shards = list(
        db().collection("pools").document(f"product:{PRODUCT_ID}").collection("shards").stream()
    )
    if not shards:
        return None
    return sum(int((s.to_dict() or {}).get("sold") or 0) for s in shards)


def recorded_lines(folder: Path) -> list[str]:
    return [line for log in sorted(folder.glob("*.log")) for line in log.read_text().splitlines()]


def run() -> dict[str, Any]:
    base_url = os.environ["CHECKOUT_BASE_URL"]
    write_log = Path(os.environ["FIRESTORE_WRITE_LOG"])
    timings: dict[str, float] = {}
    started = time.perf_counter()
    stock_tracked = set_up()
    timings["set_up_s"] = time.perf_counter() - started

    mark = time.perf_counter()
    warm_up(base_url)
    timings["warm_up_s"] = time.perf_counter() - mark

    shutil.rmtree(write_log, ignore_errors=True)
    write_log.mkdir(parents=True)
    buyers = [Buyer(n) for n in range(BUYERS)]
    start = threading.Barrier(BUYERS)
    mark = time.perf_counter()
    try:
        with ThreadPoolExecutor(BUYERS) as pool:
            list(pool.map(lambda b: buy(b, base_url, start), buyers))
        timings["sale_s"] = time.perf_counter() - mark
        timings["settle_s"] = settle(buyers)
        time.sleep(2)  # late duplicate deliveries, if any, are counted too
    finally:
        lines = recorded_lines(write_log)
        shutil.rmtree(write_log, ignore_errors=True)  # nothing is recorded past the sale

    sold = paid_units(orders(), PRODUCT_ID)
    figures = sale_figures(buyers, sold, STOCK)
    return {
        **figures,
        "stock_tracked": stock_tracked,
        "stock_shards_sold": stock_shards_sold(),
        "writes": hottest(writes_per_document(lines), BUYERS),
        "shop_budget_per_minute": int(os.environ.get("NEW_CHECKOUTS_PER_MINUTE", "300")),
        "timings": timings,
        "total_s": time.perf_counter() - started,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
