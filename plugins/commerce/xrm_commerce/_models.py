"""The plugin's tables, on xrm's declarative base; its Alembic branch is ``commerce``.

Money in the rows a person reads (prices, costs, line amounts, refunds) is ``Numeric``
with three decimals, the most an ISO 4217 currency has. The order's totals, which the value
and RFM queries add up over millions of orders, are also kept as whole **thousandths**
(``BigInteger``): SQLite keeps ``NUMERIC`` as binary floating point, so only integers make
its sums, and the ranks taken on them, exact and equal to PostgreSQL's.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from xrm.tables import NOT_PERSONAL, PERSONAL, Base

__all__ = [
    "AMOUNT",
    "MILLI",
    "ModelRow",
    "OrderLineRow",
    "OrderRow",
    "OrderStatusRow",
    "ProductRow",
    "RefundRow",
    "ReviewRow",
    "SimilarRow",
]

#: amounts: 15 digits before the point, 3 after (the most any ISO 4217 currency has)
AMOUNT = Numeric(18, 3)
#: the totals kept in whole thousandths of the currency's unit
MILLI = BigInteger().with_variant(Integer(), "sqlite")


class ProductRow(Base):
    """A product of the catalogue: its price and what it costs the company."""

    __tablename__ = "commerce_product"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(100))
    price: Mapped[Decimal] = mapped_column(AMOUNT)
    cost: Mapped[Decimal] = mapped_column(AMOUNT)
    #: ISO 4217, of both price and cost
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]

    __table_args__ = (
        UniqueConstraint("sku"),
        Index("ix_commerce_product_category", "category"),
        CheckConstraint("price >= 0 AND cost >= 0", name="money"),
    )


class OrderRow(Base):
    """An order a party placed: its status, its date, and its totals in thousandths."""

    __tablename__ = "commerce_order"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    #: the order's number in the shop ("W-10042"): the accounting's, kept at erasure
    reference: Mapped[str] = mapped_column(String(64), info=NOT_PERSONAL)
    #: the buyer
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"))
    currency: Mapped[str] = mapped_column(String(3), info=NOT_PERSONAL)
    #: placed, paid, shipped, delivered, cancelled or returned
    status: Mapped[str] = mapped_column(String(12), info=NOT_PERSONAL)
    #: where it was placed: web, store, phone... (a channel of the shop, free text)
    channel: Mapped[str | None] = mapped_column(String(40), info=NOT_PERSONAL)
    ordered_at: Mapped[dt.datetime]
    #: when it entered its current status
    status_at: Mapped[dt.datetime]
    #: sum of the lines' quantity x unit price - discount, in thousandths
    net_milli: Mapped[int] = mapped_column(MILLI)
    #: sum of the lines' quantity x unit cost, in thousandths
    cost_milli: Mapped[int] = mapped_column(MILLI)
    #: sum of the refunds, in thousandths
    refunded_milli: Mapped[int] = mapped_column(MILLI)
    #: the cost of the goods that came back (returned quantity x unit cost), in thousandths
    returned_cost_milli: Mapped[int] = mapped_column(MILLI)
    created_at: Mapped[dt.datetime]

    __table_args__ = (
        UniqueConstraint("reference"),
        # a party's orders by date; the value and RFM queries group by party per currency
        Index("ix_commerce_order_party", "party_id", "ordered_at"),
        Index("ix_commerce_order_currency", "currency", "party_id", "ordered_at"),
        Index("ix_commerce_order_ordered_at", "ordered_at"),
        CheckConstraint(
            "status IN ('placed', 'paid', 'shipped', 'delivered', 'cancelled', 'returned')",
            name="status",
        ),
    )


class OrderLineRow(Base):
    """A line of an order: a product, how many, at what price, with what discount, and
    the unit cost when it was sold (for the margin)."""

    __tablename__ = "commerce_order_line"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("commerce_order.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("commerce_product.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(AMOUNT)
    #: the discount on the whole line (not per unit)
    discount: Mapped[Decimal] = mapped_column(AMOUNT)
    unit_cost: Mapped[Decimal] = mapped_column(AMOUNT)
    #: how many units came back (refunds with a return)
    returned: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        # with the product: which of a party's orders hold one of some products is read
        # from the index alone (a recommendation's similar customers)
        Index("ix_commerce_order_line_order", "order_id", "product_id"),
        Index("ix_commerce_order_line_product", "product_id", "order_id"),
        CheckConstraint("quantity > 0 AND returned >= 0 AND returned <= quantity", name="quantity"),
    )


class OrderStatusRow(Base):
    """One step of an order's status history: the status and when it was entered."""

    __tablename__ = "commerce_order_status"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("commerce_order.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(12))
    at: Mapped[dt.datetime]
    #: the unit of work's actor
    by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_commerce_order_status_order", "order_id", "at", "id"),)


class RefundRow(Base):
    """Money given back on an order, with the goods that came back (if any)."""

    __tablename__ = "commerce_refund"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("commerce_order.id", ondelete="CASCADE"))
    #: the line whose goods came back (``None``: a refund without a return)
    line_id: Mapped[int | None] = mapped_column(
        ForeignKey("commerce_order_line.id", ondelete="CASCADE")
    )
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(AMOUNT)
    #: the company's reason code ("damaged", "late"...)
    reason: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[dt.datetime]

    __table_args__ = (
        Index("ix_commerce_refund_order", "order_id"),
        CheckConstraint("amount >= 0 AND quantity >= 0", name="refund"),
    )


class ReviewRow(Base):
    """A party's opinion of a product: a rating from 1 to 5 and a review text."""

    __tablename__ = "commerce_review"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("commerce_product.id", ondelete="CASCADE"))
    rating: Mapped[int] = mapped_column(SmallInteger)
    #: what the party wrote: their personal data (erased with them)
    text: Mapped[str | None] = mapped_column(Text, info=PERSONAL)
    #: where it was given: web, email, survey, store...
    channel: Mapped[str] = mapped_column(String(40), info=NOT_PERSONAL)
    reviewed_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime]

    __table_args__ = (
        UniqueConstraint("party_id", "product_id"),
        # a product's latest reviews (the opinions shown with a recommendation)
        Index("ix_commerce_review_product", "product_id", "reviewed_at", "id"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
    )


class SimilarRow(Base):
    """The recommendation model: for a product, its nearest products by the cosine of
    their co-purchase vectors (the ``neighbours`` best of each)."""

    __tablename__ = "commerce_similar"

    product_id: Mapped[int] = mapped_column(
        ForeignKey("commerce_product.id", ondelete="CASCADE"), primary_key=True
    )
    similar_id: Mapped[int] = mapped_column(
        ForeignKey("commerce_product.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[float] = mapped_column(Float)


class ModelRow(Base):
    """When the recommendation model was built, and from what."""

    __tablename__ = "commerce_model"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    built_at: Mapped[dt.datetime]
    parties: Mapped[int] = mapped_column(Integer)
    products: Mapped[int] = mapped_column(Integer)
    pairs: Mapped[int] = mapped_column(Integer)
    neighbours: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
