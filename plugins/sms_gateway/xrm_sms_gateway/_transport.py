"""The transport: each SMS is one POST of JSON to a generic HTTP SMS gateway (the contract
is in the README), with the standard library's ``urllib`` alone."""

from __future__ import annotations

import http.client
import json
import math
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from typing import IO

from xrm import Envelope, PermanentFailure, TransientFailure, Transport

__all__ = ["MAX_ID_LENGTH", "GatewaySmsTransport"]

#: the longest provider id the outbox keeps (``message.external_id`` is 200 characters):
#: a longer one is not returned, lest the worker fail to record a message that has left
MAX_ID_LENGTH = 200
#: how much of a refusal's body its failure quotes (the outbox keeps 300 characters)
_CLIP = 200
#: the most of a reply's body that is read
_MAX_BODY = 64 * 1024
_USER_AGENT = "xrm-sms-gateway"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: urllib would turn the POST into a GET without its body
    and send the token to wherever the gateway points. A 3xx reply is an error instead."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


class GatewaySmsTransport(Transport):
    """Carries the ``sms`` channel to a generic HTTP SMS gateway.

    Each message is one ``POST`` to ``url`` of ``{"to", "from", "text", "reference"}`` in
    JSON, with ``Authorization: Bearer <token>`` when a token is given and
    ``Idempotency-Key`` set to the envelope's key (also the ``reference``), so that a
    gateway that deduplicates sends a retried message once. ``sender`` is the ``from``
    (a number or an alphanumeric sender id); without it ``from`` is left out and the
    gateway uses its default.

    A 2xx reply is a success: its JSON ``id`` is returned as the provider's id (``None``
    when the body has no usable id). 429, 5xx, a connection that fails and a timeout are a
    :class:`~xrm.TransientFailure` (the worker tries again later); any other reply (4xx,
    and 3xx: redirects are not followed) is a :class:`~xrm.PermanentFailure` quoting the
    status and the start of the body. ``timeout`` (seconds) bounds the connection and each
    read. Proxies are taken from the environment (``https_proxy``, ``no_proxy``), as
    ``urllib`` does. Subclass and override :meth:`payload` for a gateway that names its
    fields otherwise.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        sender: str | None = None,
        timeout: float = 10.0,
        name: str = "sms_gateway",
    ) -> None:
        self.url = _checked_url(url)
        if token is not None and not _is_token(token):
            raise ValueError("sms gateway token must be printable ASCII without spaces")
        if sender is not None and (not isinstance(sender, str) or not sender.strip()):
            raise ValueError("sms gateway sender must be a non-empty string")
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise ValueError(f"sms gateway timeout must be a positive number, not {timeout!r}")
        self.token = token
        self.sender = sender
        self.timeout = float(timeout)
        self.name = name
        self.channels = ("sms",)
        self.check()

    def __repr__(self) -> str:  # never the token
        return f"GatewaySmsTransport({self.where!r}, name={self.name!r})"

    @property
    def where(self) -> str:
        """The gateway's URL without credentials nor query, as failures name it."""
        parts = urllib.parse.urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"

    def payload(self, envelope: Envelope) -> dict[str, object]:
        """The JSON object posted for ``envelope``."""
        body: dict[str, object] = {"to": envelope.to}
        if self.sender is not None:
            body["from"] = self.sender
        body["text"] = envelope.text
        body["reference"] = envelope.idempotency_key
        return body

    def send(self, envelope: Envelope) -> str | None:
        if envelope.channel not in self.channels:
            raise PermanentFailure(f"{self.name}: carries sms, not {envelope.channel!r}")
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
            "Idempotency-Key": envelope.idempotency_key,
        }
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            self.url,
            data=json.dumps(self.payload(envelope)).encode(),
            headers=headers,
            method="POST",
        )
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            response: http.client.HTTPResponse
            with opener.open(request, timeout=self.timeout) as response:
                # a 2xx: the gateway has the message, even if its body never arrives
                body = _read(response)
        except urllib.error.HTTPError as error:
            with error:
                raise self._refusal(error.code, error.headers, _read(error)) from error
        except (OSError, http.client.HTTPException) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise TransientFailure(f"{self.name}: {self.where}: {_describe(reason)}") from exc
        return _message_id(body)

    def _refusal(self, status: int, headers: Message, body: bytes) -> Exception:
        text = f"{self.name}: HTTP {status} from {self.where}"
        if 300 <= status < 400:
            text += " (redirects are not followed)"
        retry_after = headers.get("Retry-After")
        if retry_after:
            text += f" (retry after {_clip(retry_after.encode(), 40)})"
        quoted = _clip(body, _CLIP)
        if quoted:
            text += f": {quoted}"
        if status == 429 or 500 <= status < 600:
            return TransientFailure(text)
        return PermanentFailure(text)


def _checked_url(url: str) -> str:
    if not isinstance(url, str):
        raise ValueError(f"sms gateway url must be a string, not {type(url).__name__}")
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("sms gateway url must be an http:// or https:// URL with a host")
    if "@" in parts.netloc:  # urllib would take "user:password@host" for the host name
        raise ValueError("sms gateway url must not hold credentials: give a token instead")
    _ = parts.port  # a port that is not a number raises ValueError now, not at each send
    return url.strip()


def _is_token(token: object) -> bool:
    return (
        isinstance(token, str)
        and bool(token)
        and token.isascii()
        and token.isprintable()
        and not any(c.isspace() for c in token)
    )


def _read(response: IO[bytes]) -> bytes:
    try:
        return response.read(_MAX_BODY)
    except (OSError, http.client.HTTPException):
        return b""


def _clip(raw: bytes, limit: int) -> str:
    text = " ".join(raw.decode("utf-8", "replace").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return "timed out"
    text = str(reason).strip()
    return f"{type(reason).__name__}: {text}" if text else type(reason).__name__


def _message_id(body: bytes) -> str | None:
    """The ``id`` of a 2xx reply's JSON, if it is a usable one."""
    try:
        reply = json.loads(body)
    except (ValueError, RecursionError):
        return None
    found = reply.get("id") if isinstance(reply, dict) else None
    if isinstance(found, int) and not isinstance(found, bool):
        found = str(found)
    if isinstance(found, str) and 0 < len(found.strip()) <= MAX_ID_LENGTH:
        return found.strip()
    return None
