"""The bulk path for imports: validate a batch in Python, recognise it with one query per
kind of key, and insert the new parties with set-based statements.

Same rules, same journal and same plugin hooks as the one-at-a-time services; what it saves
is the per-row round trips. Rows that concern known parties go through
:func:`xrm.core.imports.importer.import_party`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import attrs
from sqlalchemy import JSON, String, Table, literal, select, text
from sqlalchemy.exc import IntegrityError

from xrm.core._fields import (
    ANY,
    ASKED,
    KEPT_INVALID,
    NormalizedPoint,
    _clean_name,
    _clean_tags,
    address_region,
    normalize_contact_point,
    primary_flags,
    unique_points,
)
from xrm.core._gc import collector_paused
from xrm.core.consent.rules import consent_event
from xrm.core.events import JournalEvent, PartyCreated, RoleAssigned
from xrm.core.imports.importer import import_party, match_keys
from xrm.core.inputs import Email, ImportedParty, Phone
from xrm.core.models import (
    Base,
    ConsentRecordRow,
    ContactPointRow,
    IdentifierRow,
    JournalEventRow,
    JournalPartyRow,
    OutboxRow,
    PartyRow,
    PartyTagRow,
    RoleRow,
    RoleTransitionRow,
    utcnow,
)
from xrm.core.normalize import email_key, phone_key_and_country, text_key
from xrm.core.predicates import role_open
from xrm.core.records import (
    ConsentRecord,
    ContactPoint,
    Identifier,
    ImportResult,
    Party,
    Role,
    RoleTransition,
)
from xrm.core.uow import jsonable
from xrm.errors import FieldError, PluginError, ValidationError, XRMError

if TYPE_CHECKING:
    from xrm.core.imports.service import ImportService

__all__ = ["import_batch"]


@attrs.define
class _New:
    line: int
    row: ImportedParty
    name: str | None
    given: str | None
    family: str | None
    attributes: dict[str, Any]
    points: list[NormalizedPoint]
    identifiers: list[tuple[str, str]]
    tags: list[str]
    roles: list[tuple[str, str, dict[str, Any]]]
    consents: list[dict[str, Any]]
    party_id: int = 0
    #: a consent names a contact point the row does not give: only the one-at-a-time
    #: path knows whether the known party holds it
    slow: bool = False
    #: phone numbers kept though invalid (``ImportResult.warnings``)
    warnings: tuple[str, ...] = ()


def import_batch(
    session: ImportService, rows: Sequence[tuple[int, ImportedParty]]
) -> list[ImportResult]:
    """Import ``rows`` (line number, record). Each row is all or nothing; a bad row is
    returned with its error and writes nothing. New parties are inserted together.

    Python's cyclic garbage collector is paused while the batch is worked on (see
    :mod:`xrm.core._gc`)."""
    with collector_paused():
        return _import_batch(session, rows)


def _import_batch(
    session: ImportService, rows: Sequence[tuple[int, ImportedParty]]
) -> list[ImportResult]:
    s = session
    results: dict[int, ImportResult] = {}
    slow: list[tuple[int, ImportedParty]] = []
    fresh: list[_New] = []
    claimed: set[tuple[str, str]] = set()
    checked = []
    now = utcnow()
    for line, row in rows:
        try:
            checked.append(_check(s, line, row, now))
        except XRMError as exc:
            results[line] = ImportResult(line, None, None, exc)
    keys = [k for new in checked for k in _keys(new)]
    # recognition one unit of work after the other on the same keys: an import running
    # at the same time waits for this one to commit, then finds the parties it created
    s.uow.lock_match_keys(keys)
    known = _known_keys(s, keys)
    recognised: list[tuple[_New, int]] = []
    touched: list[int] = []  # parties that rows taking the one-at-a-time path may change
    for new in checked:
        keys = _keys(new)
        owners = {owner for k in keys for owner in known.get(k, ())}
        earlier = any(k in claimed for k in keys)
        claimed.update(keys)  # a later row sharing a key waits for this one, as in order
        if earlier or len(owners) > 1 or new.slow:
            slow.append((new.line, new.row))
            touched += owners
        elif owners:
            recognised.append((new, owners.pop()))
        elif new.name is None:
            error = ValidationError.single("display_name", "is required")
            results[new.line] = ImportResult(new.line, None, None, error)
        else:
            fresh.append(new)
    counts = Counter([*touched, *(p for _, p in recognised)])
    once = [(new, party_id) for new, party_id in recognised if counts[party_id] == 1]
    same = _unchanged(s, once) if once else set()
    for new, party_id in recognised:
        if new.line in same:
            results[new.line] = ImportResult(new.line, "unchanged", party_id,
                                             warnings=new.warnings)  # fmt: skip
        else:
            slow.append((new.line, new.row))
    if fresh:
        try:
            with s.uow.atomic():
                _insert(s, fresh)
        except (IntegrityError, PluginError, XRMError):
            slow = [(n.line, n.row) for n in fresh] + slow  # find the culprit row by row
            fresh = []
        for new in fresh:
            results[new.line] = ImportResult(new.line, "created", new.party_id,
                                             warnings=new.warnings)  # fmt: skip
    for line, row in sorted(slow):
        warnings: list[str] = []
        try:
            outcome, party_id = import_party(s, row, warnings)
        except XRMError as exc:
            results[line] = ImportResult(line, None, None, exc)
        else:
            results[line] = ImportResult(line, outcome, party_id, warnings=tuple(warnings))
    return [results[line] for line, _ in rows]


def _check(s: ImportService, line: int, row: ImportedParty, now: dt.datetime) -> _New:
    """Everything the services would refuse, refused before anything is written."""
    ctx = s.uow
    services = s.parties
    errors: list[FieldError] = []
    if row.kind not in ctx.registry.party_kinds:
        known = ", ".join(sorted(ctx.registry.party_kinds))
        raise ValidationError.single("kind", f"unknown party kind {row.kind!r} ({known})")
    given = _clean_name(row.given_name, "given_name", required=False)
    family = _clean_name(row.family_name, "family_name", required=False)
    display = row.display_name
    if display is None and (given or family):
        display = " ".join(p for p in (given, family) if p)
    # a known party needs no name in the row; a new one does (checked when it is known new)
    name = _clean_name(display, "display_name", required=False)
    warnings: list[str] = []
    points = _normalize_points(s, row, errors, warnings)
    identifiers = services._normalize_identifiers(row.identifiers, errors)
    tags = _clean_tags(row.tags)
    if errors:
        raise ValidationError(errors)
    roles = []
    for i, wanted in enumerate(row.roles):
        role_type = s.roles.role_type(wanted.type)
        state = wanted.state or role_type.initial
        if not role_type.may_start_in(state):
            raise ValidationError.single(f"roles.{i}.state", f"cannot start in {state!r}")
        if role_type.party_kinds is not None and row.kind not in role_type.party_kinds:
            raise ValidationError.single(f"roles.{i}.type", f"a {row.kind} cannot hold it")
        s.roles.check_attributes(role_type, wanted.attributes)
        roles.append((wanted.type, state, dict(wanted.attributes)))
    if len({r[0] for r in roles}) != len(roles):
        raise ValidationError.single("roles", "the same role twice")
    consents = []
    slow = row.preferences is not None  # completed one party at a time (importer)
    said: dict[tuple[str, str | None, str | None], str] = {}
    for i, consent in enumerate(row.consents):
        try:
            captured, effective, expires, _ = s.consents.check_record(
                consent.purpose, consent.decision, consent.channel, consent.source, now,
                consent.captured_at, None, consent.expires_at,
            )  # fmt: skip
        except ValidationError as exc:
            raise exc.prefixed(f"consents.{i}") from None
        key = None
        if consent.contact_point is not None:
            key = _point_key(s, consent.contact_point, points, f"consents.{i}.contact_point")
            if key is None:
                slow = True
                continue
        scope = (consent.purpose, None if key else consent.channel, key)
        if said.get(scope) == consent.decision:
            continue  # the row repeats itself: the ledger's latest word is already this
        said[scope] = consent.decision
        consents.append({
            "purpose": consent.purpose, "decision": consent.decision,
            "scope": "channel" if consent.channel else "all",
            "channel": None if key else consent.channel, "contact_key": key,
            "captured_at": captured, "effective_from": effective, "expires_at": expires,
            "confirmed_at": None, "source": consent.source.strip(),
            "evidence": consent.evidence,
        })  # fmt: skip
    return _New(line, row, name, given, family, {}, points, identifiers, tags, roles, consents,
                slow=slow, warnings=tuple(warnings))  # fmt: skip


def _as_is(value: str) -> bool:
    """Is ``value`` kept as it is by the input models (trimmed ASCII, 1 to 500 long)?"""
    return 0 < len(value) <= 500 and value.isascii() and value[0] > " " and value[-1] > " "


def _normalize_points(
    s: ImportService, row: ImportedParty, errors: list[FieldError], warnings: list[str]
) -> list[Any]:
    """What ``PartyService._normalize_points`` gives for the row's emails, phones and
    contact points (same points, keys, paths and errors), without building an input model
    for each plain email and phone: those are normalised straight from the string. Whatever
    the straight way refuses goes the ordinary way, which words the refusal."""
    ctx = s.uow
    kinds = ctx.registry.contact_kinds
    rules = ctx.settings.email_rules
    # a local number is read in the row's region, else its postal address's country
    own_region = row.region or address_region(row.contact_points)
    region = own_region or ctx.settings.default_region
    given: list[str] = [*row.emails, *row.phones]
    emails = len(row.emails)
    # the input models of the values not taken straight, built first as the services do
    models: dict[int, Any] = {
        i: Email(v) if i < emails else Phone(v, region=own_region, keep_invalid=True)
        for i, v in enumerate(given)
        if not _as_is(v)
    }
    normalized: list[NormalizedPoint] = []
    for i, raw in enumerate([*given, *row.contact_points]):
        point = None
        if isinstance(raw, str) and i not in models:
            try:
                if i < emails:
                    if "email" in kinds:
                        key = email_key(raw, rules)
                        point = NormalizedPoint("email", raw, key, label=None, primary=False)
                elif "phone" in kinds:
                    key, country = phone_key_and_country(raw, region)
                    point = NormalizedPoint("phone", raw, key, label=None, primary=False,
                                            country=country)  # fmt: skip
            except ValueError:
                point = None
            if point is None:
                models[i] = (
                    Email(raw) if i < emails
                    else Phone(raw, region=own_region, keep_invalid=True)
                )  # fmt: skip
        if point is None:
            try:
                point = normalize_contact_point(
                    ctx, models.get(i, raw), f"contact_points.{i}", own_region
                )
            except ValidationError as exc:
                errors.extend(exc.errors)
                continue
            if point.problem is not None:
                at = (
                    f"phones.{i - emails}" if i < len(given) else f"contact_points.{i - len(given)}"
                )
                warnings.append(KEPT_INVALID.format(path=at, problem=point.problem))
        normalized.append(point)
    return unique_points(normalized, "contact_points", errors)


def _point_key(
    s: ImportService, value: str, points: list[NormalizedPoint], path: str
) -> str | None:
    """The key of the row's own contact point that ``value`` names, if it names one."""
    for point in points:
        if point.kind in ("email", "phone", "url"):
            try:
                candidate = normalize_contact_point(
                    s.uow, {"kind": point.kind, "value": value}, path
                )
            except ValidationError:
                continue
            if candidate.key == point.key:
                return point.key
    return None


