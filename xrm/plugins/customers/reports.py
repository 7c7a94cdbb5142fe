"""Customer reports, each one set-based SQL query (no per-customer loop)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import ColumnElement, and_, func, or_, select

from xrm.tables import (
    InteractionRow,
    ParticipantRow,
    PartyRow,
    RoleRow,
    role_current,
    unmerged_party,
    utcnow,
)

if TYPE_CHECKING:
    from xrm import Session

__all__ = [
    "ContactCount",
    "CustomerActivity",
    "LastInteraction",
    "contact_counts",
    "last_interactions",
    "not_contacted_since",
]


class CustomerActivity(NamedTuple):
    party_id: int
    display_name: str
    state: str
    #: the last interaction with the customer, or ``None`` if there never was one
    last_contact_at: dt.datetime | None


class ContactCount(NamedTuple):
    party_id: int
    touchpoint: str | None
    interactions: int


class LastInteraction(NamedTuple):
    party_id: int
    interaction_id: int
    occurred_at: dt.datetime
    channel: str
    direction: str
    touchpoint: str | None


def _current_customers() -> tuple[ColumnElement[bool], ...]:
    return (RoleRow.type == "customer", role_current())


def not_contacted_since(
    session: Session, days: int, *, at: dt.datetime | None = None, states: tuple[str, ...] = ()
) -> list[CustomerActivity]:
    """Current customers (in ``states``, default any) with no interaction in the last
    ``days`` days before ``at`` (default now), least recently contacted first."""
    if days < 0:
        raise ValueError("days must be zero or more")
    cutoff = (at or utcnow()) - dt.timedelta(days=days)
    last = (
        select(ParticipantRow.party_id, func.max(ParticipantRow.occurred_at).label("last"))
        .group_by(ParticipantRow.party_id)
        .subquery()
    )
    query = (
        select(PartyRow.id, PartyRow.display_name, RoleRow.state, last.c.last)
        .join(RoleRow, and_(RoleRow.party_id == PartyRow.id, *_current_customers()))
        .outerjoin(last, last.c.party_id == PartyRow.id)
        .where(unmerged_party())
        .where(or_(last.c.last.is_(None), last.c.last < cutoff))
        .order_by(last.c.last.is_not(None), last.c.last, PartyRow.id)
    )
    if states:
        query = query.where(RoleRow.state.in_(states))
    return [CustomerActivity(*row) for row in session.db.execute(query)]


def contact_counts(session: Session, *, since: dt.datetime | None = None) -> list[ContactCount]:
    """How many interactions each current customer had, per touchpoint."""
    query = (
        select(ParticipantRow.party_id, InteractionRow.touchpoint, func.count())
        .join(InteractionRow, InteractionRow.id == ParticipantRow.interaction_id)
        .join(RoleRow, and_(RoleRow.party_id == ParticipantRow.party_id, *_current_customers()))
        .group_by(ParticipantRow.party_id, InteractionRow.touchpoint)
        .order_by(ParticipantRow.party_id, InteractionRow.touchpoint)
    )
    if since is not None:
        query = query.where(ParticipantRow.occurred_at >= since)
    return [
        ContactCount(party, touchpoint, int(n))
        for party, touchpoint, n in session.db.execute(query)
    ]


def last_interactions(session: Session) -> list[LastInteraction]:
    """The last interaction of every current customer that had one."""
    ranked = (
        select(
            ParticipantRow.party_id,
            ParticipantRow.interaction_id,
            ParticipantRow.occurred_at,
            func.row_number()
            .over(
                partition_by=ParticipantRow.party_id,
                order_by=(ParticipantRow.occurred_at.desc(), ParticipantRow.interaction_id.desc()),
            )
            .label("rn"),
        )
        .join(RoleRow, and_(RoleRow.party_id == ParticipantRow.party_id, *_current_customers()))
        .subquery()
    )
    query = (
        select(
            ranked.c.party_id,
            ranked.c.interaction_id,
            ranked.c.occurred_at,
            InteractionRow.channel,
            InteractionRow.direction,
            InteractionRow.touchpoint,
        )
        .join(InteractionRow, InteractionRow.id == ranked.c.interaction_id)
        .where(ranked.c.rn == 1)
        .order_by(ranked.c.party_id)
    )
    return [LastInteraction(*row) for row in session.db.execute(query)]
