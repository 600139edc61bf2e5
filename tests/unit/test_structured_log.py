"""Log entries are single JSON lines, even when many threads log at once."""

import json
import sys
import threading
from pathlib import Path

import pytest

from checkout.platform import structured_log


def test_entry_shape(capsys: pytest.CaptureFixture[str]) -> None:
    structured_log.info("payment intent created", paymentIntentId="pi_1", amount=500)
    structured_log.error("missing configuration", setting="STRIPE_SECRET_KEY")
    out, err = capsys.readouterr()
    assert json.loads(out) == {
        "severity": "INFO",
        "message": "payment intent created",
        "paymentIntentId": "pi_1",
        "amount": 500,
    }
    assert json.loads(err)["severity"] == "ERROR"


def test_concurrent_entries_never_share_a_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A real file, as under gunicorn, and frequent thread switches: print()'s two writes
    # (firebase_functions.logger) interleave here; one write per entry does not.
    sink = (tmp_path / "stdout").open("w")  # block-buffered, as when stdout is not a tty
    monkeypatch.setattr("sys.stdout", sink)

    def log_many() -> None:
        for n in range(2000):
            structured_log.info("order fulfilled", orderId=f"pi_{n}", padding="x" * 200)

    threads = [threading.Thread(target=log_many) for _ in range(8)]
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch_interval)
        sink.close()
    lines = (tmp_path / "stdout").read_text().splitlines()
    assert len(lines) == 8 * 2000
    assert all(json.loads(line)["message"] == "order fulfilled" for line in lines)
