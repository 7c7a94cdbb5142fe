"""Personal data declared on the columns (``info=PERSONAL`` / ``NOT_PERSONAL``), and what
export and erasure do with the plugins' tables because of it: a plugin author declares,
and writes no export or erasure hook for the common case."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import attrs
from sqlalchemy import (
    JSON,
    Column,
    MetaData,
    String,
    Table,
    case,
    inspect,
    literal,
    or_,
    select,
    update,
)

from xrm.core.models import CORE_TABLES, Base
from xrm.core.uow import UnitOfWork, jsonable

__all__ = ["PartyTable", "party_tables"]

#: what an erased text becomes
ERASED = "[erased]"


@attrs.frozen
class PartyTable:
    """A table whose rows name a party: the columns that do (foreign keys to ``party.id``),
    and its text columns by their mark (``None``: undeclared)."""

    table: Table
    links: tuple[Column[Any], ...]
    texts: tuple[tuple[Column[Any], bool | None], ...]

    @property
    def personal(self) -> list[Column[Any]]:
        return [c for c, mark in self.texts if mark]

    @property
    def undeclared(self) -> list[Column[Any]]:
        return [c for c, mark in self.texts if mark is None]

    def rows_of(self, parties: Sequence[int]) -> Any:
        return or_(*(link.in_(parties) for link in self.links))


def _is_text(column: Column[Any]) -> bool:
    return isinstance(column.type, String | JSON) and not column.foreign_keys


def party_tables(metadata: MetaData = Base.metadata) -> Iterator[PartyTable]:
    """Every table that names a party (``party`` itself by its id), in dependency order."""
    for table in metadata.sorted_tables:
        if table.name == "party":
            links: tuple[Column[Any], ...] = (table.c.id,)
        else:
            links = tuple(
                c
                for c in table.c
                if any(
                    fk.column.table.name == "party" and fk.column.name == "id"
                    for fk in c.foreign_keys
                )
            )
        if not links:
            continue
        texts = tuple((c, c.info.get("personal")) for c in table.c if _is_text(c))
        yield PartyTable(table, links, texts)


def plugin_tables(uow: UnitOfWork) -> list[PartyTable]:
    """The plugins' tables that name a party and exist in this database: ``Base``'s
    metadata holds the tables of every plugin imported in the process, loaded in this
    application or not."""
    present = set(inspect(uow.db.connection()).get_table_names())
    return [
        t for t in party_tables() if t.table.name not in CORE_TABLES and t.table.name in present
    ]


def export_plugin_rows(uow: UnitOfWork, cluster: Sequence[int]) -> dict[str, list[Any]]:
    """The rows of the plugins' tables that name the parties, every column, by table."""
    found: dict[str, list[Any]] = {}
    for linked in plugin_tables(uow):
        query = select(linked.table).where(linked.rows_of(cluster))
        rows = [jsonable(dict(r._mapping)) for r in uow.db.execute(query)]
        if rows:
            found[linked.table.name] = rows
    return found


def erase_plugin_rows(uow: UnitOfWork, cluster: Sequence[int]) -> int:
    """Replace the personal columns of the plugins' rows that name the parties: a text by
    ``[erased]`` (or null where it does not fit), a JSON value by an empty object."""
    count = 0
    for linked in plugin_tables(uow):
        values: dict[str, Any] = {}
        for column in linked.personal:
            if isinstance(column.type, JSON):
                values[column.name] = {}
            else:
                length = getattr(column.type, "length", None)
                fits = (length or len(ERASED)) >= len(ERASED)
                erased = literal(ERASED if fits else "")
                values[column.name] = case((column.is_(None), None), else_=erased)
        if not values:
            continue
        result = uow.db.execute(
            update(linked.table).where(linked.rows_of(cluster)).values(values),
            execution_options={"synchronize_session": False},
        )
        count += int(getattr(result, "rowcount", 0) or 0)
    return count
