"""xrm-partners: the partner programme for xrm.

- Role ``partner`` (any kind of party): applicant → active ⇄ suspended, and applicant,
  active or suspended → ended. Entering ``ended`` also ends the role, so the party is no
  longer a current partner. Attributes (:class:`PartnerAttributes`): ``partner_type``,
  ``tier``, ``programme``, ``agreement_start`` / ``agreement_end``.
- Relationships: ``referred`` (a partner referred a party; one partner credited per party
  at a time), ``resells_for`` (a reseller or distributor partner resells for an
  organization), ``distributes_to`` (a distributor supplies a reseller; one distributor
  per reseller at a time), ``partner_manager`` (the person who manages a partner; one at
  a time). Referring, reselling and distributing need an *active* partner.
- Purpose ``partner_communications`` (contract basis, while the party is a current partner)
  and touchpoint ``partner_management``.
- Reports, each one SQL query: :func:`partners`, :func:`referral_counts`,
  :func:`agreements_ending`.
"""

from __future__ import annotations

from collections.abc import Iterable

from xrm import (
    Purpose,
    Relationship,
    RelationshipType,
    Role,
    RoleType,
    Session,
    Touchpoint,
    ValidationError,
    hookimpl,
)
from xrm_partners._reports import (
    PartnerSummary,
    ReferralCount,
    agreements_ending,
    partners,
    referral_counts,
)
from xrm_partners._types import (
    DISTRIBUTES_TO,
    FROM_PARTNER_RULES,
    PARTNER,
    PARTNER_COMMUNICATIONS,
    PARTNER_MANAGEMENT,
    PARTNER_MANAGER,
    PARTNER_STATES,
    PARTNER_TYPES,
    REFERRED,
    RESELLS_FOR,
    TIERS,
    TO_PARTNER_TYPES,
    PartnerAttributes,
    PartnerState,
    PartnerTier,
    PartnerType,
)

__all__ = [
    "DISTRIBUTES_TO",
    "PARTNER",
    "PARTNER_COMMUNICATIONS",
    "PARTNER_MANAGEMENT",
    "PARTNER_MANAGER",
    "PARTNER_STATES",
    "PARTNER_TYPES",
    "REFERRED",
    "RESELLS_FOR",
    "TIERS",
    "PartnerAttributes",
    "PartnerState",
    "PartnerSummary",
    "PartnerTier",
    "PartnerType",
    "ReferralCount",
    "agreements_ending",
    "partners",
    "referral_counts",
]


@hookimpl
def xrm_touchpoints() -> Iterable[Touchpoint]:
    return [PARTNER_MANAGEMENT]


@hookimpl
def xrm_purposes() -> Iterable[Purpose]:
    return [PARTNER_COMMUNICATIONS]


@hookimpl
def xrm_role_types() -> Iterable[RoleType]:
    return [PARTNER]


@hookimpl
def xrm_relationship_types() -> Iterable[RelationshipType]:
    return [REFERRED, RESELLS_FOR, DISTRIBUTES_TO, PARTNER_MANAGER]


@hookimpl
def xrm_validate_relationship(session: Session, relationship: Relationship, action: str) -> None:
    """Refuse a referral, resale or distribution link from a partner that is not active or
    not of the right type (the core has already checked that both ends hold the role)."""
    rule = FROM_PARTNER_RULES.get(relationship.type)
    if action != "create" or rule is None:
        return
    types, states = rule
    name = relationship.type
    source = _partner_role(session, relationship.from_party_id, "from_party", name)
    if source.state not in states:
        raise ValidationError.single(
            "from_party",
            f"partner {source.party_id} is {source.state}: only an active partner may be at "
            f"the 'from' end of {name!r}",
        )
    _check_type(source, types, "from_party", name)
    target_types = TO_PARTNER_TYPES.get(name)
    if target_types is not None:
        target = _partner_role(session, relationship.to_party_id, "to_party", name)
        _check_type(target, target_types, "to_party", name)


def _partner_role(session: Session, party_id: int, field: str, name: str) -> Role:
    role = session.roles.current(party_id, PARTNER.name)
    if role is None:  # the relationship type requires the role: only if rules change
        raise ValidationError.single(field, f"party {party_id} is not a partner ({name!r})")
    return role


def _check_type(role: Role, allowed: frozenset[str] | None, field: str, name: str) -> None:
    kind = role.attributes.get("partner_type")
    if allowed is not None and kind not in allowed:
        raise ValidationError.single(
            field,
            f"partner {role.party_id} is a {kind} partner; the {field.split('_')[0]!r} end of "
            f"{name!r} must be a {' or '.join(sorted(allowed))} partner",
        )
