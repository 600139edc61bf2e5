"""One Firestore client per process, created on first use (not at import: cold start)."""

from functools import cache

from firebase_functions.params import PROJECT_ID
from google.api_core import exceptions
from google.cloud import firestore


@cache
def db() -> firestore.Client:
    # With FIRESTORE_EMULATOR_HOST set (emulator, tests) the client talks to the emulator.
    return firestore.Client(project=PROJECT_ID.value or None)


def is_contention(error: BaseException) -> bool:
    """Whether a transaction failed by losing to concurrent ones (worth a retry later).

    The client reports an aborted commit as Aborted, or, once its attempts are used up, as a
    ValueError caused by Aborted.
    """
    return isinstance(error, exceptions.Aborted) or isinstance(error.__cause__, exceptions.Aborted)
