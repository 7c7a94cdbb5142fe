"""pytest fixtures for applications and plugin authors (a ``pytest11`` plugin: installed
with xrm, active in every test run).

``xrm_factory(**options)`` builds an :class:`~xrm.XRM` on a fresh, migrated database and
disposes of it after the test. It runs on SQLite, and on PostgreSQL as well when
``XRM_TEST_DATABASE_URL`` is set (a database the tests may wipe)::

    def test_my_plugin(xrm_factory):
        app = xrm_factory(plugins=[my_plugin], discover=False)
        with app.session() as s:
            ...
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from xrm.app import XRM
from xrm.core.models import Base

__all__ = [
    "erasure_leftovers",
    "snapshot",
    "unchanged",
    "wipe",
    "xrm_backend",
    "xrm_factory",
]

_PG_URL = os.environ.get("XRM_TEST_DATABASE_URL")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def xrm_backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql``; the latter is skipped without XRM_TEST_DATABASE_URL."""
    if request.param == "postgresql" and not _PG_URL:
        pytest.skip("XRM_TEST_DATABASE_URL is not set")
    return str(request.param)


def snapshot(app: XRM) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table present (core and plugins'), to prove that a refused write
    changed nothing."""
    result = {}
    with app.engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        for table in Base.metadata.sorted_tables:
            if table.name in present:
                rows = conn.execute(table.select().order_by(*table.primary_key.columns)).all()
                result[table.name] = [tuple(r) for r in rows]
    return result


@contextmanager
def unchanged(app: XRM) -> Iterator[None]:
    """``with unchanged(app): ...`` asserts the database is exactly as before the block,
    whatever the block raised."""
    before = snapshot(app)
    try:
        yield
    finally:
        assert snapshot(app) == before, "the database changed"


def erasure_leftovers(app: XRM, party: int, *, reason: str = "erasure check") -> list[str]:
    """Prove that erasing ``party`` leaves none of its personal data: what a plugin author
    runs on a party their plugin wrote rows for (``assert not erasure_leftovers(app, p)``).

    In every table that names a party (a foreign key to ``party.id``), the core's and the
    plugins', each text column must carry a mark (``info=PERSONAL`` or
    ``info=NOT_PERSONAL``, from :mod:`xrm.tables`): an unmarked one is reported. Every
    column marked personal is then given a distinctive value in each row naming
    ``party``, the party is erased (``s.gdpr.erase``), and every column of every table is
    scanned: a distinctive value still there is reported with its table and column.
    Returns the problems, one line each; empty when erasure is complete.
    """
    from sqlalchemy import JSON, MetaData, Table, select, update

    from xrm.core.gdpr._declared import party_tables

    problems: list[str] = []
    seeds: dict[str, str] = {}
    with app.session() as s:
        present = set(inspect(s.db.connection()).get_table_names())
        for linked in party_tables():
            table = linked.table
            if table.name not in present:  # a table of a plugin this app does not load
                continue
            problems += [
                f"{table.name}.{c.name}: no personal-data mark (info=PERSONAL or NOT_PERSONAL)"
                for c in linked.undeclared
            ]
            personal = linked.personal
            if not personal:
                continue
            keys = list(table.primary_key.columns)
            query = select(*keys, *personal).where(linked.rows_of([party]))
            for row in s.db.execute(query).all():
                values: dict[str, Any] = {}
                # what the row holds (an empty cell stays empty: a constraint may say so)
                for column, cell in zip(personal, row[len(keys) :], strict=True):
                    if cell is None:
                        continue
                    seed = f"xrmseed{len(seeds):06d}"
                    seeds[seed] = f"{table.name}.{column.name}"
                    values[column.name] = {"note": seed} if isinstance(column.type, JSON) else seed
                match = [k == v for k, v in zip(keys, row[: len(keys)], strict=True)]
                if values:
                    s.db.execute(update(table).where(*match).values(values))
        s.db.expire_all()
        s.gdpr.erase(party, reason=reason)
    with app.engine.connect() as conn:
        for name in sorted(inspect(conn).get_table_names()):
            table = Table(name, MetaData(), autoload_with=conn)
            for row in conn.execute(select(table)):
                for column, cell in zip(table.c, row, strict=True):
                    text_ = str(cell) if cell is not None else ""
                    problems += [
                        f"{name}.{column.name}: {seed} (seeded in {where}) is still there"
                        for seed, where in seeds.items()
                        if seed in text_
                    ]
    return problems


def wipe(app: XRM) -> None:
    """Empty every table of ``app``'s database but Alembic's (PostgreSQL)."""
    with app.engine.begin() as conn:
        tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def xrm_factory(xrm_backend: str, tmp_path: Path) -> Iterator[Callable[..., XRM]]:
    """Build migrated, empty applications: ``xrm_factory(plugins=[...], discover=False)``."""
    made: list[XRM] = []

    def factory(**options: Any) -> XRM:
        if xrm_backend == "sqlite":
            app = XRM(f"sqlite:///{tmp_path / f'xrm-{len(made)}.db'}", **options)
            app.upgrade()
        else:
            app = _pg_app(options)
        made.append(app)
        return app

    yield factory
    for app in made:
        app.dispose()


def _pg_app(options: dict[str, Any]) -> XRM:
    """An application on its own PostgreSQL schema, one per set of plugin migrations, so
    that applications with different plugins never share an Alembic history."""
    assert _PG_URL is not None
    probe = XRM(_PG_URL, **options)
    key = hashlib.sha1("|".join(sorted(probe.migration_locations)).encode()).hexdigest()[:10]
    schema = f"xrm_test_{key}"
    with probe.engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    probe.dispose()
    engine_options = dict(options.pop("engine_options", None) or {})
    engine_options["connect_args"] = {"options": f"-csearch_path={schema}"}
    app = XRM(_PG_URL, engine_options=engine_options, **options)
    app.upgrade()
    wipe(app)
    return app


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgresql: runs on XRM_TEST_DATABASE_URL")
