"""Publishing to NATS JetStream."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Sequence
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js.api import StreamConfig
from nats.js.client import JetStreamContext

from xrm.errors import ConfigurationError
from xrm.relay._events import OutboundEvent, windows
from xrm.relay._sink import SinkFailure

__all__ = ["NatsSink"]

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return "no acknowledgement in time"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class NatsSink:
    """Publishes each event to JetStream on ``<subject_prefix>.<event type>`` with the
    header ``Nats-Msg-Id`` set to its idempotency key (the stream drops a copy published
    again within its duplicate window), and waits for the stream's acknowledgement.

    The stream ``stream`` is created if missing, listening on ``<subject_prefix>.>``, and
    that subject is added to it if it listens elsewhere. Up to ``window`` events are in
    flight at once, never two of the same party (so each party's order holds whatever
    fails). The relay is synchronous; this sink runs the nats-py client on its own
    asyncio loop in a thread, which also keeps the connection alive between rounds."""

    def __init__(
        self,
        url: str = "nats://127.0.0.1:4222",
        *,
        stream: str = "XRM",
        subject_prefix: str = "xrm.events",
        timeout: float = 5.0,
        window: int = 256,
        duplicate_window: float = 120.0,
    ) -> None:
        if not isinstance(url, str) or not url.strip():
            raise ConfigurationError("url: give the NATS server's URL (nats://host:4222)")
        if not isinstance(stream, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", stream):
            raise ConfigurationError(
                f"stream: {stream!r} is not a stream name (letters, digits, _ and -)"
            )
        if not isinstance(subject_prefix, str) or not _TOKEN.match(subject_prefix):
            raise ConfigurationError(
                f"subject_prefix: {subject_prefix!r} is not a subject (tokens of letters, "
                "digits, _ and - separated by dots)"
            )
        # below nats-py's limit of pending asynchronous publishes (4,000): never stalls
        if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= 4000:
            raise ConfigurationError(f"window: {window!r} is not a whole number from 1 to 4000")
        for name, value in (("timeout", timeout), ("duplicate_window", duplicate_window)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigurationError(f"{name}: {value!r} is not a positive number of seconds")
        self.url = url
        self.stream = stream
        self.subject_prefix = subject_prefix
        self.timeout = float(timeout)
        self.window = window
        self.duplicate_window = float(duplicate_window)
        self.name = f"nats:{stream}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None

    def subject(self, event: OutboundEvent) -> str:
        """``<prefix>.<event type>``, a character a subject cannot hold replaced by ``_``."""
        tokens = [t or "_" for t in _UNSAFE.sub("_", event.type).split(".")]
        return ".".join([self.subject_prefix, *tokens])

    # -- the loop, in its thread --------------------------------------------------------
    def _run(self, coro: Any, timeout: float | None = None) -> Any:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="xrm-relay-nats", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _connect(self) -> JetStreamContext:
        if self._js is not None and self._nc is not None and not self._nc.is_closed:
            return self._js
        nc = await asyncio.wait_for(
            nats.connect(
                self.url,
                connect_timeout=max(1, int(self.timeout)),
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                allow_reconnect=True,
            ),
            self.timeout,
        )
        try:
            js = await self._ensure_stream(nc)
        except BaseException:
            await nc.close()
            raise
        self._nc, self._js = nc, js
        return js

    async def _ensure_stream(self, nc: Client) -> JetStreamContext:
        js = nc.jetstream(timeout=self.timeout)
        pattern = f"{self.subject_prefix}.>"
        try:
            info = await js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            await js.add_stream(
                StreamConfig(
                    name=self.stream, subjects=[pattern], duplicate_window=self.duplicate_window
                )
            )
        else:
            config = info.config
            if pattern not in (config.subjects or []):
                config.subjects = [*(config.subjects or []), pattern]
                await js.update_stream(config)
        return js

    async def _publish(self, events: Sequence[OutboundEvent]) -> None:
        try:
            js = await self._connect()
        except Exception as exc:
            raise SinkFailure(0, f"cannot reach {self.url}: {_reason(exc)}") from None
        acked = 0
        for run in windows(events, self.window):
            futures: list[asyncio.Future[Any]] = []
            failure: BaseException | None = None
            for event in run:
                try:
                    futures.append(
                        await js.publish_async(
                            self.subject(event),
                            event.body(),
                            stream=self.stream,
                            headers={"Nats-Msg-Id": event.key},
                        )
                    )
                except Exception as exc:
                    failure = exc
                    break
            if futures:
                await asyncio.wait(futures, timeout=self.timeout)
            for future in futures:
                if not future.done():
                    future.cancel()
                    failure = failure or TimeoutError()
                elif future.cancelled() or future.exception() is not None:
                    failure = failure or future.exception() or TimeoutError()
                elif failure is None:
                    acked += 1
            if failure is not None:
                raise SinkFailure(acked, _reason(failure))

    def publish(self, events: Sequence[OutboundEvent]) -> None:
        # the futures time out on their own; this bound only guards against a stuck loop
        bound = self.timeout * (2 + len(events) / max(1, self.window)) + 30
        self._run(self._publish(events), bound)

    async def _shutdown(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(Exception):  # a broken connection: nothing to close
                await asyncio.wait_for(nc.close(), self.timeout)
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        """Close the connection and stop the loop's thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            self._run(self._shutdown(), self.timeout + 5)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(self.timeout + 5)
            if not thread.is_alive():
                loop.close()
            self._loop = self._thread = None
