"""Offline Stripe.js stand-in server (dev/test only; never deployed).

Serves `stripe-v3.js` at /v3/ and the few JSON endpoints that script calls. It does, with the
secret key and against localstripe, what real Stripe.js does in Stripe's own backend from the
browser with only a publishable key: create the PaymentMethod from the card data, confirm the
PaymentIntent, finish 3D Secure, and read the PaymentIntent back. localstripe cannot do that from a
browser itself (see /work/shared/notes/localstripe.md).

Every endpoint takes the PaymentIntent's client secret, like Stripe.js, and acts only when it
matches the PaymentIntent it names. Answers use Stripe.js's shapes: `{"paymentIntent": {...}}` or
`{"error": {"type", "code", "decline_code", "message", "payment_intent"}}`.

With the Address Element in shipping mode, the script sends its value as `shipping`, which goes
on the PaymentIntent before the confirm, as Stripe.js confirms with it.

Two stand-in-only test cards reach states localstripe cannot: 4000 0000 0000 1117 answers
`processing`, 4000 0000 0000 2222 `requires_action` (verify micro-deposits); see simulated_state().

Settings (environment): STRIPE_SECRET_KEY (sk_test_...), STRIPE_API_BASE (the localstripe URL;
required: this helper refuses to talk to real Stripe), optional STRIPE_PUBLISHABLE_KEY (when set,
requests must carry exactly this key). Run:

    STRIPE_SECRET_KEY=sk_test_x STRIPE_API_BASE=http://127.0.0.1:8420 \
        python dev/stripe_standin/server.py --port 8421 --allow-origin http://127.0.0.1:5000
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

SCRIPT_PATH = Path(__file__).with_name("stripe-v3.js")
DEFAULT_PORT = 8421
DEFAULT_ORIGINS = ("http://127.0.0.1:5000", "http://localhost:5000")

# The fields of a PaymentIntent that Stripe.js returns to a page holding only the client secret.
CLIENT_FIELDS = (
    "id",
    "object",
    "amount",
    "currency",
    "status",
    "client_secret",
    "created",
    "livemode",
    "capture_method",
    "payment_method",
    "last_payment_error",
    "next_action",
    "canceled_at",
    "shipping",
)
AUTHENTICATION_FAILED_MESSAGE = (
    "We are unable to authenticate your payment method. "
    "Please choose a different payment method and try again."
)


# Stand-in-only test cards for states localstripe cannot reach. On real Stripe a card never gets
# there, but other methods do: a US bank debit is `processing` for days, or `requires_action`
# until the shopper verifies micro-deposits. localstripe's PaymentIntent is left as it was; the
# stand-in remembers what it answered and shows it on every later read, as Stripe would.
CARD_PROCESSING = "4000000000001117"
CARD_REQUIRES_ACTION = "4000000000002222"


def simulated_state(card_number: str, intent_id: str) -> dict[str, Any] | None:
    if card_number == CARD_PROCESSING:
        return {"status": "processing", "last_payment_error": None, "next_action": None}
    if card_number == CARD_REQUIRES_ACTION:
        details = {
            "arrival_date": int(time.time()) + 2 * 86400,
            "hosted_verification_url": f"https://payments.stripe.com/microdeposit/pacs_test_{intent_id}",
            "microdeposit_type": "descriptor_code",
        }
        return {
            "status": "requires_action",
            "last_payment_error": None,
            "next_action": {
                "type": "verify_with_microdeposits",
                "verify_with_microdeposits": details,
            },
        }
    return None


class StripeError(Exception):
    """An error to return to the page in Stripe.js's `{error: {...}}` shape."""

    def __init__(self, http_status: int, error: dict[str, Any]) -> None:
        super().__init__(error.get("message", ""))
        self.http_status = http_status
        self.error = error


