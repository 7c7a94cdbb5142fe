"""Typed journal events: one class per event type, each saying what its fields mean and
which of them hold personal data.

Every change writes one of these, through :meth:`xrm.core.uow.UnitOfWork.record` (the
services) or the bulk writer (imports): one class, so one shape, whichever path wrote it.
The marks drive the GDPR code: an erased party's events lose what their marks call
personal (:func:`personal_keys`). Plugins declare their own event types the same way and
register them with the ``xrm_event_types`` hook; ``docs/events.md`` is generated from the
classes (:func:`events_markdown`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Literal

import attrs

from xrm.core.records import ConsentRecord, Party
from xrm.errors import ConfigurationError

__all__ = [
    "CORE_EVENTS",
    "JournalEvent",
    "PersonalData",
    "consent_event_of",
    "events_markdown",
    "personal",
    "personal_keys",
]

#: metadata key of a field's personal-data mark
_MARK = "xrm_personal"
_TYPE_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")

#: how a field holds personal data:
#: ``"all"``: every text in it (a name, a note);
#: ``"keys"``: every text under the named keys, at any depth (``value`` of contact points);
#: ``"facts"``: attributes: numbers, booleans and dates stay, texts go
PersonalData = Literal["all", "keys", "facts"]


@attrs.frozen
class _Mark:
    how: PersonalData
    keys: tuple[str, ...] = ()


def personal(*, keys: Sequence[str] = (), facts: bool = False, default: Any = attrs.NOTHING) -> Any:
    """An event field that holds personal data: all of it by default; only what is under
    ``keys`` (at any depth) when they are given; with ``facts=True``, attributes whose
    texts go and whose numbers, booleans and dates stay when the party is erased."""
    how: PersonalData = "facts" if facts else "keys" if keys else "all"
    return attrs.field(default=default, metadata={_MARK: _Mark(how, tuple(keys))})


@attrs.frozen(kw_only=True)
class JournalEvent:
    """The base of every typed journal event. Subclasses set ``TYPE`` (dotted, prefixed by
    its owner: ``party.created``, ``suppliers.evaluated``) and ``ENTITY`` (what
    ``entity_id`` names), and declare their data as attrs fields, marking those that hold
    personal data with :func:`personal`. Their docstring says when they are written."""

    TYPE: ClassVar[str] = ""
    ENTITY: ClassVar[str] = "event"

    #: the id of the changed entity (the party, role, interaction...)
    entity_id: int | None
    #: every party whose timeline shows the event
    parties: tuple[int, ...]
    #: when it happened (default: when it is written)
    occurred_at: dt.datetime | None = None

    #: the data is JSON as it is (text, numbers, lists and mappings of them): the bulk
    #: writer then skips converting it
    JSON_READY: ClassVar[bool] = False

    @classmethod
    def data_fields(cls) -> tuple[attrs.Attribute[Any], ...]:
        """The fields written as the event's ``data``."""
        return _data_fields(cls)

    @classmethod
    def personal_fields(cls) -> dict[str, _Mark]:
        """The fields marked as holding personal data, with how they hold it."""
        return {f.name: f.metadata[_MARK] for f in cls.data_fields() if _MARK in f.metadata}

    def data(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _data_names(type(self))}

    @classmethod
    def from_data(
        cls,
        data: Mapping[str, Any],
        *,
        entity_id: int | None,
        parties: Sequence[int],
        occurred_at: dt.datetime | None = None,
    ) -> JournalEvent:
        """The event from its ``data`` (what :meth:`data` gives); a key the class does not
        declare, or a missing one, raises ``TypeError``."""
        return cls(entity_id=entity_id, parties=tuple(parties), occurred_at=occurred_at, **data)


#: each event class's data fields, worked out once (an event is written per change)
_FIELDS: dict[type[JournalEvent], tuple[attrs.Attribute[Any], ...]] = {}
_DATA_NAMES: dict[type[JournalEvent], tuple[str, ...]] = {}


