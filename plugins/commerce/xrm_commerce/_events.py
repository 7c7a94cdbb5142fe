"""The plugin's journal events: each on the timeline of the buyer or the reviewer."""

from __future__ import annotations

import attrs

from xrm import JournalEvent, personal

__all__ = [
    "EVENT_TYPES",
    "OrderPlaced",
    "OrderStatusChanged",
    "RefundRecorded",
    "ReviewGiven",
]

_ORDER = "commerce.order"


@attrs.frozen(kw_only=True)
class OrderPlaced(JournalEvent):
    """An order was placed by the party (or imported): its number, total and lines."""

    TYPE = "commerce.order_placed"
    ENTITY = _ORDER
    JSON_READY = True
    reference: str
    status: str
    currency: str
    #: the order's total (lines' quantity x unit price - discount) as decimal text
    total: str
    lines: int
    channel: str | None


@attrs.frozen(kw_only=True)
class OrderStatusChanged(JournalEvent):
    """An order moved to another status (paid, shipped, delivered, cancelled, returned)."""

    TYPE = "commerce.order_status_changed"
    ENTITY = _ORDER
    reference: str
    from_status: str
    to_status: str


@attrs.frozen(kw_only=True)
class RefundRecorded(JournalEvent):
    """Money was given back on an order, with the goods that came back (if any)."""

    TYPE = "commerce.refund_recorded"
    ENTITY = _ORDER
    reference: str
    amount: str
    currency: str
    sku: str | None
    quantity: int
    reason: str | None


@attrs.frozen(kw_only=True)
class ReviewGiven(JournalEvent):
    """The party rated (and perhaps reviewed) a product; a later review replaces it."""

    TYPE = "commerce.review_given"
    ENTITY = "commerce.review"
    sku: str
    rating: int
    channel: str
    text: str | None = personal(default=None)


EVENT_TYPES: tuple[type[JournalEvent], ...] = (
    OrderPlaced,
    OrderStatusChanged,
    RefundRecorded,
    ReviewGiven,
)
