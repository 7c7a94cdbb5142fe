"""The sales plugin's endpoints under ``xrm serve`` (``/plugins/sales/...``): opportunities
(open, read, list, move) and the reports. Each takes the caller's unit of work
(``xrm.web.session``), so the caller's key, roles and the policy apply."""

from __future__ import annotations

import datetime as dt
import typing
from decimal import Decimal
from typing import Annotated, Any, Literal

import attrs
from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, create_model

from xrm import Session
from xrm.web import session
from xrm_sales._opportunities import (
    Contact,
    ContactIn,
    Opportunity,
    get,
    move,
    open_opportunity,
    opportunities,
)
from xrm_sales._reports import ForecastLine, PipelineLine, forecast, pipeline_report
from xrm_sales._stale import StaleOpportunity, stale

__all__ = ["router"]

MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
SessionDep = Annotated[Session, Depends(session)]
OpportunityId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _model(cls: type, fields: dict[str, Any]) -> type[BaseModel]:
    model = create_model(cls.__name__ + "Out", __config__=ConfigDict(), **fields)
    assert isinstance(model, type) and issubclass(model, BaseModel)  # noqa: PT018
    return model


def _of_named_tuple(cls: type) -> type[BaseModel]:
    hints = typing.get_type_hints(cls)
    return _model(cls, {name: (hints[name], ...) for name in cls._fields})  # type: ignore[attr-defined]


ContactOut = _model(
    Contact, {"party_id": (int, ...), "role": (str, ...), "note": (str | None, ...)}
)
_hints = typing.get_type_hints(Opportunity)
OpportunityOut = _model(
    Opportunity,
    {
        f.name: (list[ContactOut] if f.name == "contacts" else _hints[f.name], ...)  # type: ignore[valid-type]
        for f in attrs.fields(Opportunity)
    },
)
PipelineLineOut = _of_named_tuple(PipelineLine)
ForecastLineOut = _of_named_tuple(ForecastLine)
StaleOut = _of_named_tuple(StaleOpportunity)


def _out(opportunity: Opportunity) -> dict[str, Any]:
    data = attrs.asdict(opportunity, recurse=True)
    data["contacts"] = list(data["contacts"])
    return data


class ContactBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    party: Id
    role: Literal["decision_maker", "influencer", "user", "other"] = "other"
    note: Annotated[str, Field(max_length=300)] | None = None


class OpportunityIn(BaseModel):
    """An opportunity to open; ``amount`` is decimal text or a whole number."""

    model_config = ConfigDict(extra="forbid")
    account: Id
    title: Annotated[str, Field(min_length=1, max_length=300)]
    amount: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=3)]
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    pipeline: Name = "default"
    stage: Name | None = None
    probability: Annotated[int, Field(ge=0, le=100)] | None = None
    expected_close: dt.date | None = None
    owner: Id | None = None
    owner_user: Name | None = None
    contacts: list[ContactBody] = Field(default_factory=list, max_length=100)
    campaign: Name | None = None
    partner: Id | None = None


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: Name
    probability: Annotated[int, Field(ge=0, le=100)] | None = None
    lost_reason: Annotated[str, Field(min_length=1, max_length=300)] | None = None


router = APIRouter(tags=["sales"])


@router.post("/opportunities", status_code=201, response_model=OpportunityOut)
def open_(body: OpportunityIn, s: SessionDep) -> Any:
    """Open an opportunity for an account."""
    fields = body.model_dump(exclude={"contacts", "account", "title"})
    contacts = [ContactIn(c.party, c.role, c.note) for c in body.contacts]
    return _out(open_opportunity(s, body.account, body.title, contacts=contacts, **fields))


@router.get("/opportunities", response_model=list[OpportunityOut])  # type: ignore[valid-type]
def list_(
    s: SessionDep,
    account: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    status: Literal["open", "won", "lost", "any"] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> Any:
    """Opportunities by id, ``limit`` at a time after the id ``after``."""
    found = opportunities(
        s, account=account, status=None if status == "any" else status, limit=limit, after=after
    )
    return [_out(o) for o in found]


@router.get("/opportunities/{opportunity_id}", response_model=OpportunityOut)
def get_(opportunity_id: OpportunityId, s: SessionDep) -> Any:
    return _out(get(s, opportunity_id))


@router.post("/opportunities/{opportunity_id}/move", response_model=OpportunityOut)
def move_(opportunity_id: OpportunityId, body: MoveIn, s: SessionDep) -> Any:
    """Move to a stage: won makes the account a customer; lost needs ``lost_reason``."""
    return _out(
        move(s, opportunity_id, body.stage, probability=body.probability,
             lost_reason=body.lost_reason)
    )  # fmt: skip


@router.get("/pipeline", response_model=list[PipelineLineOut])  # type: ignore[valid-type]
def pipeline(s: SessionDep, as_of: dt.date | None = None) -> Any:
    """Count, amount and weighted amount per stage and currency, now or at the end of a day."""
    return [line._asdict() for line in pipeline_report(s, as_of=as_of)]


@router.get("/forecast", response_model=list[ForecastLineOut])  # type: ignore[valid-type]
def forecast_(s: SessionDep, start: dt.date | None = None, end: dt.date | None = None) -> Any:
    """Open opportunities by month of expected close, owner and currency, weighted."""
    return [line._asdict() for line in forecast(s, start=start, end=end)]


@router.get("/stale", response_model=list[StaleOut])  # type: ignore[valid-type]
def stale_(s: SessionDep, days: Annotated[int, Query(ge=1, le=3650)] = 30) -> Any:
    """Open opportunities with no activity about them for ``days`` days."""
    return [line._asdict() for line in stale(s, days=days)]
