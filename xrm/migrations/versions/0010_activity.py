"""activity: planned calls, meetings, emails and tasks, and the parties they concern

Revision ID: 0010_activity
Revises: 0009_journal_outbox
Create Date: 2026-12-04

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010_activity"
down_revision: str | Sequence[str] | None = "0009_journal_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "activity",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("time_zone", sa.String(length=60), nullable=True),
        sa.Column("assignee_id", _BIG_ID, nullable=True),
        sa.Column("user", sa.String(length=200), nullable=True),
        sa.Column("about_type", sa.String(length=60), nullable=True),
        sa.Column("about_id", _BIG_ID, nullable=True),
        sa.Column("outcome", sa.String(length=300), nullable=True),
        sa.Column("interaction_id", _BIG_ID, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'done', 'cancelled')", name=op.f("ck_activity_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["party.id"], name=op.f("fk_activity_assignee_id_party"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["interaction_id"], ["interaction.id"],
            name=op.f("fk_activity_interaction_id_interaction"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity")),
    )  # fmt: skip
    with op.batch_alter_table("activity") as batch:
        batch.create_index("ix_activity_open_due", ["status", "due_at", "id"], unique=False)
        batch.create_index(
            "ix_activity_about", ["about_type", "about_id", "updated_at"], unique=False
        )
        batch.create_index(batch.f("ix_activity_assignee_id"), ["assignee_id"], unique=False)
        batch.create_index(batch.f("ix_activity_user"), ["user"], unique=False)
    op.create_table(
        "activity_party",
        sa.Column("activity_id", _BIG_ID, nullable=False),
        sa.Column("party_id", _BIG_ID, nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activity.id"], name=op.f("fk_activity_party_activity_id_activity"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["party.id"], name=op.f("fk_activity_party_party_id_party"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("activity_id", "party_id", name=op.f("pk_activity_party")),
    )  # fmt: skip
    with op.batch_alter_table("activity_party") as batch:
        batch.create_index(
            "ix_activity_party_due", ["party_id", "due_at", "activity_id"], unique=False
        )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("activity_party")
    op.drop_table("activity")
