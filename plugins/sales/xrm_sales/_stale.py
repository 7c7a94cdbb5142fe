"""Stale opportunities: open ones that no activity has been about for a while."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import NamedTuple

from sqlalchemy import and_, func, or_, select

from xrm import Session, ValidationError
from xrm.tables import ActivityRow, utcnow
from xrm_sales._models import OpportunityRow
from xrm_sales._opportunities import ABOUT

__all__ = ["StaleOpportunity", "stale"]


class StaleOpportunity(NamedTuple):
    opportunity_id: int
    title: str
    account_id: int
    stage: str
    owner_party_id: int | None
    owner_user: str | None
    opened_at: dt.datetime
    #: the latest time an activity about it was created, updated or completed (``None``:
    #: never had one)
    last_activity: dt.datetime | None


def stale(
    session: Session, *, days: int = 30, now: dt.datetime | None = None
) -> Iterator[StaleOpportunity]:
    """The open opportunities opened more than ``days`` days before ``now`` (default: now)
    about which no activity (``about=("sales.opportunity", id)``) was created, updated or
    completed in those ``days`` days; those that never had one first, then the longest
    forgotten. One query, read ``500`` rows at a time: consume it inside the unit of work."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValidationError.single(
            "days", f"must be a whole number of days, 1 or more, got {days!r}"
        )
    if now is not None and (not isinstance(now, dt.datetime) or now.tzinfo is None):
        raise ValidationError.single("now", "must be a datetime with a time zone")
    cutoff = (now or utcnow()) - dt.timedelta(days=days)
    Opp, A = OpportunityRow, ActivityRow
    touched = (
        select(
            A.about_id.label("opportunity_id"),
            func.max(A.created_at).label("created"),
            func.max(A.updated_at).label("updated"),
            func.max(A.completed_at).label("completed"),
        )
        .where(A.about_type == ABOUT)
        .group_by(A.about_id)
        .subquery("touched")
    )
    recent = or_(
        touched.c.created >= cutoff,
        touched.c.updated >= cutoff,
        func.coalesce(touched.c.completed, touched.c.created) >= cutoff,
    )
    last = func.coalesce(touched.c.updated, touched.c.created)
    query = (
        select(
            Opp.id,
            Opp.title,
            Opp.account_id,
            Opp.stage,
            Opp.owner_party_id,
            Opp.owner_user,
            Opp.opened_at,
            touched.c.created,
            touched.c.updated,
            touched.c.completed,
        )
        .outerjoin(touched, touched.c.opportunity_id == Opp.id)
        .where(
            and_(
                Opp.status == "open",
                Opp.opened_at < cutoff,
                or_(touched.c.opportunity_id.is_(None), ~recent),
            )
        )
        .order_by(last.is_not(None), last, Opp.id)
        .execution_options(yield_per=500)
    )
    for ident, title, account, stage, party, user, opened, *times in session.db.execute(query):
        seen: list[dt.datetime] = [t for t in times if t is not None]
        yield StaleOpportunity(
            ident, title, account, stage, party, user, opened, max(seen, default=None)
        )
