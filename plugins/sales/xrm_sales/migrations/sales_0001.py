"""sales: opportunities, their contacts and their stage history

Revision ID: sales_0001
Revises:
Depends on: 0001_core
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "sales_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("sales",)
depends_on: str | Sequence[str] | None = "0001_core"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


# every name is given whole (op.f): the metadata's naming convention must not rename it
def upgrade() -> None:
    op.create_table(
        "sales_opportunity",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("owner_party_id", BigId, nullable=True),
        sa.Column("owner_user", sa.String(200), nullable=True),
        sa.Column("pipeline", sa.String(60), nullable=False),
        sa.Column("stage", sa.String(60), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("probability", sa.SmallInteger(), nullable=False),
        sa.Column("amount", sa.Numeric(18, 3), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("expected_close", sa.Date(), nullable=True),
        sa.Column("source_campaign", sa.String(200), nullable=True),
        sa.Column("source_partner_id", BigId, nullable=True),
        sa.Column("lost_reason", sa.Text(), nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "probability BETWEEN 0 AND 100", name=op.f("ck_sales_opportunity_probability")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'won', 'lost')", name=op.f("ck_sales_opportunity_status")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["party.id"],
            name=op.f("fk_sales_opportunity_account_id_party"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_party_id"],
            ["party.id"],
            name=op.f("fk_sales_opportunity_owner_party_id_party"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_partner_id"],
            ["party.id"],
            name=op.f("fk_sales_opportunity_source_partner_id_party"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_opportunity")),
    )
    op.create_index(op.f("ix_sales_opportunity_account"), "sales_opportunity", ["account_id"])
    op.create_index(
        op.f("ix_sales_opportunity_owner_party"), "sales_opportunity", ["owner_party_id"]
    )
    op.create_index(
        op.f("ix_sales_opportunity_partner"), "sales_opportunity", ["source_partner_id"]
    )
    op.create_index(
        op.f("ix_sales_opportunity_pipeline"),
        "sales_opportunity",
        ["pipeline", "stage", "currency"],
    )
    op.create_index(op.f("ix_sales_opportunity_close"), "sales_opportunity", ["expected_close"])

    op.create_table(
        "sales_opportunity_contact",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("opportunity_id", BigId, nullable=False),
        sa.Column("party_id", BigId, nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["sales_opportunity.id"],
            name=op.f("fk_sales_opportunity_contact_opportunity_id_sales_opportunity"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["party_id"],
            ["party.id"],
            name=op.f("fk_sales_opportunity_contact_party_id_party"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_opportunity_contact")),
    )
    op.create_index(
        op.f("ix_sales_opportunity_contact_opportunity"),
        "sales_opportunity_contact",
        ["opportunity_id"],
    )
    op.create_index(
        op.f("ix_sales_opportunity_contact_party"), "sales_opportunity_contact", ["party_id"]
    )

    op.create_table(
        "sales_opportunity_stage",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("opportunity_id", BigId, nullable=False),
        sa.Column("from_stage", sa.String(60), nullable=True),
        sa.Column("to_stage", sa.String(60), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("probability", sa.SmallInteger(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("by", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["sales_opportunity.id"],
            name=op.f("fk_sales_opportunity_stage_opportunity_id_sales_opportunity"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_opportunity_stage")),
    )
    op.create_index(
        op.f("ix_sales_opportunity_stage_opportunity"),
        "sales_opportunity_stage",
        ["opportunity_id", "at", "id"],
    )
    op.create_index(
        op.f("ix_sales_opportunity_stage_at"),
        "sales_opportunity_stage",
        ["at", "opportunity_id", "id"],
    )


def downgrade() -> None:
    op.drop_table("sales_opportunity_stage")
    op.drop_table("sales_opportunity_contact")
    op.drop_table("sales_opportunity")
