"""The plugin's journal events: each on the timeline of the case's party (and of its contact
persons), ``entity`` ``service.case``."""

from __future__ import annotations

import attrs

from xrm import JournalEvent, personal

__all__ = [
    "EVENT_TYPES",
    "BreachNear",
    "CaseAssigned",
    "CaseOpened",
    "InteractionLinked",
    "NoticeSent",
    "SlaBreached",
    "StatusChanged",
    "SurveyAnswered",
    "SurveySent",
]

_ENTITY = "service.case"


@attrs.frozen(kw_only=True)
class CaseOpened(JournalEvent):
    """A case was opened for the party, with the service level it is held to."""

    TYPE = "service.case_opened"
    ENTITY = _ENTITY
    reference: str
    subject: str = personal()
    category: str
    priority: str
    channel: str
    team: str | None
    assignee_id: int | None
    external_ref: str | None
    policy: str | None
    response_due_at: str | None
    resolution_due_at: str | None
    interaction_id: int | None


@attrs.frozen(kw_only=True)
class StatusChanged(JournalEvent):
    """A case moved from one status of the workflow to another (a reopening too)."""

    TYPE = "service.status_changed"
    ENTITY = _ENTITY
    reference: str
    from_status: str
    to_status: str
    reopened: bool
    #: the resolution due instant from now on (None while the clock is stopped)
    resolution_due_at: str | None


@attrs.frozen(kw_only=True)
class CaseAssigned(JournalEvent):
    """A case's assignee, team, priority or category changed (the service level with it)."""

    TYPE = "service.case_updated"
    ENTITY = _ENTITY
    reference: str
    #: ``{field: {"from": ..., "to": ...}}``
    changes: dict[str, dict[str, object]]


@attrs.frozen(kw_only=True)
class InteractionLinked(JournalEvent):
    """An interaction was linked to a case: threaded by reference, or by hand."""

    TYPE = "service.interaction_linked"
    ENTITY = _ENTITY
    reference: str
    interaction_id: int
    link: str
    first_response: bool


@attrs.frozen(kw_only=True)
class NoticeSent(JournalEvent):
    """The party was told where its order, invoice, delivery or repair stands."""

    TYPE = "service.notice_sent"
    ENTITY = _ENTITY
    kind: str
    reference: str
    status: str
    case_reference: str | None
    message_id: int
    channel: str


@attrs.frozen(kw_only=True)
class SurveySent(JournalEvent):
    """A satisfaction survey about a resolved case was sent."""

    TYPE = "service.survey_sent"
    ENTITY = _ENTITY
    reference: str
    message_id: int
    channel: str


@attrs.frozen(kw_only=True)
class SurveyAnswered(JournalEvent):
    """The party rated the service it got on a case (1 to 5)."""

    TYPE = "service.survey_answered"
    ENTITY = _ENTITY
    reference: str
    score: int
    comment: str | None = personal(default=None)


@attrs.frozen(kw_only=True)
class BreachNear(JournalEvent):
    """A case's service-level target falls due soon: escalated."""

    TYPE = "service.breach_near"
    ENTITY = _ENTITY
    reference: str
    target: str
    due_at: str
    team: str | None
    assignee_id: int | None


@attrs.frozen(kw_only=True)
class SlaBreached(JournalEvent):
    """A case's service-level target was missed."""

    TYPE = "service.sla_breached"
    ENTITY = _ENTITY
    reference: str
    target: str
    due_at: str
    team: str | None
    assignee_id: int | None


EVENT_TYPES: tuple[type[JournalEvent], ...] = (
    CaseOpened,
    StatusChanged,
    CaseAssigned,
    InteractionLinked,
    NoticeSent,
    SurveySent,
    SurveyAnswered,
    BreachNear,
    SlaBreached,
)
