"""Transports: what carries a message out of xrm (SMTP, a folder of files, a plugin's SMS
gateway). A transport is given one :class:`Envelope` at a time by the outbox worker and
either returns (delivered to the next hop, with the provider's id if it gives one) or
raises :class:`TransientFailure` (try again later) or :class:`PermanentFailure` (never).
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from pathlib import Path

import attrs

__all__ = [
    "Envelope",
    "FileTransport",
    "PermanentFailure",
    "SmtpTransport",
    "TransientFailure",
    "Transport",
]

_NAME = re.compile(r"[a-z][a-z0-9_]*")


class TransientFailure(Exception):
    """The transport could not deliver now (a server down, a timeout, a 4xx reply): the
    worker tries again later, with backoff."""


class PermanentFailure(Exception):
    """The transport will never deliver this message (a 5xx reply, an address refused):
    the message is marked failed."""


@attrs.frozen
class Envelope:
    """One message as a transport receives it."""

    #: the outbox row's id, and a key unique to the message: a transport that talks to an
    #: idempotent API passes it on, so that the message is accepted once however often it
    #: is handed over
    message_id: int
    idempotency_key: str
    channel: str
    #: the address: an email, a phone number in E.164
    to: str
    language: str
    subject: str | None
    text: str
    html: str | None = None
    #: extra headers for an email (``List-Unsubscribe``...)
    headers: Mapping[str, str] = attrs.field(factory=dict)


class Transport:
    """The base of every transport: ``name`` (a lowercase identifier), the ``channels`` it
    carries, and :meth:`send`. Register one with ``XRM(transports=[...])`` or a plugin's
    ``xrm_transports`` hook; one transport per channel."""

    name: str = ""
    channels: tuple[str, ...] = ()

    def send(self, envelope: Envelope) -> str | None:  # pragma: no cover - abstract
        """Deliver ``envelope`` to the next hop; return the provider's id, if any."""
        raise NotImplementedError

    def check(self) -> None:
        """Refuse (``ValueError``) a transport that cannot be registered."""
        if not _NAME.fullmatch(self.name or ""):
            raise ValueError(f"transport name {self.name!r} must be a lowercase identifier")
        if not self.channels or not all(_NAME.fullmatch(c) for c in self.channels):
            raise ValueError(f"transport {self.name!r}: channels must be channel names")


def email_message(envelope: Envelope, sender: str) -> EmailMessage:
    """The RFC 5322 message of an email envelope: a text part, and an HTML alternative
    when there is one; ``Message-ID`` derived from the idempotency key."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = envelope.to
    message["Subject"] = envelope.subject or ""
    message["Date"] = email.utils.formatdate(localtime=False)
    domain = sender.rpartition("@")[2] or "xrm.invalid"
    message["Message-ID"] = f"<{envelope.idempotency_key}@{domain}>"
    message["Content-Language"] = envelope.language
    for name, value in envelope.headers.items():
        message[name] = value
    message.set_content(envelope.text)
    if envelope.html is not None:
        message.add_alternative(envelope.html, subtype="html")
    return message


class FileTransport(Transport):
    """Writes each message to ``folder``: an email as ``<id>.eml`` (what an SMTP server
    would have received), any other channel as ``<id>.json``. For development, tests and
    the demo. Writing is atomic (a temporary file renamed)."""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        channels: Sequence[str] = ("email", "sms"),
        sender: str = "xrm@localhost",
        name: str = "file",
    ) -> None:
        self.folder = Path(folder)
        self.channels = tuple(channels)
        self.sender = sender
        self.name = name

    def send(self, envelope: Envelope) -> str | None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if envelope.channel == "email":
                data = email_message(envelope, self.sender).as_bytes()
                target = self.folder / f"{envelope.message_id}.eml"
            else:
                data = json.dumps(attrs.asdict(envelope), ensure_ascii=False, indent=2).encode()
                target = self.folder / f"{envelope.message_id}.json"
            temporary = target.with_suffix(target.suffix + ".tmp")
            temporary.write_bytes(data)
            temporary.replace(target)
        except OSError as exc:
            raise TransientFailure(f"{self.folder}: {exc.strerror or exc}") from exc
        return target.name


class SmtpTransport(Transport):
    """Sends email through an SMTP server (the standard library's ``smtplib``):
    ``starttls`` upgrades the connection, ``username``/``password`` log in. A 4xx reply or
    a connection that fails is a :class:`TransientFailure`, a 5xx reply a
    :class:`PermanentFailure`. ``timeout`` bounds each call, in seconds."""

    def __init__(
        self,
        host: str = "localhost",
        port: int = 25,
        *,
        sender: str,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        name: str = "smtp",
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.starttls, self.username, self.password = starttls, username, password
        self.timeout = timeout
        self.name = name
        self.channels = ("email",)

    def send(self, envelope: Envelope) -> str | None:
        message = email_message(envelope, self.sender)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username is not None:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise _by_code(exc.recipients.get(envelope.to, (550, b""))[0], str(exc)) from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, f"{exc.smtp_code} {exc.smtp_error!r}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientFailure(f"{self.host}:{self.port}: {exc}") from exc
        if refused:
            code = next(iter(refused.values()))[0]
            raise _by_code(code, f"refused: {refused}")
        return str(message["Message-ID"])


def _by_code(code: int, text: str) -> Exception:
    return PermanentFailure(text) if 500 <= code < 600 else TransientFailure(text)
