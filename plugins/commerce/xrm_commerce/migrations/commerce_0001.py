"""commerce: products, orders and their lines, status history, refunds, reviews, and the
recommendation model

Revision ID: commerce_0001
Revises:
Depends on: 0001_core
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "commerce_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("commerce",)
depends_on: str | Sequence[str] | None = "0001_core"

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Amount = sa.Numeric(18, 3)
When = sa.DateTime()


def _fk(table: str, column: str, target: str, ondelete: str | None = "CASCADE") -> sa.Constraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{referred}"), ondelete=ondelete
    )


# every name is given whole (op.f): the metadata's naming convention must not rename it
def upgrade() -> None:
    op.create_table(
        "commerce_product",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("price", Amount, nullable=False),
        sa.Column("cost", Amount, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.CheckConstraint("price >= 0 AND cost >= 0", name=op.f("ck_commerce_product_money")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commerce_product")),
        sa.UniqueConstraint("sku", name=op.f("uq_commerce_product_sku")),
    )
    op.create_index(op.f("ix_commerce_product_category"), "commerce_product", ["category"])

    op.create_table(
        "commerce_order",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("party_id", BigId, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("channel", sa.String(40), nullable=True),
        sa.Column("ordered_at", When, nullable=False),
        sa.Column("status_at", When, nullable=False),
        sa.Column("net_milli", BigId, nullable=False),
        sa.Column("cost_milli", BigId, nullable=False),
        sa.Column("refunded_milli", BigId, nullable=False),
        sa.Column("returned_cost_milli", BigId, nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.CheckConstraint(
            "status IN ('placed', 'paid', 'shipped', 'delivered', 'cancelled', 'returned')",
            name=op.f("ck_commerce_order_status"),
        ),
        _fk("commerce_order", "party_id", "party.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commerce_order")),
        sa.UniqueConstraint("reference", name=op.f("uq_commerce_order_reference")),
    )
    op.create_index(op.f("ix_commerce_order_party"), "commerce_order", ["party_id", "ordered_at"])
    op.create_index(
        op.f("ix_commerce_order_currency"), "commerce_order", ["currency", "party_id", "ordered_at"]
    )
    op.create_index(op.f("ix_commerce_order_ordered_at"), "commerce_order", ["ordered_at"])

    op.create_table(
        "commerce_order_line",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("order_id", BigId, nullable=False),
        sa.Column("product_id", BigId, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", Amount, nullable=False),
        sa.Column("discount", Amount, nullable=False),
        sa.Column("unit_cost", Amount, nullable=False),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "quantity > 0 AND returned >= 0 AND returned <= quantity",
            name=op.f("ck_commerce_order_line_quantity"),
        ),
        _fk("commerce_order_line", "order_id", "commerce_order.id"),
        _fk("commerce_order_line", "product_id", "commerce_product.id", ondelete=None),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commerce_order_line")),
    )
    op.create_index(
        op.f("ix_commerce_order_line_order"), "commerce_order_line", ["order_id", "product_id"]
    )
    op.create_index(
        op.f("ix_commerce_order_line_product"), "commerce_order_line", ["product_id", "order_id"]
    )

    op.create_table(
        "commerce_order_status",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("order_id", BigId, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("by", sa.String(200), nullable=True),
        _fk("commerce_order_status", "order_id", "commerce_order.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commerce_order_status")),
    )
    op.create_index(
        op.f("ix_commerce_order_status_order"), "commerce_order_status", ["order_id", "at", "id"]
    )

    op.create_table(
        "commerce_refund",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("order_id", BigId, nullable=False),
        sa.Column("line_id", BigId, nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount", Amount, nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("at", When, nullable=False),
        sa.CheckConstraint("amount >= 0 AND quantity >= 0", name=op.f("ck_commerce_refund_refund")),
        _fk("commerce_refund", "order_id", "commerce_order.id"),
        _fk("commerce_refund", "line_id", "commerce_order_line.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commerce_refund")),
    )
    op.create_index(op.f("ix_commerce_refund_order"), "commerce_refund", ["order_id"])

    op.create_table(
        "commerce_review",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("party_id", BigId, nullable=False),
        sa.Column("product_id", BigId, nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("reviewed_at", When, nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_commerce_review_rating")),
        _fk("commerce_review", "party_id", "party.id"),
        _fk("commerce_review", "product_id", "commerce_product.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commerce_review")),
        sa.UniqueConstraint(
            "party_id", "product_id", name=op.f("uq_commerce_review_party_id_product_id")
        ),
    )
    op.create_index(
        op.f("ix_commerce_review_product"), "commerce_review", ["product_id", "reviewed_at", "id"]
    )

    op.create_table(
        "commerce_similar",
        sa.Column("product_id", BigId, nullable=False),
        sa.Column("similar_id", BigId, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        _fk("commerce_similar", "product_id", "commerce_product.id"),
        _fk("commerce_similar", "similar_id", "commerce_product.id"),
        sa.PrimaryKeyConstraint("product_id", "similar_id", name=op.f("pk_commerce_similar")),
    )

    op.create_table(
        "commerce_model",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("built_at", When, nullable=False),
        sa.Column("parties", sa.Integer(), nullable=False),
        sa.Column("products", sa.Integer(), nullable=False),
        sa.Column("pairs", sa.Integer(), nullable=False),
        sa.Column("neighbours", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commerce_model")),
    )


def downgrade() -> None:
    for table in (
        "commerce_model",
        "commerce_similar",
        "commerce_review",
        "commerce_refund",
        "commerce_order_status",
        "commerce_order_line",
        "commerce_order",
        "commerce_product",
    ):
        op.drop_table(table)
