"""The storage model: SQLAlchemy 2 typed tables on one ``Base``.

Plugins may add their own tables on :class:`Base` (prefixed with the plugin's name) and
ship an Alembic branch for them. Application code reads and writes through the services on
:class:`xrm.Session`, not through these classes: the services validate, enforce consent and
write the journal in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ActivityPartyRow",
    "ActivityRow",
    "Base",
    "ConsentLedgerRow",
    "ConsentRecordRow",
    "ContactPointRow",
    "IdentifierRow",
    "InteractionRow",
    "JournalEventRow",
    "JournalPartyRow",
    "MessageRow",
    "OutboxRow",
    "ParticipantRow",
    "PartyRow",
    "PartyTagRow",
    "PreferenceRow",
    "PurposePreferenceRow",
    "RelationshipRow",
    "RoleRow",
    "RoleTransitionRow",
    "SuppressionKeyRow",
    "SuppressionRow",
    "UTCDateTime",
    "utcnow",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timestamps stored as naive UTC on every database, read back as aware UTC.

    Storing one form everywhere keeps ordering and comparison identical on SQLite (which has
    no time zone type) and PostgreSQL. A naive value given by a caller is taken as UTC.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL on SQLite
            value = dt.datetime.fromisoformat(value)
        assert isinstance(value, dt.datetime)
        # value.replace(tzinfo=dt.UTC), in a fifth of the time (0.12 µs against 0.56)
        return dt.datetime.combine(value, value.time(), dt.UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        """The driver type's conversion, then :meth:`process_result_value`; on SQLite,
        the form SQLAlchemy stores (``2026-11-29 21:04:11.123456``) is read straight as
        UTC: 0.13 µs a value where the two steps took 0.85 (``replace(tzinfo=)`` was most
        of it), paid twice for every row of a timeline or a party read."""
        convert = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)
        finish = self.process_result_value
        parse = dt.datetime.fromisoformat

        def process(value: Any) -> dt.datetime | None:
            if value is None:
                return None
            if type(value) is str and len(value) == 26 and value[10] == " ":
                return parse(value + "+00:00")
            if convert is not None:
                value = convert(value)
            return finish(value, dialect)

        return process


BigId = BigInteger().with_variant(Integer(), "sqlite")
JsonDict = JSON().with_variant(JSONB(), "postgresql")

pk = Annotated[int, mapped_column(BigId, primary_key=True, autoincrement=True)]
name40 = Annotated[str, 40]
name60 = Annotated[str, 60]
str200 = Annotated[str, 200]
str500 = Annotated[str, 500]


class Base(DeclarativeBase):
    """The one declarative base of xrm and its plugins."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        int: BigId,
        dt.datetime: UTCDateTime(),
        dt.date: Date(),
        dict[str, Any]: JsonDict,
        name40: String(40),
        name60: String(60),
        str200: String(200),
        str500: String(500),
        str: String(300),
        bool: Boolean(),
    }


#: ``mapped_column(..., info=PERSONAL)``: the column holds personal data. Erasure replaces
#: it in every row that names the erased party (a foreign key to ``party.id``), the
#: export includes it, and ``xrm.testing.erasure_leftovers`` checks both.
PERSONAL: dict[str, Any] = {"personal": True}
#: ``mapped_column(..., info=NOT_PERSONAL)``: a text column that says nothing about a
#: person (a type, a state, a code), kept by erasure. Every text column of a table that
#: names a party carries one of the two marks.
NOT_PERSONAL: dict[str, Any] = {"personal": False}


def party_fk(**kw: Any) -> Any:
    return mapped_column(BigId, ForeignKey("party.id", ondelete="CASCADE"), **kw)