def _data_fields(cls: type[JournalEvent]) -> tuple[attrs.Attribute[Any], ...]:
    found = _FIELDS.get(cls)
    if found is None:
        envelope = ("entity_id", "parties", "occurred_at")
        found = _FIELDS[cls] = tuple(f for f in attrs.fields(cls) if f.name not in envelope)
    return found


def _data_names(cls: type[JournalEvent]) -> tuple[str, ...]:
    found = _DATA_NAMES.get(cls)
    if found is None:
        found = _DATA_NAMES[cls] = tuple(f.name for f in _data_fields(cls))
    return found


def check_event_type(event_type: Any, source: str) -> type[JournalEvent]:
    """A registered event type must be a :class:`JournalEvent` subclass with a dotted
    ``TYPE`` and a docstring (the generated docs need one)."""
    if not (isinstance(event_type, type) and issubclass(event_type, JournalEvent)):
        raise ConfigurationError(f"{source}: {event_type!r} is not a JournalEvent subclass")
    if not _TYPE_NAME.fullmatch(event_type.TYPE):
        raise ConfigurationError(
            f"{source}: {event_type.__name__}.TYPE must be a dotted lower-case name, "
            f"got {event_type.TYPE!r}"
        )
    if not (event_type.__doc__ or "").strip():
        raise ConfigurationError(f"{source}: {event_type.__name__} needs a docstring")
    return event_type


# -- parties --------------------------------------------------------------------------------
_NAMES = ("display_name", "given_name", "family_name", "birth_date")


@attrs.frozen(kw_only=True)
class PartyCreated(JournalEvent):
    """A party was created, by a service call or an import (the same event either way)."""

    TYPE = "party.created"
    ENTITY = "party"
    JSON_READY = True
    kind: str
    display_name: str | None = personal()
    #: ``{"kind", "value"}`` of each contact point given
    contact_points: list[dict[str, Any]] = personal(keys=("value",))
    #: ``[scheme, value]`` pairs
    identifiers: list[list[str]] = personal()
    tags: list[str] = personal()

    @classmethod
    def of(cls, party: Party) -> PartyCreated:
        return cls(
            entity_id=party.id,
            parties=(party.id,),
            kind=party.kind,
            display_name=party.display_name,
            contact_points=[{"kind": c.kind, "value": c.value} for c in party.contact_points],
            identifiers=[[i.scheme, i.value] for i in party.identifiers],
            tags=list(party.tags),
        )


@attrs.frozen(kw_only=True)
class PartyUpdated(JournalEvent):
    """A party's names, birth date or attributes changed."""

    TYPE = "party.updated"
    ENTITY = "party"
    #: ``{field: {"from": ..., "to": ...}}``
    changes: dict[str, Any] = personal(keys=_NAMES)


@attrs.frozen(kw_only=True)
class PreferencesChanged(JournalEvent):
    """A party's language, time zone, quiet hours, or a purpose's preferred channel or
    frequency cap changed (``s.preferences.set``)."""

    TYPE = "party.preferences_changed"
    ENTITY = "party"
    #: ``{field: {"from": ..., "to": ...}}``; per purpose ``channels.PURPOSE``, ``caps.PURPOSE``
    changes: dict[str, Any] = personal(keys=("language", "time_zone"))


@attrs.frozen(kw_only=True)
class PartyTagged(JournalEvent):
    """Tags were added to a party."""

    TYPE = "party.tagged"
    ENTITY = "party"
    tags: list[str] = personal()


@attrs.frozen(kw_only=True)
class PartyUntagged(JournalEvent):
    """Tags were removed from a party."""

    TYPE = "party.untagged"
    ENTITY = "party"
    tags: list[str] = personal()


#: every key under which the merge and unmerge events may hold a party's own data
_MERGE_KEYS = (*_NAMES, "value", "tags", "note", "identifiers", "language", "time_zone")


