"""Who is a current employee, and the rule that keeps employee numbers unique among them.

A party is a **current employee** while it holds an ``employee`` role that is not ended
and not in state ``left`` (candidates and employees on leave count). Every query here is
one SQL statement, whatever the number of parties asked about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pydantic
from sqlalchemy import ColumnElement, select

from xrm import Conflict, Party, Role, ValidationError
from xrm.tables import RoleRow, role_current
from xrm_employees._types import CURRENT_STATES, EMPLOYEE, EmployeeAttributes

if TYPE_CHECKING:
    from xrm import Session

__all__ = [
    "PartyRef",
    "current_employee_ids",
    "find_employee",
    "party_id",
    "require_number_free",
    "update_employee",
]

#: a party given by id or as a record (``xrm.Party``)
PartyRef = int | Party


def party_id(ref: PartyRef, field: str = "party") -> int:
    """The id of a party given by id or record."""
    if isinstance(ref, Party):
        return ref.id
    if isinstance(ref, int) and not isinstance(ref, bool):
        return ref
    raise ValidationError.single(field, f"expected a party id or an xrm.Party, got {ref!r}")


def _current_employee() -> tuple[ColumnElement[bool], ...]:
    return (
        RoleRow.type == EMPLOYEE.name,
        role_current(),
        RoleRow.state.in_(CURRENT_STATES),
    )


def current_employee_ids(session: Session, parties: Iterable[PartyRef]) -> set[int]:
    """Those of ``parties`` that are current employees."""
    wanted = {party_id(p) for p in parties}
    if not wanted:
        return set()
    query = select(RoleRow.party_id).where(RoleRow.party_id.in_(wanted), *_current_employee())
    return set(session.db.scalars(query))


def _number_holder(session: Session, number: str, *, other_than: int | None) -> RoleRow | None:
    query = (
        select(RoleRow)
        .where(*_current_employee(), RoleRow.attributes["employee_number"].as_string() == number)
        .order_by(RoleRow.id)
        .limit(1)
    )
    if other_than is not None:
        query = query.where(RoleRow.id != other_than)
    return session.db.scalar(query)


def find_employee(session: Session, employee_number: str) -> Role | None:
    """The current employee role that holds ``employee_number``, or ``None``."""
    row = _number_holder(session, employee_number.strip(), other_than=None)
    return session.roles.get(row.id) if row is not None else None


def require_number_free(session: Session, number: str, *, role_id: int | None) -> None:
    """Raise :class:`~xrm.Conflict` if a current employee other than the role ``role_id``
    already has ``number``."""
    holder = _number_holder(session, number, other_than=role_id)
    if holder is not None:
        raise Conflict(
            f"employee number {number!r} is already held by current employee party "
            f"{holder.party_id} (role {holder.id}); numbers are unique among current employees",
            field="attributes.employee_number",
        )


def update_employee(session: Session, person: PartyRef, changes: Mapping[str, Any]) -> Role:
    """Change some attributes of ``person``'s employee role, keeping the others.

    Use this rather than ``session.roles.update``: xrm calls no plugin hook when a role's
    attributes are replaced, so only this function checks that a new
    ``employee_number`` is not held by another current employee (:class:`~xrm.Conflict`).
    A value of ``None`` clears an optional attribute. Raises :class:`~xrm.ValidationError`
    when ``person`` holds no employee role or the attributes do not fit the schema.
    """
    role = session.roles.current(party_id(person, "person"), EMPLOYEE.name)
    if role is None:
        raise ValidationError.single("person", f"party {party_id(person)} holds no employee role")
    merged = {**role.attributes, **changes}
    try:
        number = EmployeeAttributes.model_validate(merged).employee_number
    except pydantic.ValidationError:
        number = None  # roles.update reports the errors the xrm way, field by field
    if number is not None and role.state in CURRENT_STATES:
        require_number_free(session, number, role_id=role.id)
    return session.roles.update(role, merged)
