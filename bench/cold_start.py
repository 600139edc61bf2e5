"""Cold start per function: process start to first 2xx under functions-framework, vs a baseline.

Runs alternate ours/baseline so that machine noise hits both alike; the ratio is the result.
`make bench` runs it with the rest; alone, under the stack (which sets the webhook's secret):

    dev/stack.py e2e -- functions/venv/bin/python bench/cold_start.py
"""

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

from bench.timing import median, stop  # noqa: E402
from dev.stack import free_port  # noqa: E402
from tests.stripe_signing import sign  # noqa: E402

OURS = ROOT / "functions" / "main.py"
BASELINE = ROOT / "bench" / "baseline_functions.py"
RUNS = 7


def time_to_first_2xx(
    source: Path, target: str, send: Callable[[str], requests.Response], env: dict[str, str]
) -> float:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "functions_framework", "--target", target,
         "--source", str(source), "--host", "127.0.0.1", "--port", str(port)],
        cwd=source.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while time.perf_counter() - started < 60:
            try:
                if send(base).ok:
                    return time.perf_counter() - started
            except requests.ConnectionError:
                pass
            time.sleep(0.005)
        raise RuntimeError(f"{target} from {source.name} gave no 2xx within 60 s")
    finally:
        stop(process)


def measure(
    target: str, send: Callable[[str], requests.Response], env: dict[str, str]
) -> dict[str, float]:
    ours, baseline = [], []
    for _ in range(RUNS):
        ours.append(time_to_first_2xx(OURS, target, send, env))
        baseline.append(time_to_first_2xx(BASELINE, target, send, env))
    return {
        "ours": median(ours),
        "baseline": median(baseline),
        "ratio": median(ours) / median(baseline),
    }


def import_times(env: dict[str, str]) -> list[tuple[str, int, int]]:
    """(module, self µs, cumulative µs) for our own modules, from `python -X importtime`."""
    script = (
        "import main\n"
        # What each function's first request imports, in that order (docs/architecture.md:
        # "What a new instance's first request does"): GET /api/config, then a POST, then the
        # webhook.
        "from checkout.intents import routes\n"
        "from checkout.cart import validation\nfrom checkout.intents import opening, rate_limits\n"
        "from checkout.webhooks import route\n"
    )
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", script],
        cwd=OURS.parent, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    rows = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s+(\S+)", line)
        if match and (match[3] == "main" or match[3].startswith("checkout")):
            rows.append((match[3], int(match[1]), int(match[2])))
    return rows


def unknown_event() -> tuple[bytes, str]:
    """A signed event of a type we ignore: the webhook answers 200 without touching orders."""
    payload = json.dumps(
        {
            "id": f"evt_cold{time.time_ns()}",
            "object": "event",
            "type": "customer.created",
            "created": int(time.time()),
            "data": {"object": {"id": "cus_bench", "object": "customer"}},
        }
    ).encode()
    return payload, sign(payload, os.environ["STRIPE_WEBHOOK_SECRET"].split(",")[0])


def run(env: dict[str, str], signed_event: Callable[[], tuple[bytes, str]]) -> dict[str, object]:
    env = {**env, "PYTHONDONTWRITEBYTECODE": "0"}

    def config(base: str) -> requests.Response:
        return requests.get(f"{base}/api/config", timeout=5)

    def webhook(base: str) -> requests.Response:
        payload, signature = signed_event()
        return requests.post(
            f"{base}/api/stripe-webhook",
            data=payload,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
            timeout=5,
        )

    return {
        "checkout_api": measure("checkout_api", config, env),
        "stripe_webhook": measure("stripe_webhook", webhook, env),
        "imports": import_times(env),
        "runs": RUNS,
    }


if __name__ == "__main__":
    load = os.getloadavg()
    results = run(dict(os.environ), unknown_event)
    for name in ("checkout_api", "stripe_webhook"):
        c = results[name]
        assert isinstance(c, dict)
        print(
            f"cold start {name}: {c['ours'] * 1000:.0f} ms, "
            f"baseline {c['baseline'] * 1000:.0f} ms, ratio {c['ratio']:.2f}"
        )
    print("load average (1/5/15 min), start:", load, "end:", os.getloadavg())
