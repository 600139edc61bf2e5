"""Settings are read at request time; a missing one is a named error, not a crash."""

import pytest

from checkout.platform.settings import (
    STRIPE_SECRET_KEY,
    MissingSetting,
    allowed_origins,
    require,
    webhook_secrets,
)


def test_require_names_the_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    with pytest.raises(MissingSetting) as caught:
        require(STRIPE_SECRET_KEY)
    assert caught.value.name == "STRIPE_SECRET_KEY"


def test_blank_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "  ")
    with pytest.raises(MissingSetting):
        require(STRIPE_SECRET_KEY)


def test_webhook_secrets_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_new, whsec_old,")
    assert webhook_secrets() == ["whsec_new", "whsec_old"]


def test_allowed_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://a.example,,https://b.example ")
    assert allowed_origins() == {"https://a.example", "https://b.example"}
