"""The plugin's table, on xrm's declarative base; its Alembic branch is ``suppliers``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from xrm.tables import NOT_PERSONAL, PERSONAL, Base

__all__ = ["SupplierEvaluationRow"]


class SupplierEvaluationRow(Base):
    """One evaluation of a supplier: a rating from 1 to 5 on a day, by someone."""

    __tablename__ = "suppliers_evaluation"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"))
    evaluated_on: Mapped[dt.date]
    rating: Mapped[int] = mapped_column(SmallInteger)
    #: free text about the supplier (a sole trader is a person): personal data
    comment: Mapped[str | None] = mapped_column(Text, info=PERSONAL)
    #: who evaluated: kept, as the company's record of its own staff's work
    evaluator: Mapped[str | None] = mapped_column(String(200), info=NOT_PERSONAL)
    created_at: Mapped[dt.datetime]

    __table_args__ = (
        # a supplier's evaluations, latest first; the report's join
        Index("ix_suppliers_evaluation_party", "party_id", "evaluated_on", "id"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
    )
