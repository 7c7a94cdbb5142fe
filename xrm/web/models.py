"""The JSON shapes of the HTTP API: the records xrm returns, as pydantic models built
from their attrs fields (so they never drift from the records), and the request bodies."""

from __future__ import annotations

import collections.abc
import datetime as dt
import types
import typing
from typing import Annotated, Any, Literal

import attrs
from pydantic import BaseModel, ConfigDict, Field, create_model

import xrm

__all__ = [
    "MAX_ID",
    "Body",
    "IdPath",
    "dump",
    "list_of",
    "page_model",
    "record_model",
]

#: the largest id a database stores (a signed 64-bit integer)
MAX_ID = 2**63 - 1

_models: dict[type, type[BaseModel]] = {}


def _field_type(annotation: Any) -> Any:
    """The pydantic type for an attrs field's type: records become their models, tuples
    lists, mappings dicts."""
    if isinstance(annotation, type) and attrs.has(annotation):
        return record_model(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return list[_field_type(args[0])]  # type: ignore[misc]
        # a pair: a list of its item types (OpenAPI tools read prefixItems unevenly)
        item: Any = None
        for a in args:
            t = _field_type(a)
            item = t if item is None else item | t
        return list[item]
    if origin in (collections.abc.Mapping, dict):
        return dict[_field_type(args[0]), _field_type(args[1])]  # type: ignore[misc]
    if origin in (types.UnionType, typing.Union):
        result: Any = None
        for a in args:
            t = _field_type(a)
            result = t if result is None else result | t
        return result
    if isinstance(annotation, type) and issubclass(annotation, BaseException):
        return str  # an error in a record (an import line's): its message
    return annotation


def record_model(cls: type, name: str | None = None) -> type[BaseModel]:
    """The pydantic model of an attrs record class of xrm (``xrm.Party`` -> ``Party``)."""
    if cls in _models:
        return _models[cls]
    attrs.resolve_types(cls)
    fields: dict[str, Any] = {f.name: (_field_type(f.type), ...) for f in attrs.fields(cls)}
    model = create_model(
        name or cls.__name__,
        __config__=ConfigDict(from_attributes=False),
        __doc__=(cls.__doc__ or cls.__name__).strip().split("\n\n")[0],
        **fields,
    )
    assert isinstance(model, type)
    assert issubclass(model, BaseModel)
    _models[cls] = model
    return model


def page_model(item: type[BaseModel], name: str) -> type[BaseModel]:
    """One page of a list: ``items`` and the ``next_cursor`` to pass as ``after``."""
    model = create_model(
        name,
        __doc__="One page; pass next_cursor as `after` for the next one (null: the last).",
        items=(list[item], ...),  # type: ignore[valid-type]
        next_cursor=(str | None, ...),
    )
    assert isinstance(model, type)
    assert issubclass(model, BaseModel)
    return model


def list_of(model: type[BaseModel]) -> Any:
    """``list[model]``, as a response model."""
    return list[model]  # type: ignore[valid-type]


def dump(record: Any) -> Any:
    """A record (or a list of records) as JSON-ready data for its model."""
    if isinstance(record, list | tuple):
        return [dump(r) for r in record]
    if isinstance(record, BaseException):
        return str(record)
    if attrs.has(type(record)):
        return {f.name: dump(getattr(record, f.name)) for f in attrs.fields(type(record))}
    if isinstance(record, collections.abc.Mapping):
        return {k: dump(v) for k, v in record.items()}
    return record


PartyOut = record_model(xrm.Party)
ContactPointOut = record_model(xrm.ContactPoint)
RoleOut = record_model(xrm.Role)
RelationshipOut = record_model(xrm.Relationship)
LinkOut = record_model(xrm.Link)
InteractionOut = record_model(xrm.Interaction)
ConsentRecordOut = record_model(xrm.ConsentRecord)
ConsentDecisionOut = record_model(xrm.ConsentDecision)
TimelineEntryOut = record_model(xrm.TimelineEntry)
PreferencesOut = record_model(xrm.Preferences)
PreviewOut = record_model(xrm.Preview)
MessageOut = record_model(xrm.Message)
MergePlanOut = record_model(xrm.MergePlan)
UnmergedOut = record_model(xrm.Unmerged)
CandidatePairOut = record_model(xrm.CandidatePair)
ErasureReportOut = record_model(xrm.ErasureReport)
ImportResultOut = record_model(xrm.ImportResult)
PartyPage = page_model(PartyOut, "PartyPage")
InteractionPage = page_model(InteractionOut, "InteractionPage")
TimelinePage = page_model(TimelineEntryOut, "TimelinePage")
ActivityOut = record_model(xrm.Activity)
ActivityPage = page_model(ActivityOut, "ActivityPage")


# --- request bodies -------------------------------------------------------------------

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Version = Annotated[int, Field(ge=0, le=MAX_ID)]
Text = Annotated[str, Field(max_length=10_000)]
Name = Annotated[str, Field(max_length=200)]


class Body(BaseModel):
    """A request body: unknown fields are refused, so a misspelt one is not ignored."""

    model_config = ConfigDict(extra="forbid")


IdPath = Id


class PartyIn(Body):
    kind: Name
    display_name: Name | None = None
    given_name: Name | None = None
    family_name: Name | None = None
    birth_date: dt.date | None = None
    attributes: dict[str, Any] | None = None
    contact_points: list[dict[str, Any]] = Field(
        default_factory=list,
        description='Each as xrm takes it: {"kind": "email", "value": "..."}, '
        '{"kind": "phone", "value": "...", "region": "FR"}, {"kind": "postal", "lines": '
        '[...], "city": "...", "country": "FR"}...',
    )
    identifiers: dict[str, Name] = Field(default_factory=dict)
    tags: list[Name] = Field(default_factory=list)
    if_exists: Literal["create", "error", "return"] = "create"


class PartyPatch(Body):
    """Only the fields given change; ``null`` clears one. Pass the ``version`` you read to
    be told (409) when the party changed since."""

    version: Version | None = None
    display_name: Name | None = None
    given_name: Name | None = None
    family_name: Name | None = None
    birth_date: dt.date | None = None
    attributes: dict[str, Any] | None = None


class IdentifierIn(Body):
    scheme: Name
    value: Name


class TagsIn(Body):
    tags: list[Name] = Field(min_length=1, max_length=100)


class RoleIn(Body):
    type: Name
    state: Name | None = None
    attributes: dict[str, Any] | None = None
    at: dt.datetime | None = None
    note: Text | None = None


class TransitionIn(Body):
    to: Name
    at: dt.datetime | None = None
    note: Text | None = None
    version: Version | None = None


class RoleEndIn(Body):
    at: dt.datetime | None = None
    note: Text | None = None
    version: Version | None = None


class RelationshipIn(Body):
    type: Name
    from_party: Id
    to_party: Id
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    attributes: dict[str, Any] | None = None


class RelationshipEndIn(Body):
    on: dt.date | None = None


class ParticipantBody(Body):
    party: Id
    role: Name
    contact_point: Id | Name | None = None


class InteractionIn(Body):
    channel: Name
    direction: Name
    participants: list[ParticipantBody] = Field(min_length=1, max_length=1000)
    touchpoint: Name | None = None
    purpose: Name | None = None
    occurred_at: dt.datetime | None = None
    subject: Text | None = None
    content: Text | None = None
    outcome: Name | None = None
    external_ref: Name | None = None
    attributes: dict[str, Any] | None = None
    historical: bool = False


class ConsentIn(Body):
    """One entry of the ledger: a grant, a refusal, a withdrawal or an objection."""

    purpose: Name
    decision: Literal["granted", "refused", "withdrawn", "objected"] = "granted"
    source: Name
    channel: Name | None = None
    contact_point: Id | Name | None = Field(
        default=None, description="A contact point id, or an address the party holds"
    )
    evidence: Text | None = None
    captured_at: dt.datetime | None = None
    effective_from: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    confirmed_at: dt.datetime | None = None


class MergeIn(Body):
    survivor: Id
    duplicate: Id
    prefer: Literal["survivor", "duplicate"] | dict[str, Literal["survivor", "duplicate"]] = (
        "survivor"
    )
    dry_run: bool = False
    force: bool = False


class UnmergeIn(Body):
    duplicate: Id


class EraseIn(Body):
    reason: Annotated[str, Field(min_length=1, max_length=1000)]


class PreferencesPatch(Body):
    """Only the fields given change; ``null`` clears one."""

    language: Name | None = None
    time_zone: Name | None = None
    quiet_hours: Name | None = Field(default=None, description='"21:00-08:00"')
    channels: dict[str, Name | None] | None = Field(
        default=None, description="purpose -> preferred channel (null: no preference)"
    )
    caps: dict[str, Name | None] | None = Field(
        default=None, description='purpose -> cap ("2/7d"; null: none)'
    )


class MessageIn(Body):
    template: Name
    purpose: Name
    data: dict[str, Any] | None = None
    channel: Name | None = None


ActivityKind = Literal["call", "meeting", "email", "task"]


class ActivityIn(Body):
    """An activity to plan; a ``due`` without an offset is read in ``time_zone``."""

    kind: ActivityKind
    subject: Annotated[str, Field(min_length=1, max_length=300)]
    due: dt.datetime
    time_zone: Name | None = None
    parties: list[Id] = Field(default_factory=list, max_length=1000)
    assignee: Id | None = None
    user: Name | None = None
    about_type: Annotated[str, Field(min_length=1, max_length=60)] | None = None
    about_id: Id | None = None
    notes: Text | None = None


class ActivityPatch(Body):
    """Only the fields given change."""

    subject: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    due: dt.datetime | None = None
    time_zone: Name | None = None
    assignee: Id | None = None
    user: Name | None = None
    notes: Text | None = None


class ActivityDone(Body):
    """``record``: record the call or meeting as an interaction (an outbound one needs a
    ``purpose`` and the ledger's consent)."""

    outcome: Annotated[str, Field(max_length=300)] | None = None
    record: bool = False
    channel: Name | None = None
    direction: Literal["inbound", "outbound", "internal"] = "outbound"
    purpose: Name | None = None
    touchpoint: Name | None = None


class ActivityCancel(Body):
    reason: Annotated[str, Field(min_length=1, max_length=300)]


class AudienceLine(BaseModel):
    """One line of the audience stream (NDJSON)."""

    party_id: int
    contact_point_id: int | None
    value: str | None


# --- segments ---------------------------------------------------------------------------
class SegmentOut(BaseModel):
    """A saved segment: its criterion (JSON), and for a frozen one its date and size."""

    id: int
    name: str
    description: str | None
    criterion: dict[str, Any]
    frozen_at: dt.datetime | None
    members: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


def segment_out(found: Any) -> dict[str, Any]:
    """A :class:`xrm.segments.Segment` as :class:`SegmentOut` data."""
    data = {f.name: getattr(found, f.name) for f in attrs.fields(type(found))}
    data["criterion"] = found.criterion.model_dump(mode="json")
    return data


Criterion = Annotated[
    dict[str, Any],
    Field(
        description="A criterion's JSON form: an object with a `type` (see GET "
        "/segments/criteria and docs/segments.md)",
        examples=[{"type": "all", "of": [{"type": "tag", "tag": "vip"}]}],
    ),
]
SegmentName = Annotated[str, Field(min_length=1, max_length=100)]


class SegmentIn(Body):
    name: SegmentName
    criterion: Criterion
    description: Annotated[str, Field(max_length=2000)] | None = None


class SegmentPatch(Body):
    """Only the fields given change; ``version`` refuses a stale change (409)."""

    criterion: Criterion | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None
    version: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None


class SegmentFreeze(Body):
    as_name: SegmentName | None = None


class CriterionIn(Body):
    criterion: Criterion
    at: dt.datetime | None = None


class SegmentCount(BaseModel):
    count: int


class CriterionType(BaseModel):
    """A criterion a segment may use: what it selects and its JSON Schema."""

    summary: str
    json_schema: dict[str, Any]
