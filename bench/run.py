"""`make bench`: run every benchmark, print one table, write it to bench/RESULTS.md and the raw
figures to bench/results.json.

Run under dev/stack.py (the Makefile does), which starts the Firestore emulator, localstripe and
the Firebase emulators. Nothing here asserts a time: it measures and reports, and every figure
that compares is a ratio against a baseline measured in the same run.
"""

import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

from bench import (  # noqa: E402
    cold_start,
    limiter_cost,
    page,
    request_overhead,
    round_trips,
    webhook_throughput,
)
from bench.timing import ms  # noqa: E402
from tests.page_weight import GZIPPED_BUDGET  # noqa: E402


def goal(met: bool) -> str:
    return "met" if met else "MISSED"


# The webhook's p99 in the duplicate burst, as a multiple of the naive handler's in the same run.
P99_RATIO_GOAL = 3.0
# Firestore RPCs per webhook delivery: the fewest exactly-once allows (a read, a commit, and the
# fulfilledAt write for a payment; one more read, of the pool's shards, when the payment sells
# held units, which the same commit writes); tests/integration/test_webhook_fast_path.py
# asserts them.
RPC_GOALS = {
    "processing on a pending order (changes it, no fulfilment)": 2,
    "succeeded (changes it, with fulfilment)": 3,
    "succeeded for an order holding stock (sells its units in the same commit)": 4,
    "duplicate": 1,
}


def rpc_rows(rpcs: dict) -> list[str]:  # type: ignore[type-arg]
    rows = []
    for kind, measured in rpcs["webhook"].items():
        target = RPC_GOALS.get(kind)
        goal_text = f"{target}: {goal(measured['rpcs'] <= target)}" if target else ""
        rows.append(
            f"| webhook Firestore RPCs: {kind} | {measured['rpcs']} "
            f"({', '.join(measured['calls'])}) | | | {goal_text} |"
        )
    for kind, measured in rpcs["payment_intents"].items():
        rows.append(
            f"| POST /api/payment-intents Firestore RPCs: {kind} | {measured['rpcs']} "
            f"({', '.join(measured['calls'])}) | | | |"
        )
    for kind, measured in rpcs["config"].items():
        calls = f" ({', '.join(measured['calls'])})" if measured["calls"] else ""
        goal_text = f"0: {goal(measured['rpcs'] == 0)}" if kind == "warm cache" else ""
        rows.append(
            f"| GET /api/config Firestore RPCs: {kind} | {measured['rpcs']}{calls} | | "
            f"| {goal_text} |"
        )
        if "cold_median_s" in measured:
            rows.append(
                f"| GET /api/config, {kind}: median time cold / warm (of "
                f"{round_trips.COLD_READS}) | {ms(measured['cold_median_s'])} / "
                f"{ms(measured['warm_median_s'])} | | | |"
            )
    return rows


