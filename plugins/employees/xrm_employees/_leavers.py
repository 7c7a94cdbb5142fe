"""When an employee leaves, the customers they manage need another account manager.

The built-in customers plugin registers ``account_manager``: from the customer to the
person, read "is managed by". These functions read the stored links of that type; when
the customers plugin is disabled there are none, and a leaver simply has no customers.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import select

from xrm import Role
from xrm.tables import PartyRow, RelationshipRow, relationship_valid
from xrm_employees._employees import PartyRef, party_id

if TYPE_CHECKING:
    from xrm import Session

__all__ = ["ACCOUNT_MANAGER", "LEFT_EVENT", "ManagedCustomer", "customers_managed_by"]

#: the relationship type of the built-in customers plugin, from customer to person
ACCOUNT_MANAGER = "account_manager"
#: the journal event written when an employee leaves
LEFT_EVENT = "employees.left"


class ManagedCustomer(NamedTuple):
    """A customer whose account manager is the person asked about."""

    party_id: int
    display_name: str
    #: the ``account_manager`` relationship to end or replace
    relationship_id: int
    #: the first day of that relationship
    since: dt.date


def customers_managed_by(
    session: Session, person: PartyRef, as_of: dt.date | dt.datetime | None = None
) -> list[ManagedCustomer]:
    """The parties whose ``account_manager`` relationship to ``person`` holds on ``as_of``
    (default today), by name: one query."""
    valid = relationship_valid(as_of)  # a bad as_of raises ValidationError("as_of")
    rel = RelationshipRow
    query = (
        select(PartyRow.id, PartyRow.display_name, rel.id, rel.valid_from)
        .join(rel, rel.from_party_id == PartyRow.id)
        .where(
            rel.type == ACCOUNT_MANAGER,
            rel.to_party_id == party_id(person, "person"),
            valid,
        )
        .order_by(PartyRow.display_name, PartyRow.id)
    )
    return [ManagedCustomer(*row) for row in session.db.execute(query)]


def report_leaver(session: Session, role: Role) -> int:
    """Write the ``employees.left`` event for the employee role ``role``, which just moved
    to ``left`` or was ended, into the timelines of the employee and of every customer
    they managed on the day they left. Returns the event id."""
    when = role.ended_at if role.ended_at is not None else role.transitions[-1].at
    customers = customers_managed_by(session, role.party_id, as_of=when)
    return session.record_event(
        LEFT_EVENT,
        parties=[role.party_id, *(c.party_id for c in customers)],
        data={
            "employee": role.party_id,
            "state": role.state,
            "role_ended": role.ended_at is not None,
            "customers_to_reassign": [
                {
                    "party_id": c.party_id,
                    "display_name": c.display_name,
                    "relationship_id": c.relationship_id,
                }
                for c in customers
            ],
        },
        entity="role",
        entity_id=role.id,
        occurred_at=when,
    )
