"""Sales reports, each ONE set-based SQL query (no per-opportunity loop): the pipeline by
stage (now or as of a past day), the forecast by month and owner, win rate and time in
stage over a period. Their results are aggregates (one line per group), so memory is
bounded by the number of groups, never by the number of opportunities."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Numeric,
    and_,
    case,
    extract,
    func,
    literal_column,
    select,
    type_coerce,
)

from xrm import Session, ValidationError
from xrm.segments import Target
from xrm_sales._models import OpportunityRow, OpportunityStageRow
from xrm_sales._pipelines import pipelines

__all__ = [
    "ForecastLine",
    "PipelineLine",
    "StagePerformance",
    "end_of_day",
    "forecast",
    "pipeline_report",
    "stage_performance",
]

_HUNDRED = Decimal(100)
#: sum(amount x probability): amounts have at most 3 decimals, probabilities none
_PRODUCT = Numeric(30, 3)


class PipelineLine(NamedTuple):
    pipeline: str
    stage: str
    #: the stage's outcome: open, won or lost
    outcome: str
    currency: str
    opportunities: int
    amount: Decimal
    #: sum of amount x probability / 100
    weighted: Decimal


class ForecastLine(NamedTuple):
    #: the first day of the month of expected close
    month: dt.date
    owner_party_id: int | None
    owner_user: str | None
    currency: str
    opportunities: int
    amount: Decimal
    weighted: Decimal


class StagePerformance(NamedTuple):
    stage: str
    #: opportunities closed in the period that went through the stage
    reached: int
    #: of those, how many were won
    won: int
    #: won / reached (``None`` when none reached it)
    win_rate: float | None
    #: the average time spent in the stage (entering it to the next move), in days, over
    #: the stays that ended; ``None`` when none did
    average_days: float | None


def end_of_day(day: dt.date) -> dt.datetime:
    """The first instant after ``day`` (UTC): what "as of the end of ``day``" reads up to."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def pipeline_report(
    session: Session,
    *,
    as_of: dt.date | None = None,
    pipeline: str | None = None,
    segment: Target | None = None,
) -> list[PipelineLine]:
    """Count, amount and weighted amount of the opportunities in each stage, per currency
    (amounts in different currencies are never added), now or **as the pipeline stood at
    the end of** ``as_of`` (UTC): each opportunity opened by then in the stage its latest
    step up to then led to, weighted by that step's probability. Amounts are today's (the
    history records stages, not amounts). Stages in pipeline order, then currencies.
    ``segment`` (a saved segment's name or a criterion, docs/segments.md) keeps the
    opportunities of the accounts in it."""
    Opp, S = OpportunityRow, OpportunityStageRow
    if as_of is not None and (isinstance(as_of, dt.datetime) or not isinstance(as_of, dt.date)):
        raise ValidationError.single("as_of", f"must be a date, got {as_of!r}")
    if as_of is None:
        stage, outcome, probability = Opp.stage, Opp.status, Opp.probability
        query = select(Opp.pipeline, stage, outcome, Opp.currency).select_from(Opp)
    else:
        latest = (
            select(S.opportunity_id, func.max(S.id).label("id"))
            .where(S.at < end_of_day(as_of))
            .group_by(S.opportunity_id)
            .subquery("latest")
        )
        stage, outcome, probability = S.to_stage, S.status, S.probability
        query = (
            select(Opp.pipeline, stage, outcome, Opp.currency)
            .select_from(latest)
            .join(S, S.id == latest.c.id)
            .join(Opp, Opp.id == latest.c.opportunity_id)
        )
    query = query.add_columns(
        func.count(),
        func.sum(Opp.amount),
        type_coerce(func.sum(Opp.amount * probability), _PRODUCT),
    ).group_by(Opp.pipeline, stage, outcome, Opp.currency)
    if pipeline is not None:
        query = query.where(Opp.pipeline == pipeline)
    if segment is not None:
        query = query.where(Opp.account_id.in_(session.segments.select(segment)))
    rows: list[Any] = list(session.db.execute(query))
    lines = [
        PipelineLine(p, s, o, c, int(n), Decimal(total), Decimal(product) / _HUNDRED)
        for p, s, o, c, n, total, product in rows
    ]
    order = _stage_order(session)
    return sorted(lines, key=lambda line: (*order(line.pipeline, line.stage), line.currency))


