"""Fixtures: every test that takes ``app`` runs on SQLite and, when
``XRM_TEST_DATABASE_URL`` is set, on PostgreSQL too - each on a fresh, migrated database."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from xrm import XRM, RelationshipType, RoleType
from xrm.testing import unchanged as _unchanged
from xrm.testing import wipe

settings.register_profile(
    "xrm",
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    parent=settings.get_profile("xrm"),
    max_examples=60,
)
settings.load_profile("ci" if os.environ.get("CI") else "xrm")

PG_URL = os.environ.get("XRM_TEST_DATABASE_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "xrm.db"
    app = XRM(f"sqlite:///{path}", builtins=False, discover=False)
    app.upgrade()
    with app.engine.connect() as conn:  # fold the WAL into the file before copying it
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    app.dispose()
    return path


@pytest.fixture(scope="session")
def pg_migrated() -> str:
    if not PG_URL:
        pytest.skip("XRM_TEST_DATABASE_URL is not set")
    app = XRM(PG_URL, builtins=False, discover=False)
    with app.engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    app.upgrade()
    app.dispose()
    return PG_URL


def make_app(request: pytest.FixtureRequest, backend: str, tmp_path: Path, **kw: Any) -> XRM:
    # the template is migrated without the installed plugin distributions: the core's tests
    # do not load them (each distribution's own tests do)
    kw.setdefault("discover", False)
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "xrm.db"
        shutil.copy(template, path)
        return XRM(f"sqlite:///{path}", **kw)
    url: str = request.getfixturevalue("pg_migrated")
    app = XRM(url, **kw)
    wipe(app)
    return app


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[XRM]:
    """A migrated, empty database with the test role and relationship types registered."""
    # the core's own tests run with no plugin at all, built-in or installed
    xrm_app = make_app(
        request, backend, tmp_path, default_region="FR", builtins=False, discover=False
    )
    xrm_app.register(*TEST_TYPES, source="tests")
    yield xrm_app
    xrm_app.dispose()


#: Role and relationship types the core tests use (plugins bring the real ones).
CUSTOMER = RoleType(
    "customer",
    states=["lead", "prospect", "customer", "inactive", "lost"],
    transitions={
        "lead": ["prospect", "lost"],
        "prospect": ["customer", "lost"],
        "customer": ["inactive"],
        "inactive": ["customer"],
    },
)
SUPPLIER = RoleType(
    "supplier",
    states=["candidate", "approved", "blocked"],
    transitions={"candidate": ["approved", "blocked"], "approved": ["blocked"]},
    party_kinds=["organization"],
)
WORKS_FOR = RelationshipType(
    "works_for",
    forward_label="works for",
    inverse_label="employs",
    from_kinds=["person"],
    to_kinds=["organization"],
    max_per_from=1,
)
KNOWS = RelationshipType("knows", "knows", "knows", symmetric=True)
SUPPLIES = RelationshipType("supplies", "supplies", "is supplied by", from_roles=["supplier"])
TEST_TYPES = (CUSTOMER, SUPPLIER, WORKS_FOR, KNOWS, SUPPLIES)


@pytest.fixture
def unchanged(app: XRM) -> Any:
    """``with unchanged(): ...`` asserts the database is exactly as before the block."""
    return lambda: _unchanged(app)
