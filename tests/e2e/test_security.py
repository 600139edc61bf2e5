"""Headers served by the Hosting emulator, the production CSP in firebase.json, and what web/
holds."""

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
import requests

from tests.e2e.conftest import BASE_URL, ROOT
from tests.page_weight import GZIPPED_BUDGET, gzipped_size, our_files

WEB = ROOT / "web"
# Where the offline build adds the stand-in's origin.
STANDIN_DIRECTIVES = {"script-src", "connect-src", "frame-src"}


def parse_csp(policy: str) -> dict[str, set[str]]:
    directives: dict[str, set[str]] = {}
    for part in policy.split(";"):
        if part.strip():
            name, *sources = part.split()
            directives[name] = set(sources)
    return directives


def production_headers() -> dict[str, str]:
    """The headers firebase.json sends with every response (source "**")."""
    config = json.loads((ROOT / "firebase.json").read_text())
    for group in config["hosting"]["headers"]:
        if group["source"] == "**":
            return {h["key"]: h["value"] for h in group["headers"]}
    raise AssertionError('firebase.json has no headers for source "**"')


# The whole production policy: 'self', what Stripe.js needs, and what Stripe's Address Element
# needs for its address autocomplete (https://maps.googleapis.com in script-src and connect-src,
# as Stripe's security guide lists it; docs/security.md). Nothing else.
ADDRESS_AUTOCOMPLETE = "https://maps.googleapis.com"
PRODUCTION_CSP = {
    "default-src": {"'self'"},
    "script-src": {
        "'self'",
        "https://js.stripe.com",
        "https://*.js.stripe.com",
        ADDRESS_AUTOCOMPLETE,
    },
    "style-src": {"'self'"},
    "img-src": {"'self'", "data:", "https://*.stripe.com"},
    "font-src": {"'self'"},
    "connect-src": {"'self'", "https://api.stripe.com", ADDRESS_AUTOCOMPLETE},
    "frame-src": {"https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"},
    "object-src": {"'none'"},
    "base-uri": {"'none'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}


def test_production_csp_is_exactly_stripes_needs_and_the_address_autocomplete() -> None:
    assert parse_csp(production_headers()["Content-Security-Policy"]) == PRODUCTION_CSP


def test_production_csp_is_strict() -> None:
    csp = parse_csp(production_headers()["Content-Security-Policy"])
    for directive in ("default-src", "script-src"):
        assert not csp[directive] & {
            "'unsafe-inline'",
            "'unsafe-eval'",
            "*",
            "http:",
            "https:",
            "data:",
        }
    assert csp["script-src"] == {
        "'self'",
        "https://js.stripe.com",
        "https://*.js.stripe.com",
        ADDRESS_AUTOCOMPLETE,
    }
    assert csp["connect-src"] == {"'self'", "https://api.stripe.com", ADDRESS_AUTOCOMPLETE}
    assert {"https://js.stripe.com", "https://hooks.stripe.com"} <= csp["frame-src"]
    assert csp["frame-ancestors"] == {"'none'"}
    assert csp["object-src"] == {"'none'"}
    assert "base-uri" in csp and "form-action" in csp
    everything = " ".join(" ".join(s) for s in csp.values())
    assert "http://" not in everything, (
        "no plain-http origin (such as the offline stand-in) in production"
    )


def test_hosting_serves_the_production_headers_with_only_the_standin_added(
    stack: dict[str, Any],
) -> None:
    expected = production_headers()
    production_csp = parse_csp(expected.pop("Content-Security-Policy"))
    for path in ("/", "/app.js", "/styles.css", "/api/config"):
        response = requests.get(BASE_URL + path, timeout=10)
        assert response.status_code == 200, path
        served_csp = parse_csp(response.headers["Content-Security-Policy"])
        assert served_csp.keys() == production_csp.keys(), path
        for name, sources in production_csp.items():
            added = {stack["standinOrigin"]} if name in STANDIN_DIRECTIVES else set()
            assert served_csp[name] == sources | added, (path, name)
        for key, value in expected.items():
            assert response.headers.get(key) == value, (path, key)


@pytest.mark.parametrize(
    ("path", "cache"), [("/", "no-cache"), ("/app.js", "max-age="), ("/styles.css", "max-age=")]
)
def test_cache_headers(path: str, cache: str) -> None:
    header = requests.get(BASE_URL + path, timeout=10).headers["Cache-Control"]
    assert cache in header
    if match := re.search(r"max-age=(\d+)", header):
        assert int(match.group(1)) <= 3600, "scripts and styles must update within the hour"


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline_problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.scripts.append(attributes)
        for name in attributes:
            if name.startswith("on") or name == "style":
                self.inline_problems.append(f"<{tag} {name}>")

    def handle_data(self, data: str) -> None:
        if self.lasttag == "script" and data.strip():
            self.inline_problems.append("inline <script> body")


def test_page_has_no_inline_script_or_style_and_loads_stripe_js_from_stripe() -> None:
    markup = _Markup()
    markup.feed((WEB / "index.html").read_text())
    assert not markup.inline_problems
    sources = [s.get("src") for s in markup.scripts]
    assert None not in sources
    assert sources.count("https://js.stripe.com/v3/") == 1
    assert '<script src="https://js.stripe.com/v3/"></script>' in (WEB / "index.html").read_text()
    assert "<style" not in (WEB / "index.html").read_text()


def test_no_secret_in_web() -> None:
    secret = re.compile(r"\b(sk|rk)_(test|live)_[0-9A-Za-z]+|\bwhsec_[0-9A-Za-z]+")
    found = [
        f"{p.relative_to(ROOT)}: {m.group(0)[:12]}..."
        for p in WEB.rglob("*")
        if p.is_file()
        for m in secret.finditer(p.read_text(errors="replace"))
    ]
    assert not found


def test_no_secret_in_the_public_config(stack: dict[str, Any]) -> None:
    assert stack["publishableKey"].startswith("pk_")
    assert not re.search(r"(sk|rk)_(test|live)_|whsec_", json.dumps(stack))


def test_page_stays_small_as_shoppers_download_it() -> None:
    # Counted gzipped, as Hosting serves it (tests/page_weight.py), so comments cost little.
    sizes = {p.name: gzipped_size(p) for p in our_files()}
    assert sum(sizes.values()) <= GZIPPED_BUDGET, (
        f"web/ is {sum(sizes.values())} bytes gzipped {sizes}; the budget is {GZIPPED_BUDGET}"
    )
