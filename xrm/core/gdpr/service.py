"""GDPR: everything about a party exported (art. 15 and 20), and erased (art. 17).

- :meth:`GdprService.export` gathers the party, its roles, relationships, interactions,
  consent ledger, timeline and each plugin's contribution into one document that validates
  against the published JSON Schema (``xrm/schemas/party-export.schema.json``).
- :meth:`GdprService.erase` anonymises the party in one transaction, plugins included (a
  plugin may veto), keeps what is not personal (dates, states, amounts, the fact that
  contacts happened), scrubs the journal, and leaves **suppression entries**: keyed hashes
  of the party's emails and phones, so that the same address created or imported later is
  stored suppressed and never reached for marketing.

docs/gdpr.md says what is erased, what is kept and why, and the threat model of the hashes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TextIO, TypeVar

import attrs
from sqlalchemy import Engine, Select, delete, func, or_, select, text, update
from sqlalchemy.orm import selectinload

from xrm.core._args import checked_methods
from xrm.core._fields import settle_primaries
from xrm.core.access import ERASE, EXPORT, READ
from xrm.core.events import ContactPointSuppressed, PartyErased
from xrm.core.gdpr._declared import erase_plugin_rows, export_plugin_rows
from xrm.core.gdpr._document import (
    EXPORT_FORMAT,
    SCHEMA_ID,
    ActivityOut,
    ConsentOut,
    EventOut,
    InteractionOut,
    MessageOut,
    PartyExport,
    PartyOut,
    PreferencesOut,
    RelationshipOut,
    RoleOut,
    SegmentMembershipOut,
    _dump,
    party_export_schema,
    published_schema,
    schema_text,
    write_schema,
)
from xrm.core.gdpr._suppression import (
    SUPPRESSIBLE,
    _keyed_hash,
    _make_secret,
    _variants,
    suppressed_keys,
)
from xrm.core.gdpr._traces import (
    _NAME_KEYS,
    _STICKY_KEYS,
    ERASED,
    _check_reason,
    _company_side,
    _keep_facts,
    _redact,
    _scrub,
    _Traces,
    marks_by_type,
)
from xrm.core.messaging.service import Message
from xrm.core.models import (
    ActivityPartyRow,
    ActivityRow,
    ConsentLedgerRow,
    ConsentRecordRow,
    ContactPointRow,
    InteractionRow,
    JournalEventRow,
    JournalPartyRow,
    MessageRow,
    ParticipantRow,
    PartyRow,
    RelationshipRow,
    RoleRow,
    SegmentMemberRow,
    SegmentRow,
    SuppressionRow,
    utcnow,
)
from xrm.core.normalize import email_key, phone_key, text_key
from xrm.core.nouns.preferences import delete_preferences, preferences_of
from xrm.core.records import Activity, Interaction, Party, Role, TimelineEntry
from xrm.core.uow import PartyRef, UnitOfWork, jsonable, ref_id
from xrm.errors import Conflict, PluginError, ValidationError

__all__ = [
    "ERASED",
    "EXPORT_FORMAT",
    "SCHEMA_ID",
    "ErasureReport",
    "GdprService",
    "PartyExport",
    "party_export_schema",
    "published_schema",
    "schema_text",
    "suppressed_keys",
    "write_schema",
]

R = TypeVar("R")
_PARTY_LOAD = (
    selectinload(PartyRow.contact_points),
    selectinload(PartyRow.identifiers),
    selectinload(PartyRow.tags),
)


def _wipe_on_sqlite(uow: UnitOfWork) -> None:
    """On SQLite, what the erasure overwrites or deletes must not stay on disk: free space
    is zeroed (``secure_delete``), and once the unit of work has ended the write-ahead
    log, which still holds the pages as they were, is checkpointed into the file and
    emptied (:func:`checkpoint`, called by ``XRM.session`` when ``db.info`` asks for it).
    PostgreSQL's part is ``XRM.vacuum()`` (docs/gdpr.md)."""
    db = uow.db
    if db.get_bind().dialect.name != "sqlite":
        return
    db.execute(text("PRAGMA secure_delete = ON"))
    db.info[CHECKPOINT_AFTER] = True


#: ``OrmSession.info`` key: checkpoint the SQLite write-ahead log once the unit of work ends
CHECKPOINT_AFTER = "xrm.checkpoint_after"


