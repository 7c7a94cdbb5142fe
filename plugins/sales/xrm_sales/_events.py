"""The plugin's journal events: each on the timeline of the account and the contacts."""

from __future__ import annotations

import attrs

from xrm import JournalEvent, personal

__all__ = [
    "EVENT_TYPES",
    "ContactAdded",
    "OpportunityLost",
    "OpportunityOpened",
    "OpportunityWon",
    "StageChanged",
]

_ENTITY = "sales.opportunity"


@attrs.frozen(kw_only=True)
class OpportunityOpened(JournalEvent):
    """An opportunity was opened for the account, in its first stage."""

    TYPE = "sales.opportunity_opened"
    ENTITY = _ENTITY
    title: str = personal()
    account_id: int
    pipeline: str
    stage: str
    probability: int
    #: the amount as decimal text ("12500.00"), in ``currency``
    amount: str
    currency: str
    expected_close: str | None
    owner_party_id: int | None
    owner_user: str | None
    source_campaign: str | None
    source_partner_id: int | None


@attrs.frozen(kw_only=True)
class StageChanged(JournalEvent):
    """An opportunity moved from one stage of its pipeline to another."""

    TYPE = "sales.stage_changed"
    ENTITY = _ENTITY
    pipeline: str
    from_stage: str
    to_stage: str
    outcome: str
    probability: int


@attrs.frozen(kw_only=True)
class OpportunityWon(JournalEvent):
    """An opportunity entered a won stage: the account became (or stayed) a customer."""

    TYPE = "sales.opportunity_won"
    ENTITY = _ENTITY
    stage: str
    amount: str
    currency: str
    #: the account's customer role
    customer_role_id: int


@attrs.frozen(kw_only=True)
class OpportunityLost(JournalEvent):
    """An opportunity entered a lost stage, with the reason."""

    TYPE = "sales.opportunity_lost"
    ENTITY = _ENTITY
    stage: str
    reason: str = personal()


@attrs.frozen(kw_only=True)
class ContactAdded(JournalEvent):
    """A person was named a contact of an opportunity, with their role in the deal."""

    TYPE = "sales.contact_added"
    ENTITY = _ENTITY
    party_id: int
    role: str
    note: str | None = personal(default=None)


EVENT_TYPES: tuple[type[JournalEvent], ...] = (
    OpportunityOpened,
    StageChanged,
    OpportunityWon,
    OpportunityLost,
    ContactAdded,
)