def forecast(
    session: Session,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    pipeline: str | None = None,
    segment: Target | None = None,
) -> list[ForecastLine]:
    """The open opportunities by month of expected close, owner and currency: count,
    amount and weighted amount (the forecast). ``start`` (included) and ``end`` (excluded)
    bound the expected close; opportunities without one are left out. ``segment`` keeps
    those of the accounts in it. By month, then owner (parties, then user ids), then
    currency."""
    Opp = OpportunityRow
    for name, value in (("start", start), ("end", end)):
        if value is not None and (isinstance(value, dt.datetime) or not isinstance(value, dt.date)):
            raise ValidationError.single(name, f"must be a date, got {value!r}")
    year = extract("year", Opp.expected_close)
    month = extract("month", Opp.expected_close)
    where: list[ColumnElement[bool]] = [Opp.status == "open", Opp.expected_close.is_not(None)]
    if start is not None:
        where.append(Opp.expected_close >= start)
    if end is not None:
        where.append(Opp.expected_close < end)
    if pipeline is not None:
        where.append(Opp.pipeline == pipeline)
    if segment is not None:
        where.append(Opp.account_id.in_(session.segments.select(segment)))
    query = (
        select(
            year,
            month,
            Opp.owner_party_id,
            Opp.owner_user,
            Opp.currency,
            func.count(),
            func.sum(Opp.amount),
            type_coerce(func.sum(Opp.amount * Opp.probability), _PRODUCT),
        )
        .where(and_(*where))
        .group_by(year, month, Opp.owner_party_id, Opp.owner_user, Opp.currency)
        .order_by(
            year,
            month,
            Opp.owner_party_id.is_(None),
            Opp.owner_party_id,
            Opp.owner_user,
            Opp.currency,
        )
    )
    return [
        ForecastLine(
            dt.date(int(y), int(m), 1),
            party,
            user,
            c,
            int(n),
            Decimal(total),
            Decimal(p) / _HUNDRED,
        )
        for y, m, party, user, c, n, total, p in session.db.execute(query)
    ]


def stage_performance(
    session: Session, *, start: dt.date, end: dt.date, pipeline: str = "default"
) -> list[StagePerformance]:
    """For the opportunities of ``pipeline`` closed (won or lost) from ``start`` to before
    ``end``: per stage, how many went through it, how many of those were won (the win rate
    from that stage), and the average time they spent in it. In pipeline order."""
    Opp, S = OpportunityRow, OpportunityStageRow
    for name, value in (("start", start), ("end", end)):
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise ValidationError.single(name, f"must be a date, got {value!r}")
    since = dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC)
    until = dt.datetime.combine(end, dt.time(), tzinfo=dt.UTC)
    left_at = (
        func.lead(S.at).over(partition_by=S.opportunity_id, order_by=(S.at, S.id)).label("left_at")
    )
    steps = (
        select(S.opportunity_id, S.to_stage, S.at, left_at, Opp.status)
        .join(Opp, Opp.id == S.opportunity_id)
        .where(
            Opp.pipeline == pipeline,
            Opp.status != "open",
            Opp.closed_at >= since,
            Opp.closed_at < until,
        )
        .subquery("steps")
    )
    won = case((steps.c.status == "won", steps.c.opportunity_id))
    query = select(
        steps.c.to_stage,
        func.count(steps.c.opportunity_id.distinct()),
        func.count(won.distinct()),
        func.avg(_seconds_between(session, steps.c.at, steps.c.left_at)),
    ).group_by(steps.c.to_stage)
    found = []
    for stage, reached, won_count, seconds in session.db.execute(query):
        days = None if seconds is None else float(seconds) / 86400
        found.append(
            StagePerformance(
                stage, int(reached), int(won_count), int(won_count) / int(reached), days
            )
        )
    order = _stage_order(session)
    return sorted(found, key=lambda line: order(pipeline, line.stage))


def _seconds_between(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    if session.db.get_bind().dialect.name == "postgresql":
        return extract("epoch", end - start)
    # SQLite keeps timestamps as ISO text: julianday reads it
    return (func.julianday(end) - func.julianday(start)) * literal_column("86400.0")


def _stage_order(session: Session) -> Callable[[str, str], tuple[str, int, str]]:
    """A sort key: pipeline, then the stage's place in it (unknown stages last)."""
    known = {name: [s.name for s in p.stages] for name, p in pipelines(session).items()}

    def key(pipeline: str, stage: str) -> tuple[str, int, str]:
        names = known.get(pipeline, [])
        return (pipeline, names.index(stage) if stage in names else len(names), stage)

    return key
