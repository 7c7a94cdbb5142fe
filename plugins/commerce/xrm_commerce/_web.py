"""The commerce plugin's endpoints under ``xrm serve`` (``/plugins/commerce/...``): a
party's orders, value and recommendations, and the most profitable customers. Each takes
the caller's unit of work (``xrm.web.session``), so the caller's key, roles and the
policy apply."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

import attrs
from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from xrm import Session
from xrm.web import session
from xrm_commerce._orders import orders
from xrm_commerce._recommend import recommend
from xrm_commerce._value import rfm, top, value

__all__ = ["router"]

MAX_ID = 2**63 - 1
SessionDep = Annotated[Session, Depends(session)]
PartyId = Annotated[int, Path(ge=1, le=MAX_ID)]


class LineOut(BaseModel):
    sku: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    returned: int


class OrderOut(BaseModel):
    id: int
    reference: str
    party_id: int
    currency: str
    status: str
    channel: str | None
    ordered_at: dt.datetime
    status_at: dt.datetime
    total: Decimal
    refunded: Decimal
    lines: list[LineOut]


class ValueOut(BaseModel):
    party_id: int
    currency: str
    orders: int
    revenue: Decimal
    margin: Decimal
    first_order: dt.datetime
    last_order: dt.datetime
    #: the party's RFM segment among the buyers in that currency
    segment: str | None = None


class OpinionOut(BaseModel):
    rating: int
    text: str | None
    channel: str
    reviewed_at: dt.datetime


class SuggestionOut(BaseModel):
    product_id: int
    sku: str
    name: str
    category: str | None
    score: float
    rating: float | None
    ratings: int
    reviews: list[OpinionOut]


router = APIRouter(tags=["commerce"])


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


@router.get("/parties/{party_id}/orders", response_model=list[OrderOut])
def orders_(
    party_id: PartyId, s: SessionDep, limit: Annotated[int, Query(ge=1, le=500)] = 20
) -> Any:
    """The party's orders, newest first."""
    return [
        {**{f.name: getattr(o, f.name) for f in attrs.fields(type(o)) if f.name != "lines"},
         "lines": [attrs.asdict(line) for line in o.lines]}
        for o in orders(s, s.parties.get(party_id), limit=limit)
    ]  # fmt: skip


@router.get("/parties/{party_id}/value", response_model=list[ValueOut])
def value_(party_id: PartyId, s: SessionDep) -> Any:
    """The party's value per currency, with its RFM segment."""
    found = []
    for line in value(s, s.parties.get(party_id)):
        scored = list(rfm(s, currency=line.currency, parties=[party_id]))
        found.append({**line._asdict(), "segment": scored[0].segment if scored else None})
    return found


@router.get("/parties/{party_id}/recommendations", response_model=list[SuggestionOut])
def recommendations(
    party_id: PartyId, s: SessionDep, limit: Annotated[int, Query(ge=1, le=100)] = 10
) -> Any:
    """Products to suggest, with the opinions of similar customers."""
    return [attrs.asdict(item) for item in recommend(s, s.parties.get(party_id), limit=limit)]


@router.get("/value/top", response_model=list[ValueOut])
def top_(
    s: SessionDep,
    currency: Annotated[str, Query(min_length=3, max_length=3)],
    by: Literal["margin", "revenue", "orders"] = "margin",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> Any:
    """The most profitable customers over a period (instants without zone are UTC)."""
    found = top(s, currency=currency, by=by, since=_utc(since), until=_utc(until), limit=limit)
    return [line._asdict() for line in found]
