"""`make catalog` (dev/catalog.py) finds `make dev`'s Firestore, and the stacks start seeded
with catalog.json."""

import os
import subprocess
import sys

import pytest
from google.cloud import firestore

from checkout.platform.collections import PRODUCTS
from tests.conftest import ROOT

SAMPLE_TEXT = (ROOT / "catalog.json").read_text(encoding="utf-8")

# Each test writes the products it needs.
pytestmark = pytest.mark.without_sample_catalog


def test_a_test_stack_starts_with_the_sample_catalog_imported() -> None:
    # A stack of its own (the shared one is emptied before every test); dev/catalog.py run
    # inside it talks to its emulator, since FIRESTORE_EMULATOR_HOST from the environment wins.
    stack = subprocess.run(
        [sys.executable, "dev/stack.py", "test", "--", sys.executable, "dev/catalog.py", "export"],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert stack.returncode == 0, stack.stdout[-2000:] + stack.stderr[-2000:]
    assert stack.stdout == SAMPLE_TEXT


def test_make_catalog_imports_into_make_devs_firestore_by_its_port(
    firestore_db: firestore.Client,
) -> None:
    # As a developer's shell has it: no FIRESTORE_EMULATOR_HOST, make dev's port moved by
    # FIRESTORE_PORT (here: this run's emulator), the file named relative to the repository.
    host = os.environ["FIRESTORE_EMULATOR_HOST"]
    env = {k: v for k, v in os.environ.items() if k != "FIRESTORE_EMULATOR_HOST"}
    env |= {"FIRESTORE_PORT": host.rsplit(":", 1)[1], "DEV_OFFLINE": "1"}
    dry = subprocess.run(
        [sys.executable, "dev/catalog.py", "import", "catalog.json", "--dry-run"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    assert "dry run: 3 added" in dry.stdout
    assert list(firestore_db.collection(PRODUCTS).stream()) == []
    imported = subprocess.run(
        [sys.executable, "dev/catalog.py", "import", "catalog.json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    stored = {s.id for s in firestore_db.collection(PRODUCTS).stream()}
    assert stored == {"tee-classic", "mug-enamel", "sticker-pack"}
