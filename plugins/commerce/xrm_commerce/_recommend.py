"""Recommendations: the products bought by customers who bought what the party bought.

**The model** (item-to-item collaborative filtering), built offline by :func:`build_model`
(``xrm recommend --build``): the party x product matrix of purchases (1 when the party
bought the product in an order not cancelled) is multiplied by itself, product block by
product block (scipy.sparse), into co-purchase counts; the similarity of two products is
their cosine, ``co-buyers / sqrt(buyers of one x buyers of the other)``; each product
keeps its ``neighbours`` most similar, stored in ``commerce_similar`` (replacing the
previous model in one transaction).

**A recommendation** for a party (:func:`recommend`): the products the party bought, then
one query on the model's primary key for the products most similar to those (summed),
less those it bought; each with the
opinions of similar customers (the parties who bought one of the same products): their
average rating, how many they are, and their latest reviews.

Sending one (:func:`send_recommendations`) goes through ``s.messages.send`` under the
``marketing`` purpose: the consent ledger, preferences, quiet hours and caps apply.
"""

from __future__ import annotations

import datetime as dt
import time
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from scipy import sparse  # type: ignore[import-untyped]  # no stubs shipped
from sqlalchemy import delete, func, insert, select, text

from xrm import Message, Party, Session, TemplateSet
from xrm.errors import ValidationError
from xrm.tables import PartyRow, live_party, utcnow
from xrm_commerce._models import (
    ModelRow,
    OrderLineRow,
    OrderRow,
    ProductRow,
    ReviewRow,
    SimilarRow,
)

__all__ = [
    "OPINIONS_READ",
    "RECOMMENDATION_TEMPLATE",
    "TEMPLATES_DIR",
    "ModelInfo",
    "Opinion",
    "Suggestion",
    "build_model",
    "default_templates",
    "model_info",
    "recommend",
    "send_recommendations",
    "similarities",
]

RECOMMENDATION_TEMPLATE = "commerce_recommendations"
#: the templates the plugin ships (email, English and French)
TEMPLATES_DIR = Path(__file__).parent / "templates"
_BLOCK = 2_000
#: how many of a suggested product's latest reviews are read for the opinions of similar
#: customers
OPINIONS_READ = 25


def default_templates() -> TemplateSet:
    """The plugin's templates: ``commerce_recommendations``."""
    return TemplateSet.from_directory(TEMPLATES_DIR)


@attrs.frozen
class ModelInfo:
    built_at: dt.datetime
    parties: int
    products: int
    #: the (product, similar product) pairs stored
    pairs: int
    neighbours: int
    seconds: float


@attrs.frozen
class Opinion:
    """A similar customer's review of a suggested product."""

    rating: int
    text: str | None
    channel: str
    reviewed_at: dt.datetime


@attrs.frozen
class Suggestion:
    product_id: int
    sku: str
    name: str
    category: str | None
    #: the sum of the product's similarities to the party's purchases
    score: float
    #: the average rating of similar customers (``None``: none rated it)
    rating: float | None
    ratings: int
    reviews: tuple[Opinion, ...]


def similarities(
    buyers: Sequence[int] | np.ndarray, items: Sequence[int] | np.ndarray, *, neighbours: int = 50
) -> list[tuple[int, int, float]]:
    """The ``neighbours`` most similar items of each item, by the cosine of their buyer
    vectors, from the (buyer, item) purchases (a pair given twice counts once):
    ``(item, similar item, score)`` rows, each item's best first (ties by item id)."""
    buyer_ids = np.asarray(buyers, dtype=np.int64)
    item_ids = np.asarray(items, dtype=np.int64)
    if buyer_ids.shape != item_ids.shape:
        raise ValidationError.single("items", "give as many items as buyers")
    if len(item_ids) == 0:
        return []
    rows_of, row = np.unique(buyer_ids, return_inverse=True)
    columns_of, column = np.unique(item_ids, return_inverse=True)
    matrix = sparse.csr_matrix(
        (np.ones(len(row), dtype=np.float64), (row, column)),
        shape=(len(rows_of), len(columns_of)),
    )
    matrix.data[:] = 1.0  # a pair given twice was summed: bought or not
    by_item = matrix.T.tocsr()
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    norms = np.sqrt(counts)
    found: list[tuple[int, int, float]] = []
    for start in range(0, len(columns_of), _BLOCK):
        stop = min(start + _BLOCK, len(columns_of))
        block = (by_item[start:stop] @ matrix).tocsr()  # co-buyers of the block's items
        for local in range(stop - start):
            item = start + local
            lo, hi = block.indptr[local], block.indptr[local + 1]
            others = block.indices[lo:hi]
            scores = block.data[lo:hi] / (norms[item] * norms[others])
            keep = others != item
            others, scores = others[keep], scores[keep]
            if len(others) == 0:
                continue
            order = np.lexsort((columns_of[others], -scores))[:neighbours]
            found.extend(
                (int(columns_of[item]), int(columns_of[others[i]]), float(scores[i])) for i in order
            )
    return found


