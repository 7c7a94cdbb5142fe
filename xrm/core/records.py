"""Immutable records that the services return.

They are snapshots taken inside the unit of work and stay readable after it ends. To change
something, call a service; records never write to the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

import attrs

from xrm.core.inputs import Outcome
from xrm.core.models import (
    ActivityRow,
    ContactPointRow,
    InteractionRow,
    JournalEventRow,
    PartyRow,
    RelationshipRow,
    RoleRow,
)
from xrm.errors import XRMError

__all__ = [
    "Activity",
    "ConsentDecision",
    "ConsentRecord",
    "ContactPoint",
    "Identifier",
    "ImportResult",
    "Interaction",
    "Link",
    "Page",
    "Panel",
    "Participant",
    "Party",
    "Relationship",
    "Role",
    "RoleTransition",
    "TimelineEntry",
]

T = TypeVar("T")


@attrs.frozen
class ContactPoint:
    id: int
    kind: str
    #: as given: what to send to and show
    value: str
    #: the normalised match key
    key: str
    label: str | None
    country: str | None
    data: Mapping[str, Any]
    primary: bool
    suppressed: bool
    #: ``False``: a phone number libphonenumber judges invalid, kept as written
    #: (``Phone(keep_invalid=True)``, ``xrm import``); its key is its digits, and it is
    #: never used to recognise the party nor contacted
    valid: bool = True

    @classmethod
    def of(cls, row: ContactPointRow) -> ContactPoint:
        return cls(
            id=row.id,
            kind=row.kind,
            value=row.value,
            key=row.key,
            label=row.label,
            country=row.country,
            data=dict(row.data or {}),
            primary=row.is_primary,
            suppressed=row.suppressed,
            valid=row.valid is not False,
        )

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ContactPoint:
        """From a Core row ``(id, kind, value, key, label, country, data, is_primary,
        suppressed, valid)``: what :meth:`of` gives for the same stored point."""
        ident, kind, value, key, label, country, data, primary, suppressed, valid = row
        return cls(ident, kind, value, key, label, country, dict(data or {}), primary, suppressed,
                   valid is not False)  # fmt: skip


@attrs.frozen
class Identifier:
    scheme: str
    value: str


@attrs.frozen
class Party:
    id: int
    kind: str
    display_name: str
    given_name: str | None
    family_name: str | None
    birth_date: dt.date | None
    attributes: Mapping[str, Any]
    tags: tuple[str, ...]
    contact_points: tuple[ContactPoint, ...]
    identifiers: tuple[Identifier, ...]
    #: pass it back to ``parties.update`` to detect concurrent changes
    version: int
    merged_into: int | None
    created_at: dt.datetime
    updated_at: dt.datetime

    def primary(self, kind: str) -> ContactPoint | None:
        """The primary contact point of ``kind`` (email, phone...), or the first reachable
        one; never a suppressed point (nothing is sent to it): ``None`` when every point
        of the kind is suppressed, or there is none."""
        candidates = [c for c in self.contact_points if c.kind == kind and not c.suppressed]
        for point in candidates:
            if point.primary:
                return point
        return candidates[0] if candidates else None

    def identifier(self, scheme: str) -> str | None:
        return next((i.value for i in self.identifiers if i.scheme == scheme), None)

    @classmethod
    def of(cls, row: PartyRow) -> Party:
        return cls(
            id=row.id,
            kind=row.kind,
            display_name=row.display_name,
            given_name=row.given_name,
            family_name=row.family_name,
            birth_date=row.birth_date,
            attributes=dict(row.attributes or {}),
            tags=tuple(sorted(t.tag for t in row.tags)),
            contact_points=tuple(ContactPoint.of(c) for c in row.contact_points),
            identifiers=tuple(Identifier(i.scheme, i.value) for i in row.identifiers),
            version=row.version,
            merged_into=row.merged_into_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @classmethod
    def from_row(
        cls,
        row: Sequence[Any],
        contact_points: Iterable[ContactPoint],
        identifiers: Iterable[Identifier],
        tags: Iterable[str],
    ) -> Party:
        """From a Core row ``(id, kind, display_name, given_name, family_name, birth_date,
        attributes, version, merged_into_id, created_at, updated_at)`` and the party's
        contact points and identifiers in id order: what :meth:`of` gives."""
        (ident, kind, display_name, given_name, family_name, birth_date, attributes, version,
         merged_into, created_at, updated_at) = row  # fmt: skip
        return cls(
            ident,
            kind,
            display_name,
            given_name,
            family_name,
            birth_date,
            dict(attributes or {}),
            tuple(sorted(tags)),
            tuple(contact_points),
            tuple(identifiers),
            version,
            merged_into,
            created_at,
            updated_at,
        )


@attrs.frozen
class RoleTransition:
    from_state: str | None
    to_state: str
    at: dt.datetime
    note: str | None


@attrs.frozen
class Role:
    id: int
    party_id: int
    type: str
    state: str
    attributes: Mapping[str, Any]
    started_at: dt.datetime
    ended_at: dt.datetime | None
    #: every state change, oldest first; the first one is the assignment
    transitions: tuple[RoleTransition, ...]
    version: int

    @property
    def current(self) -> bool:
        return self.ended_at is None

    @classmethod
    def of(cls, row: RoleRow) -> Role:
        return cls(
            id=row.id,
            party_id=row.party_id,
            type=row.type,
            state=row.state,
            attributes=dict(row.attributes or {}),
            started_at=row.started_at,
            ended_at=row.ended_at,
            transitions=tuple(
                RoleTransition(t.from_state, t.to_state, t.at, t.note) for t in row.transitions
            ),
            version=row.version,
        )


@attrs.frozen
class Relationship:
    id: int
    type: str
    from_party_id: int
    to_party_id: int
    valid_from: dt.date
    #: exclusive end: the first day it no longer holds (``None``: open)
    valid_to: dt.date | None
    attributes: Mapping[str, Any]

    def holds_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)

    @classmethod
    def of(cls, row: RelationshipRow) -> Relationship:
        return cls(
            id=row.id,
            type=row.type,
            from_party_id=row.from_party_id,
            to_party_id=row.to_party_id,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            attributes=dict(row.attributes or {}),
        )

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Relationship:
        """From a Core row ``(id, type, from_party_id, to_party_id, valid_from, valid_to,
        attributes)``: what :meth:`of` gives."""
        ident, type_, from_id, to_id, valid_from, valid_to, attributes = row
        return cls(ident, type_, from_id, to_id, valid_from, valid_to, dict(attributes or {}))


@attrs.frozen
class Link:
    """A relationship seen from one party: ``label`` reads from that party to ``other_id``."""

    relationship: Relationship
    party_id: int
    other_id: int
    label: str

    @property
    def type(self) -> str:
        return self.relationship.type


@attrs.frozen
class Participant:
    party_id: int
    role: str
    contact_point_id: int | None


@attrs.frozen
class Interaction:
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
    attributes: Mapping[str, Any]
    participants: tuple[Participant, ...]

    @classmethod
    def of(cls, row: InteractionRow) -> Interaction:
        return cls(
            id=row.id,
            channel=row.channel,
            direction=row.direction,
            touchpoint=row.touchpoint,
            purpose=row.purpose,
            occurred_at=row.occurred_at,
            subject=row.subject,
            content=row.content,
            outcome=row.outcome,
            external_ref=row.external_ref,
            attributes=dict(row.attributes or {}),
            participants=tuple(
                Participant(p.party_id, p.role, p.contact_point_id) for p in row.participants
            ),
        )


def _cells(rows: Iterable[Iterable[Any]]) -> tuple[tuple[Any, ...], ...]:
    return tuple(tuple(row) for row in rows)


def _names(columns: Iterable[str]) -> tuple[str, ...]:
    return tuple(columns)


@attrs.frozen
class Panel:
    """A plugin's section of a party's single view (``xrm_party_panels``): a ``title``, the
    ``columns`` and ``rows`` of a table (texts, numbers, dates: shown as text, escaped),
    what to say when there are no rows (``empty``), and ``plugin``, the plugin that gave
    it (set by :meth:`xrm.Session.panels`)."""

    title: str
    columns: tuple[str, ...] = attrs.field(converter=_names)
    rows: tuple[tuple[Any, ...], ...] = attrs.field(converter=_cells)
    empty: str = "Nothing."
    plugin: str = ""


@attrs.frozen
class Activity:
    """A planned action (``s.activities``): a call, meeting, email or task, due at
    ``due_at`` (aware, UTC; ``time_zone`` is where its assignee reads it), assigned to
    the party ``assignee_id`` or the application user ``user``, about ``about_type`` /
    ``about_id`` (``"sales.opportunity"``, 42), concerning ``parties``. ``status``:
    ``open``, ``done`` or ``cancelled``; ``interaction_id``: the interaction its
    completion recorded."""

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
    parties: tuple[int, ...]
    outcome: str | None
    interaction_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    completed_at: dt.datetime | None
    version: int

    @property
    def about(self) -> tuple[str, int] | None:
        """``(about_type, about_id)``, or ``None``."""
        if self.about_type is None or self.about_id is None:
            return None
        return (self.about_type, self.about_id)

    def local_due(self) -> dt.datetime:
        """``due_at`` in its ``time_zone`` (UTC when it has none)."""
        if self.time_zone is None:
            return self.due_at
        from zoneinfo import ZoneInfo

        return self.due_at.astimezone(ZoneInfo(self.time_zone))

    @classmethod
    def of(cls, row: ActivityRow) -> Activity:
        return cls(
            id=row.id, kind=row.kind, subject=row.subject, notes=row.notes, status=row.status,
            due_at=row.due_at, time_zone=row.time_zone, assignee_id=row.assignee_id,
            user=row.user, about_type=row.about_type, about_id=row.about_id,
            parties=tuple(p.party_id for p in row.parties), outcome=row.outcome,
            interaction_id=row.interaction_id, created_at=row.created_at,
            updated_at=row.updated_at, completed_at=row.completed_at, version=row.version,
        )  # fmt: skip


@attrs.frozen
class TimelineEntry:
    """One event in a party's history, as the journal recorded it."""

    event_id: int
    type: str
    entity: str
    entity_id: int | None
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    actor: str | None
    data: Mapping[str, Any]

    @classmethod
    def of(cls, row: JournalEventRow) -> TimelineEntry:
        return cls(
            event_id=row.id,
            type=row.type,
            entity=row.entity,
            entity_id=row.entity_id,
            occurred_at=row.occurred_at,
            recorded_at=row.recorded_at,
            actor=row.actor,
            data=dict(row.data or {}),
        )

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> TimelineEntry:
        """From a Core row ``(id, type, entity, entity_id, occurred_at, recorded_at, actor,
        data)``: what :meth:`of` gives."""
        ident, type_, entity, entity_id, occurred_at, recorded_at, actor, data = row
        return cls(
            ident, type_, entity, entity_id, occurred_at, recorded_at, actor, dict(data or {})
        )


