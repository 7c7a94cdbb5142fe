"""service: cases, their contacts, status history and linked interactions

Revision ID: service_0001
Revises:
Depends on: 0001_core
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "service_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("service",)
depends_on: str | Sequence[str] | None = "0001_core"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _party_fk(column: str, table: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["party.id"], name=op.f(f"fk_{table}_{column}_party"), ondelete=ondelete
    )


# every name is given whole (op.f): the metadata's naming convention must not rename it
def upgrade() -> None:
    op.create_table(
        "service_case",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("party_id", BigId, nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category", sa.String(60), nullable=False),
        sa.Column("priority", sa.String(20), nullable=False),
        sa.Column("tier", sa.String(40), nullable=True),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("assignee_id", BigId, nullable=True),
        sa.Column("team", sa.String(100), nullable=True),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("external_ref", sa.String(200), nullable=True),
        sa.Column("policy", sa.String(60), nullable=True),
        sa.Column("calendar", sa.String(60), nullable=True),
        sa.Column("response_target_min", BigId, nullable=True),
        sa.Column("resolution_target_min", BigId, nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("first_response_at", sa.DateTime(), nullable=True),
        sa.Column("response_min", BigId, nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("resolution_used_s", BigId, nullable=False),
        sa.Column("clock_since", sa.DateTime(), nullable=True),
        sa.Column("response_due_at", sa.DateTime(), nullable=True),
        sa.Column("resolution_due_at", sa.DateTime(), nullable=True),
        sa.Column("resolution_breached_at", sa.DateTime(), nullable=True),
        sa.Column("next_due_at", sa.DateTime(), nullable=True),
        sa.Column("escalated_due_at", sa.DateTime(), nullable=True),
        sa.Column("breach_reported_due_at", sa.DateTime(), nullable=True),
        sa.Column("survey_sent_at", sa.DateTime(), nullable=True),
        sa.Column("survey_status", sa.String(20), nullable=True),
        sa.Column("satisfaction", sa.SmallInteger(), nullable=True),
        sa.Column("satisfaction_comment", sa.Text(), nullable=True),
        sa.Column("satisfaction_at", sa.DateTime(), nullable=True),
        sa.Column("version", BigId, nullable=False),
        sa.CheckConstraint(
            "satisfaction BETWEEN 1 AND 5", name=op.f("ck_service_case_satisfaction")
        ),
        _party_fk("party_id", "service_case", "CASCADE"),
        _party_fk("assignee_id", "service_case", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_case")),
    )
    for name, columns in (
        ("next_due", ["next_due_at"]),
        ("party", ["party_id", "status"]),
        ("assignee", ["assignee_id"]),
        ("team", ["team", "status"]),
        ("external_ref", ["external_ref"]),
        ("status_opened", ["status", "opened_at"]),
        ("resolved", ["resolved_at"]),
    ):
        op.create_index(op.f(f"ix_service_case_{name}"), "service_case", columns)

    op.create_table(
        "service_case_contact",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("party_id", BigId, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["service_case.id"],
            name=op.f("fk_service_case_contact_case_id_service_case"),
            ondelete="CASCADE",
        ),
        _party_fk("party_id", "service_case_contact", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_case_contact")),
    )
    op.create_index(
        op.f("ix_service_case_contact_case"),
        "service_case_contact",
        ["case_id", "party_id"],
        unique=True,
    )
    op.create_index(op.f("ix_service_case_contact_party"), "service_case_contact", ["party_id"])

    op.create_table(
        "service_case_status",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("from_status", sa.String(40), nullable=True),
        sa.Column("to_status", sa.String(40), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("by", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["service_case.id"],
            name=op.f("fk_service_case_status_case_id_service_case"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_case_status")),
    )
    op.create_index(
        op.f("ix_service_case_status_case"), "service_case_status", ["case_id", "at", "id"]
    )

    op.create_table(
        "service_case_interaction",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("interaction_id", BigId, nullable=False),
        sa.Column("link", sa.String(20), nullable=False),
        sa.Column("message_id", BigId, nullable=True),
        sa.Column("status", sa.String(60), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["service_case.id"],
            name=op.f("fk_service_case_interaction_case_id_service_case"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interaction.id"],
            name=op.f("fk_service_case_interaction_interaction_id_interaction"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_case_interaction")),
    )
    op.create_index(
        op.f("ix_service_case_interaction_case"),
        "service_case_interaction",
        ["case_id", "interaction_id"],
        unique=True,
    )
    op.create_index(
        op.f("ix_service_case_interaction_interaction"),
        "service_case_interaction",
        ["interaction_id"],
    )
    op.create_index(
        op.f("ix_service_case_interaction_message"), "service_case_interaction", ["message_id"]
    )


def downgrade() -> None:
    op.drop_table("service_case_interaction")
    op.drop_table("service_case_status")
    op.drop_table("service_case_contact")
    op.drop_table("service_case")