@attrs.frozen(kw_only=True)
class PartyMerged(JournalEvent):
    """A party was merged into another (``entity_id``: the duplicate); ``undo`` holds what
    unmerge needs to put everything back."""

    TYPE = "party.merged"
    ENTITY = "party"
    summary: dict[str, Any] = personal(keys=_MERGE_KEYS)
    undo: dict[str, Any] = personal(keys=_MERGE_KEYS)


@attrs.frozen(kw_only=True)
class PartyUnmerged(JournalEvent):
    """The merge recorded by ``merge_event`` was undone."""

    TYPE = "party.unmerged"
    ENTITY = "party"
    merge_event: int
    moved_back: dict[str, int]
    gone: list[str]
    fields_restored: bool


@attrs.frozen(kw_only=True)
class PartyErased(JournalEvent):
    """A party (and the parties merged into it) was erased: counts, never the data."""

    TYPE = "party.erased"
    ENTITY = "party"
    reason: str = personal()
    parties_erased: list[int]
    counts: dict[str, int]

    def data(self) -> dict[str, Any]:  # stored as "parties", as it always was
        return {"reason": self.reason, "parties": self.parties_erased, "counts": self.counts}


# -- contact points and identifiers ---------------------------------------------------------
@attrs.frozen(kw_only=True)
class ContactPointAdded(JournalEvent):
    """A contact point was added to a party."""

    TYPE = "contact_point.added"
    ENTITY = "contact_point"
    kind: str
    value: str = personal()
    primary: bool


@attrs.frozen(kw_only=True)
class ContactPointRemoved(JournalEvent):
    """A contact point was removed from a party."""

    TYPE = "contact_point.removed"
    ENTITY = "contact_point"
    kind: str
    value: str = personal()


@attrs.frozen(kw_only=True)
class ContactPointPrimary(JournalEvent):
    """A contact point became the primary one of its kind."""

    TYPE = "contact_point.primary"
    ENTITY = "contact_point"
    kind: str
    value: str = personal()


@attrs.frozen(kw_only=True)
class ContactPointSuppressed(JournalEvent):
    """A contact point was marked never contactable (bounced, do-not-call, the address of
    an erased party: then without ``value``)."""

    TYPE = "contact_point.suppressed"
    ENTITY = "contact_point"
    kind: str
    value: str | None = personal(default=None)
    reason: str = personal()

    def data(self) -> dict[str, Any]:
        data = super().data()
        if self.value is None:
            del data["value"]
        return data


@attrs.frozen(kw_only=True)
class ContactPointUnsuppressed(JournalEvent):
    """A suppressed contact point may be contacted again (as the ledger allows)."""

    TYPE = "contact_point.unsuppressed"
    ENTITY = "contact_point"
    kind: str
    value: str = personal()
    reason: str = personal()


@attrs.frozen(kw_only=True)
class IdentifierAdded(JournalEvent):
    """An identifier (scheme and canonical value) was attached to a party."""

    TYPE = "identifier.added"
    ENTITY = "party"
    scheme: str
    value: str = personal()


# -- roles ----------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class RoleAssigned(JournalEvent):
    """A party took a role (by a service call or an import)."""

    TYPE = "role.assigned"
    ENTITY = "role"
    type: str
    state: str
    attributes: dict[str, Any] = personal(facts=True)
    note: str | None = personal(default=None)


@attrs.frozen(kw_only=True)
class RoleTransitioned(JournalEvent):
    """A role moved from one lifecycle state to another."""

    TYPE = "role.transitioned"
    ENTITY = "role"
    type: str
    from_state: str
    to_state: str
    note: str | None = personal(default=None)

    def data(self) -> dict[str, Any]:  # stored as "from" and "to"
        return {"type": self.type, "from": self.from_state, "to": self.to_state, "note": self.note}


