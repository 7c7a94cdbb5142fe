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
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar, cast

import attrs
import pydantic
from sqlalchemy import Table, event, func, insert, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction

from xrm.core.events import JournalEvent
from xrm.core.models import Base, JournalEventRow, JournalPartyRow, PartyRow, utcnow
from xrm.core.normalize import DEFAULT_EMAIL_RULES, EmailRules
from xrm.core.registry import Registry
from xrm.errors import Conflict, FieldError, NotFound, ValidationError

__all__ = ["NO_HOOKS", "Event", "Hooks", "PartyRef", "Settings", "UnitOfWork"]


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


def ref_id(ref: PartyRef, what: str = "party") -> int:
    if isinstance(ref, bool):
        raise ValidationError.single(what, "must be an id or a record")
    if isinstance(ref, int):
        return ref
    ident = getattr(ref, "id", None)
    if not isinstance(ident, int):
        raise ValidationError.single(what, f"{ref!r} is neither an id nor a record with an id")
    return ident


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
    ) -> None:
        self.db = db
        self.registry = registry
        self.settings = settings
        self.actor = actor
        self.hooks = hooks
        self.clock = clock
        #: objects the ORM inserted within each open atomic() block, innermost last
        self._inserted: list[list[object]] = []
        event.listen(db, "pending_to_persistent", self._on_inserted)
        event.listen(db, "before_flush", _refuse_nul)

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

    # -- writing -----------------------------------------------------------------------
    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One service call: all or nothing, even when the caller catches the error and
        goes on with the unit of work. Constraint violations become :class:`Conflict`."""
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
        would clash with the next row inserted under the same id."""
        if savepoint.is_active:
            savepoint.rollback()
        for instance in self._inserted.pop():
            if instance in self.db:
                self.db.expunge(instance)

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


def _nul_paths(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, str):
        if "\x00" in value:
            yield path
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _nul_paths(key, path)
            yield from _nul_paths(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _nul_paths(item, f"{path}.{i}")


def _refuse_nul(session: OrmSession, flush_context: Any, instances: Any) -> None:
    """No text may hold a NUL character: PostgreSQL cannot store one (and on SQLite it
    would cut the text short for most readers). Checked on every ORM write, on every
    database, so the answer is the same everywhere: a ValidationError naming the field."""
    errors = []
    for obj in (*session.new, *session.dirty):
        table = getattr(type(obj), "__tablename__", type(obj).__name__)
        prefix = "" if table == "party" else f"{table}."  # a party's fields by their names
        for column in sa_inspect(type(obj)).column_attrs:
            value = getattr(obj, column.key, None)
            errors += [
                FieldError(p, "must not contain a NUL character")
                for p in _nul_paths(value, f"{prefix}{column.key}")
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
