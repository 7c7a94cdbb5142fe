"""What a campaign and a scenario are, as pydantic models: validated at the edge, stored as
their JSON (``model_dump(mode="json")``) and read back with :func:`parse`.

A segment is named (a saved segment, ``"vip"``) or given whole (a criterion of
``xrm.segments``, or its JSON form).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from xrm.errors import FieldError, ValidationError

__all__ = [
    "NAME",
    "Arm",
    "CampaignSpec",
    "Condition",
    "Exit",
    "MoveRole",
    "OnDate",
    "OnEvent",
    "OnSegmentEntry",
    "PlanActivity",
    "ScenarioSpec",
    "Send",
    "Step",
    "Tag",
    "Trigger",
    "Wait",
    "parse",
]

#: a campaign's or scenario's name: what the CLI and the HTTP paths name it by
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
_WORD = r"^[a-z][a-z0-9_]{0,39}$"

#: a saved segment's name, or a criterion (``xrm.segments``) in its JSON form
SegmentRef = str | dict[str, Any]


def _segment(value: Any) -> Any:
    """A criterion object becomes its JSON form; a name or a mapping is kept."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, str) and not value.strip():
        raise ValueError("name a saved segment or give a criterion")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Arm(_Model):
    """One arm of an A/B split: ``share`` percent of the audience (the shares add up to
    100), sent ``templates`` (channel -> template; the campaign's when ``None``), or
    nothing at all when ``control`` (a hold-out group, counted but never sent)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]{1,20}$")
    share: int = Field(ge=1, le=100)
    templates: dict[str, str] | None = None
    control: bool = False

    @model_validator(mode="after")
    def _control_sends_nothing(self) -> Arm:
        if self.control and self.templates:
            raise ValueError("a control arm is sent nothing: give it no templates")
        return self


class CampaignSpec(_Model):
    """A targeted campaign: the parties of ``segment`` that the consent ledger allows for
    ``purpose`` on at least one of the ``channels``, each reached on its preferred allowed
    channel with that channel's template (``channels``: channel -> template name, in the
    order tried when the party prefers none of them; the template set picks the party's
    language). ``starts_at``: when to start (``None``: at launch); ``throttle``: at most
    that many recipients handled per minute; ``arms``: an A/B split (none: one arm
    ``main``); ``data``: what the templates see as ``data``."""

    name: str = Field(pattern=NAME)
    purpose: str = Field(pattern=_WORD)
    segment: SegmentRef
    channels: dict[str, str] = Field(min_length=1, max_length=10)
    arms: list[Arm] = Field(default_factory=list, max_length=10)
    starts_at: dt.datetime | None = None
    throttle: int | None = Field(default=None, ge=1, le=1_000_000)
    data: dict[str, Any] = Field(default_factory=dict)
    description: str | None = Field(default=None, max_length=2000)
    #: opportunities opened for a recipient within this many days after its message are
    #: attributed to the campaign (with the sales plugin)
    attribution_days: int = Field(default=30, ge=1, le=365)

    _segment = field_validator("segment", mode="before")(_segment)

    @field_validator("channels")
    @classmethod
    def _templates_named(cls, value: dict[str, str]) -> dict[str, str]:
        for channel, template in value.items():
            if not channel or not template:
                raise ValueError("each channel needs a template name")
        return value

    @field_validator("starts_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone (an aware date and time)")
        return value.astimezone(dt.UTC) if value is not None else None

    @model_validator(mode="after")
    def _arms_add_up(self) -> CampaignSpec:
        if self.arms:
            if sum(a.share for a in self.arms) != 100:
                raise ValueError("the arms' shares must add up to 100")
            names = [a.name for a in self.arms]
            if len(set(names)) != len(names):
                raise ValueError("two arms have the same name")
            for arm in self.arms:
                extra = set(arm.templates or ()) - set(self.channels)
                if extra:
                    raise ValueError(f"arm {arm.name!r} names channels the campaign has not: "
                                     f"{', '.join(sorted(extra))}")  # fmt: skip
        return self

    def arm_list(self) -> list[Arm]:
        """The arms, ``main`` (everyone) when no split was asked."""
        return list(self.arms) or [Arm(name="main", share=100)]

    def template(self, arm: str, channel: str) -> str | None:
        """The template an arm sends on a channel (``None`` for a control arm)."""
        found = next(a for a in self.arm_list() if a.name == arm)
        if found.control:
            return None
        return (found.templates or {}).get(channel, self.channels[channel])


# -- scenarios -------------------------------------------------------------------------------
EventType = Literal[
    "party.created",
    "role.assigned",
    "role.transitioned",
    "role.ended",
    "interaction.recorded",
    "consent.granted",
    "consent.refused",
    "consent.withdrawn",
    "consent.objected",
]


class OnEvent(_Model):
    """Enrol the party a journal event concerns, when the event matches: ``role`` (the
    role type) and ``to_state`` for role events; ``channel``, ``direction`` and ``purpose``
    for interactions (each participant is enrolled, but those taking part as ``agent`` or
    ``employee``); ``purpose`` and ``channel`` for consent events; and, if ``segment`` is
    given, only while the party is in it."""

    type: Literal["event"] = "event"
    event: EventType
    role: str | None = None
    to_state: str | None = None
    channel: str | None = None
    direction: Literal["inbound", "outbound", "internal"] | None = None
    purpose: str | None = None
    segment: SegmentRef | None = None

    _segment = field_validator("segment", mode="before")(_segment)


class OnSegmentEntry(_Model):
    """Enrol each party that enters ``segment``, found by the periodic tick
    (:func:`~xrm_campaigns.tick`). The members at the scenario's creation are enrolled too
    when ``include_existing``, else they are recorded as already there (``baseline``)."""

    type: Literal["segment"] = "segment"
    segment: SegmentRef
    include_existing: bool = False

    _segment = field_validator("segment", mode="before")(_segment)


class OnDate(_Model):
    """Enrol each party whose date ``attribute`` falls ``days_before`` days from today:
    ``birth_date`` (the party's date of birth) or, with ``role``, an ISO date in that
    role's attributes (``renewal_date``). ``yearly``: every year on the day and month (a
    birthday, an anniversary), else once on that date. Found by the tick."""

    type: Literal["date"] = "date"
    attribute: str = Field(pattern=_WORD)
    role: str | None = Field(default=None, pattern=_WORD)
    days_before: int = Field(default=0, ge=0, le=365)
    yearly: bool = True


Trigger = Annotated[OnEvent | OnSegmentEntry | OnDate, Field(discriminator="type")]


class Wait(_Model):
    """Wait that long before the next step."""

    type: Literal["wait"] = "wait"
    days: int = Field(default=0, ge=0, le=3650)
    hours: int = Field(default=0, ge=0, le=100_000)
    minutes: int = Field(default=0, ge=0, le=1_000_000)

    def delay(self) -> dt.timedelta:
        return dt.timedelta(days=self.days, hours=self.hours, minutes=self.minutes)


class Condition(_Model):
    """Go on only if the party is in ``segment`` now; otherwise exit the scenario, or
    ``skip`` the next step."""

    type: Literal["condition"] = "condition"
    segment: SegmentRef
    otherwise: Literal["exit", "skip"] = "exit"

    _segment = field_validator("segment", mode="before")(_segment)


class Send(_Model):
    """Send ``template`` for ``purpose`` through the messaging layer (the party's preferred
    allowed channel, or ``channel``); a refusal (no consent, capped) is recorded and the
    scenario goes on."""

    type: Literal["send"] = "send"
    template: str = Field(min_length=1, max_length=60)
    purpose: str = Field(pattern=_WORD)
    channel: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class PlanActivity(_Model):
    """Plan an activity about the party (a call, a meeting, a task), due ``due_in_days``
    days after the step runs, for ``assignee`` (a party id) or ``user``."""

    type: Literal["activity"] = "activity"
    kind: Literal["call", "meeting", "email", "task"] = "call"
    subject: str = Field(min_length=1, max_length=300)
    due_in_days: int = Field(default=0, ge=0, le=3650)
    assignee: int | None = Field(default=None, ge=1)
    user: str | None = Field(default=None, max_length=200)


class Tag(_Model):
    """Tag the party (or take the tag off, with ``remove``)."""

    type: Literal["tag"] = "tag"
    tag: str = Field(min_length=1, max_length=100)
    remove: bool = False


class MoveRole(_Model):
    """Move the party's current ``role`` to state ``to`` (as ``s.roles.transition``)."""

    type: Literal["move_role"] = "move_role"
    role: str = Field(pattern=_WORD)
    to: str = Field(min_length=1, max_length=40)


