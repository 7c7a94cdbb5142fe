"""What the plugin registers: the ``employee`` role, its two relationship types and the
``internal`` touchpoint."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

from xrm import RelationshipType, RoleType, Touchpoint

__all__ = [
    "CURRENT_STATES",
    "EMPLOYED_BY",
    "EMPLOYEE",
    "INTERNAL",
    "REPORTS_TO",
    "EmployeeAttributes",
]

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class EmployeeAttributes(BaseModel):
    """The attributes of an ``employee`` role.

    ``employee_number`` is required and unique among current employees (checked by the
    plugin's veto hook, not by this schema: uniqueness needs the database).
    """

    model_config = ConfigDict(extra="forbid")

    employee_number: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)
    ]
    department: Text | None = None
    title: Text | None = None
    hire_date: dt.date | None = None
    #: the last day of work; never before ``hire_date``
    end_date: dt.date | None = None

    @model_validator(mode="after")
    def _end_not_before_hire(self) -> Self:
        if self.hire_date and self.end_date and self.end_date < self.hire_date:
            raise ValueError(
                f"end_date {self.end_date.isoformat()} is before hire_date "
                f"{self.hire_date.isoformat()}"
            )
        return self


#: The states in which a held (not ended) employee role makes its party a current
#: employee: every state but ``left``.
CURRENT_STATES: tuple[str, ...] = ("candidate", "active", "on_leave")

EMPLOYEE = RoleType(
    "employee",
    label="Employee",
    states=["candidate", "active", "on_leave", "left"],
    transitions={
        "candidate": ["active", "left"],
        "active": ["on_leave", "left"],
        "on_leave": ["active", "left"],
        "left": [],
    },
    # a new hire starts as a candidate; staff already at work are imported as active
    initial_states=["candidate", "active"],
    party_kinds=["person"],
    schema=EmployeeAttributes,
    # a current employee is one of the company's own parties: it may send, call and
    # organise for the company, and its consent is not asked for what it does there
    internal_states=CURRENT_STATES,
    final_states=["left"],  # a leaver no longer holds the role: not current, not internal
)


EMPLOYED_BY = RelationshipType(
    "employed_by",
    forward_label="is employed by",
    inverse_label="employs",
    from_kinds=["person"],
    to_kinds=["organization"],
    max_per_from=1,
)

REPORTS_TO = RelationshipType(
    "reports_to",
    forward_label="reports to",
    inverse_label="manages",
    from_kinds=["person"],
    to_kinds=["person"],
)

#: Contacts between collaborators. The interaction's direction already says ``internal``;
#: the touchpoint says where in the company it happened, so internal work can be filtered
#: out of (or into) a party's list of interactions like sales or support.
INTERNAL = Touchpoint("internal", "Internal collaboration")