class PartyRow(Base):
    __tablename__ = "party"

    id: Mapped[pk]
    kind: Mapped[name40] = mapped_column(info=NOT_PERSONAL)
    display_name: Mapped[str] = mapped_column(info=PERSONAL)
    #: text_key(display_name): accent- and case-free, for search and duplicate blocking
    name_key: Mapped[str] = mapped_column(index=True, info=PERSONAL)
    given_name: Mapped[str | None] = mapped_column(info=PERSONAL)
    family_name: Mapped[str | None] = mapped_column(info=PERSONAL)
    birth_date: Mapped[dt.date | None]
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict, info=PERSONAL)
    merged_into_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("party.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    #: set by the GDPR erasure: an erased party's data no longer changes
    erased_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    contact_points: Mapped[list[ContactPointRow]] = relationship(
        back_populates="party", cascade="all, delete-orphan", order_by="ContactPointRow.id"
    )
    identifiers: Mapped[list[IdentifierRow]] = relationship(
        back_populates="party", cascade="all, delete-orphan", order_by="IdentifierRow.id"
    )
    tags: Mapped[list[PartyTagRow]] = relationship(
        cascade="all, delete-orphan", order_by="PartyTagRow.tag"
    )

    __table_args__ = (Index("ix_party_kind", "kind", "id"),)
    __mapper_args__ = {"version_id_col": version}


class PartyTagRow(Base):
    __tablename__ = "party_tag"

    party_id: Mapped[int] = party_fk(primary_key=True)
    tag: Mapped[name60] = mapped_column(primary_key=True, info=PERSONAL)

    __table_args__ = (Index("ix_party_tag_tag", "tag", "party_id"),)


class ContactPointRow(Base):
    __tablename__ = "contact_point"

    id: Mapped[pk]
    party_id: Mapped[int] = party_fk()
    kind: Mapped[name40] = mapped_column(info=NOT_PERSONAL)
    #: the value as given, used to send and to show
    value: Mapped[str500] = mapped_column(info=PERSONAL)
    #: the normalised match key (email case-folded, phone in E.164, ...)
    key: Mapped[str500] = mapped_column(info=PERSONAL)
    label: Mapped[name40 | None] = mapped_column(info=PERSONAL)
    country: Mapped[str | None] = mapped_column(String(2), info=NOT_PERSONAL)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict, info=PERSONAL)
    is_primary: Mapped[bool] = mapped_column(default=False)
    #: never contactable (bounced, reported, erased): consent rules read this
    suppressed: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    #: ``False`` for a phone number libphonenumber judges invalid, kept as written with
    #: its digits as the key: never used to recognise the party, never contacted
    valid: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    created_at: Mapped[dt.datetime]

    party: Mapped[PartyRow] = relationship(back_populates="contact_points")

    __table_args__ = (
        # the touchpoint lookup: who is behind this email / phone?
        Index("ix_contact_point_key", "kind", "key"),
        UniqueConstraint("party_id", "kind", "key"),
        Index(
            "uq_contact_point_primary",
            "party_id",
            "kind",
            unique=True,
            sqlite_where=text("is_primary"),
            postgresql_where=text("is_primary"),
        ),
    )


class IdentifierRow(Base):
    __tablename__ = "party_identifier"

    id: Mapped[pk]
    party_id: Mapped[int] = party_fk(index=True)
    scheme: Mapped[name60] = mapped_column(info=NOT_PERSONAL)
    value: Mapped[str200] = mapped_column(info=PERSONAL)

    party: Mapped[PartyRow] = relationship(back_populates="identifiers")

    __table_args__ = (UniqueConstraint("scheme", "value"),)


class RoleRow(Base):
    __tablename__ = "role"

    id: Mapped[pk]
    party_id: Mapped[int] = party_fk()
    type: Mapped[name60] = mapped_column(info=NOT_PERSONAL)
    state: Mapped[name40] = mapped_column(info=NOT_PERSONAL)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict, info=PERSONAL)
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    transitions: Mapped[list[RoleTransitionRow]] = relationship(
        cascade="all, delete-orphan", order_by="RoleTransitionRow.id"
    )

    __table_args__ = (
        Index("ix_role_party", "party_id", "type"),
        Index("ix_role_type_state", "type", "state"),
        # a party holds a role type at most once at a time
        Index(
            "uq_role_current",
            "party_id",
            "type",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )
    __mapper_args__ = {"version_id_col": version}


class RoleTransitionRow(Base):
    __tablename__ = "role_transition"

    id: Mapped[pk]
    role_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("role.id", ondelete="CASCADE"), index=True
    )
    from_state: Mapped[name40 | None]
    to_state: Mapped[name40]
    at: Mapped[dt.datetime]
    note: Mapped[str | None]


