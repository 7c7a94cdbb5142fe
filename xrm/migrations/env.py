"""Alembic environment for xrm: the engine comes from ``config.attributes``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

import xrm.core.models  # noqa: F401  (registers the core tables on Base.metadata)
from xrm.core.models import Base
from xrm.db import foreign_revisions

config = context.config
target_metadata = Base.metadata


def _set_aside(connection: Connection, revisions: list[str]) -> None:
    for revision in revisions:
        connection.execute(
            text("DELETE FROM alembic_version WHERE version_num = :v"), {"v": revision}
        )


def _put_back(connection: Connection, revisions: list[str]) -> None:
    for revision in revisions:
        connection.execute(
            text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": revision}
        )


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:  # plain `alembic` command line with sqlalchemy.url set
        from xrm.db import create_xrm_engine

        engine = create_xrm_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///xrm.db")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            # Revisions of a plugin that is no longer installed stay in the version table
            # (its tables stay too) but are set aside while the known branches upgrade.
            foreign = foreign_revisions(connection, context.script)
            _set_aside(connection, foreign)
            context.run_migrations()
            _put_back(connection, foreign)


if context.is_offline_mode():  # pragma: no cover
    raise SystemExit("xrm migrations run online only: use XRM(url).upgrade()")
run_migrations_online()