def _keys(new: _New) -> list[tuple[str, str]]:
    return match_keys(new.points, new.identifiers)


#: the tables recognition reads; their planner statistics must follow a bulk import
_LOOKED_UP = ("contact_point", "party_identifier")


def _fresh_statistics(s: ImportService) -> None:
    """On PostgreSQL, ``ANALYZE`` the tables recognition reads when a fifth of their rows
    changed since their statistics were taken.

    A bulk import into a new or small table outgrows its statistics at once; until
    autovacuum catches up (or for ever, where it is off), the planner believes there are
    a hundred emails and answers each ``kind = ? AND key IN (...)`` by reading every email
    stored: 1 s per look-up at 60,000 parties, and an import that slows down as it goes.
    One catalog query per batch (on PostgreSQL 15 and later, also a request that the
    batch's counts be reported as it commits, so the next batch reads them); an ANALYZE
    (about 0.1 s) only as often as the table grows by a fifth."""
    conn = s.uow.db.connection()
    if conn.dialect.name != "postgresql":
        return
    if (conn.dialect.server_version_info or (0,)) >= (15,):
        # this batch's counts reach the statistics views when it commits: by default a
        # backend reports them at most once a second, a batch or two late for the next
        conn.execute(text("SELECT pg_stat_force_next_flush()"))
    stale = (
        conn.execute(
            text(
                "SELECT relname FROM pg_stat_user_tables"
                " WHERE relid = ANY(CAST(:tables AS regclass[]))"
                " AND n_mod_since_analyze > GREATEST(1000, n_live_tup / 5)"
            ),
            {"tables": list(_LOOKED_UP)},
        )
        .scalars()
        .all()
    )
    for table in stale:
        if table in _LOOKED_UP:  # a name from the catalog, checked against ours
            conn.execute(text(f"ANALYZE {table}"))


