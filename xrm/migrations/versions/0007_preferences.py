"""party_preference, party_purpose_preference: language, time zone, quiet hours, and the
preferred channel and frequency cap per purpose

Revision ID: 0007_preferences
Revises: 0006_contact_point_valid
Create Date: 2026-12-04

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007_preferences"
down_revision: str | Sequence[str] | None = "0006_contact_point_valid"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "party_preference",
        sa.Column("party_id", _BIG_ID, nullable=False),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("quiet_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_end", sa.String(length=5), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"],
            ["party.id"],
            name=op.f("fk_party_preference_party_id_party"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("party_id", name=op.f("pk_party_preference")),
    )
    op.create_table(
        "party_purpose_preference",
        sa.Column("party_id", _BIG_ID, nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=True),
        sa.Column("cap_count", sa.Integer(), nullable=True),
        sa.Column("cap_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "(cap_count IS NULL) = (cap_days IS NULL)",
            name=op.f("ck_party_purpose_preference_cap_whole"),
        ),
        sa.ForeignKeyConstraint(
            ["party_id"],
            ["party.id"],
            name=op.f("fk_party_purpose_preference_party_id_party"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("party_id", "purpose", name=op.f("pk_party_purpose_preference")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("party_purpose_preference")
    op.drop_table("party_preference")
