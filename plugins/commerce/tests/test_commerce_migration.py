"""The Alembic branch ``commerce`` creates exactly the tables the models declare."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from commerce_support import commerce_app

from xrm import XRM
from xrm.tables import Base


def test_the_migrated_tables_match_the_models(xrm_factory: Callable[..., XRM]) -> None:
    app = commerce_app(xrm_factory)

    def ours(name: str | None, type_: str, parent: Any) -> bool:
        return type_ != "table" or (name or "").startswith("commerce_")

    def our_objects(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        return ours(name, type_, None)

    with app.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "include_name": ours, "include_object": our_objects},
        )
        assert compare_metadata(context, Base.metadata) == []
        heads = set(context.get_current_heads())
    assert "commerce_0001" in heads
