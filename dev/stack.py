"""Start, wait for, and stop the local services: the one place that knows how to run them.

    python dev/stack.py test -- CMD...   start the test services, run CMD, stop them (exit: CMD's)
    python dev/stack.py e2e -- CMD...    the same with the whole offline checkout up (as `dev`)
    python dev/stack.py dev              start everything, print what to try, wait for Ctrl-C

The whole offline checkout: the Firestore emulator, localstripe, the Stripe.js stand-in
(dev/stripe_standin), and the Firebase Hosting + Functions emulators serving the offline site
(.run/offline, built from web/ and firebase.json), with localstripe's webhook registered to the
webhook function. With real Stripe test keys in functions/.env.local, `dev` uses real Stripe
instead: no localstripe, no stand-in, the deployed firebase.json, and `stripe listen`.

Services run in their own process groups, so stopping one also stops what it spawned.
Standard library only: this runs before anything else is known to be installed.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = ROOT / ".run"
LOG_DIR = RUN_DIR / "logs"
VENV_BIN = ROOT / "functions" / "venv" / "bin"

PROJECT_ID = "demo-checkout"
FIRESTORE_PORT = 8080
LOCALSTRIPE_PORT = 8420
FIRESTORE_SIDE_PORTS = (9150, 9151)  # its websocket and webchannel ports
HOSTING_PORT = 5000
FUNCTIONS_PORT = 5001
STANDIN_PORT = 8421
UI_PORT = 4000
# Opened by firebase-tools besides Hosting and Functions: hub, logging, Eventarc, Cloud Tasks.
EMULATOR_SIDE_PORTS = [4400, 4500, 9299, 9499]
PAGE_URL = f"http://127.0.0.1:{HOSTING_PORT}"
STANDIN_ORIGIN = f"http://127.0.0.1:{STANDIN_PORT}"
# Through Hosting, like Stripe's webhook in production: the rewrite is part of what runs.
WEBHOOK_URL = f"{PAGE_URL}/api/stripe-webhook"
FIREBASE_BIN = ROOT / "node_modules" / ".bin" / "firebase"
OFFLINE_SITE_DIR = RUN_DIR / "offline"
FUNCTIONS_ENV_FILE = ROOT / "functions" / ".env.local"
FUNCTIONS_SECRET_FILE = ROOT / "functions" / ".secret.local"
DEFAULT_FIRESTORE_JAR = (
    "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
)

# Offline settings: localstripe accepts any sk_test_ key; none of these is a real secret.
OFFLINE_ENV = {
    "GCLOUD_PROJECT": PROJECT_ID,
    "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{FIRESTORE_PORT}",
    "STRIPE_API_BASE": f"http://127.0.0.1:{LOCALSTRIPE_PORT}",
    "STRIPE_SECRET_KEY": "sk_test_offline_localstripe",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_offline_localstripe",
    "STRIPE_WEBHOOK_SECRET": "whsec_offline_localstripe",
    # Every test client is 127.0.0.1: limits high enough for whole suites (the tests of the
    # limits set their own, lower ones).
    "REQUESTS_PER_IP_PER_MINUTE": "10000",
    "NEW_CHECKOUTS_PER_IP_PER_10_MINUTES": "2000",
    "NEW_CHECKOUTS_PER_MINUTE": "2000",
}
# How functions/checkout/platform/settings.py declares them: the Functions emulator reads params from a
# dotenv file and secrets from .secret.local (the offline site gets both, see build_offline_site).
FUNCTION_PARAMS = (
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_API_BASE",
    "REQUESTS_PER_IP_PER_MINUTE",
    "NEW_CHECKOUTS_PER_IP_PER_10_MINUTES",
    "NEW_CHECKOUTS_PER_MINUTE",
)
FUNCTION_SECRETS = ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")


@dataclass
class Service:
    name: str
    argv: Sequence[str]
    ready: Callable[[], bool]
    timeout_s: float = 30.0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self, env: dict[str, str]) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = (LOG_DIR / f"{self.name}.log").open("wb")
        self.process = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends its children too
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited early; see {LOG_DIR / self.name}.log")
            if self.ready():
                return
            time.sleep(0.2)
        raise SystemExit(f"{self.name} not ready after {self.timeout_s:.0f} s; see its log")

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


def free_port() -> int:
    """A port nothing listens on now, for a private server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


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


