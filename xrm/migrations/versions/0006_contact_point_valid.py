"""contact_point.valid: a phone number libphonenumber judges invalid, kept as written

Revision ID: 0006_contact_point_valid
Revises: 0005_party_erased_at
Create Date: 2026-12-03

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006_contact_point_valid"
down_revision: str | Sequence[str] | None = "0005_party_erased_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("contact_point") as batch:
        batch.add_column(
            sa.Column("valid", sa.Boolean(), nullable=False, server_default=sa.text("true"))
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("contact_point") as batch:
        batch.drop_column("valid")
