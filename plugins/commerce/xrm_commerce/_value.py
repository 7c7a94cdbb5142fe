"""What each party is worth: revenue, margin, orders, first and last order; RFM scores and
their named segments; the most profitable customers. Each is one SQL statement over every
party, streamed in batches.

**Per currency.** xrm holds no exchange rates, so value is counted per currency: a party
buying in euros and in pounds has one line per currency, and RFM and the top list take
one currency.

**What counts.** Orders not cancelled, dated in ``[since, until)``, of live parties (not
erased, not merged). Revenue is the lines' amounts less the refunds; margin is revenue less
the cost of the goods sold, the goods that came back not counted.

**RFM.** Among the parties with an order in the period, each gets a score from 1 to 5 per
dimension - recency (the last order's instant), frequency (the orders), monetary (the
revenue) - by quintile: ``score = 1 + floor(5 x (rank - 1) / n)``, where ``rank`` is the
SQL ``RANK()`` of the party in ascending order (1 + the number of parties strictly worse)
and ``n`` the number of parties. Without ties each score holds a fifth of the parties (to
within one); tied parties get the same score, the lowest the tie spans (the many customers
with one order all have frequency 1), so the scores are exact and deterministic, unlike
``NTILE(5)``, which splits a tie arbitrarily.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, select

from xrm import Party, Session
from xrm.errors import FieldError, ValidationError
from xrm.tables import PartyRow, live_party
from xrm_commerce import _money
from xrm_commerce._models import OrderRow

__all__ = [
    "SEGMENTS",
    "PartyValue",
    "Rfm",
    "rfm",
    "rfm_counts",
    "rfm_select",
    "segment_of",
    "top",
    "value",
    "value_select",
    "values",
]

#: the named RFM segments, from the recency and frequency scores (R, F)
SEGMENTS = (
    "champions",
    "loyal",
    "potential_loyalists",
    "new",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cannot_lose",
    "hibernating",
    "lost",
)


def segment_of(r: int, f: int) -> str:
    """The segment of recency score ``r`` and frequency score ``f`` (1 to 5 each):

    - R 5: F 1 ``new``, F 2-3 ``potential_loyalists``, F 4-5 ``champions``;
    - R 4: F 1 ``promising``, F 2-3 ``potential_loyalists``, F 4-5 ``loyal``;
    - R 3: F 1-2 ``about_to_sleep``, F 3 ``need_attention``, F 4-5 ``loyal``;
    - R 1-2: F 1-2 ``hibernating`` (R 1 F 1: ``lost``), F 3-4 ``at_risk``, F 5
      ``cannot_lose``.
    """
    if r <= 2:
        if f <= 2:
            return "lost" if r == 1 and f == 1 else "hibernating"
        return "cannot_lose" if f == 5 else "at_risk"
    if r == 3:
        if f <= 2:
            return "about_to_sleep"
        return "need_attention" if f == 3 else "loyal"
    if f == 1:
        return "new" if r == 5 else "promising"
    if f <= 3:
        return "potential_loyalists"
    return "champions" if r == 5 else "loyal"


def _segment_sql(r: ColumnElement[Any], f: ColumnElement[Any]) -> ColumnElement[str]:
    """:func:`segment_of` as a SQL ``CASE``."""
    return case(
        (and_(r == 1, f == 1), literal("lost")),
        (and_(r <= 2, f <= 2), literal("hibernating")),
        (and_(r <= 2, f == 5), literal("cannot_lose")),
        (r <= 2, literal("at_risk")),
        (and_(r == 3, f <= 2), literal("about_to_sleep")),
        (and_(r == 3, f == 3), literal("need_attention")),
        (r == 3, literal("loyal")),
        (and_(f == 1, r == 5), literal("new")),
        (f == 1, literal("promising")),
        (f <= 3, literal("potential_loyalists")),
        (r == 5, literal("champions")),
        else_=literal("loyal"),
    )


class PartyValue(NamedTuple):
    party_id: int
    currency: str
    orders: int
    revenue: Decimal
    margin: Decimal
    first_order: dt.datetime
    last_order: dt.datetime


class Rfm(NamedTuple):
    party_id: int
    #: the scores, 1 (worst) to 5 (best)
    recency: int
    frequency: int
    monetary: int
    segment: str
    orders: int
    revenue: Decimal
    last_order: dt.datetime


def _period(
    currency: str | None, since: dt.datetime | None, until: dt.datetime | None
) -> tuple[str | None, list[ColumnElement[bool]]]:
    errors: list[FieldError] = []
    code = None if currency is None else _money.currency(currency, errors)
    for name, value in (("since", since), ("until", until)):
        if value is not None and (not isinstance(value, dt.datetime) or value.tzinfo is None):
            errors.append(FieldError(name, f"must be a datetime with a time zone, got {value!r}"))
    if errors:
        raise ValidationError(errors)
    Od = OrderRow
    where: list[ColumnElement[bool]] = [Od.status != "cancelled"]
    if code is not None:
        where.append(Od.currency == code)
    if since is not None:
        where.append(Od.ordered_at >= since)
    if until is not None:
        where.append(Od.ordered_at < until)
    return code, where


def value_select(
    *,
    currency: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Select[*tuple[Any, ...]]:
    """The value query: per live party and currency, the orders, revenue and margin in
    thousandths, first and last order. Columns ``party_id``, ``currency``, ``orders``,
    ``revenue_milli``, ``margin_milli``, ``first_order``, ``last_order``."""
    _code, where = _period(currency, since, until)
    Od = OrderRow
    return (
        select(
            Od.party_id.label("party_id"),
            Od.currency.label("currency"),
            func.count().label("orders"),
            func.sum(Od.net_milli - Od.refunded_milli).label("revenue_milli"),
            func.sum(
                Od.net_milli - Od.refunded_milli - Od.cost_milli + Od.returned_cost_milli
            ).label("margin_milli"),
            func.min(Od.ordered_at).label("first_order"),
            func.max(Od.ordered_at).label("last_order"),
        )
        .join(PartyRow, PartyRow.id == Od.party_id)
        .where(*where, live_party())
        .group_by(Od.party_id, Od.currency)
    )


def _value(row: Any) -> PartyValue:
    party_id, code, orders, revenue, margin, first, last = row
    # min and max keep the column's type: aware UTC datetimes (xrm's UTCDateTime)
    return PartyValue(party_id, code, orders, _money.from_milli(revenue, code),
                      _money.from_milli(margin, code), first, last)  # fmt: skip


def _as_utc(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):  # SQLite's min/max of a timestamp column
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def value(
    session: Session,
    party: int | Party,
    *,
    currency: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> list[PartyValue]:
    """The party's value, one line per currency it bought in (by currency)."""
    party_id = party.id if isinstance(party, Party) else party
    query = value_select(currency=currency, since=since, until=until).where(
        OrderRow.party_id == party_id
    )
    return sorted((_value(row) for row in session.db.execute(query)), key=lambda v: v.currency)


