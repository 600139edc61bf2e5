"""Start, wait for, and stop the local services: the one place that knows how to run them.

    python dev/stack.py test -- CMD...   start the test services, run CMD, stop them (exit: CMD's)
    python dev/stack.py e2e -- CMD...    the same with the whole offline checkout up (as `dev`)
    python dev/stack.py dev              start everything, print what to try, wait for Ctrl-C

The whole offline checkout: the Firestore emulator, localstripe, the Stripe.js stand-in
(dev/stripe_standin), a local SMTP server keeping the mail it gets (dev/mail_server.py; the test
stack runs one too), and the Firebase Hosting + Functions emulators serving the offline site
(built from web/ and firebase.json), with localstripe's webhook registered to the webhook
function and the Pub/Sub emulator, without which the Functions emulator ignores the scheduled
reconcile_orders. `dev` runs that function every DEV_RECONCILE_SECONDS (60; 0: never), as Cloud
Scheduler does; commands run by `e2e` get FUNCTIONS_EMULATOR_HOST to run it themselves
(fire_scheduled_function). With real Stripe test keys in functions/.env.local, `dev` uses real
Stripe instead: no localstripe, no stand-in, the deployed firebase.json, and `stripe listen`
(DEV_OFFLINE=1 keeps the offline stand-ins anyway).

Every stack's Firestore emulator starts with catalog.json imported (seed_catalog; not with
CATALOG_SOURCE=stripe, where the Stripe Dashboard is the catalog's source).

Ports: `test` and `e2e` choose free ports at start, so they run beside `make dev` and beside each
other; `dev` uses the fixed ports of PORT_SETTINGS, each movable by its environment variable
(e.g. HOSTING_PORT=5050). Each run keeps its files (logs, the offline site, localstripe's data) in
its own folder under .run/.

Services run in their own process groups, so stopping one also stops what it spawned.
Standard library only: this runs before anything else is known to be installed.
"""

import contextlib
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"
VENV_BIN = ROOT / "functions" / "venv" / "bin"
# Where Service logs go: each stack sets this for itself and for the command it runs, so the
# servers a test starts log next to the stack's own.
LOG_DIR_VARIABLE = "STACK_LOG_DIR"

PROJECT_ID = "demo-checkout"
FIREBASE_BIN = ROOT / "node_modules" / ".bin" / "firebase"
FUNCTIONS_ENV_FILE = ROOT / "functions" / ".env.local"
FUNCTIONS_SECRET_FILE = ROOT / "functions" / ".secret.local"
DEFAULT_FIRESTORE_JAR = (
    "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
)
# firebase-tools would download the Pub/Sub emulator (impossible offline); this variable makes
# it run the Cloud SDK's instead (Debian package google-cloud-cli-pubsub-emulator).
PUBSUB_BINARY_VARIABLE = "PUBSUB_EMULATOR_BINARY_PATH"
DEFAULT_PUBSUB_BINARY = (
    "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator"
)
# The functions' record of the documents they write (dev/firestore_writes/sitecustomize.py).
WRITE_LOG_VARIABLE = "FIRESTORE_WRITE_LOG"
WRITE_RECORDER_DIR = ROOT / "dev" / "firestore_writes"
# `make dev` fires the scheduled reconciler every this many seconds (0: never; see run_dev).
RECONCILE_INTERVAL_VARIABLE = "DEV_RECONCILE_SECONDS"
DEFAULT_RECONCILE_SECONDS = 60


@dataclass(frozen=True)
class PortSetting:
    key: str
    variable: str  # the environment variable that moves it for `make dev`
    default: int
    wanted_by: str


