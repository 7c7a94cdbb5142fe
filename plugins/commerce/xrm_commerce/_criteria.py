"""Segment criteria on what parties bought: their RFM segment (``commerce.rfm``) and their
value over a period (``commerce.value``), each compiled into the segment's one query."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field
from sqlalchemy import ColumnElement, and_, select

from xrm import segments as seg
from xrm_commerce._value import rfm_select, value_select

__all__ = ["CRITERIA", "RfmSegment", "ValueAtLeast"]

SegmentName = Literal[
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
]


def _window(ctx: seg.Context, within_days: int | None) -> tuple[dt.datetime | None, dt.datetime]:
    until = ctx.now
    return (None if within_days is None else until - dt.timedelta(days=within_days)), until


class RfmSegment(seg.Criterion):
    """The party is in one of ``segments`` of the RFM scoring of the parties with an order
    in ``currency`` - all their orders before the evaluation instant, or those of its last
    ``within_days`` days."""

    type: Literal["commerce.rfm"] = "commerce.rfm"
    segments: list[SegmentName] = Field(min_length=1)
    currency: str = Field(min_length=3, max_length=3)
    within_days: int | None = Field(default=None, ge=1, le=36600)
    summary: ClassVar[str] = "RFM segment (champions, at risk...) on orders in a currency"

    def where(self, ctx: seg.Context, party_id: seg.PartyId) -> ColumnElement[bool]:
        since, until = _window(ctx, self.within_days)
        scored = rfm_select(currency=self.currency, since=since, until=until).subquery()
        members = select(scored.c.party_id).where(scored.c.segment.in_(self.segments))
        return party_id.in_(members)


class ValueAtLeast(seg.Criterion):
    """The party's ``measure`` (revenue, margin or orders) on its orders in ``currency``
    - before the evaluation instant, or in its last ``within_days`` days - is at least
    ``at_least`` (and at most ``at_most``, when given)."""

    type: Literal["commerce.value"] = "commerce.value"
    measure: Literal["revenue", "margin", "orders"] = "revenue"
    currency: str = Field(min_length=3, max_length=3)
    at_least: Decimal = Decimal(0)
    at_most: Decimal | None = None
    within_days: int | None = Field(default=None, ge=1, le=36600)
    summary: ClassVar[str] = "revenue, margin or orders over a period, at least (at most) x"

    def where(self, ctx: seg.Context, party_id: seg.PartyId) -> ColumnElement[bool]:
        if self.at_most is not None and self.at_most < self.at_least:
            raise ctx.invalid("at_most", "less than at_least")
        since, until = _window(ctx, self.within_days)
        inner = value_select(currency=self.currency, since=since, until=until).subquery()
        column = {"revenue": inner.c.revenue_milli, "margin": inner.c.margin_milli,
                  "orders": inner.c.orders}[self.measure]  # fmt: skip
        scale = 1 if self.measure == "orders" else 1000
        # thousandths: at least 10.0005 is at least 10001, at most 10.0005 at most 10000
        bounds = [column >= math.ceil(self.at_least * scale)] if self.at_least > 0 else []
        if self.at_most is not None:
            bounds.append(column <= math.floor(self.at_most * scale))
        return party_id.in_(select(inner.c.party_id).where(and_(*bounds)))


CRITERIA: tuple[type[seg.Criterion], ...] = (RfmSegment, ValueAtLeast)
