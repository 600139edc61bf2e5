"""Telling contention (retry later: 503) from other Firestore failures."""

from google.api_core import exceptions

from checkout.platform.firestore_client import is_contention


def test_aborted_is_contention() -> None:
    assert is_contention(exceptions.Aborted("Transaction lock timeout"))


def test_attempts_used_up_is_contention() -> None:
    # How google-cloud-firestore reports a transaction that lost every attempt.
    try:
        try:
            raise exceptions.Aborted("Transaction lock timeout")
        except exceptions.Aborted as aborted:
            raise ValueError("Failed to commit transaction in 10 attempts.") from aborted
    except ValueError as error:
        assert is_contention(error)


def test_other_errors_are_not_contention() -> None:
    assert not is_contention(ValueError("bad document path"))
    assert not is_contention(exceptions.ServiceUnavailable("down"))
