"""The unit of work: the state every service of one ``with app.session()`` block shares
(the database session, the registries, the settings, the actor, the clock and the plugin
hooks) and the journal writer.

Services receive it and the other services they use in their constructors (see
``xrm.app.Session``); nothing here refers back to the public session.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import attrs
import pydantic
from sqlalchemy import Table, event, func, insert, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlalchemy.orm.exc import StaleDataError

from xrm.core.access import AccessRequest, Policy
from xrm.core.events import AccessRefused, JournalEvent
from xrm.core.models import Base, JournalEventRow, JournalPartyRow, OutboxRow, PartyRow, utcnow
from xrm.core.normalize import DEFAULT_EMAIL_RULES, EmailRules
from xrm.core.registry import Registry

if TYPE_CHECKING:
    from xrm.core.messaging.templates import TemplateSet
    from xrm.core.messaging.transports import Transport
from xrm.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PluginError,
    ReadOnly,
    SessionClosed,
    ValidationError,
)

__all__ = [
    "NO_HOOKS",
    "Event",
    "Hooks",
    "PartyRef",
    "Settings",
    "UnitOfWork",
    "contention",
    "match_key_lock",
]


class Hooks(Protocol):
    """The plugins' lifecycle hooks as one unit of work calls them (the plugin host binds
    them to the public session, which each implementation receives as ``session``)."""

    def call(self, hook: str, /, **kwargs: Any) -> None:
        """Call every plugin's ``hook``; the first that raises stops the call."""

    def collect(self, hook: str, /, **kwargs: Any) -> dict[str, Any]:
        """Each plugin's non-``None`` result, by plugin name."""

    def call_each(self, hook: str, arguments: Callable[[str], Mapping[str, Any]], /) -> None:
        """Call each plugin's ``hook`` with the arguments made for it by name."""


class _NoHooks:
    """No plugin: every call does nothing."""

    def call(self, hook: str, /, **kwargs: Any) -> None:
        return None

    def collect(self, hook: str, /, **kwargs: Any) -> dict[str, Any]:
        return {}

    def call_each(self, hook: str, arguments: Callable[[str], Mapping[str, Any]], /) -> None:
        return None


#: the hooks of a unit of work without plugins
NO_HOOKS: Hooks = _NoHooks()


class HasId(Protocol):
    @property
    def id(self) -> int: ...


#: a party given by id or by any record with an ``id`` (a :class:`xrm.Party`)
PartyRef = int | HasId

M = TypeVar("M", bound=pydantic.BaseModel)


@attrs.frozen
class Settings:
    #: ISO 3166 alpha-2 region for phone numbers written without a country code
    default_region: str | None = None
    email_rules: EmailRules = DEFAULT_EMAIL_RULES
    #: the message templates (``XRM(templates=...)``); ``None``: messaging is off
    templates: TemplateSet | None = None
    #: channel -> the transport that carries it (``XRM(transports=...)``, ``xrm_transports``)
    transports: Mapping[str, Transport] = attrs.field(factory=dict)
    #: the language of a party that stated none
    default_language: str = "en"
    #: where one-click unsubscribe links point (``XRM(unsubscribe_url=...)``); ``None``:
    #: emails carry no ``List-Unsubscribe`` header
    unsubscribe_url: str | None = None
    #: the authorisation policy (``XRM(policy=...)``); ``None``: every call is allowed
    #: unless a plugin's ``xrm_authorize`` refuses it
    policy: Policy | None = None


@attrs.frozen
class Event:
    """An immutable journal event, written in the same transaction as the change."""

    type: str
    entity: str
    entity_id: int | None
    parties: tuple[int, ...]
    data: Mapping[str, Any] = attrs.field(factory=dict)
    occurred_at: dt.datetime | None = None


def as_envelope(event: Event | JournalEvent) -> Event:
    """What the journal stores of an event: its type, entity, parties and data."""
    if isinstance(event, Event):
        return event
    return Event(
        event.TYPE, event.ENTITY, event.entity_id, event.parties, event.data(), event.occurred_at
    )


