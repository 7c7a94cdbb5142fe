"""Storage and packaging: migrations, engine settings, the public names."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

import xrm
from xrm import XRM, ConfigurationError, RoleType
from xrm.core.models import Base


def test_upgrade_is_idempotent_and_the_schema_matches_the_models(app: XRM) -> None:
    app.upgrade()
    assert app.schema_is_current()
    core = MetaData(naming_convention=Base.metadata.naming_convention)
    for mapper in Base.registry.mappers:  # plugins' tables have their own migrations
        if mapper.class_.__module__ == "xrm.core.models":
            mapper.local_table.to_metadata(core)
    with app.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": False}), core
        )
    assert diff == []


def test_a_new_database_starts_empty_and_is_brought_to_head(tmp_path: Path) -> None:
    app = XRM(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert not app.schema_is_current()
    app.upgrade()
    assert app.schema_is_current()
    app.dispose()


def test_sqlite_runs_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    app = XRM(f"sqlite:///{tmp_path / 'x.db'}")
    with app.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    app.dispose()


def test_the_url_comes_from_the_environment_then_defaults_to_sqlite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XRM_DATABASE_URL", "sqlite:///from-env.db")
    assert XRM().url == "sqlite:///from-env.db"
    monkeypatch.delenv("XRM_DATABASE_URL")
    assert XRM().url == "sqlite:///xrm.db"
    assert XRM("postgresql://u@h/db").url == "postgresql+psycopg://u@h/db"


def test_a_bad_default_region_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="default_region"):
        XRM("sqlite://", default_region="France")


def test_a_role_type_clashing_with_a_plugins_names_the_plugin() -> None:
    app = XRM("sqlite://", discover=False)
    with pytest.raises(ConfigurationError, match="'customers' and again by 'app'"):
        app.register(RoleType("customer", ["a"], {}))


def test_a_duplicate_registration_names_both_sources() -> None:
    app = XRM("sqlite://", builtins=False, discover=False)
    role = RoleType("customer", ["a"], {})
    app.register(role, source="plugin-one")
    with pytest.raises(ConfigurationError, match="'plugin-one' and again by 'plugin-two'"):
        app.register(role, source="plugin-two")


def test_the_public_names_are_exported_and_sorted() -> None:
    import types

    public = {
        n
        for n in dir(xrm)
        if not n.startswith("_") and not isinstance(getattr(xrm, n), types.ModuleType)
    }

    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then the rest
    def style(name: str) -> tuple[int, str]:
        rank = 0 if name.isupper() else 1 if name[0].isupper() else 2
        return rank, name

    assert xrm.__all__ == sorted(xrm.__all__, key=style)
    assert public == set(xrm.__all__) - {"__version__"}


def test_a_core_module_that_moved_still_imports_from_its_old_path_with_a_warning() -> None:
    import importlib
    import sys

    from xrm.core._moved import MOVED

    for old, new in MOVED.items():
        sys.modules.pop(old, None)
        with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
            module = importlib.import_module(old)
        assert module is importlib.import_module(new)
        sys.modules.pop(old, None)