def firestore_emulator(
    port: int = FIRESTORE_PORT,
    side_ports: tuple[int, int] = FIRESTORE_SIDE_PORTS,
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


def localstripe() -> Service:
    return Service(
        "localstripe",
        [str(VENV_BIN / "localstripe"), "--port", str(LOCALSTRIPE_PORT), "--from-scratch"],
        http_ok(f"http://127.0.0.1:{LOCALSTRIPE_PORT}/v1/customers"),
    )


def stripe_standin() -> Service:
    """The offline Stripe.js stand-in and its helper endpoints (dev/stripe_standin/server.py)."""
    origins = [PAGE_URL, f"http://localhost:{HOSTING_PORT}"]
    return Service(
        "stripe-standin",
        [
            str(VENV_BIN / "python"),
            str(ROOT / "dev" / "stripe_standin" / "server.py"),
            "--port",
            str(STANDIN_PORT),
            *[arg for o in origins for arg in ("--allow-origin", o)],
        ],
        http_200(f"{STANDIN_ORIGIN}/healthz"),
    )


def firebase_emulators(config: Path) -> Service:
    """Hosting + Functions; ready once the checkout function answers through Hosting."""
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
            "functions,hosting",
            "--project",
            PROJECT_ID,
            "--config",
            str(config),
        ],
        http_200(f"{PAGE_URL}/api/config"),
        timeout_s=120.0,  # the first Python discovery in a cold venv is slow
    )


def offline_site() -> Path:
    """Build .run/offline (web/ with the stand-in, firebase.json, functions settings)."""
    sys.path.insert(0, str(ROOT))
    from dev.stripe_standin import build_offline_site

    return build_offline_site.build(
        STANDIN_ORIGIN,
        OFFLINE_SITE_DIR,
        params={name: OFFLINE_ENV[name] for name in FUNCTION_PARAMS},
        secrets={name: OFFLINE_ENV[name] for name in FUNCTION_SECRETS},
    )


def register_localstripe_webhook() -> None:
    """localstripe keeps webhooks in memory only: register ours on every start."""
    form = {"url": WEBHOOK_URL, "secret": OFFLINE_ENV["STRIPE_WEBHOOK_SECRET"]}
    request = urllib.request.Request(
        f"http://127.0.0.1:{LOCALSTRIPE_PORT}/_config/webhooks/checkout",
        data=urllib.parse.urlencode(form).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5):
        pass


def offline_checkout() -> list[Service]:
    """Everything the page needs offline, in start order."""
    return [
        firestore_emulator(),
        localstripe(),
        stripe_standin(),
        firebase_emulators(offline_site()),
    ]


OFFLINE_PORTS = [
    FIRESTORE_PORT,
    *FIRESTORE_SIDE_PORTS,
    LOCALSTRIPE_PORT,
    STANDIN_PORT,
    HOSTING_PORT,
    FUNCTIONS_PORT,
    *EMULATOR_SIDE_PORTS,
]


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

    def __init__(self, services: list[Service], env: dict[str, str]) -> None:
        self.services = services
        self.env = env
        self.started: list[Service] = []

    def __enter__(self) -> "Stack":
        try:
            for service in self.services:
                service.start(self.env)
                self.started.append(service)
                service.wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

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


def check_ports_free(ports: Sequence[int]) -> None:
    busy = [port for port in ports if port_open(port)]
    if busy:
        raise SystemExit(f"Ports already in use: {busy}. Stop what holds them and retry.")


def test_env() -> dict[str, str]:
    return {**os.environ, **OFFLINE_ENV}


