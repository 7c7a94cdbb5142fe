"""Reading the core's tables: the rows and predicates apps and plugins may query.

The services on :class:`xrm.Session` are the way to *change* data: they validate, enforce
consent and write the journal in the same transaction. Reports are another matter: one
set-based query over every customer beats a loop over ``s.parties``. This module is the
public ground for such queries (docs/tables.md):

- the ORM classes of the core's tables, to read (``select(PartyRow.id, ...)``) and to
  join a plugin's own tables to;
- :class:`Base`, the declarative base a plugin declares its own tables on, and
  :func:`utcnow`, the clock of the ``created_at`` columns;
- :data:`PERSONAL` and :data:`NOT_PERSONAL`, the marks every text column of a table that
  names a party carries (``mapped_column(Text, info=PERSONAL)``): the GDPR export and
  erasure read them, so a plugin writes no hook for its own rows (docs/gdpr.md);
- the core's predicates as SQL expressions, so a report keeps the rows the services keep:
  :func:`live_party` and :func:`unmerged_party`, :func:`role_current`, :func:`role_open`,
  :func:`role_held`, :func:`relationship_valid`, and :func:`contactable`, the consent audience.

Run the queries on ``session.db``, the SQLAlchemy session of the unit of work::

    from sqlalchemy import select
    from xrm.tables import PartyRow, RoleRow, role_current, unmerged_party

    query = (
        select(PartyRow.id, PartyRow.display_name)
        .join(RoleRow, RoleRow.party_id == PartyRow.id)
        .where(RoleRow.type == "customer", role_current(), unmerged_party())
    )
    rows = session.db.execute(query).all()

Writing to the core's tables directly skips validation, consent and the journal: don't.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select

from xrm.core.models import (
    NOT_PERSONAL,
    PERSONAL,
    ActivityPartyRow,
    ActivityRow,
    Base,
    ConsentRecordRow,
    ContactPointRow,
    IdentifierRow,
    InteractionRow,
    JournalEventRow,
    JournalPartyRow,
    MessageRow,
    OutboxRow,
    ParticipantRow,
    PartyRow,
    PartyTagRow,
    PreferenceRow,
    PurposePreferenceRow,
    RelationshipRow,
    RoleRow,
    RoleTransitionRow,
    SegmentMemberRow,
    SegmentRow,
    utcnow,
)
from xrm.core.predicates import (
    as_day,
    live_party,
    relationship_valid,
    role_current,
    role_held,
    role_open,
    unmerged_party,
)

if TYPE_CHECKING:
    from xrm import Session

__all__ = [
    "NOT_PERSONAL",
    "PERSONAL",
    "ActivityPartyRow",
    "ActivityRow",
    "Base",
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
    "SegmentMemberRow",
    "SegmentRow",
    "as_day",
    "contactable",
    "live_party",
    "relationship_valid",
    "role_current",
    "role_held",
    "role_open",
    "unmerged_party",
    "utcnow",
]


def contactable(
    session: Session, purpose: str, channel: str, at: dt.datetime | None = None
) -> Select[Any]:
    """Every ``(party_id, contact_point_id, value)`` that may be contacted for ``purpose``
    on ``channel`` at ``at`` (default now), as one ``SELECT``: the same query as
    ``session.consents.contactable``, to execute, join to or use as a subquery.

    The consent ledger (:class:`ConsentRecordRow`) is append-only and its rules (scopes,
    expiry, double opt-in, merged contact points) are subtle: ask this query rather than
    reading the ledger to decide who may be contacted.
    """
    return session.consents.contactable(purpose, channel, at)