def jsonable(value: Any) -> Any:
    """Dates as ISO text, enums as values, containers recursively: what JSON columns take."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    return value


#: ids are signed 64-bit integers in every table (a larger one is refused by the driver
#: or, on PostgreSQL, by the server, which leaves the transaction unusable)
_ID_RANGE = range(-(2**63), 2**63)


def ref_id(ref: PartyRef, what: str = "party") -> int:
    if isinstance(ref, bool):
        raise ValidationError.single(what, "must be an id or a record")
    ident = ref if isinstance(ref, int) else getattr(ref, "id", None)
    if not isinstance(ident, int) or isinstance(ident, bool):
        raise ValidationError.single(
            what, f"{_clip(repr(ref))} is neither an id nor a record with an id"
        )
    if ident not in _ID_RANGE:
        raise ValidationError.single(what, "is not an id (out of the 64-bit range)")
    return ident


def _clip(text_: str, limit: int = 80) -> str:
    return text_ if len(text_) <= limit else text_[: limit - 3] + "..."


def as_utc(value: dt.datetime | dt.date | None, field: str) -> dt.datetime | None:
    """Aware UTC datetimes from what callers give; a naive datetime is taken as UTC."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
    raise ValidationError.single(field, f"expected a date or datetime, got {value!r}")


def encode_cursor(*parts: Any) -> str:
    raw = json.dumps([jsonable(p) for p in parts], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, field: str = "after") -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        raise ValidationError.single(field, "is not a cursor returned by a previous page") from None
    if not isinstance(value, list):
        raise ValidationError.single(field, "is not a cursor returned by a previous page")
    return value


R = TypeVar("R")


def keyset_page(
    db: OrmSession,
    keys: Any,
    limit: int,
    model: Any,
    options: Sequence[Any],
    make: Callable[[Any], R],
) -> tuple[tuple[R, ...], str | None]:
    """One keyset page: ``keys`` selects ``(id, sort value)`` in page order, ``limit + 1``
    of them; the rows of ``model`` with those ids are read in one more query (with
    ``options``) and made into records by ``make``. Returns the records and the cursor of
    the next page (``None`` on the last)."""
    found = list(dict.fromkeys((r[0], r[1]) for r in db.execute(keys)))
    more = len(found) > limit
    found = found[:limit]
    rows = {
        r.id: r
        for r in db.scalars(
            select(model).where(model.id.in_([k[0] for k in found])).options(*options)
        )
    }
    items = tuple(make(rows[k[0]]) for k in found)
    return items, (encode_cursor(found[-1][1], found[-1][0]) if more and found else None)


def decode_time_cursor(cursor: str, field: str = "after") -> tuple[dt.datetime, int]:
    """A ``(time, id)`` cursor (:func:`encode_cursor`); anything else, however it decodes,
    is refused with a ValidationError naming ``field``."""
    parts = decode_cursor(cursor, field)
    try:
        at_text, last_id = parts
        if not isinstance(at_text, str) or isinstance(last_id, bool):
            raise TypeError
        at, ident = dt.datetime.fromisoformat(at_text), int(last_id)
    except (ValueError, TypeError):
        raise ValidationError.single(field, "is not a cursor returned by a previous page") from None
    if ident != last_id:
        raise ValidationError.single(field, "is not a cursor returned by a previous page")
    return at, ident


