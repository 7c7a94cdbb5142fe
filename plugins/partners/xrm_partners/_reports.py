"""Partner reports, each one set-based SQL query over every partner (no per-partner loop)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, case, func, select

from xrm import Session, ValidationError
from xrm.tables import (
    PartyRow,
    RelationshipRow,
    RoleRow,
    relationship_valid,
    role_current,
    role_held,
    unmerged_party,
)
from xrm_partners._types import (
    PARTNER,
    PARTNER_STATES,
    PARTNER_TYPES,
    REFERRED,
    TIERS,
    PartnerState,
    PartnerTier,
    PartnerType,
)

__all__ = [
    "PartnerSummary",
    "ReferralCount",
    "agreements_ending",
    "partners",
    "referral_counts",
]


class PartnerSummary(NamedTuple):
    """A current partner and the attributes of its ``partner`` role."""

    party_id: int
    display_name: str
    role_id: int
    state: str
    partner_type: str
    tier: str
    programme: str | None
    agreement_start: dt.date | None
    agreement_end: dt.date | None


class ReferralCount(NamedTuple):
    """How many parties a partner had referred, as of a day."""

    party_id: int
    display_name: str
    referrals: int


def _attribute(name: str) -> ColumnElement[str]:
    """A role attribute as text (SQLite ``json_extract``, PostgreSQL ``->>``)."""
    text: ColumnElement[str] = RoleRow.attributes[name].as_string()
    return text


def _choices(value: str | Iterable[str] | None, allowed: tuple[str, ...], field: str) -> list[str]:
    """The filter values asked for, each checked against ``allowed``; empty: no filter."""
    if value is None:
        return []
    wanted = [value] if isinstance(value, str) else list(value)
    unknown = [v for v in wanted if v not in allowed]
    if unknown:
        raise ValidationError.single(
            field, f"unknown value(s) {', '.join(map(repr, unknown))} ({', '.join(allowed)})"
        )
    return wanted


def _current_partners() -> Select[Any]:
    """Every party holding a current partner role, with the role's attributes."""
    columns: list[Any] = [
        PartyRow.id,
        PartyRow.display_name,
        RoleRow.id,
        RoleRow.state,
        _attribute("partner_type"),
        _attribute("tier"),
        _attribute("programme"),
        _attribute("agreement_start"),
        _attribute("agreement_end"),
    ]
    return (
        select(*columns)
        .join(
            RoleRow,
            and_(
                RoleRow.party_id == PartyRow.id,
                RoleRow.type == PARTNER.name,
                role_current(),
            ),
        )
        .where(unmerged_party())
    )


def _summaries(session: Session, query: Select[Any]) -> list[PartnerSummary]:
    def day(text: str | None) -> dt.date | None:
        return None if text is None else dt.date.fromisoformat(text)

    return [
        PartnerSummary(party, name, role, state, kind, tier, programme, day(start), day(end))
        for party, name, role, state, kind, tier, programme, start, end in session.db.execute(query)
    ]


def partners(
    session: Session,
    *,
    tier: PartnerTier | Iterable[PartnerTier] | None = None,
    partner_type: PartnerType | Iterable[PartnerType] | None = None,
    state: PartnerState | Iterable[PartnerState] | None = None,
) -> list[PartnerSummary]:
    """Current partners of the given tier(s), type(s) and state(s) (each: one value, several,
    or ``None`` - or an empty collection - for any), highest tier first, then by name.

    An unknown tier, type or state raises :class:`xrm.ValidationError` naming the filter.
    """
    tiers = _choices(tier, TIERS, "tier")
    types = _choices(partner_type, PARTNER_TYPES, "partner_type")
    states = _choices(state, PARTNER_STATES, "state")
    rank = case({name: i for i, name in enumerate(TIERS)}, value=_attribute("tier"), else_=-1)
    query = _current_partners().order_by(rank.desc(), PartyRow.display_name, PartyRow.id)
    if tiers:
        query = query.where(_attribute("tier").in_(tiers))
    if types:
        query = query.where(_attribute("partner_type").in_(types))
    if states:
        query = query.where(RoleRow.state.in_(states))
    return _summaries(session, query)


def agreements_ending(
    session: Session,
    within_days: int,
    *,
    today: dt.date | None = None,
    include_lapsed: bool = False,
) -> list[PartnerSummary]:
    """Current partners whose agreement ends (its last day, ``agreement_end``) between
    ``today`` (default: the local date) and ``within_days`` days later, both included,
    soonest first. ``include_lapsed`` adds the partners whose agreement already ended but
    who are still partners: the ones to renew or end first.
    """
    if isinstance(within_days, bool) or not isinstance(within_days, int) or within_days < 0:
        raise ValidationError.single("within_days", "a number of days, zero or more")
    day = today or dt.date.today()
    end = _attribute("agreement_end")
    # ISO dates are fixed-width text, so comparing the text compares the dates on every
    # database (SQLite has no date type to cast to)
    query = (
        _current_partners()
        .where(end <= (day + dt.timedelta(days=within_days)).isoformat())
        .order_by(end, PartyRow.id)
    )
    if not include_lapsed:
        query = query.where(end >= day.isoformat())
    return _summaries(session, query)


def referral_counts(session: Session, *, as_of: dt.date | None = None) -> list[ReferralCount]:
    """Every party that was a partner on ``as_of`` (default: the local date), with the number
    of parties it had referred that day (its ``referred`` relationships holding that day),
    most referrals first; partners that referred no one are listed with 0.

    A role counts on a day if it was held at the end of it (UTC): a partner whose role
    ended that day is no longer one.
    """
    day = as_of or dt.date.today()
    # the last instant of the day (timestamps are stored to the microsecond)
    day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    last_instant = day_end - dt.timedelta(microseconds=1)
    referrals = (
        select(RelationshipRow.from_party_id.label("party_id"), func.count().label("n"))
        .where(RelationshipRow.type == REFERRED.name, relationship_valid(day))
        .group_by(RelationshipRow.from_party_id)
        .subquery("referrals")
    )
    count = func.coalesce(referrals.c.n, 0)
    query = (
        select(PartyRow.id, PartyRow.display_name, count)
        .outerjoin(referrals, referrals.c.party_id == PartyRow.id)
        .where(role_held(PARTNER.name, as_of=last_instant), unmerged_party())
        .order_by(count.desc(), PartyRow.id)
    )
    return [ReferralCount(party, name, int(n)) for party, name, n in session.db.execute(query)]