def table(cold: dict, overhead: dict, hooks: dict, web: dict, rpcs: dict) -> list[str]:  # type: ignore[type-arg]
    rows = [
        "| benchmark | measured | baseline (same run) | ratio | goal |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in ("checkout_api", "stripe_webhook"):
        c = cold[name]
        rows.append(
            f"| cold start `{name}` (median of {cold['runs']}) "
            f"| {ms(c['ours'])} | {ms(c['baseline'])} "
            f"| {c['ratio']:.2f} | ≤ 1.15: {goal(c['ratio'] <= 1.15)} |"
        )
    rows.append(
        f"| POST /api/payment-intents in-process, {overhead['requests']} requests: "
        "total median / p99 "
        f"| {ms(overhead['total_median'])} / {ms(overhead['total_p99'])} | | | |"
    )
    rows.append(
        f"| … of which Firestore (emulator) median / p99 | {ms(overhead['firestore_median'])} / "
        f"{ms(overhead['firestore_p99'])} | | | |"
    )
    rows.append(
        f"| … of which our own code median / p99 | {ms(overhead['own_median'])} / "
        f"{ms(overhead['own_p99'])} | | | |"
    )
    ours, naive = hooks["ours"], hooks["naive"]
    correct = ours["lost"] == 0 and ours["fulfilled_twice_or_more"] == 0
    rows.append(
        f"| webhook throughput, {ours['deliveries']} deliveries (20% duplicates), 8 senders, "
        f"median of {hooks['rounds']} alternating rounds "
        f"| {ours['events_per_s']:.0f} events/s "
        f"| naive handler {naive['events_per_s']:.0f} events/s "
        f"| {hooks['ratio']:.2f} | |"
    )
    rows.append(
        f"| webhook latency median (that round) / p99 (median of the rounds' p99s) "
        f"| {ms(ours['latency_median'])} / {ms(hooks['p99_ours'])} "
        f"| {ms(naive['latency_median'])} / {ms(hooks['p99_naive'])} | {hooks['p99_ratio']:.2f} "
        f"| p99 ≤ {P99_RATIO_GOAL:.0f}x naive: {goal(hooks['p99_ratio'] <= P99_RATIO_GOAL)} |"
    )
    rows.extend(rpc_rows(rpcs))
    rows.append(
        "| webhook exactly-once (lost and twice+: worst of all rounds): "
        "paid / lost / fulfilled once / fulfilled twice+ / ledger entries "
        f"| {ours['paid']} / {ours['lost']} / {ours['fulfilled_once']} / "
        f"{ours['fulfilled_twice_or_more']} / {ours['ledger_entries']} | | | zero lost, zero "
        f"duplicated: {goal(correct)} |"
    )
    rows.append(
        f"| page: our HTML+JS+CSS, uncompressed / gzipped (as served) "
        f"| {web['bytes'] / 1000:.1f} KB / {web['gzipped'] / 1000:.1f} KB | | "
        f"| gzipped ≤ {GZIPPED_BUDGET:,} bytes: {goal(web['gzipped'] <= GZIPPED_BUDGET)} |"
    )
    rows.append(f"| page: requests until the payment form is mounted | {web['requests']} | | | |")
    rows.append(
        f"| page: navigation → payment form mounted (median of {web['runs']}, offline Stripe.js "
        f"stand-in) | {ms(web['mount_median'])} | | | |"
    )
    return rows


def import_rows(cold: dict) -> list[str]:  # type: ignore[type-arg]
    rows = ["| module | self | cumulative |", "| --- | --- | --- |"]
    for module, own_us, cumulative_us in cold["imports"]:
        rows.append(f"| `{module}` | {own_us / 1000:.1f} ms | {cumulative_us / 1000:.1f} ms |")
    return rows


def limiter_rows(limits: dict) -> list[str]:  # type: ignore[type-arg]
    return [
        "## What the rate limits cost (`bench/limiter_cost.py`)",
        "",
        "| measured | value |",
        "| --- | --- |",
        "| per-IP request limit (in memory), per request "
        f"| {limits['in_memory_check_us']:.2f} µs |",
        f"| new checkout's limit check (one commit, two Increments), median / p99 "
        f"| {ms(limits['new_checkout_commit_median'])} / {ms(limits['new_checkout_commit_p99'])} |",
        f"| POST, new checkout (Stripe stubbed), median | {ms(limits['new_post_median'])} |",
        f"| POST, repeat of an unchanged cart, median / p99 "
        f"| {ms(limits['repeat_post_median'])} / {ms(limits['repeat_post_p99'])} |",
        f"| Firestore documents written: new checkout / repeat | {limits['new_post_writes']} / "
        f"{limits['repeat_post_writes']} |",
    ]


def main() -> None:
    started = time.perf_counter()
    load_before = os.getloadavg()
    env = dict(os.environ)
    print("Firestore round trips…", flush=True)
    rpcs = round_trips.run()
    print("cold start…", flush=True)
    cold = cold_start.run(env, cold_start.unknown_event)
    print("request overhead…", flush=True)
    overhead = request_overhead.run()
    print("rate limit cost…", flush=True)
    limits = limiter_cost.run()
    print("webhook throughput…", flush=True)
    hooks = webhook_throughput.run()
    print("page…", flush=True)
    web = page.run()
    load_after = os.getloadavg()

    machine = (
        f"{platform.node()}: {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )
    lines = [
        "# Benchmark results",
        "",
        f"Run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `make bench`, on {machine}.",
        f"The whole run took {time.perf_counter() - started:.0f} s. "
        "Ratios compare figures measured in this same run; absolute times vary between machines "
        "and runs. The Firestore RPC counts are counted on the wire in process "
        "(tests/firestore_rpcs.py) and do not vary.",
        f"Load average (1/5/15 min) at the start: {'/'.join(f'{x:.1f}' for x in load_before)}, "
        f"at the end: {'/'.join(f'{x:.1f}' for x in load_after)}.",
        *([os.environ["BENCH_NOTE"]] if os.environ.get("BENCH_NOTE") else []),
        "",
        *table(cold, overhead, hooks, web, rpcs),
        "",
        "## Import time of our modules (`python -X importtime`)",
        "",
        "`main` includes firebase_functions and Flask. `checkout.intents.routes` is what "
        "checkout_api's first GET /api/config imports; `checkout.intents.opening` (with Firestore "
        "and Stripe) what its first POST adds; "
        "`checkout.webhooks.route` the webhook's first request.",
        "",
        *import_rows(cold),
        "",
        *limiter_rows(limits),
        "",
        "## Raw figures",
        "",
        "All of them, as JSON, are in `bench/results.json`.",
        "",
    ]
    raw = {
        "run_at": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",
        "machine": machine,
        "load_average": {"start": load_before, "end": load_after},
        "note": os.environ.get("BENCH_NOTE"),
        "firestore_rpcs": rpcs,
        "cold": cold,
        "overhead": overhead,
        "limits": limits,
        "webhook": hooks,
        "page": web,
    }
    (ROOT / "bench" / "RESULTS.md").write_text("\n".join(lines))
    (ROOT / "bench" / "results.json").write_text(json.dumps(raw, indent=2) + "\n")
    summary = table(cold, overhead, hooks, web, rpcs)
    print("\n".join(summary))
    print(f"\nwritten to {ROOT / 'bench' / 'RESULTS.md'} and results.json")


if __name__ == "__main__":
    main()
