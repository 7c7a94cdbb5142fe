"""The lean read paths of the services: statements compiled once per dialect and run on
the session's connection, and the one statement that reads a party's record whole.

Private to ``xrm.core``: the services (parties, identity, relationships, journal) use it.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    CompoundSelect,
    Connection,
    Select,
    String,
    Table,
    bindparam,
    literal_column,
    null,
    select,
    type_coerce,
    union,
    union_all,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session as OrmSession

from xrm.core.models import (
    ContactPointRow,
    IdentifierRow,
    PartyRow,
    PartyTagRow,
)
from xrm.core.records import ContactPoint, Identifier, Party
from xrm.errors import ValidationError

# -- lean reads ------------------------------------------------------------------------
# The read paths run statements built once, at import, on the session's connection, and
# build the records from the rows: no ORM entity, no identity map, no loader strategies.
# While the ORM session holds changes not yet flushed they read through the ORM instead,
# which sees them.


class Prepared:
    """A read statement compiled once per dialect and run straight on the DBAPI cursor of
    the session's connection, its parameters and values converted by SQLAlchemy's own
    bind and result processors: what ``Connection.execute`` does, without its per-call
    machinery (execution context, result object), which costs several times the query on
    an indexed look-up. When something watches the statements (``echo``, cursor or
    execute events) or the statement needs per-call rendering, it goes through
    ``Connection.execute``."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Select[Any] | CompoundSelect[Any]) -> None:
        self.statement = statement
        self._compiled: dict[Dialect, Any] = {}

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> builtins.list[Any]:
        """The rows, each a sequence of the statement's columns."""
        dialect = conn.dialect
        prepared = self._compiled.get(dialect)
        if prepared is None:
            if len(self._compiled) >= 8:  # engines come and go (tests): keep the latest
                del self._compiled[next(iter(self._compiled))]
            prepared = self._compiled[dialect] = self._prepare(dialect)
        dispatch = conn.dispatch
        if (
            not prepared
            or conn.engine.echo
            or dispatch.before_cursor_execute
            or dispatch.after_cursor_execute
            or dispatch.before_execute
            or dispatch.after_execute
        ):
            return builtins.list(conn.execute(self.statement, params))
        compiled, sql, binds, results = prepared
        values = compiled.construct_params(params)
        for name, process in binds:
            values[name] = process(values[name])
        args = values if compiled.positiontup is None else [values[n] for n in compiled.positiontup]
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, args)
            rows = cursor.fetchall()
        except dialect.loaded_dbapi.Error as exc:
            error = DBAPIError.instance(sql, args, exc, dialect.loaded_dbapi.Error, dialect=dialect)
            raise error from exc
        finally:
            cursor.close()
        if not results:
            return builtins.list(rows)
        converted = []
        for row in rows:
            row = builtins.list(row)
            for i, process in results:
                value = row[i]
                if value is not None:  # every processor leaves NULL as None
                    row[i] = process(value)
            converted.append(row)
        return converted

    def _prepare(self, dialect: Dialect) -> Any:
        compiled = self.statement.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            return False
        binds = []
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                binds.append((name, process))
        results = []
        for i, column in enumerate(self.statement.selected_columns):
            impl = column.type.dialect_impl(dialect)
            process = impl.result_processor(dialect, None)
            if process is not None:
                results.append((i, _empty_object(process) if isinstance(impl, JSON) else process))
        return compiled, str(compiled), binds, results


