"""Alembic environment for xrm: the engine comes from ``config.attributes``."""

from __future__ import annotations

from alembic import context

import xrm.core.models  # noqa: F401  (registers the core tables on Base.metadata)
from xrm.core.models import Base

config = context.config
target_metadata = Base.metadata


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
            context.run_migrations()


if context.is_offline_mode():  # pragma: no cover
    raise SystemExit("xrm migrations run online only: use XRM(url).upgrade()")
run_migrations_online()
