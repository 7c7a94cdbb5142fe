"""What the partners plugin registers: the ``partner`` role and its attributes, the
relationship types of a partner programme, its purpose and its touchpoint."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from xrm import LawfulBasis, Purpose, RelationshipType, RoleType, Touchpoint

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
    "PartnerTier",
    "PartnerType",
]

PartnerType = Literal["reseller", "referral", "technology", "service", "distributor"]
#: lowest first
PartnerTier = Literal["registered", "silver", "gold", "platinum"]
PartnerState = Literal["applicant", "active", "suspended", "ended"]

PARTNER_TYPES: Final[tuple[PartnerType, ...]] = get_args(PartnerType)
TIERS: Final[tuple[PartnerTier, ...]] = get_args(PartnerTier)
PARTNER_STATES: Final[tuple[PartnerState, ...]] = get_args(PartnerState)

Programme = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class PartnerAttributes(BaseModel):
    """The attributes of a ``partner`` role.

    ``agreement_start`` and ``agreement_end`` are the first and the last day the partner
    agreement is in force (both included); the end must come after the start, and an end
    needs a start.
    """

    model_config = ConfigDict(extra="forbid")

    partner_type: PartnerType
    tier: PartnerTier = "registered"
    programme: Programme | None = None
    agreement_start: dt.date | None = None
    agreement_end: dt.date | None = None

    @field_validator("agreement_end")
    @classmethod
    def _end_after_start(cls, end: dt.date | None, info: ValidationInfo) -> dt.date | None:
        if end is None:
            return end
        if "agreement_start" not in info.data:  # the start was itself refused
            return end
        start: dt.date | None = info.data["agreement_start"]
        if start is None:
            raise PydanticCustomError(
                "agreement_dates", "an agreement end needs an agreement_start"
            )
        if end <= start:
            raise PydanticCustomError(
                "agreement_dates",
                "must be after agreement_start ({start})",
                {"start": start.isoformat()},
            )
        return end


PARTNER: Final = RoleType(
    "partner",
    states=PARTNER_STATES,
    transitions={
        # an application is accepted, or declined (ended)
        "applicant": ["active", "ended"],
        "active": ["suspended", "ended"],
        "suspended": ["active", "ended"],
    },
    # an existing partner taken on from another system may start active
    initial_states=["applicant", "active"],
    # an ended partnership no longer holds the role (a new one may start later)
    final_states=["ended"],
    label="Partner",
    schema=PartnerAttributes,
)

REFERRED: Final = RelationshipType(
    "referred",
    forward_label="referred",
    inverse_label="was referred by",
    from_roles=[PARTNER.name],
    # a referral is credited to one partner at a time: end it to credit another
    max_per_to=1,
)

RESELLS_FOR: Final = RelationshipType(
    "resells_for",
    forward_label="resells for",
    inverse_label="is resold by",
    from_roles=[PARTNER.name],
    to_kinds=["organization"],
    # no cap at either end: a reseller may carry several brands, a brand has many
    # resellers; the core refuses the same pair twice over the same days
)

DISTRIBUTES_TO: Final = RelationshipType(
    "distributes_to",
    forward_label="distributes to",
    inverse_label="buys through",
    from_roles=[PARTNER.name],
    to_roles=[PARTNER.name],
    # a reseller buys through one distributor at a time (two-tier distribution)
    max_per_to=1,
)

PARTNER_MANAGER: Final = RelationshipType(
    "partner_manager",
    forward_label="has partner manager",
    inverse_label="is partner manager of",
    from_roles=[PARTNER.name],
    to_kinds=["person"],
    max_per_from=1,
)

PARTNER_COMMUNICATIONS: Final = Purpose(
    "partner_communications",
    LawfulBasis.CONTRACT,
    "Partner programme communications: agreement, commissions, programme changes",
    requires_role=PARTNER.name,
)

PARTNER_MANAGEMENT: Final = Touchpoint("partner_management", "Partner management")

#: the types a relationship's ``from`` partner must have, and the states it must be in
FROM_PARTNER_RULES: Final[dict[str, tuple[frozenset[str] | None, frozenset[str]]]] = {
    REFERRED.name: (None, frozenset({"active"})),
    RESELLS_FOR.name: (frozenset({"reseller", "distributor"}), frozenset({"active"})),
    DISTRIBUTES_TO.name: (frozenset({"distributor"}), frozenset({"active"})),
}
#: the types a relationship's ``to`` partner must have
TO_PARTNER_TYPES: Final[dict[str, frozenset[str]]] = {
    DISTRIBUTES_TO.name: frozenset({"reseller"}),
}
