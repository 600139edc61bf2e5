"""SMTP_URL parsed and checked without ever showing its credentials; the other mail settings."""

import pytest

from checkout.mail import sender
from checkout.mail.smtp import InvalidSmtpUrl, Security, SmtpServer, parse_smtp_url
from checkout.platform.settings import InvalidSetting, owner_email, public_base_url


@pytest.mark.parametrize(
    ("url", "server"),
    [
        ("smtp://127.0.0.1:2525", SmtpServer("127.0.0.1", 2525, Security.STARTTLS)),
        ("smtp://mail.example.com", SmtpServer("mail.example.com", 587, Security.STARTTLS)),
        ("SMTPS://mail.example.com", SmtpServer("mail.example.com", 465, Security.TLS)),
        (
            "smtps://apikey:s3cr%40t@smtp.example.com:465",
            SmtpServer("smtp.example.com", 465, Security.TLS, "apikey", "s3cr@t"),
        ),
        (
            "smtp://me%40example.com:pw@smtp.example.com:587/",
            SmtpServer("smtp.example.com", 587, Security.STARTTLS, "me@example.com", "pw"),
        ),
        ("  smtp://[::1]:25  ", SmtpServer("::1", 25, Security.STARTTLS)),
    ],
)
def test_smtp_urls_are_parsed(url: str, server: SmtpServer) -> None:
    assert parse_smtp_url(url) == server


@pytest.mark.parametrize("value", ["disabled", "DISABLED", " disabled "])
def test_disabled_means_no_server(value: str) -> None:
    assert parse_smtp_url(value) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "empty"),
        ("http://alice:hunter2@mail.example.com", "smtp:// or smtps://"),
        ("mail.example.com:25", "smtp:// or smtps://"),
        ("smtp://alice:hunter2@mail.example.com:99999", "port"),
        ("smtp://alice:hunter2@mail.example.com:abc", "port"),
        ("smtp://:hunter2@mail.example.com", "no user"),
        ("smtps://alice:hunter2@", "no host"),
        ("smtp://alice:hunter2@mail.example.com/x?y=1", "path"),
    ],
)
def test_a_bad_smtp_url_is_refused_without_showing_it(url: str, reason: str) -> None:
    with pytest.raises(InvalidSmtpUrl) as refused:
        parse_smtp_url(url)
    assert reason in str(refused.value)
    assert "hunter2" not in str(refused.value) and "alice" not in str(refused.value)


def test_the_password_never_shows_in_a_servers_repr() -> None:
    server = parse_smtp_url("smtps://apikey:hunter2@smtp.example.com")
    assert "hunter2" not in repr(server)


def test_a_missing_or_bad_smtp_url_is_a_config_error_naming_only_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SMTP_URL", raising=False)
    with pytest.raises(sender.MailConfigError, match="SMTP_URL is not set"):
        sender.smtp_server()
    monkeypatch.setenv("SMTP_URL", "ftp://alice:hunter2@host")
    with pytest.raises(sender.MailConfigError) as refused:
        sender.smtp_server()
    assert "hunter2" not in str(refused.value)
    monkeypatch.setenv("SMTP_URL", "disabled")
    assert sender.smtp_server() is None


def test_send_with_mail_disabled_sends_nothing_and_touches_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No Firestore either: with mail off, send() returns before any read.
    monkeypatch.setenv("SMTP_URL", "disabled")
    assert sender.send(["pi_1", "pi_1-owner"]) == [sender.SendResult.DISABLED] * 2
    monkeypatch.setenv("SMTP_URL", "smtp://127.0.0.1:1")
    monkeypatch.delenv("MAIL_FROM", raising=False)
    assert sender.send(["pi_1"]) == [sender.SendResult.MISCONFIGURED]


def test_public_base_url_and_owner_email(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://shop.example.com/")
    assert public_base_url() == "https://shop.example.com"
    monkeypatch.setenv("PUBLIC_BASE_URL", "shop.example.com")
    with pytest.raises(InvalidSetting):
        public_base_url()
    monkeypatch.delenv("PUBLIC_BASE_URL")
    assert public_base_url() == ""
    monkeypatch.setenv("OWNER_EMAIL", "not an address")
    with pytest.raises(InvalidSetting) as refused:
        owner_email()
    assert "not an address" not in str(refused.value)
    monkeypatch.setenv("OWNER_EMAIL", " owner@example.com ")
    assert owner_email() == "owner@example.com"


def test_a_malformed_mail_setting_is_left_out_of_the_paying_commit_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from checkout.mail.documents import MailSettings, mail_settings_for_commit

    monkeypatch.setenv("OWNER_EMAIL", "not an address")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://shop.example.com/")
    assert mail_settings_for_commit() == MailSettings("", "https://shop.example.com")
    monkeypatch.setenv("OWNER_EMAIL", "owner@example.com")
    monkeypatch.setenv("PUBLIC_BASE_URL", "ftp://nope")
    assert mail_settings_for_commit() == MailSettings("owner@example.com", "")
