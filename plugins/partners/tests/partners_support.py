"""Helpers shared by the partners tests (imported by name: the tests directory is on
``sys.path`` under pytest's default import mode)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import inspect

from xrm import XRM, Party, Role, Session
from xrm.core.models import Base

T0 = dt.datetime(2025, 1, 1, 9, tzinfo=dt.UTC)


def snapshot(app: XRM) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every migrated table, to prove that a refused write changed nothing."""
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
    """``with unchanged(app): ...`` asserts the database is exactly as before the block."""
    before = snapshot(app)
    yield
    assert snapshot(app) == before


def partner(
    s: Session,
    name: str,
    *,
    kind: str = "organization",
    state: str = "active",
    at: dt.datetime = T0,
    **attributes: Any,
) -> tuple[Party, Role]:
    """A new party holding a partner role in ``state`` (a reseller unless told); a
    suspended or ended one is assigned active and moved there an hour later."""
    party = s.parties.create(kind, name)
    attributes.setdefault("partner_type", "reseller")
    start = state if state in ("applicant", "active") else "active"
    role = s.roles.assign(party, "partner", state=start, attributes=attributes, at=at)
    if state != start:
        role = s.roles.transition(role, state, at=at + dt.timedelta(hours=1))
    return party, role