class RelationshipRow(Base):
    __tablename__ = "relationship"

    id: Mapped[pk]
    type: Mapped[name60] = mapped_column(info=NOT_PERSONAL)
    from_party_id: Mapped[int] = party_fk()
    to_party_id: Mapped[int] = party_fk()
    valid_from: Mapped[dt.date]
    #: exclusive: the first day the relationship no longer holds
    valid_to: Mapped[dt.date | None]
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict, info=PERSONAL)
    created_at: Mapped[dt.datetime]

    __table_args__ = (
        Index("ix_relationship_from", "from_party_id", "type", "valid_from"),
        Index("ix_relationship_to", "to_party_id", "type", "valid_from"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="dates"),
        CheckConstraint("from_party_id <> to_party_id", name="not_self"),
    )


class InteractionRow(Base):
    __tablename__ = "interaction"

    id: Mapped[pk]
    channel: Mapped[name40]
    direction: Mapped[name40]
    touchpoint: Mapped[name40 | None]
    purpose: Mapped[name40 | None]
    occurred_at: Mapped[dt.datetime]
    subject: Mapped[str | None]
    content: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None]
    external_ref: Mapped[str200 | None] = mapped_column(index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime]

    participants: Mapped[list[ParticipantRow]] = relationship(
        cascade="all, delete-orphan", order_by="ParticipantRow.id"
    )


class ParticipantRow(Base):
    __tablename__ = "interaction_participant"

    id: Mapped[pk]
    interaction_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("interaction.id", ondelete="CASCADE"), index=True
    )
    party_id: Mapped[int] = party_fk()
    role: Mapped[name40] = mapped_column(info=NOT_PERSONAL)
    contact_point_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("contact_point.id", ondelete="SET NULL"), index=True
    )
    #: copied from the interaction so a party's list is one index range scan
    occurred_at: Mapped[dt.datetime]

    __table_args__ = (
        Index("ix_participant_party_time", "party_id", "occurred_at", "interaction_id"),
        UniqueConstraint("interaction_id", "party_id", "role", name="uq_participant"),
    )


class JournalEventRow(Base):
    __tablename__ = "journal_event"

    id: Mapped[pk]
    type: Mapped[name60]
    entity: Mapped[name40]
    entity_id: Mapped[int | None]
    #: when it happened in the world (an interaction's time, a role's transition date)
    occurred_at: Mapped[dt.datetime]
    #: when xrm wrote it
    recorded_at: Mapped[dt.datetime]
    actor: Mapped[str | None]
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (Index("ix_journal_event_entity", "entity", "entity_id"),)


class OutboxRow(Base):
    """An event not yet published by the relay (``xrm relay``): written with its journal
    event, in the same transaction, and deleted once every sink has it. It holds only the
    event's id: what is published is read from the journal then, so an erasure before
    publication leaves nothing of the party to publish."""

    __tablename__ = "journal_outbox"

    event_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("journal_event.id", ondelete="CASCADE"), primary_key=True
    )


class JournalPartyRow(Base):
    """Which parties an event concerns: the index behind every timeline."""

    __tablename__ = "journal_party"

    party_id: Mapped[int] = party_fk(primary_key=True)
    event_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("journal_event.id", ondelete="CASCADE"), primary_key=True
    )
    occurred_at: Mapped[dt.datetime]

    __table_args__ = (Index("ix_journal_party_time", "party_id", "occurred_at", "event_id"),)


