"""`make dev` as a developer runs it: the tests beside it, and every port of it moved.

Each test starts real stacks (`dev/stack.py dev`, and `dev/stack.py e2e` beside it) and pays in
Chromium through the page with two of the end-to-end tests, then checks that stopping `make dev`
leaves no process and no port behind; the one on moved ports also sees its clock run the
scheduled reconciler in the Functions emulator. About a minute in all.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from dev.stack import (
    OFFLINE_KEYS,
    PORT_SETTING,
    PORT_SETTINGS,
    PROJECT_ID,
    ROOT,
    free_ports,
    port_in_use,
)

PYTHON = sys.executable
# A payment in the browser ending `paid` (the webhook through Hosting, Firestore, localstripe:
# the order's history says the webhook applied it, not the return page or the reconciler) and
# the headers Hosting serves (the CSP names the stand-in the page loads, on its port).
SMALL_E2E = [
    "tests/e2e/test_payments.py::test_card_payment_ends_with_the_order_paid",
    "tests/e2e/test_security.py::test_hosting_serves_the_production_headers_with_only_the_standin_added",
]
DEV_START_S = 240.0
STACK_VARIABLES = (
    "CHECKOUT_BASE_URL",
    "STRIPE_API_BASE",
    "FIRESTORE_EMULATOR_HOST",
    "STACK_LOG_DIR",
    "FUNCTIONS_EMULATOR_HOST",
    "DEV_RECONCILE_SECONDS",
    *(setting.variable for setting in PORT_SETTINGS),
)
RECONCILE_PASS_S = 120.0  # the first pass starts a fresh Python worker on a loaded machine
FIRST_PASS_AFTER_S = 40  # well after the small e2e's payment (about 10 s)


def developer_env(**variables: str) -> dict[str, str]:
    """A shell as a developer has it: none of this test run's stack settings, only `variables`.
    DEV_OFFLINE: a clone with real Stripe keys in functions/.env.local still runs offline here."""
    env = {k: v for k, v in os.environ.items() if k not in STACK_VARIABLES}
    return {**env, "DEV_OFFLINE": "1", **variables}


@dataclass
class DevStack:
    banner: str
    page_url: str
    localstripe_url: str
    firestore_host: str
    standin_origin: str
    logs: Path

    def env(self) -> dict[str, str]:
        """What the end-to-end tests need to run against this stack."""
        return {
            **developer_env(),
            "CHECKOUT_BASE_URL": self.page_url,
            "STRIPE_API_BASE": self.localstripe_url,
            "STRIPE_SECRET_KEY": "sk_test_offline_localstripe",
            "FIRESTORE_EMULATOR_HOST": self.firestore_host,
            "GCLOUD_PROJECT": PROJECT_ID,
        }


def read_lines(stream: Iterator[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def parse_banner(banner: str) -> DevStack:
    def find(pattern: str) -> str:
        match = re.search(pattern, banner)
        assert match, f"{pattern!r} not in the banner:\n{banner}"
        return match.group(1)

    return DevStack(
        banner=banner,
        page_url=find(r"Checkout running offline: (http://\S+)"),
        localstripe_url=find(r"localstripe \((http://[^)]+)\)"),
        firestore_host=find(r'"http://([^/]+)/v1/projects/'),
        standin_origin=find(r"Stripe\.js stand-in \((http://[^)]+)\)"),
        logs=Path(find(r"Logs: (\S+)/")),
    )


def processes_in(directory: Path) -> list[str]:
    """Processes whose working directory is inside `directory` (the emulators' Python workers
    run in the run's functions folder): what a stopped stack must not leave behind."""
    left = []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if cwd.resolve().is_relative_to(directory.resolve()):
                left.append((cwd.parent / "cmdline").read_text().replace("\0", " "))
        except OSError:
            continue  # gone, or not ours to look at
    return left


@contextmanager
def make_dev(env: Mapping[str, str]) -> Iterator[DevStack]:
    """`python dev/stack.py dev` until its banner; on exit, Ctrl-C and check it cleaned up."""
    process = subprocess.Popen(
        [PYTHON, str(ROOT / "dev" / "stack.py"), "dev"],
        cwd=ROOT, env=dict(env), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches it only from us
    )  # fmt: skip
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=read_lines, args=(process.stdout, lines), daemon=True).start()
    output: list[str] = []
    stack: DevStack | None = None
    try:
        deadline = time.monotonic() + DEV_START_S
        while not any("Stop everything" in line for line in output):
            if time.monotonic() > deadline or (process.poll() is not None and lines.empty()):
                pytest.fail(f"make dev did not start:\n{''.join(output)}", pytrace=False)
            with suppress(queue.Empty):
                output.append(lines.get(timeout=1))
        stack = parse_banner("".join(output))
        yield stack
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert process.returncode == 0, "".join(output)
    if stack is not None:
        assert not processes_in(stack.logs.parent), "make dev left processes running"
        shutil.rmtree(stack.logs.parent)  # its logs and site: this run passed


