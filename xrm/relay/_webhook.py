"""Publishing to HTTP webhooks, signed with HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx

from xrm.errors import ConfigurationError
from xrm.relay._events import OutboundEvent
from xrm.relay._sink import SinkFailure

__all__ = ["WebhookSink", "sign", "verify_signature"]

log = logging.getLogger("xrm.relay")

#: statuses that say "later" rather than "no"
_TRANSIENT_4XX = frozenset({408, 429})


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def sign(secret: str | bytes, timestamp: int | str, body: str | bytes) -> str:
    """The ``X-XRM-Signature`` header: ``sha256=`` and the hex HMAC-SHA256, keyed with
    ``secret``, of ``<timestamp>.<body>``."""
    signed = _bytes(str(timestamp)) + b"." + _bytes(body)
    return "sha256=" + hmac.new(_bytes(secret), signed, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str | bytes,
    timestamp: str | int | None,
    body: str | bytes,
    header: str | None,
    tolerance: float = 300.0,
    *,
    now: float | None = None,
) -> bool:
    """For receivers: is ``header`` (``X-XRM-Signature``) the signature of ``body`` (the
    raw request body, as received) at ``timestamp`` (``X-XRM-Timestamp``, Unix seconds),
    and is that timestamp within ``tolerance`` seconds of ``now``? A replayed request
    older than that is refused even with its signature; compared in constant time."""
    if not header or timestamp is None:
        return False
    try:
        stamp = int(str(timestamp).strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, stamp, body), header.strip())


class WebhookSink:
    """POSTs each event, one request per event in event id order, to ``url``: the JSON
    message as the body, with the headers ``X-XRM-Event-Id``, ``Idempotency-Key``,
    ``X-XRM-Timestamp`` (Unix seconds) and ``X-XRM-Signature`` (:func:`sign`).

    A 2xx answer acknowledges the event. Anything else is a failure the relay retries
    with backoff, the events after it waiting: a timeout, a refused connection, a 5xx,
    408 or 429, and also any other 4xx - the receiver refuses the event, which is logged
    as an error, but an event is never dropped silently: fix the receiver (or remove the
    event from ``journal_outbox`` by hand) and the relay goes on."""

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        *,
        timeout: float = 10.0,
        name: str | None = None,
    ) -> None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(f"url: {url!r} is not an http:// or https:// URL")
        if not isinstance(secret, str | bytes) or not secret:
            raise ConfigurationError("secret: give the webhook's shared secret (not empty)")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigurationError(f"timeout: {timeout!r} is not a positive number of seconds")
        self.url = url
        self.name = name or f"webhook:{parts.netloc}"
        self._secret = _bytes(secret)
        self._client = httpx.Client(timeout=timeout)

    def headers(self, event: OutboundEvent, body: bytes, timestamp: int) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-XRM-Event-Id": str(event.id),
            "Idempotency-Key": event.key,
            "X-XRM-Timestamp": str(timestamp),
            "X-XRM-Signature": sign(self._secret, timestamp, body),
        }

    def publish(self, events: Sequence[OutboundEvent]) -> None:
        for done, event in enumerate(events):
            body = event.body()
            try:
                answer = self._client.post(
                    self.url, content=body, headers=self.headers(event, body, int(time.time()))
                )
            except httpx.HTTPError as exc:
                raise SinkFailure(done, f"{type(exc).__name__}: {exc}") from None
            status = answer.status_code
            if 200 <= status < 300:
                continue
            if 400 <= status < 500 and status not in _TRANSIENT_4XX:
                log.error(
                    "%s refuses event %d with HTTP %d: retried until it accepts it",
                    self.name, event.id, status,
                )  # fmt: skip
            raise SinkFailure(done, f"HTTP {status}")

    def close(self) -> None:
        self._client.close()