def validate_model(model: type[M], data: Any, prefix: str = "") -> M:
    """Validate ``data`` with a pydantic model; errors become :class:`ValidationError`."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = []
        for err in exc.errors():
            path = ".".join(str(p) for p in err["loc"])
            full = f"{prefix}.{path}" if prefix and path else (prefix or path)
            errors.append(FieldError(full, err["msg"]))
        raise ValidationError(errors) from None


class UnitOfWork:
    """The state one unit of work shares between its services: ``db`` (the SQLAlchemy
    session, one transaction), ``registry``, ``settings``, ``actor`` (written on every
    journal event), ``clock`` (what :meth:`now` reads) and ``hooks`` (the plugins)."""

    def __init__(
        self,
        db: OrmSession,
        registry: Registry,
        settings: Settings,
        actor: str | None,
        *,
        hooks: Hooks = NO_HOOKS,
        clock: Callable[[], dt.datetime] = utcnow,
        roles: frozenset[str] = frozenset(),
        policy: Policy | None = None,
        ask_plugins: bool = False,
    ) -> None:
        self._db = db
        self._closed = False
        self.registry = registry
        self.settings = settings
        self.actor = actor
        self.hooks = hooks
        self.clock = clock
        #: the roles the actor holds in this unit of work (``app.session(roles=...)``)
        self.roles = roles
        self.policy = policy
        self._ask_plugins = ask_plugins
        #: is any call asked about (a policy, or a plugin implementing xrm_authorize)?
        self.guarded = policy is not None or ask_plugins
        #: > 0 while an allowed call runs: what it calls is not asked again
        self._deciding = 0
        #: the refusals of this unit of work, journaled when it ends (xrm.app)
        self.refusals: list[AccessRefused] = []
        #: objects the ORM inserted within each open atomic() block, innermost last
        self._inserted: list[list[object]] = []
        event.listen(db, "pending_to_persistent", self._on_inserted)
        event.listen(db, "before_flush", _refuse_nul)

    @property
    def db(self) -> OrmSession:
        """The SQLAlchemy session: every read and write of the services goes through
        here, so a unit of work used after its block ends refuses at once
        (:class:`~xrm.errors.SessionClosed`) instead of opening a transaction of its own
        that nobody commits."""
        if self._closed:
            raise SessionClosed()
        return self._db

    @property
    def closed(self) -> bool:
        """Has the unit of work ended (committed or rolled back)?"""
        return self._closed

    def close(self) -> None:
        """End the unit of work: from now on every use raises SessionClosed."""
        self._closed = True

    @contextmanager
    def authorized(self, operation: str, action: str, parties: tuple[int, ...]) -> Iterator[None]:
        """Run the block if the call is allowed (:mod:`xrm.core.access`); raise
        :class:`~xrm.errors.Forbidden` (and remember the refusal) if not. Calls made while
        an allowed call runs are not asked again."""
        if self._deciding:
            yield
            return
        self._deciding += 1
        try:
            self._decide(AccessRequest(self.actor, self.roles, action, operation, parties))
            yield
        finally:
            self._deciding -= 1

    def _decide(self, request: AccessRequest) -> None:
        allowed: bool | None = None
        if self._ask_plugins:
            try:
                answers = self.hooks.collect("xrm_authorize", request=request)
            except PluginError as exc:
                self._refuse(request, exc.plugin)
                raise
            for plugin, answer in answers.items():
                if not isinstance(answer, bool):
                    self._refuse(request, plugin)
                    raise PluginError(
                        plugin,
                        "xrm_authorize",
                        TypeError(f"returned {answer!r}; expected True, False or None"),
                    )
                if answer is False:
                    self._refuse(request, plugin)
                    raise Forbidden(
                        actor=request.actor,
                        action=request.action,
                        operation=request.operation,
                        by=plugin,
                    )
            allowed = True if answers else None
        if allowed is None and self.policy is not None and not self.policy.allows(request):
            self._refuse(request, None)
            raise Forbidden(actor=request.actor, action=request.action, operation=request.operation)

    def _refuse(self, request: AccessRequest, by: str | None) -> None:
        self.refusals.append(
            AccessRefused(
                entity_id=None,
                parties=request.parties,
                action=request.action,
                operation=request.operation,
                roles=sorted(request.roles),
                by=by,
            )
        )

    def _on_inserted(self, session: OrmSession, instance: object) -> None:
        if self._inserted:
            self._inserted[-1].append(instance)

    # -- reading -----------------------------------------------------------------------
    def party_row(
        self, ref: PartyRef, field: str = "party", *, live: bool = True, reading: bool = False
    ) -> PartyRow:
        """The party's row; ``live`` refuses a party that was merged into another, and an
        erased party is refused unless the caller is only ``reading``."""
        ident = ref_id(ref, field)
        row = self.db.get(PartyRow, ident)
        if row is None:
            raise NotFound("party", ident)
        if live and row.merged_into_id is not None:
            raise Conflict(
                f"party {ident} was merged into party {row.merged_into_id}; use that one",
                field=field,
            )
        if not reading and row.erased_at is not None:
            raise Conflict(f"party {ident} was erased: its data cannot change", field=field)
        return row

    def require_existing(self, ids: Sequence[int], field: str) -> None:
        wanted = set(ids)
        found = set(self.db.scalars(select(PartyRow.id).where(PartyRow.id.in_(wanted))))
        missing = sorted(wanted - found)
        if missing:
            raise NotFound("party", missing[0] if len(missing) == 1 else missing)

    def lock_party(self, ref: PartyRef, field: str = "party") -> PartyRow:
        """The party's row, as :meth:`party_row`, for a change: on PostgreSQL the row is
        locked (``SELECT ... FOR UPDATE``) and read again, collections included, so that
        a writer that changed the party meanwhile is waited for and its change seen (the
        version written next is then the current one, never a stale one). On SQLite the
        unit of work holds the writer lock since it began: what it read is current."""
        db = self.db
        if db.get_bind().dialect.name == "postgresql":
            ident = ref_id(ref, field)
            row = db.get(PartyRow, ident, with_for_update=True, populate_existing=True)
            if row is not None:  # collections read before the lock may be stale
                db.expire(row, _PARTY_COLLECTIONS)
        return self.party_row(ref, field)

    def lock_parties(self, ids: Sequence[int]) -> None:
        """Lock many parties' rows for a change, in id order (so that two units of work
        locking overlapping sets never wait for each other in a cycle): one
        ``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the unit of work holds the
        writer lock already."""
        db = self.db
        if ids and db.get_bind().dialect.name == "postgresql":
            query = select(PartyRow.id).where(PartyRow.id.in_(sorted(set(ids))))
            db.execute(query.order_by(PartyRow.id).with_for_update()).all()

    def lock_match_keys(self, keys: Iterable[tuple[str, str]]) -> None:
        """Serialise recognition on match keys (``(kind, key)``: an email's, a phone's,
        ``("id:<scheme>", value)``): whoever looks these keys up to decide whether a
        party is known waits for the unit of work that did before it to end, then sees
        the party it created. On PostgreSQL, one transaction-level advisory lock per
        key's slot (:func:`match_key_lock`), taken in order so that two imports never
        wait for each other; on SQLite the unit of work holds the writer lock already."""
        wanted = sorted({match_key_lock(kind, key) for kind, key in keys})
        if not wanted:
            return
        db = self.db
        if db.get_bind().dialect.name != "postgresql":
            return
        lock = text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS u(k)")
        if self._inserted:  # inside a call: its savepoint covers the wait
            db.connection().execute(lock, {"keys": wanted}).all()
            return
        # else a savepoint of its own: a deadlock or a lock timeout is a Conflict, and the
        # unit of work goes on (the locks taken stay held until it ends)
        with self.atomic():
            db.connection().execute(lock, {"keys": wanted}).all()

    # -- writing -----------------------------------------------------------------------
    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One service call: all or nothing, even when the caller catches the error and
        goes on with the unit of work. Constraint violations become :class:`Conflict`,
        and so do a lock not obtained in time, a deadlock and a row another unit of work
        changed meanwhile (see :func:`contention`)."""
        savepoint = self.db.begin_nested()
        self._inserted.append([])
        try:
            yield
            self.db.flush()
        except IntegrityError as exc:
            self._rolled_back(savepoint)
            raise Conflict(_constraint_message(exc)) from None
        except DataError as exc:  # a value the database cannot store, never a traceback
            self._rolled_back(savepoint)
            reason = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
            raise ValidationError.single("", f"a value cannot be stored: {reason}") from None
        except UnicodeEncodeError as exc:  # a lone surrogate the driver cannot encode
            self._rolled_back(savepoint)
            raise ValidationError.single("", f"a value cannot be stored: {exc.reason}") from None
        except (StaleDataError, DBAPIError) as exc:
            self._rolled_back(savepoint)
            if read_only(exc):
                raise ReadOnly from None
            message = contention(exc)
            if message is None:
                raise
            raise Conflict(message) from None
        except BaseException:
            self._rolled_back(savepoint)
            raise
        else:
            savepoint.commit()
            done = self._inserted.pop()
            if self._inserted:
                self._inserted[-1].extend(done)

    def _rolled_back(self, savepoint: SessionTransaction) -> None:
        """Roll the savepoint back and forget the objects inserted inside it (inner calls
        included): SQLite gives their ids again, and a stale object in the identity map
        would clash with the next row inserted under the same id.

        A flush that failed inside the savepoint has rolled it back in the database
        already and left it inactive, not ended: it is ended here too, or the session
        would refuse everything after (``PendingRollbackError``)."""
        db = self._db
        if _still_open(db, savepoint):
            savepoint.rollback()
        for instance in self._inserted.pop():
            if instance in db:
                db.expunge(instance)

    def record(self, event: Event | JournalEvent) -> int:
        """Write ``event`` to the journal, linked to every party it concerns."""
        event = as_envelope(event)
        now = self.clock()
        occurred = event.occurred_at or now
        event_id = self.db.execute(
            insert(JournalEventRow).returning(JournalEventRow.id),
            [
                {
                    "type": event.type,
                    "entity": event.entity,
                    "entity_id": event.entity_id,
                    "occurred_at": occurred,
                    "recorded_at": now,
                    "actor": self.actor,
                    "data": jsonable(event.data),
                }
            ],
        ).scalar_one()
        self.db.execute(insert(OutboxRow), [{"event_id": event_id}])
        parties = dict.fromkeys(event.parties)  # ordered, no duplicates
        if parties:
            self.db.execute(
                insert(JournalPartyRow),
                [{"party_id": p, "event_id": event_id, "occurred_at": occurred} for p in parties],
            )
        return event_id

    def allocate_ids(self, model: type[Base], count: int) -> list[int]:
        """``count`` new primary keys for ``table``, so that bulk paths insert with one
        ``executemany`` instead of a ``RETURNING`` per row: from the sequence on PostgreSQL,
        after the largest id on SQLite (one writer at a time: a concurrent writer makes the
        insert fail, never collide silently)."""
        if count == 0:
            return []
        table = cast(Table, model.__table__)
        conn = self.db.connection()
        if conn.dialect.name == "postgresql":
            rows = conn.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"
                ),
                {"t": table.name, "n": count},
            )
            return [int(r[0]) for r in rows]
        start = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
        return list(range(int(start) + 1, int(start) + 1 + count))

    def insert_many(self, model: type[Base], rows: list[dict[str, Any]]) -> list[int]:
        """Insert ``rows`` with fresh ids in one statement; returns the ids in order."""
        ids = self.allocate_ids(model, len(rows))
        for row, ident in zip(rows, ids, strict=True):
            row["id"] = ident
        if rows:
            self.db.connection().execute(insert(model), rows)
        return ids

    def record_many(self, typed: Sequence[Event | JournalEvent]) -> list[int]:
        """Write many events at once (the bulk paths): two statements, whatever the count."""
        if not typed:
            return []
        events = [as_envelope(e) for e in typed]
        now = self.clock()
        rows = [
            {
                "type": e.type,
                "entity": e.entity,
                "entity_id": e.entity_id,
                "occurred_at": e.occurred_at or now,
                "recorded_at": now,
                "actor": self.actor,
                "data": jsonable(e.data),
            }
            for e in events
        ]
        ids = self.insert_many(JournalEventRow, rows)
        self.db.connection().execute(insert(OutboxRow), [{"event_id": i} for i in ids])
        links = [
            {"party_id": p, "event_id": event_id, "occurred_at": e.occurred_at or now}
            for e, event_id in zip(events, ids, strict=True)
            for p in dict.fromkeys(e.parties)
        ]
        if links:
            self.db.connection().execute(insert(JournalPartyRow), links)
        return ids

    def now(self) -> dt.datetime:
        """The time of the unit of work's clock, aware, in UTC."""
        return self.clock()

    def notify(self, hook: str, **kwargs: Any) -> None:
        """Call a plugin hook inside the unit of work (a raise rolls everything back)."""
        self.hooks.call(hook, **kwargs)


