"""The built-in customers plugin: the ``customer`` role and the reports the seeds ask for.

- Role ``customer``: lead → prospect → customer → inactive (→ customer again), and lost
  from lead or prospect. Attributes: ``customer_number`` (assigned automatically from the
  party, so a customer who comes back keeps it), ``segment``, ``acquisition_channel``.
- Relationship ``account_manager``: a customer *is managed by* a person (at most one at a
  time); the person *manages* the customer.
- Reports, each one SQL query over all customers: :func:`not_contacted_since`,
  :func:`contact_counts`, :func:`last_interactions`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from xrm import Conflict, RelationshipType, Role, RoleType, hookimpl
from xrm.tables import RoleRow

if TYPE_CHECKING:
    from xrm import Session

from xrm.plugins.customers.reports import (
    ContactCount,
    CustomerActivity,
    LastInteraction,
    contact_counts,
    last_interactions,
    not_contacted_since,
)

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
    # one number per party: a customer who comes back keeps it
    defaults=lambda party_id: {"customer_number": f"C{party_id:07d}"},
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


#: the form of the numbers the role gives by default: ``C`` and the party id
_DEFAULT_NUMBER = re.compile(r"C(\d{7,})")


def _require_number_free(session: Session, role: Role, number: Any) -> None:
    """A customer number names one party: refuse it when another party's customer role
    (current or ended) already has it. The same party may hold it again (it keeps its
    number when it comes back). A number of the default form (``C0000042``) belongs to
    the party it names: checked without a query, so the bulk import stays set-based; a
    number given by hand is looked up among the customer roles."""
    if not isinstance(number, str):
        return
    given = _DEFAULT_NUMBER.fullmatch(number)
    if given is not None:  # the form of the default numbers: each is its party's alone
        owner = int(given.group(1))
        if owner != role.party_id:
            raise Conflict(
                f"customer number {number!r} is the number party {owner} is given",
                field="attributes.customer_number",
            )
        return  # the party's own default number: unique by construction, no query
    holder = session.db.scalar(
        select(RoleRow.party_id)
        .where(
            RoleRow.type == CUSTOMER.name,
            RoleRow.attributes["customer_number"].as_string() == number,
            RoleRow.party_id != role.party_id,
        )
        .limit(1)
    )
    if holder is not None:
        raise Conflict(
            f"customer number {number!r} already belongs to party {holder}",
            field="attributes.customer_number",
        )


@hookimpl
def xrm_validate_role_transition(
    session: Session, role: Role, from_state: str | None, to_state: str | None
) -> None:
    if role.type == CUSTOMER.name and from_state is None:  # assigned
        _require_number_free(session, role, role.attributes.get("customer_number"))


@hookimpl
def xrm_validate_role_update(
    session: Session, role: Role, before: dict[str, Any], after: dict[str, Any]
) -> None:
    number = after.get("customer_number")
    if role.type == CUSTOMER.name and number != before.get("customer_number"):
        _require_number_free(session, role, number)
