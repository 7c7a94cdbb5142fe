"""The plugin's journal events. A campaign's own events (created, launched, finished) name
no party; a scenario's enrolment and step events are on the party's timeline."""

from __future__ import annotations

import attrs

from xrm import JournalEvent

__all__ = [
    "EVENT_TYPES",
    "CampaignCreated",
    "CampaignFinished",
    "CampaignLaunched",
    "CampaignResolved",
    "PartyEnrolled",
    "ScenarioCreated",
    "ScenarioStatusChanged",
    "StepRan",
]


@attrs.frozen(kw_only=True)
class CampaignCreated(JournalEvent):
    """A campaign was defined (a draft until launched)."""

    TYPE = "campaigns.campaign_created"
    ENTITY = "campaigns.campaign"
    name: str
    purpose: str
    channels: list[str]
    arms: list[str]


@attrs.frozen(kw_only=True)
class CampaignLaunched(JournalEvent):
    """A campaign was launched: it starts at ``starts_at`` (now, or its schedule)."""

    TYPE = "campaigns.campaign_launched"
    ENTITY = "campaigns.campaign"
    name: str
    starts_at: str


@attrs.frozen(kw_only=True)
class CampaignResolved(JournalEvent):
    """A campaign's audience was resolved into recipients: ``targeted`` members of its
    segment, ``pending`` of them to be sent, the others excluded or held out."""

    TYPE = "campaigns.campaign_resolved"
    ENTITY = "campaigns.campaign"
    name: str
    targeted: int
    pending: int


@attrs.frozen(kw_only=True)
class CampaignFinished(JournalEvent):
    """A campaign's last recipient was handled (``done``), or it was cancelled."""

    TYPE = "campaigns.campaign_finished"
    ENTITY = "campaigns.campaign"
    name: str
    status: str
    sent: int
    excluded: int


@attrs.frozen(kw_only=True)
class ScenarioCreated(JournalEvent):
    """An automated scenario was defined (active at once)."""

    TYPE = "campaigns.scenario_created"
    ENTITY = "campaigns.scenario"
    name: str
    trigger: str
    steps: list[str]


@attrs.frozen(kw_only=True)
class ScenarioStatusChanged(JournalEvent):
    """A scenario was paused or resumed."""

    TYPE = "campaigns.scenario_status_changed"
    ENTITY = "campaigns.scenario"
    name: str
    status: str


@attrs.frozen(kw_only=True)
class PartyEnrolled(JournalEvent):
    """The party entered an automated scenario (by an event, a segment or a date)."""

    TYPE = "campaigns.enrolled"
    ENTITY = "campaigns.enrolment"
    scenario: str
    trigger: str
    occurrence: str


@attrs.frozen(kw_only=True)
class StepRan(JournalEvent):
    """A step of a scenario ran for the party: what it was and what came of it."""

    TYPE = "campaigns.step_ran"
    ENTITY = "campaigns.enrolment"
    scenario: str
    step: int
    kind: str
    outcome: str
    detail: str | None
    message_id: int | None
    activity_id: int | None


EVENT_TYPES: tuple[type[JournalEvent], ...] = (
    CampaignCreated,
    CampaignLaunched,
    CampaignResolved,
    CampaignFinished,
    ScenarioCreated,
    ScenarioStatusChanged,
    PartyEnrolled,
    StepRan,
)