class ConsentRecordRow(Base):
    """The consent ledger: append-only; the core never updates or deletes a row."""

    __tablename__ = "consent_record"

    id: Mapped[pk]
    party_id: Mapped[int] = party_fk()
    purpose: Mapped[name40] = mapped_column(info=NOT_PERSONAL)
    scope: Mapped[str] = mapped_column(String(16), info=NOT_PERSONAL)
    channel: Mapped[name40 | None] = mapped_column(info=NOT_PERSONAL)
    contact_kind: Mapped[name40 | None] = mapped_column(info=NOT_PERSONAL)
    contact_key: Mapped[str500 | None] = mapped_column(info=PERSONAL)
    contact_point_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("contact_point.id", ondelete="SET NULL")
    )
    decision: Mapped[str] = mapped_column(String(16), info=NOT_PERSONAL)
    captured_at: Mapped[dt.datetime]
    effective_from: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime | None]
    confirmed_at: Mapped[dt.datetime | None]
    source: Mapped[name40] = mapped_column(info=NOT_PERSONAL)
    recorded_by: Mapped[str | None] = mapped_column(info=NOT_PERSONAL)
    evidence: Mapped[str | None] = mapped_column(Text, info=PERSONAL)
    recorded_at: Mapped[dt.datetime]

    __table_args__ = (
        # check(): one party's records for a purpose; contactable(): one purpose's records
        Index("ix_consent_party_purpose", "party_id", "purpose", "effective_from"),
        Index("ix_consent_purpose", "purpose", "party_id"),
        CheckConstraint("scope IN ('all', 'channel', 'contact_point')", name="scope"),
        CheckConstraint(
            "decision IN ('granted', 'refused', 'withdrawn', 'objected')", name="decision"
        ),
        CheckConstraint(
            "(scope = 'all' AND channel IS NULL AND contact_key IS NULL)"
            " OR (scope = 'channel' AND channel IS NOT NULL AND contact_key IS NULL)"
            " OR (scope = 'contact_point' AND contact_kind IS NOT NULL"
            " AND contact_key IS NOT NULL)",
            name="scope_fields",
        ),
        CheckConstraint("expires_at IS NULL OR expires_at > effective_from", name="expiry"),
    )


class ConsentLedgerRow(Base):
    """Which ledgers decide for a contact point that came from a merged party.

    A contact point normally answers to its party's ledger. When a merge moves a point
    from a duplicate to the survivor, the point keeps answering to the ledger it had: one
    *group* of rows per ledger, each row naming a party whose records count (all of them
    when ``since`` is null; otherwise those recorded at or after ``since``, the time of
    the merge that made this party the point's holder). A point with rows here is
    contactable only if every one of its groups allows it (a point both parties had keeps
    both ledgers). Rows are keyed by holder and match key, like point-scoped consent, so
    they survive the point's removal and re-adding.
    """

    __tablename__ = "consent_ledger"

    id: Mapped[pk]
    #: the party holding the contact point now
    party_id: Mapped[int] = party_fk()
    contact_kind: Mapped[name40] = mapped_column(info=NOT_PERSONAL)
    contact_key: Mapped[str500] = mapped_column(info=PERSONAL)
    #: one group per ledger; the point is allowed only if every group allows it
    grp: Mapped[int] = mapped_column(Integer)
    #: whose consent records count in this group
    ledger_party_id: Mapped[int] = party_fk()
    #: only records recorded at or after this time count (null: all)
    since: Mapped[dt.datetime | None]

    __table_args__ = (
        Index("ix_consent_ledger_point", "party_id", "contact_kind", "contact_key", "grp"),
        Index("ix_consent_ledger_ledger_party_id", "ledger_party_id"),
    )


class PreferenceRow(Base):
    """How a party likes to be addressed: its language, time zone and quiet hours (one row
    per party that has any; none: the application's defaults)."""

    __tablename__ = "party_preference"

    party_id: Mapped[int] = party_fk(primary_key=True)
    #: BCP 47 (``fr``, ``fr-CA``), as Babel reads it
    language: Mapped[str | None] = mapped_column(String(35), info=PERSONAL)
    #: IANA (``Europe/Paris``)
    time_zone: Mapped[str | None] = mapped_column(String(64), info=PERSONAL)
    #: ``HH:MM`` local times: no message between them (the window may cross midnight)
    quiet_start: Mapped[str | None] = mapped_column(String(5), info=NOT_PERSONAL)
    quiet_end: Mapped[str | None] = mapped_column(String(5), info=NOT_PERSONAL)
    updated_at: Mapped[dt.datetime]