@attrs.frozen(kw_only=True)
class RoleUpdated(JournalEvent):
    """A role's attributes changed: before and after."""

    TYPE = "role.updated"
    ENTITY = "role"
    type: str
    before: dict[str, Any] = personal(facts=True)
    after: dict[str, Any] = personal(facts=True)

    def data(self) -> dict[str, Any]:  # stored as "from" and "to"
        return {"type": self.type, "from": self.before, "to": self.after}


@attrs.frozen(kw_only=True)
class RoleEnded(JournalEvent):
    """A role ended (its end date reached, or a final state that ends it)."""

    TYPE = "role.ended"
    ENTITY = "role"
    type: str
    state: str
    note: str | None = personal(default=None)


# -- relationships and interactions -------------------------------------------------------
@attrs.frozen(kw_only=True)
class RelationshipCreated(JournalEvent):
    """Two parties were linked by a relationship of ``type``."""

    TYPE = "relationship.created"
    ENTITY = "relationship"
    type: str
    from_party: int
    to_party: int
    label: str
    valid_from: dt.date
    valid_to: dt.date | None
    attributes: dict[str, Any] = personal(facts=True)


@attrs.frozen(kw_only=True)
class RelationshipEnded(JournalEvent):
    """A relationship ended on ``valid_to``."""

    TYPE = "relationship.ended"
    ENTITY = "relationship"
    type: str
    from_party: int
    to_party: int
    valid_to: dt.date


@attrs.frozen(kw_only=True)
class InteractionRecorded(JournalEvent):
    """A contact on a channel was recorded, with its participants (``[party, role]``)."""

    TYPE = "interaction.recorded"
    ENTITY = "interaction"
    channel: str
    direction: str
    touchpoint: str | None
    purpose: str | None
    subject: str | None = personal()
    outcome: str | None = personal()
    participants: list[list[Any]]
    #: recorded as a record of the past (an import of history): consent was checked only
    #: as the ledger stood then
    historical: bool = False


# -- consent --------------------------------------------------------------------------------
@attrs.frozen(kw_only=True)
class _ConsentEvent(JournalEvent):
    ENTITY = "consent_record"
    purpose: str
    #: "all channels", "channel email" or the contact point's kind and match key
    scope: str
    source: str
    evidence: str | None = personal()
    effective_from: dt.datetime
    expires_at: dt.datetime | None
    confirmed_at: dt.datetime | None


def consent_event_of(record: ConsentRecord, scope: str) -> JournalEvent:
    """The event of a new consent ledger record, with its evidence, whichever path wrote
    it (``scope``: the record's scope in words)."""
    kind = _CONSENT_EVENTS[record.decision]
    return kind(
        entity_id=record.id,
        parties=(record.party_id,),
        occurred_at=record.captured_at,
        purpose=record.purpose,
        scope=scope,
        source=record.source,
        evidence=record.evidence,
        effective_from=record.effective_from,
        expires_at=record.expires_at,
        confirmed_at=record.confirmed_at,
    )


@attrs.frozen(kw_only=True)
class ConsentGranted(_ConsentEvent):
    """The party agreed to be contacted for ``purpose`` in ``scope``."""

    TYPE = "consent.granted"


@attrs.frozen(kw_only=True)
class ConsentRefused(_ConsentEvent):
    """The party said no when asked."""

    TYPE = "consent.refused"


@attrs.frozen(kw_only=True)
class ConsentWithdrawn(_ConsentEvent):
    """The party withdrew its consent."""

    TYPE = "consent.withdrawn"


@attrs.frozen(kw_only=True)
class ConsentObjected(_ConsentEvent):
    """The party objected (ends a legitimate-interest basis)."""

    TYPE = "consent.objected"


_CONSENT_EVENTS: dict[str, type[_ConsentEvent]] = {
    "granted": ConsentGranted,
    "refused": ConsentRefused,
    "withdrawn": ConsentWithdrawn,
    "objected": ConsentObjected,
}