PORT_SETTINGS = (
    PortSetting("hosting", "HOSTING_PORT", 5000, "the Hosting emulator (the checkout page)"),
    PortSetting("functions", "FUNCTIONS_PORT", 5001, "the Functions emulator"),
    PortSetting("firestore", "FIRESTORE_PORT", 8080, "the Cloud Firestore emulator"),
    PortSetting("firestore_websocket", "FIRESTORE_WEBSOCKET_PORT", 9150,
                "the Firestore emulator's websocket"),
    PortSetting("firestore_webchannel", "FIRESTORE_WEBCHANNEL_PORT", 9151,
                "the Firestore emulator's webchannel"),
    PortSetting("localstripe", "LOCALSTRIPE_PORT", 8420, "localstripe (the offline Stripe API)"),
    PortSetting("standin", "STRIPE_STANDIN_PORT", 8421, "the offline Stripe.js stand-in"),
    PortSetting("hub", "EMULATOR_HUB_PORT", 4400, "the Firebase emulator hub"),
    PortSetting("logging", "EMULATOR_LOGGING_PORT", 4500, "the Firebase logging emulator"),
    PortSetting("eventarc", "EVENTARC_EMULATOR_PORT", 9299,
                "the Eventarc emulator (started with Functions)"),
    PortSetting("tasks", "TASKS_EMULATOR_PORT", 9499,
                "the Cloud Tasks emulator (started with Functions)"),
    PortSetting("pubsub", "PUBSUB_PORT", 8085,
                "the Pub/Sub emulator (without it, no scheduled function)"),
    PortSetting("ui", "EMULATOR_UI_PORT", 4000, "the Emulator UI (real-Stripe mode only)"),
    PortSetting("smtp", "SMTP_PORT", 2525, "the local SMTP server (dev/mail_server.py)"),
)  # fmt: skip
PORT_SETTING = {setting.key: setting for setting in PORT_SETTINGS}
FIRESTORE_KEYS = ("firestore", "firestore_websocket", "firestore_webchannel")
# What firebase-tools opens for `emulators:start --only functions,hosting,pubsub`, by emulator
# name. Pub/Sub: without it the Functions emulator ignores the scheduled reconcile_orders.
EMULATOR_KEYS = ("hosting", "functions", "hub", "logging", "eventarc", "tasks", "pubsub")
OFFLINE_KEYS = (*FIRESTORE_KEYS, "localstripe", "standin", "smtp", *EMULATOR_KEYS)
ONLINE_KEYS = (*FIRESTORE_KEYS, *EMULATOR_KEYS, "ui")

Ports = dict[str, int]

# Offline settings: localstripe accepts any sk_test_ key; none of these is a real secret.
OFFLINE_KEYS_ENV = {
    "STRIPE_SECRET_KEY": "sk_test_offline_localstripe",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_offline_localstripe",
    "STRIPE_WEBHOOK_SECRET": "whsec_offline_localstripe",
}
# Every local client is 127.0.0.1: limits high enough for whole suites (the tests of the limits
# set their own, lower ones). The environment wins, e.g. `REQUESTS_PER_IP_PER_MINUTE=5 make dev`.
OFFLINE_LIMITS_ENV = {
    "REQUESTS_PER_IP_PER_MINUTE": "10000",
    "NEW_CHECKOUTS_PER_IP_PER_10_MINUTES": "2000",
    "NEW_CHECKOUTS_PER_MINUTE": "2000",
}
# How functions/checkout/platform/settings.py declares them: the Functions emulator reads params
# from a dotenv file and secrets from .secret.local (the offline site gets both, see
# build_offline_site).
FUNCTION_PARAMS = (
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_API_BASE",
    "REQUESTS_PER_IP_PER_MINUTE",
    "NEW_CHECKOUTS_PER_IP_PER_10_MINUTES",
    "NEW_CHECKOUTS_PER_MINUTE",
    # Optional: the functions' own defaults apply when unset.
    "SHOP_CURRENCY",
    "CATALOG_CACHE_SECONDS",
    "CATALOG_SOURCE",
    "MAIL_FROM",
    "OWNER_EMAIL",
    "PUBLIC_BASE_URL",
)
# The e2e stack's functions keep the catalog 1 s (not 30): a test that imports a change sees it
# on the page at once, without waiting out the cache. The environment still wins.
E2E_FUNCTION_SETTINGS = {"CATALOG_CACHE_SECONDS": "1"}
FUNCTION_SECRETS = ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "SMTP_URL")
# The mail of the offline stacks goes to their own SMTP server (dev/mail_server.py), which keeps
# each message in the run's mail/ folder (MAIL_DIR_VARIABLE tells commands run against it where).
# The environment wins for these two, e.g. `OWNER_EMAIL= make dev` sends no owner messages.
OFFLINE_MAIL_ENV = {
    "MAIL_FROM": "Offline checkout <shop@localhost>",
    "OWNER_EMAIL": "owner@localhost",
}
MAIL_DIR_VARIABLE = "DEV_MAIL_DIR"


def log_dir() -> Path:
    return Path(os.environ.get(LOG_DIR_VARIABLE) or RUN_DIR / "logs")


