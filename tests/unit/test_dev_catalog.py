"""dev/catalog.py (`make catalog`) and the stacks' seed, without servers."""

import subprocess
from pathlib import Path

import pytest

from dev import stack
from dev.catalog import catalog_env, command_args


def test_make_catalog_talks_to_make_devs_firestore() -> None:
    env = catalog_env({"DEV_OFFLINE": "1"})
    assert env["FIRESTORE_EMULATOR_HOST"] == "127.0.0.1:8080"
    assert env["GCLOUD_PROJECT"] == stack.PROJECT_ID
    moved = catalog_env({"DEV_OFFLINE": "1", "FIRESTORE_PORT": "8181"})
    assert moved["FIRESTORE_EMULATOR_HOST"] == "127.0.0.1:8181"
    given = catalog_env({"DEV_OFFLINE": "1", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9"})
    assert given["FIRESTORE_EMULATOR_HOST"] == "127.0.0.1:9"  # the environment wins


def test_the_file_is_found_from_where_make_ran() -> None:
    cwd = Path("/home/owner/shop")
    assert command_args(["import", "catalog.json", "--dry-run"], cwd) == [
        "import",
        "/home/owner/shop/catalog.json",
        "--dry-run",
    ]
    assert command_args(["import", "/srv/shop/c.json"], cwd) == ["import", "/srv/shop/c.json"]
    assert command_args(["export"], cwd) == ["export"]
    assert command_args(["import", "--dry-run"], cwd) == ["import", "--dry-run"]


def test_no_seed_in_stripe_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the import ran")

    monkeypatch.setattr(subprocess, "run", refuse)
    stack.seed_catalog({"CATALOG_SOURCE": "stripe"})
