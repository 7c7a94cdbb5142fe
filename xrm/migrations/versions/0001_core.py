"""core: parties, roles, relationships, interactions, journal

Revision ID: 0001_core
Revises:
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0001_core"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "interaction",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("direction", sa.String(length=40), nullable=False),
        sa.Column("touchpoint", sa.String(length=40), nullable=True),
        sa.Column("purpose", sa.String(length=40), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=300), nullable=True),
        sa.Column("external_ref", sa.String(length=200), nullable=True),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interaction")),
    )
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_interaction_external_ref"), ["external_ref"], unique=False
        )

    op.create_table(
        "journal_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=300), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_event")),
    )
    with op.batch_alter_table("journal_event", schema=None) as batch_op:
        batch_op.create_index("ix_journal_event_entity", ["entity", "entity_id"], unique=False)

    op.create_table(
        "party",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.String(length=300), nullable=False),
        sa.Column("name_key", sa.String(length=300), nullable=False),
        sa.Column("given_name", sa.String(length=300), nullable=True),
        sa.Column("family_name", sa.String(length=300), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "merged_into_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["party.id"],
            name=op.f("fk_party_merged_into_id_party"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party")),
    )
    with op.batch_alter_table("party", schema=None) as batch_op:
        batch_op.create_index("ix_party_kind", ["kind", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_party_merged_into_id"), ["merged_into_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_party_name_key"), ["name_key"], unique=False)

    op.create_table(
        "contact_point",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("party_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("suppressed", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"],
            ["party.id"],
            name=op.f("fk_contact_point_party_id_party"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_point")),
        sa.UniqueConstraint(
            "party_id", "kind", "key", name=op.f("uq_contact_point_party_id_kind_key")
        ),
    )
    with op.batch_alter_table("contact_point", schema=None) as batch_op:
        batch_op.create_index("ix_contact_point_key", ["kind", "key"], unique=False)
        batch_op.create_index(
            "uq_contact_point_primary",
            ["party_id", "kind"],
            unique=True,
            sqlite_where=sa.text("is_primary"),
            postgresql_where=sa.text("is_primary"),
        )

    op.create_table(
        "journal_party",
        sa.Column("party_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["journal_event.id"],
            name=op.f("fk_journal_party_event_id_journal_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["party_id"],
            ["party.id"],
            name=op.f("fk_journal_party_party_id_party"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("party_id", "event_id", name=op.f("pk_journal_party")),
    )
    with op.batch_alter_table("journal_party", schema=None) as batch_op:
        batch_op.create_index(
            "ix_journal_party_time", ["party_id", "occurred_at", "event_id"], unique=False
        )

    op.create_table(
        "party_identifier",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("party_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scheme", sa.String(length=60), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"],
            ["party.id"],
            name=op.f("fk_party_identifier_party_id_party"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_identifier")),
        sa.UniqueConstraint("scheme", "value", name=op.f("uq_party_identifier_scheme_value")),
    )
    with op.batch_alter_table("party_identifier", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_party_identifier_party_id"), ["party_id"], unique=False
        )

    op.create_table(
        "party_tag",
        sa.Column("party_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tag", sa.String(length=60), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"], ["party.id"], name=op.f("fk_party_tag_party_id_party"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("party_id", "tag", name=op.f("pk_party_tag")),
    )
    with op.batch_alter_table("party_tag", schema=None) as batch_op:
        batch_op.create_index("ix_party_tag_tag", ["tag", "party_id"], unique=False)

    op.create_table(
        "relationship",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column(
            "from_party_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "to_party_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("from_party_id <> to_party_id", name=op.f("ck_relationship_not_self")),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_relationship_dates")
        ),
        sa.ForeignKeyConstraint(
            ["from_party_id"],
            ["party.id"],
            name=op.f("fk_relationship_from_party_id_party"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_party_id"],
            ["party.id"],
            name=op.f("fk_relationship_to_party_id_party"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relationship")),
    )
    with op.batch_alter_table("relationship", schema=None) as batch_op:
        batch_op.create_index(
            "ix_relationship_from", ["from_party_id", "type", "valid_from"], unique=False
        )
        batch_op.create_index(
            "ix_relationship_to", ["to_party_id", "type", "valid_from"], unique=False
        )

    op.create_table(
        "role",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("party_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("state", sa.String(length=40), nullable=False),
        sa.Column(
            "attributes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"], ["party.id"], name=op.f("fk_role_party_id_party"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role")),
    )
    with op.batch_alter_table("role", schema=None) as batch_op:
        batch_op.create_index("ix_role_party", ["party_id", "type"], unique=False)
        batch_op.create_index("ix_role_type_state", ["type", "state"], unique=False)
        batch_op.create_index(
            "uq_role_current",
            ["party_id", "type"],
            unique=True,
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        )

    op.create_table(
        "interaction_participant",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "interaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("party_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("role", sa.String(length=40), nullable=False),
        sa.Column(
            "contact_point_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_point_id"],
            ["contact_point.id"],
            name=op.f("fk_interaction_participant_contact_point_id_contact_point"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interaction.id"],
            name=op.f("fk_interaction_participant_interaction_id_interaction"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["party_id"],
            ["party.id"],
            name=op.f("fk_interaction_participant_party_id_party"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interaction_participant")),
        sa.UniqueConstraint("interaction_id", "party_id", "role", name="uq_participant"),
    )
    with op.batch_alter_table("interaction_participant", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_interaction_participant_contact_point_id"),
            ["contact_point_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_interaction_participant_interaction_id"),
            ["interaction_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_participant_party_time", ["party_id", "occurred_at", "interaction_id"], unique=False
        )

    op.create_table(
        "role_transition",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("role_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("from_state", sa.String(length=40), nullable=True),
        sa.Column("to_state", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["role.id"],
            name=op.f("fk_role_transition_role_id_role"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_transition")),
    )
    with op.batch_alter_table("role_transition", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_role_transition_role_id"), ["role_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("role_transition", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_role_transition_role_id"))

    op.drop_table("role_transition")
    with op.batch_alter_table("interaction_participant", schema=None) as batch_op:
        batch_op.drop_index("ix_participant_party_time")
        batch_op.drop_index(batch_op.f("ix_interaction_participant_interaction_id"))
        batch_op.drop_index(batch_op.f("ix_interaction_participant_contact_point_id"))

    op.drop_table("interaction_participant")
    with op.batch_alter_table("role", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_role_current",
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        )
        batch_op.drop_index("ix_role_type_state")
        batch_op.drop_index("ix_role_party")

    op.drop_table("role")
    with op.batch_alter_table("relationship", schema=None) as batch_op:
        batch_op.drop_index("ix_relationship_to")
        batch_op.drop_index("ix_relationship_from")

    op.drop_table("relationship")
    with op.batch_alter_table("party_tag", schema=None) as batch_op:
        batch_op.drop_index("ix_party_tag_tag")

    op.drop_table("party_tag")
    with op.batch_alter_table("party_identifier", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_party_identifier_party_id"))

    op.drop_table("party_identifier")
    with op.batch_alter_table("journal_party", schema=None) as batch_op:
        batch_op.drop_index("ix_journal_party_time")

    op.drop_table("journal_party")
    with op.batch_alter_table("contact_point", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_contact_point_primary",
            sqlite_where=sa.text("is_primary"),
            postgresql_where=sa.text("is_primary"),
        )
        batch_op.drop_index("ix_contact_point_key")

    op.drop_table("contact_point")
    with op.batch_alter_table("party", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_party_name_key"))
        batch_op.drop_index(batch_op.f("ix_party_merged_into_id"))
        batch_op.drop_index("ix_party_kind")

    op.drop_table("party")
    with op.batch_alter_table("journal_event", schema=None) as batch_op:
        batch_op.drop_index("ix_journal_event_entity")

    op.drop_table("journal_event")
    with op.batch_alter_table("interaction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interaction_external_ref"))

    op.drop_table("interaction")
