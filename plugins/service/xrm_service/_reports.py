"""Service reports, each one set-based SQL query over ``service_case`` (no per-case loop):
the business times they average were stored when the clock stopped."""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from sqlalchemy import Float, and_, case, cast, func, literal, select, union_all

from xrm import Session
from xrm.segments import Target
from xrm.tables import utcnow
from xrm_service._cases import reference_of
from xrm_service._config import config_of
from xrm_service._models import CaseRow

__all__ = [
    "AGE_BUCKETS",
    "AgeLine",
    "Breach",
    "TeamSatisfaction",
    "TeamTimes",
    "breaches_this_week",
    "open_cases_by_age",
    "satisfaction_by_team",
    "times_by_team",
    "week_start",
]

#: the age buckets of open cases: (label, at least this old)
AGE_BUCKETS: tuple[tuple[str, dt.timedelta], ...] = (
    ("30d+", dt.timedelta(days=30)),
    ("7-30d", dt.timedelta(days=7)),
    ("3-7d", dt.timedelta(days=3)),
    ("1-3d", dt.timedelta(days=1)),
    ("<1d", dt.timedelta()),
)


class AgeLine(NamedTuple):
    priority: str
    age: str
    cases: int


class Breach(NamedTuple):
    case_id: int
    reference: str
    party_id: int
    team: str | None
    priority: str
    #: ``response`` or ``resolution``
    target: str
    due_at: dt.datetime


class TeamTimes(NamedTuple):
    team: str | None
    cases: int
    responded: int
    #: mean business minutes from opening to the first response
    avg_response_min: float | None
    resolved: int
    #: mean business minutes the resolution clock ran (pauses left out)
    avg_resolution_min: float | None


class TeamSatisfaction(NamedTuple):
    team: str | None
    answers: int
    average: float | None
    #: the share of answers of 4 or 5
    satisfied: float | None


def _now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return utcnow()
    return now.replace(tzinfo=dt.UTC) if now.tzinfo is None else now.astimezone(dt.UTC)


def open_cases_by_age(
    session: Session, *, now: dt.datetime | None = None, segment: Target | None = None
) -> list[AgeLine]:
    """Open cases (not resolved nor closed) counted by priority and age bucket; those of
    the parties in ``segment`` (a saved segment's name or a criterion) when given."""
    moment = _now(now)
    done = config_of(session).workflow.done
    bucket = case(
        *((CaseRow.opened_at <= moment - age, literal(label)) for label, age in AGE_BUCKETS[:-1]),
        else_=literal(AGE_BUCKETS[-1][0]),
    )
    query = (
        select(CaseRow.priority, bucket, func.count())
        .where(CaseRow.status.not_in(done))
        .group_by(CaseRow.priority, bucket)
    )
    if segment is not None:
        query = query.where(CaseRow.party_id.in_(session.segments.select(segment)))
    order = {label: i for i, (label, _) in enumerate(AGE_BUCKETS)}
    lines = [AgeLine(p, a, int(n)) for p, a, n in session.db.execute(query)]
    return sorted(lines, key=lambda line: (line.priority, order[line.age]))


def week_start(now: dt.datetime) -> dt.datetime:
    """Monday 00:00 UTC of the week of ``now``."""
    day = now.astimezone(dt.UTC).date()
    monday = day - dt.timedelta(days=day.weekday())
    return dt.datetime(monday.year, monday.month, monday.day, tzinfo=dt.UTC)


def breaches_this_week(session: Session, *, now: dt.datetime | None = None) -> list[Breach]:
    """Every target missed since Monday 00:00 UTC (the week of ``now``): a first response
    later than due (or still missing past due), a resolution clock that passed its due
    instant, soonest first."""
    moment = _now(now)
    start = week_start(moment)
    responded = func.coalesce(CaseRow.first_response_at, moment)
    response = select(
        CaseRow.id, CaseRow.party_id, CaseRow.team, CaseRow.priority,
        literal("response").label("target"), CaseRow.response_due_at.label("due_at"),
    ).where(
        CaseRow.response_due_at >= start, CaseRow.response_due_at < moment,
        CaseRow.response_due_at < responded,
    )  # fmt: skip
    resolution_at = func.coalesce(
        CaseRow.resolution_breached_at,
        case((CaseRow.resolution_due_at < moment, CaseRow.resolution_due_at), else_=None),
    )
    resolution = select(
        CaseRow.id, CaseRow.party_id, CaseRow.team, CaseRow.priority,
        literal("resolution").label("target"), resolution_at.label("due_at"),
    ).where(and_(resolution_at >= start, resolution_at < moment))  # fmt: skip
    both = union_all(response, resolution).subquery()
    query = select(both).order_by(both.c.due_at, both.c.id, both.c.target)
    result: list[Breach] = []
    for case_id, party_id, team, priority, target, due in session.db.execute(query):
        when = CaseRow.opened_at.type.process_result_value(due, session.db.get_bind().dialect)
        assert when is not None
        result.append(
            Breach(case_id, reference_of(case_id), party_id, team, priority, target, when)
        )
    return result


def times_by_team(session: Session, *, since: dt.datetime | None = None) -> list[TeamTimes]:
    """Per team, over the cases opened since ``since`` (default: all): how many, how many
    answered and the mean business minutes to the first response, how many resolved and
    the mean business minutes of their resolution clock."""
    done = config_of(session).workflow.done
    resolved = case((CaseRow.status.in_(done), 1), else_=None)
    resolution_min = case(
        (CaseRow.status.in_(done), cast(CaseRow.resolution_used_s, Float) / 60), else_=None
    )
    query: Any = select(
        CaseRow.team, func.count(), func.count(CaseRow.response_min),
        func.avg(cast(CaseRow.response_min, Float)), func.count(resolved),
        func.avg(resolution_min),
    ).group_by(CaseRow.team).order_by(CaseRow.team)  # fmt: skip
    if since is not None:
        query = query.where(CaseRow.opened_at >= _now(since))
    return [
        TeamTimes(team, int(n), int(r), _float(avg_r), int(s), _float(avg_s))
        for team, n, r, avg_r, s, avg_s in session.db.execute(query)
    ]


def satisfaction_by_team(
    session: Session, *, since: dt.datetime | None = None
) -> list[TeamSatisfaction]:
    """Per team, the survey answers given since ``since`` (default: all): how many, the
    mean score and the share of 4s and 5s."""
    satisfied = case((CaseRow.satisfaction >= 4, 1.0), else_=0.0)
    query: Any = (
        select(
            CaseRow.team,
            func.count(),
            func.avg(cast(CaseRow.satisfaction, Float)),
            func.avg(satisfied),
        )
        .where(CaseRow.satisfaction.is_not(None))
        .group_by(CaseRow.team)
        .order_by(CaseRow.team)
    )
    if since is not None:
        query = query.where(CaseRow.satisfaction_at >= _now(since))
    return [
        TeamSatisfaction(team, int(n), _float(avg), _float(share))
        for team, n, avg, share in session.db.execute(query)
    ]


def _float(value: object) -> float | None:
    return None if value is None else round(float(value), 2)  # type: ignore[arg-type]
