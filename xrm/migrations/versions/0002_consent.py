"""consent ledger

Revision ID: 0002_consent
Revises: 0001_core
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002_consent"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "consent_record",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("party_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=True),
        sa.Column("contact_kind", sa.String(length=40), nullable=True),
        sa.Column("contact_key", sa.String(length=500), nullable=True),
        sa.Column(
            "contact_point_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("captured_at", sa.DateTime(), nullable=False),
        sa.Column("effective_from", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("recorded_by", sa.String(length=300), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "(scope = 'all' AND channel IS NULL AND contact_key IS NULL) OR (scope = 'channel' AND channel IS NOT NULL AND contact_key IS NULL) OR (scope = 'contact_point' AND contact_kind IS NOT NULL AND contact_key IS NOT NULL)",
            name=op.f("ck_consent_record_scope_fields"),
        ),
        sa.CheckConstraint(
            "decision IN ('granted', 'refused', 'withdrawn', 'objected')",
            name=op.f("ck_consent_record_decision"),
        ),
        sa.CheckConstraint(
            "scope IN ('all', 'channel', 'contact_point')", name=op.f("ck_consent_record_scope")
        ),
        sa.CheckConstraint(
            "expires_at IS NULL OR expires_at > effective_from",
            name=op.f("ck_consent_record_expiry"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_point_id"],
            ["contact_point.id"],
            name=op.f("fk_consent_record_contact_point_id_contact_point"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["party_id"],
            ["party.id"],
            name=op.f("fk_consent_record_party_id_party"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_record")),
    )
    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_party_purpose", ["party_id", "purpose", "effective_from"], unique=False
        )
        batch_op.create_index("ix_consent_purpose", ["purpose", "party_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_purpose")
        batch_op.drop_index("ix_consent_party_purpose")

    op.drop_table("consent_record")