def _known_keys(s: ImportService, keys: list[tuple[str, str]]) -> dict[tuple[str, str], set[int]]:
    """Who already holds each key (contact kind or ``id:scheme``, value).

    One ``kind = ? AND key IN (...)`` query per kind and chunk: a row-value
    ``(kind, key) IN (...)`` list is not matched to the (kind, key) index by PostgreSQL,
    which then reads the whole table for each chunk."""
    db = s.uow.db
    _fresh_statistics(s)
    by_kind: dict[str, set[str]] = {}
    for kind, value in keys:
        by_kind.setdefault(kind, set()).add(value)
    found: dict[tuple[str, str], set[int]] = {}
    for kind, values in by_kind.items():
        ordered = sorted(values)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            if kind.startswith("id:"):
                query = select(IdentifierRow.value, IdentifierRow.party_id).where(
                    IdentifierRow.scheme == kind[3:], IdentifierRow.value.in_(chunk)
                )
            else:
                query = select(ContactPointRow.key, ContactPointRow.party_id).where(
                    ContactPointRow.kind == kind, ContactPointRow.key.in_(chunk)
                )
            for value, owner in db.execute(query):
                found.setdefault((kind, value), set()).add(owner)
    return found


def _unchanged(s: ImportService, recognised: list[tuple[_New, int]]) -> set[int]:
    """The lines of the rows that add nothing to their known party: every contact point,
    identifier, tag and current role already there, and each consent already the ledger's
    latest word for its scope. A handful of queries for the whole batch."""
    db = s.uow.db
    ids = sorted({party_id for _, party_id in recognised})
    have: dict[int, set[tuple[str, ...]]] = {i: set() for i in ids}
    latest: dict[tuple[int, str, str | None, str | None], tuple[Any, int, str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        queries = [
            select(ContactPointRow.party_id, literal("point"), ContactPointRow.kind,
                   ContactPointRow.key).where(ContactPointRow.party_id.in_(chunk)),
            select(IdentifierRow.party_id, literal("id"), IdentifierRow.scheme,
                   IdentifierRow.value).where(IdentifierRow.party_id.in_(chunk)),
            select(PartyTagRow.party_id, literal("tag"), PartyTagRow.tag,
                   literal("")).where(PartyTagRow.party_id.in_(chunk)),
            select(RoleRow.party_id, literal("role"), RoleRow.type, literal("")).where(
                RoleRow.party_id.in_(chunk), role_open()),
        ]  # fmt: skip
        for query in queries:
            for party_id, what, a, b in db.execute(query):
                have[party_id].add((what, a, b))
        records = select(
            ConsentRecordRow.party_id, ConsentRecordRow.purpose, ConsentRecordRow.channel,
            ConsentRecordRow.contact_key, ConsentRecordRow.effective_from, ConsentRecordRow.id,
            ConsentRecordRow.decision,
        ).where(ConsentRecordRow.party_id.in_(chunk))  # fmt: skip
        for party_id, purpose, channel, key, effective, rid, decision in db.execute(records):
            scope = (party_id, purpose, None if key else channel, key)
            if scope not in latest or (effective, rid) > latest[scope][:2]:
                latest[scope] = (effective, rid, decision)
    same = set()
    for new, party_id in recognised:
        held = have[party_id]
        wanted = {("point", p.kind, p.key) for p in new.points}
        wanted |= {("id", sc, v) for sc, v in new.identifiers}
        wanted |= {("tag", t, "") for t in new.tags}
        wanted |= {("role", t, "") for t, _state, _attrs in new.roles}
        consents_said = all(
            latest.get((party_id, c["purpose"], c["channel"], c["contact_key"]), (0, 0, ""))[2]
            == c["decision"]
            for c in new.consents
        )
        if wanted <= held and consents_said:
            same.add(new.line)
    return same


def _same(value: Any) -> Any:
    return value


def _holds_nul(rows: list[tuple[Any, ...]], positions: tuple[int, ...]) -> bool:
    """Does a text of ``rows`` (the columns at ``positions``), as bound, hold a NUL
    character, raw or escaped in JSON? Every other path refuses one at flush (the unit of
    work's check); the bulk statements go round the ORM, so they look for themselves."""
    for i in positions:
        try:  # one column at a time, joined: the search runs in C
            joined = "".join(filter(None, [row[i] for row in rows]))
        except TypeError:  # not text as bound (a number, JSON for PostgreSQL to check)
            continue
        if "\x00" in joined or "\\u0000" in joined:
            return True
    return False


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _json_ready(data: Mapping[str, Any]) -> dict[str, Any]:
    """``jsonable(data)`` for a mapping, its walk skipped for plain values and datetimes."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        kind = type(value)
        if kind in _PLAIN:
            out[str(key)] = value
        elif kind is dt.datetime:
            out[str(key)] = value.isoformat()
        else:
            out[str(key)] = jsonable(value)
    return out


class _Writer:
    """``executemany`` straight through the driver, each table in one statement.

    Values are put in the form SQLAlchemy binds them by each column type's own bind
    processor, so the stored rows are the ones ``insert(Model)`` writes; what is saved is
    SQLAlchemy's per-row parameter work, and a timestamp shared by a batch is processed
    once. Journal events are gathered and written with two statements per :meth:`flush`.
    """

    def __init__(self, s: ImportService) -> None:
        self.ctx = s.uow
        self.conn = s.uow.db.connection()
        self.dialect = self.conn.dialect
        self._processors: dict[tuple[str, str], Callable[[Any], Any]] = {}
        self._statements: dict[tuple[str, tuple[str, ...]], str] = {}
        #: the positions of the text and JSON columns of each statement, checked for NUL
        self._texts: dict[tuple[str, tuple[str, ...]], tuple[int, ...]] = {}
        self._stamps: dict[dt.datetime, Any] = {}
        self._events: list[tuple[str, str, int, tuple[int, ...], Any, dt.datetime]] = []

    def bind(self, model: type[Base], column: str) -> Callable[[Any], Any]:
        table = cast(Table, model.__table__)
        key = (table.name, column)
        found = self._processors.get(key)
        if found is None:
            kind = table.c[column].type.dialect_impl(self.dialect)
            found = kind.bind_processor(self.dialect) or _same
            self._processors[key] = found
        return found

    def stamp(self, value: dt.datetime) -> Any:
        """A timestamp as bound (every timestamp column is a :class:`UTCDateTime`)."""
        done = self._stamps.get(value, _same)
        if done is _same:
            done = self._stamps[value] = self.bind(JournalEventRow, "occurred_at")(value)
        return done

    def insert(
        self, model: type[Base], columns: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        if not rows:
            return
        table = cast(Table, model.__table__)
        statement = self._statements.get((table.name, columns))
        if statement is None:
            missing = [
                c.name
                for c in table.c
                if c.name not in columns
                and (c.default is not None or (not c.nullable and c.server_default is None))
            ]
            if missing:  # a column added to the model and not to the bulk path
                raise TypeError(f"bulk insert into {table.name} leaves out {missing}")
            quote = self.dialect.identifier_preparer.quote
            mark = "?" if self.dialect.paramstyle == "qmark" else "%s"
            statement = (
                f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
                f"VALUES ({', '.join([mark] * len(columns))})"
            )
            self._statements[(table.name, columns)] = statement
            self._texts[(table.name, columns)] = (
                ()  # the journal's texts are copies of the rows' (checked)
                if table.name
                in (JournalEventRow.__tablename__, JournalPartyRow.__tablename__, "journal_outbox")
                else tuple(
                    i for i, c in enumerate(columns) if isinstance(table.c[c].type, String | JSON)
                )
            )
        if _holds_nul(rows, self._texts[(table.name, columns)]):
            # the row-by-row path finds the row again and names the field
            raise ValidationError.single("", "a value holds a NUL character")
        self.conn.exec_driver_sql(statement, rows)

    def event(self, event: JournalEvent, now: dt.datetime) -> None:
        """A journal event, written at the next :meth:`flush` (``now`` unless it says when
        it happened): the same typed event the one-at-a-time services write."""
        self._events.append((
            event.TYPE, event.ENTITY, event.entity_id or 0, event.parties,
            event.data() if event.JSON_READY else _json_ready(event.data()),
            event.occurred_at or now,
        ))  # fmt: skip

    def flush(self) -> None:
        """Write the gathered events, as :meth:`UnitOfWork.record_many` does."""
        events, self._events = self._events, []
        if not events:
            return
        ids = self.ctx.allocate_ids(JournalEventRow, len(events))
        recorded = self.stamp(utcnow())
        actor = self.ctx.actor
        data = self.bind(JournalEventRow, "data")
        stamp = self.stamp
        self.insert(
            JournalEventRow,
            ("id", "type", "entity", "entity_id", "occurred_at", "recorded_at", "actor", "data"),
            [(i, e[0], e[1], e[2], stamp(e[5]), recorded, actor, data(e[4]))
             for i, e in zip(ids, events, strict=True)],
        )  # fmt: skip
        self.insert(OutboxRow, ("event_id",), [(i,) for i in ids])  # the relay's (xrm relay)
        self.insert(
            JournalPartyRow,
            ("party_id", "event_id", "occurred_at"),
            [(p, i, stamp(e[5])) for i, e in zip(ids, events, strict=True)
             for p in dict.fromkeys(e[3])],
        )  # fmt: skip


def _insert(s: ImportService, fresh: list[_New]) -> None:
    ctx = s.uow
    out = _Writer(s)
    now = utcnow()
    at = out.stamp(now)
    day = out.bind(PartyRow, "birth_date")
    as_json = out.bind(PartyRow, "attributes")
    flag = out.bind(ContactPointRow, "is_primary")
    ids = ctx.allocate_ids(PartyRow, len(fresh))
    party_rows = []
    for new, party_id in zip(fresh, ids, strict=True):
        new.party_id = party_id
        name = new.name or ""
        party_rows.append((party_id, new.row.kind, new.name, text_key(name), new.given,
                           new.family, day(new.row.birth_date), as_json(new.attributes), at, at,
                           1))  # fmt: skip
    out.insert(
        PartyRow,
        ("id", "kind", "display_name", "name_key", "given_name", "family_name", "birth_date",
         "attributes", "created_at", "updated_at", "version"),
        party_rows,
    )  # fmt: skip
    # an erased party's address stays unreachable, whoever gives it again
    blocked = s.suppressions.blocked([p for n in fresh for p in n.points])
    point_ids = iter(ctx.allocate_ids(ContactPointRow, sum(len(n.points) for n in fresh)))
    point_rows: list[tuple[Any, ...]] = []
    parties: list[Party] = []
    empty = as_json({})
    for new in fresh:
        gone_points = [(p.kind, p.key) in blocked for p in new.points]
        flags = primary_flags(
            [(p.kind, ASKED if p.primary else ANY, gone or not p.valid)
             for p, gone in zip(new.points, gone_points, strict=True)]
        )  # fmt: skip
        mine = []
        for p, primary, gone in zip(new.points, flags, gone_points, strict=True):
            p.primary = primary
            pid = next(point_ids)
            point_rows.append((pid, new.party_id, p.kind, p.value, p.key, p.label, p.country,
                               as_json(p.data) if p.data else empty, flag(p.primary),
                               flag(gone), flag(p.valid), at))  # fmt: skip
            mine.append(ContactPoint(pid, p.kind, p.value, p.key, p.label, p.country, p.data,
                                     p.primary, gone, p.valid))  # fmt: skip
        parties.append(Party(
            id=new.party_id, kind=new.row.kind, display_name=new.name or "", given_name=new.given,
            family_name=new.family, birth_date=new.row.birth_date, attributes={},
            tags=tuple(sorted(new.tags)), contact_points=tuple(mine),
            identifiers=tuple(Identifier(sc, v) for sc, v in new.identifiers),
            version=1, merged_into=None, created_at=now, updated_at=now,
        ))  # fmt: skip
    out.insert(
        ContactPointRow,
        ("id", "party_id", "kind", "value", "key", "label", "country", "data", "is_primary",
         "suppressed", "valid", "created_at"),
        point_rows,
    )  # fmt: skip
    ident_rows = [(n.party_id, sc, v) for n in fresh for sc, v in n.identifiers]
    ident_ids = ctx.allocate_ids(IdentifierRow, len(ident_rows))
    out.insert(IdentifierRow, ("id", "party_id", "scheme", "value"),
               [(i, *r) for i, r in zip(ident_ids, ident_rows, strict=True)])  # fmt: skip
    out.insert(PartyTagRow, ("party_id", "tag"), [(n.party_id, t) for n in fresh for t in n.tags])

    for party in parties:
        ctx.notify("xrm_validate_party", party=party, action="create")
    for made in parties:
        out.event(PartyCreated.of(made), now)
    out.flush()
    for party in parties:
        ctx.notify("xrm_party_created", party=party)
    _insert_roles(s, out, fresh, now)
    _insert_consents(s, out, fresh, now)


def _insert_roles(s: ImportService, out: _Writer, fresh: list[_New], now: dt.datetime) -> None:
    ctx = s.uow
    wanted = [(n.party_id, *r) for n in fresh for r in n.roles]
    if not wanted:
        return
    values = [
        s.roles.initial_attributes(ctx.registry.role_types[t], pid, given)
        for pid, t, _state, given in wanted
    ]
    at = out.stamp(now)
    as_json = out.bind(RoleRow, "attributes")
    role_ids = ctx.allocate_ids(RoleRow, len(wanted))
    out.insert(
        RoleRow,
        ("id", "party_id", "type", "state", "attributes", "started_at", "ended_at", "version"),
        [(rid, pid, t, state, as_json(v), at, None, 1)
         for rid, (pid, t, state, _g), v in zip(role_ids, wanted, values, strict=True)],
    )  # fmt: skip
    step_ids = ctx.allocate_ids(RoleTransitionRow, len(wanted))
    out.insert(
        RoleTransitionRow,
        ("id", "role_id", "from_state", "to_state", "at", "note"),
        [(sid, rid, None, state, at, None)
         for sid, rid, (_p, _t, state, _g) in zip(step_ids, role_ids, wanted, strict=True)],
    )  # fmt: skip
    roles = [
        Role(rid, pid, t, state, v, now, None, (RoleTransition(None, state, now, None),), 1)
        for rid, (pid, t, state, _g), v in zip(role_ids, wanted, values, strict=True)
    ]
    for role in roles:
        ctx.notify("xrm_validate_role_transition", role=role, from_state=None, to_state=role.state)
    for r in roles:
        out.event(RoleAssigned(
            entity_id=r.id, parties=(r.party_id,), type=r.type, state=r.state,
            attributes=_json_ready(r.attributes), note=None,
        ), now)  # fmt: skip
    out.flush()
    for role in roles:
        ctx.notify("xrm_role_changed", role=role, from_state=None)


_CONSENT_COLUMNS = (
    "id", "party_id", "purpose", "scope", "channel", "contact_kind", "contact_key", "decision",
    "captured_at", "effective_from", "expires_at", "confirmed_at", "source", "recorded_by",
    "evidence", "recorded_at",
)  # fmt: skip


def _insert_consents(s: ImportService, out: _Writer, fresh: list[_New], now: dt.datetime) -> None:
    ctx = s.uow
    records: list[ConsentRecord] = []
    wanted = [(n, c) for n in fresh for c in n.consents]
    if not wanted:
        return
    ids = ctx.allocate_ids(ConsentRecordRow, len(wanted))
    for rid, (new, c) in zip(ids, wanted, strict=True):
        key = c["contact_key"]
        kind = None
        if key is not None:
            kind = next(p.kind for p in new.points if p.key == key)
        records.append(ConsentRecord(
            id=rid, party_id=new.party_id, purpose=c["purpose"],
            scope="contact_point" if key is not None else c["scope"], channel=c["channel"],
            contact_kind=kind, contact_key=key, decision=c["decision"],
            captured_at=c["captured_at"], effective_from=c["effective_from"],
            expires_at=c["expires_at"], confirmed_at=None, source=c["source"],
            recorded_by=ctx.actor, evidence=c["evidence"], recorded_at=now,
        ))  # fmt: skip
    stamp = out.stamp
    # every row has every column: executemany takes its columns from the first
    out.insert(
        ConsentRecordRow,
        _CONSENT_COLUMNS,
        [(r.id, r.party_id, r.purpose, r.scope, r.channel, r.contact_kind, r.contact_key,
          r.decision, stamp(r.captured_at), stamp(r.effective_from),
          None if r.expires_at is None else stamp(r.expires_at), None, r.source, r.recorded_by,
          r.evidence, stamp(now))
         for r in records],
    )  # fmt: skip
    for record in records:
        out.event(consent_event(record), now)
    out.flush()
    for record in records:
        ctx.notify("xrm_consent_changed", record=record)