#: the core's event types, in the order the docs list them
@attrs.frozen(kw_only=True)
class MessageQueued(JournalEvent):
    """A message for a party was rendered and put in the outbox, with its outbound
    interaction (``s.messages.send``); ``not_before`` is later than now in quiet hours."""

    TYPE = "message.queued"
    ENTITY = "message"
    template: str
    purpose: str
    channel: str
    address: str = personal()
    interaction_id: int | None
    not_before: str


@attrs.frozen(kw_only=True)
class MessageDelivered(JournalEvent):
    """The worker handed a message over to its transport (``status`` ``sent``), or gave
    up on it: ``failed`` (a permanent failure or too many attempts), ``blocked`` (the
    ledger or the address no longer allowed it as it was about to leave), ``unknown`` (a
    worker died while sending it: it is not sent again), ``cancelled`` (erasure)."""

    TYPE = "message.delivered"
    ENTITY = "message"
    status: str
    transport: str
    attempts: int
    reason: str | None = personal(default=None)


@attrs.frozen(kw_only=True)
class ActivityPlanned(JournalEvent):
    """A call, meeting, email or task was planned (``s.activities.plan``); on the
    timeline of the parties it concerns and of its assignee."""

    TYPE = "activity.planned"
    ENTITY = "activity"
    kind: str
    subject: str = personal()
    due_at: str
    time_zone: str | None
    assignee_id: int | None
    user: str | None
    about_type: str | None
    about_id: int | None


@attrs.frozen(kw_only=True)
class ActivityUpdated(JournalEvent):
    """An open activity was changed: rescheduled, reassigned, renamed
    (``s.activities.update``)."""

    TYPE = "activity.updated"
    ENTITY = "activity"
    #: ``{field: {"from": ..., "to": ...}}``
    changes: dict[str, Any] = personal(keys=("subject", "notes"))


@attrs.frozen(kw_only=True)
class ActivityCompleted(JournalEvent):
    """An activity was done (``s.activities.complete``); ``interaction_id``: the
    interaction its completion recorded, if any."""

    TYPE = "activity.completed"
    ENTITY = "activity"
    kind: str
    outcome: str | None = personal(default=None)
    interaction_id: int | None = None


@attrs.frozen(kw_only=True)
class ActivityCancelled(JournalEvent):
    """An activity was cancelled (``s.activities.cancel``)."""

    TYPE = "activity.cancelled"
    ENTITY = "activity"
    reason: str = personal()


@attrs.frozen(kw_only=True)
class AccessRefused(JournalEvent):
    """The authorisation policy or a plugin's ``xrm_authorize`` refused a call
    (:class:`xrm.Forbidden`); written in a transaction of its own, so it is kept when the
    refused unit of work is rolled back. ``by``: the refusing plugin, or ``None`` for the
    application's policy. The event's ``actor`` is who was refused."""

    TYPE = "access.refused"
    ENTITY = "access"
    action: str
    operation: str
    roles: list[str]
    by: str | None = None


@attrs.frozen(kw_only=True)
class SegmentDefined(JournalEvent):
    """A segment was saved under a name (``s.segments.define``)."""

    TYPE = "segment.defined"
    ENTITY = "segment"
    name: str
    definition: dict[str, Any]


@attrs.frozen(kw_only=True)
class SegmentChanged(JournalEvent):
    """A saved segment's criterion or description was changed (``s.segments.update``)."""

    TYPE = "segment.changed"
    ENTITY = "segment"
    name: str
    definition: dict[str, Any]
    description: str | None


@attrs.frozen(kw_only=True)
class SegmentFrozen(JournalEvent):
    """A segment's members were saved as a list with its date (``s.segments.freeze``):
    ``members`` is how many."""

    TYPE = "segment.frozen"
    ENTITY = "segment"
    name: str
    source: str
    members: int


@attrs.frozen(kw_only=True)
class SegmentDeleted(JournalEvent):
    """A saved segment was deleted, with a frozen one's member list
    (``s.segments.delete``)."""

    TYPE = "segment.deleted"
    ENTITY = "segment"
    name: str