class PurposePreferenceRow(Base):
    """A party's preferred channel for one purpose and how often it accepts messages for
    it (at most ``cap_count`` in ``cap_days`` days)."""

    __tablename__ = "party_purpose_preference"

    party_id: Mapped[int] = party_fk(primary_key=True)
    purpose: Mapped[name40] = mapped_column(primary_key=True, info=NOT_PERSONAL)
    channel: Mapped[str | None] = mapped_column(String(40), info=NOT_PERSONAL)
    cap_count: Mapped[int | None]
    cap_days: Mapped[int | None]
    updated_at: Mapped[dt.datetime]

    __table_args__ = (
        CheckConstraint("(cap_count IS NULL) = (cap_days IS NULL)", name="cap_whole"),
    )


class MessageRow(Base):
    """A message for a party in the outbox: rendered and committed with its outbound
    interaction, delivered later by the worker (``xrm worker``, ``app.deliver``).

    ``status``: ``queued`` (due from ``not_before``), ``sending`` (handed to a worker:
    never handed over again), ``sent``, ``failed`` (a permanent failure or too many
    attempts), ``blocked`` (the ledger or the address no longer allowed it when it was
    about to leave), ``unknown`` (a worker died while sending: not sent again, so never
    twice), ``cancelled`` (the party was erased before it left), ``bounced`` (sent, then
    reported undeliverable by a delivery status notification)."""

    __tablename__ = "message"

    id: Mapped[pk]
    party_id: Mapped[int] = party_fk(index=True)
    interaction_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("interaction.id", ondelete="SET NULL"), index=True
    )
    contact_point_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("contact_point.id", ondelete="SET NULL")
    )
    template: Mapped[name60] = mapped_column(info=NOT_PERSONAL)
    purpose: Mapped[name40] = mapped_column(info=NOT_PERSONAL)
    channel: Mapped[name40] = mapped_column(info=NOT_PERSONAL)
    transport: Mapped[name40] = mapped_column(info=NOT_PERSONAL)
    #: the address written to, as it was when the message was made
    address: Mapped[str] = mapped_column(String(320), info=PERSONAL)
    language: Mapped[str] = mapped_column(String(35), info=NOT_PERSONAL)
    subject: Mapped[str | None] = mapped_column(String(300), info=PERSONAL)
    body_text: Mapped[str] = mapped_column(Text, info=PERSONAL)
    body_html: Mapped[str | None] = mapped_column(Text, info=PERSONAL)
    status: Mapped[str] = mapped_column(String(20), info=NOT_PERSONAL)
    not_before: Mapped[dt.datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300), info=PERSONAL)
    #: unique per message: a transport to an idempotent API passes it on
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True, info=NOT_PERSONAL)
    external_id: Mapped[str | None] = mapped_column(String(200), info=NOT_PERSONAL)
    created_at: Mapped[dt.datetime]
    claimed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]

    __table_args__ = (
        Index("ix_message_due", "status", "not_before", "id"),
        Index("ix_message_party_purpose", "party_id", "purpose", "created_at"),
    )


class SuppressionRow(Base):
    """An address that must never be contactable again: a keyed hash (HMAC-SHA256, see
    :mod:`xrm.core.gdpr.service`) of a normalised email or phone of an erased party.

    A contact point created or imported later with the same address is stored suppressed.
    The row names no party, and the address cannot be read back from it.
    """

    __tablename__ = "suppression"

    id: Mapped[pk]
    #: ``email`` or ``phone``
    kind: Mapped[name40]
    #: hex HMAC-SHA256 of ``kind:key`` under the database's suppression key
    keyed_hash: Mapped[str] = mapped_column(String(64))
    #: why the address is suppressed (``erasure``)
    reason: Mapped[name40]
    created_at: Mapped[dt.datetime]

    __table_args__ = (UniqueConstraint("kind", "keyed_hash"),)


