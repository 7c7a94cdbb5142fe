"""message: the outbox of messages for parties, delivered by the worker

Revision ID: 0008_message
Revises: 0007_preferences
Create Date: 2026-12-04

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008_message"
down_revision: str | Sequence[str] | None = "0007_preferences"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "message",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("party_id", _BIG_ID, nullable=False),
        sa.Column("interaction_id", _BIG_ID, nullable=True),
        sa.Column("contact_point_id", _BIG_ID, nullable=True),
        sa.Column("template", sa.String(length=60), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("transport", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("not_before", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_point_id"], ["contact_point.id"],
            name=op.f("fk_message_contact_point_id_contact_point"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["interaction_id"], ["interaction.id"],
            name=op.f("fk_message_interaction_id_interaction"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["party.id"], name=op.f("fk_message_party_id_party"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_message_idempotency_key")),
    )  # fmt: skip
    with op.batch_alter_table("message") as batch:
        batch.create_index("ix_message_due", ["status", "not_before", "id"], unique=False)
        batch.create_index(
            "ix_message_party_purpose", ["party_id", "purpose", "created_at"], unique=False
        )
        batch.create_index(batch.f("ix_message_party_id"), ["party_id"], unique=False)
        batch.create_index(batch.f("ix_message_interaction_id"), ["interaction_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("message")
