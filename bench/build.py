"""The rest of the data set, written straight through the driver once the parties are in.

xrm has no bulk path for relationships and interactions, and building millions of them
with one service call each would take longer than the benchmark itself; so they are
inserted here with the rows the services would write (the relationship or interaction,
its participants, the ``relationship.created`` / ``interaction.recorded`` journal event and
its party links). Party ``i`` of :mod:`bench.data` has id ``i + 1``: the import created
them in order (checked in :mod:`bench.checks`).

- relationships: 70 % of people are employed by an organisation, 10 % report to another
  person, half the organisations have an account manager, a third of the suppliers supply
  another organisation; a quarter of them have ended, some before :data:`AS_OF`;
- interactions: none, one or two per party (an outbound marketing email, an inbound
  support call);
- consents scoped to a party's email, which ``import_batch`` cannot bulk-insert yet;
- the timeline party (:data:`TIMELINE_PARTY`) has :data:`TIMELINE_EVENTS` interactions.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from bench.data import Consent, _rng, is_organization, spec
from bench.plain import Plain, Target

__all__ = ["TIMELINE_EVENTS", "TIMELINE_PARTY", "build"]

#: the organisation (party index 3, id 4) whose timeline W5 reads
TIMELINE_PARTY = 4
TIMELINE_EVENTS = 100_000
_CHUNK = 20_000
_DAY0 = dt.date(2010, 1, 1)

_RELATIONSHIP = (
    "INSERT INTO relationship (id, type, from_party_id, to_party_id, valid_from, valid_to, "
    "attributes, created_at) VALUES (?, ?, ?, ?, ?, ?, '{}', ?)"
)
_INTERACTION = (
    "INSERT INTO interaction (id, channel, direction, touchpoint, purpose, occurred_at, "
    "subject, content, outcome, external_ref, attributes, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, '{}', ?)"
)
_PARTICIPANT = (
    "INSERT INTO interaction_participant (id, interaction_id, party_id, role, "
    "contact_point_id, occurred_at) VALUES (?, ?, ?, ?, NULL, ?)"
)
_EVENT = (
    "INSERT INTO journal_event (id, type, entity, entity_id, occurred_at, recorded_at, actor, "
    "data) VALUES (?, ?, ?, ?, ?, ?, 'bench', ?)"
)
_LINK = "INSERT INTO journal_party (party_id, event_id, occurred_at) VALUES (?, ?, ?)"
_CONSENT = (
    "INSERT INTO consent_record (id, party_id, purpose, scope, channel, contact_kind, "
    "contact_key, contact_point_id, decision, captured_at, effective_from, expires_at, "
    "confirmed_at, source, recorded_by, evidence, recorded_at) "
    "VALUES (?, ?, ?, 'contact_point', NULL, 'email', ?, "
    "(SELECT id FROM contact_point WHERE party_id = ? AND kind = 'email' AND key = ?), "
    "?, ?, ?, ?, NULL, 'crm_migration', 'bench', NULL, ?)"
)
_LABELS = {
    "employed_by": "is employed by", "reports_to": "reports to",
    "account_manager": "is managed by", "supplies": "supplies",
}  # fmt: skip


class _Writer:
    """Rows for the tables of one chunk, with ids allocated after the current largest."""

    def __init__(self, db: Plain) -> None:
        self.db = db
        tables = (
            "relationship",
            "interaction",
            "interaction_participant",
            "journal_event",
            "consent_record",
        )
        self.next = {table: db.max_id(table) + 1 for table in tables}
        self.rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in (*tables, "journal_party")}
        self.now = db.ts(dt.datetime.now(dt.UTC))
        self.written = 0

    def take(self, table: str) -> int:
        ident = self.next[table]
        self.next[table] = ident + 1
        return ident

    def event(self, kind: str, entity: str, entity_id: int, parties: tuple[int, ...],
              data: dict[str, Any], at: Any) -> None:  # fmt: skip
        event_id = self.take("journal_event")
        self.rows["journal_event"].append(
            (event_id, kind, entity, entity_id, at, self.now, self.db.json(data))
        )
        self.rows["journal_party"].extend((p, event_id, at) for p in parties)

    def relationship(self, kind: str, source: int, target: int, start: dt.date,
                     end: dt.date | None) -> None:  # fmt: skip
        ident = self.take("relationship")
        day = self.db.day
        self.rows["relationship"].append((ident, kind, source, target, day(start), day(end),
                                          self.now))  # fmt: skip
        self.event("relationship.created", "relationship", ident, (source, target), {
            "type": kind, "from_party": source, "to_party": target, "label": _LABELS[kind],
            "valid_from": start.isoformat(), "valid_to": end.isoformat() if end else None,
            "attributes": {},
        }, self.now)  # fmt: skip

    def point_consent(self, party: int, key: str, consent: Consent) -> None:
        """A consent scoped to the party's email, as ``s.consents.record`` writes it."""
        ident = self.take("consent_record")
        at = self.db.ts(consent.captured_at)
        self.rows["consent_record"].append((ident, party, consent.purpose, key, party, key,
                                            consent.decision, at, at,
                                            self.db.ts(consent.expires_at), self.now))  # fmt: skip
        self.event(f"consent.{consent.decision}", "consent_record", ident, (party,), {
            "purpose": consent.purpose, "scope": f"email {key}", "source": "crm_migration",
            "evidence": None, "effective_from": consent.captured_at.isoformat(),
            "expires_at": None, "confirmed_at": None,
        }, at)  # fmt: skip

    def interaction(self, party: int, when: dt.datetime, inbound: bool, ref: str) -> None:
        ident = self.take("interaction")
        at = self.db.ts(when)
        channel, direction, touchpoint, purpose, role, subject = (
            ("phone", "inbound", "support", None, "sender", "Call about an order")
            if inbound
            else ("email", "outbound", "marketing", "marketing", "recipient", "Spring offers")
        )
        self.rows["interaction"].append((ident, channel, direction, touchpoint, purpose, at,
                                         subject, "done", ref, self.now))  # fmt: skip
        self.rows["interaction_participant"].append(
            (self.take("interaction_participant"), ident, party, role, at)
        )
        self.event("interaction.recorded", "interaction", ident, (party,), {
            "channel": channel, "direction": direction, "touchpoint": touchpoint,
            "purpose": purpose, "subject": subject, "outcome": "done",
            "participants": [[party, role]],
        }, at)  # fmt: skip

    def flush(self) -> None:
        statements = {
            "relationship": _RELATIONSHIP, "interaction": _INTERACTION,
            "interaction_participant": _PARTICIPANT, "journal_event": _EVENT,
            "journal_party": _LINK, "consent_record": _CONSENT,
        }  # fmt: skip
        self.db.begin()
        for table, statement in statements.items():
            if self.rows[table]:
                self.db.executemany(statement, self.rows[table])
                self.written += len(self.rows[table])
                self.rows[table] = []
        self.db.commit()


