"""Threading: every recorded interaction (``xrm_interaction_recorded``) that names a case
is linked to it; an inbound one from a recognised party that names none opens a case."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import or_, select

from xrm import Interaction, Session
from xrm.tables import utcnow
from xrm_service._cases import (
    EMPLOYEE,
    _last_step_at,
    link_interaction,
    open_case,
    parse_reference,
    reference_of,
)
from xrm_service._config import config_of
from xrm_service._messages import BUSY, answer_survey
from xrm_service._models import CaseContactRow, CaseInteractionRow, CaseRow

__all__ = ["INBOUND_MAX_AGE", "on_interaction"]

#: an inbound interaction older than this (an imported history) opens no case
INBOUND_MAX_AGE = dt.timedelta(days=7)
_SCORE = re.compile(r"^\s*([1-5])(?!\d)")


def _customers(session: Session, interaction: Interaction) -> list[int]:
    """The participants who are not the company's own (no current employee role)."""
    return [
        p.party_id
        for p in interaction.participants
        if session.roles.current(p.party_id, EMPLOYEE) is None
    ]


def _case_of(session: Session, interaction: Interaction, customers: list[int]) -> CaseRow | None:
    """The case the interaction names: the message it replies to, a case reference in its
    subject, text or external reference, or a case's external reference; only a case of
    one of its participants (as customer or contact person)."""
    if not customers:
        return None
    mine = or_(
        CaseRow.party_id.in_(customers),
        CaseRow.id.in_(
            select(CaseContactRow.case_id).where(CaseContactRow.party_id.in_(customers))
        ),
    )
    answered = interaction.attributes.get("in_reply_to_message")
    if isinstance(answered, int):
        row = session.db.scalars(
            select(CaseRow)
            .join(CaseInteractionRow, CaseInteractionRow.case_id == CaseRow.id)
            .where(CaseInteractionRow.message_id == answered, mine)
            .limit(1)
        ).first()
        if row is not None:
            return row
    for text in (interaction.subject, interaction.external_ref, interaction.content):
        case_id = parse_reference(text)
        if case_id is not None:
            row = session.db.scalars(select(CaseRow).where(CaseRow.id == case_id, mine)).first()
            if row is not None:
                return row
    if interaction.external_ref:
        return session.db.scalars(
            select(CaseRow)
            .where(CaseRow.external_ref == interaction.external_ref, mine)
            .order_by(CaseRow.resolved_at.is_not(None), CaseRow.id.desc())
            .limit(1)
        ).first()
    return None


def _subject(interaction: Interaction) -> str:
    text = interaction.subject or " ".join((interaction.content or "").split())[:80]
    return text or f"Inbound {interaction.channel}"


def on_interaction(session: Session, interaction: Interaction) -> None:
    """Thread ``interaction`` onto the case it names, or open one for an inbound contact."""
    if session.db.info.get(BUSY) or interaction.direction == "internal":
        return
    config = config_of(session)
    flow = config.workflow
    customers = _customers(session, interaction)
    row = _case_of(session, interaction, customers)
    inbound = interaction.direction == "inbound"
    if row is not None:
        at = max(utcnow(), _last_step_at(session, row.id))
        stale = row.status in flow.done and not flow.reopen_allowed(row.resolved_at, at)
        if not (inbound and stale) or _survey_of(session, row, interaction) is not None:
            _thread(session, row, interaction)
            return
    if not inbound or not customers or not config.open_on_inbound:
        return
    if interaction.touchpoint is not None:
        if interaction.touchpoint not in config.inbound_touchpoints:
            return
    elif interaction.channel not in config.inbound_channels:
        return
    if utcnow() - interaction.occurred_at > INBOUND_MAX_AGE:
        return
    customer = session.parties.get(customers[0])
    if customer.merged_into is not None:
        return
    subject = _subject(interaction)
    if row is not None:  # a closed case named too late to reopen: a new one, saying so
        subject = f"{subject} (follows {reference_of(row.id)})"[:300]
    open_case(
        session, customer, subject, category=config.inbound_category,
        channel=interaction.channel, contacts=customers[1:], interaction=interaction.id,
        external_ref=None, at=min(interaction.occurred_at, utcnow()),
    )  # fmt: skip


def _survey_of(session: Session, row: CaseRow, interaction: Interaction) -> int | None:
    """The case's survey message the interaction answers, if it answers one."""
    answered = interaction.attributes.get("in_reply_to_message")
    if not isinstance(answered, int):
        return None
    return session.db.scalar(
        select(CaseInteractionRow.message_id).where(
            CaseInteractionRow.case_id == row.id,
            CaseInteractionRow.link == "survey",
            CaseInteractionRow.message_id == answered,
        )
    )


def _thread(session: Session, row: CaseRow, interaction: Interaction) -> None:
    if _survey_of(session, row, interaction) is not None:
        match = _SCORE.match(interaction.content or "")
        if match:
            link_interaction(session, row.id, interaction.id, link="thread", reopen=False)
            answer_survey(
                session, row.id, int(match[1]), (interaction.content or "")[match.end() :] or None
            )
            return
    link_interaction(session, row.id, interaction.id, link="thread")
