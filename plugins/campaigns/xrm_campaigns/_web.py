"""The plugin's HTTP endpoints, mounted by ``xrm serve`` under ``/plugins/campaigns``
(``xrm_web_routers``): campaigns listed, read, created, launched, their results;
scenarios listed, created, their report; what a party is in. Each takes the caller's unit
of work (``xrm.web.session``), so API keys, roles and the policy apply; xrm's errors
become its problem responses."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel

from xrm import Session
from xrm.web import session
from xrm_campaigns._campaigns import (
    Campaign,
    campaigns,
    create,
    get,
    launch,
    recipients_of,
    results,
)
from xrm_campaigns._scenarios import (
    Scenario,
    create_scenario,
    enrolments,
    scenario_report,
    scenarios,
)

__all__ = ["router"]

router = APIRouter(tags=["campaigns"])
S = Annotated[Session, Depends(session)]


class CampaignOut(BaseModel):
    id: int
    name: str
    status: str
    starts_at: dt.datetime | None
    launched_at: dt.datetime | None
    resolved_at: dt.datetime | None
    finished_at: dt.datetime | None
    processed: int
    definition: dict[str, Any]


class ResultsOut(BaseModel):
    campaign: str
    status: str
    arms: dict[str, dict[str, Any]]
    total: dict[str, Any]


class ScenarioOut(BaseModel):
    id: int
    name: str
    status: str
    definition: dict[str, Any]


class PartyCampaignsOut(BaseModel):
    campaigns: list[dict[str, Any]]
    scenarios: list[dict[str, Any]]


def _campaign(c: Campaign) -> CampaignOut:
    return CampaignOut(
        id=c.id, name=c.name, status=c.status, starts_at=c.starts_at,
        launched_at=c.launched_at, resolved_at=c.resolved_at, finished_at=c.finished_at,
        processed=c.processed, definition=c.spec.model_dump(mode="json"),
    )  # fmt: skip


def _scenario(x: Scenario) -> ScenarioOut:
    return ScenarioOut(
        id=x.id, name=x.name, status=x.status, definition=x.spec.model_dump(mode="json")
    )


@router.get("/campaigns")
def list_campaigns(s: S, status: str | None = None) -> list[CampaignOut]:
    """The campaigns, newest first."""
    return [_campaign(c) for c in campaigns(s, status=status)]


@router.post("/campaigns", status_code=201)
def create_campaign(s: S, definition: Annotated[dict[str, Any], Body()]) -> CampaignOut:
    """Define a campaign (the JSON of a ``CampaignSpec``); a draft until launched."""
    return _campaign(create(s, definition))


@router.get("/campaigns/{name}")
def read_campaign(s: S, name: str) -> CampaignOut:
    return _campaign(get(s, name))


@router.post("/campaigns/{name}/launch")
def launch_campaign(s: S, name: str) -> CampaignOut:
    """Launch a draft: now (the audience is resolved at once) or at its start date."""
    return _campaign(launch(s, name))


@router.get("/campaigns/{name}/results")
def campaign_results(s: S, name: str) -> ResultsOut:
    """Per arm and in total: targeted, excluded by reason, sent, delivered, bounced,
    replied, unsubscribed (and, with the sales plugin, opportunities and revenue)."""
    found = results(s, name)
    return ResultsOut(campaign=found.campaign, status=found.status, arms=found.arms,
                      total=found.total)  # fmt: skip


@router.get("/scenarios")
def list_scenarios(s: S) -> list[ScenarioOut]:
    return [_scenario(x) for x in scenarios(s)]


@router.post("/scenarios", status_code=201)
def create_scenario_route(s: S, definition: Annotated[dict[str, Any], Body()]) -> ScenarioOut:
    """Define a scenario (the JSON of a ``ScenarioSpec``), active at once."""
    return _scenario(create_scenario(s, definition))


@router.get("/scenarios/{name}")
def scenario_status(s: S, name: str) -> dict[str, Any]:
    """A scenario's enrolments per status and its steps' outcomes."""
    return scenario_report(s, name)


@router.get("/parties/{party_id}")
def party_campaigns(s: S, party_id: int) -> PartyCampaignsOut:
    """The campaigns a party was in and the scenarios it went through (the panel)."""
    party = s.parties.get(party_id)
    sent = [
        {"campaign": name, "campaign_status": status, "arm": arm, "channel": channel,
         "status": mine, "reason": reason, "message_id": message_id}
        for name, status, arm, channel, mine, reason, message_id in recipients_of(s, party.id)
    ]  # fmt: skip
    went = [
        {"scenario": e.scenario, "status": e.status, "step": e.step,
         "next_run_at": e.next_run_at, "enrolled_at": e.enrolled_at}
        for e in enrolments(s, party=party.id)
    ]  # fmt: skip
    return PartyCampaignsOut(campaigns=sent, scenarios=went)
