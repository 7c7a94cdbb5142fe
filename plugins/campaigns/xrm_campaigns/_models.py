"""The plugin's tables, on xrm's declarative base; its Alembic branch is ``campaigns``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from xrm.tables import NOT_PERSONAL, Base

__all__ = ["CampaignRow", "EnrolmentRow", "RecipientRow", "ScenarioRow", "StepRunRow"]


class CampaignRow(Base):
    """A campaign: its definition (the JSON of a :class:`~xrm_campaigns.CampaignSpec`) and
    where its launch stands."""

    __tablename__ = "campaigns_campaign"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    purpose: Mapped[str] = mapped_column(String(40))
    #: the whole definition, as ``CampaignSpec.model_dump(mode="json")``
    definition: Mapped[dict[str, Any]]
    #: ``draft`` -> ``scheduled`` (launched, to start at ``starts_at``) -> ``running``
    #: (audience resolved, recipients being sent) -> ``done``; or ``cancelled``
    status: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[dt.datetime | None]
    launched_at: Mapped[dt.datetime | None]
    #: when the audience was resolved into recipients
    resolved_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    #: recipients handled by the campaign worker so far (sent or refused at send time):
    #: what the throttle counts
    processed: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]

    __table_args__ = (Index("ix_campaigns_campaign_status", "status", "starts_at"),)


class RecipientRow(Base):
    """A member of a campaign's segment when its audience was resolved: the channel and
    A/B arm it was given, and what became of it (``pending``, ``sent`` with its message,
    ``excluded`` with the reason)."""

    __tablename__ = "campaigns_recipient"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns_campaign.id", ondelete="CASCADE")
    )
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"))
    arm: Mapped[str] = mapped_column(String(20), info=NOT_PERSONAL)
    #: the preferred allowed channel at resolution (``None`` when none was allowed)
    channel: Mapped[str | None] = mapped_column(String(40), info=NOT_PERSONAL)
    #: ``pending``, ``sent``, ``excluded`` or ``held_out`` (a control arm's)
    status: Mapped[str] = mapped_column(String(20), info=NOT_PERSONAL)
    #: why it was excluded: ``no_consent``, ``suppressed``, ``no_address``, ``capped``,
    #: ``erased``, ``merged``, ``not_found``
    reason: Mapped[str | None] = mapped_column(String(20), info=NOT_PERSONAL)
    message_id: Mapped[int | None]
    created_at: Mapped[dt.datetime]
    processed_at: Mapped[dt.datetime | None]

    __table_args__ = (
        Index("ix_campaigns_recipient_party", "campaign_id", "party_id", unique=True),
        Index("ix_campaigns_recipient_status", "campaign_id", "status", "id"),
        Index("ix_campaigns_recipient_of_party", "party_id"),
        Index("ix_campaigns_recipient_message", "message_id"),
    )


class ScenarioRow(Base):
    """An automated scenario: its definition (a :class:`~xrm_campaigns.ScenarioSpec`'s
    JSON), and the trigger columns the hooks and the tick look it up by."""

    __tablename__ = "campaigns_scenario"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    definition: Mapped[dict[str, Any]]
    #: ``event``, ``segment`` or ``date``
    trigger: Mapped[str] = mapped_column(String(20))
    #: the journal event type of an ``event`` trigger (``role.transitioned``)
    event: Mapped[str | None] = mapped_column(String(60))
    #: ``active`` or ``paused`` (a paused scenario enrols nobody; its enrolments wait)
    status: Mapped[str] = mapped_column(String(20))
    #: the last tick that looked for new members (segment and date triggers)
    ticked_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]

    __table_args__ = (Index("ix_campaigns_scenario_trigger", "status", "trigger", "event"),)


class EnrolmentRow(Base):
    """A party going through a scenario: the step it is at and when it runs. A party is
    enrolled at most once per scenario and ``occurrence`` (the date of a yearly date
    trigger, empty otherwise)."""

    __tablename__ = "campaigns_enrolment"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    scenario_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns_scenario.id", ondelete="CASCADE")
    )
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"))
    occurrence: Mapped[str] = mapped_column(String(20), info=NOT_PERSONAL)
    #: the index of the next step to run
    step: Mapped[int] = mapped_column(default=0)
    #: ``active``, ``done`` (past its last step), ``exited`` (an exit step or a failed
    #: condition), ``failed`` (a step raised), ``cancelled`` (the party was erased),
    #: ``baseline`` (already in the segment when the scenario started: never run)
    status: Mapped[str] = mapped_column(String(20), info=NOT_PERSONAL)
    next_run_at: Mapped[dt.datetime]
    enrolled_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]

    __table_args__ = (
        Index("ix_campaigns_enrolment_party", "scenario_id", "party_id", "occurrence", unique=True),
        Index("ix_campaigns_enrolment_due", "status", "next_run_at"),
        Index("ix_campaigns_enrolment_of_party", "party_id"),
    )


class StepRunRow(Base):
    """One step run for an enrolment, written in the transaction of its effect: the unique
    ``(enrolment_id, step)`` is the "at most once" the worker keeps."""

    __tablename__ = "campaigns_step_run"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    enrolment_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns_enrolment.id", ondelete="CASCADE")
    )
    step: Mapped[int]
    #: the step's kind: ``wait``, ``condition``, ``send``, ``activity``, ``tag``,
    #: ``move_role``, ``exit``
    kind: Mapped[str] = mapped_column(String(20))
    #: ``done``, ``passed`` / ``exited`` (a condition), ``excluded`` (a send the messaging
    #: layer refused), ``failed``
    outcome: Mapped[str] = mapped_column(String(20))
    #: the refusal's code or the error, for ``excluded`` and ``failed``
    detail: Mapped[str | None] = mapped_column(String(300))
    message_id: Mapped[int | None]
    activity_id: Mapped[int | None]
    at: Mapped[dt.datetime]

    __table_args__ = (
        Index("ix_campaigns_step_run_step", "enrolment_id", "step", unique=True),
        Index("ix_campaigns_step_run_message", "message_id"),
    )
