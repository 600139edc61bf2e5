"""The order number people read, and the signed view token of an email's order link."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from checkout.orders.order_number import order_number
from checkout.orders.view_token import VIEW_TOKEN_LIFETIME, check_view_token, make_view_token

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def stripe_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_view_tokens")


def test_the_order_number_is_short_crockford_base32_and_the_same_every_time() -> None:
    number = order_number("pi_3QxYzAbCdEfGhIjK")
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", number)
    assert order_number("pi_3QxYzAbCdEfGhIjK") == number
    assert order_number("pi_3QxYzAbCdEfGhIjL") != number


def test_order_numbers_of_many_orders_are_rarely_the_same() -> None:
    numbers = {order_number(f"pi_{n:024d}") for n in range(20_000)}
    # 40 bits: among 20,000 orders, about 0.0002 pairs sharing a number are expected.
    assert len(numbers) == 20_000


def test_a_view_token_opens_its_order_for_30_days() -> None:
    token = make_view_token("pi_1", NOW)
    assert check_view_token("pi_1", token, NOW)
    assert check_view_token("pi_1", token, NOW + VIEW_TOKEN_LIFETIME - timedelta(seconds=1))
    assert timedelta(days=30) == VIEW_TOKEN_LIFETIME


def test_an_expired_view_token_opens_nothing() -> None:
    token = make_view_token("pi_1", NOW)
    assert not check_view_token("pi_1", token, NOW + VIEW_TOKEN_LIFETIME)
    assert not check_view_token("pi_1", token, NOW + timedelta(days=365))


def test_a_view_token_opens_no_other_order() -> None:
    assert not check_view_token("pi_2", make_view_token("pi_1", NOW), NOW)


def test_a_tampered_view_token_opens_nothing() -> None:
    token = make_view_token("pi_1", NOW)
    expires, _, mac = token.partition(".")
    later = str(int(expires) + 86400)
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    for forged in (
        f"{later}.{mac}",  # a longer life
        f"{expires}.{flipped}",  # another signature
        f"{expires}.",
        mac,
        "",
        f"{expires}.{mac}x",
        f"-1.{mac}",
    ):
        assert not check_view_token("pi_1", forged, NOW), forged
    assert not check_view_token("pi_1", None, NOW)
    assert not check_view_token("pi_1", ["not", "text"], NOW)


def test_a_view_token_made_under_another_stripe_key_opens_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = make_view_token("pi_1", NOW)
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_rotated")
    assert not check_view_token("pi_1", token, NOW)


def test_a_view_token_is_url_safe_and_short() -> None:
    token = make_view_token("pi_1", NOW)
    assert re.fullmatch(r"[0-9]+\.[A-Za-z0-9_-]+", token)
    assert len(token) < 40
