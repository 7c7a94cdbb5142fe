"""xrm-employees: the company's own people.

- Role ``employee`` (persons only): candidate → active ⇄ on_leave, and → left (final) from
  any other state. Attributes :class:`EmployeeAttributes`: ``employee_number`` (required,
  unique among current employees), ``department``, ``title``, ``hire_date``, ``end_date``.
- Relationships ``employed_by`` (a person *is employed by* an organization, at most one at
  a time; it *employs* them) and ``reports_to`` (a person *reports to* a person, who
  *manages* them), refused when it would close a reporting loop.
- Touchpoint ``internal`` and :func:`record_internal` for contacts between collaborators.
- When an employee leaves (state ``left``, or the role ended) an ``employees.left`` event
  lists the customers they managed, in the timelines of the employee and of each customer;
  :func:`customers_managed_by` answers the same question on any day.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from xrm import (
    Interaction,
    Relationship,
    RelationshipType,
    Role,
    RoleType,
    Touchpoint,
    hookimpl,
)
from xrm import ValidationError as _ValidationError
from xrm_employees._employees import (
    PartyRef,
    current_employee_ids,
    find_employee,
    require_number_free,
    update_employee,
)
from xrm_employees._hierarchy import first_day_of_loop
from xrm_employees._internal import check_internal, record_internal
from xrm_employees._leavers import (
    ACCOUNT_MANAGER,
    LEFT_EVENT,
    ManagedCustomer,
    customers_managed_by,
    report_leaver,
)
from xrm_employees._types import (
    CURRENT_STATES,
    EMPLOYED_BY,
    EMPLOYEE,
    INTERNAL,
    REPORTS_TO,
    EmployeeAttributes,
)

if TYPE_CHECKING:
    from xrm import Session

__all__ = [
    "ACCOUNT_MANAGER",
    "CURRENT_STATES",
    "EMPLOYED_BY",
    "EMPLOYEE",
    "INTERNAL",
    "LEFT_EVENT",
    "REPORTS_TO",
    "EmployeeAttributes",
    "ManagedCustomer",
    "PartyRef",
    "current_employee_ids",
    "customers_managed_by",
    "find_employee",
    "record_internal",
    "update_employee",
]


@hookimpl
def xrm_touchpoints() -> Iterable[Touchpoint]:
    return [INTERNAL]


@hookimpl
def xrm_role_types() -> Iterable[RoleType]:
    return [EMPLOYEE]


@hookimpl
def xrm_relationship_types() -> Iterable[RelationshipType]:
    return [EMPLOYED_BY, REPORTS_TO]


@hookimpl
def xrm_validate_role_transition(session: Session, role: Role, to_state: str | None) -> None:
    """An employee number is unique among current employees: checked whenever a role
    is assigned or moves to a state other than ``left``."""
    if role.type == EMPLOYEE.name and to_state in CURRENT_STATES:
        require_number_free(session, str(role.attributes["employee_number"]), role_id=role.id)


@hookimpl
def xrm_validate_relationship(session: Session, relationship: Relationship, action: str) -> None:
    """Refuse a ``reports_to`` link that would close a reporting loop."""
    if relationship.type != REPORTS_TO.name or action != "create":
        return
    first = first_day_of_loop(session, relationship)
    if first is not None:
        source, target = relationship.from_party_id, relationship.to_party_id
        raise _ValidationError.single(
            "to_party",
            f"party {source} cannot report to party {target}: from {first.isoformat()} "
            f"party {target} already reports to party {source}, directly or through others, "
            "so the link would close a reporting loop",
        )


@hookimpl
def xrm_validate_interaction(session: Session, interaction: Interaction) -> None:
    """Only current employees take part in an interaction at the ``internal`` touchpoint."""
    check_internal(session, interaction)


@hookimpl
def xrm_role_changed(session: Session, role: Role, from_state: str | None) -> None:
    """An employee who leaves, or whose role is ended before leaving, is reported once
    with the customers to reassign."""
    if role.type != EMPLOYEE.name or from_state is None:
        return
    moved_to_left = role.ended_at is None and role.state == "left"
    ended_before_leaving = role.ended_at is not None and role.state != "left"
    if moved_to_left or ended_before_leaving:
        report_leaver(session, role)
