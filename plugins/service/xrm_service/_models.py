"""The plugin's tables, on xrm's declarative base; its Alembic branch is ``service``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from xrm.tables import NOT_PERSONAL, PERSONAL, Base

__all__ = ["CaseContactRow", "CaseInteractionRow", "CaseRow", "CaseStatusRow"]


class CaseRow(Base):
    """A case (ticket): what a party asked for, who handles it, where it stands, and its
    service-level clock, kept current at every write so that lists are index reads."""

    __tablename__ = "service_case"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    #: the customer (a person or an organization)
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"))
    #: the case's title in the company ("Washing machine leaks"): replaced when the
    #: customer is erased (xrm_party_erase), not when the assignee or a contact person is
    subject: Mapped[str] = mapped_column(String(300), info=NOT_PERSONAL)
    #: what the customer said, in their words: personal data
    description: Mapped[str | None] = mapped_column(Text, info=PERSONAL)
    category: Mapped[str] = mapped_column(String(60), info=NOT_PERSONAL)
    priority: Mapped[str] = mapped_column(String(20), info=NOT_PERSONAL)
    #: the customer tier the service level was chosen for, as it was at opening
    tier: Mapped[str | None] = mapped_column(String(40), info=NOT_PERSONAL)
    #: the channel the case came in by
    channel: Mapped[str] = mapped_column(String(40), info=NOT_PERSONAL)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("party.id", ondelete="SET NULL"))
    team: Mapped[str | None] = mapped_column(String(100), info=NOT_PERSONAL)
    status: Mapped[str] = mapped_column(String(40), info=NOT_PERSONAL)
    #: the order, invoice, delivery or repair number the case is about
    external_ref: Mapped[str | None] = mapped_column(String(200), info=NOT_PERSONAL)
    #: the service-level policy and calendar chosen (by priority, category and tier)
    policy: Mapped[str | None] = mapped_column(String(60), info=NOT_PERSONAL)
    calendar: Mapped[str | None] = mapped_column(String(60), info=NOT_PERSONAL)
    response_target_min: Mapped[int | None]
    resolution_target_min: Mapped[int | None]
    opened_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    first_response_at: Mapped[dt.datetime | None]
    #: business minutes from opening to the first response
    response_min: Mapped[int | None]
    resolved_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    # -- the resolution clock: business seconds used up to ``clock_since``, running from
    # ``clock_since`` (None: stopped, while waiting on the customer or once resolved)
    resolution_used_s: Mapped[int] = mapped_column(default=0)
    clock_since: Mapped[dt.datetime | None]
    #: first-response due instant: fixed at opening (or when the target changes)
    response_due_at: Mapped[dt.datetime | None]
    #: resolution due instant while the clock runs (None when stopped)
    resolution_due_at: Mapped[dt.datetime | None]
    #: when the resolution target was passed, once known at a stop of the clock
    resolution_breached_at: Mapped[dt.datetime | None]
    #: the next instant a target falls due (response while unanswered, resolution while the
    #: clock runs), None when nothing is due: the SLA list is a range of its index
    next_due_at: Mapped[dt.datetime | None]
    #: the ``next_due_at`` already escalated (breach near) and already reported breached
    escalated_due_at: Mapped[dt.datetime | None]
    breach_reported_due_at: Mapped[dt.datetime | None]
    # -- satisfaction
    survey_sent_at: Mapped[dt.datetime | None]
    #: ``sent``, or ``refused`` when the messaging layer could not send it (no consent)
    survey_status: Mapped[str | None] = mapped_column(String(20), info=NOT_PERSONAL)
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)
    #: the customer's own words about the service: personal data
    satisfaction_comment: Mapped[str | None] = mapped_column(Text, info=PERSONAL)
    satisfaction_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __table_args__ = (
        Index("ix_service_case_next_due", "next_due_at"),
        Index("ix_service_case_party", "party_id", "status"),
        Index("ix_service_case_assignee", "assignee_id"),
        Index("ix_service_case_team", "team", "status"),
        Index("ix_service_case_external_ref", "external_ref"),
        Index("ix_service_case_status_opened", "status", "opened_at"),
        Index("ix_service_case_resolved", "resolved_at"),
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction"),
    )


class CaseContactRow(Base):
    """A contact person on a case (someone at the customer's, or a relative)."""

    __tablename__ = "service_case_contact"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("service_case.id", ondelete="CASCADE"))
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime]

    __table_args__ = (
        Index("ix_service_case_contact_case", "case_id", "party_id", unique=True),
        Index("ix_service_case_contact_party", "party_id"),
    )


class CaseStatusRow(Base):
    """One step of a case's status history: the first (``from_status`` null) is its
    opening; ``at`` never goes back for one case."""

    __tablename__ = "service_case_status"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("service_case.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(40))
    to_status: Mapped[str] = mapped_column(String(40))
    at: Mapped[dt.datetime]
    #: the unit of work's actor
    by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_service_case_status_case", "case_id", "at", "id"),)


class CaseInteractionRow(Base):
    """An interaction linked to a case: how it came in (``origin``), a message threaded
    onto it (``thread``), a status notice (``notice``), a survey (``survey``) or one
    linked by hand (``linked``)."""

    __tablename__ = "service_case_interaction"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("service_case.id", ondelete="CASCADE"))
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interaction.id", ondelete="CASCADE"))
    link: Mapped[str] = mapped_column(String(20))
    #: the outbox message of a notice or survey
    message_id: Mapped[int | None]
    #: the status a notice told
    status: Mapped[str | None] = mapped_column(String(60))
    at: Mapped[dt.datetime]

    __table_args__ = (
        Index("ix_service_case_interaction_case", "case_id", "interaction_id", unique=True),
        Index("ix_service_case_interaction_interaction", "interaction_id"),
        Index("ix_service_case_interaction_message", "message_id"),
    )
