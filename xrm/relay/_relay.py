"""The relay: publish the outbox's events to every sink, then delete them."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import Connection, Engine

from xrm import XRM
from xrm.errors import ConfigurationError
from xrm.relay._events import OutboundEvent, default_source, pending_events
from xrm.relay._sink import Sink, SinkFailure
from xrm.tables import OutboxRow

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock file
    fcntl = None  # type: ignore[assignment]

__all__ = ["Relay"]

log = logging.getLogger("xrm.relay")

#: the PostgreSQL advisory lock every relay of a database takes while it publishes
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"xrm.relay").digest()[:8], "big", signed=True)
#: rows deleted per statement
_CHUNK = 500


@dataclass
class _SinkState:
    sink: Sink
    #: ids of pending events this sink acknowledged (forgotten once deleted)
    acked: set[int] = field(default_factory=set)
    failures: int = 0
    #: time.monotonic() before which the sink is not tried again
    due: float = 0.0


class _Lock:
    """One active publisher per database: a session-level advisory lock on PostgreSQL; on
    a SQLite file, an exclusive ``flock`` on ``<file>-relay.lock`` beside it (SQLite is one
    machine); nothing for an in-memory database (one process)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.backend = engine.url.get_backend_name()
        self._conn: Connection | None = None
        self._file: IO[bytes] | None = None

    def acquire(self) -> bool:
        if self.backend == "postgresql":
            conn = self.engine.connect()
            try:
                got = bool(
                    conn.execute(
                        text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}
                    ).scalar_one()
                )
                conn.commit()
            except BaseException:
                conn.close()
                raise
            if not got:
                conn.close()
                return False
            self._conn = conn
            return True
        database = self.engine.url.database
        if self.backend != "sqlite" or database in (None, "", ":memory:") or fcntl is None:
            return True
        handle = open(f"{os.path.abspath(database)}-relay.lock", "ab")  # noqa: SIM115
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                conn.commit()
            except Exception:
                # never hand a connection holding the lock back to the pool
                conn.invalidate()
                log.exception("could not release the relay's advisory lock")
            finally:
                conn.close()
        if self._file is not None:
            handle, self._file = self._file, None
            handle.close()  # closing the file releases the flock


