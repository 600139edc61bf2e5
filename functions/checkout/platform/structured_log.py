"""Structured logs for Cloud Logging: one JSON object per line, each written in one piece.

The entries look like firebase_functions.logger's (`severity`, `message`, plus fields), but
that logger print()s the JSON and its newline as two writes, so entries of concurrent requests
(an instance serves many at once) can land on one line and stop being JSON; `make bench`
showed it. Never pass card data, client secrets or keys as fields.
"""

import json
import sys
from typing import Any


def _write(severity: str, message: str, fields: dict[str, Any]) -> None:
    stream = sys.stderr if severity == "ERROR" else sys.stdout
    entry = {"severity": severity, "message": message, **fields}
    stream.write(json.dumps(entry, ensure_ascii=False, default=str) + "\n")
    stream.flush()


def info(message: str, **fields: Any) -> None:
    _write("INFO", message, fields)


def warn(message: str, **fields: Any) -> None:
    _write("WARNING", message, fields)


def error(message: str, **fields: Any) -> None:
    _write("ERROR", message, fields)
