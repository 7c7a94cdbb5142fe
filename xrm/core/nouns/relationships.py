"""Relationships: typed, dated links between two parties, readable from either end."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, Literal, cast

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
    union_all,
)

from xrm.core._args import checked_methods
from xrm.core._lean import Prepared, _pending
from xrm.core.access import READ, WRITE
from xrm.core.events import RelationshipCreated, RelationshipEnded
from xrm.core.models import PartyRow, RelationshipRow, RoleRow, utcnow
from xrm.core.predicates import relationship_valid
from xrm.core.records import Link, Relationship
from xrm.core.registry import RelationshipType
from xrm.core.uow import PartyRef, UnitOfWork, jsonable, ref_id, validate_model
from xrm.errors import Conflict, NotFound, ValidationError

__all__ = ["RelationshipService"]

Direction = Literal["both", "outgoing", "incoming"]


def _day(value: dt.date | dt.datetime | None, field: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    raise ValidationError.single(field, f"expected a date, got {value!r}")


def _overlaps(start: dt.date, end: dt.date | None) -> ColumnElement[bool]:
    """Stored ranges that share at least one day with ``[start, end)``."""
    cond = or_(RelationshipRow.valid_to.is_(None), RelationshipRow.valid_to > start)
    if end is not None:
        cond = and_(cond, RelationshipRow.valid_from < end)
    return cond


def holds_on(day: dt.date) -> ColumnElement[bool]:
    """Relationships valid on ``day`` (ranges are ``[valid_from, valid_to)``)."""
    return relationship_valid(day)


_R = cast(Table, RelationshipRow.__table__).c


def _links(typed: bool, dated: bool) -> CompoundSelect[Any]:
    """A party's relationships from either end, built once: one index range scan per end
    (``ix_relationship_from``, ``ix_relationship_to``); ``typed`` keeps the ``type``
    parameter's, ``dated`` those holding on the ``day`` parameter."""

    def at_end(column: ColumnElement[int]) -> Select[Any]:
        conds = [column == bindparam("party")]
        if typed:
            conds.append(_R.type == bindparam("type"))
        if dated:
            conds.append(_R.valid_from <= bindparam("day"))
            conds.append(or_(_R.valid_to.is_(None), _R.valid_to > bindparam("day")))
        return select(
            _R.id, _R.type, _R.from_party_id, _R.to_party_id, _R.valid_from, _R.valid_to,
            _R.attributes,
        ).where(*conds)  # fmt: skip

    # no relationship has the same party at both ends: the two parts never share a row
    return union_all(at_end(_R.from_party_id), at_end(_R.to_party_id))


_LINKS = {(t, d): Prepared(_links(t, d)) for t in (False, True) for d in (False, True)}


