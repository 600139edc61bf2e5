"""dev/stack.py stops every service it started, whatever ends the run; its ports are free for
tests and movable for `make dev`; the generated emulator config follows them."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dev.stack import (
    E2E_FUNCTION_SETTINGS,
    EMULATOR_KEYS,
    OFFLINE_KEYS,
    PORT_SETTING,
    PORT_SETTINGS,
    PUBSUB_BINARY_VARIABLE,
    ROOT,
    WRITE_LOG_VARIABLE,
    WRITE_RECORDER_DIR,
    Run,
    Service,
    Stack,
    check_ports_free,
    configured_ports,
    free_ports,
    functions_env,
    reconcile_interval,
    scheduled_trigger_name,
)
from dev.stripe_standin import build_offline_site


def sleeper(name: str) -> Service:
    # A parent that also has a child: stopping must end the whole process group.
    return Service(name, ["sh", "-c", "sleep 300 & sleep 300"], lambda: True)


def alive(process: subprocess.Popen[bytes] | None) -> bool:
    """Whether any process of the service's group still runs (zombies are already dead)."""
    assert process is not None
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        state, group = fields[0], int(fields[2])
        if group == process.pid and state != "Z":
            return True
    return False


def all_stopped(services: list[Service], within_s: float = 5.0) -> bool:
    """Whether every service's group is gone: a SIGKILLed process dies a moment after the
    signal, and on a loaded machine that moment can be long enough to see it still running."""
    deadline = time.monotonic() + within_s
    while any(alive(s.process) for s in services):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_every_service_and_its_children_stop_when_the_run_fails() -> None:
    services = [sleeper("a"), sleeper("b")]
    with pytest.raises(RuntimeError), Stack(services, dict(os.environ)):
        raise RuntimeError("a test run fails")
    assert all_stopped(services)


def test_a_second_interrupt_during_the_stop_does_not_skip_services() -> None:
    first, second = sleeper("first"), sleeper("second")
    stack = Stack([first, second], dict(os.environ))
    stack.__enter__()
    original_stop = second.stop

    def stop_then_interrupt() -> None:
        original_stop()
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C again while the others still run

    second.stop = stop_then_interrupt  # type: ignore[method-assign]
    stack.__exit__()
    assert all_stopped([first, second])


# ---- ports ----


def test_dev_ports_default_to_todays_and_each_variable_moves_one() -> None:
    assert configured_ports(OFFLINE_KEYS, {}) == {
        s.key: s.default for s in PORT_SETTINGS if s.key in OFFLINE_KEYS
    }
    moved = configured_ports(OFFLINE_KEYS, {"HOSTING_PORT": "5050", "FIRESTORE_PORT": " 8181 "})
    assert (moved["hosting"], moved["firestore"], moved["functions"]) == (5050, 8181, 5001)


def test_the_pubsub_emulator_has_a_port_like_the_others() -> None:
    # Without the Pub/Sub emulator the Functions emulator ignores reconcile_orders.
    assert "pubsub" in OFFLINE_KEYS
    assert configured_ports(OFFLINE_KEYS, {})["pubsub"] == 8085
    assert configured_ports(OFFLINE_KEYS, {"PUBSUB_PORT": "9085"})["pubsub"] == 9085
    with pytest.raises(SystemExit, match="set HOSTING_PORT or PUBSUB_PORT"):
        configured_ports(OFFLINE_KEYS, {"PUBSUB_PORT": "5000"})


def test_the_deployed_config_gives_the_emulators_makes_devs_default_ports() -> None:
    emulators = json.loads((ROOT / "firebase.json").read_text())["emulators"]
    assert "pubsub" in emulators
    for name, emulator in emulators.items():
        if name in PORT_SETTING and "port" in emulator:
            assert emulator["port"] == PORT_SETTING[name].default, name


