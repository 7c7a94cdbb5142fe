"""campaigns: campaigns and their recipients, scenarios, enrolments and step runs

Revision ID: campaigns_0001
Revises:
Depends on: 0001_core
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "campaigns_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("campaigns",)
depends_on: str | Sequence[str] | None = "0001_core"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _fk(column: str, table: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    name = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{name}"), ondelete=ondelete
    )


# every name is given whole (op.f): the metadata's naming convention must not rename it
def upgrade() -> None:
    op.create_table(
        "campaigns_campaign",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("definition", Json, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=True),
        sa.Column("launched_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("processed", BigId, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns_campaign")),
        sa.UniqueConstraint("name", name=op.f("uq_campaigns_campaign_name")),
    )
    op.create_index(
        op.f("ix_campaigns_campaign_status"), "campaigns_campaign", ["status", "starts_at"]
    )

    op.create_table(
        "campaigns_recipient",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("campaign_id", BigId, nullable=False),
        sa.Column("party_id", BigId, nullable=False),
        sa.Column("arm", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(40), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(20), nullable=True),
        sa.Column("message_id", BigId, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("processed_at", sa.DateTime(), nullable=True),
        _fk("campaign_id", "campaigns_recipient", "campaigns_campaign.id", "CASCADE"),
        _fk("party_id", "campaigns_recipient", "party.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns_recipient")),
    )
    op.create_index(
        op.f("ix_campaigns_recipient_party"),
        "campaigns_recipient",
        ["campaign_id", "party_id"],
        unique=True,
    )
    op.create_index(
        op.f("ix_campaigns_recipient_status"),
        "campaigns_recipient",
        ["campaign_id", "status", "id"],
    )
    op.create_index(op.f("ix_campaigns_recipient_of_party"), "campaigns_recipient", ["party_id"])
    op.create_index(op.f("ix_campaigns_recipient_message"), "campaigns_recipient", ["message_id"])

    op.create_table(
        "campaigns_scenario",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("definition", Json, nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("event", sa.String(60), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("ticked_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns_scenario")),
        sa.UniqueConstraint("name", name=op.f("uq_campaigns_scenario_name")),
    )
    op.create_index(
        op.f("ix_campaigns_scenario_trigger"),
        "campaigns_scenario",
        ["status", "trigger", "event"],
    )

    op.create_table(
        "campaigns_enrolment",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("scenario_id", BigId, nullable=False),
        sa.Column("party_id", BigId, nullable=False),
        sa.Column("occurrence", sa.String(20), nullable=False),
        sa.Column("step", BigId, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("next_run_at", sa.DateTime(), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _fk("scenario_id", "campaigns_enrolment", "campaigns_scenario.id", "CASCADE"),
        _fk("party_id", "campaigns_enrolment", "party.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns_enrolment")),
    )
    op.create_index(
        op.f("ix_campaigns_enrolment_party"),
        "campaigns_enrolment",
        ["scenario_id", "party_id", "occurrence"],
        unique=True,
    )
    op.create_index(
        op.f("ix_campaigns_enrolment_due"), "campaigns_enrolment", ["status", "next_run_at"]
    )
    op.create_index(op.f("ix_campaigns_enrolment_of_party"), "campaigns_enrolment", ["party_id"])

    op.create_table(
        "campaigns_step_run",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("enrolment_id", BigId, nullable=False),
        sa.Column("step", BigId, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("detail", sa.String(300), nullable=True),
        sa.Column("message_id", BigId, nullable=True),
        sa.Column("activity_id", BigId, nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        _fk("enrolment_id", "campaigns_step_run", "campaigns_enrolment.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns_step_run")),
    )
    op.create_index(
        op.f("ix_campaigns_step_run_step"),
        "campaigns_step_run",
        ["enrolment_id", "step"],
        unique=True,
    )
    op.create_index(op.f("ix_campaigns_step_run_message"), "campaigns_step_run", ["message_id"])


def downgrade() -> None:
    op.drop_table("campaigns_step_run")
    op.drop_table("campaigns_enrolment")
    op.drop_table("campaigns_scenario")
    op.drop_table("campaigns_recipient")
    op.drop_table("campaigns_campaign")
