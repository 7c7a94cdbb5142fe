"""Segment criteria the plugin adds (``xrm_segment_criteria``): who was in a campaign, who
went through a scenario — to retarget ("sent the spring campaign, did not reply") or to
test in a scenario's condition step."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field
from sqlalchemy import ColumnElement, exists, select

from xrm import segments as seg
from xrm_campaigns._models import CampaignRow, EnrolmentRow, RecipientRow, ScenarioRow

__all__ = ["CRITERIA", "InCampaign", "InScenario"]

RecipientStatus = Literal["pending", "sent", "excluded", "held_out"]
EnrolmentStatus = Literal["active", "done", "exited", "failed", "cancelled", "baseline"]


class InCampaign(seg.Criterion):
    """The party was a recipient of ``campaign`` (in one of ``statuses``, in ``arm``, when
    given): ``InCampaign(campaign="spring", statuses=["sent"])``."""

    type: Literal["campaigns.recipient"] = "campaigns.recipient"
    campaign: str = Field(min_length=1, max_length=100)
    statuses: list[RecipientStatus] = Field(default_factory=list)
    arm: str | None = Field(default=None, max_length=20)
    summary: ClassVar[str] = "recipient of a campaign"

    def where(self, ctx: seg.Context, party_id: Any) -> ColumnElement[bool]:
        r = RecipientRow
        campaign = select(CampaignRow.id).where(CampaignRow.name == self.campaign)
        conditions = [r.party_id == party_id, r.campaign_id == campaign.scalar_subquery()]
        if self.statuses:
            conditions.append(r.status.in_(self.statuses))
        if self.arm is not None:
            conditions.append(r.arm == self.arm)
        return exists().where(*conditions)


class InScenario(seg.Criterion):
    """The party was enrolled in ``scenario`` (in one of ``statuses``, when given):
    ``InScenario(scenario="welcome", statuses=["done"])``."""

    type: Literal["campaigns.scenario"] = "campaigns.scenario"
    scenario: str = Field(min_length=1, max_length=100)
    statuses: list[EnrolmentStatus] = Field(default_factory=list)
    summary: ClassVar[str] = "enrolled in a scenario"

    def where(self, ctx: seg.Context, party_id: Any) -> ColumnElement[bool]:
        e = EnrolmentRow
        scenario = select(ScenarioRow.id).where(ScenarioRow.name == self.scenario)
        conditions = [e.party_id == party_id, e.scenario_id == scenario.scalar_subquery()]
        if self.statuses:
            conditions.append(e.status.in_(self.statuses))
        return exists().where(*conditions)


CRITERIA: tuple[type[seg.Criterion], ...] = (InCampaign, InScenario)
