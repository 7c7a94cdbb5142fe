"""Procurement: the touchpoint, the purpose, and the rule that keeps blocked suppliers out."""

from __future__ import annotations

from xrm import Interaction, LawfulBasis, Purpose, Role, Session, Touchpoint
from xrm.errors import FieldError, ValidationError
from xrm_suppliers._supplier_role import BLOCKED, SUPPLIER

__all__ = ["PROCUREMENT", "PURCHASING", "is_procurement_contact", "refuse_blocked_suppliers"]

PROCUREMENT = Touchpoint("procurement", "Procurement")

PURCHASING = Purpose(
    "purchasing",
    LawfulBasis.CONTRACT,
    "Requests for quotation, purchase orders and supplier follow-up",
    requires_role=SUPPLIER.name,
)


def is_procurement_contact(interaction: Interaction) -> bool:
    """An outbound interaction at the ``procurement`` touchpoint or for ``purchasing``."""
    return interaction.direction == "outbound" and (
        interaction.touchpoint == PROCUREMENT.name or interaction.purpose == PURCHASING.name
    )


def refuse_blocked_suppliers(session: Session, interaction: Interaction) -> None:
    """Raise :class:`~xrm.ValidationError` when an outbound procurement contact has a
    participant whose current supplier role is blocked, one error per such participant
    saying which supplier, since when and why.

    Every participant counts, whatever its role in the interaction: the company does not
    deal with a blocked supplier at all. Inbound and internal interactions are never
    refused (a blocked supplier's letters are still recorded).
    """
    if not is_procurement_contact(interaction):
        return
    errors: list[FieldError] = []
    for index, participant in enumerate(interaction.participants):
        role = session.roles.current(participant.party_id, SUPPLIER.name)
        if role is not None and role.state == BLOCKED:
            errors.append(FieldError(f"participants.{index}.party", _why(session, role)))
    if errors:
        raise ValidationError(errors)


def _why(session: Session, role: Role) -> str:
    party = session.parties.get(role.party_id)
    block = next(t for t in reversed(role.transitions) if t.to_state == BLOCKED)
    reason = f" ({block.note})" if block.note else ""
    return (
        f"supplier {party.display_name!r} (party {party.id}) is blocked since "
        f"{block.at.date().isoformat()}{reason}: no outbound procurement contact with a "
        "blocked supplier"
    )
