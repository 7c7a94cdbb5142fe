"""Products, orders with their lines and status history, refunds and returns, reviews.

Every write goes through :meth:`xrm.Session.atomic`: when a rule refuses, nothing the call
wrote stays. Bad input raises :class:`~xrm.ValidationError` naming each field, before
anything is written.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

import attrs
from sqlalchemy import select

from xrm import Party, Session
from xrm.errors import Conflict, FieldError, NotFound, ValidationError
from xrm.tables import utcnow
from xrm_commerce import _money
from xrm_commerce._events import OrderPlaced, OrderStatusChanged, RefundRecorded, ReviewGiven
from xrm_commerce._models import (
    OrderLineRow,
    OrderRow,
    OrderStatusRow,
    ProductRow,
    RefundRow,
    ReviewRow,
)

__all__ = [
    "STATUSES",
    "TRANSITIONS",
    "LineIn",
    "Order",
    "OrderLine",
    "Product",
    "Review",
    "get_order",
    "orders",
    "place_order",
    "product",
    "products",
    "refund",
    "review",
    "reviews",
    "save_product",
    "set_status",
]

STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "returned")
#: the statuses an order may go to from each
TRANSITIONS: Mapping[str, tuple[str, ...]] = {
    "placed": ("paid", "cancelled"),
    "paid": ("shipped", "cancelled"),
    "shipped": ("delivered", "returned"),
    "delivered": ("returned",),
    "cancelled": (),
    "returned": (),
}
_SKU_LIMIT = 64
_NAME_LIMIT = 300
_CATEGORY_LIMIT = 100
_REFERENCE_LIMIT = 64
_CHANNEL_LIMIT = 40
_REASON_LIMIT = 200
_REVIEW_LIMIT = 4000
_MAX_QUANTITY = 1_000_000


@attrs.frozen
class Product:
    id: int
    sku: str
    name: str
    category: str | None
    price: Decimal
    cost: Decimal
    currency: str

    @classmethod
    def of(cls, row: ProductRow) -> Product:
        return cls(
            row.id, row.sku, row.name, row.category,
            _money.in_units(Decimal(row.price), row.currency),
            _money.in_units(Decimal(row.cost), row.currency), row.currency,
        )  # fmt: skip


@attrs.frozen
class LineIn:
    """A line to order: the product's SKU and quantity; the unit price and cost default to
    the product's (when the order is in the product's currency); ``discount`` is on the
    whole line."""

    sku: str
    quantity: int = 1
    unit_price: Decimal | int | str | None = None
    discount: Decimal | int | str = Decimal(0)
    unit_cost: Decimal | int | str | None = None


@attrs.frozen
class OrderLine:
    id: int
    product_id: int
    sku: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    unit_cost: Decimal
    returned: int

    @property
    def amount(self) -> Decimal:
        """quantity x unit price - discount"""
        return self.quantity * self.unit_price - self.discount


@attrs.frozen
class Order:
    id: int
    reference: str
    party_id: int
    currency: str
    status: str
    channel: str | None
    ordered_at: dt.datetime
    status_at: dt.datetime
    #: the lines' amounts added up
    total: Decimal
    #: what the goods sold cost the company
    cost: Decimal
    #: the refunds added up
    refunded: Decimal
    lines: tuple[OrderLine, ...]

    @property
    def margin(self) -> Decimal:
        """What the order earned: total - refunded - (cost - cost of the goods returned)."""
        returned = sum((line.returned * line.unit_cost for line in self.lines), Decimal(0))
        return self.total - self.refunded - (self.cost - returned)


@attrs.frozen
class Review:
    id: int
    party_id: int
    product_id: int
    sku: str
    rating: int
    text: str | None
    channel: str
    reviewed_at: dt.datetime


# -- products --------------------------------------------------------------------------------


def save_product(
    session: Session,
    sku: str,
    name: str,
    *,
    price: Decimal | int | str,
    cost: Decimal | int | str,
    currency: str,
    category: str | None = None,
) -> Product:
    """Add the product ``sku`` to the catalogue, or change the one of that SKU."""
    errors: list[FieldError] = []
    sku_ = _money.text(sku, "sku", _SKU_LIMIT, errors, required=True)
    name_ = _money.text(name, "name", _NAME_LIMIT, errors, required=True)
    category_ = _money.text(category, "category", _CATEGORY_LIMIT, errors)
    code = _money.currency(currency, errors)
    price_ = _money.amount(price, code, errors, "price")
    cost_ = _money.amount(cost, code, errors, "cost")
    if errors:
        raise ValidationError(errors)
    assert sku_ is not None
    assert name_ is not None
    assert price_ is not None
    assert cost_ is not None
    now = utcnow()
    with session.atomic():
        row = session.db.scalars(select(ProductRow).where(ProductRow.sku == sku_)).first()
        if row is None:
            row = ProductRow(sku=sku_, created_at=now)
            session.db.add(row)
        row.name, row.category, row.currency = name_, category_, code
        row.price, row.cost, row.updated_at = price_, cost_, now
        session.db.flush()
        return Product.of(row)


def product(session: Session, sku: str) -> Product:
    """The product of SKU ``sku``; :class:`~xrm.NotFound` when there is none."""
    row = session.db.scalars(select(ProductRow).where(ProductRow.sku == sku)).first()
    if row is None:
        raise NotFound("product", sku)
    return Product.of(row)


def products(
    session: Session, *, category: str | None = None, limit: int = 100, after: int = 0
) -> list[Product]:
    """The catalogue by id, ``limit`` at a time after the id ``after``."""
    query = select(ProductRow).where(ProductRow.id > after).order_by(ProductRow.id).limit(limit)
    if category is not None:
        query = query.where(ProductRow.category == category)
    return [Product.of(row) for row in session.db.scalars(query)]


# -- orders ----------------------------------------------------------------------------------


@attrs.define
class CheckedLine:
    """A line validated against the catalogue, ready to insert."""

    product_id: int
    sku: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    unit_cost: Decimal

    @property
    def net(self) -> Decimal:
        return self.quantity * self.unit_price - self.discount


def check_lines(
    catalogue: Mapping[str, ProductRow],
    lines: Sequence[LineIn | Mapping[str, object]],
    code: str,
    errors: list[FieldError],
) -> list[CheckedLine]:
    """The lines, each checked: a known SKU, a positive quantity, prices in the order's
    currency (the product's own when it is in that currency), a discount no larger than
    the line. ``catalogue`` maps each SKU to its product."""
    checked: list[CheckedLine] = []
    if not lines:
        errors.append(FieldError("lines", "an order needs at least one line"))
    for index, line in enumerate(lines):
        path = f"lines.{index}"
        data = attrs.asdict(line) if isinstance(line, LineIn) else dict(line)
        sku = data.get("sku")
        found = catalogue.get(sku) if isinstance(sku, str) else None
        if found is None:
            errors.append(FieldError(f"{path}.sku", f"no product of SKU {sku!r}"))
            continue
        quantity = data.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            errors.append(
                FieldError(f"{path}.quantity", f"must be a whole number, got {quantity!r}")
            )
            continue
        if not 0 < quantity <= _MAX_QUANTITY:
            errors.append(FieldError(f"{path}.quantity", f"must be from 1 to {_MAX_QUANTITY}"))
            continue
        same = found.currency == code
        price = data.get("unit_price")
        cost = data.get("unit_cost")
        foreign = False
        for name, value in (("unit_price", price), ("unit_cost", cost)):
            if value is None and not same and code:
                foreign = True
                errors.append(
                    FieldError(f"{path}.{name}", f"the product is priced in {found.currency}: "
                               f"give the {name.replace('_', ' ')} in {code}")
                )  # fmt: skip
        price_ = _money.amount(price, code, errors, f"{path}.unit_price",
                               default=Decimal(found.price))  # fmt: skip
        cost_ = _money.amount(cost, code, errors, f"{path}.unit_cost", default=Decimal(found.cost))
        discount = _money.amount(data.get("discount", Decimal(0)), code, errors, f"{path}.discount")
        if price_ is None or cost_ is None or discount is None or foreign:
            continue
        if discount > quantity * price_:
            errors.append(FieldError(f"{path}.discount", "is larger than the line's amount"))
            continue
        checked.append(CheckedLine(found.id, found.sku, quantity, price_, discount, cost_))
    return checked


def catalogue_of(session: Session, skus: Iterable[object]) -> dict[str, ProductRow]:
    """The products of these SKUs, by SKU: one query per 500."""
    wanted = sorted({s for s in skus if isinstance(s, str)})
    found: dict[str, ProductRow] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for row in session.db.scalars(select(ProductRow).where(ProductRow.sku.in_(chunk))):
            found[row.sku] = row
    return found


def place_order(
    session: Session,
    party: int | Party,
    lines: Sequence[LineIn | Mapping[str, object]],
    *,
    currency: str,
    reference: str | None = None,
    ordered_at: dt.datetime | None = None,
    status: str = "placed",
    channel: str | None = None,
) -> Order:
    """Record an order of ``party``: its lines (:class:`LineIn`), in ``currency``.

    ``reference`` is the shop's order number (unique; default ``O-<id>``); ``ordered_at``
    defaults to now; ``status`` is where it stands already (an import of past orders:
    ``delivered``). Writes the order, its lines, its first status step and
    ``commerce.order_placed`` on the party's timeline."""
    errors: list[FieldError] = []
    code = _money.currency(currency, errors)
    reference_ = _money.text(reference, "reference", _REFERENCE_LIMIT, errors)
    channel_ = _money.text(channel, "channel", _CHANNEL_LIMIT, errors)
    at = _money.when(ordered_at, "ordered_at", errors)
    if status not in STATUSES:
        errors.append(FieldError("status", f"must be one of {', '.join(STATUSES)}, got {status!r}"))
    buyer = _money.party(session, party, "party", errors)
    skus = [line.sku if isinstance(line, LineIn) else line.get("sku") for line in lines]
    checked = check_lines(catalogue_of(session, skus), lines, code, errors)
    if reference_ is not None and _reference_taken(session, reference_):
        errors.append(FieldError("reference", f"an order {reference_!r} exists already"))
    if errors:
        raise ValidationError(errors)
    assert buyer is not None
    with session.atomic():
        row = insert_order(session, buyer.id, checked, code, reference_, at or utcnow(),
                           status, channel_)  # fmt: skip
        session.journal(placed_event(row, len(checked)))
        return _order(session, row)


def insert_order(
    session: Session,
    party_id: int,
    lines: Sequence[CheckedLine],
    code: str,
    reference: str | None,
    ordered_at: dt.datetime,
    status: str,
    channel: str | None,
) -> OrderRow:
    """Insert the order, its lines and its first status step (no event)."""
    now = utcnow()
    row = OrderRow(
        reference=reference or f"tmp-{uuid.uuid4().hex}",
        party_id=party_id,
        currency=code,
        status=status,
        channel=channel,
        ordered_at=ordered_at,
        status_at=ordered_at,
        net_milli=sum(_money.to_milli(line.net) for line in lines),
        cost_milli=sum(_money.to_milli(line.quantity * line.unit_cost) for line in lines),
        refunded_milli=0,
        returned_cost_milli=0,
        created_at=now,
    )
    session.db.add(row)
    session.db.flush()
    if reference is None:
        row.reference = f"O-{row.id}"
    session.db.add_all(
        OrderLineRow(
            order_id=row.id, product_id=line.product_id, quantity=line.quantity,
            unit_price=line.unit_price, discount=line.discount, unit_cost=line.unit_cost,
            returned=0,
        )
        for line in lines
    )  # fmt: skip
    session.db.add(OrderStatusRow(order_id=row.id, status=status, at=ordered_at, by=session.actor))
    session.db.flush()
    return row


def placed_event(row: OrderRow, lines: int) -> OrderPlaced:
    return OrderPlaced(
        entity_id=row.id,
        parties=(row.party_id,),
        occurred_at=row.ordered_at,
        reference=row.reference,
        status=row.status,
        currency=row.currency,
        total=str(_money.from_milli(row.net_milli, row.currency)),
        lines=lines,
        channel=row.channel,
    )


def set_status(
    session: Session, order: int | str | Order, status: str, *, at: dt.datetime | None = None
) -> Order:
    """Move the order to ``status`` (:data:`TRANSITIONS`), dated ``at`` (default now);
    another move raises :class:`~xrm.Conflict`. Writes ``commerce.order_status_changed``."""
    row = _row(session, order)
    errors: list[FieldError] = []
    when = _money.when(at, "at", errors)
    if status not in STATUSES:
        errors.append(FieldError("status", f"must be one of {', '.join(STATUSES)}, got {status!r}"))
    if errors:
        raise ValidationError(errors)
    if status not in TRANSITIONS[row.status]:
        allowed = ", ".join(TRANSITIONS[row.status]) or "nothing"
        raise Conflict(f"order {row.reference} is {row.status}: it may go to {allowed}")
    moment = when or utcnow()
    if moment < row.status_at:
        raise ValidationError.single("at", f"is before the order entered {row.status}")
    with session.atomic():
        before = row.status
        row.status, row.status_at = status, moment
        session.db.add(OrderStatusRow(order_id=row.id, status=status, at=moment, by=session.actor))
        session.db.flush()
        session.journal(
            OrderStatusChanged(
                entity_id=row.id, parties=(row.party_id,), occurred_at=moment,
                reference=row.reference, from_status=before, to_status=status,
            )
        )  # fmt: skip
        return _order(session, row)


def refund(
    session: Session,
    order: int | str | Order,
    amount: Decimal | int | str,
    *,
    sku: str | None = None,
    quantity: int = 0,
    reason: str | None = None,
    at: dt.datetime | None = None,
) -> Order:
    """Give ``amount`` back on the order; with ``sku`` and ``quantity``, that many units of
    that line came back (their cost no longer counts against the margin). The refunds never
    exceed the order's total, nor the returns a line's quantity. A cancelled order is not
    refunded (it counts for nothing already)."""
    row = _row(session, order)
    errors: list[FieldError] = []
    amount_ = _money.amount(amount, row.currency, errors, "amount")
    reason_ = _money.text(reason, "reason", _REASON_LIMIT, errors)
    when = _money.when(at, "at", errors)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        errors.append(
            FieldError("quantity", f"must be a whole number, 0 or more, got {quantity!r}")
        )
        quantity = 0
    line = None
    if sku is not None:
        candidates = list(session.db.scalars(
            select(OrderLineRow)
            .join(ProductRow, ProductRow.id == OrderLineRow.product_id)
            .where(OrderLineRow.order_id == row.id, ProductRow.sku == sku)
            .order_by(OrderLineRow.id)
        ))  # fmt: skip
        # the first line of that product with enough units still out
        line = next((c for c in candidates if c.quantity - c.returned >= quantity), None)
        if not candidates:
            errors.append(FieldError("sku", f"order {row.reference} has no line of {sku!r}"))
        elif line is None:
            left = max(c.quantity - c.returned for c in candidates)
            errors.append(FieldError("quantity", f"only {left} of {sku!r} may still come back"))
    elif quantity:
        errors.append(FieldError("sku", "name the product whose units came back"))
    if amount_ is not None and row.refunded_milli + _money.to_milli(amount_) > row.net_milli:
        rest = _money.from_milli(row.net_milli - row.refunded_milli, row.currency)
        errors.append(FieldError("amount", f"at most {rest} {row.currency} is left to refund"))
    if row.status == "cancelled":
        errors.append(FieldError("order", f"order {row.reference} was cancelled"))
    if errors:
        raise ValidationError(errors)
    assert amount_ is not None
    moment = when or utcnow()
    with session.atomic():
        session.db.add(
            RefundRow(order_id=row.id, line_id=None if line is None else line.id,
                      quantity=quantity, amount=amount_, reason=reason_, at=moment)
        )  # fmt: skip
        row.refunded_milli += _money.to_milli(amount_)
        if line is not None and quantity:
            line.returned += quantity
            row.returned_cost_milli += _money.to_milli(quantity * Decimal(line.unit_cost))
        session.db.flush()
        session.journal(
            RefundRecorded(
                entity_id=row.id, parties=(row.party_id,), occurred_at=moment,
                reference=row.reference, amount=str(amount_), currency=row.currency,
                sku=sku, quantity=quantity, reason=reason_,
            )
        )  # fmt: skip
        return _order(session, row)


def get_order(session: Session, order: int | str) -> Order:
    """The order of that id or reference."""
    return _order(session, _row(session, order))


def orders(session: Session, party: int | Party, *, limit: int = 20) -> list[Order]:
    """The party's orders, newest first."""
    party_id = party.id if isinstance(party, Party) else party
    query = (
        select(OrderRow)
        .where(OrderRow.party_id == party_id)
        .order_by(OrderRow.ordered_at.desc(), OrderRow.id.desc())
        .limit(limit)
    )
    rows = list(session.db.scalars(query))
    lines = _lines(session, [r.id for r in rows])
    return [_of(r, lines.get(r.id, ())) for r in rows]


# -- reviews ---------------------------------------------------------------------------------


def review(
    session: Session,
    party: int | Party,
    sku: str,
    rating: int,
    *,
    text: str | None = None,
    channel: str = "web",
    at: dt.datetime | None = None,
) -> Review:
    """The party's opinion of the product: ``rating`` from 1 to 5 and an optional text,
    given on ``channel`` at ``at`` (default now). A party has one review per product: a
    new one replaces it. Writes ``commerce.review_given`` on the party's timeline."""
    errors: list[FieldError] = []
    author = _money.party(session, party, "party", errors)
    found = catalogue_of(session, [sku]).get(sku)
    if found is None:
        errors.append(FieldError("sku", f"no product of SKU {sku!r}"))
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        errors.append(FieldError("rating", f"must be a whole number from 1 to 5, got {rating!r}"))
    text_ = _money.text(text, "text", _REVIEW_LIMIT, errors)
    channel_ = _money.text(channel, "channel", _CHANNEL_LIMIT, errors, required=True)
    when = _money.when(at, "at", errors)
    if errors:
        raise ValidationError(errors)
    assert author is not None
    assert found is not None
    assert channel_ is not None
    now = utcnow()
    with session.atomic():
        query = select(ReviewRow).where(
            ReviewRow.party_id == author.id, ReviewRow.product_id == found.id
        )
        row = session.db.scalars(query).first()
        if row is None:
            row = ReviewRow(party_id=author.id, product_id=found.id, created_at=now)
            session.db.add(row)
        row.rating, row.text, row.channel, row.reviewed_at = rating, text_, channel_, when or now
        session.db.flush()
        session.journal(
            ReviewGiven(
                entity_id=row.id, parties=(author.id,), occurred_at=row.reviewed_at,
                sku=found.sku, rating=rating, channel=channel_, text=text_,
            )
        )  # fmt: skip
        return Review(row.id, author.id, found.id, found.sku, rating, text_, channel_,
                      row.reviewed_at)  # fmt: skip


def reviews(session: Session, party: int | Party, *, limit: int = 50) -> list[Review]:
    """The party's reviews, newest first."""
    party_id = party.id if isinstance(party, Party) else party
    query = (
        select(ReviewRow, ProductRow.sku)
        .join(ProductRow, ProductRow.id == ReviewRow.product_id)
        .where(ReviewRow.party_id == party_id)
        .order_by(ReviewRow.reviewed_at.desc(), ReviewRow.id.desc())
        .limit(limit)
    )
    return [
        Review(r.id, r.party_id, r.product_id, sku, r.rating, r.text, r.channel, r.reviewed_at)
        for r, sku in session.db.execute(query)
    ]


# -- helpers ---------------------------------------------------------------------------------


def _reference_taken(session: Session, reference: str) -> bool:
    query = select(OrderRow.id).where(OrderRow.reference == reference)
    return session.db.scalars(query).first() is not None


def _row(session: Session, order: int | str | Order) -> OrderRow:
    if isinstance(order, Order):
        order = order.id
    if isinstance(order, str):
        row = session.db.scalars(select(OrderRow).where(OrderRow.reference == order)).first()
    elif isinstance(order, int) and not isinstance(order, bool):
        row = session.db.get(OrderRow, order)
    else:
        raise ValidationError.single("order", f"must be an id or a reference, got {order!r}")
    if row is None:
        raise NotFound("order", order)
    return row


def _lines(session: Session, ids: Sequence[int]) -> dict[int, list[OrderLine]]:
    found: dict[int, list[OrderLine]] = {}
    if not ids:
        return found
    L = OrderLineRow
    query = (
        select(L, ProductRow.sku, OrderRow.currency)
        .join(ProductRow, ProductRow.id == L.product_id)
        .join(OrderRow, OrderRow.id == L.order_id)
        .where(L.order_id.in_(ids))
        .order_by(L.order_id, L.id)
    )
    for line, sku, code in session.db.execute(query):
        found.setdefault(line.order_id, []).append(
            OrderLine(
                line.id, line.product_id, sku, line.quantity,
                _money.in_units(Decimal(line.unit_price), code),
                _money.in_units(Decimal(line.discount), code),
                _money.in_units(Decimal(line.unit_cost), code), line.returned,
            )
        )  # fmt: skip
    return found


def _of(row: OrderRow, lines: Iterable[OrderLine]) -> Order:
    code = row.currency
    return Order(
        row.id, row.reference, row.party_id, code, row.status, row.channel, row.ordered_at,
        row.status_at, _money.from_milli(row.net_milli, code),
        _money.from_milli(row.cost_milli, code), _money.from_milli(row.refunded_milli, code),
        tuple(lines),
    )  # fmt: skip


def _order(session: Session, row: OrderRow) -> Order:
    return _of(row, _lines(session, [row.id]).get(row.id, ()))