def _day(rng: Any, low: dt.date, high: dt.date) -> dt.date:
    return low + dt.timedelta(days=rng.randrange(max(1, (high - low).days)))


def _links(w: _Writer, index: int, size: int) -> None:
    rng = _rng(index, 2)
    pid = index + 1
    organizations = max(1, (size - 4) // 10 + 1)  # indices 3, 13, 23, ... below size

    def span() -> tuple[dt.date, dt.date | None]:
        start = _day(rng, _DAY0, dt.date(2024, 12, 31))
        end = None
        if rng.random() < 0.25:
            end = start + dt.timedelta(days=rng.randint(30, 3000))
        return start, end

    def organization() -> int:
        return rng.randrange(organizations) * 10 + 3 + 1

    party = spec(index)
    for consent in party.consents:
        if consent.on_email:
            w.point_consent(pid, party.email_key, consent)
    if is_organization(index):
        if rng.random() < 0.5:
            manager = rng.randrange(size)
            if not is_organization(manager):
                w.relationship("account_manager", pid, manager + 1, *span())
        if any(r[0] == "supplier" for r in party.roles) and rng.random() < 0.33:
            other = organization()
            if other != pid:
                w.relationship("supplies", pid, other, *span())
        return
    if rng.random() < 0.7:
        w.relationship("employed_by", pid, organization(), *span())
    if index > 0 and rng.random() < 0.1:
        boss = rng.randrange(index)
        if not is_organization(boss):
            w.relationship("reports_to", pid, boss + 1, *span())


def _contacts(w: _Writer, index: int) -> None:
    rng = _rng(index, 3)
    for n in range(rng.choice((0, 1, 1, 2))):
        when = dt.datetime(2020, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
            seconds=rng.randrange(5 * 365 * 86400)
        )
        w.interaction(index + 1, when, inbound=rng.random() < 0.5, ref=f"msg-{index}-{n}")


def build(target: Target, size: int, timeline_events: int = TIMELINE_EVENTS) -> dict[str, Any]:
    """Relationships, interactions and the long timeline; returns what was written."""
    began = time.perf_counter()
    db = Plain(target)
    w = _Writer(db)
    for start in range(0, size, _CHUNK):
        for index in range(start, min(size, start + _CHUNK)):
            _links(w, index, size)
            _contacts(w, index)
        w.flush()
    rng = _rng(TIMELINE_PARTY, 4)
    first = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    for n in range(timeline_events):
        when = first + dt.timedelta(seconds=rng.randrange(5 * 365 * 86400))
        w.interaction(TIMELINE_PARTY, when, inbound=True, ref=f"ticket-{n}")
        if len(w.rows["interaction"]) >= _CHUNK:
            w.flush()
    w.flush()
    db.sync_sequences(["relationship", "interaction", "interaction_participant",
                       "journal_event", "consent_record"])  # fmt: skip
    if target.kind == "postgresql":
        # what autovacuum does within a minute of a bulk load on a real server
        db.conn.autocommit = True
        db.execute("VACUUM ANALYZE")
    counts = {
        table: int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        for table in ("party", "contact_point", "role", "consent_record", "relationship",
                      "interaction", "journal_event", "journal_party")
    }  # fmt: skip
    db.close()
    return {"seconds": time.perf_counter() - began, "rows_written": w.written, "counts": counts}
