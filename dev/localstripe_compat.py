"""A small proxy in front of localstripe that adds what the reconciler needs and it lacks.

localstripe refuses `cancellation_reason` on `POST /v1/payment_intents/{id}/cancel` (400
"Unexpected cancellation_reason"), which real Stripe accepts, and its PaymentIntents have no
`cancellation_reason` field. This proxy drops the parameter on the way in, remembers it, and
puts it back on every PaymentIntent it passes on (retrieve, list, events, nested objects).
Everything else goes through untouched. Dev and tests only: production talks to Stripe.

    python dev/localstripe_compat.py --upstream http://127.0.0.1:8420 --port 0
"""

import argparse
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_CANCEL = re.compile(r"^/v1/payment_intents/(?P<id>pi_[A-Za-z0-9_]+)/cancel$")
_FORWARDED_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "Stripe-Version")


class CompatState:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.reasons: dict[str, str] = {}
        self.lock = threading.Lock()

    def patch(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.patch(item) for item in value]
        if not isinstance(value, dict):
            return value
        patched = {key: self.patch(item) for key, item in value.items()}
        if patched.get("object") == "payment_intent":
            with self.lock:
                reason = self.reasons.get(str(patched.get("id")))
            if reason and patched.get("status") == "canceled":
                patched["cancellation_reason"] = reason
        return patched


def handler_for(state: CompatState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = urllib.parse.urlsplit(self.path).path
            reason = None
            if self.command == "POST" and (match := _CANCEL.match(path)):
                form = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)
                reason = next((v for k, v in form if k == "cancellation_reason"), None)
                body = urllib.parse.urlencode(
                    [(k, v) for k, v in form if k != "cancellation_reason"]
                ).encode()
                pi_id = match["id"]
            request = urllib.request.Request(
                state.upstream + self.path,
                data=body if self.command != "GET" else None,
                method=self.command,
                headers={h: v for h in _FORWARDED_HEADERS if (v := self.headers.get(h))},
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status, payload = response.status, response.read()
            except urllib.error.HTTPError as error:
                status, payload = error.code, error.read()
            if reason and status == 200:
                with state.lock:
                    state.reasons[pi_id] = reason
            with suppress(ValueError):  # not JSON: passed on as it is
                payload = json.dumps(state.patch(json.loads(payload))).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _forward  # noqa: N815 - http.server's names

    return Handler


@contextmanager
def compat_proxy(upstream: str, port: int = 0) -> Iterator[str]:
    """Serve the proxy on 127.0.0.1 (a free port by default); yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(CompatState(upstream)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--upstream", default="http://127.0.0.1:8420")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with compat_proxy(args.upstream, args.port) as url:
        print(url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
