"""Counting the Firestore RPCs a piece of code really makes, for the tests and the bench.

The client's transport keeps one gapic wrapper per RPC (retry, timeout, metadata) around the raw
gRPC stub. Each wrapper calls its stub through `_target` once per attempt, so replacing `_target`
with a counting proxy counts every request that goes on the wire, the client's own retries
included, and nothing that stays in process.
"""

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from google.cloud import firestore


class RpcCounter:
    """RPCs by method name (BatchGetDocuments, BeginTransaction, Commit, ...), thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[str] = []

    def record(self, method: str) -> None:
        with self._lock:
            self._calls.append(method)

    @property
    def calls(self) -> list[str]:
        with self._lock:
            return list(self._calls)

    def by_method(self) -> Counter[str]:
        return Counter(self.calls)

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        """The calls made inside the block, in order (filled in when the block ends)."""
        before = len(self.calls)
        made: list[str] = []
        try:
            yield made
        finally:
            made.extend(self.calls[before:])


def _method_name(stub: Any) -> str:
    path = getattr(stub, "_method", b"")
    path = path.decode() if isinstance(path, bytes) else str(path)
    return path.rsplit("/", 1)[-1] or repr(stub)


@contextmanager
def count_rpcs(client: firestore.Client) -> Iterator[RpcCounter]:
    """Count `client`'s RPCs inside the block; the client is restored afterwards."""
    counter = RpcCounter()
    transport = client._firestore_api._transport
    originals: list[tuple[Any, Callable[..., Any]]] = []
    for stub, wrapped in transport._wrapped_methods.items():
        target = wrapped._target
        name = _method_name(stub)

        def counted(*args: Any, _name: str = name, _target: Any = target, **kwargs: Any) -> Any:
            counter.record(_name)
            return _target(*args, **kwargs)

        originals.append((wrapped, target))
        wrapped._target = counted
    try:
        yield counter
    finally:
        for wrapped, target in originals:
            wrapped._target = target
