"""suppression entries of erased parties' addresses, and their hashing key

Revision ID: 0003_suppression
Revises: 0002_consent
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003_suppression"
down_revision: str | Sequence[str] | None = "0002_consent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "suppression",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("keyed_hash", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression")),
        sa.UniqueConstraint("kind", "keyed_hash", name=op.f("uq_suppression_kind_keyed_hash")),
    )
    op.create_table(
        "suppression_key",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_suppression_key_single")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression_key")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("suppression_key")
    op.drop_table("suppression")