def run_tests(command: Sequence[str]) -> int:
    check_ports_free([FIRESTORE_PORT, *FIRESTORE_SIDE_PORTS, LOCALSTRIPE_PORT])
    env = test_env()
    exit_on_stop_signals()
    with Stack([firestore_emulator(), localstripe()], env):
        return subprocess.call(command, cwd=ROOT, env=env)


def offline_env() -> dict[str, str]:
    return {**test_env(), "CHECKOUT_BASE_URL": PAGE_URL}


def run_e2e(command: Sequence[str]) -> int:
    """CMD against the whole offline checkout (the e2e tests, the page benchmark)."""
    check_ports_free(OFFLINE_PORTS)
    env = offline_env()
    exit_on_stop_signals()
    with Stack(offline_checkout(), env):
        register_localstripe_webhook()
        return subprocess.call(command, cwd=ROOT, env=env)


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
        and key != OFFLINE_ENV["STRIPE_SECRET_KEY"]
        and not settings.get("STRIPE_API_BASE")
    ):
        return settings
    return {}


def wait_for_ctrl_c(stack: Stack) -> int:
    """Until Ctrl-C (0), or until a service dies (1)."""
    try:
        while True:
            for service in stack.started:
                if service.process is not None and service.process.poll() is not None:
                    print(
                        f"{service.name} stopped; see {LOG_DIR / service.name}.log", file=sys.stderr
                    )
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping…")
        return 0


OFFLINE_BANNER = f"""
Checkout running offline: {PAGE_URL}

Pay with any future expiry date (e.g. 12 / 34) and any CVC:
  4242 4242 4242 4242   succeeds
  4000 0027 6000 3184   asks for 3D Secure: choose "Complete" or "Fail authentication"
  4000 0000 0000 0341   is declined
The order status shows on the page, and in Firestore:
  curl -H "Authorization: Bearer owner" \\
    "http://127.0.0.1:{FIRESTORE_PORT}/v1/projects/{PROJECT_ID}/databases/(default)/documents/orders"
Stripe here is localstripe ({OFFLINE_ENV["STRIPE_API_BASE"]}) behind a Stripe.js stand-in ({STANDIN_ORIGIN}).
Logs: {LOG_DIR}/   Stop everything: Ctrl-C
"""


def run_dev() -> int:
    exit_on_stop_signals()
    settings = real_stripe_settings()
    if settings:
        return run_dev_online(settings)
    check_ports_free(OFFLINE_PORTS)
    with Stack(offline_checkout(), offline_env()) as stack:
        register_localstripe_webhook()
        print(OFFLINE_BANNER, flush=True)
        return wait_for_ctrl_c(stack)


def run_dev_online(settings: dict[str, str]) -> int:
    """Real Stripe (test mode): the deployed firebase.json, functions/.env.local, `stripe listen`."""
    check_ports_free(
        [
            FIRESTORE_PORT,
            *FIRESTORE_SIDE_PORTS,
            HOSTING_PORT,
            FUNCTIONS_PORT,
            UI_PORT,
            *EMULATOR_SIDE_PORTS,
        ]
    )
    env = {
        **os.environ,
        **settings,
        "GCLOUD_PROJECT": PROJECT_ID,
        "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{FIRESTORE_PORT}",
        "CHECKOUT_BASE_URL": PAGE_URL,
    }
    with Stack([firestore_emulator(), firebase_emulators(ROOT / "firebase.json")], env) as stack:
        print(
            f"""
Checkout running with real Stripe (test mode, keys from functions/.env.local): {PAGE_URL}
Emulator UI: http://127.0.0.1:{UI_PORT}
Forward Stripe's webhooks here, and put the whsec_ it prints in functions/.env.local
as STRIPE_WEBHOOK_SECRET (then restart):
  stripe listen --forward-to {WEBHOOK_URL}
Stop everything: Ctrl-C
""",
            flush=True,
        )
        return wait_for_ctrl_c(stack)


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