def checkpoint(engine: Engine) -> bool:
    """Checkpoint an SQLite database's write-ahead log into the file and empty it; False
    when another connection's open read kept it from completing (the erased pages then
    leave the log at its next checkpoint)."""
    with engine.connect() as conn:
        busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    return not busy


# -- the erasure report -------------------------------------------------------------------
@attrs.frozen
class ErasureReport:
    """What :meth:`GdprService.erase` did: ids and counts, never personal data."""

    party_id: int
    #: the party and every party merged into it: all were erased
    parties: tuple[int, ...]
    reason: str
    erased_at: dt.datetime
    #: the ``party.erased`` journal event
    event_id: int
    #: anonymised (value and key replaced, suppressed)
    contact_points: int
    #: removed
    identifiers: int
    #: removed
    tags: int
    #: kept with their states and dates; text attributes and transition notes removed
    roles: int
    #: kept with their dates; text attributes removed
    relationships: int
    #: the party was the one contacted or contacting: subject, content, outcome and
    #: external reference cleared
    interactions_cleared: int
    #: the party took part on the company's side only (an agent): its names and
    #: addresses redacted from the texts, which are kept for the other participants
    interactions_redacted: int
    #: evidence cleared, contact keys replaced by their keyed hash
    consent_records: int
    #: journal events whose data was scrubbed
    journal_events: int
    #: new suppression entries (addresses already suppressed are not counted)
    suppressions: int
    #: other parties holding one of the erased addresses: their points were suppressed too
    also_held_by: tuple[int, ...]
    #: rows of plugins' tables naming the party whose personal columns were replaced
    plugin_rows: int = 0
    #: preference rows removed (language, time zone, quiet hours; per purpose)
    preferences: int = 0
    #: messages whose address and texts were removed (those not yet sent: cancelled)
    messages: int = 0
    #: activities that concerned the party (texts removed, open ones cancelled) or were
    #: assigned to it (its names removed, no longer its)
    activities: int = 0
    #: frozen segments the party was a member of (the membership is removed)
    segments: int = 0