class SuppressionKeyRow(Base):
    """The database's secret for :class:`SuppressionRow` hashes: one row, made on the first
    erasure."""

    __tablename__ = "suppression_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: 32 random bytes, hex
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]

    __table_args__ = (CheckConstraint("id = 1", name="single"),)


class ActivityRow(Base):
    """A planned action: a call to make, a meeting, an email to write, a task; assigned to
    an employee party or an application user, about a party or a plugin's record
    (``about_type`` ``"sales.opportunity"``, ``about_id``). ``status``: ``open``,
    ``done`` or ``cancelled``; its history is in the journal (``activity.*`` events)."""

    __tablename__ = "activity"

    id: Mapped[pk]
    kind: Mapped[str] = mapped_column(String(20), info=NOT_PERSONAL)
    subject: Mapped[str] = mapped_column(String(300), info=PERSONAL)
    notes: Mapped[str | None] = mapped_column(Text, info=PERSONAL)
    status: Mapped[str] = mapped_column(String(20), info=NOT_PERSONAL)
    #: when it is due, in UTC; ``time_zone`` says where the assignee reads it
    due_at: Mapped[dt.datetime]
    time_zone: Mapped[str | None] = mapped_column(String(60), info=NOT_PERSONAL)
    assignee_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("party.id", ondelete="SET NULL"), index=True
    )
    #: an application user id, for an assignee that is not a party
    user: Mapped[str | None] = mapped_column(String(200), index=True, info=NOT_PERSONAL)
    about_type: Mapped[str | None] = mapped_column(String(60), info=NOT_PERSONAL)
    about_id: Mapped[int | None] = mapped_column(BigId)
    outcome: Mapped[str | None] = mapped_column(String(300), info=PERSONAL)
    interaction_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("interaction.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    completed_at: Mapped[dt.datetime | None]
    version: Mapped[int] = mapped_column(Integer, default=1)

    parties: Mapped[list[ActivityPartyRow]] = relationship(
        cascade="all, delete-orphan", order_by="ActivityPartyRow.party_id"
    )

    __table_args__ = (
        Index("ix_activity_open_due", "status", "due_at", "id"),
        Index("ix_activity_about", "about_type", "about_id", "updated_at"),
        CheckConstraint("status IN ('open', 'done', 'cancelled')", name="status_known"),
    )
    __mapper_args__ = {"version_id_col": version}


class ActivityPartyRow(Base):
    """A party an activity concerns (its timeline shows the activity)."""

    __tablename__ = "activity_party"

    activity_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True
    )
    party_id: Mapped[int] = party_fk(primary_key=True)
    #: copied from the activity, so a party's open activities are one index range
    due_at: Mapped[dt.datetime]

    __table_args__ = (Index("ix_activity_party_due", "party_id", "due_at", "activity_id"),)


class SegmentRow(Base):
    """A saved segment: a named criterion (``definition``, its JSON form), evaluated when
    read; or, once frozen (``frozen_at`` set), the list of its members on that date."""

    __tablename__ = "segment"

    id: Mapped[pk]
    name: Mapped[str] = mapped_column(String(100), unique=True, info=NOT_PERSONAL)
    description: Mapped[str | None] = mapped_column(Text, info=NOT_PERSONAL)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON())
    frozen_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class SegmentMemberRow(Base):
    """A member of a frozen segment."""

    __tablename__ = "segment_member"

    segment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("segment.id", ondelete="CASCADE"), primary_key=True
    )
    party_id: Mapped[int] = party_fk(primary_key=True, index=True)


CORE_TABLES: frozenset[str] = frozenset(Base.metadata.tables)
"""The tables of the core (what the core's own erasure and export read); any other table
on :class:`Base` is a plugin's."""
