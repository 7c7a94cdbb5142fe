"""Roles: what a party is to us (customer, supplier, employee...), each with a lifecycle."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from xrm.core._args import checked_methods
from xrm.core.access import READ, WRITE
from xrm.core.events import RoleAssigned, RoleEnded, RoleTransitioned, RoleUpdated
from xrm.core.models import RoleRow, RoleTransitionRow, utcnow
from xrm.core.predicates import role_current, role_open
from xrm.core.records import Role
from xrm.core.registry import RoleType
from xrm.core.uow import PartyRef, UnitOfWork, as_utc, ref_id, validate_model
from xrm.errors import Conflict, NotFound, ValidationError

__all__ = ["RoleService"]

RoleRef = int | Role


@checked_methods(
    "roles",
    {
        "assign": WRITE,
        "transition": WRITE,
        "update": WRITE,
        "end": WRITE,
        "get": READ,
        "current": READ,
        "of": READ,
        "role_type": None,
        "check_attributes": None,
        "initial_attributes": None,
    },
)
class RoleService:
    """``s.roles``: assign a role to a party, move it through its lifecycle, end it."""

    def __init__(self, ctx: UnitOfWork) -> None:
        self._ctx = ctx

    def assign(
        self,
        party: PartyRef,
        type: str,
        *,
        state: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        at: dt.datetime | dt.date | None = None,
        note: str | None = None,
    ) -> Role:
        """Give ``party`` a role of ``type`` in its initial state (or ``state``, when the role
        type allows starting there). A party holds each role type at most once at a time."""
        ctx = self._ctx
        role_type = self.role_type(type)
        start = state or role_type.initial
        if start not in role_type.states:
            raise ValidationError.single(
                "state",
                f"{start!r} is not a state of role {type!r} ({', '.join(role_type.states)})",
            )
        if not role_type.may_start_in(start):
            raise ValidationError.single("state", f"role {type!r} cannot start in {start!r}")
        when = as_utc(at, "at") or utcnow()
        given = attributes or {}
        self.check_attributes(role_type, given)  # refuse bad input before touching anything
        with ctx.atomic():
            row_party = ctx.party_row(party)
            values = self.initial_attributes(role_type, row_party.id, given)
            if role_type.party_kinds is not None and row_party.kind not in role_type.party_kinds:
                allowed = ", ".join(sorted(role_type.party_kinds))
                raise ValidationError.single(
                    "party",
                    f"a party of kind {row_party.kind!r} cannot hold role {type!r} "
                    f"(only {allowed})",
                )
            held = self._open_row(row_party.id, type)
            if held is not None:
                since = "" if held.started_at <= ctx.now() else f" from {held.started_at:%Y-%m-%d}"
                raise Conflict(
                    f"party {row_party.id} already holds role {type!r}{since}", field="type"
                )
            row = RoleRow(
                party_id=row_party.id,
                type=type,
                state=start,
                attributes=values,
                started_at=when,
                ended_at=None,
            )
            row.transitions = [
                RoleTransitionRow(from_state=None, to_state=start, at=when, note=note)
            ]
            ctx.db.add(row)
            ctx.db.flush()
            role = Role.of(row)
            ctx.notify("xrm_validate_role_transition", role=role, from_state=None, to_state=start)
            ctx.record(
                RoleAssigned(
                    entity_id=row.id,
                    parties=(row.party_id,),
                    occurred_at=when,
                    type=type,
                    state=start,
                    attributes=values,
                    note=note,
                )
            )
            ctx.notify("xrm_role_changed", role=role, from_state=None)
            return Role.of(row)  # as the plugins left it

    def transition(
        self,
        role: RoleRef,
        to: str,
        *,
        at: dt.datetime | dt.date | None = None,
        note: str | None = None,
        version: int | None = None,
    ) -> Role:
        """Move a current role to state ``to``; only the role type's transitions are allowed.
        The transition is dated ``at`` (default now), never before the previous one."""
        ctx = self._ctx
        when = as_utc(at, "at") or utcnow()
        with ctx.atomic():
            row = self._row(role, version)
            role_type = self.role_type(row.type)
            if row.ended_at is not None:
                raise ValidationError.single("role", f"role {row.id} ended; assign it again")
            if to not in role_type.states:
                raise ValidationError.single(
                    "to",
                    f"{to!r} is not a state of role {row.type!r} ({', '.join(role_type.states)})",
                )
            allowed = role_type.allowed_from(row.state)
            if to not in allowed:
                options = ", ".join(sorted(allowed)) or "none: it is a final state"
                raise ValidationError.single(
                    "to",
                    f"role {row.type!r} cannot go from {row.state!r} to {to!r} "
                    f"(allowed: {options})",
                )
            self._not_before_last(row, when)
            before = row.state
            row.state = to
            row.transitions.append(
                RoleTransitionRow(from_state=before, to_state=to, at=when, note=note)
            )
            ctx.db.flush()
            result = Role.of(row)
            ctx.notify("xrm_validate_role_transition", role=result, from_state=before, to_state=to)
            ctx.record(
                RoleTransitioned(
                    entity_id=row.id,
                    parties=(row.party_id,),
                    occurred_at=when,
                    type=row.type,
                    from_state=before,
                    to_state=to,
                    note=note,
                )
            )
            ctx.notify("xrm_role_changed", role=result, from_state=before)
            if to in role_type.final_states:
                # a final state that ends the role (a lost lead, a blocked supplier)
                return self._end(row, when, f"reached {to}")
            return Role.of(row)

    def update(
        self, role: RoleRef, attributes: Mapping[str, Any], *, version: int | None = None
    ) -> Role:
        """Replace the role's attributes (validated by the role type's schema)."""
        ctx = self._ctx
        with ctx.atomic():
            row = self._row(role, version)
            role_type = self.role_type(row.type)
            values = self.check_attributes(role_type, attributes)
            before = dict(row.attributes or {})
            if values == before:
                return Role.of(row)
            row.attributes = values
            ctx.db.flush()
            ctx.notify("xrm_validate_role_update", role=Role.of(row), before=before, after=values)
            ctx.record(
                RoleUpdated(
                    entity_id=row.id,
                    parties=(row.party_id,),
                    type=row.type,
                    before=before,
                    after=values,
                )
            )
            return Role.of(row)

    def end(
        self,
        role: RoleRef,
        *,
        at: dt.datetime | dt.date | None = None,
        note: str | None = None,
        version: int | None = None,
    ) -> Role:
        """End a role: the party no longer holds it; its history stays."""
        ctx = self._ctx
        when = as_utc(at, "at") or utcnow()
        with ctx.atomic():
            row = self._row(role, version)
            if row.ended_at is not None:
                raise ValidationError.single("role", f"role {row.id} already ended")
            self._not_before_last(row, when)
            return self._end(row, when, note)

    def _end(self, row: RoleRow, when: dt.datetime, note: str | None) -> Role:
        ctx = self._ctx
        row.ended_at = when
        ctx.db.flush()
        result = Role.of(row)
        ctx.notify("xrm_validate_role_transition", role=result, from_state=row.state, to_state=None)
        ctx.record(
            RoleEnded(
                entity_id=row.id,
                parties=(row.party_id,),
                occurred_at=when,
                type=row.type,
                state=row.state,
                note=note,
            )
        )
        ctx.notify("xrm_role_changed", role=result, from_state=row.state)
        return Role.of(row)

    def get(self, role: RoleRef) -> Role:
        return Role.of(self._row(role, None))

    def current(self, party: PartyRef, type: str) -> Role | None:
        """The party's role of ``type`` current now (started, not ended), or ``None``."""
        row = self._current_row(ref_id(party), type)
        return Role.of(row) if row is not None else None

    def of(
        self, party: PartyRef, *, type: str | None = None, include_ended: bool = False
    ) -> list[Role]:
        """The party's roles, oldest first: those not ended (one that starts later
        included), and ended ones too with ``include_ended``."""
        query = (
            select(RoleRow)
            .where(RoleRow.party_id == ref_id(party))
            .options(selectinload(RoleRow.transitions))
            .order_by(RoleRow.started_at, RoleRow.id)
        )
        if type is not None:
            query = query.where(RoleRow.type == type)
        if not include_ended:
            query = query.where(role_open())
        return [Role.of(r) for r in self._ctx.db.scalars(query)]

    # -- helpers -----------------------------------------------------------------------
    def role_type(self, name: str) -> RoleType:
        """The registered role type ``name``; unknown names are a ValidationError."""
        role_type = self._ctx.registry.role_types.get(name)
        if role_type is None:
            known = ", ".join(sorted(self._ctx.registry.role_types)) or "none registered"
            raise ValidationError.single("type", f"unknown role type {name!r} ({known})")
        return role_type

    def check_attributes(
        self, role_type: RoleType, attributes: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``attributes`` validated by the type's schema, as JSON-ready data."""
        if not isinstance(attributes, Mapping):
            raise ValidationError.single("attributes", "must be a mapping")
        if role_type.schema is None:
            from xrm.core.uow import jsonable

            return dict(jsonable(dict(attributes)))
        model = validate_model(role_type.schema, dict(attributes), "attributes")
        return dict(model.model_dump(mode="json"))

    def initial_attributes(
        self, role_type: RoleType, party_id: int, given: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The attributes a new role starts with: the type's defaults, then ``given``."""
        if role_type.defaults is None:
            return self.check_attributes(role_type, given)
        return self.check_attributes(role_type, {**role_type.defaults(party_id), **given})

    def _current_row(self, party_id: int, type: str) -> RoleRow | None:
        return self._ctx.db.scalar(
            select(RoleRow).where(
                RoleRow.party_id == party_id, RoleRow.type == type, role_current(self._ctx.now())
            )
        )

    def _open_row(self, party_id: int, type: str) -> RoleRow | None:
        return self._ctx.db.scalar(
            select(RoleRow).where(RoleRow.party_id == party_id, RoleRow.type == type, role_open())
        )

    def _row(self, role: RoleRef, version: int | None) -> RoleRow:
        ident = ref_id(role, "role")
        if version is None and isinstance(role, Role):
            version = role.version
        row = self._ctx.db.get(RoleRow, ident)
        if row is None:
            raise NotFound("role", ident)
        if version is not None and row.version != version:
            raise Conflict(
                f"role {ident} changed since it was read (version {version}, now {row.version})",
                field="version",
            )
        return row

    @staticmethod
    def _not_before_last(row: RoleRow, when: dt.datetime) -> None:
        last = max((t.at for t in row.transitions), default=row.started_at)
        if when < last:
            raise ValidationError.single(
                "at", f"{when.isoformat()} is before the role's last change ({last.isoformat()})"
            )
