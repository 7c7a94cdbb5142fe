"""Reporting lines never loop: the check behind the ``reports_to`` veto.

A new link "A reports to B" closes a loop when B already reports to A, directly or through
others, on a day the new link holds. One recursive query walks up from B along the stored
``reports_to`` links, carrying the days on which every link of the path so far holds (the
intersection of their ranges) and dropping a path once that is empty; the loop exists when
the walk reaches A.

Checking only the new link's first day would miss a loop closed later by a link already
stored with a later start ("B reports to A from next month"), so the whole range counts.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import case, func, select

from xrm import Relationship
from xrm.tables import RelationshipRow
from xrm_employees._types import REPORTS_TO

if TYPE_CHECKING:
    from xrm import Session

__all__ = ["first_day_of_loop"]

#: stands for "open-ended" so ranges can be intersected with plain comparisons
_OPEN_END = dt.date(9999, 12, 31)


def first_day_of_loop(session: Session, link: Relationship) -> dt.date | None:
    """The first day on which the stored ``reports_to`` links, ``link`` included, would
    form a loop through ``link``; ``None`` when they never do.

    ``link`` is a ``reports_to`` relationship already written (flushed) in this unit of
    work, as the ``xrm_validate_relationship`` hook receives it.
    """
    rel = RelationshipRow
    end = func.coalesce(rel.valid_to, _OPEN_END)
    walk = (
        select(
            rel.to_party_id.label("node"),
            rel.valid_from.label("lo"),
            end.label("hi"),
        )
        .where(rel.id == link.id)
        .cte("employees_reporting_walk", recursive=True)
    )
    step = (
        select(
            rel.to_party_id,
            case((rel.valid_from > walk.c.lo, rel.valid_from), else_=walk.c.lo),
            case((end < walk.c.hi, end), else_=walk.c.hi),
        )
        .join(walk, rel.from_party_id == walk.c.node)
        .where(
            rel.type == REPORTS_TO.name,
            rel.id != link.id,
            rel.valid_from < walk.c.hi,
            end > walk.c.lo,
        )
    )
    # UNION, not UNION ALL: a repeated (node, range) is dropped, so the walk ends even on
    # loops stored before this plugin was installed
    walk = walk.union(step)
    query = select(func.min(walk.c.lo)).where(walk.c.node == link.from_party_id)
    first: dt.date | None = session.db.scalar(query)
    return first