@attrs.frozen
class Page(Generic[T]):
    """One page of a list; pass ``next_cursor`` as ``after=`` to read the next one."""

    items: tuple[T, ...]
    next_cursor: str | None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@attrs.frozen
class ConsentRecord:
    """One entry of the consent ledger: append-only, never changed."""

    id: int
    party_id: int
    purpose: str
    #: ``all`` (every channel), ``channel`` or ``contact_point``
    scope: str
    channel: str | None
    contact_kind: str | None
    #: the match key of the contact point the record is about (scope ``contact_point``)
    contact_key: str | None
    #: ``granted``, ``refused``, ``withdrawn`` or ``objected``
    decision: str
    captured_at: dt.datetime
    effective_from: dt.datetime
    expires_at: dt.datetime | None
    confirmed_at: dt.datetime | None
    #: where and how: ``web_form``, ``call``, ``in_person``, ``import``...
    source: str
    recorded_by: str | None
    evidence: str | None
    recorded_at: dt.datetime


@attrs.frozen
class ConsentDecision:
    """The answer to "may we contact this party for this purpose on this channel?",
    with why: the ``rule`` applied and the ledger ``record`` that decided, if any."""

    allowed: bool
    rule: str
    reason: str
    party_id: int
    purpose: str
    channel: str
    contact_point_id: int | None
    record: ConsentRecord | None

    def __bool__(self) -> bool:
        return self.allowed


@attrs.frozen
class ImportResult:
    """What became of one imported record (``line``: its number): ``outcome``
    (``created``, ``updated`` or ``unchanged``) and ``party_id``, or the ``error`` that
    kept it out."""

    line: int
    outcome: Outcome | None
    party_id: int | None
    error: XRMError | None = None
    #: what was imported with a caveat: ``phones.N: <why it is invalid>; kept as written``
    #: (a phone number libphonenumber judges invalid is kept, not used to recognise)
    warnings: tuple[str, ...] = ()
