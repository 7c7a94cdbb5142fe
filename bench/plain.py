"""The databases under test and the plain drivers: ``sqlite3`` and psycopg 3, no SQLAlchemy.

The baselines send hand-written SQL through these connections to the very database that
xrm migrated, so they use the same tables and indexes as the library. SQL is written with
``?`` placeholders and rewritten to ``%s`` for psycopg; values are stored in the forms
SQLAlchemy stores them (on SQLite: timestamps as ``YYYY-MM-DD HH:MM:SS.ffffff`` text in
UTC, dates as ISO text, JSON as text), so that rows the benchmark writes read back through
xrm like rows xrm wrote.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["Plain", "Target"]

DEFAULT_POSTGRESQL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/xrm_bench"


@dataclass(frozen=True)
class Target:
    """One database: ``url`` for xrm (SQLAlchemy), ``path`` for an SQLite file."""

    kind: Literal["sqlite", "postgresql"]
    url: str
    path: str | None = None

    @classmethod
    def sqlite(cls, path: Path) -> Target:
        return cls("sqlite", f"sqlite:///{path}", str(path))

    @classmethod
    def postgresql(cls, url: str) -> Target:
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return cls("postgresql", url)

    @property
    def libpq_url(self) -> str:
        return "postgresql://" + self.url.split("://", 1)[1]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": self.url, "path": self.path}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Target:
        return cls(data["kind"], data["url"], data.get("path"))

    def reset(self) -> None:
        """An empty database: the SQLite file removed, or PostgreSQL's schema recreated."""
        if self.kind == "sqlite":
            assert self.path is not None
            for suffix in ("", "-wal", "-shm"):
                Path(self.path + suffix).unlink(missing_ok=True)
            return
        import psycopg

        with psycopg.connect(self.libpq_url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
            conn.execute("CREATE SCHEMA public")

    def migrate(self) -> None:
        """Create xrm's schema, with the installed plugins' tables, as ``xrm db upgrade``."""
        from xrm import XRM

        app = XRM(self.url)
        try:
            app.upgrade()
        finally:
            app.dispose()


class Plain:
    """A plain driver connection with the few helpers the baselines need."""

    def __init__(self, target: Target) -> None:
        self.kind = target.kind
        self.sqlite = target.kind == "sqlite"
        if self.sqlite:
            assert target.path is not None
            self.conn: Any = sqlite3.connect(target.path, isolation_level=None)
            # the same connection settings as xrm's engine (xrm/db.py)
            for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL",
                           "busy_timeout=5000"):  # fmt: skip
                self.conn.execute(f"PRAGMA {pragma}")
        else:
            import psycopg

            self.conn = psycopg.connect(target.libpq_url)

    def sql(self, text: str) -> str:
        return text if self.sqlite else text.replace("?", "%s")

    def begin(self) -> None:
        if self.sqlite:
            self.conn.execute("BEGIN")

    def commit(self) -> None:
        self.conn.commit() if not self.sqlite else self.conn.execute("COMMIT")

    def execute(self, text: str, params: Sequence[Any] = ()) -> Any:
        if self.sqlite:
            return self.conn.execute(text, params)
        return self.conn.execute(self.sql(text), params)

    def executemany(self, text: str, rows: Iterable[Sequence[Any]]) -> None:
        if self.sqlite:
            self.conn.executemany(text, rows)
        else:
            with self.conn.cursor() as cur:
                cur.executemany(self.sql(text), list(rows))

    def cursor(self) -> Any:
        return self.conn.cursor()

    def close(self) -> None:
        self.conn.close()

    # -- values in the form SQLAlchemy stores them -------------------------------------
    def ts(self, value: dt.datetime | None) -> Any:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else value

    def day(self, value: dt.date | None) -> Any:
        if value is None:
            return None
        return value.isoformat() if self.sqlite else value

    @staticmethod
    def json(value: Any) -> str:
        return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)

    def max_id(self, table: str) -> int:
        return int(self.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0])

    def sync_sequences(self, tables: Iterable[str]) -> None:
        """After inserting explicit ids on PostgreSQL, move each ``id`` sequence past them."""
        if self.sqlite:
            return
        for table in tables:
            self.execute(
                "SELECT setval(pg_get_serial_sequence(?, 'id'), "
                f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)",
                (table,),
            )
        self.conn.commit()

    def server_version(self) -> str:
        if self.sqlite:
            return sqlite3.sqlite_version
        return str(self.execute("SHOW server_version").fetchone()[0])

    def analyze(self) -> None:
        self.execute("ANALYZE")