@dataclass(frozen=True)
class Settings:
    secret_key: str
    api_base: str
    publishable_key: str  # "" accepts any pk_...
    allowed_origins: frozenset[str]

    @classmethod
    def from_env(cls, allowed_origins: list[str]) -> Settings:
        secret_key = os.environ.get("STRIPE_SECRET_KEY", "")
        api_base = os.environ.get("STRIPE_API_BASE", "").rstrip("/")
        if not secret_key.startswith("sk_test_"):
            sys.exit("stripe stand-in: STRIPE_SECRET_KEY must be set to a test key (sk_test_...)")
        if not api_base or "stripe.com" in urllib.parse.urlsplit(api_base).netloc:
            # Real Stripe has real Stripe.js; this helper exists only for an offline stand-in API.
            sys.exit("stripe stand-in: STRIPE_API_BASE must point at localstripe, not at Stripe")
        return cls(
            secret_key,
            api_base,
            os.environ.get("STRIPE_PUBLISHABLE_KEY", ""),
            frozenset(allowed_origins),
        )


class Localstripe:
    """The handful of localstripe calls the helper needs, over plain HTTP."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _call(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, Any] | None = None,
        json_body: dict[str, Any] | None = None,
        publishable_key: str = "",
    ) -> dict[str, Any]:
        headers = {}
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if not publishable_key:
            headers["Authorization"] = f"Bearer {self.settings.secret_key}"
        request = urllib.request.Request(
            self.settings.api_base + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                answer: dict[str, Any] = json.load(response)
                return answer
        except urllib.error.HTTPError as e:
            body = json.loads(e.read() or b"{}")
            error = body.get("error") or {"type": "api_error", "message": str(e)}
            raise StripeError(e.code, error) from None
        except urllib.error.URLError as e:
            raise StripeError(
                502,
                {"type": "api_connection_error", "message": f"localstripe unreachable: {e.reason}"},
            ) from None

    def retrieve_intent(self, intent_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/payment_intents/{urllib.parse.quote(intent_id)}")

    def create_card_method(self, card: dict[str, Any]) -> dict[str, Any]:
        form = {
            "type": "card",
            **{f"card[{k}]": card[k] for k in ("number", "exp_month", "exp_year", "cvc")},
        }
        return self._call("POST", "/v1/payment_methods", form=form)

    def modify_intent(self, intent_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        # JSON rather than a form: localstripe accepts both, and only JSON can send null (see
        # below).
        return self._call("POST", f"/v1/payment_intents/{intent_id}", json_body=fields)

    def confirm_intent(self, intent_id: str) -> dict[str, Any]:
        return self._call("POST", f"/v1/payment_intents/{intent_id}/confirm", form={})

    def authenticate(
        self, intent_id: str, client_secret: str, success: bool, publishable_key: str
    ) -> dict[str, Any]:
        # Stripe's 3D Secure page is authorised by the publishable key and client secret, not sk_.
        query = urllib.parse.urlencode({"success": "true" if success else "false"})
        return self._call(
            "POST",
            f"/v1/payment_intents/{intent_id}/_authenticate?{query}",
            form={"key": publishable_key, "client_secret": client_secret},
            publishable_key=publishable_key,
        )


def client_view(intent: dict[str, Any]) -> dict[str, Any]:
    """What Stripe.js shows a page: no charges, metadata or customer."""
    view = {k: intent.get(k) for k in CLIENT_FIELDS}
    view["amount"] = int(intent["amount"])  # an integer, as from Stripe (see confirm())
    error = intent.get("last_payment_error")
    if error:
        view["last_payment_error"] = describe_failure(
            error.get("code", ""), error.get("message", "")
        )
    return view


def describe_failure(code: str, message: str) -> dict[str, Any]:
    """A Stripe-shaped error for a failed attempt, from localstripe's bare code and message."""
    if code == "payment_intent_authentication_failure":
        return {
            "type": "invalid_request_error",
            "code": code,
            "message": AUTHENTICATION_FAILED_MESSAGE,
        }
    if code == "card_declined":
        return {
            "type": "card_error",
            "code": code,
            "decline_code": "generic_decline",
            "message": message or "Your card was declined.",
        }
    return {
        "type": "card_error",
        "code": code or "processing_error",
        "message": message or "An error occurred while processing your card.",
    }


