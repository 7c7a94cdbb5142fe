"""xrm-commerce: what parties bought and what they thought of it; what they are worth; what
to suggest to them.

- Tables (Alembic branch ``commerce``): ``commerce_product`` (SKU, name, category, price
  and cost as ``Decimal`` in an ISO 4217 currency), ``commerce_order`` (buyer, status and
  its date, totals), ``commerce_order_line`` (quantity, unit price, discount, unit cost,
  units returned), ``commerce_order_status`` (the dated status history),
  ``commerce_refund``, ``commerce_review`` (rating, text, channel, date), and the
  recommendation model (``commerce_similar``, ``commerce_model``).
- Orders: :func:`place_order`, :func:`set_status`, :func:`refund`; the bulk
  :func:`import_orders` recognising buyers as ``xrm import`` does; reviews: :func:`review`.
- Value, set-based, per currency: :func:`values`, :func:`top` (the most profitable
  customers over a period), :func:`rfm` with named segments, and the segment criteria
  ``commerce.rfm`` and ``commerce.value``; lifetime value with BG/NBD and Gamma-Gamma
  (:func:`fit_clv`, :func:`lifetime_values`).
- Recommendations: :func:`build_model` (item-to-item cosine on co-purchases),
  :func:`recommend` with the opinions of similar customers, :func:`send_recommendations`
  through the messaging layer (consent applies).
- Journal events ``commerce.*`` on the buyer's timeline; export of orders and reviews;
  erasure deletes reviews and keeps orders (accounting) on the anonymised party; merge
  moves orders and reviews to the survivor (back on unmerge).
- ``xrm order import``, ``xrm value top|show|rfm``, ``xrm recommend PARTY [--build]``;
  endpoints under ``/plugins/commerce``; a panel on the party page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import click
from sqlalchemy import delete, func, select, update

from xrm import JournalEvent, Panel, Party, Session, TemplateSet, hookimpl
from xrm import segments as seg
from xrm_commerce._clv import (
    BgNbd,
    ClvModel,
    GammaGamma,
    Lifetime,
    Summary,
    expected_average_value,
    expected_orders,
    fit_bgnbd,
    fit_clv,
    fit_gamma_gamma,
    lifetime_values,
    probability_alive,
    summaries,
)
from xrm_commerce._criteria import CRITERIA, RfmSegment, ValueAtLeast
from xrm_commerce._events import (
    EVENT_TYPES,
    OrderPlaced,
    OrderStatusChanged,
    RefundRecorded,
    ReviewGiven,
)
from xrm_commerce._import import OrderImportResult, import_orders, read_orders
from xrm_commerce._models import (
    ModelRow,
    OrderLineRow,
    OrderRow,
    OrderStatusRow,
    ProductRow,
    RefundRow,
    ReviewRow,
    SimilarRow,
)
from xrm_commerce._orders import (
    STATUSES,
    TRANSITIONS,
    LineIn,
    Order,
    OrderLine,
    Product,
    Review,
    get_order,
    orders,
    place_order,
    product,
    products,
    refund,
    review,
    reviews,
    save_product,
    set_status,
)
from xrm_commerce._recommend import (
    RECOMMENDATION_TEMPLATE,
    TEMPLATES_DIR,
    ModelInfo,
    Opinion,
    Suggestion,
    build_model,
    default_templates,
    model_info,
    recommend,
    send_recommendations,
    similarities,
)
from xrm_commerce._value import (
    SEGMENTS,
    PartyValue,
    Rfm,
    rfm,
    rfm_counts,
    rfm_select,
    segment_of,
    top,
    value,
    value_select,
    values,
)

__all__ = [
    "CRITERIA",
    "EVENT_TYPES",
    "RECOMMENDATION_TEMPLATE",
    "RFM_ON_PAGE_ORDERS",
    "SEGMENTS",
    "STATUSES",
    "TEMPLATES_DIR",
    "TRANSITIONS",
    "BgNbd",
    "ClvModel",
    "GammaGamma",
    "Lifetime",
    "LineIn",
    "ModelInfo",
    "ModelRow",
    "Opinion",
    "Order",
    "OrderImportResult",
    "OrderLine",
    "OrderLineRow",
    "OrderPlaced",
    "OrderRow",
    "OrderStatusChanged",
    "OrderStatusRow",
    "PartyValue",
    "Product",
    "ProductRow",
    "RefundRecorded",
    "RefundRow",
    "Review",
    "ReviewGiven",
    "ReviewRow",
    "Rfm",
    "RfmSegment",
    "SimilarRow",
    "Suggestion",
    "Summary",
    "ValueAtLeast",
    "build_model",
    "default_templates",
    "expected_average_value",
    "expected_orders",
    "fit_bgnbd",
    "fit_clv",
    "fit_gamma_gamma",
    "get_order",
    "import_orders",
    "lifetime_values",
    "model_info",
    "orders",
    "place_order",
    "probability_alive",
    "product",
    "products",
    "read_orders",
    "recommend",
    "refund",
    "review",
    "reviews",
    "rfm",
    "rfm_counts",
    "rfm_select",
    "save_product",
    "segment_of",
    "send_recommendations",
    "set_status",
    "similarities",
    "summaries",
    "top",
    "value",
    "value_select",
    "values",
    "with_default_templates",
]


def with_default_templates(templates: TemplateSet | None = None) -> TemplateSet:
    """``templates`` (the application's) plus the plugin's for every name it lacks: give
    the result to ``XRM(templates=...)``. The application's own versions win."""
    return TemplateSet(templates or ()).with_defaults(default_templates())


@hookimpl
def xrm_migration_locations() -> Iterable[str]:
    return ["migrations"]  # relative: resolved by the host next to this module


@hookimpl
def xrm_event_types() -> Iterable[type[JournalEvent]]:
    return EVENT_TYPES


@hookimpl
def xrm_segment_criteria() -> Iterable[type[seg.Criterion]]:
    return CRITERIA


@hookimpl
def xrm_party_export(session: Session, party: Party) -> Mapping[str, Any] | None:
    """What the party bought (every order with its lines) and its reviews."""
    bought = orders(session, party, limit=1_000_000)
    said = reviews(session, party, limit=1_000_000)
    if not bought and not said:
        return None
    return {
        "orders": [
            {"reference": o.reference, "status": o.status, "ordered_at": o.ordered_at.isoformat(),
             "currency": o.currency, "total": str(o.total), "refunded": str(o.refunded),
             "lines": [{"sku": line.sku, "quantity": line.quantity,
                        "unit_price": str(line.unit_price), "discount": str(line.discount),
                        "returned": line.returned} for line in o.lines]}
            for o in bought
        ],
        "reviews": [
            {"sku": r.sku, "rating": r.rating, "text": r.text, "channel": r.channel,
             "reviewed_at": r.reviewed_at.isoformat()}
            for r in said
        ],
    }  # fmt: skip


@hookimpl
def xrm_party_erase(session: Session, party: Party) -> None:
    """An erased party's reviews are deleted (an opinion is personal; nothing obliges the
    company to keep it). Its orders are kept for the accounts - reference, dates, lines,
    amounts: no text about the person - on the party row the core anonymises; the value,
    RFM and recommendation queries leave erased parties out."""
    session.db.execute(
        delete(ReviewRow).where(ReviewRow.party_id == party.id),
        execution_options={"synchronize_session": False},
    )


@hookimpl
def xrm_parties_merged(session: Session, survivor: Party, duplicate: Party) -> object:
    """The duplicate's orders become the survivor's, and its reviews of products the
    survivor has not reviewed."""
    moved_orders = list(session.db.scalars(
        update(OrderRow).where(OrderRow.party_id == duplicate.id)
        .values(party_id=survivor.id).returning(OrderRow.id),
        execution_options={"synchronize_session": False},
    ))  # fmt: skip
    theirs = select(ReviewRow.product_id).where(ReviewRow.party_id == survivor.id)
    moved_reviews = list(session.db.scalars(
        update(ReviewRow)
        .where(ReviewRow.party_id == duplicate.id, ReviewRow.product_id.not_in(theirs))
        .values(party_id=survivor.id).returning(ReviewRow.id),
        execution_options={"synchronize_session": False},
    ))  # fmt: skip
    session.db.expire_all()
    if not moved_orders and not moved_reviews:
        return None
    return {"orders": moved_orders, "reviews": moved_reviews}


@hookimpl
def xrm_parties_unmerged(
    session: Session, survivor: Party, duplicate: Party, moved: object
) -> None:
    """An unmerge gives the duplicate back what the merge moved."""
    if not isinstance(moved, dict):
        return
    for table, key in ((OrderRow, "orders"), (ReviewRow, "reviews")):
        ids = moved.get(key) or []
        if ids:
            session.db.execute(
                update(table).where(table.id.in_(ids), table.party_id == survivor.id)
                .values(party_id=duplicate.id),
                execution_options={"synchronize_session": False},
            )  # fmt: skip
    session.db.expire_all()


@hookimpl
def xrm_party_panels(session: Session, party: Party) -> Iterable[Panel]:
    """The party's value per currency (with its RFM segment) and its last orders."""
    worth = value(session, party)
    rows = []
    for line in worth:
        segment = "-"
        if _few_orders(session, line.currency):
            scored = list(rfm(session, currency=line.currency, parties=[party.id]))
            segment = scored[0].segment if scored else ""
        rows.append((line.currency, line.orders, str(line.revenue), str(line.margin),
                     line.first_order.date(), line.last_order.date(), segment))  # fmt: skip
    recent = orders(session, party, limit=5)
    return [
        Panel(
            "Value",
            ["currency", "orders", "revenue", "margin", "first order", "last order", "RFM"],
            rows,
            empty="No order.",
        ),
        Panel(
            "Last orders",
            ["reference", "date", "status", "total", "lines"],
            [(o.reference, o.ordered_at.date(), o.status, f"{o.total} {o.currency}",
              len(o.lines)) for o in recent],
            empty="No order.",
        ),
    ]  # fmt: skip


#: the orders in a currency up to which the party page ranks the party among all buyers
#: for its RFM segment (a query over every order: beyond this, seconds per page view)
RFM_ON_PAGE_ORDERS = 200_000


def _few_orders(session: Session, currency: str) -> bool:
    """Are there at most :data:`RFM_ON_PAGE_ORDERS` orders in ``currency``? One index
    range read, stopped after that many."""
    some = (
        select(OrderRow.id).where(OrderRow.currency == currency).limit(RFM_ON_PAGE_ORDERS + 1)
    ).subquery()
    found = session.db.scalar(select(func.count()).select_from(some)) or 0
    return found <= RFM_ON_PAGE_ORDERS


@hookimpl
def xrm_web_routers() -> Iterable[object]:
    """The commerce endpoints, under /plugins/commerce when xrm serve runs (xrm[web])."""
    from xrm_commerce._web import router  # FastAPI is needed only here

    return [router]


@hookimpl
def xrm_cli_commands(cli: click.Group) -> None:
    from xrm_commerce._cli import order, recommend_command, value_group

    cli.add_command(order)
    cli.add_command(value_group)
    cli.add_command(recommend_command)