def run_small_e2e(command: list[str], env: Mapping[str, str]) -> None:
    result = subprocess.run(
        [*command, PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SMALL_E2E],
        cwd=ROOT, env=dict(env), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert f"{len(SMALL_E2E)} passed" in result.stdout


def test_the_tests_run_beside_make_dev_on_its_default_ports() -> None:
    """`make dev` on its default ports, a whole e2e stack beside it, and make dev still serving.

    A default port already taken (a developer's own `make dev`, AirPlay on 5000) is moved, as the
    README tells the developer, through its variable to a free port, and said in a warning: the
    test runs its own stack either way, never skips, and never passes on someone else's."""
    defaults = {key: PORT_SETTING[key].default for key in OFFLINE_KEYS}
    busy = [key for key, port in defaults.items() if port_in_use(port)]
    moved = dict(zip(busy, free_ports(len(busy)), strict=True))
    ports = {**defaults, **moved}
    if moved:
        settings = " ".join(f"{PORT_SETTING[k].variable}={p}" for k, p in moved.items())
        in_use = sorted(defaults[key] for key in busy)
        warnings.warn(f"ports {in_use} are in use: make dev runs with {settings}", stacklevel=1)
    variables = {PORT_SETTING[key].variable: str(port) for key, port in moved.items()}

    with make_dev(developer_env(**variables)) as dev:
        assert dev.page_url == f"http://127.0.0.1:{ports['hosting']}"
        assert dev.firestore_host == f"127.0.0.1:{ports['firestore']}"
        # A whole e2e stack starts, pays and stops beside it...
        run_small_e2e([PYTHON, "dev/stack.py", "e2e", "--"], developer_env())
        # ...and make dev still serves a payment afterwards.
        run_small_e2e([], dev.env())
    assert not [port for port in ports.values() if port_in_use(port)]


def reconciler_passes(logs: Path) -> list[str]:
    """The summary lines reconcile_orders wrote in the Functions emulator (its output goes to
    the emulators' log)."""
    log = logs / "firebase-emulators.log"
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    return [line for line in lines if '"message": "reconcile pass finished"' in line]


def test_make_dev_with_every_port_moved_serves_a_payment_and_reconciles_on_its_clock() -> None:
    ports = dict(zip(OFFLINE_KEYS, free_ports(len(OFFLINE_KEYS)), strict=True))
    variables = {PORT_SETTING[key].variable: str(port) for key, port in ports.items()}

    # The clock's first pass comes after the payment: localstripe sends its webhook about 1 s
    # after the change, and a pass in that second would apply the event first (the page's
    # payment must be made paid by the webhook, which its history records).
    seconds = FIRST_PASS_AFTER_S
    with make_dev(developer_env(**variables, DEV_RECONCILE_SECONDS=str(seconds))) as dev:
        assert dev.page_url == f"http://127.0.0.1:{ports['hosting']}"
        assert dev.localstripe_url == f"http://127.0.0.1:{ports['localstripe']}"
        assert dev.standin_origin == f"http://127.0.0.1:{ports['standin']}"
        assert dev.firestore_host == f"127.0.0.1:{ports['firestore']}"
        for key in ("firestore_websocket", "firestore_webchannel", "functions", "hub", "pubsub"):
            assert port_in_use(ports[key]), f"{key} is not on its moved port {ports[key]}"
        assert f"reconcile_orders) runs every {seconds} s (DEV_RECONCILE_SECONDS)" in dev.banner
        # A cold webhook worker could take longer than the return page waits before it asks
        # Stripe itself (5 s): warm it, as a live endpoint is.
        warm_up = requests.post(f"{dev.page_url}/api/stripe-webhook", data=b"{}", timeout=120)
        assert warm_up.status_code == 400
        # It started with catalog.json imported, and `make catalog` finds it on its moved port.
        catalog = subprocess.run(
            [PYTHON, "dev/catalog.py", "export"],
            cwd=ROOT, env=developer_env(**variables), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert catalog.returncode == 0, catalog.stderr
        assert catalog.stdout == (ROOT / "catalog.json").read_text(encoding="utf-8")
        run_small_e2e([], dev.env())
        # The clock has run the scheduled function in the Functions emulator meanwhile.
        deadline = time.monotonic() + RECONCILE_PASS_S
        while not reconciler_passes(dev.logs):
            assert time.monotonic() < deadline, "make dev ran no reconciler pass"
            time.sleep(1)
        log = (dev.logs / "firebase-emulators.log").read_text(errors="replace")
        assert "function ignored" not in log
        assert '"completed": true' in reconciler_passes(dev.logs)[0]
    assert not [port for port in ports.values() if port_in_use(port)]
