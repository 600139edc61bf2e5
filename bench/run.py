"""`make bench`: run every benchmark, print one table, write it to bench/RESULTS.md and the raw
figures to bench/results.json.

Run under dev/stack.py (the Makefile does), which starts the Firestore emulator, localstripe and
the Firebase emulators. Nothing here asserts a time: it measures and reports, and every figure
that compares is a ratio against a baseline measured in the same run.

    bench/run.py                      every benchmark
    bench/run.py --only sale [...]    only these (`--skip` leaves them out): their figures replace
                                      those in bench/results.json, and RESULTS.md is written
                                      again from it (the others keep their earlier figures)

Benchmarks: rpcs, cold, overhead, limits, webhook, page, sale. `make bench` runs the sale on a
stack of its own, at the shop's default budget of new checkouts.
"""

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

from bench import (  # noqa: E402
    cold_start,
    limiter_cost,
    page,
    request_overhead,
    round_trips,
    sale,
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
# held units, which the same commit writes). The paid order's mail documents ride in that commit,
# created claimed by the function that commits them, for nothing; after sending them (over one
# SMTP connection) it records their outcomes in MAIL_OUTCOME_RPCS more, however many there are.
# tests/integration/test_webhook_fast_path.py asserts them.
MAIL_OUTCOME_RPCS = 1
RPC_GOALS = {
    "processing on a pending order (changes it, no fulfilment)": 2,
    "succeeded (changes it, with fulfilment, 2 messages sent)": 3 + MAIL_OUTCOME_RPCS,
    "succeeded for an order holding stock (sells its units in the same commit, 2 messages sent)": (
        4 + MAIL_OUTCOME_RPCS
    ),
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
        f"median of {hooks['rounds']} alternating rounds, each paid order's email sent "
        "(to an SMTP sink) "
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
    if "mail_off" in hooks:  # the same handler with SMTP_URL=disabled: the pipeline alone
        off = hooks["mail_off"]
        rows.append(
            "| … the same with mail off (SMTP_URL=disabled): throughput, latency median / p99 "
            f"| {off['events_per_s']:.0f} events/s, {ms(off['latency_median'])} / "
            f"{ms(hooks['p99_mail_off'])} | | {hooks['p99_mail_off_ratio']:.2f} | |"
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


def sale_rows(figures: dict[str, Any]) -> list[str]:
    """The flash sale's section (issue 20)."""
    writes = figures["writes"]
    stock_note = (
        f"`stock: {figures['stock']}` imported with the product"
        if figures["stock_tracked"]
        else "the catalog does not know `stock` yet: the product was imported without it, so "
        "every buyer may buy (oversold shows what stock must prevent)"
    )
    hold = (
        f"{ms(figures['hold_median'])} / {ms(figures['hold_p99'])}"
        if figures["hold_median"] is not None
        else "none held"
    )
    hottest_by_collection = ", ".join(
        f"`{name}` {entry['writes']}" for name, entry in writes["per_collection"].items()
    )
    timings = figures["timings"]
    rows = [
        "## The flash sale (`bench/sale.py`)",
        "",
        f"Run on {figures['run_at']} UTC, on a stack of its own (load average at its start "
        f"{'/'.join(f'{x:.1f}' for x in figures['load_average'])}), shop budget "
        f"{figures['shop_budget_per_minute']} new checkouts a minute. {figures['buyers']} "
        f"buyers at once, each from its own address, for {figures['stock']} units of one "
        f"product; {stock_note}. Each POSTs its cart through Hosting, POSTs it again (Pay), "
        "confirms at localstripe, and localstripe's webhook reaches the webhook function. "
        "Writes are counted in the functions' processes (dev/firestore_writes). "
        f"Set-up {timings['set_up_s']:.0f} s, starting the emulator's workers "
        f"{timings['warm_up_s']:.0f} s, the sale {timings['sale_s']:.0f} s, the webhooks after "
        f"it {timings['settle_s']:.0f} s; {figures['total_s']:.0f} s in all.",
        "",
        "| measured | value | goal |",
        "| --- | --- | --- |",
        f"| oversold (paid units beyond stock) | {figures['oversold']} "
        f"| 0: {goal(figures['oversold'] == 0)} |",
        f"| sold (paid units) | {figures['sold']} "
        f"| {figures['stock']}: {goal(figures['sold'] == figures['stock'])} |",
        f"| refused (`409 out_of_stock`) | {figures['refused']} | |",
        f"| held (first POST 200) / confirmed at Stripe | {figures['held']} / "
        f"{figures['confirmed']} | |",
        f"| other answers (first POST) | {figures['other_answers'] or 'none'} | |",
        "| requests the Hosting emulator's proxy reset (ECONNRESET), asked again as a page would "
        f"| {figures.get('proxy_resets_asked_again', 0)} | |",
        "| buyers who held a unit but could not pay (why) | "
        + ("; ".join(f"{n}: {why}" for why, n in figures["problems"]) or "none")
        + " | |",
        f"| time to a held unit (the first POST's answer), median / p99 | {hold} | |",
        f"| most writes to one document (`{writes['document']}`), share of checkouts "
        f"| {writes['writes']} of {figures['buyers']} ({writes['share']:.1%}) "
        f"| ≤ 10%: {goal(writes['share'] <= 0.1)} |",
        f"| most writes to one document, per collection | {hottest_by_collection} | |",
    ]
    if figures.get("stock_shards_sold") is not None:
        rows.append(f"| sold, by the stock's shard documents | {figures['stock_shards_sold']} | |")
    return rows


def run_sale() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        **sale.run(),
        "run_at": f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
        "load_average": list(load),
    }


# Each benchmark: its key in results.json and how to run it, in the order they run.
BENCHMARKS: dict[str, Callable[[dict[str, str]], Any]] = {
    "firestore_rpcs": lambda env: round_trips.run(),
    "cold": lambda env: cold_start.run(env, cold_start.unknown_event),
    "overhead": lambda env: request_overhead.run(),
    "limits": lambda env: limiter_cost.run(),
    "webhook": lambda env: webhook_throughput.run(),
    "page": lambda env: page.run(),
    "sale": lambda env: run_sale(),
}
NAMES = {
    "rpcs": "firestore_rpcs", "cold": "cold", "overhead": "overhead", "limits": "limits",
    "webhook": "webhook", "page": "page", "sale": "sale",
}  # fmt: skip


def chosen(argv: list[str]) -> list[str]:
    """The results.json keys of the benchmarks to run, in order."""
    parser = argparse.ArgumentParser(description="Run the benchmarks.")
    parser.add_argument("--only", nargs="+", choices=sorted(NAMES), default=None)
    parser.add_argument("--skip", nargs="+", choices=sorted(NAMES), default=[])
    args = parser.parse_args(argv)
    wanted = {NAMES[n] for n in args.only} if args.only else set(BENCHMARKS)
    wanted -= {NAMES[n] for n in args.skip}
    return [key for key in BENCHMARKS if key in wanted]


def render(raw: dict[str, Any]) -> list[str]:
    """RESULTS.md from the raw figures (each section only when it was measured)."""
    lines = ["# Benchmark results", ""]
    main_keys = ("cold", "overhead", "webhook", "page", "firestore_rpcs")
    if all(key in raw for key in main_keys):
        load = raw["load_average"]
        lines += [
            f"Run on {raw['run_at'][:16].replace('T', ' ')} UTC by `make bench`, on "
            f"{raw['machine']}.",
            (f"The whole run took {raw['duration_s']:.0f} s. " if "duration_s" in raw else "")
            + "Ratios compare figures measured in this same run; absolute times vary between "
            "machines and runs. The Firestore RPC counts are counted on the wire in process "
            "(tests/firestore_rpcs.py) and do not vary.",
            f"Load average (1/5/15 min) at the start: "
            f"{'/'.join(f'{x:.1f}' for x in load['start'])}, "
            f"at the end: {'/'.join(f'{x:.1f}' for x in load['end'])}.",
            *([raw["note"]] if raw.get("note") else []),
            "",
            *table(
                raw["cold"], raw["overhead"], raw["webhook"], raw["page"], raw["firestore_rpcs"]
            ),
            "",
            "## Import time of our modules (`python -X importtime`)",
            "",
            "`main` includes firebase_functions and Flask. `checkout.intents.routes` is what "
            "checkout_api's first GET /api/config imports; `checkout.intents.opening` (with "
            "Firestore and Stripe) what its first POST adds; "
            "`checkout.webhooks.route` the webhook's first request.",
            "",
            *import_rows(raw["cold"]),
            "",
        ]
    if "limits" in raw:
        lines += [*limiter_rows(raw["limits"]), ""]
    if "sale" in raw:
        lines += [*sale_rows(raw["sale"]), ""]
    lines += ["## Raw figures", "", "All of them, as JSON, are in `bench/results.json`.", ""]
    return lines


def main(argv: list[str]) -> None:
    keys = chosen(argv)
    started = time.perf_counter()
    load_before = os.getloadavg()
    env = dict(os.environ)
    results_file = ROOT / "bench" / "results.json"
    everything = set(keys) == set(BENCHMARKS) - {"sale"} or set(keys) == set(BENCHMARKS)
    raw: dict[str, Any] = (
        {} if everything or not results_file.exists() else json.loads(results_file.read_text())
    )
    for key in keys:
        print(f"{key}…", flush=True)
        raw[key] = BENCHMARKS[key](env)
    if {"cold", "overhead", "webhook", "page", "firestore_rpcs"} <= set(keys):
        raw |= {
            "run_at": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",
            "machine": (
                f"{platform.node()}: {os.cpu_count()} cores, {platform.platform()}, "
                f"Python {platform.python_version()}"
            ),
            "load_average": {"start": load_before, "end": os.getloadavg()},
            "duration_s": time.perf_counter() - started,
            "note": os.environ.get("BENCH_NOTE"),
        }
    lines = render(raw)
    (ROOT / "bench" / "RESULTS.md").write_text("\n".join(lines))
    results_file.write_text(json.dumps(raw, indent=2) + "\n")
    print("\n".join(lines))
    print(f"\nwritten to {ROOT / 'bench' / 'RESULTS.md'} and results.json")


if __name__ == "__main__":
    main(sys.argv[1:])
