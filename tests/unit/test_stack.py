"""dev/stack.py stops every service it started, whatever ends the run."""

import os
import signal
import subprocess
from pathlib import Path

import pytest

from dev.stack import Service, Stack


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


def test_every_service_and_its_children_stop_when_the_run_fails() -> None:
    services = [sleeper("a"), sleeper("b")]
    with pytest.raises(RuntimeError), Stack(services, dict(os.environ)):
        raise RuntimeError("a test run fails")
    assert not any(alive(s.process) for s in services)


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
    assert not alive(first.process) and not alive(second.process)
