"""Servers a test owns alone: a Firestore emulator it may stop, a webhook function on its port.

Started through dev/stack.py's Service (own process group, log in .run/logs/, readiness wait),
on free ports, so they never disturb the shared emulator and localstripe of `make test`.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from google.cloud import firestore

from dev.stack import PROJECT_ID, ROOT, VENV_BIN, Service, firestore_emulator, free_port, http_ok


class PrivateFirestore:
    """A Firestore emulator of our own, which can be stopped and restarted with its data."""

    def __init__(self, rules: Path = ROOT / "firestore.rules") -> None:
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.rules = rules
        self.service: Service | None = None

    def start(self, seed_from_export: Path | None = None) -> None:
        self.service = firestore_emulator(
            self.port,
            (free_port(), free_port()),
            seed_from_export=seed_from_export,
            rules=self.rules,
            name="firestore-private",
        )
        self.service.start(dict(os.environ))
        self.service.wait_ready()

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None

    def export(self, directory: Path) -> Path:
        """Write the data to `directory`; returns the file --seed_from_export takes."""
        response = requests.post(
            f"http://{self.host}/emulator/v1/projects/{PROJECT_ID}:export",
            json={
                "database": f"projects/{PROJECT_ID}/databases/(default)",
                "export_directory": str(directory),
            },
            timeout=30,
        )
        response.raise_for_status()
        (metadata,) = directory.glob("*/*.overall_export_metadata")
        return metadata

    def client(self) -> firestore.Client:
        # The client reads FIRESTORE_EMULATOR_HOST once, when it is created.
        saved = os.environ.get("FIRESTORE_EMULATOR_HOST")
        os.environ["FIRESTORE_EMULATOR_HOST"] = self.host
        try:
            return firestore.Client(project=PROJECT_ID)
        finally:
            if saved is None:
                del os.environ["FIRESTORE_EMULATOR_HOST"]
            else:
                os.environ["FIRESTORE_EMULATOR_HOST"] = saved


@contextmanager
def private_firestore(rules: Path = ROOT / "firestore.rules") -> Iterator[PrivateFirestore]:
    emulator = PrivateFirestore(rules)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@contextmanager
def webhook_server(env: dict[str, str]) -> Iterator[str]:
    """functions-framework serving stripe_webhook, as a separate process; yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/stripe-webhook"
    service = Service(
        "stripe-webhook-private",
        [
            str(VENV_BIN / "functions-framework"),
            "--target",
            "stripe_webhook",
            "--source",
            str(ROOT / "functions" / "main.py"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        http_ok(url),  # a GET gets 405 from the function: it is up
    )
    service.start({**os.environ, **env})
    try:
        service.wait_ready()
        yield url
    finally:
        service.stop()
