"""Supplier reports, each one set-based SQL query (no per-supplier loop)."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import ColumnElement, Float, and_, cast, func, select

from xrm import Session
from xrm.tables import PartyRow, RoleRow, role_current, unmerged_party
from xrm_suppliers._models import SupplierEvaluationRow
from xrm_suppliers._supplier_role import SUPPLIER

__all__ = ["SupplierRating", "average_ratings"]


class SupplierRating(NamedTuple):
    party_id: int
    display_name: str
    #: how many evaluations the average is made of (0: never evaluated in the period)
    evaluations: int
    #: the mean rating, or ``None`` without evaluations in the period
    average_rating: float | None
    last_evaluated_on: dt.date | None


def average_ratings(session: Session, *, since: dt.date | None = None) -> list[SupplierRating]:
    """The average rating of every **approved** supplier (current role, state
    ``approved``), over its evaluations made on ``since`` or later (default: all of them).

    Approved suppliers without evaluations in the period are listed too, with no average,
    so that none is forgotten. Best average first, then unrated ones, each by name.
    """
    E = SupplierEvaluationRow
    joined: list[ColumnElement[bool]] = [E.party_id == PartyRow.id]
    if since is not None:
        joined.append(E.evaluated_on >= since)
    average = func.avg(cast(E.rating, Float))
    query = (
        select(
            PartyRow.id,
            PartyRow.display_name,
            func.count(E.id),
            average,
            func.max(E.evaluated_on),
        )
        .select_from(RoleRow)
        .join(PartyRow, PartyRow.id == RoleRow.party_id)
        .outerjoin(E, and_(*joined))
        .where(
            RoleRow.type == SUPPLIER.name,
            role_current(),
            RoleRow.state == "approved",
            unmerged_party(),
        )
        .group_by(PartyRow.id, PartyRow.display_name)
        .order_by(average.is_(None), average.desc(), PartyRow.display_name, PartyRow.id)
    )
    return [
        SupplierRating(party_id, name, int(count), None if mean is None else float(mean), last)
        for party_id, name, count, mean, last in session.db.execute(query)
    ]
