"""Dev and bench only: record the path of every document each Firestore commit writes.

dev/stack.py puts this folder on the Python path of the Functions emulator (and only there), so
each function's Python process imports this module when it starts. It does nothing unless
FIRESTORE_WRITE_LOG names a folder and FUNCTION_TARGET is set (a function's worker). Then, once
the Firestore client is imported, every Commit that succeeds appends one line per document it
wrote (`<function>\t<path>`) to FOLDER/<pid>.log, but only while that folder exists: bench/sale.py
creates it for the sale and reads it afterwards, so other runs record nothing. Deployed
functions never load this: nothing in functions/ refers to it.

Commits are what the functions write with (batches and transactions); BatchWrite (BulkWriter)
is not counted, as nothing in functions/ uses it.
"""

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

VARIABLE = "FIRESTORE_WRITE_LOG"
CLIENT_MODULE = "google.cloud.firestore_v1.services.firestore.client"


def written_paths(request: Any) -> list[str]:
    """The documents a Commit request writes, as paths below `documents/`."""
    writes: Sequence[Any] = (
        request.get("writes") if isinstance(request, dict) else getattr(request, "writes", None)
    ) or []
    paths = []
    for write in writes:
        raw = write if hasattr(write, "WhichOneof") else type(write).pb(write)
        kind = raw.WhichOneof("operation")
        if kind == "update":
            name = raw.update.name
        elif kind == "delete":
            name = raw.delete
        elif kind == "transform":
            name = raw.transform.document
        else:
            continue
        paths.append(name.split("/documents/", 1)[-1])
    return paths


def log_lines(function: str, paths: Sequence[str]) -> bytes:
    return "".join(f"{function}\t{path}\n" for path in paths).encode()


def recording(commit: Callable[..., Any], folder: str, function: str) -> Callable[..., Any]:
    """`commit`, appending what each successful call wrote to FOLDER/<pid>.log."""

    def recorded(self: Any, request: Any = None, *args: Any, **kwargs: Any) -> Any:
        response = commit(self, request, *args, **kwargs)
        if os.path.isdir(folder):
            lines = log_lines(function, written_paths(request))
            log = os.path.join(folder, f"{os.getpid()}.log")
            descriptor = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(descriptor, lines)  # one append per commit: lines never interleave
            finally:
                os.close(descriptor)
        return response

    return recorded


class _PatchOnImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the Firestore client module normally, then wraps its commit (no import of the
    client at start: the functions' cold start stays as it is)."""

    def __init__(self, folder: str, function: str) -> None:
        self.folder, self.function = folder, function
        self._loader: Any = None

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != CLIENT_MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        self._loader, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        created: ModuleType | None = self._loader.create_module(spec)
        return created

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        client = module.FirestoreClient
        client.commit = recording(client.commit, self.folder, self.function)


def install(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    folder, function = environ.get(VARIABLE), environ.get("FUNCTION_TARGET")
    if not folder or not function:
        return False
    sys.meta_path.insert(0, _PatchOnImport(folder, function))
    return True


install()