@checked_methods(
    "relationships",
    {"create": WRITE, "end": WRITE, "get": READ, "of": READ, "check_duplicates_and_caps": READ},
)
class RelationshipService:
    """``s.relationships``: link parties, end links, and read them "as of" any day."""

    def __init__(self, ctx: UnitOfWork) -> None:
        self._ctx = ctx

    def create(
        self,
        type: str,
        from_party: PartyRef,
        to_party: PartyRef,
        *,
        valid_from: dt.date | None = None,
        valid_to: dt.date | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> Relationship:
        """Link ``from_party`` to ``to_party`` (``from --forward label--> to``), valid from
        ``valid_from`` (default today) until ``valid_to`` exclusive (default open).

        Refused: an unknown type, the same party at both ends, a kind or role not allowed at
        an end, a range that ends before it starts, a link that already holds over the same
        days, and more links at one end than the type's cap allows.
        """
        ctx = self._ctx
        rel_type = self._type(type)
        start = _day(valid_from, "valid_from") or dt.date.today()
        end = _day(valid_to, "valid_to")
        if end is not None and end <= start:
            raise ValidationError.single(
                "valid_to", f"{end.isoformat()} is not after valid_from {start.isoformat()}"
            )
        values = self._attributes(rel_type, attributes)
        with ctx.atomic():
            source = ctx.party_row(from_party, "from_party")
            target = ctx.party_row(to_party, "to_party")
            if source.id == target.id:
                raise ValidationError.single("to_party", "a party cannot be related to itself")
            self._check_end(rel_type, source, "from", start)
            self._check_end(rel_type, target, "to", start)
            self.check_duplicates_and_caps(rel_type, source.id, target.id, start, end)
            row = RelationshipRow(
                type=type,
                from_party_id=source.id,
                to_party_id=target.id,
                valid_from=start,
                valid_to=end,
                attributes=values,
                created_at=utcnow(),
            )
            ctx.db.add(row)
            ctx.db.flush()
            rel = Relationship.of(row)
            ctx.notify("xrm_validate_relationship", relationship=rel, action="create")
            ctx.record(
                RelationshipCreated(
                    entity_id=row.id,
                    parties=(source.id, target.id),
                    type=type,
                    from_party=source.id,
                    to_party=target.id,
                    label=rel_type.forward_label,
                    valid_from=start,
                    valid_to=end,
                    attributes=values,
                )
            )
            return rel

    def end(self, relationship: int | Relationship, *, on: dt.date | None = None) -> Relationship:
        """End the relationship: from day ``on`` (default today) it no longer holds."""
        ctx = self._ctx
        day = _day(on, "on") or dt.date.today()
        with ctx.atomic():
            row = self._row(relationship)
            if row.valid_to is not None and row.valid_to <= day:
                raise ValidationError.single(
                    "on", f"relationship {row.id} already ended on {row.valid_to.isoformat()}"
                )
            if day <= row.valid_from:
                raise ValidationError.single(
                    "on", f"{day.isoformat()} is not after its start {row.valid_from.isoformat()}"
                )
            row.valid_to = day
            ctx.db.flush()
            rel = Relationship.of(row)
            ctx.notify("xrm_validate_relationship", relationship=rel, action="end")
            ctx.record(
                RelationshipEnded(
                    entity_id=row.id,
                    parties=(row.from_party_id, row.to_party_id),
                    type=row.type,
                    from_party=row.from_party_id,
                    to_party=row.to_party_id,
                    valid_to=day,
                )
            )
            return rel

    def get(self, relationship: int | Relationship) -> Relationship:
        return Relationship.of(self._row(relationship))

    def of(
        self,
        party: PartyRef,
        *,
        type: str | None = None,
        as_of: dt.date | dt.datetime | None = None,
        direction: Direction = "both",
        all_dates: bool = False,
    ) -> list[Link]:
        """The party's relationships that hold on ``as_of`` (default today), seen from the
        party: each :class:`~xrm.Link` says how it reads from this party to the other.

        ``direction`` keeps links where the party is the ``from`` end (outgoing), the ``to``
        end (incoming), or either; symmetric types count as both. ``all_dates`` lists every
        link whatever its dates.
        """
        ident = ref_id(party)
        day = _day(as_of, "as_of") or dt.date.today()
        if direction not in ("both", "outgoing", "incoming"):
            raise ValidationError.single("direction", "must be both, outgoing or incoming")
        db = self._ctx.db
        if _pending(db):  # the ORM sees changes not flushed yet
            query = select(RelationshipRow).where(
                or_(RelationshipRow.from_party_id == ident, RelationshipRow.to_party_id == ident)
            )
            if type is not None:
                query = query.where(RelationshipRow.type == type)
            if not all_dates:
                query = query.where(holds_on(day))
            rows: Iterable[Relationship] = [Relationship.of(r) for r in db.scalars(query)]
        else:
            statement = _LINKS[type is not None, not all_dates]
            params = {"party": ident, "type": type, "day": day}
            rows = map(Relationship.from_row, statement.rows(db.connection(), params))
        registry = self._ctx.registry.relationship_types
        results: list[Link] = []
        for rel in rows:
            outgoing = rel.from_party_id == ident
            rel_type = registry.get(rel.type)
            symmetric = rel_type is not None and rel_type.symmetric
            if direction != "both" and not symmetric and outgoing != (direction == "outgoing"):
                continue
            if rel_type is None:  # registered by a plugin that is not installed now
                label = rel.type if outgoing else f"{rel.type} (inverse)"
            else:
                label = rel_type.forward_label if outgoing else rel_type.inverse_label
            other = rel.to_party_id if outgoing else rel.from_party_id
            results.append(Link(rel, ident, other, label))
        results.sort(key=lambda link: (link.relationship.valid_from, link.relationship.id))
        return results

    # -- helpers -----------------------------------------------------------------------
    def _type(self, name: str) -> RelationshipType:
        rel_type = self._ctx.registry.relationship_types.get(name)
        if rel_type is None:
            known = ", ".join(sorted(self._ctx.registry.relationship_types)) or "none registered"
            raise ValidationError.single("type", f"unknown relationship type {name!r} ({known})")
        return rel_type

    def _attributes(
        self, rel_type: RelationshipType, attributes: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        if attributes is None:
            attributes = {}
        if not isinstance(attributes, Mapping):
            raise ValidationError.single("attributes", "must be a mapping")
        if rel_type.schema is not None:
            model = validate_model(rel_type.schema, dict(attributes), "attributes")
            return dict(model.model_dump(mode="json"))
        return dict(jsonable(dict(attributes)))

    def _row(self, relationship: int | Relationship) -> RelationshipRow:
        ident = ref_id(relationship, "relationship")
        row = self._ctx.db.get(RelationshipRow, ident)
        if row is None:
            raise NotFound("relationship", ident)
        return row

    def _check_end(
        self, rel_type: RelationshipType, party: PartyRow, end: str, start: dt.date
    ) -> None:
        kinds = rel_type.from_kinds if end == "from" else rel_type.to_kinds
        roles = rel_type.from_roles if end == "from" else rel_type.to_roles
        field = f"{end}_party"
        if kinds is not None and party.kind not in kinds:
            raise ValidationError.single(
                field,
                f"a party of kind {party.kind!r} cannot be at the {end!r} end of {rel_type.name!r} "
                f"(only {', '.join(sorted(kinds))})",
            )
        if roles is not None:
            held = set(
                self._ctx.db.scalars(
                    select(RoleRow.type).where(
                        RoleRow.party_id == party.id,
                        RoleRow.type.in_(roles),
                        RoleRow.ended_at.is_(None),
                    )
                )
            )
            if not held:
                raise ValidationError.single(
                    field,
                    f"party {party.id} must hold a role of {', '.join(sorted(roles))} to be at "
                    f"the {end!r} end of {rel_type.name!r}",
                )

    def check_duplicates_and_caps(
        self,
        rel_type: RelationshipType,
        source: int,
        target: int,
        start: dt.date,
        end: dt.date | None,
        *,
        moving: int | None = None,
    ) -> None:
        """Refuse a relationship of ``rel_type`` from ``source`` to ``target`` over
        ``[start, end)`` that would repeat one they have or exceed a cap (``Conflict``).
        ``moving`` is the id of a relationship being moved to one of the parties (a
        merge): it is not counted against itself."""
        db = self._ctx.db
        same_type = and_(RelationshipRow.type == rel_type.name, _overlaps(start, end))
        if moving is not None:
            same_type = and_(same_type, RelationshipRow.id != moving)
        pair = and_(RelationshipRow.from_party_id == source, RelationshipRow.to_party_id == target)
        if rel_type.symmetric:
            pair = or_(
                pair,
                and_(
                    RelationshipRow.from_party_id == target, RelationshipRow.to_party_id == source
                ),
            )
        duplicate = db.scalar(select(RelationshipRow.id).where(same_type, pair).limit(1))
        if duplicate is not None:
            raise Conflict(
                f"parties {source} and {target} are already related by {rel_type.name!r} over "
                f"these dates (relationship {duplicate})",
                field="type",
            )
        for cap, party, column, field in (
            (rel_type.max_per_from, source, RelationshipRow.from_party_id, "from_party"),
            (rel_type.max_per_to, target, RelationshipRow.to_party_id, "to_party"),
        ):
            if cap is None:
                continue
            at_end: ColumnElement[bool] = column == party
            if rel_type.symmetric:
                at_end = or_(
                    RelationshipRow.from_party_id == party, RelationshipRow.to_party_id == party
                )
            count = db.scalar(
                select(func.count()).select_from(RelationshipRow).where(same_type, at_end)
            )
            if (count or 0) >= cap:
                label = rel_type.forward_label if field == "from_party" else rel_type.inverse_label
                raise Conflict(
                    f"party {party} already has {count} current {label!r} relationship(s); "
                    f"{rel_type.name!r} allows at most {cap} at a time",
                    field=field,
                )