#: what no text may hold: NUL (PostgreSQL cannot store it; most SQLite readers cut the
#: text there) and a lone surrogate (not UTF-8: no driver can send it)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _unstorable_paths(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        found = _UNSTORABLE.search(value)
        if found is not None:
            what = "a NUL character" if found.group() == "\x00" else "a lone surrogate"
            yield path, f"must not contain {what}"
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _unstorable_paths(key, path)
            yield from _unstorable_paths(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _unstorable_paths(item, f"{path}.{i}")


def _refuse_nul(session: OrmSession, flush_context: Any, instances: Any) -> None:
    """No text may hold a NUL character (PostgreSQL cannot store one, and on SQLite it
    would cut the text short for most readers) nor a lone surrogate (no driver can encode
    it). Checked on every ORM write, on every database, so the answer is the same
    everywhere: a ValidationError naming the field."""
    errors = []
    for obj in (*session.new, *session.dirty):
        table = getattr(type(obj), "__tablename__", type(obj).__name__)
        prefix = "" if table == "party" else f"{table}."  # a party's fields by their names
        for column in sa_inspect(type(obj)).column_attrs:
            value = getattr(obj, column.key, None)
            errors += [
                FieldError(p, reason)
                for p, reason in _unstorable_paths(value, f"{prefix}{column.key}")
            ]
    if errors:
        raise ValidationError(errors)


def _constraint_message(exc: IntegrityError) -> str:
    text = str(exc.orig).lower()
    for needle, message in _CONSTRAINT_MESSAGES:
        if needle in text:
            return message
    return "the change contradicts what is stored (a uniqueness or reference rule)"


_CONSTRAINT_MESSAGES = (
    ("party_identifier", "identifier: this scheme and value already belong to another party"),
    ("uq_role_current", "role: the party already holds this role"),
    ("uq_contact_point_primary", "contact_points: only one primary contact point per kind"),
    ("contact_point", "contact_points: the party already has this contact point"),
    ("relationship", "relationship: dates or ends are inconsistent"),
    ("foreign key", "a referenced party or record does not exist"),
)


#: the party's collections, read again once its row is locked
_PARTY_COLLECTIONS = ("contact_points", "identifiers", "tags")

#: advisory lock slots for match keys: bounded, so that a batch of thousands of keys
#: takes at most this many locks (PostgreSQL's lock table holds 64 per connection by
#: default, shared), and two keys in one slot only wait for each other
MATCH_KEY_SLOTS = 1 << 10

#: the high bits of xrm's advisory lock keys, apart from other users of advisory locks
_LOCK_SPACE = int.from_bytes(hashlib.blake2b(b"xrm.match_key", digest_size=4).digest()) << 32


def match_key_lock(kind: str, key: str) -> int:
    """The PostgreSQL advisory lock (a signed 64-bit key) serialising recognition on the
    match key ``(kind, key)``: xrm's own 32 high bits, then one of :data:`MATCH_KEY_SLOTS`
    slots chosen by a hash of the key."""
    digest = hashlib.blake2b(
        f"{kind}\x1f{key}".encode("utf-8", "surrogatepass"), digest_size=8
    ).digest()
    value = _LOCK_SPACE | (int.from_bytes(digest) % MATCH_KEY_SLOTS)
    return value - (1 << 64) if value >= 1 << 63 else value


def _still_open(db: OrmSession, savepoint: SessionTransaction) -> bool:
    """Is ``savepoint`` still one of the session's open transactions (active, or left
    inactive by a flush that failed in it)?"""
    current = db.get_nested_transaction()
    while current is not None:
        if current is savepoint:
            return True
        current = current.parent
    return False


#: SQLSTATEs of contention on PostgreSQL: serialization failure, deadlock, lock not
#: available (``lock_timeout``, ``NOWAIT``), statement timeout
_PG_CONTENTION = {
    "40001": "another unit of work changed the same data at the same time",
    "40P01": "a deadlock with another unit of work",
    "55P03": "a lock held by another unit of work was not obtained in time",
    "57014": "the statement was cancelled (it ran longer than the statement timeout)",
}

RETRY_HINT = "; nothing of this call was written: run the unit of work again (app.retrying)"


def read_only(exc: BaseException) -> bool:
    """Is ``exc`` the database refusing a write in a read-only transaction (SQLite's
    ``SQLITE_READONLY``, PostgreSQL's ``read_only_sql_transaction``)?"""
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return False
    if getattr(exc.orig, "sqlstate", None) == "25006":
        return True
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == 8


def contention(exc: BaseException) -> str | None:
    """The message of the :class:`Conflict` that a database error caused by another unit
    of work becomes, or ``None`` when ``exc`` is not one: a row changed or deleted by
    another unit of work since it was read (SQLAlchemy's ``StaleDataError``), SQLite's
    ``database is locked`` (the writer lock not obtained within the timeout),
    PostgreSQL's serialization failures, deadlocks and lock or statement timeouts."""
    if isinstance(exc, StaleDataError):
        return "a record changed in another unit of work since it was read" + RETRY_HINT
    if not isinstance(exc, DBAPIError) or exc.orig is None:
        return None
    orig = exc.orig
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str) and state in _PG_CONTENTION:
        return _PG_CONTENTION[state] + RETRY_HINT
    # SQLITE_BUSY and SQLITE_LOCKED, with their extended codes
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in (5, 6):
        return "the database is busy with another unit of work (locked)" + RETRY_HINT
    return None
