"""The JSON/HTTP conventions, checked on Flask requests built in memory (no server)."""

import json

import pytest
from flask import Flask, Request, Response

from checkout.platform.errors import ApiError
from checkout.platform.http_json import (
    MAX_BODY_BYTES,
    cors_headers,
    guarded,
    json_response,
    read_json_body,
    require_method,
)
from checkout.platform.settings import MissingSetting

app = Flask(__name__)


def request(
    method: str = "POST", data: bytes = b"{}", content_type: str = "application/json", **kw: str
) -> Request:
    with app.test_request_context(
        "/api/x", method=method, data=data, content_type=content_type, headers=kw
    ) as context:
        return context.request


def error_of(call: object) -> ApiError:
    assert callable(call)
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


def test_json_body_is_parsed() -> None:
    assert read_json_body(request(data=b'{"a": 1}')) == {"a": 1}


def test_wrong_content_type_is_415() -> None:
    error = error_of(lambda: read_json_body(request(content_type="text/plain")))
    assert (error.status, error.code) == (415, "unsupported_media_type")


@pytest.mark.parametrize("data", [b"{", b"\xff\xfe", b"", b"nan-sense"])
def test_invalid_json_is_400(data: bytes) -> None:
    error = error_of(lambda: read_json_body(request(data=data)))
    assert (error.status, error.code) == (400, "invalid_json")


def test_body_over_16_kib_is_413() -> None:
    data = json.dumps({"pad": "x" * MAX_BODY_BYTES}).encode()
    error = error_of(lambda: read_json_body(request(data=data)))
    assert (error.status, error.code) == (413, "body_too_large")


def test_body_of_exactly_16_kib_is_read() -> None:
    data = b'"' + b"x" * (MAX_BODY_BYTES - 2) + b'"'
    assert len(read_json_body(request(data=data))) == MAX_BODY_BYTES - 2


def test_wrong_method_names_the_allowed_ones() -> None:
    def get_only() -> Response:
        require_method(request("PUT"), ["GET"])
        return json_response(200, {})

    response = guarded(get_only, {})
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_api_error_becomes_json() -> None:
    def fail() -> Response:
        raise ApiError(409, "checkout_locked", "no")

    response = guarded(fail, {})
    assert response.status_code == 409
    assert response.get_json() == {"error": {"code": "checkout_locked", "message": "no"}}
    assert response.headers["Cache-Control"] == "no-store"


def test_missing_setting_is_named_in_response_and_log(capsys: pytest.CaptureFixture[str]) -> None:
    def fail() -> Response:
        raise MissingSetting("STRIPE_SECRET_KEY")

    response = guarded(fail, {})
    assert response.status_code == 500
    assert "STRIPE_SECRET_KEY" in response.get_json()["error"]["message"]
    log = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert log["severity"] == "ERROR" and log["setting"] == "STRIPE_SECRET_KEY"


def test_unexpected_error_is_a_generic_500_without_its_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def fail() -> Response:
        raise RuntimeError("sk_test_secret leaked in a message")

    response = guarded(fail, {})
    assert response.status_code == 500
    assert "sk_test" not in response.get_data(as_text=True)
    assert "sk_test" not in capsys.readouterr().err


def test_cors_headers_only_for_allowlisted_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://shop.example, https://admin.example")
    allowed = cors_headers(request(Origin="https://shop.example"), "GET, POST")
    assert allowed["Access-Control-Allow-Origin"] == "https://shop.example"
    assert allowed["Vary"] == "Origin"
    assert cors_headers(request(Origin="https://evil.example"), "GET, POST") == {}
    assert cors_headers(request(), "GET, POST") == {}


def test_no_origin_is_allowed_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CORS_ALLOWED_ORIGINS", raising=False)
    assert cors_headers(request(Origin="https://shop.example"), "GET") == {}


def test_deeply_nested_json_is_400_not_500() -> None:
    error = error_of(lambda: read_json_body(request(data=b"[" * 5000)))
    assert (error.status, error.code) == (400, "invalid_json")