def test_the_stack_runs_the_sdks_pubsub_emulator_and_says_how_to_install_a_missing_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = Run(dict(zip(OFFLINE_KEYS, range(43001, 43020), strict=False)), tmp_path)
    binary = tmp_path / "cloud-pubsub-emulator"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setenv(PUBSUB_BINARY_VARIABLE, str(binary))
    env = run.offline_env()
    assert env[PUBSUB_BINARY_VARIABLE] == str(binary)
    assert env["FUNCTIONS_EMULATOR_HOST"] == f"127.0.0.1:{run.ports['functions']}"
    monkeypatch.setenv(PUBSUB_BINARY_VARIABLE, str(tmp_path / "missing"))
    with pytest.raises(SystemExit, match="google-cloud-cli-pubsub-emulator"):
        run.offline_env()


def test_dev_reconciles_every_60_s_unless_told_otherwise() -> None:
    assert reconcile_interval({}) == 60
    assert reconcile_interval({"DEV_RECONCILE_SECONDS": " 5 "}) == 5
    assert reconcile_interval({"DEV_RECONCILE_SECONDS": "0"}) == 0  # only `make reconcile`


@pytest.mark.parametrize("value", ["soon", "-1", "1.5"])
def test_a_reconcile_interval_that_is_not_seconds_is_refused_by_name(value: str) -> None:
    with pytest.raises(SystemExit, match=f"DEV_RECONCILE_SECONDS='{re.escape(value)}' is not"):
        reconcile_interval({"DEV_RECONCILE_SECONDS": value})


def test_the_scheduled_functions_current_name_is_read_from_the_emulators_404() -> None:
    # What the Functions emulator (firebase-tools 15) answers for a name it does not serve.
    body = (
        "Function us-central1-reconcile_orders does not exist, valid functions are: "
        "us-central1-checkout_api, us-central1-reconcile_orders-2, us-central1-stripe_webhook, "
        "us-central1-reconcile_orders-10"
    )
    assert scheduled_trigger_name(body) == "reconcile_orders-10"
    assert scheduled_trigger_name("Function x does not exist, valid functions are: ") is None


@pytest.mark.parametrize("value", ["http", "0", "70000", "-1", "50.5"])
def test_a_port_variable_that_is_not_a_port_is_refused_by_name(value: str) -> None:
    with pytest.raises(SystemExit, match=f"LOCALSTRIPE_PORT='{re.escape(value)}' is not a port"):
        configured_ports(OFFLINE_KEYS, {"LOCALSTRIPE_PORT": value})


def test_two_services_on_one_port_are_refused_naming_both_variables() -> None:
    with pytest.raises(SystemExit, match="would both use port 5000") as refused:
        configured_ports(OFFLINE_KEYS, {"STRIPE_STANDIN_PORT": "5000"})
    assert "HOSTING_PORT" in str(refused.value) and "STRIPE_STANDIN_PORT" in str(refused.value)


def test_a_taken_port_is_named_with_what_wanted_it_and_the_variable_that_moves_it() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        ports = configured_ports(["hosting", "localstripe"], {"HOSTING_PORT": str(port)})
        with pytest.raises(SystemExit) as stopped:
            check_ports_free({"hosting": port})
    message = str(stopped.value)
    assert (
        f"port {port}, wanted by the Hosting emulator (the checkout page): "
        "move it with HOSTING_PORT=" in message
    )
    suggested = int(re.findall(r"HOSTING_PORT=(\d+)", message)[-1])
    assert suggested != port and suggested not in ports.values()
    assert f"HOSTING_PORT={suggested} make dev" in message


