"""Internal interactions: contacts between collaborators, all of them current employees."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from xrm import Interaction, ValidationError
from xrm.errors import FieldError
from xrm_employees._employees import PartyRef, current_employee_ids, party_id
from xrm_employees._types import INTERNAL

if TYPE_CHECKING:
    from xrm import Session

__all__ = ["check_internal", "record_internal"]


def _require_current_employees(session: Session, parties: Sequence[tuple[str, int]]) -> None:
    """Refuse, field by field, the ``(field, party id)`` pairs that are not current
    employees."""
    current = current_employee_ids(session, [p for _, p in parties])
    errors = [
        FieldError(field, f"party {ident} is not a current employee")
        for field, ident in parties
        if ident not in current
    ]
    if errors:
        raise ValidationError(errors)


def record_internal(
    session: Session,
    author: PartyRef,
    attendees: Sequence[PartyRef],
    subject: str,
    content: str | None = None,
    channel: str = "chat",
) -> Interaction:
    """Record an internal interaction (a chat thread, a meeting...) written or called by
    ``author`` with ``attendees``, at the ``internal`` touchpoint.

    Every participant must be a current employee; otherwise :class:`~xrm.ValidationError`
    names each one refused (``author``, ``attendees.1``...) and nothing is written.
    """
    author_id = party_id(author, "author")
    if isinstance(attendees, str | bytes) or not attendees:
        raise ValidationError.single("attendees", "give at least one attendee")
    attendee_ids = [party_id(a, f"attendees.{i}") for i, a in enumerate(attendees)]
    if author_id in attendee_ids:
        raise ValidationError.single(
            f"attendees.{attendee_ids.index(author_id)}", "the author is already a participant"
        )
    _require_current_employees(
        session,
        [("author", author_id), *((f"attendees.{i}", a) for i, a in enumerate(attendee_ids))],
    )
    return session.interactions.record(
        channel=channel,
        direction="internal",
        touchpoint=INTERNAL.name,
        participants=[(author_id, "author"), *((a, "attendee") for a in attendee_ids)],
        subject=subject,
        content=content,
    )


def check_internal(session: Session, interaction: Interaction) -> None:
    """The rule behind the interaction veto: at the ``internal`` touchpoint, the direction
    is ``internal`` and every participant a current employee, however it was recorded."""
    if interaction.touchpoint != INTERNAL.name:
        return
    if interaction.direction != "internal":
        raise ValidationError.single(
            "direction",
            f"an interaction at the {INTERNAL.name!r} touchpoint must be internal, "
            f"not {interaction.direction!r}",
        )
    _require_current_employees(
        session,
        [(f"participants.{i}", p.party_id) for i, p in enumerate(interaction.participants)],
    )