def build_model(session: Session, *, neighbours: int = 50) -> ModelInfo:
    """Build the recommendation model from every live party's purchases and store it,
    replacing the previous one (in this unit of work)."""
    if (
        isinstance(neighbours, bool)
        or not isinstance(neighbours, int)
        or not 1 <= neighbours <= 1000
    ):
        raise ValidationError.single("neighbours", "must be a whole number from 1 to 1000")
    started = time.perf_counter()
    Od, L = OrderRow, OrderLineRow
    query = (
        select(Od.party_id, L.product_id)
        .join(L, L.order_id == Od.id)
        .join(PartyRow, PartyRow.id == Od.party_id)
        .where(Od.status != "cancelled", live_party())
        .distinct()
    )
    buyers = array("q")  # 8 bytes a purchase, not a Python int's 36
    items = array("q")
    rows = session.db.connection().execute(query, execution_options={"yield_per": 50_000})
    for party_id, product_id in rows:
        buyers.append(party_id)
        items.append(product_id)
    buyer_ids = np.frombuffer(buyers, dtype=np.int64)
    item_ids = np.frombuffer(items, dtype=np.int64)
    pairs = similarities(buyer_ids, item_ids, neighbours=neighbours)
    with session.atomic():
        session.db.execute(delete(SimilarRow))
        for start in range(0, len(pairs), 10_000):
            session.db.execute(
                insert(SimilarRow),
                [{"product_id": p, "similar_id": s, "score": score}
                 for p, s, score in pairs[start : start + 10_000]],
            )  # fmt: skip
        info = ModelInfo(
            utcnow(), len(np.unique(buyer_ids)), len(np.unique(item_ids)), len(pairs),
            neighbours, time.perf_counter() - started,
        )  # fmt: skip
        session.db.add(ModelRow(**attrs.asdict(info)))
        session.db.flush()
        # fresh statistics: the planner must know the model is large (both dialects)
        session.db.execute(text(f"ANALYZE {SimilarRow.__tablename__}"))
    return info


def model_info(session: Session) -> ModelInfo | None:
    """When the current model was built and from what (``None``: never built)."""
    row = session.db.scalars(select(ModelRow).order_by(ModelRow.id.desc()).limit(1)).first()
    if row is None:
        return None
    return ModelInfo(row.built_at, row.parties, row.products, row.pairs, row.neighbours,
                     row.seconds)  # fmt: skip


def recommend(
    session: Session,
    party: int | Party,
    *,
    limit: int = 10,
    reviews: int = 3,
    opinions: bool = True,
) -> list[Suggestion]:
    """The ``limit`` products the model suggests for the party, best first, none it has
    bought; each with the opinions of similar customers (their ``reviews`` latest), unless
    ``opinions`` is false (then ``rating`` is ``None``: the suggestions alone, in a third of
    the time). A party that bought nothing (or before the model was built) gets none."""
    party_id = party.id if isinstance(party, Party) else party
    if isinstance(party_id, bool) or not isinstance(party_id, int):
        raise ValidationError.single("party", f"must be a party or a party id, got {party!r}")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
        raise ValidationError.single("limit", "must be a whole number from 1 to 100")
    Od, L, S = OrderRow, OrderLineRow, SimilarRow
    bought_query = (
        select(L.product_id)
        .join(Od, Od.id == L.order_id)
        .where(Od.party_id == party_id, Od.status != "cancelled")
        .distinct()
    )
    # the party's products as a list: the scoring query then reads the model's primary key
    # for each, whatever the planner thinks of the tables' sizes
    bought = sorted(session.db.scalars(bought_query))
    if not bought:
        return []
    score = func.sum(S.score).label("score")
    query = (
        select(S.similar_id, score)
        .where(S.product_id.in_(bought), S.similar_id.not_in(bought))
        .group_by(S.similar_id)
        .order_by(score.desc(), S.similar_id)
        .limit(limit)
    )
    ranked = session.db.execute(query).all()
    if not ranked:
        return []
    ids = [product_id for product_id, _ in ranked]
    products = {
        p.id: p for p in session.db.scalars(select(ProductRow).where(ProductRow.id.in_(ids)))
    }
    said = _opinions(session, party_id, ids, bought, reviews) if opinions else {}
    found = []
    for product_id, total in ranked:
        p = products[product_id]
        average, count, latest = said.get(product_id, (None, 0, ()))
        found.append(Suggestion(p.id, p.sku, p.name, p.category, float(total), average, count,
                                latest))  # fmt: skip
    return found


