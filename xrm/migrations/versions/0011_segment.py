"""segment: saved segments and the members of frozen ones

Revision ID: 0011_segment
Revises: 0010_activity
Create Date: 2026-12-04

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011_segment"
down_revision: str | Sequence[str] | None = "0010_activity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "segment",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("frozen_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment")),
        sa.UniqueConstraint("name", name=op.f("uq_segment_name")),
    )
    op.create_table(
        "segment_member",
        sa.Column("segment_id", _BIG_ID, nullable=False),
        sa.Column("party_id", _BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segment.id"], name=op.f("fk_segment_member_segment_id_segment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["party.id"], name=op.f("fk_segment_member_party_id_party"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("segment_id", "party_id", name=op.f("pk_segment_member")),
    )  # fmt: skip
    with op.batch_alter_table("segment_member") as batch:
        batch.create_index(batch.f("ix_segment_member_party_id"), ["party_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("segment_member") as batch:
        batch.drop_index(batch.f("ix_segment_member_party_id"))
    op.drop_table("segment_member")
    op.drop_table("segment")