class Exit(_Model):
    """Leave the scenario."""

    type: Literal["exit"] = "exit"


Step = Annotated[
    Wait | Condition | Send | PlanActivity | Tag | MoveRole | Exit, Field(discriminator="type")
]


class ScenarioSpec(_Model):
    """An automated scenario: a ``trigger`` enrols parties, then the ``steps`` run in
    order for each, each at most once per party (and occurrence)."""

    name: str = Field(pattern=NAME)
    trigger: Trigger
    steps: list[Step] = Field(min_length=1, max_length=50)
    description: str | None = Field(default=None, max_length=2000)


M = TypeVar("M", bound=BaseModel)

#: the member names pydantic puts in an error's location for a plain union
_MEMBERS = frozenset({"str", "dict[str,any]", "int", "none"})


def _path(loc: tuple[int | str, ...]) -> str:
    """A pydantic location as a field path, without the tags of the unions (the
    trigger's and a step's ``type``, a segment's ``str`` or ``dict``)."""
    parts: list[str] = []
    for i, part in enumerate(loc):
        tagged = i > 0 and (
            loc[i - 1] == "trigger"
            or (isinstance(loc[i - 1], int) and i > 1 and loc[i - 2] == "steps")
        )
        if (tagged and isinstance(part, str)) or str(part) in _MEMBERS:
            continue
        parts.append(str(part))
    return ".".join(parts)


def parse(model: type[M], data: Any, *, prefix: str = "") -> M:
    """``data`` (a mapping, or already a ``model``) as ``model``; pydantic's refusals
    become one :class:`~xrm.ValidationError` naming each field."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        errors = []
        for error in exc.errors():
            path = _path(tuple(error["loc"]))
            reason = str(error["msg"]).removeprefix("Value error, ")
            errors.append(FieldError(".".join(p for p in (prefix, path) if p), reason))
        raise ValidationError(errors) from None
