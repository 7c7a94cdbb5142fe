"""The core's predicates as SQL expressions: which parties are live, which roles are current
or held, which relationships hold on a day.

Each function returns a SQLAlchemy ``ColumnElement[bool]`` to put in a ``where()`` or a
join's ``on`` clause. They say in one place what the services decide row by row, so that a
report of a plugin and the core read the same rows. :mod:`xrm.tables` is their public face.

Times follow the services' rules: an aware datetime is converted to UTC, a naive one is
taken as UTC, and a date stands for its first instant (midnight UTC), as ``at=`` of
``s.roles.assign`` reads it. Relationships are dated by day, ``[valid_from, valid_to)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import QueryableAttribute, aliased

from xrm.core.models import PartyRow, RelationshipRow, RoleRow, RoleTransitionRow, utcnow
from xrm.core.uow import as_utc
from xrm.errors import ValidationError

__all__ = [
    "as_day",
    "live_party",
    "relationship_valid",
    "role_current",
    "role_held",
    "role_open",
    "unmerged_party",
]


def unmerged_party(party: type[PartyRow] = PartyRow) -> ColumnElement[bool]:
    """The party was not merged into another: ``merged_into_id IS NULL``.

    This is the filter of ``s.parties.list`` and ``s.parties.count``, of the consent
    audience (``s.consents.contactable``) and of duplicate search. An erased party passes
    it: erasure keeps the row (as ``erased party 42``) and its roles.
    """
    return party.merged_into_id.is_(None)


def live_party(party: type[PartyRow] = PartyRow) -> ColumnElement[bool]:
    """The party is live: neither merged into another nor erased (GDPR art. 17)."""
    return and_(party.merged_into_id.is_(None), party.erased_at.is_(None))


def role_current(
    as_of: dt.datetime | dt.date | None = None, role: type[RoleRow] = RoleRow
) -> ColumnElement[bool]:
    """The role is current at ``as_of`` (default: now): it had started at or before
    then and had not ended at or before it
    (``started_at <= as_of AND (ended_at IS NULL OR ended_at > as_of)``). A role that
    reaches one of its type's ``final_states`` ends then, so it is not current after.

    ``s.roles.current``, ``s.parties.list(role=...)``, segments and the consent rules all
    read this one rule: a role assigned to start tomorrow is not current today. A date
    means its first instant (UTC), so a role ended on that date is no longer current on it.
    """
    when = as_utc(as_of, "as_of") or utcnow()
    return and_(role.started_at <= when, or_(role.ended_at.is_(None), role.ended_at > when))


def role_open(role: type[RoleRow] = RoleRow) -> ColumnElement[bool]:
    """The role has not ended (it may start later): the sense in which a party holds each
    role type at most once (the ``uq_role_current`` index)."""
    return role.ended_at.is_(None)


def role_held(
    type: str | Collection[str],
    *,
    party_id: ColumnElement[int] | QueryableAttribute[int] | int | None = None,
    as_of: dt.datetime | dt.date | None = None,
    states: Collection[str] | None = None,
) -> ColumnElement[bool]:
    """An ``EXISTS`` condition: the party holds a current role of ``type`` (one name, or
    any of several), by :func:`role_current`'s rules for ``as_of``.

    ``party_id`` is the column (or id) naming the party; default ``PartyRow.id``, for a
    query over parties. ``states`` keeps roles in one of those states (``None`` or empty:
    any state): the state the role has now without ``as_of``, and the state it was in at
    ``as_of`` otherwise (its latest transition at or before then), as the consent rules
    read ``Purpose.requires_states``.

    The roles are read through an alias of their table, so the condition stays correct in
    a query that also reads ``RoleRow``.
    """
    types = [type] if isinstance(type, str) else sorted(type)
    role = aliased(RoleRow, name="held_role")
    of_type = role.type == types[0] if len(types) == 1 else role.type.in_(types)
    conds: list[ColumnElement[bool]] = [
        role.party_id == (PartyRow.id if party_id is None else party_id),
        of_type,
        role_current(as_of, role),
    ]
    if states:
        wanted = sorted(states)
        when = as_utc(as_of, "as_of")
        if when is None:
            conds.append(role.state.in_(wanted))
        else:
            t = aliased(RoleTransitionRow, name="held_role_transition")
            state_then = (
                select(t.to_state)
                .where(t.role_id == role.id, t.at <= when)
                .order_by(t.at.desc(), t.id.desc())
                .limit(1)
                .scalar_subquery()
            )
            conds.append(state_then.in_(wanted))
    return exists().where(*conds)


def as_day(value: dt.date | dt.datetime | None, field: str = "as_of") -> dt.date:
    """The day a relationship is read on: ``None`` is today (local date, as
    ``s.relationships.of`` reads it), an aware datetime its UTC date, a naive one its
    date. Anything else raises :class:`~xrm.ValidationError` naming ``field``."""
    if value is None:
        return dt.date.today()
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    raise ValidationError.single(field, f"expected a date, got {value!r}")


def relationship_valid(
    as_of: dt.date | dt.datetime | None = None,
    relationship: type[RelationshipRow] = RelationshipRow,
) -> ColumnElement[bool]:
    """The relationship holds on the day ``as_of`` (default today; see :func:`as_day`):
    ``valid_from <= day AND (valid_to IS NULL OR valid_to > day)``. ``valid_to`` is
    exclusive, the first day it no longer holds: what ``s.relationships.of(as_of=...)``
    reads."""
    day = as_day(as_of)
    return and_(
        relationship.valid_from <= day,
        or_(relationship.valid_to.is_(None), relationship.valid_to > day),
    )
