"""xrm-suppliers: the ``supplier`` role, procurement contacts and supplier evaluations.

- Role ``supplier`` (organizations and persons, such as freelancers): candidate →
  qualified → approved ↔ suspended, and blocked from any of them. Blocked is final.
  Attributes: ``categories``, ``payment_terms`` (``on_receipt``, ``prepaid``, ``netN``) and
  ``rating`` (1-5, kept equal to the latest evaluation).
- Relationship ``supplies`` ("supplies" / "is supplied by"), from a current supplier.
- Touchpoint ``procurement`` and purpose ``purchasing`` (contract basis while the party
  holds a supplier role).
- Veto: no outbound interaction at ``procurement`` or for ``purchasing`` with a supplier
  whose current role is ``blocked``.
- Table ``suppliers_evaluation`` (Alembic branch ``suppliers``): :func:`evaluate`,
  :func:`evaluations`, and the report :func:`average_ratings`. A merge moves the
  duplicate's evaluations to the survivor; an unmerge gives them back.
"""

from __future__ import annotations

from collections.abc import Iterable

from xrm import (
    Interaction,
    Party,
    Purpose,
    RelationshipType,
    RoleType,
    Session,
    Touchpoint,
    hookimpl,
)
from xrm_suppliers._evaluations import (
    EVALUATED,
    Evaluation,
    evaluate,
    evaluations,
    give_back,
    move_to_survivor,
)
from xrm_suppliers._models import SupplierEvaluationRow
from xrm_suppliers._procurement import (
    PROCUREMENT,
    PURCHASING,
    is_procurement_contact,
    refuse_blocked_suppliers,
)
from xrm_suppliers._reports import SupplierRating, average_ratings
from xrm_suppliers._supplier_role import (
    BLOCKED,
    FIXED_PAYMENT_TERMS,
    MAX_NET_DAYS,
    SUPPLIER,
    SUPPLIES,
    SupplierAttributes,
    normalize_payment_terms,
)

__all__ = [
    "BLOCKED",
    "EVALUATED",
    "FIXED_PAYMENT_TERMS",
    "MAX_NET_DAYS",
    "PROCUREMENT",
    "PURCHASING",
    "SUPPLIER",
    "SUPPLIES",
    "Evaluation",
    "SupplierAttributes",
    "SupplierEvaluationRow",
    "SupplierRating",
    "average_ratings",
    "evaluate",
    "evaluations",
    "is_procurement_contact",
    "normalize_payment_terms",
]


@hookimpl
def xrm_role_types() -> Iterable[RoleType]:
    return [SUPPLIER]


@hookimpl
def xrm_relationship_types() -> Iterable[RelationshipType]:
    return [SUPPLIES]


@hookimpl
def xrm_touchpoints() -> Iterable[Touchpoint]:
    return [PROCUREMENT]


@hookimpl
def xrm_purposes() -> Iterable[Purpose]:
    return [PURCHASING]


@hookimpl
def xrm_migration_locations() -> Iterable[str]:
    return ["migrations"]  # relative: resolved by the host next to this module


@hookimpl
def xrm_validate_interaction(session: Session, interaction: Interaction) -> None:
    """Refuse an outbound procurement contact with a blocked supplier."""
    refuse_blocked_suppliers(session, interaction)


@hookimpl
def xrm_parties_merged(session: Session, survivor: Party, duplicate: Party) -> object:
    """The duplicate's evaluations become the survivor's."""
    return move_to_survivor(session, survivor, duplicate)


@hookimpl
def xrm_parties_unmerged(
    session: Session, survivor: Party, duplicate: Party, moved: object
) -> None:
    """An unmerge gives the duplicate its evaluations back."""
    give_back(session, survivor, duplicate, moved)
