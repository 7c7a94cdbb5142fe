"""What the relay publishes: an event of the journal as a message, read at publication
time (an erasure before then leaves nothing of the party to publish)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from xrm.tables import JournalEventRow, JournalPartyRow, OutboxRow

__all__ = ["OutboundEvent", "default_source", "pending_events"]


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()


@dataclass(frozen=True, slots=True)
class OutboundEvent:
    """A journal event on its way out: the message body and its idempotency key."""

    id: int
    type: str
    entity: str
    entity_id: int | None
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    actor: str | None
    parties: tuple[int, ...]
    data: dict[str, Any]
    #: ``xrm-<source>-<event id>``: the same for every copy of the event, whichever relay
    key: str

    def message(self) -> dict[str, Any]:
        """The published JSON object (docs/events-out.md)."""
        return {
            "id": self.id,
            "type": self.type,
            "entity": self.entity,
            "entity_id": self.entity_id,
            "occurred_at": _iso(self.occurred_at),
            "recorded_at": _iso(self.recorded_at),
            "actor": self.actor,
            "parties": list(self.parties),
            "data": self.data,
        }

    def body(self) -> bytes:
        """The message as compact UTF-8 JSON, keys in a fixed order."""
        return json.dumps(self.message(), ensure_ascii=False, separators=(",", ":")).encode()


def default_source(engine: Engine) -> str:
    """A name for the database, stable for a given URL: a short hash of its dialect, host,
    port and database (never the user or password). Name the source explicitly
    (``Relay(source=...)``, ``xrm relay --source``) when the same database is reached under
    several URLs."""
    url = engine.url
    where = f"{url.get_backend_name()}://{url.host or ''}:{url.port or ''}/{url.database or ''}"
    return hashlib.sha256(where.encode()).hexdigest()[:12]


def pending_events(conn: Connection, source: str, limit: int) -> list[OutboundEvent]:
    """The ``limit`` oldest events in the outbox, in event id order, with their parties."""
    rows = conn.execute(
        select(JournalEventRow.__table__)
        .join(OutboxRow.__table__, OutboxRow.event_id == JournalEventRow.id)
        .order_by(JournalEventRow.id)
        .limit(limit)
    ).all()
    if not rows:
        return []
    parties: defaultdict[int, list[int]] = defaultdict(list)
    ids = [r.id for r in rows]
    links = select(JournalPartyRow.event_id, JournalPartyRow.party_id).where(
        JournalPartyRow.event_id.in_(ids)
    )
    for event_id, party_id in conn.execute(links.order_by(JournalPartyRow.party_id)):
        parties[event_id].append(party_id)
    return [
        OutboundEvent(
            id=r.id,
            type=r.type,
            entity=r.entity,
            entity_id=r.entity_id,
            occurred_at=r.occurred_at,
            recorded_at=r.recorded_at,
            actor=r.actor,
            parties=tuple(parties.get(r.id, ())),
            data=dict(r.data or {}),
            key=f"xrm-{source}-{r.id}",
        )
        for r in rows
    ]


def windows(events: Sequence[OutboundEvent], size: int) -> list[list[OutboundEvent]]:
    """``events`` cut, in order, into runs of at most ``size`` where no two events share a
    party: a sink may have a whole run in flight at once, since whatever order the runs'
    events land in, each party's events keep theirs."""
    runs: list[list[OutboundEvent]] = []
    current: list[OutboundEvent] = []
    seen: set[int] = set()
    for event in events:
        if current and (len(current) >= size or seen.intersection(event.parties)):
            runs.append(current)
            current, seen = [], set()
        current.append(event)
        seen.update(event.parties)
    if current:
        runs.append(current)
    return runs
