"""Engines and migrations: the embedded SQLite default and PostgreSQL through psycopg 3."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:  # Alembic is imported when migrations run, not when xrm is imported
    from alembic.config import Config
    from alembic.script import ScriptDirectory

__all__ = [
    "DEFAULT_URL",
    "WRITER_LOCK",
    "create_xrm_engine",
    "current_heads",
    "head_revisions",
    "upgrade",
]

DEFAULT_URL = "sqlite:///xrm.db"
#: how long a SQLite transaction waits for the writer lock, in seconds (the driver's
#: ``timeout``)
BUSY_TIMEOUT = 5.0
#: the execution options of a connection whose transactions take SQLite's writer lock
#: as they begin (``BEGIN IMMEDIATE``): a unit of work's (``XRM.session``)
WRITER_LOCK = {"xrm_writer_lock": True}
#: those of a read-only unit of work (``XRM.session(readonly=True)``): on SQLite a
#: deferred transaction with ``PRAGMA query_only`` on, which never takes the writer lock
READ_ONLY = {"xrm_read_only": True}
MIGRATIONS = Path(__file__).parent / "migrations"


def resolve_url(url: str | None) -> str:
    """``url``, else ``XRM_DATABASE_URL``, else the embedded ``sqlite:///xrm.db``.

    ``postgresql://`` URLs are routed to psycopg 3 (``postgresql+psycopg://``).
    """
    chosen = url or os.environ.get("XRM_DATABASE_URL") or DEFAULT_URL
    if chosen.startswith(("postgresql://", "postgres://")):
        chosen = "postgresql+psycopg://" + chosen.split("://", 1)[1]
    return chosen


def create_xrm_engine(url: str, **kwargs: Any) -> Engine:
    """An engine set up for xrm: on SQLite, WAL, foreign keys, and real transactions;
    those of a connection with the :data:`WRITER_LOCK` execution options take the writer
    lock when they begin.

    A transaction waits for the lock as long as the driver's ``timeout`` (5 s unless
    ``connect_args={"timeout": ...}`` says otherwise), then fails with ``database is
    locked``, which a unit of work reports as :class:`~xrm.Conflict`."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, **kwargs)
    memory = parsed.database in (None, "", ":memory:")
    connect_args = dict(kwargs.get("connect_args") or {})
    connect_args.setdefault("timeout", BUSY_TIMEOUT)
    if memory:
        kwargs.setdefault("poolclass", StaticPool)
        connect_args.setdefault("check_same_thread", False)
    kwargs["connect_args"] = connect_args
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, begin transactions, so SAVEPOINT and
        # transactional DDL work (the pysqlite recipe in SQLAlchemy's SQLite docs).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        # a 32 MB page cache (the default is 2 MB): a touchpoint's look-ups and an audience
        # over a large base read fewer pages from the OS. (A memory map was tried: no gain
        # measurable on W2, and W4's peak RSS went from 105 to 163 MB.)
        cursor.execute("PRAGMA cache_size=-32768")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A unit of work begins IMMEDIATE: the writer lock now, not at its first write.
        # SQLite has one writer at a time; a deferred transaction that read and then
        # writes after another one committed cannot be given the lock at all (its
        # snapshot is stale: "database is locked" at once, whatever the timeout). Taking
        # the lock first, a unit of work waits for the one before to end, then reads
        # what it wrote: recognition during an import sees every party a concurrent
        # import created, and the version-free writes (tags, contact points) never fail
        # for want of the lock. Other connections (migrations, maintenance such as a WAL
        # checkpoint) begin deferred, as SQLite does by default.
        options = conn.get_execution_options()
        # a read-only unit of work reads a snapshot and never takes the writer lock, so
        # a long search does not hold every writer back; query_only refuses its writes
        read_only = bool(options.get("xrm_read_only"))
        if conn.info.get("xrm_query_only", False) != read_only:
            conn.exec_driver_sql(f"PRAGMA query_only = {int(read_only)}")
            conn.info["xrm_query_only"] = read_only
        immediate = options.get("xrm_writer_lock") and not read_only
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def alembic_config(engine: Engine, locations: Sequence[str] = ()) -> Config:
    """An Alembic configuration for the core migrations plus plugins' version locations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    versions = [str(MIGRATIONS / "versions"), *(str(Path(p).resolve()) for p in locations)]
    config.set_main_option("version_locations", os.pathsep.join(versions))
    config.set_main_option("path_separator", "os")
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, locations: Sequence[str] = (), target: str = "heads") -> None:
    """Bring the database to ``target`` (every head: core and plugin branches)."""
    from alembic import command

    command.upgrade(alembic_config(engine, locations), target)


def head_revisions(engine: Engine, locations: Sequence[str] = ()) -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(engine, locations))
    return set(script.get_heads())


def foreign_revisions(connection: Connection, script: ScriptDirectory) -> list[str]:
    """Revisions in the database that no installed migration knows: those of a plugin
    that was uninstalled."""
    from alembic.runtime.migration import MigrationContext

    current = MigrationContext.configure(connection).get_current_heads()
    known = {rev.revision for rev in script.walk_revisions()}
    return sorted(set(current) - known)


def current_heads(engine: Engine, locations: Sequence[str] = ()) -> set[str]:
    """The database's revisions, leaving out those of plugins that are not installed."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(engine, locations))
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
        return current - set(foreign_revisions(conn, script))
