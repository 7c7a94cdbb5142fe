"""suppliers: the evaluation table

Revision ID: suppliers_0001
Revises:
Depends on: 0001_core
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "suppliers_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("suppliers",)
depends_on: str | Sequence[str] | None = "0001_core"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


# every name is given whole (op.f): the metadata's naming convention must not rename it
def upgrade() -> None:
    op.create_table(
        "suppliers_evaluation",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("party_id", BigId, nullable=False),
        sa.Column("evaluated_on", sa.Date(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("evaluator", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_suppliers_evaluation_rating")),
        sa.ForeignKeyConstraint(
            ["party_id"],
            ["party.id"],
            name=op.f("fk_suppliers_evaluation_party_id_party"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppliers_evaluation")),
    )
    op.create_index(
        op.f("ix_suppliers_evaluation_party"),
        "suppliers_evaluation",
        ["party_id", "evaluated_on", "id"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_suppliers_evaluation_party"), table_name="suppliers_evaluation")
    op.drop_table("suppliers_evaluation")
