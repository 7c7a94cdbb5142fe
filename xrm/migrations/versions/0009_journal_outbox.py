"""journal_outbox: the journal's events not yet published by the relay

Revision ID: 0009_journal_outbox
Revises: 0008_message
Create Date: 2026-12-04

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009_journal_outbox"
down_revision: str | Sequence[str] | None = "0008_message"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "journal_outbox",
        sa.Column("event_id", _BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["journal_event.id"],
            name=op.f("fk_journal_outbox_event_id_journal_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_journal_outbox")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("journal_outbox")