def values(
    session: Session,
    *,
    currency: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    batch: int = 10_000,
) -> Iterator[PartyValue]:
    """Every live party's value (per currency), by party id: one query, read ``batch``
    rows at a time, so memory stays flat over millions of parties."""
    query = value_select(currency=currency, since=since, until=until).order_by(
        OrderRow.party_id, OrderRow.currency
    )
    result = session.db.connection().execute(query, execution_options={"yield_per": batch})
    for row in result:
        yield _value(row)


def top(
    session: Session,
    *,
    currency: str,
    by: Literal["margin", "revenue", "orders"] = "margin",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 10,
) -> list[PartyValue]:
    """The most profitable customers: the ``limit`` live parties of highest margin (or
    revenue, or order count) on their orders in ``currency`` dated in ``[since, until)``,
    in one query; ties by party id."""
    if by not in ("margin", "revenue", "orders"):
        raise ValidationError.single("by", f"must be margin, revenue or orders, got {by!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
        raise ValidationError.single("limit", "must be a whole number from 1 to 10000")
    inner = value_select(currency=currency, since=since, until=until).subquery()
    key = {"margin": inner.c.margin_milli, "revenue": inner.c.revenue_milli,
           "orders": inner.c.orders}[by]  # fmt: skip
    query = select(inner).order_by(key.desc(), inner.c.party_id).limit(limit)
    return [_value(row) for row in session.db.execute(query)]


def rfm_select(
    *, currency: str, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> Select[*tuple[Any, ...]]:
    """The RFM query: per live party with an order in ``currency`` in the period, columns
    ``party_id``, ``r``, ``f``, ``m`` (scores), ``segment``, ``orders``, ``revenue_milli``,
    ``last_order``. Usable as a subquery (the ``commerce.rfm`` segment criterion)."""
    code, where = _period(currency, since, until)
    if code is None:
        raise ValidationError.single("currency", "is required")
    Od = OrderRow
    base = (
        select(
            Od.party_id.label("party_id"),
            func.count().label("orders"),
            func.sum(Od.net_milli - Od.refunded_milli).label("revenue_milli"),
            func.max(Od.ordered_at).label("last_order"),
        )
        .join(PartyRow, PartyRow.id == Od.party_id)
        .where(*where, live_party())
        .group_by(Od.party_id)
        .subquery("rfm_base")
    )
    n = func.count().over()

    def score(column: ColumnElement[Any]) -> ColumnElement[int]:
        return 1 + (5 * (func.rank().over(order_by=column) - 1)) // n

    scored = select(
        base.c.party_id,
        score(base.c.last_order).label("r"),
        score(base.c.orders).label("f"),
        score(base.c.revenue_milli).label("m"),
        base.c.orders,
        base.c.revenue_milli,
        base.c.last_order,
    ).subquery("rfm_scores")
    return select(
        scored.c.party_id,
        scored.c.r,
        scored.c.f,
        scored.c.m,
        _segment_sql(scored.c.r, scored.c.f).label("segment"),
        scored.c.orders,
        scored.c.revenue_milli,
        scored.c.last_order,
    )


def rfm(
    session: Session,
    *,
    currency: str,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    parties: Sequence[int] | None = None,
    batch: int = 10_000,
) -> Iterator[Rfm]:
    """The RFM scores and segment of every party with an order in ``currency`` in the
    period (or of ``parties`` among them: their scores are still ranked among all), by
    party id, read ``batch`` rows at a time."""
    inner = rfm_select(currency=currency, since=since, until=until).subquery()
    query = select(inner).order_by(inner.c.party_id)
    if parties is not None:
        query = query.where(inner.c.party_id.in_(list(parties)))
    code = currency.strip().upper()
    rows = session.db.connection().execute(query, execution_options={"yield_per": batch})
    for party_id, r, f, m, segment, orders, revenue, last in rows:
        yield Rfm(party_id, r, f, m, segment, orders, _money.from_milli(revenue, code), last)


def rfm_counts(
    session: Session,
    *,
    currency: str,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> dict[str, int]:
    """How many parties each segment holds (every segment, zero included)."""
    inner = rfm_select(currency=currency, since=since, until=until).subquery()
    query = select(inner.c.segment, func.count()).group_by(inner.c.segment)
    found: dict[str, int] = dict(session.db.execute(query).all())
    return {name: int(found.get(name, 0)) for name in SEGMENTS}
