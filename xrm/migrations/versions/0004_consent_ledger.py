"""consent ledgers of contact points moved by a merge

Revision ID: 0004_consent_ledger
Revises: 0003_suppression
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004_consent_ledger"
down_revision: str | Sequence[str] | None = "0003_suppression"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "consent_ledger",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("party_id", _ID, nullable=False),
        sa.Column("contact_kind", sa.String(length=40), nullable=False),
        sa.Column("contact_key", sa.String(length=500), nullable=False),
        sa.Column("grp", sa.Integer(), nullable=False),
        sa.Column("ledger_party_id", _ID, nullable=False),
        sa.Column("since", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["party_id"], ["party.id"], name=op.f("fk_consent_ledger_party_id_party"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ledger_party_id"], ["party.id"],
            name=op.f("fk_consent_ledger_ledger_party_id_party"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_ledger")),
    )  # fmt: skip
    op.create_index(
        "ix_consent_ledger_point",
        "consent_ledger",
        ["party_id", "contact_kind", "contact_key", "grp"],
    )
    op.create_index("ix_consent_ledger_ledger_party_id", "consent_ledger", ["ledger_party_id"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_consent_ledger_ledger_party_id", table_name="consent_ledger")
    op.drop_index("ix_consent_ledger_point", table_name="consent_ledger")
    op.drop_table("consent_ledger")
