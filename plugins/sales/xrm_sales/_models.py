"""The plugin's tables, on xrm's declarative base; its Alembic branch is ``sales``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from xrm.tables import NOT_PERSONAL, PERSONAL, Base

__all__ = ["AMOUNT", "OpportunityContactRow", "OpportunityRow", "OpportunityStageRow"]

#: amounts: 15 digits before the point, 3 after (the most any ISO 4217 currency has)
AMOUNT = Numeric(18, 3)


class OpportunityRow(Base):
    """A deal the company hopes to win: with whom, how much, where it stands."""

    __tablename__ = "sales_opportunity"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    #: the deal's name in the company ("ACME: 40 seats"); an erasure of a person account
    #: replaces it (xrm_party_erase), not that of the owner or of a contact
    title: Mapped[str] = mapped_column(String(300), info=NOT_PERSONAL)
    #: the organization or person the company sells to
    account_id: Mapped[int] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"))
    #: the owner: an employee party, or an application user id (or neither)
    owner_party_id: Mapped[int | None] = mapped_column(ForeignKey("party.id", ondelete="SET NULL"))
    owner_user: Mapped[str | None] = mapped_column(String(200), info=NOT_PERSONAL)
    pipeline: Mapped[str] = mapped_column(String(60), info=NOT_PERSONAL)
    stage: Mapped[str] = mapped_column(String(60), info=NOT_PERSONAL)
    #: the stage's outcome: open, won or lost
    status: Mapped[str] = mapped_column(String(10), info=NOT_PERSONAL)
    #: chance of winning, in percent: the stage's default unless given
    probability: Mapped[int] = mapped_column(SmallInteger)
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    #: ISO 4217
    currency: Mapped[str] = mapped_column(String(3), info=NOT_PERSONAL)
    expected_close: Mapped[dt.date | None]
    #: where the deal came from: a campaign's name, or a partner who referred it
    source_campaign: Mapped[str | None] = mapped_column(String(200), info=NOT_PERSONAL)
    source_partner_id: Mapped[int | None] = mapped_column(
        ForeignKey("party.id", ondelete="SET NULL")
    )
    #: why it was lost (a lost stage needs one): the company's judgement of its own sale
    lost_reason: Mapped[str | None] = mapped_column(Text, info=NOT_PERSONAL)
    opened_at: Mapped[dt.datetime]
    #: when it entered a won or lost stage (``None`` while open)
    closed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]

    __table_args__ = (
        Index("ix_sales_opportunity_account", "account_id"),
        Index("ix_sales_opportunity_owner_party", "owner_party_id"),
        Index("ix_sales_opportunity_partner", "source_partner_id"),
        Index("ix_sales_opportunity_pipeline", "pipeline", "stage", "currency"),
        Index("ix_sales_opportunity_close", "expected_close"),
        CheckConstraint("probability BETWEEN 0 AND 100", name="probability"),
        CheckConstraint("status IN ('open', 'won', 'lost')", name="status"),
    )


class OpportunityContactRow(Base):
    """A person on the customer's side of a deal, with their role in it."""

    __tablename__ = "sales_opportunity_contact"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("sales_opportunity.id", ondelete="CASCADE")
    )
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"))
    #: decision_maker, influencer, user or other
    role: Mapped[str] = mapped_column(String(40), info=NOT_PERSONAL)
    #: what the salesperson notes about the person: personal data
    note: Mapped[str | None] = mapped_column(Text, info=PERSONAL)
    created_at: Mapped[dt.datetime]

    __table_args__ = (
        Index("ix_sales_opportunity_contact_opportunity", "opportunity_id"),
        Index("ix_sales_opportunity_contact_party", "party_id"),
    )


class OpportunityStageRow(Base):
    """One step of an opportunity's stage history: from, to, when, by whom. The first row
    (``from_stage`` null) is the opening. ``at`` never goes back for one opportunity, so its
    latest step up to a date is the one with the highest id."""

    __tablename__ = "sales_opportunity_stage"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("sales_opportunity.id", ondelete="CASCADE")
    )
    from_stage: Mapped[str | None] = mapped_column(String(60), info=NOT_PERSONAL)
    to_stage: Mapped[str] = mapped_column(String(60), info=NOT_PERSONAL)
    #: the outcome and the probability the opportunity had from this step on
    status: Mapped[str] = mapped_column(String(10), info=NOT_PERSONAL)
    probability: Mapped[int] = mapped_column(SmallInteger)
    at: Mapped[dt.datetime]
    #: the unit of work's actor
    by: Mapped[str | None] = mapped_column(String(200), info=NOT_PERSONAL)

    __table_args__ = (
        # an opportunity's history in order; the as-of report's latest step per opportunity
        Index("ix_sales_opportunity_stage_opportunity", "opportunity_id", "at", "id"),
        Index("ix_sales_opportunity_stage_at", "at", "opportunity_id", "id"),
    )
