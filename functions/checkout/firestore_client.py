"""One Firestore client per process, created on first use (not at import: cold start)."""

from functools import cache

from firebase_functions.params import PROJECT_ID
from google.cloud import firestore


@cache
def db() -> firestore.Client:
    # With FIRESTORE_EMULATOR_HOST set (emulator, tests) the client talks to the emulator.
    return firestore.Client(project=PROJECT_ID.value or None)
