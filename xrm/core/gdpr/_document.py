"""The GDPR export document: its pydantic models and the JSON Schema published from them."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: the layout version of the export document; a breaking change makes it ``/2``
EXPORT_FORMAT = "xrm.party-export/1"
#: the ``$id`` of the JSON Schema of that layout
SCHEMA_ID = "https://xrm-project.github.io/schemas/party-export-1.schema.json"
_SCHEMA_FILE = "schemas/party-export.schema.json"


# -- the export document ------------------------------------------------------------------
class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)


class ContactPointOut(_Out):
    """A contact point: ``value`` as given, ``key`` as matched."""

    id: int
    kind: str
    value: str
    key: str
    label: str | None
    country: str | None
    data: dict[str, Any]
    primary: bool
    suppressed: bool = Field(description="never contactable (bounced, reported, erased)")
    valid: bool = Field(
        True,
        description="false for a phone number kept as written though invalid: never used "
        "to recognise the party, never contacted",
    )


class IdentifierOut(_Out):
    """An external identifier: scheme and canonical value."""

    scheme: str
    value: str


class PartyOut(_Out):
    """The party as stored, with its contact points, identifiers and tags."""

    id: int
    kind: str
    display_name: str
    given_name: str | None
    family_name: str | None
    birth_date: dt.date | None
    attributes: dict[str, Any]
    tags: list[str]
    contact_points: list[ContactPointOut]
    identifiers: list[IdentifierOut]
    version: int
    merged_into: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class RoleTransitionOut(_Out):
    """One state change of a role; the first is the assignment."""

    from_state: str | None
    to_state: str
    at: dt.datetime
    note: str | None


class RoleOut(_Out):
    """A role the party holds or held, with every transition."""

    id: int
    party_id: int
    type: str
    state: str
    current: bool
    attributes: dict[str, Any]
    started_at: dt.datetime
    ended_at: dt.datetime | None
    transitions: list[RoleTransitionOut]


class OtherPartyOut(_Out):
    """The party at the other end of a relationship."""

    id: int
    kind: str
    display_name: str | None = Field(
        description="left out for people and households: their name is their own data"
    )


class RelationshipOut(_Out):
    """A relationship whatever its dates, read from the exported party."""

    id: int
    type: str
    party_id: int = Field(description="the exported party (or one merged into it) at this end")
    label: str = Field(description="how the relationship reads from party_id to other")
    other: OtherPartyOut
    valid_from: dt.date
    valid_to: dt.date | None = Field(description="exclusive: the first day it no longer holds")
    attributes: dict[str, Any]


class ParticipantOut(_Out):
    """Who took part in an interaction, and how."""

    party_id: int
    role: str
    contact_point_id: int | None


class InteractionOut(_Out):
    """An interaction the party took part in, with its content."""

    id: int
    channel: str
    direction: str
    touchpoint: str | None
    purpose: str | None
    occurred_at: dt.datetime
    subject: str | None
    content: str | None
    outcome: str | None
    external_ref: str | None
    attributes: dict[str, Any]
    participants: list[ParticipantOut]


class MessageOut(_Out):
    """A message made for the party (``s.messages``), with what it said."""

    id: int
    party_id: int
    interaction_id: int | None
    template: str
    purpose: str
    channel: str
    transport: str
    address: str
    language: str
    subject: str | None
    text: str
    html: str | None
    status: str
    not_before: dt.datetime
    attempts: int
    last_error: str | None
    external_id: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None
    reference: str


class ActivityOut(_Out):
    """A planned call, meeting, email or task that concerns the party or is assigned
    to it (``s.activities``)."""

    id: int
    kind: str
    subject: str
    notes: str | None
    status: str
    due_at: dt.datetime
    time_zone: str | None
    assignee_id: int | None
    user: str | None
    about_type: str | None
    about_id: int | None
    parties: list[int]
    outcome: str | None
    interaction_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    completed_at: dt.datetime | None


class SegmentMembershipOut(_Out):
    """A frozen segment (a dated list, ``s.segments.freeze``) the party is a member of."""

    segment: str
    frozen_at: dt.datetime


class ConsentOut(_Out):
    """One record of the consent ledger."""

    id: int
    party_id: int
    purpose: str
    scope: Literal["all", "channel", "contact_point"]
    channel: str | None
    contact_kind: str | None
    contact_key: str | None
    decision: Literal["granted", "refused", "withdrawn", "objected"]
    captured_at: dt.datetime
    effective_from: dt.datetime
    expires_at: dt.datetime | None
    confirmed_at: dt.datetime | None
    source: str
    recorded_by: str | None
    evidence: str | None
    recorded_at: dt.datetime


class CapOut(_Out):
    """At most ``count`` messages in ``days`` days."""

    count: int
    days: int


class PreferencesOut(_Out):
    """How the party likes to be addressed (``s.preferences``)."""

    language: str | None = Field(description="BCP 47")
    time_zone: str | None = Field(description="IANA")
    quiet_hours: str | None = Field(description="HH:MM-HH:MM, local time")
    channels: dict[str, str] = Field(description="purpose -> preferred channel")
    caps: dict[str, CapOut] = Field(description="purpose -> frequency cap")


class EventOut(_Out):
    """A journal event of the party's timeline."""

    event_id: int
    type: str
    entity: str
    entity_id: int | None
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    actor: str | None
    data: dict[str, Any]


class PartyExport(_Out):
    """Everything xrm holds about one party (GDPR articles 15 and 20), as
    ``s.gdpr.export(party)`` returns it and ``xrm export`` writes it."""

    format: Literal["xrm.party-export/1"] = Field(description="the layout version")
    exported_at: dt.datetime
    party: PartyOut
    merged_parties: list[PartyOut] = Field(description="parties merged into this one")
    preferences: PreferencesOut
    roles: list[RoleOut]
    relationships: list[RelationshipOut]
    interactions: list[InteractionOut]
    messages: list[MessageOut] = Field(description="messages made for the party, oldest first")
    activities: list[ActivityOut] = Field(
        description="activities that concern the party or are assigned to it, oldest first"
    )
    segments: list[SegmentMembershipOut] = Field(
        description="frozen segments (dated lists) the party is a member of"
    )
    consents: list[ConsentOut]
    timeline: list[EventOut] = Field(description="journal events, in the order written")
    plugins: dict[str, dict[str, Any]] = Field(
        description="each plugin's xrm_party_export contribution, by plugin name"
    )
    tables: dict[str, list[dict[str, Any]]] = Field(
        description="the rows of plugins' tables that name the party (a foreign key to "
        "the party), every column, by table: what the plugins declared, exported without a "
        "hook"
    )


def party_export_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`PartyExport`, as published in the package."""
    generated = PartyExport.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **generated,
    }


def published_schema() -> dict[str, Any]:
    """The JSON Schema shipped in the package (``xrm/schemas/party-export.schema.json``)."""
    text = resources.files("xrm").joinpath(_SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def schema_text() -> str:
    """The published schema file's exact text, generated from the models."""
    return json.dumps(party_export_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema(path: Path | None = None) -> Path:
    """Write the schema generated from the models to ``path`` (default: the package's file)."""
    target = path or Path(str(resources.files("xrm").joinpath(_SCHEMA_FILE)))
    target.write_text(schema_text(), encoding="utf-8")
    return target


def _dump(model: type[_Out], data: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_validate(data).model_dump(mode="json")
    return dumped