@dataclass
class Service:
    name: str
    argv: Sequence[str]
    ready: Callable[[], bool]
    timeout_s: float = 30.0
    cwd: Path = ROOT
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def log_path(self) -> Path:
        return log_dir() / f"{self.name}.log"

    def start(self, env: Mapping[str, str]) -> None:
        log_dir().mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends its children too
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited early; see {self.log_path}")
            if self.ready():
                return
            time.sleep(0.2)
        raise SystemExit(f"{self.name} not ready after {self.timeout_s:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    return
                try:
                    self.process.wait(grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # Children can outlive the leader (firebase-tools leaves its Python workers running,
        # firebase/firebase-tools#11069): end whatever is left of the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


# ---- ports ----

# Free ports chosen by any stack or test on this machine are reserved here (a lock file per
# port, held until the process that chose it exits): the kernel may hand a port it just gave
# one run to another run before the first has started its server on it.
RESERVATIONS_DIR = Path(tempfile.gettempdir()) / "checkout-stack-ports"
_reservations: list[int] = []  # open lock files of this process (never closed: held until exit)


def reserve(port: int) -> bool:
    """Reserve `port` for this process; False when another live process holds it."""
    with contextlib.suppress(FileExistsError):
        RESERVATIONS_DIR.mkdir()
        RESERVATIONS_DIR.chmod(0o1777)  # shared by every user, like /tmp
    try:
        fd = os.open(RESERVATIONS_DIR / f"{port}.lock", os.O_RDONLY | os.O_CREAT, 0o444)
    except OSError:
        return True  # no shared folder to reserve in: the kernel's choice alone must do
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    _reservations.append(fd)
    return True


def port_in_use(port: int) -> bool:
    """Something listens on the port, or holds it bound, on 127.0.0.1 (or on every address)."""
    with socket.socket() as s:
        s.settimeout(0.2)
        if s.connect_ex(("127.0.0.1", port)) == 0:
            return True
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "in use"
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def free_ports(count: int) -> list[int]:
    """`count` different ports nothing uses now, chosen by the kernel, reserved for this process."""
    probes: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            probe = socket.socket()
            probes.append(probe)  # kept bound until all are chosen: no port twice
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
            if reserve(port):
                ports.append(port)
    finally:
        for probe in probes:
            probe.close()
    return ports


def free_port() -> int:
    """A port nothing listens on now, for a private server."""
    return free_ports(1)[0]


def chosen_ports(keys: Sequence[str]) -> Ports:
    """Free ports for `keys` (test and e2e runs)."""
    return dict(zip(keys, free_ports(len(keys)), strict=True))


def configured_ports(keys: Iterable[str], environ: Mapping[str, str]) -> Ports:
    """`make dev`'s ports: each setting's variable if set, else its default."""
    ports: Ports = {}
    for key in keys:
        setting = PORT_SETTING[key]
        raw = environ.get(setting.variable, "").strip()
        if not raw:
            ports[key] = setting.default
        elif raw.isdigit() and 0 < int(raw) < 65536:
            ports[key] = int(raw)
        else:
            raise SystemExit(f"{setting.variable}={raw!r} is not a port number (1-65535).")
    owners: dict[int, str] = {}
    for key, port in ports.items():
        if port in owners:
            first, second = PORT_SETTING[owners[port]], PORT_SETTING[key]
            raise SystemExit(
                f"{first.wanted_by} and {second.wanted_by} would both use port {port}: "
                f"set {first.variable} or {second.variable} to another port."
            )
        owners[port] = key
    return ports


def busy_ports_message(busy: Sequence[str], ports: Ports) -> str:
    """What to say when `make dev`'s ports are taken: the port, who wanted it, how to move it."""
    taken = set(ports.values())
    lines, moves = [], []
    for key in busy:
        setting = PORT_SETTING[key]
        suggestion = next(
            p for p in range(ports[key] + 1, 65536) if p not in taken and not port_in_use(p)
        )
        taken.add(suggestion)
        moves.append(f"{setting.variable}={suggestion}")
        lines.append(
            f"  port {ports[key]}, wanted by {setting.wanted_by}: move it with {moves[-1]}"
        )
    return (
        "Ports already in use:\n"
        + "\n".join(lines)
        + f"\nStop what holds them, or move them, e.g.: {' '.join(moves)} make dev"
    )


def check_ports_free(ports: Ports) -> None:
    busy = [key for key, port in ports.items() if port_in_use(port)]
    if busy:
        raise SystemExit(busy_ports_message(busy, ports))


# ---- the scheduled reconciler ----


def pubsub_binary(environ: Mapping[str, str]) -> str:
    """The Pub/Sub emulator firebase-tools is to run: the variable's, else the Cloud SDK's."""
    binary = environ.get(PUBSUB_BINARY_VARIABLE) or DEFAULT_PUBSUB_BINARY
    if not os.access(binary, os.X_OK):
        raise SystemExit(
            f"Pub/Sub emulator not found at {binary} (it runs the scheduled reconciler). Install "
            "the Google Cloud SDK component (apt package google-cloud-cli-pubsub-emulator; "
            f"`make dev` and `make test` do) or set {PUBSUB_BINARY_VARIABLE} to its "
            "bin/cloud-pubsub-emulator."
        )
    return binary


def reconcile_interval(environ: Mapping[str, str]) -> int:
    """`make dev`'s seconds between reconciler passes: DEV_RECONCILE_SECONDS, else 60; 0: never."""
    raw = environ.get(RECONCILE_INTERVAL_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_RECONCILE_SECONDS
    if not raw.isdigit():
        raise SystemExit(
            f"{RECONCILE_INTERVAL_VARIABLE}={raw!r} is not a number of seconds (0 turns it off)."
        )
    return int(raw)


# How the Functions emulator (firebase-tools 15) treats a 2nd gen scheduled function: it loads it
# only when the Pub/Sub emulator runs ("function ignored because the pubsub emulator does not
# exist or is not running" otherwise) and subscribes it to the topic
# firebase-schedule-<name>, but nothing ever publishes there (firebase/firebase-tools#2034),
# and a message published by hand is dropped: the Pub/Sub emulator cannot deliver to a function
# with the HTTP signature of a 2nd gen scheduled one ("Unsupported trigger signature: http").
# In production Cloud Scheduler runs such a function with an HTTP POST and its own headers; so
# does the stack, at the function's emulator URL, where it is keyed <name>-<generation> (the
# generation counts reloads of the functions' code). The emulator's readiness probe of each new
# worker (GET /__/health) runs one more pass: harmless, since passes may overlap.
SCHEDULED_FUNCTION = "reconcile_orders"
FUNCTIONS_REGION = "us-central1"  # main.py sets none: the default region


def scheduled_trigger_name(not_found_body: str, name: str = SCHEDULED_FUNCTION) -> str | None:
    """The emulator's current name for scheduled function `name`, from the 404 it gives for a
    wrong one ("Function ... does not exist, valid functions are: us-central1-name-0, ...")."""
    found = re.findall(rf"\b{FUNCTIONS_REGION}-({re.escape(name)}-(\d+))\b", not_found_body)
    return max(found, key=lambda match: int(match[1]))[0] if found else None


def fire_scheduled_function(
    functions_host: str, trigger: str = SCHEDULED_FUNCTION, timeout_s: float = 330.0
) -> str:
    """Run the scheduled function once in the Functions emulator as Cloud Scheduler runs it in
    production; returns the name it is served under now (pass it next time). Waits for the end
    of the run; raises OSError (urllib's HTTPError among them) when the run failed."""
    for attempt in range(2):
        request = urllib.request.Request(
            f"http://{functions_host}/{PROJECT_ID}/{FUNCTIONS_REGION}/{trigger}",
            data=b"",
            method="POST",
            headers={
                "X-CloudScheduler-JobName": (
                    f"firebase-schedule-{SCHEDULED_FUNCTION}-{FUNCTIONS_REGION}"
                ),
                "X-CloudScheduler-ScheduleTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s):
                return trigger
        except urllib.error.HTTPError as error:
            current = scheduled_trigger_name(error.read().decode(errors="replace"))
            if error.code != 404 or attempt or current is None:
                raise
            trigger = current
    raise AssertionError("unreachable")


# ---- services ----


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return bool(200 <= response.status < 500)
        except OSError as error:
            # An HTTP error status still proves the server is up.
            return hasattr(error, "code")

    return check


def http_200(url: str) -> Callable[[], bool]:
    """Ready only on 200: through Hosting, a function still loading answers 404."""

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    return check


def smtp_ready(port: int) -> Callable[[], bool]:
    """Ready once the server greets (220), as an SMTP client first hears it."""

    def check() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                return connection.recv(3) == b"220"
        except OSError:
            return False

    return check


def firestore_emulator(
    port: int,
    side_ports: tuple[int, int],
    seed_from_export: Path | None = None,
    rules: Path = ROOT / "firestore.rules",
    name: str = "firestore",
) -> Service:
    """The official Cloud Firestore emulator, from the Cloud SDK's jar, on Java 17."""
    jar = os.environ.get("FIRESTORE_EMULATOR_JAR", DEFAULT_FIRESTORE_JAR)
    if not Path(jar).is_file():
        raise SystemExit(
            f"Cloud Firestore emulator jar not found at {jar}. Install the Google Cloud SDK "
            "component (apt package google-cloud-cli-firestore-emulator) or set "
            "FIRESTORE_EMULATOR_JAR to the jar's path."
        )
    argv = [
        "java", "-cp", jar, "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
        "--host", "127.0.0.1", "--port", str(port),
        "--websocket_port", str(side_ports[0]), "--webchannel_port", str(side_ports[1]),
        "--rules", str(rules), "--project_id", PROJECT_ID,
    ]  # fmt: skip
    if seed_from_export is not None:
        argv += ["--seed_from_export", str(seed_from_export)]
    return Service(name, argv, http_ok(f"http://127.0.0.1:{port}/"))


@dataclass(frozen=True)
class Run:
    """One stack: its ports and its own folder under .run/ (logs, site, localstripe's data)."""

    ports: Ports
    directory: Path
    # Settings of this stack's functions, under the environment's (E2E_FUNCTION_SETTINGS).
    function_settings: Mapping[str, str] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        return self.directory / "logs"

    @property
    def firestore_write_log(self) -> Path:
        """Where the functions record the documents they write, while it exists (bench/sale.py
        creates it; dev/firestore_writes/sitecustomize.py records)."""
        return self.directory / "firestore-writes"

    @property
    def page_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['hosting']}"

    @property
    def standin_origin(self) -> str:
        return f"http://127.0.0.1:{self.ports['standin']}"

    @property
    def localstripe_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['localstripe']}"

    @property
    def firestore_host(self) -> str:
        return f"127.0.0.1:{self.ports['firestore']}"

    @property
    def functions_host(self) -> str:
        return f"127.0.0.1:{self.ports['functions']}"

    @property
    def mail_dir(self) -> Path:
        return self.directory / "mail"

    @property
    def webhook_url(self) -> str:
        # Through Hosting, like Stripe's webhook in production: the rewrite is part of what runs.
        return f"{self.page_url}/api/stripe-webhook"

    def firestore(self) -> Service:
        return firestore_emulator(
            self.ports["firestore"],
            (self.ports["firestore_websocket"], self.ports["firestore_webchannel"]),
        )

    def localstripe(self) -> Service:
        """localstripe, with its data in this run's folder (see dev/localstripe_server.py)."""
        return Service(
            "localstripe",
            [
                str(VENV_BIN / "python"),
                str(ROOT / "dev" / "localstripe_server.py"),
                "--data",
                str(self.directory / "localstripe.pickle"),
                "--port",
                str(self.ports["localstripe"]),
                "--from-scratch",
            ],
            http_ok(f"{self.localstripe_url}/v1/customers"),
        )

    def mail_server(self) -> Service:
        """The local SMTP server, keeping what it receives in mail_dir (dev/mail_server.py)."""
        port = self.ports["smtp"]
        return Service(
            "mail-server",
            [
                str(VENV_BIN / "python"),
                str(ROOT / "dev" / "mail_server.py"),
                "--port",
                str(port),
                "--folder",
                str(self.mail_dir),
            ],
            smtp_ready(port),
        )

    def stripe_standin(self) -> Service:
        """The offline Stripe.js stand-in and its helper endpoints
        (dev/stripe_standin/server.py)."""
        origins = [self.page_url, f"http://localhost:{self.ports['hosting']}"]
        return Service(
            "stripe-standin",
            [
                str(VENV_BIN / "python"),
                str(ROOT / "dev" / "stripe_standin" / "server.py"),
                "--port",
                str(self.ports["standin"]),
                *[arg for o in origins for arg in ("--allow-origin", o)],
            ],
            http_200(f"{self.standin_origin}/healthz"),
        )

    def firebase_emulators(self, config: Path) -> Service:
        """Hosting + Functions + Pub/Sub (for the scheduled function); ready once the checkout
        function answers through Hosting."""
        if not FIREBASE_BIN.exists():
            raise SystemExit(
                "firebase-tools is not installed: run `npm ci` (make dev and make test do)."
            )
        return Service(
            "firebase-emulators",
            [
                str(FIREBASE_BIN),
                "emulators:start",
                "--only",
                "functions,hosting,pubsub",
                "--project",
                PROJECT_ID,
                "--config",
                str(config),
            ],
            http_200(f"{self.page_url}/api/config"),
            timeout_s=120.0,  # the first Python discovery in a cold venv is slow
            cwd=config.parent,  # firebase-debug.log lands there, one per run
        )

    def offline_env(self) -> dict[str, str]:
        """The settings of the offline services, the functions and the command run against them."""
        env = {
            **OFFLINE_LIMITS_ENV,
            **OFFLINE_MAIL_ENV,
            **self.function_settings,
            **os.environ,
            **OFFLINE_KEYS_ENV,
            "GCLOUD_PROJECT": PROJECT_ID,
            "FIRESTORE_EMULATOR_HOST": self.firestore_host,
            LOG_DIR_VARIABLE: str(self.logs),
        }
        if "pubsub" in self.ports:
            env[PUBSUB_BINARY_VARIABLE] = pubsub_binary(env)
        if "functions" in self.ports:
            # For commands run against the stack: e.g. to run the scheduled function.
            env["FUNCTIONS_EMULATOR_HOST"] = self.functions_host
            env[WRITE_LOG_VARIABLE] = str(self.firestore_write_log)
        if "localstripe" in self.ports:
            env["STRIPE_API_BASE"] = self.localstripe_url
        if "hosting" in self.ports:
            env["CHECKOUT_BASE_URL"] = self.page_url
            env["PUBLIC_BASE_URL"] = self.page_url
        if "smtp" in self.ports:
            env["SMTP_URL"] = f"smtp://127.0.0.1:{self.ports['smtp']}"
            env[MAIL_DIR_VARIABLE] = str(self.mail_dir)
        return env

    def offline_site(self) -> Path:
        """Build this run's offline site (web/ with the stand-in, firebase.json, settings)."""
        sys.path.insert(0, str(ROOT))
        from dev.stripe_standin import build_offline_site

        env = self.offline_env()
        config = build_offline_site.build(
            self.standin_origin,
            self.directory / "offline",
            ports={key: self.ports[key] for key in EMULATOR_KEYS},
            params={name: env[name] for name in FUNCTION_PARAMS if name in env},
            secrets={name: env[name] for name in FUNCTION_SECRETS},
        )
        write_functions_manifest(config.parent / "functions", env)
        return config

    def register_localstripe_webhook(self) -> None:
        """localstripe keeps webhooks in memory only: register ours on every start."""
        form = {"url": self.webhook_url, "secret": OFFLINE_KEYS_ENV["STRIPE_WEBHOOK_SECRET"]}
        request = urllib.request.Request(
            f"{self.localstripe_url}/_config/webhooks/checkout",
            data=urllib.parse.urlencode(form).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5):
            pass


# What firebase-tools' discovery server would answer at /__/functions.yaml, computed the same way.
FUNCTIONS_MANIFEST = (
    "from firebase_functions.private import serving; "
    "print(serving.functions_as_yaml(serving.get_functions()), end='')"
)


def write_functions_manifest(functions_dir: Path, env: Mapping[str, str]) -> None:
    """Write functions.yaml, which firebase-tools reads instead of starting its discovery server.

    That server always asks for port 8081 first (no setting moves it) and binds it a second
    later: two stacks starting at once would both pick 8081, and one would fail to load.
    """
    manifest = subprocess.run(
        [str(VENV_BIN / "python"), "-c", FUNCTIONS_MANIFEST],
        cwd=functions_dir, env=dict(env), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if manifest.returncode != 0 or "endpoints" not in manifest.stdout:
        raise SystemExit(f"could not list the functions in functions/main.py:\n{manifest.stderr}")
    (functions_dir / "functions.yaml").write_text(manifest.stdout, encoding="utf-8")


def new_run(name: str, ports: Ports, function_settings: Mapping[str, str] | None = None) -> Run:
    """A fresh folder .run/NAME for one stack, and the variable that sends logs there."""
    directory = RUN_DIR / name
    if directory.exists():
        shutil.rmtree(directory)
    run = Run(ports, directory, dict(function_settings or {}))
    run.logs.mkdir(parents=True)
    os.environ[LOG_DIR_VARIABLE] = str(run.logs)
    return run


# Signals that end a run: each unwinds through Stack.__exit__, which stops every service.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def exit_on_stop_signals() -> None:
    """Turn SIGTERM and SIGHUP (terminal closed) into an orderly exit, like Ctrl-C."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda number, _frame: sys.exit(128 + number))
    # Ctrl-C must work even when a parent started us with SIGINT ignored (`cmd &`).
    signal.signal(signal.SIGINT, signal.default_int_handler)


class Stack:
    """Services started in order and stopped in reverse, whatever happens in between."""

    def __init__(self, services: list[Service], env: Mapping[str, str]) -> None:
        self.services = services
        self.env = env
        self.started: list[Service] = []

    def __enter__(self) -> "Stack":
        for service in self.services:
            self.start(service, self.env)
        return self

    def start(self, service: Service, env: Mapping[str, str]) -> None:
        """Start one more service and wait until it is ready; on failure stop them all."""
        try:
            service.start(env)
            self.started.append(service)
            service.wait_ready()
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *_: object) -> None:
        # A second Ctrl-C (or a SIGTERM) during the stop must not skip the services left:
        # they run in their own sessions, so no terminal signal would ever reach them.
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in STOP_SIGNALS}
        try:
            for service in reversed(self.started):
                try:
                    service.stop()
                except Exception as error:  # noqa: BLE001 - stop the others whatever happens
                    print(f"could not stop {service.name}: {error}", file=sys.stderr)
            self.started.clear()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


SAMPLE_CATALOG = ROOT / "catalog.json"


def seed_catalog(env: Mapping[str, str]) -> None:
    """Import catalog.json into the stack's fresh Firestore emulator, as an owner imports a
    catalog (`python -m checkout.catalog import`). Not in Stripe mode: there the Stripe
    Dashboard is the catalog's source, and the import refuses to run."""
    if env.get("CATALOG_SOURCE", "").strip().lower() == "stripe":
        return
    result = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "checkout.catalog", "import", str(SAMPLE_CATALOG)],
        cwd=ROOT / "functions", env=dict(env), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    log_dir().mkdir(parents=True, exist_ok=True)
    (log_dir() / "catalog-seed.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    if result.returncode != 0:
        raise SystemExit(
            f"could not import {SAMPLE_CATALOG.name} into the Firestore emulator:\n"
            f"{result.stdout}{result.stderr}"
        )


def start_offline_checkout(
    stack: Stack, run: Run, after_firestore: Callable[[], None] = lambda: None
) -> None:
    """Everything the page needs offline, in start order, with the webhook registered."""
    stack.start(run.firestore(), run.offline_env())
    seed_catalog(run.offline_env())
    after_firestore()
    env = run.offline_env()
    stack.start(run.localstripe(), env)
    stack.start(run.stripe_standin(), env)
    stack.start(run.mail_server(), env)
    stack.start(run.firebase_emulators(run.offline_site()), functions_env(env))
    run.register_localstripe_webhook()


def functions_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` for the Functions emulator: its Python workers also load the write recorder
    (dev/firestore_writes: inert unless the bench asks for it), and nothing else does."""
    path = [str(WRITE_RECORDER_DIR), *filter(None, [env.get("PYTHONPATH")])]
    return {**env, "PYTHONPATH": os.pathsep.join(path)}


def run_command(command: Sequence[str], run: Run, start: Callable[[Stack, Run], None]) -> int:
    """Start the services on free ports, run `command` against them, stop them.

    The Firestore emulator goes first, and the other ports are chosen once it is up: it opens
    one more port that no flag controls, which must not be one chosen for the others.
    """
    exit_on_stop_signals()
    code = 1
    try:
        with Stack([], {}) as stack:
            start(stack, run)
            code = subprocess.call(command, cwd=ROOT, env=run.offline_env())
    finally:
        if code == 0:
            shutil.rmtree(run.directory, ignore_errors=True)
        else:
            print(f"Logs of this run: {run.logs}/", file=sys.stderr)
    return code


def run_tests(command: Sequence[str]) -> int:
    run = new_run(f"test-{os.getpid()}", chosen_ports(FIRESTORE_KEYS))

    def start(stack: Stack, run: Run) -> None:
        stack.start(run.firestore(), run.offline_env())
        seed_catalog(run.offline_env())
        run.ports.update(chosen_ports(["localstripe", "smtp"]))
        stack.start(run.localstripe(), run.offline_env())
        stack.start(run.mail_server(), run.offline_env())

    return run_command(command, run, start)


def run_e2e(command: Sequence[str]) -> int:
    """CMD against the whole offline checkout (the e2e tests, the page benchmark)."""
    run = new_run(f"e2e-{os.getpid()}", chosen_ports(FIRESTORE_KEYS), E2E_FUNCTION_SETTINGS)

    def start(stack: Stack, run: Run) -> None:
        others = [key for key in OFFLINE_KEYS if key not in FIRESTORE_KEYS]
        start_offline_checkout(stack, run, lambda: run.ports.update(chosen_ports(others)))

    return run_command(command, run, start)


def real_stripe_settings() -> dict[str, str]:
    """functions/.env.local's (and .secret.local's) settings when they hold a real Stripe test
    key; else {}."""
    settings = {}
    # Params in .env.local; secrets may be there or in .secret.local, which is where the
    # Functions emulator itself reads secrets from.
    for path in (FUNCTIONS_ENV_FILE, FUNCTIONS_SECRET_FILE):
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.strip().startswith("#"):
                settings[key.strip()] = value.strip().strip("'\"")
    key = settings.get("STRIPE_SECRET_KEY", "")
    if (
        key.startswith("sk_test_")
        and key != OFFLINE_KEYS_ENV["STRIPE_SECRET_KEY"]
        and not settings.get("STRIPE_API_BASE")
    ):
        return settings
    return {}


class ReconcilerClock:
    """`make dev`'s Cloud Scheduler: runs reconcile_orders every `seconds` (0: never), the first
    time `seconds` after the start, one pass at a time (as max_instances=1 does in production)."""

    def __init__(self, functions_host: str, seconds: int) -> None:
        self.functions_host = functions_host
        self.seconds = seconds
        self.trigger = SCHEDULED_FUNCTION
        self.due = time.monotonic() + seconds
        self.running: threading.Thread | None = None

    def tick(self) -> None:
        if not self.seconds or time.monotonic() < self.due:
            return
        self.due = time.monotonic() + self.seconds
        if self.running is None or not self.running.is_alive():
            # A pass takes seconds to minutes: Ctrl-C must not wait for it.
            self.running = threading.Thread(target=self.fire, daemon=True)
            self.running.start()

    def fire(self) -> None:
        try:
            self.trigger = fire_scheduled_function(self.functions_host, self.trigger)
        except OSError as error:
            # The pass's own summary and errors are in the functions' log.
            print(f"reconcile_orders did not complete: {error}", file=sys.stderr)


def wait_for_ctrl_c(stack: Stack, clock: ReconcilerClock | None = None) -> int:
    """Until Ctrl-C (0), or until a service dies (1); the clock ticks meanwhile."""
    try:
        while True:
            for service in stack.started:
                if service.process is not None and service.process.poll() is not None:
                    print(f"{service.name} stopped; see {service.log_path}", file=sys.stderr)
                    return 1
            if clock is not None:
                clock.tick()
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping…")
        return 0


def reconciler_line(seconds: int) -> str:
    if not seconds:
        return f"The reconciler runs only by hand ({RECONCILE_INTERVAL_VARIABLE}=0): make reconcile"
    return (
        f"The reconciler (reconcile_orders) runs every {seconds} s "
        f"({RECONCILE_INTERVAL_VARIABLE}); make reconcile runs a pass now."
    )


def offline_banner(run: Run, reconcile_seconds: int) -> str:
    return f"""
Checkout running offline: {run.page_url}

Pay with any future expiry date (e.g. 12 / 34) and any CVC:
  4242 4242 4242 4242   succeeds
  4000 0027 6000 3184   asks for 3D Secure: choose "Complete" or "Fail authentication"
  4000 0000 0000 0341   is declined
Promo code WELCOME10 takes 10% off; shipping to US, CA or MX (catalog.json: make catalog).
The order status shows on the page, and in Firestore:
  curl -H "Authorization: Bearer owner" \\
    "http://{run.firestore_host}/v1/projects/{PROJECT_ID}/databases/(default)/documents/orders"
Stripe here is localstripe ({run.localstripe_url}) \
behind a Stripe.js stand-in ({run.standin_origin}).
Emails the shop sends arrive at a local SMTP server (127.0.0.1:{run.ports["smtp"]}), kept in
  {run.mail_dir}/   (NNNN.eml, and NNNN.html to open in a browser)
{reconciler_line(reconcile_seconds)}
Logs: {run.logs}/   Stop everything: Ctrl-C
"""


def dev_run_name(ports: Ports) -> str:
    # One folder per page port: two `make dev` with different ports share no file.
    return f"dev-{ports['hosting']}"


def run_dev(environ: Mapping[str, str] = os.environ) -> int:
    exit_on_stop_signals()
    settings = {} if environ.get("DEV_OFFLINE") else real_stripe_settings()
    reconcile_seconds = reconcile_interval(environ)
    if settings:
        return run_dev_online(settings, environ, reconcile_seconds)
    ports = configured_ports(OFFLINE_KEYS, environ)
    check_ports_free(ports)
    run = new_run(dev_run_name(ports), ports)
    with Stack([], {}) as stack:
        start_offline_checkout(stack, run)
        print(offline_banner(run, reconcile_seconds), flush=True)
        return wait_for_ctrl_c(stack, ReconcilerClock(run.functions_host, reconcile_seconds))


def run_dev_online(
    settings: dict[str, str], environ: Mapping[str, str], reconcile_seconds: int
) -> int:
    """Real Stripe (test mode): the deployed firebase.json, functions/.env.local,
    `stripe listen`."""
    ports = configured_ports(ONLINE_KEYS, environ)
    check_ports_free(ports)
    run = new_run(dev_run_name(ports), ports)
    config = ROOT / "firebase.json"
    if any(ports[key] != PORT_SETTING[key].default for key in ports):
        sys.path.insert(0, str(ROOT))
        from dev.stripe_standin import build_offline_site

        emulator_ports = {key: ports[key] for key in (*EMULATOR_KEYS, "ui")}
        config = build_offline_site.build_online(run.directory / "online", emulator_ports)
    env = {
        **environ,
        **settings,
        "GCLOUD_PROJECT": PROJECT_ID,
        "FIRESTORE_EMULATOR_HOST": run.firestore_host,
        "CHECKOUT_BASE_URL": run.page_url,
        LOG_DIR_VARIABLE: str(run.logs),
    }
    if os.access(DEFAULT_PUBSUB_BINARY, os.X_OK):  # else, online, firebase-tools downloads one
        env.setdefault(PUBSUB_BINARY_VARIABLE, DEFAULT_PUBSUB_BINARY)
    with Stack([], {}) as stack:
        stack.start(run.firestore(), env)
        seed_catalog(env)
        stack.start(run.firebase_emulators(config), env)
        print(
            f"""
Checkout running with real Stripe (test mode, keys from functions/.env.local): {run.page_url}
Emulator UI: http://127.0.0.1:{ports["ui"]}
Forward Stripe's webhooks here, and put the whsec_ it prints in functions/.env.local
as STRIPE_WEBHOOK_SECRET (then restart):
  stripe listen --forward-to {run.webhook_url}
{reconciler_line(reconcile_seconds)}
Logs: {run.logs}/   Stop everything: Ctrl-C
""",
            flush=True,
        )
        return wait_for_ctrl_c(stack, ReconcilerClock(run.functions_host, reconcile_seconds))


def main(argv: Sequence[str]) -> int:
    if len(argv) >= 2 and argv[0] == "test" and argv[1] == "--":
        return run_tests(argv[2:])
    if len(argv) >= 2 and argv[0] == "e2e" and argv[1] == "--":
        return run_e2e(argv[2:])
    if argv == ["dev"]:
        return run_dev()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