def _opinions(
    session: Session, party_id: int, ids: list[int], bought: list[int], latest: int
) -> dict[int, tuple[float | None, int, tuple[Opinion, ...]]]:
    """Per product, the ratings and latest reviews of similar customers - the parties who
    bought one of the products ``party_id`` bought (itself left out) - among the product's
    :data:`OPINIONS_READ` latest reviews, so that the work per suggestion stays bounded
    however many reviews a popular product has: one short index scan per product, then
    one query for which of those reviewers bought one of the party's products."""
    R, Od, L = ReviewRow, OrderRow, OrderLineRow
    recent: list[Any] = []
    for product_id in ids:
        latest_reviews = (
            select(R.product_id, R.party_id, R.rating, R.text, R.channel, R.reviewed_at)
            .where(R.product_id == product_id, R.party_id != party_id)
            .order_by(R.reviewed_at.desc(), R.id.desc())
            .limit(OPINIONS_READ)
        )
        recent.extend(session.db.execute(latest_reviews).all())
    reviewers = sorted({row.party_id for row in recent})
    similar: set[int] = set()
    for start in range(0, len(reviewers), 1000):
        chunk = reviewers[start : start + 1000]
        buyers = (
            select(Od.party_id)
            .join(L, L.order_id == Od.id)
            # "+ 0": from the reviewers' orders to their lines, never from the products'
            # lines (a popular product has many: the planner would hash them all)
            .where(
                Od.party_id.in_(chunk),
                Od.status != "cancelled",
                (L.product_id + 0).in_(bought),
            )
            .distinct()
        )
        similar.update(session.db.scalars(buyers))
    found: dict[int, tuple[float | None, int, tuple[Opinion, ...]]] = {}
    totals: dict[int, list[int]] = {}
    shown: dict[int, list[Opinion]] = {}
    for product_id, reviewer, rating, said, channel, at in recent:
        if reviewer not in similar:
            continue
        totals.setdefault(product_id, []).append(rating)
        if len(shown.setdefault(product_id, [])) < latest:
            shown[product_id].append(Opinion(rating, said, channel, at))
    for product_id, ratings in totals.items():
        found[product_id] = (sum(ratings) / len(ratings), len(ratings),
                             tuple(shown.get(product_id, ())))  # fmt: skip
    return found


def send_recommendations(
    session: Session,
    party: int | Party,
    *,
    limit: int = 3,
    purpose: str = "marketing",
    channel: str | None = None,
    template: str = RECOMMENDATION_TEMPLATE,
) -> Message | None:
    """Send the party its ``limit`` best suggestions through the messaging layer
    (``s.messages.send``, template ``commerce_recommendations``, the ``marketing``
    purpose): consent, preferences, quiet hours and caps apply, and refusals raise what
    ``send`` raises (:class:`~xrm.Undeliverable`...). ``None`` when there is nothing to
    suggest (nothing is sent)."""
    suggestions = recommend(session, party, limit=limit, reviews=0)
    if not suggestions:
        return None
    data = {
        "products": [
            {"sku": s.sku, "name": s.name, "category": s.category,
             "rating": None if s.rating is None else round(s.rating, 1), "ratings": s.ratings}
            for s in suggestions
        ]
    }  # fmt: skip
    return session.messages.send(party, template, purpose=purpose, data=data, channel=channel)