class Relay:
    """Publishes the journal's events from the outbox (table ``journal_outbox``) to every
    sink, at least once, in event id order, and deletes each event's outbox row once
    every sink acknowledged it (docs/events-out.md).

    ``batch``: events read per round. ``source``: the name in idempotency keys
    (``xrm-<source>-<event id>``; default, a hash of the database's host, port and name).
    ``poll``: seconds :meth:`run` sleeps when nothing is pending. A sink that fails is
    tried again after ``backoff`` seconds, doubling at each failure up to
    ``max_backoff``, each delay drawn between half and all of it (jitter); meanwhile the
    events it has not acknowledged stay in the outbox, and so do the ones after them.

    Every sink of a database belongs in one relay: the outbox has one reader, and a row
    is deleted when the sinks of the relay that read it have the event."""

    def __init__(
        self,
        app: XRM,
        sinks: Sequence[Sink],
        *,
        batch: int = 500,
        source: str | None = None,
        poll: float = 0.5,
        backoff: float = 0.5,
        max_backoff: float = 60.0,
    ) -> None:
        if not sinks:
            raise ConfigurationError("sinks: give at least one sink to publish to")
        for sink in sinks:
            if not isinstance(sink, Sink):
                raise ConfigurationError(f"sinks: {sink!r} has no publish(events) and close()")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ConfigurationError(f"batch: {batch!r} is not a whole number of at least 1")
        for name, value in (("poll", poll), ("backoff", backoff), ("max_backoff", max_backoff)):
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigurationError(f"{name}: {value!r} is not a positive number of seconds")
        if source is not None and (not source or any(c in source for c in " \t\r\n*>.")):
            raise ConfigurationError(
                f"source: {source!r} must be a non-empty name without spaces, dots, * or >"
            )
        self.app = app
        self.batch = batch
        self.poll = float(poll)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.source = source or default_source(app.engine)
        self._sinks = [_SinkState(s) for s in sinks]
        self._lock = _Lock(app.engine)
        #: how many events the last round read (a full batch: more may be waiting)
        self._last_read = 0

    @property
    def sinks(self) -> list[Sink]:
        return [s.sink for s in self._sinks]

    def pending(self) -> int:
        """How many events wait in the outbox."""
        with self.app.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(OutboxRow)).scalar_one())

    def run_once(self) -> int:
        """One round: read up to ``batch`` pending events, in event id order, hand each
        sink that is not backing off the ones it has not acknowledged yet, and delete the
        events every sink acknowledged. Returns how many were deleted (published
        everywhere); 0 when another relay holds the lock."""
        self._last_read = 0
        if not self._lock.acquire():
            log.debug("another relay is publishing; waiting")
            return 0
        try:
            with self.app.engine.connect() as conn:
                events = pending_events(conn, self.source, self.batch)
                conn.rollback()
            self._last_read = len(events)
            if not events:
                return 0
            for state in self._sinks:
                self._publish(state, events)
            done = [e.id for e in events if all(e.id in s.acked for s in self._sinks)]
            self._delete(done)
            for state in self._sinks:
                state.acked.difference_update(done)
            return len(done)
        finally:
            self._lock.release()

    def _publish(self, state: _SinkState, events: list[OutboundEvent]) -> None:
        if time.monotonic() < state.due:
            return
        # never skip: from the first event this sink has not acknowledged, every one
        start = next((i for i, e in enumerate(events) if e.id not in state.acked), None)
        if start is None:
            return
        todo = events[start:]
        try:
            state.sink.publish(todo)
        except SinkFailure as exc:
            state.acked.update(e.id for e in todo[: max(0, exc.acknowledged)])
            self._failed(state, todo[max(0, exc.acknowledged) :][0], exc.reason)
        except Exception as exc:
            self._failed(state, todo[0], f"{type(exc).__name__}: {exc}")
        else:
            state.acked.update(e.id for e in todo)
            if state.failures:
                log.info("sink %s is publishing again", state.sink.name)
            state.failures = 0
            state.due = 0.0

    def _failed(self, state: _SinkState, first: OutboundEvent, reason: str) -> None:
        state.failures += 1
        delay = min(self.max_backoff, self.backoff * 2 ** (state.failures - 1))
        delay *= 0.5 + random.random() / 2  # jitter
        state.due = time.monotonic() + delay
        log.warning(
            "sink %s failed at event %d (%s); attempt %d, next in %.2fs",
            state.sink.name, first.id, reason, state.failures, delay,
        )  # fmt: skip

    def _delete(self, ids: list[int]) -> None:
        if not ids:
            return
        with self.app.engine.begin() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                conn.execute(delete(OutboxRow).where(OutboxRow.event_id.in_(chunk)))

    def _wait(self) -> float:
        """How long :meth:`run` sleeps after a round."""
        backing_off = [s.due for s in self._sinks if s.due]
        if backing_off:
            return max(0.0, min(backing_off) - time.monotonic())
        if self._last_read >= self.batch:
            return 0.0
        return self.poll

    def run(self, stop: threading.Event | None = None) -> None:
        """Publish until ``stop`` is set (or forever): round after round, sleeping
        ``poll`` seconds when nothing is pending, or until the next retry of a failed
        sink. An error of a round (the database unreachable) is logged and the round
        tried again after ``poll`` seconds."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                self.run_once()
                wait = self._wait()
            except Exception:
                log.exception("relay round failed; trying again in %.2fs", self.poll)
                wait = self.poll
            if wait:
                stop.wait(wait)

    def close(self) -> None:
        """Close every sink."""
        for state in self._sinks:
            with contextlib.suppress(Exception):
                state.sink.close()

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
