"""Start, wait for, and stop the local services: the one place that knows how to run them.

    python dev/stack.py test -- CMD...   start the test services, run CMD, stop them (exit: CMD's)
    python dev/stack.py dev              start everything, print what to try, wait for Ctrl-C

Services run in their own process groups, so stopping one also stops what it spawned.
Standard library only: this runs before anything else is known to be installed.
"""

import os
import signal
import socket
import subprocess
import sys
import time
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
}


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
        if self.process is None or self.process.poll() is not None:
            return
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(grace)
                return
            except subprocess.TimeoutExpired:
                continue


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


def firestore_emulator() -> Service:
    jar = os.environ.get("FIRESTORE_EMULATOR_JAR", DEFAULT_FIRESTORE_JAR)
    if not Path(jar).is_file():
        raise SystemExit(
            f"Cloud Firestore emulator jar not found at {jar}. Install the Google Cloud SDK "
            "component (apt package google-cloud-cli-firestore-emulator) or set "
            "FIRESTORE_EMULATOR_JAR to the jar's path."
        )
    return Service(
        "firestore",
        [
            "java",
            "-cp",
            jar,
            "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
            "--host",
            "127.0.0.1",
            "--port",
            str(FIRESTORE_PORT),
            "--websocket_port",
            "9150",
            "--webchannel_port",
            "9151",
            "--rules",
            str(ROOT / "firestore.rules"),
            "--project_id",
            PROJECT_ID,
        ],
        http_ok(f"http://127.0.0.1:{FIRESTORE_PORT}/"),
    )


def localstripe() -> Service:
    return Service(
        "localstripe",
        [str(VENV_BIN / "localstripe"), "--port", str(LOCALSTRIPE_PORT), "--from-scratch"],
        http_ok(f"http://127.0.0.1:{LOCALSTRIPE_PORT}/v1/customers"),
    )


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
        for service in reversed(self.started):
            service.stop()
        self.started.clear()


def check_ports_free(ports: Sequence[int]) -> None:
    busy = [port for port in ports if port_open(port)]
    if busy:
        raise SystemExit(f"Ports already in use: {busy}. Stop what holds them and retry.")


def test_env() -> dict[str, str]:
    return {**os.environ, **OFFLINE_ENV}


def run_tests(command: Sequence[str]) -> int:
    check_ports_free([FIRESTORE_PORT, LOCALSTRIPE_PORT])
    env = test_env()
    # SIGTERM (CI cancelling) must unwind through the Stack's cleanup, like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with Stack([firestore_emulator(), localstripe()], env):
        return subprocess.call(command, cwd=ROOT, env=env)


def main(argv: Sequence[str]) -> int:
    if len(argv) >= 2 and argv[0] == "test" and argv[1] == "--":
        return run_tests(argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