class StandIn:
    """The three operations, each checking the publishable key and the client secret first."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stripe = Localstripe(settings)
        self._simulated: dict[str, dict[str, Any]] = {}  # intent id -> fields shown instead
        self._lock = threading.Lock()

    def view(self, intent: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            simulated = self._simulated.get(intent["id"], {})
        return {**client_view(intent), **simulated}

    def simulate(self, intent_id: str, fields: dict[str, Any] | None) -> None:
        with self._lock:
            if fields is None:
                self._simulated.pop(intent_id, None)
            else:
                self._simulated[intent_id] = fields

    def check_key(self, key: Any) -> str:
        expected = self.settings.publishable_key
        if not isinstance(key, str) or not key.startswith("pk_") or (expected and key != expected):
            raise StripeError(
                401, {"type": "invalid_request_error", "message": "Invalid API Key provided."}
            )
        return key

    def intent_for_secret(self, client_secret: Any) -> dict[str, Any]:
        """The PaymentIntent the secret belongs to; the same answer for unknown and wrong
        secrets."""
        intent_id = client_secret.split("_secret_")[0] if isinstance(client_secret, str) else ""
        not_found = StripeError(
            400,
            {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": "No such payment_intent; check the client secret.",
            },
        )
        if not intent_id.startswith("pi_") or "/" in intent_id:
            raise not_found
        try:
            intent = self.stripe.retrieve_intent(intent_id)
        except StripeError as e:
            if e.http_status == 404:
                raise not_found from None
            raise
        if not hmac.compare_digest(str(intent.get("client_secret", "")), client_secret):
            raise not_found
        return intent

    def retrieve(self, body: dict[str, Any]) -> dict[str, Any]:
        self.check_key(body.get("key"))
        return {"paymentIntent": self.view(self.intent_for_secret(body.get("client_secret")))}

    def confirm(self, body: dict[str, Any]) -> dict[str, Any]:
        self.check_key(body.get("key"))
        intent = self.intent_for_secret(body.get("client_secret"))
        status = self.view(intent)["status"]
        if status not in ("requires_payment_method", "requires_confirmation", "requires_action"):
            raise StripeError(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "payment_intent_unexpected_state",
                    "message": (
                        "You cannot confirm this PaymentIntent because it has a status of "
                        f"{status}."
                    ),
                    "payment_intent": self.view(intent),
                },
            )
        card = parse_card(body.get("card"))
        shipping = body.get("shipping")  # the Address Element's value, in shipping mode
        if shipping is not None and not isinstance(shipping, dict):
            raise StripeError(
                400, {"type": "invalid_request_error", "message": "shipping must be an object."}
            )
        simulated = simulated_state(card["number"], intent["id"])
        self.simulate(intent["id"], simulated)
        if simulated:
            return {"paymentIntent": self.view(intent)}
        method = self.stripe.create_card_method(card)
        # Real Stripe lets a shopper retry with a new card after a decline or an abandoned 3D Secure
        # challenge. localstripe only confirms from `requires_confirmation`, which it derives from a
        # failed charge or a pending next_action still being there: clear those (null needs JSON).
        fields: dict[str, Any] = {"payment_method": method["id"]}
        if shipping is not None:
            # Stripe.js confirms with `shipping`; localstripe takes it only on update (through
            # dev/localstripe_server.py), so it goes on just before the confirm.
            fields["shipping"] = shipping
        charge = intent.get("latest_charge")
        if isinstance(charge, dict) and charge.get("status") == "failed":
            fields["latest_charge"] = None
        if intent.get("next_action"):
            fields["next_action"] = None
        if isinstance(intent.get("amount"), str):
            # localstripe stores an amount changed by a form-encoded update as a string, and then
            # sends it so in webhook events; Stripe's amounts are integers. Fixed before the charge.
            fields["amount"] = int(intent["amount"])
        self.stripe.modify_intent(intent["id"], fields)
        try:
            intent = self.stripe.confirm_intent(intent["id"])
        except StripeError as e:
            if e.http_status != 402:
                raise
            intent = self.stripe.retrieve_intent(intent["id"])
            raise StripeError(
                402,
                {
                    **describe_failure(e.error.get("code", ""), e.error.get("message", "")),
                    "payment_intent": client_view(intent),
                },
            ) from None
        return {"paymentIntent": client_view(intent)}

    def authenticate(self, body: dict[str, Any]) -> dict[str, Any]:
        key = self.check_key(body.get("key"))
        intent = self.intent_for_secret(body.get("client_secret"))
        if intent["status"] != "requires_action":
            raise StripeError(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "payment_intent_unexpected_state",
                    "message": "This PaymentIntent does not need authentication.",
                    "payment_intent": client_view(intent),
                },
            )
        intent = self.stripe.authenticate(
            intent["id"], intent["client_secret"], body.get("success") is True, key
        )
        error = intent.get("last_payment_error")
        if intent["status"] == "requires_payment_method" and error:
            raise StripeError(
                402,
                {
                    **describe_failure(error.get("code", ""), error.get("message", "")),
                    "payment_intent": client_view(intent),
                },
            )
        return {"paymentIntent": client_view(intent)}


def parse_card(card: Any) -> dict[str, Any]:
    """The card fields localstripe requires, checked (the page-side script validated them
    already)."""
    try:
        number, cvc = str(card["number"]), str(card["cvc"])
        month, year = int(card["exp_month"]), int(card["exp_year"])
    except (KeyError, TypeError, ValueError):
        raise StripeError(
            400,
            {
                "type": "validation_error",
                "code": "incomplete",
                "message": "Your card details are incomplete.",
            },
        ) from None
    if not (
        number.isdigit()
        and len(number) == 16
        and cvc.isdigit()
        and len(cvc) == 3
        and 1 <= month <= 12
        and 2000 <= year < 2100
    ):
        raise StripeError(
            400,
            {
                "type": "validation_error",
                "code": "invalid_number",
                "message": "Your card details are invalid.",
            },
        )
    return {"number": number, "exp_month": month, "exp_year": year, "cvc": cvc}


class Handler(BaseHTTPRequestHandler):
    standin: StandIn  # set by make_server
    routes: ClassVar[dict[str, Callable[[StandIn, dict[str, Any]], dict[str, Any]]]] = {
        "/v1/confirm": StandIn.confirm,
        "/v1/authenticate": StandIn.authenticate,
        "/v1/retrieve": StandIn.retrieve,
    }

    def _cors(self) -> None:
        origin = self.headers.get("Origin", "")
        if origin in self.standin.settings.allowed_origins:
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
            self.send_header("Access-Control-Allow-Headers", "Content-Type")
            self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Vary", "Origin")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self._cors()
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def do_OPTIONS(self) -> None:  # CORS preflight for the JSON POSTs
        self.send_response(204)
        self._cors()
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        if path in ("/v3", "/v3/"):
            self._send(200, SCRIPT_PATH.read_bytes(), "text/javascript; charset=utf-8")
        elif path == "/healthz":
            self._json(200, {"ok": True})
        else:
            self._json(404, {"error": {"type": "invalid_request_error", "message": "Not found"}})

    def do_POST(self) -> None:
        operation = self.routes.get(urllib.parse.urlsplit(self.path).path)
        if operation is None:
            self._json(404, {"error": {"type": "invalid_request_error", "message": "Not found"}})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(min(length, 64 * 1024)) or b"{}")
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            self._json(
                400, {"error": {"type": "invalid_request_error", "message": "Send a JSON object."}}
            )
            return
        try:
            self._json(200, operation(self.standin, body))
        except StripeError as e:
            self._json(e.http_status, {"error": e.error})

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines only: bodies (card data, client secrets) are never logged.
        sys.stderr.write(f"stripe-standin: {format % args}\n")


def make_server(
    settings: Settings, host: str = "127.0.0.1", port: int = DEFAULT_PORT
) -> ThreadingHTTPServer:
    handler = type("BoundHandler", (Handler,), {"standin": StandIn(settings)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--allow-origin",
        action="append",
        dest="origins",
        help=(
            "page origin allowed to call the JSON endpoints "
            f"(repeatable; default {', '.join(DEFAULT_ORIGINS)})"
        ),
    )
    args = parser.parse_args(argv)
    settings = Settings.from_env(args.origins or list(DEFAULT_ORIGINS))
    server = make_server(settings, args.host, args.port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop cleanly when the dev stack ends us
    print(
        f"stripe stand-in: http://{args.host}:{server.server_port}/v3/ -> {settings.api_base}",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