def _empty_object(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A JSON column's processor that spares decoding ``{}``, what most rows hold."""

    def decode(value: Any) -> Any:
        return {} if value == "{}" else process(value)

    return decode


_P = cast(Table, PartyRow.__table__).c
_C = cast(Table, ContactPointRow.__table__).c
_I = cast(Table, IdentifierRow.__table__).c
_T = cast(Table, PartyTagRow.__table__).c
_KEY_KINDS = ("email", "phone", "identifier")


def _key_owners(kind: str) -> Select[tuple[int]]:
    """The ids of the parties holding the key given as the ``kind`` parameter."""
    if kind == "identifier":
        owner = cast(Table, IdentifierRow.__table__).alias("k")
        return (
            select(owner.c.party_id)
            .where(owner.c.scheme == bindparam("scheme"), owner.c.value == bindparam("identifier"))
            .correlate(None)
        )
    point = cast(Table, ContactPointRow.__table__).alias("k")
    return (
        select(point.c.party_id)
        .where(point.c.kind == kind, point.c.key == bindparam(kind))
        .correlate(None)
    )


def _held_by(column: ColumnElement[int], kinds: tuple[str, ...]) -> ColumnElement[bool]:
    if len(kinds) == 1:
        return column.in_(_key_owners(kinds[0]))
    # one IN over the union: an OR of INs is a scan of the whole party table on PostgreSQL
    return column.in_(union(*(_key_owners(kind) for kind in kinds)))


def _parts(where: Callable[[ColumnElement[int]], ColumnElement[bool]]) -> CompoundSelect[Any]:
    """Everything the records of the parties that ``where`` keeps hold, in one statement:
    each party's row (part 0), contact points (1), identifiers (2) and tags (3), every row
    carrying its party's id; four index range scans."""
    nothing = null()

    def part(n: int, party_id: Any, *columns: Any) -> Select[Any]:
        cols = [literal_column(str(n)), party_id, *columns]
        cols += [nothing] * (17 - len(cols))
        return select(*(c.label(f"c{i}") for i, c in enumerate(cols))).where(where(party_id))

    return union_all(
        # 2 id, 3 kind, 4 display_name, 5 given_name, 6 family_name, 7 birth_date,
        # 8 attributes, 9 version, 10 merged_into_id, 11 created_at, 12 updated_at,
        # 13-16 typed for the contact points' country, is_primary, suppressed, valid
        part(0, _P.id, _P.id, _P.kind, _P.display_name, _P.given_name, _P.family_name,
             _P.birth_date, _P.attributes, _P.version, _P.merged_into_id, _P.created_at,
             _P.updated_at, type_coerce(nothing, String()), type_coerce(nothing, Boolean()),
             type_coerce(nothing, Boolean()), type_coerce(nothing, Boolean())),
        # 2 id, 3 kind, 4 value, 5 key, 6 label, 8 data, 13 country, 14-16
        part(1, _C.party_id, _C.id, _C.kind, _C.value, _C.key, _C.label, nothing, _C.data,
             nothing, nothing, nothing, nothing, _C.country, _C.is_primary, _C.suppressed,
             _C.valid),
        part(2, _I.party_id, _I.id, _I.scheme, _I.value),
        part(3, _T.party_id, nothing, _T.tag),
    )  # fmt: skip


_PARTS_BY_ID = Prepared(_parts(lambda column: column == bindparam("id")))
_PARTS_IN = Prepared(_parts(lambda column: column.in_(bindparam("ids", expanding=True))))


class _Parts:
    """A party's row and the rows of what its record holds, as read by :data:`_parts`."""

    __slots__ = ("identifiers", "points", "row", "tags")

    def __init__(self) -> None:
        self.row: Any = None
        self.points: builtins.list[Any] = []
        self.identifiers: builtins.list[Any] = []
        self.tags: builtins.list[str] = []

    @property
    def merged_into(self) -> int | None:
        return cast("int | None", self.row[10])

    def record(self) -> Party:
        points = sorted(self.points, key=_first)
        identifiers = sorted(self.identifiers, key=_first)
        r = self.row
        return Party.from_row(
            (r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12]),
            [ContactPoint.from_row(c) for c in points],
            [Identifier(i[1], i[2]) for i in identifiers],
            self.tags,
        )


def _first(row: Sequence[Any]) -> Any:
    return row[0]


def _read_parts(conn: Connection, statement: Prepared, params: Any) -> dict[int, _Parts]:
    """The parties read by a :func:`_parts` statement, by id (only those with a row)."""
    found: dict[int, _Parts] = {}
    for r in statement.rows(conn, params):
        parts = found.get(r[1])
        if parts is None:
            parts = found[r[1]] = _Parts()
        n = r[0]
        if n == 0:
            parts.row = r
        elif n == 1:
            parts.points.append((r[2], r[3], r[4], r[5], r[6], r[13], r[8], r[14], r[15], r[16]))
        elif n == 2:
            parts.identifiers.append((r[2], r[3], r[4]))
        else:
            parts.tags.append(r[3])
    return {ident: parts for ident, parts in found.items() if parts.row is not None}


def _pending(db: OrmSession) -> bool:
    """Whether the ORM session holds changes it has not flushed (then the ORM reads)."""
    return bool(db.new or db.dirty or db.deleted)


def _check_limit(limit: int) -> None:
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise ValidationError.single("limit", "must be between 1 and 1000")
