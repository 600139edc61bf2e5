"""SMTP: SMTP_URL parsed and checked, and messages sent as it says (smtplib), over connections
an instance keeps open between requests.

SMTP_URL:

    smtp://host[:port]                 port 587 by default; STARTTLS whenever the server offers it
    smtp://user:password@host[:port]   the same, and STARTTLS is then required: no password
                                       ever crosses the network in the clear
    smtps://user:password@host[:port]  TLS from the first byte (port 465 by default)
    disabled                           nothing is sent: mail documents stay PENDING

User and password may be percent-encoded (`%40` for `@`). The value is a secret: errors name
what is wrong, never the value or its credentials, and `repr()` of the server hides the password.

A failed send is a SendFailed: `error` is what the mail document records (the SMTP reply, which
may quote the recipient: the document holds it anyway), `code` and `kind` are what may be
logged, and `permanent` says that retrying cannot help (every recipient refused with a 5xx).
"""

import email.utils
import smtplib
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from email.message import EmailMessage
from enum import StrEnum
from functools import cache
from typing import Any

DISABLED = "disabled"


class Security(StrEnum):
    TLS = "tls"  # smtps://: TLS from the start
    STARTTLS = "starttls"  # smtp://: upgraded when the server offers it (required with a login)


_SCHEMES = {"smtp": (Security.STARTTLS, 587), "smtps": (Security.TLS, 465)}


