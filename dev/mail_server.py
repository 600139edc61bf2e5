"""The local SMTP server of `make dev` and the test stacks: each message it receives is kept.

    python dev/mail_server.py --port 2525 --folder .run/dev-5000/mail

A real SMTP server (aiosmtpd) on 127.0.0.1, no TLS, no login, that accepts every message and
writes it to the folder as NNNN.eml (the message as received), with its HTML part beside it as
NNNN.html, to open in a browser. Files appear whole (written, then renamed), in arrival order.
"""

import argparse
import email
import email.policy
import itertools
import signal
import sys
import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class KeepInFolder:
    """aiosmtpd's handler: every message becomes a file in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.numbers = itertools.count(1)
        self.lock = threading.Lock()

    def keep(self, content: bytes) -> Path:
        with self.lock:
            number = next(self.numbers)
        name = f"{number:04d}"
        message = email.message_from_bytes(content, policy=email.policy.default)
        html = message.get_body(("html",)) if isinstance(message, EmailMessage) else None
        if html is not None:
            self._write(f"{name}.html", str(html.get_content()).encode())
        return self._write(f"{name}.eml", content)

    def _write(self, name: str, content: bytes) -> Path:
        path = self.folder / name
        partial = self.folder / f".{name}.part"
        partial.write_bytes(content)
        partial.replace(path)
        return path

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        content = envelope.original_content or b""
        path = self.keep(content)
        print(f"kept {path.name} ({len(content)} bytes)", flush=True)
        return "250 Message accepted for delivery"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args(argv)
    args.folder.mkdir(parents=True, exist_ok=True)
    controller = Controller(KeepInFolder(args.folder), hostname="127.0.0.1", port=args.port)
    controller.start()
    print(f"SMTP on 127.0.0.1:{args.port}, keeping mail in {args.folder}", flush=True)
    stopped = threading.Event()

    def stop(*_: Any) -> None:
        stopped.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    stopped.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
