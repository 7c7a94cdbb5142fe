"""Uninstalling a plugin that has tables leaves the core and the other plugins working."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import inspect

from xrm import XRM, hookimpl

MIGRATION = '''
"""gadgets: a plugin's own table"""
import sqlalchemy as sa
from alembic import op

revision = "gadgets_0001"
down_revision = None
branch_labels = ("gadgets",)
depends_on = "0001_core"


def upgrade() -> None:
    op.create_table("gadgets_item", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("gadgets_item")
'''


class Gadgets:
    __xrm_name__ = "gadgets"

    def __init__(self, location: Path) -> None:
        self.location = location

    @hookimpl
    def xrm_migration_locations(self) -> Iterable[str]:
        return [str(self.location)]


def test_a_database_migrated_with_a_plugin_still_works_once_it_is_gone(tmp_path: Path) -> None:
    versions = tmp_path / "gadgets_migrations"
    versions.mkdir()
    (versions / "gadgets_0001.py").write_text(MIGRATION)
    url = f"sqlite:///{tmp_path / 'x.db'}"

    with_plugin = XRM(url, plugins=[Gadgets(versions)], discover=False)
    with_plugin.upgrade()
    assert with_plugin.schema_is_current()
    assert "gadgets_item" in inspect(with_plugin.engine).get_table_names()
    assert [i.name for i in with_plugin.plugin_info()] == ["xrm", "customers", "gadgets"]
    with_plugin.dispose()

    without = XRM(url, discover=False)  # the plugin package was uninstalled
    assert without.schema_is_current()
    without.upgrade()  # does not stumble on the unknown branch
    with without.session() as s:
        s.roles.assign(s.parties.create("organization", "ACME"), "customer")
    without.dispose()

    again = XRM(url, plugins=[Gadgets(versions)], discover=False)  # and reinstalled
    assert again.schema_is_current()
    again.upgrade()
    again.dispose()
