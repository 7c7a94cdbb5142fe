"""The plugin's HTTP endpoints, mounted by ``xrm serve`` under ``/plugins/service``
(``xrm_web_routers``): cases listed, read, opened, moved; status notices; the SLA list and
the party panel. Each takes the caller's unit of work (``xrm.web.session``), so API keys,
roles and the policy apply; xrm's errors become its problem responses."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import attrs
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from xrm import Session
from xrm.web import session
from xrm_service._cases import SlaItem, cases, get, move, open_case, party_panel, sla_list
from xrm_service._messages import notify

__all__ = ["router"]

router = APIRouter(tags=["service"])
S = Annotated[Session, Depends(session)]


class CaseOut(BaseModel):
    id: int
    reference: str
    party_id: int
    subject: str
    description: str | None
    category: str
    priority: str
    channel: str
    assignee_id: int | None
    team: str | None
    status: str
    external_ref: str | None
    policy: str | None
    opened_at: dt.datetime
    first_response_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    response_due_at: dt.datetime | None
    resolution_due_at: dt.datetime | None
    next_due_at: dt.datetime | None
    satisfaction: int | None
    contacts: list[int]
    version: int


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    party_id: int
    subject: str = Field(min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=100_000)
    category: str = Field(default="general", min_length=1, max_length=60)
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    channel: str = Field(default="phone", min_length=1, max_length=40)
    contacts: list[int] = Field(default_factory=list, max_length=50)
    assignee_id: int | None = None
    team: str | None = Field(default=None, max_length=100)
    external_ref: str | None = Field(default=None, max_length=200)
    tier: str | None = Field(default=None, max_length=40)


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(min_length=1, max_length=40)
    expected_version: int | None = None


class NotifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    party_id: int
    kind: str = Field(min_length=1, max_length=40)
    reference: str = Field(min_length=1, max_length=200)
    status: str = Field(min_length=1, max_length=60)
    data: dict[str, Any] = Field(default_factory=dict)
    channel: str | None = Field(default=None, max_length=40)


class NoticeOut(BaseModel):
    message_id: int
    channel: str
    case_reference: str | None


class SlaOut(BaseModel):
    case_id: int
    reference: str
    party_id: int
    status: str
    priority: str
    team: str | None
    assignee_id: int | None
    target: str
    due_at: dt.datetime
    breached: bool
    seconds_left: int


class PanelLine(BaseModel):
    case: CaseOut
    sla: SlaOut | None


def _sla(item: SlaItem) -> SlaOut:
    return SlaOut.model_validate({**item._asdict(), "reference": item.reference})


def _out(case: Any) -> CaseOut:
    data = attrs.asdict(case)
    data["contacts"] = list(case.contacts)
    return CaseOut.model_validate({k: data[k] for k in CaseOut.model_fields})


@router.get("/cases")
def list_cases(
    s: S,
    party_id: int | None = None,
    status: str | None = Query(default=None, max_length=40),
    open_only: bool = False,
    team: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=50, ge=1, le=1000),
) -> list[CaseOut]:
    """Cases, newest first."""
    found = cases(s, party=party_id, status=status, open_only=open_only, team=team, limit=limit)
    return [_out(c) for c in found]


@router.get("/cases/{case}")
def get_case(case: Annotated[str, Field(max_length=20)], s: S) -> CaseOut:
    """One case, by id or reference (C-000123)."""
    return _out(get(s, case))


@router.post("/cases", status_code=201)
def create_case(body: CaseIn, s: S) -> CaseOut:
    """Open a case."""
    return _out(
        open_case(
            s, body.party_id, body.subject, category=body.category, priority=body.priority,
            channel=body.channel, description=body.description, contacts=body.contacts,
            assignee=body.assignee_id, team=body.team, external_ref=body.external_ref,
            tier=body.tier,
        )
    )  # fmt: skip


@router.post("/cases/{case}/move")
def move_case(case: Annotated[str, Field(max_length=20)], body: MoveIn, s: S) -> CaseOut:
    """Move a case along the workflow (409 when the workflow does not allow it)."""
    return _out(move(s, case, body.status, expected_version=body.expected_version))


@router.post("/notify", status_code=201)
def notify_party(body: NotifyIn, s: S) -> NoticeOut:
    """Tell a party where its order, invoice, delivery or repair stands."""
    notice = notify(
        s, body.party_id, body.kind, body.reference, body.status, body.data, channel=body.channel
    )
    return NoticeOut(
        message_id=notice.message.id, channel=notice.message.channel,
        case_reference=notice.case_reference,
    )  # fmt: skip


@router.get("/sla")
def sla(
    s: S,
    breached_only: bool = False,
    within_minutes: int | None = Query(default=None, ge=1, le=525_600),
    team: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=100, ge=1, le=10_000),
) -> list[SlaOut]:
    """Cases with a target due, soonest first, with breach flag and seconds left."""
    within = dt.timedelta(minutes=within_minutes) if within_minutes else None
    items = sla_list(s, within=within, breached_only=breached_only, team=team, limit=limit)
    return [_sla(i) for i in items]


@router.get("/parties/{party_id}/panel")
def panel(party_id: int, s: S) -> list[PanelLine]:
    """The party page's panel: its open cases with status and SLA time left."""
    return [
        PanelLine(case=_out(c), sla=None if i is None else _sla(i))
        for c, i in party_panel(s, party_id)
    ]
