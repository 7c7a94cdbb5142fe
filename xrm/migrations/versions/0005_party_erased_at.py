"""party.erased_at: an erased party is frozen

Revision ID: 0005_party_erased_at
Revises: 0004_consent_ledger
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005_party_erased_at"
down_revision: str | Sequence[str] | None = "0004_consent_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("party") as batch:
        batch.add_column(sa.Column("erased_at", sa.DateTime(), nullable=True))
    # parties erased before this revision: the journal's party.erased event says when
    op.execute(
        "UPDATE party SET erased_at = ("
        " SELECT min(e.occurred_at) FROM journal_event e"
        " JOIN journal_party jp ON jp.event_id = e.id"
        " WHERE e.type = 'party.erased' AND jp.party_id = party.id)"
        " WHERE EXISTS ("
        " SELECT 1 FROM journal_event e JOIN journal_party jp ON jp.event_id = e.id"
        " WHERE e.type = 'party.erased' AND jp.party_id = party.id)"
    )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("party") as batch:
        batch.drop_column("erased_at")