class InvalidSmtpUrl(Exception):
    """SMTP_URL cannot be used. The message says why, without the value (it is a secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"SMTP_URL is not valid: {reason}")


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: Security
    username: str = ""
    password: str = field(default="", repr=False)

    @property
    def login(self) -> bool:
        return bool(self.username)


def parse_smtp_url(value: str) -> SmtpServer | None:
    """The server SMTP_URL names, or None when it says `disabled`; InvalidSmtpUrl otherwise."""
    value = value.strip()
    if value.lower() == DISABLED:
        return None
    if not value:
        raise InvalidSmtpUrl("it is empty (set it to 'disabled' to send no mail)")
    try:
        parts = urllib.parse.urlsplit(value)
        port = parts.port
    except ValueError:
        raise InvalidSmtpUrl("its port is not a number from 1 to 65535") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise InvalidSmtpUrl("it must start with smtp:// or smtps://, or be 'disabled'")
    if not parts.hostname:
        raise InvalidSmtpUrl("it names no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidSmtpUrl("it has a path, query or fragment after the host and port")
    username = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    if password and not username:
        raise InvalidSmtpUrl("it has a password but no user")
    security, default_port = _SCHEMES[scheme]
    return SmtpServer(
        host=parts.hostname,
        port=port or default_port,
        security=security,
        username=username,
        password=password,
    )


# Each SMTP step (connect, each command) waits at most this long: a send stays well inside the
# sender's lease (checkout.mail.delivery.LEASE).
TIMEOUT_SECONDS = 10.0


class SendFailed(Exception):
    def __init__(self, error: str, kind: str, code: int | None = None, permanent: bool = False):
        super().__init__(error)
        self.error = error
        self.kind = kind  # the exception's type: safe to log
        self.code = code  # the SMTP reply code, if any: safe to log
        self.permanent = permanent


def build_message(
    mail_from: str, to: str, subject: str, text: str, html: str, message_id: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(usegmt=True)
    # The same id on every attempt of one document: should a lease ever expire mid-send and a
    # second sender send it again, mail systems can recognise the copy.
    message["Message-ID"] = message_id
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def message_id(mail_id: str, mail_from: str) -> str:
    _, address = email.utils.parseaddr(mail_from)
    domain = address.rpartition("@")[2] or "localhost"
    return f"<mail-{mail_id}@{domain}>"


@cache
def _tls_context() -> ssl.SSLContext:
    # Made once per instance: loading the system's CA certificates costs about 16 ms, paid by
    # the webhook's answer when it sends after its commit.
    return ssl.create_default_context()


def _connect(server: SmtpServer) -> smtplib.SMTP:
    if server.security is Security.TLS:
        return smtplib.SMTP_SSL(
            server.host, server.port, timeout=TIMEOUT_SECONDS, context=_tls_context()
        )
    connection = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_SECONDS)
    connection.ehlo()
    if connection.has_extn("starttls"):
        connection.starttls(context=_tls_context())
        connection.ehlo()
    elif server.login:
        connection.close()
        raise SendFailed(
            "the server offers no STARTTLS: the login is not sent in the clear (use smtps://)",
            kind="NoStartTls",
        )
    return connection


def _failure(error: Exception) -> SendFailed:
    """What an exception from smtplib (or the network) means for the message it interrupted."""
    if isinstance(error, SendFailed):
        return error
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        replies = "; ".join(f"{code} {reply.decode(errors='replace')}" for code, reply in
                            error.recipients.values())  # fmt: skip
        return SendFailed(
            f"recipient refused: {replies}",
            kind=type(error).__name__,
            code=codes[0] if codes else None,
            permanent=bool(codes) and all(500 <= code < 600 for code in codes),
        )
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error.decode(errors="replace") if isinstance(
            error.smtp_error, bytes
        ) else str(error.smtp_error)  # fmt: skip
        return SendFailed(
            f"{error.smtp_code} {reply}", kind=type(error).__name__, code=error.smtp_code
        )
    # Connection refused or lost, a timeout, a TLS failure: the server's side, retried.
    return SendFailed(f"{type(error).__name__}: {error}", kind=type(error).__name__)


def _send_one(connection: smtplib.SMTP, message: EmailMessage) -> dict[str, Any]:
    """One message on an open connection; what the server said (the document's
    `delivery.info`). smtplib resets the transaction after a refusal, so the connection
    stays usable for the next message."""
    _, to = email.utils.parseaddr(str(message["To"]))
    refused = connection.send_message(message, to_addrs=[to])
    return {
        "messageId": str(message["Message-ID"]),
        "accepted": [to] if to not in refused else [],
        "rejected": sorted(refused),
    }


# An instance keeps the connections it has finished with, logged in, for its next messages: to a
# provider, a new connection costs a TCP and a TLS handshake, EHLO twice and a login, before the
# first message. A kept connection is checked with NOOP before it is used again (one round trip)
# and closed once idle this long (RFC 5321 servers wait at least 5 minutes; some wait less).
KEEP_IDLE_SECONDS = 30.0

_idle: dict[SmtpServer, list[tuple[float, smtplib.SMTP]]] = {}
_idle_lock = threading.Lock()


def _close(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        connection.close()


def _alive(connection: smtplib.SMTP) -> bool:
    try:
        return connection.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


def _take_kept(server: SmtpServer) -> smtplib.SMTP | None:
    """The most recently kept connection to `server` not idle too long; the older ones, closed
    (without QUIT: the server may be gone, and waiting for it helps nobody)."""
    now = time.monotonic()
    with _idle_lock:
        kept = _idle.get(server, [])
        stale = [connection for since, connection in kept if now - since >= KEEP_IDLE_SECONDS]
        kept[:] = [(since, c) for since, c in kept if now - since < KEEP_IDLE_SECONDS]
        connection = kept.pop()[1] if kept else None
    for old in stale:
        old.close()
    return connection


def _open(server: SmtpServer) -> smtplib.SMTP:
    """A kept connection that still answers, or a new one, logged in."""
    while (connection := _take_kept(server)) is not None:
        if _alive(connection):
            return connection
        connection.close()
    connection = _connect(server)
    try:
        if server.login:
            connection.login(server.username, server.password)
    except BaseException:
        _close(connection)
        raise
    return connection


def _keep(server: SmtpServer, connection: smtplib.SMTP) -> None:
    if connection.sock is None:  # smtplib closed it (a 421: the server is going away)
        return
    with _idle_lock:
        _idle.setdefault(server, []).append((time.monotonic(), connection))


def send_messages(
    server: SmtpServer, messages: list[EmailMessage]
) -> list[dict[str, Any] | SendFailed]:
    """Send each message to its To over one connection (kept for the next call): per message,
    what the server said, or why it was not sent. A refusal fails its own message; a lost
    connection, the rest."""
    outcomes: list[dict[str, Any] | SendFailed] = []
    try:
        connection = _open(server)
        try:
            for message in messages:
                try:
                    outcomes.append(_send_one(connection, message))
                except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as error:
                    # The server refused this message (recipient, sender or data): the next
                    # one may go. A lost connection goes on to fail the rest, below.
                    outcomes.append(_failure(error))
        except BaseException:
            _close(connection)
            raise
        _keep(server, connection)
    except (SendFailed, smtplib.SMTPException, OSError) as error:
        failed = _failure(error)
        outcomes.extend([failed] * (len(messages) - len(outcomes)))
    return outcomes
