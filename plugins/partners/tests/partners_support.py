"""Helpers shared by the partners tests (imported by name: the tests directory is on
``sys.path`` under pytest's default import mode)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from xrm import Party, Role, Session

T0 = dt.datetime(2025, 1, 1, 9, tzinfo=dt.UTC)


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