CORE_EVENTS: tuple[type[JournalEvent], ...] = (
    PartyCreated,
    PartyUpdated,
    PreferencesChanged,
    PartyTagged,
    PartyUntagged,
    PartyMerged,
    PartyUnmerged,
    PartyErased,
    ContactPointAdded,
    ContactPointRemoved,
    ContactPointPrimary,
    ContactPointSuppressed,
    ContactPointUnsuppressed,
    IdentifierAdded,
    RoleAssigned,
    RoleTransitioned,
    RoleUpdated,
    RoleEnded,
    RelationshipCreated,
    RelationshipEnded,
    InteractionRecorded,
    ConsentGranted,
    ConsentRefused,
    ConsentWithdrawn,
    ConsentObjected,
    MessageQueued,
    MessageDelivered,
    ActivityPlanned,
    ActivityUpdated,
    ActivityCompleted,
    ActivityCancelled,
    SegmentDefined,
    SegmentChanged,
    SegmentFrozen,
    SegmentDeleted,
    AccessRefused,
)


# -- what the GDPR code reads -----------------------------------------------------------------
def _stored_key(event_type: type[JournalEvent], name: str) -> str:
    return _STORED_AS.get((event_type.TYPE, name), name)


#: fields stored under another key than their name (kept from before the typed events)
_STORED_AS = {
    ("party.erased", "parties_erased"): "parties",
    ("role.transitioned", "from_state"): "from",
    ("role.transitioned", "to_state"): "to",
    ("role.updated", "before"): "from",
    ("role.updated", "after"): "to",
}


@attrs.frozen
class PersonalKeys:
    """Where an event's data holds personal data, by stored key: ``whole`` keys hold it
    entirely (at any depth), ``facts`` keys are attributes that keep only their facts."""

    whole: frozenset[str]
    facts: frozenset[str]


def personal_keys(event_type: type[JournalEvent]) -> PersonalKeys:
    """The keys of ``event_type``'s stored data that hold personal data."""
    whole: set[str] = set()
    facts: set[str] = set()
    for name, mark in event_type.personal_fields().items():
        key = _stored_key(event_type, name)
        if mark.how == "facts":
            facts.add(key)
        elif mark.how == "keys":
            whole.update(mark.keys)
        else:
            whole.add(key)
    return PersonalKeys(frozenset(whole), frozenset(facts))


def all_personal_keys(event_types: Iterable[type[JournalEvent]]) -> PersonalKeys:
    """The union of the marks: what an event of a type nobody declared is read with."""
    marks = [personal_keys(t) for t in event_types]
    return PersonalKeys(
        frozenset().union(*(m.whole for m in marks)),
        frozenset().union(*(m.facts for m in marks)),
    )


# -- the generated list -------------------------------------------------------------------
def events_markdown(event_types: Iterable[type[JournalEvent]] = CORE_EVENTS) -> str:
    """The Markdown table of ``docs/events.md``, generated from the classes."""
    lines = [
        "| type | entity | when it is written | data (**personal** in bold) |",
        "|---|---|---|---|",
    ]
    for event_type in event_types:
        marks = event_type.personal_fields()
        fields = []
        for f in event_type.data_fields():
            key = _stored_key(event_type, f.name)
            mark = marks.get(f.name)
            if mark is None:
                fields.append(f"`{key}`")
            elif mark.how == "keys":
                fields.append(f"`{key}` (**{', '.join(mark.keys)}**)")
            elif mark.how == "facts":
                fields.append(f"`{key}` (**texts**; facts stay)")
            else:
                fields.append(f"**`{key}`**")
        doc = " ".join((event_type.__doc__ or "").split())
        lines.append(f"| `{event_type.TYPE}` | {event_type.ENTITY} | {doc} | {', '.join(fields)} |")
    return "\n".join(lines) + "\n"
