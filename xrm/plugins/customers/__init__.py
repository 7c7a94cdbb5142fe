"""The built-in customers plugin: the ``customer`` role and the reports the seeds ask for.

- Role ``customer``: lead → prospect → customer → inactive (→ customer again), and lost
  from lead or prospect. Attributes: ``customer_number`` (assigned automatically when the
  role is first assigned, and kept if the party becomes a customer again), ``segment``,
  ``acquisition_channel``.
- Relationship ``account_manager``: a customer *is managed by* a person (at most one at a
  time); the person *manages* the customer.
- Reports, each one SQL query over all customers: :func:`not_contacted_since`,
  :func:`contact_counts`, :func:`last_interactions`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from xrm.core.records import Role
from xrm.core.registry import RelationshipType, RoleType
from xrm.plugin import hookimpl
from xrm.plugins.customers.reports import (
    ContactCount,
    CustomerActivity,
    LastInteraction,
    contact_counts,
    last_interactions,
    not_contacted_since,
)

if TYPE_CHECKING:
    from xrm.app import Session

__all__ = [
    "ACCOUNT_MANAGER",
    "CUSTOMER",
    "ContactCount",
    "CustomerActivity",
    "CustomerAttributes",
    "LastInteraction",
    "contact_counts",
    "last_interactions",
    "not_contacted_since",
]


class CustomerAttributes(BaseModel):
    """The attributes of a ``customer`` role."""

    model_config = ConfigDict(extra="forbid")

    customer_number: str | None = Field(default=None, max_length=40)
    segment: str | None = Field(default=None, max_length=60)
    acquisition_channel: str | None = Field(default=None, max_length=40)


CUSTOMER = RoleType(
    "customer",
    states=["lead", "prospect", "customer", "inactive", "lost"],
    transitions={
        "lead": ["prospect", "customer", "lost"],
        "prospect": ["customer", "lost"],
        "customer": ["inactive"],
        "inactive": ["customer"],
        "lost": ["lead"],
    },
    initial_states=["lead", "prospect", "customer"],
    label="Customer",
    schema=CustomerAttributes,
)

ACCOUNT_MANAGER = RelationshipType(
    "account_manager",
    forward_label="is managed by",
    inverse_label="manages",
    from_roles=["customer"],
    to_kinds=["person"],
    max_per_from=1,
)


@hookimpl
def xrm_role_types() -> Iterable[RoleType]:
    return [CUSTOMER]


@hookimpl
def xrm_relationship_types() -> Iterable[RelationshipType]:
    return [ACCOUNT_MANAGER]


@hookimpl
def xrm_role_changed(session: Session, role: Role, from_state: str | None) -> None:
    """Give a new customer role its customer number: the party's earlier one, if it was a
    customer before, else one made from the role's id."""
    if role.type != CUSTOMER.name or from_state is not None or role.ended_at is not None:
        return
    if role.attributes.get("customer_number"):
        return
    earlier = [
        r.attributes.get("customer_number")
        for r in session.roles.of(role.party_id, type=CUSTOMER.name, include_ended=True)
        if r.id != role.id
    ]
    number = next((n for n in reversed(earlier) if n), None) or f"C{role.id:07d}"
    session.roles.update(role, {**role.attributes, "customer_number": number})
