"""The consent decision rules as one SQL query over every party: the audience of a
purpose and channel (``s.consents.contactable``), and whether a role basis holds."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    Alias,
    ColumnElement,
    FromClause,
    Select,
    and_,
    exists,
    false,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    union_all,
)

from xrm.core.consent.rules import NEGATIVE
from xrm.core.models import (
    ConsentLedgerRow,
    ConsentRecordRow,
    ContactPointRow,
    PartyRow,
)
from xrm.core.predicates import role_held as held
from xrm.core.predicates import unmerged_party
from xrm.core.registry import Channel, LawfulBasis, Purpose

__all__ = ["AudienceMember", "audience_query", "role_held"]


class AudienceMember(NamedTuple):
    """One row of an audience: a party and the contact point to reach it by (``None`` for
    channels that need no address, such as ``face_to_face``)."""

    party_id: int
    contact_point_id: int | None
    value: str | None


def role_held(purpose: Purpose, party_id: Any, at: dt.datetime) -> ColumnElement[bool]:
    """The party held the purpose's required role at ``at`` (in one of its required
    states, when the purpose names some): the state at ``at`` is the latest transition's.
    The public predicate :func:`xrm.tables.role_held`, for a purpose."""
    assert purpose.requires_role is not None
    return held(
        purpose.requires_role,
        party_id=party_id,
        as_of=at,
        states=purpose.requires_states or None,
    )


def audience_query(purpose: Purpose, channel: Channel, at: dt.datetime) -> Select[Any]:
    kind = channel.contact_kind
    party_live = unmerged_party()
    if kind is not None:
        base: FromClause = ContactPointRow.__table__.join(
            PartyRow.__table__, PartyRow.id == ContactPointRow.party_id
        )
        party_col: Any = ContactPointRow.party_id
        columns: list[Any] = [
            ContactPointRow.party_id.label("party_id"),
            ContactPointRow.id.label("contact_point_id"),
            ContactPointRow.value.label("value"),
        ]
        where: list[ColumnElement[bool]] = [
            party_live,
            ContactPointRow.kind == kind,
            ContactPointRow.suppressed.is_(False),
            ContactPointRow.valid.is_(True),
        ]
    else:
        base = PartyRow.__table__
        party_col = PartyRow.id
        columns = [
            PartyRow.id.label("party_id"),
            null().label("contact_point_id"),
            null().label("value"),
        ]
        where = [party_live]

    if purpose.basis in (LawfulBasis.CONTRACT, LawfulBasis.LEGAL_OBLIGATION):
        if purpose.requires_role is not None:
            where.append(role_held(purpose, party_col, at))
        return select(*columns).select_from(base).where(*where)

    R = ConsentRecordRow
    table = R.__table__
    at_from = literal(at, R.effective_from.type)

    def pick(scope: str, owned: Callable[[Any], tuple[FromClause, list[Any]]], key: Any) -> Any:
        """The id of the scope's latest record among the records ``owned`` selects: one
        index seek on (party, purpose, effective_from) per row, the record then joined by
        primary key. (A window over the ledger joined three times made SQLite scan it per
        row.)"""
        r = table.alias()
        source, conds = owned(r)
        conds.append(r.c.scope == scope)
        if scope == "channel":
            conds.append(r.c.channel == channel.name)
        if scope == "contact_point":
            conds += [r.c.contact_kind == kind, r.c.contact_key == key]
        return (
            select(r.c.id)
            .select_from(source)
            .where(r.c.purpose == purpose.name, r.c.effective_from <= at_from, *conds)
            .order_by(r.c.effective_from.desc(), r.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    def levels_of(
        joined: Any, prefix: str, owned: Callable[[Any], tuple[FromClause, list[Any]]], key: Any
    ) -> tuple[Any, list[Any]]:
        """Join the latest record of each scope (most specific first) to ``joined``."""
        scopes = ["contact_point"] if kind is not None else []
        levels: list[Any] = []
        for scope in [*scopes, "channel", "all"]:
            record = table.alias(f"{prefix}_{scope}")
            joined = joined.outerjoin(record, record.c.id == pick(scope, owned, key))
            levels.append(record)
        return joined, levels

    def own_records(r: Any) -> tuple[FromClause, list[Any]]:
        return r, [r.c.party_id == party_col]

    joined, levels = levels_of(base, "l", own_records, ContactPointRow.key)
    denied = _denied(purpose, at, levels)
    if kind is None:
        return select(*columns).select_from(joined).where(*where, not_(denied), true())

    # A contact point a merge moved answers to the ledgers it had (ConsentLedgerRow): it
    # is contactable only if no ledger group denies it.
    L = ConsentLedgerRow
    point_of = (
        L.party_id == ContactPointRow.party_id,
        L.contact_kind == kind,
        L.contact_key == ContactPointRow.key,
    )
    has_ledger = exists().where(*point_of)
    group = L.__table__.alias("g")

    def group_records(r: Any) -> tuple[FromClause, list[Any]]:
        m = L.__table__.alias()
        joins = and_(
            m.c.party_id == group.c.party_id,
            m.c.contact_kind == group.c.contact_kind,
            m.c.contact_key == group.c.contact_key,
            m.c.grp == group.c.grp,
            r.c.party_id == m.c.ledger_party_id,
        )
        counted = or_(m.c.since.is_(None), r.c.recorded_at >= m.c.since)
        return r.join(m, joins), [counted]

    group_joined, group_levels = levels_of(group, "g", group_records, group.c.contact_key)
    group_denies = (
        select(literal(1))
        .select_from(group_joined)
        .where(
            group.c.party_id == ContactPointRow.party_id,
            group.c.contact_kind == kind,
            group.c.contact_key == ContactPointRow.key,
            _denied(purpose, at, group_levels),
        )
        .exists()
    )
    # Two branches rather than one OR: each planner then turns the ledger test into an
    # anti-join (the usual points) or a semi-join (the few a merge moved); the OR made
    # PostgreSQL probe the ledger per row and doubled the audience's time.
    usual = select(*columns).select_from(joined).where(*where, ~has_ledger, not_(denied))
    # the few points a merge moved, read from the ledger rather than found among all
    # points: a scan of every point of the kind was a sixth of the audience's time
    moved = (
        select(L.party_id, L.contact_key).where(L.contact_kind == kind).distinct().subquery("moved")
    )
    moved_points = moved.join(
        ContactPointRow.__table__,
        and_(
            ContactPointRow.party_id == moved.c.party_id,
            ContactPointRow.kind == kind,
            ContactPointRow.key == moved.c.contact_key,
        ),
    ).join(PartyRow.__table__, PartyRow.id == ContactPointRow.party_id)
    merged = select(*columns).select_from(moved_points).where(*where, ~group_denies)
    both = union_all(usual, merged).subquery("audience")
    return select(both.c.party_id, both.c.contact_point_id, both.c.value)


def _denied(purpose: Purpose, at: dt.datetime, levels: Sequence[Any]) -> ColumnElement[bool]:
    """The decision rules over the latest record of each scope (most specific first), as
    one SQL condition: true when they deny the contact."""
    R = ConsentRecordRow

    def present(x: Alias) -> ColumnElement[bool]:
        return x.c.id.is_not(None)

    def negative(x: Alias) -> ColumnElement[bool]:
        return x.c.decision.in_(sorted(NEGATIVE))

    def later(x: Any, y: Any) -> ColumnElement[bool]:
        return or_(
            x.c.effective_from > y.c.effective_from,
            and_(x.c.effective_from == y.c.effective_from, x.c.id > y.c.id),
        )

    def beaten(x: Any, broader: Sequence[Any]) -> ColumnElement[bool]:
        """A later refusal, withdrawal or objection at a broader scope beats a grant."""
        return or_(false(), *(and_(present(b), negative(b), later(b, x)) for b in broader))

    def grant_counts(x: Any) -> ColumnElement[bool]:
        conds = [
            x.c.decision == "granted",
            or_(x.c.expires_at.is_(None), x.c.expires_at > literal(at, R.expires_at.type)),
        ]
        if purpose.double_opt_in:
            conds += [
                x.c.confirmed_at.is_not(None),
                x.c.confirmed_at <= literal(at, R.confirmed_at.type),
            ]
        return and_(*conds)

    # The most specific scope with a record decides: one branch per level.
    branches: list[ColumnElement[bool]] = []
    for i, level in enumerate(levels):
        more_specific_absent = [not_(present(m)) for m in levels[:i]]
        broader = levels[i + 1 :]
        if purpose.basis is LawfulBasis.LEGITIMATE_INTEREST:
            denies = or_(
                negative(level), and_(level.c.decision == "granted", beaten(level, broader))
            )
        else:
            denies = not_(and_(grant_counts(level), not_(beaten(level, broader))))
        branches.append(and_(*more_specific_absent, present(level), denies))
    if purpose.basis is not LawfulBasis.LEGITIMATE_INTEREST:
        # no record at any scope: opt-in required
        branches.append(and_(*(not_(present(level)) for level in levels)))
    return or_(false(), *branches)