@checked_methods(
    "gdpr",
    {
        "paged": None,
        "export": EXPORT,
        "write_export": EXPORT,
        "erase": ERASE,
        "is_erased": READ,
        "suppressed": READ,
    },
)
class GdprService:
    """``s.gdpr``: export everything about a party, erase a party, check suppression.

    ``page_size`` is how many rows each query reads at a time, so that memory stays
    bounded whatever the length of a party's history.
    """

    def __init__(self, ctx: UnitOfWork, *, page_size: int = 500) -> None:
        if not isinstance(page_size, int) or not 1 <= page_size <= 5000:
            raise ValidationError.single("page_size", "must be between 1 and 5000")
        self._ctx = ctx
        self._page = page_size

    # -- export ------------------------------------------------------------------------
    def paged(self, page_size: int) -> GdprService:
        """This service reading ``page_size`` rows per query (1 to 5000)."""
        return GdprService(self._ctx, page_size=page_size)

    def export(self, party: PartyRef) -> dict[str, Any]:
        """Everything about ``party`` (and the parties merged into it) as JSON-ready data
        that validates against :func:`published_schema`: the party with its contact
        points, identifiers and tags; roles with transitions, ended ones too;
        relationships whatever their dates, with labels; the interactions it took part in,
        with their content; its consent ledger; its journal events; and each plugin's
        ``xrm_party_export`` contribution under the plugin's name.

        A party merged into another is refused (:class:`~xrm.Conflict`): export that one.
        """
        document: dict[str, Any] = {}
        for name, value in self._sections(party):
            document[name] = list(value) if isinstance(value, Iterator) else value
        return document

    def write_export(self, party: PartyRef, out: TextIO) -> None:
        """Write :meth:`export`'s document to ``out`` as JSON while reading it, one page at
        a time: memory stays bounded whatever the length of the history."""
        out.write("{")
        for i, (name, value) in enumerate(self._sections(party)):
            out.write(("," if i else "") + f"\n  {json.dumps(name)}: ")
            if not isinstance(value, Iterator):
                out.write(json.dumps(value, ensure_ascii=False))
                continue
            out.write("[")
            empty = True
            for item in value:
                out.write(("\n    " if empty else ",\n    ") + json.dumps(item, ensure_ascii=False))
                empty = False
            out.write("]" if empty else "\n  ]")
        out.write("\n}\n")

    def _sections(self, party: PartyRef) -> Iterator[tuple[str, Any]]:
        ctx = self._ctx
        row = ctx.party_row(party, reading=True)
        cluster = self._cluster(row.id)
        parties = self._parties(cluster)
        main = parties[0]
        yield "format", EXPORT_FORMAT
        yield "exported_at", jsonable(utcnow())
        yield "party", _dump(PartyOut, main)
        yield "merged_parties", [_dump(PartyOut, p) for p in parties[1:]]
        yield "preferences", _dump(PreferencesOut, self._preferences(main.id))
        yield "roles", self._roles(cluster)
        yield "relationships", self._relationships(cluster)
        yield "interactions", self._interactions(cluster)
        yield "messages", self._messages(cluster)
        yield "activities", self._activities(cluster)
        yield "segments", self._segments(cluster)
        yield "consents", self._consents(cluster)
        yield "timeline", self._timeline(cluster)
        yield "plugins", self._plugin_exports(main)
        yield "tables", export_plugin_rows(ctx, cluster)

    def _preferences(self, party_id: int) -> dict[str, Any]:
        return preferences_of(self._ctx.db, [party_id])[party_id].as_json()

    def _roles(self, cluster: list[int]) -> Iterator[dict[str, Any]]:
        query = (
            select(RoleRow)
            .where(RoleRow.party_id.in_(cluster))
            .options(selectinload(RoleRow.transitions))
        )
        for row in self._pages(query, RoleRow.id, lambda r: r.id):
            yield _dump(RoleOut, Role.of(row))

    def _relationships(self, cluster: list[int]) -> Iterator[dict[str, Any]]:
        members = set(cluster)
        query = select(RelationshipRow).where(
            or_(
                RelationshipRow.from_party_id.in_(cluster), RelationshipRow.to_party_id.in_(cluster)
            )
        )
        page: list[RelationshipRow] = []
        for row in self._pages(query, RelationshipRow.id, lambda r: r.id):
            page.append(row)
            if len(page) == self._page:
                yield from self._links(page, members)
                page = []
        yield from self._links(page, members)

    def _links(self, rows: list[RelationshipRow], members: set[int]) -> Iterator[dict[str, Any]]:
        if not rows:
            return
        ends = {r.to_party_id if r.from_party_id in members else r.from_party_id for r in rows}
        others = {
            ident: (kind, name)
            for ident, kind, name in self._ctx.db.execute(
                select(PartyRow.id, PartyRow.kind, PartyRow.display_name).where(
                    PartyRow.id.in_(ends)
                )
            )
        }
        registry = self._ctx.registry.relationship_types
        for row in rows:
            outgoing = row.from_party_id in members
            mine, other = (
                (row.from_party_id, row.to_party_id)
                if outgoing
                else (row.to_party_id, row.from_party_id)
            )
            rel_type = registry.get(row.type)
            if rel_type is None:  # registered by a plugin that is not installed now
                label = row.type if outgoing else f"{row.type} (inverse)"
            else:
                label = rel_type.forward_label if outgoing else rel_type.inverse_label
            kind, name = others[other]
            yield _dump(
                RelationshipOut,
                {
                    "id": row.id,
                    "type": row.type,
                    "party_id": mine,
                    "label": label,
                    "other": {
                        "id": other,
                        "kind": kind,
                        "display_name": None if kind in ("person", "household") else name,
                    },
                    "valid_from": row.valid_from,
                    "valid_to": row.valid_to,
                    "attributes": dict(row.attributes or {}),
                },
            )

    def _messages(self, cluster: list[int]) -> Iterator[dict[str, Any]]:
        query = select(MessageRow).where(MessageRow.party_id.in_(cluster))
        for row in self._pages(query, MessageRow.id, lambda r: r.id):
            yield _dump(MessageOut, Message.of(row))

    def _activity_query(self, cluster: list[int]) -> Select[ActivityRow]:
        concerned = select(ActivityPartyRow.activity_id).where(
            ActivityPartyRow.party_id.in_(cluster)
        )
        return (
            select(ActivityRow)
            .where(or_(ActivityRow.id.in_(concerned), ActivityRow.assignee_id.in_(cluster)))
            .options(selectinload(ActivityRow.parties))
        )

    def _activities(self, cluster: list[int]) -> Iterator[dict[str, Any]]:
        for row in self._pages(self._activity_query(cluster), ActivityRow.id, lambda r: r.id):
            yield _dump(ActivityOut, Activity.of(row))

    def _segments(self, cluster: list[int]) -> list[dict[str, Any]]:
        query = (
            select(SegmentRow.name, SegmentRow.frozen_at)
            .join(SegmentMemberRow, SegmentMemberRow.segment_id == SegmentRow.id)
            .where(SegmentMemberRow.party_id.in_(cluster))
            .distinct()
            .order_by(SegmentRow.frozen_at, SegmentRow.name)
        )
        return [
            _dump(SegmentMembershipOut, {"segment": name, "frozen_at": at})
            for name, at in self._ctx.db.execute(query)
        ]

    def _erase_segments(self, cluster: list[int]) -> int:
        """The party leaves every frozen segment's member list (a dynamic segment holds
        no list: an erased party is never a member)."""
        gone = delete(SegmentMemberRow).where(SegmentMemberRow.party_id.in_(cluster))
        return int(self._ctx.db.execute(gone).rowcount or 0)  # type: ignore[attr-defined]

    def _erase_activities(self, cluster: list[int], traces: _Traces) -> int:
        """Activities that concern the party lose their texts (the open ones are
        cancelled: nobody calls an erased party back); those it was only assigned to keep
        theirs, without its names, and no longer name it as their assignee."""
        members = set(cluster)
        count = 0
        for row in self._pages(self._activity_query(cluster), ActivityRow.id, lambda r: r.id):
            count += 1
            if any(p.party_id in members for p in row.parties):
                row.subject, row.notes, row.outcome = ERASED, None, None
                if row.status == "open":
                    row.status = "cancelled"
            else:
                for field in ("subject", "notes", "outcome"):
                    text = getattr(row, field)
                    if text is not None and traces.matches(text):
                        setattr(row, field, traces.redact(text))
            if row.assignee_id in members:
                row.assignee_id = None
            row.updated_at = utcnow()
        self._ctx.db.flush()
        return count

    def _erase_messages(self, cluster: list[int]) -> int:
        """Messages not yet gone are cancelled; every message's address and texts go."""
        db = self._ctx.db
        M = MessageRow
        db.execute(
            update(M)
            .where(M.party_id.in_(cluster), M.status.in_(("queued", "sending")))
            .values(status="cancelled")
        )
        done = db.execute(
            update(M)
            .where(M.party_id.in_(cluster))
            .values(address=ERASED, subject=None, body_text=ERASED, body_html=None, last_error=None)
        )
        return int(done.rowcount or 0)  # type: ignore[attr-defined]

    def _interactions(self, cluster: list[int]) -> Iterator[dict[str, Any]]:
        for row in self._pages(self._interaction_query(cluster), InteractionRow.id, _row_id):
            yield _dump(InteractionOut, Interaction.of(row))

    def _interaction_query(self, cluster: list[int]) -> Select[InteractionRow]:
        taking_part = select(ParticipantRow.interaction_id).where(
            ParticipantRow.party_id.in_(cluster)
        )
        return (
            select(InteractionRow)
            .where(InteractionRow.id.in_(taking_part))
            .options(selectinload(InteractionRow.participants))
        )

    def _consents(self, cluster: list[int]) -> Iterator[dict[str, Any]]:
        query = select(ConsentRecordRow).where(ConsentRecordRow.party_id.in_(cluster))
        for row in self._pages(query, ConsentRecordRow.id, lambda r: r.id):
            yield _dump(ConsentOut, row)  # the row has the ledger record's fields

    def _timeline(self, cluster: list[int]) -> Iterator[dict[str, Any]]:
        for row in self._pages(self._event_query(cluster), JournalEventRow.id, lambda r: r.id):
            yield _dump(EventOut, TimelineEntry.of(row))

    @staticmethod
    def _event_query(cluster: list[int]) -> Select[JournalEventRow]:
        linked = select(JournalPartyRow.event_id).where(JournalPartyRow.party_id.in_(cluster))
        return select(JournalEventRow).where(JournalEventRow.id.in_(linked))

    def _plugin_exports(self, party: Party) -> dict[str, Any]:
        results = self._ctx.hooks.collect("xrm_party_export", party=party)
        exported: dict[str, Any] = {}
        for name, result in sorted(results.items()):
            if not isinstance(result, Mapping):
                cause = TypeError(f"returned {type(result).__name__}, not a mapping")
                raise PluginError(name, "xrm_party_export", cause) from cause
            try:
                exported[name] = json.loads(json.dumps(jsonable(result)))
            except (TypeError, ValueError) as exc:
                raise PluginError(name, "xrm_party_export", exc) from exc
        return exported

    # -- erasure -----------------------------------------------------------------------
    def erase(self, party: PartyRef, *, reason: str) -> ErasureReport:
        """Anonymise ``party`` and the parties merged into it, all or nothing.

        Plugins first (``xrm_party_erase``, with the party as it was): one that raises
        :class:`~xrm.Conflict` vetoes the erasure, nothing is changed, and the caller gets
        ``PluginError(plugin, "xrm_party_erase")`` naming it, with its reason. Then the
        core: names, birth date and attributes cleared; contact points anonymised and
        suppressed; identifiers and tags removed; role, relationship and interaction texts
        removed while their dates, states and numbers are kept; consent evidence cleared
        and contact keys replaced by their keyed hash; the party's journal events scrubbed.
        Every email and phone the party had gets a suppression entry. One ``party.erased``
        event records ``reason``, which must not itself contain the erased data.

        A party already erased is refused with :class:`~xrm.Conflict`, as is a party
        merged into another (erase that one: it takes the merged parties with it).
        """
        ctx = self._ctx
        why = _check_reason(reason)
        _wipe_on_sqlite(ctx)
        with ctx.atomic():
            if self.is_erased(ref_id(party)):
                raise Conflict(f"party {ref_id(party)} was already erased", field="party")
            row = ctx.lock_party(party)
            cluster = self._cluster(row.id)
            before = self._parties(cluster)
            traces = self._traces(before, cluster)
            if traces.matches(why):
                raise ValidationError.single(
                    "reason", "must not contain the data being erased (a name, an address...)"
                )
            for each in before:
                ctx.notify("xrm_party_erase", party=each, reason=why)
            now = utcnow()
            counts = self._anonymise_parties(cluster, now)
            secret = _make_secret(ctx)
            suppressions, also_held_by = self._suppress(traces, cluster, secret)
            counts["roles"] = self._erase_roles(cluster, traces)
            counts["relationships"] = self._erase_relationships(cluster, traces)
            counts.update(self._erase_interactions(cluster, traces))
            counts["consent_records"] = self._erase_consents(cluster, secret)
            counts["preferences"] = delete_preferences(ctx, cluster)
            counts["messages"] = self._erase_messages(cluster)
            counts["activities"] = self._erase_activities(cluster, traces)
            counts["segments"] = self._erase_segments(cluster)
            counts["journal_events"] = self._erase_journal(cluster, traces)
            counts["plugin_rows"] = erase_plugin_rows(ctx, cluster)
            ctx.db.flush()
            event_id = ctx.record(
                PartyErased(
                    entity_id=row.id,
                    parties=tuple(cluster),
                    occurred_at=now,
                    reason=why,
                    parties_erased=cluster,
                    counts={**counts, "suppressions": suppressions},
                )
            )
            self._erase_actor(traces)  # its own event too, when the party erased itself
        if ctx.actor is not None and ctx.actor.lower() in traces.actors:
            # a self-service portal acting under the party's name: that name is written
            # no more in this unit of work
            ctx.actor = ERASED
        return ErasureReport(
            party_id=row.id,
            parties=tuple(cluster),
            reason=why,
            erased_at=now,
            event_id=event_id,
            suppressions=suppressions,
            also_held_by=also_held_by,
            **counts,
        )

    def is_erased(self, party: PartyRef) -> bool:
        """Was ``party`` erased? (Its data no longer changes: writes are refused.)"""
        query = select(PartyRow.erased_at).where(PartyRow.id == ref_id(party))
        return self._ctx.db.scalar(query) is not None

    def suppressed(
        self, *, email: str | None = None, phone: str | None = None, region: str | None = None
    ) -> bool:
        """Is this email or phone (any way of writing it) an erased party's address? A
        contact point created with it is stored suppressed. ``region`` reads a national
        phone number (default: the application's ``default_region``)."""
        if email is None and phone is None:
            raise ValidationError.single("", "give an email or a phone")
        points: list[tuple[str, str, str]] = []
        try:
            if email is not None:
                points.append(("email", email_key(email, self._ctx.settings.email_rules), email))
            if phone is not None:
                key = phone_key(phone, region or self._ctx.settings.default_region)
                points.append(("phone", key, phone))
        except ValueError as exc:
            raise ValidationError.single("phone" if email is None else "email", str(exc)) from None
        return bool(suppressed_keys(self._ctx, [_Given(*p) for p in points]))

    # -- erasure steps -----------------------------------------------------------------
    def _traces(self, parties: list[Party], cluster: list[int]) -> _Traces:
        """The names, addresses and identifiers of the parties, now and in their past
        (the journal remembers renamed names and removed addresses)."""
        ctx = self._ctx
        traces = _Traces()
        for party in parties:
            traces.add(party.display_name, actor=True)
            traces.add(party.given_name)
            traces.add(party.family_name)
            if party.birth_date is not None:
                traces.birth_dates.add(party.birth_date.isoformat())
            for point in party.contact_points:
                traces.add(point.value, actor=True)
                traces.add(point.key, actor=True)
                for line in point.data.get("lines", ()):
                    traces.add(line)
                if point.kind in SUPPRESSIBLE:
                    traces.add_address(
                        point.kind, _variants(ctx, point.kind, point.key, point.value)
                    )
                if point.kind == "phone":
                    traces.add_phone(point.key)
            for ident in party.identifiers:
                traces.add(ident.value, actor=True)
        query = self._event_query(cluster).where(
            JournalEventRow.entity.in_(("party", "contact_point"))
        )
        for event in self._pages(query, JournalEventRow.id, lambda r: r.id):
            self._past_values(event.data, traces, under=None)
        return traces

    def _past_values(self, value: Any, traces: _Traces, under: str | None) -> None:
        """Collect what the journal remembers: names under the name keys (``changes`` of
        ``party.updated`` too), ``value`` of contact points and identifiers, the values of
        ``identifiers`` pairs, and each past email and phone."""
        if isinstance(value, Mapping):
            kind, raw = value.get("kind"), value.get("value")
            if kind in SUPPRESSIBLE and isinstance(raw, str):
                self._past_address(str(kind), raw, traces)
            for k, v in value.items():
                self._past_values(v, traces, under if under in _STICKY_KEYS else str(k))
        elif isinstance(value, list):
            if (
                under == "identifiers"
                and len(value) == 2
                and all(isinstance(v, str) for v in value)
            ):
                traces.add(value[1], actor=True)
                return
            for v in value:
                self._past_values(v, traces, under)
        elif isinstance(value, str):
            if under == "birth_date":
                traces.birth_dates.add(value[:10])
            elif under in _NAME_KEYS:
                traces.add(value, actor=under == "display_name")
            elif under == "value":
                traces.add(value, actor=True)

    def _past_address(self, kind: str, raw: str, traces: _Traces) -> None:
        settings = self._ctx.settings
        try:
            if kind == "email":
                key = email_key(raw, settings.email_rules)
            else:
                key = phone_key(raw, settings.default_region)
        except ValueError:  # a national number whose region is not known any more
            return
        traces.add(key, actor=True)
        traces.add_address(kind, _variants(self._ctx, kind, key, raw))
        if kind == "phone":
            traces.add_phone(key)

    def _anonymise_parties(self, cluster: list[int], now: dt.datetime) -> dict[str, int]:
        db = self._ctx.db
        counts = {"contact_points": 0, "identifiers": 0, "tags": 0}
        rows = db.scalars(select(PartyRow).where(PartyRow.id.in_(cluster)).options(*_PARTY_LOAD))
        for row in rows:
            counts["identifiers"] += len(row.identifiers)
            counts["tags"] += len(row.tags)
            row.identifiers = []
            row.tags = []
            row.display_name = f"erased party {row.id}"
            row.name_key = text_key(row.display_name)
            row.given_name = None
            row.family_name = None
            row.birth_date = None
            row.attributes = {"erased": True}
            row.updated_at = now
            row.erased_at = now
            for point in row.contact_points:
                counts["contact_points"] += 1
                point.value = ERASED
                point.key = f"erased:{point.id}"
                point.label = None
                point.data = {}
                point.suppressed = True
                point.is_primary = False
        db.flush()
        return counts

    def _suppress(
        self, traces: _Traces, cluster: list[int], secret: bytes
    ) -> tuple[int, tuple[int, ...]]:
        """Suppression entries for every email and phone the parties had; the other
        parties that hold one of them get that point suppressed too."""
        ctx = self._ctx
        written = 0
        now = utcnow()
        others: set[int] = set()
        for kind, keys in sorted(traces.addresses.items()):
            digests = {_keyed_hash(secret, kind, key) for key in keys}
            held = set(
                ctx.db.scalars(
                    select(SuppressionRow.keyed_hash).where(
                        SuppressionRow.kind == kind, SuppressionRow.keyed_hash.in_(digests)
                    )
                )
            )
            for digest in sorted(digests - held):
                ctx.db.add(
                    SuppressionRow(kind=kind, keyed_hash=digest, reason="erasure", created_at=now)
                )
                written += 1
            query = select(ContactPointRow).where(
                ContactPointRow.kind == kind,
                ContactPointRow.key.in_(keys),
                ContactPointRow.party_id.not_in(cluster),
            )
            for point in ctx.db.scalars(query.order_by(ContactPointRow.id)):
                others.add(point.party_id)
                if not point.suppressed:
                    point.suppressed = True
                    ctx.record(
                        ContactPointSuppressed(
                            entity_id=point.id,
                            parties=(point.party_id,),
                            kind=kind,
                            reason="the address of an erased party",
                        )
                    )
        ctx.db.flush()
        for party_id in sorted(others):  # their suppressed points are no longer primary
            points = ctx.db.scalars(
                select(ContactPointRow)
                .where(ContactPointRow.party_id == party_id)
                .order_by(ContactPointRow.id)
            ).all()
            settle_primaries(ctx.db, points)
        ctx.db.flush()
        return written, tuple(sorted(others))

    def _erase_roles(self, cluster: list[int], traces: _Traces) -> int:
        query = (
            select(RoleRow)
            .where(RoleRow.party_id.in_(cluster))
            .options(selectinload(RoleRow.transitions))
        )
        count = 0
        for row in self._pages(query, RoleRow.id, lambda r: r.id):
            count += 1
            kept = _keep_facts(row.attributes or {}, traces)
            if kept != row.attributes:
                row.attributes = kept
            for transition in row.transitions:
                transition.note = None
        self._ctx.db.flush()
        return count

    def _erase_relationships(self, cluster: list[int], traces: _Traces) -> int:
        query = select(RelationshipRow).where(
            or_(
                RelationshipRow.from_party_id.in_(cluster), RelationshipRow.to_party_id.in_(cluster)
            )
        )
        count = 0
        for row in self._pages(query, RelationshipRow.id, lambda r: r.id):
            count += 1
            kept = _keep_facts(row.attributes or {}, traces)
            if kept != row.attributes:
                row.attributes = kept
        self._ctx.db.flush()
        return count

    def _erase_interactions(self, cluster: list[int], traces: _Traces) -> dict[str, int]:
        members = set(cluster)
        counts = {"interactions_cleared": 0, "interactions_redacted": 0}
        for row in self._pages(self._interaction_query(cluster), InteractionRow.id, _row_id):
            mine = [p for p in row.participants if p.party_id in members]
            if all(_company_side(row.direction, p.role) for p in mine):
                counts["interactions_redacted"] += 1
                for field in ("subject", "content", "outcome", "external_ref"):
                    text = getattr(row, field)
                    if text is not None and traces.matches(text):
                        setattr(row, field, traces.redact(text))
                redacted = _redact(row.attributes or {}, traces)
                if redacted != row.attributes:
                    row.attributes = redacted
            else:
                counts["interactions_cleared"] += 1
                row.subject = row.content = row.outcome = row.external_ref = None
                kept = _keep_facts(row.attributes or {}, traces)
                if kept != row.attributes:
                    row.attributes = kept
        self._ctx.db.flush()
        return counts

    def _erase_consents(self, cluster: list[int], secret: bytes) -> int:
        query = select(ConsentRecordRow).where(ConsentRecordRow.party_id.in_(cluster))
        count = 0
        for row in self._pages(query, ConsentRecordRow.id, lambda r: r.id):
            count += 1
            row.evidence = None
            if row.contact_key is not None and row.contact_kind is not None:
                row.contact_key = _keyed_hash(secret, row.contact_kind, row.contact_key)
        # the ledgers that merged contact points answer to are keyed the same way
        ledger = select(ConsentLedgerRow).where(ConsentLedgerRow.party_id.in_(cluster))
        for point in self._pages(ledger, ConsentLedgerRow.id, lambda r: r.id):
            point.contact_key = _keyed_hash(secret, point.contact_kind, point.contact_key)
        self._ctx.db.flush()
        return count

    def _erase_journal(self, cluster: list[int], traces: _Traces) -> int:
        """Scrub the data of every event that concerns the parties; an interaction's event
        where they were only on the company's side is redacted, as the interaction is."""
        members = set(cluster)
        count = 0
        page: list[JournalEventRow] = []
        for event in self._pages(self._event_query(cluster), JournalEventRow.id, lambda r: r.id):
            page.append(event)
            if len(page) == self._page:
                count += self._scrub_events(page, members, traces)
                page = []
        count += self._scrub_events(page, members, traces)
        return count

    def _scrub_events(
        self, events: list[JournalEventRow], members: set[int], traces: _Traces
    ) -> int:
        ids = {e.entity_id for e in events if e.entity == "interaction" and e.entity_id}
        sides: dict[int, bool] = {}
        if ids:
            query = (
                select(InteractionRow.id, InteractionRow.direction, ParticipantRow.role)
                .join(ParticipantRow, ParticipantRow.interaction_id == InteractionRow.id)
                .where(InteractionRow.id.in_(ids), ParticipantRow.party_id.in_(members))
            )
            for ident, direction, role in self._ctx.db.execute(query):
                sides[ident] = sides.get(ident, True) and _company_side(direction, role)
        count = 0
        marks = marks_by_type(self._ctx.registry.event_types.values())
        for event in events:
            data = dict(event.data or {})
            if event.entity == "interaction" and sides.get(event.entity_id or 0, False):
                scrubbed = _redact(data, traces)
            else:
                scrubbed = _scrub(data, traces, marks(event.type))
            if scrubbed != data:
                event.data = scrubbed
                count += 1
        self._ctx.db.flush()
        return count

    def _erase_actor(self, traces: _Traces) -> None:
        """A party that acted itself (a self-service portal writing its email as the
        actor) is no longer named as the actor of any event or consent record."""
        names = sorted(traces.actors)
        db = self._ctx.db
        for column, model in (
            (JournalEventRow.actor, JournalEventRow),
            (ConsentRecordRow.recorded_by, ConsentRecordRow),
        ):
            for start in range(0, len(names), 500):
                chunk = names[start : start + 500]
                db.execute(
                    update(model).where(func.lower(column).in_(chunk)).values({column: ERASED}),
                    execution_options={"synchronize_session": "fetch"},
                )

    # -- helpers -----------------------------------------------------------------------
    def _cluster(self, party_id: int) -> list[int]:
        """The party and every party merged into it, directly or through others."""
        cluster = [party_id]
        frontier = [party_id]
        while frontier:
            found = [
                i
                for i in self._ctx.db.scalars(
                    select(PartyRow.id)
                    .where(PartyRow.merged_into_id.in_(frontier))
                    .order_by(PartyRow.id)
                )
                if i not in cluster
            ]
            cluster += found
            frontier = found
        return cluster

    def _parties(self, cluster: list[int]) -> list[Party]:
        rows = {
            r.id: r
            for r in self._ctx.db.scalars(
                select(PartyRow).where(PartyRow.id.in_(cluster)).options(*_PARTY_LOAD)
            )
        }
        return [Party.of(rows[i]) for i in cluster]

    def _pages(self, query: Select[R], order: Any, key: Callable[[R], int]) -> Iterator[R]:
        """The rows of ``query`` in ``order`` (a unique integer column), a page at a time."""
        last: int | None = None
        while True:
            paged = query if last is None else query.where(order > last)
            rows = list(self._ctx.db.scalars(paged.order_by(order).limit(self._page)))
            yield from rows
            if len(rows) < self._page:
                return
            last = key(rows[-1])
            del rows
            # write what the caller changed in this page, so that the session lets go of it
            self._ctx.db.flush()


@attrs.frozen
class _Given:
    kind: str
    key: str
    value: str


def _row_id(row: InteractionRow) -> int:
    return row.id