def test_make_dev_stops_before_starting_anything_when_a_port_is_taken() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        env = {**os.environ, "DEV_OFFLINE": "1", "LOCALSTRIPE_PORT": str(port)}
        result = subprocess.run(
            [sys.executable, str(ROOT / "dev" / "stack.py"), "dev"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode != 0
    assert (
        f"port {port}, wanted by localstripe (the offline Stripe API): "
        "move it with LOCALSTRIPE_PORT=" in result.stderr
    )


def test_free_ports_differ_and_are_reserved_against_other_processes() -> None:
    ports = free_ports(12)
    assert len(set(ports)) == 12
    # Another process (another stack, another test run) cannot reserve them while we live.
    script = (
        "import sys; from dev.stack import reserve; print([reserve(int(p)) for p in sys.argv[1:]])"
    )
    other = subprocess.run(
        [sys.executable, "-c", script, *map(str, ports)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert other.stdout.strip() == str([False] * 12)


# ---- the generated emulator config ----


def test_the_offline_config_follows_the_runs_ports() -> None:
    root_config = json.loads((ROOT / "firebase.json").read_text())
    ports = dict(zip(EMULATOR_KEYS, range(41001, 41001 + len(EMULATOR_KEYS)), strict=True))
    config = build_offline_site.offline_config(root_config, "http://127.0.0.1:41234", ports)
    emulators = config["emulators"]
    assert {name: emulators[name]["port"] for name in EMULATOR_KEYS} == ports
    assert "firestore" not in emulators and emulators["ui"] == {"enabled": False}
    (csp,) = [
        header["value"]
        for group in config["hosting"]["headers"]
        for header in group["headers"]
        if header["key"] == "Content-Security-Policy"
    ]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    for name in ("script-src", "connect-src", "frame-src"):
        assert "http://127.0.0.1:41234" in directives[name]
    assert "8421" not in csp


def test_real_stripe_dev_on_moved_ports_gets_a_config_with_them(tmp_path: Path) -> None:
    keys = (*EMULATOR_KEYS, "ui")
    ports = dict(zip(keys, range(42001, 42001 + len(keys)), strict=True))
    config_path = build_offline_site.build_online(tmp_path / "online", ports)
    config = json.loads(config_path.read_text())
    assert {name: config["emulators"][name]["port"] for name in ports} == ports
    assert config["emulators"]["ui"]["enabled"] is True
    # The real web/ and functions/ (with the developer's own .env.local), beside the config.
    assert (tmp_path / "online" / "functions").resolve() == ROOT / "functions"
    assert (tmp_path / "online" / "web").resolve() == ROOT / "web"
    production = json.loads((ROOT / "firebase.json").read_text())
    assert config["hosting"] == production["hosting"]


def test_the_e2e_stacks_functions_keep_the_catalog_briefly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests import a catalog change and reload: the functions must not serve their copy 30 s.
    monkeypatch.delenv("CATALOG_CACHE_SECONDS", raising=False)
    ports = {"firestore": 43001}
    assert Run(ports, tmp_path, E2E_FUNCTION_SETTINGS).offline_env()["CATALOG_CACHE_SECONDS"] == "1"
    assert "CATALOG_CACHE_SECONDS" not in Run(ports, tmp_path).offline_env()
    monkeypatch.setenv("CATALOG_CACHE_SECONDS", "5")  # the environment wins
    assert Run(ports, tmp_path, E2E_FUNCTION_SETTINGS).offline_env()["CATALOG_CACHE_SECONDS"] == "5"


def test_only_the_functions_load_the_write_recorder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bench/sale.py counts the documents the functions write: the Functions emulator's Python
    # workers get the recorder on their path; every process learns where it records.
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    env = Run({"firestore": 43001, "functions": 43002}, tmp_path).offline_env()
    assert env[WRITE_LOG_VARIABLE] == str(tmp_path / "firestore-writes")
    assert env["PYTHONPATH"] == "/elsewhere"
    functions = functions_env(env)
    assert functions["PYTHONPATH"] == os.pathsep.join([str(WRITE_RECORDER_DIR), "/elsewhere"])
    assert (WRITE_RECORDER_DIR / "sitecustomize.py").is_file()
    assert list(WRITE_RECORDER_DIR.glob("*.py")) == [WRITE_RECORDER_DIR / "sitecustomize.py"]
