"""Commerce at scale: value, RFM and the top list over N parties and their order lines
beside hand-written SQL; the recommendation model's build time and one party's
recommendations (p50, p95); and, with --evaluate, the recommendations' precision@10 and
recall@10 on a leave-last-order-out split against a most-popular baseline.

    .venv/bin/python -m bench.commerce --parties 1000000 --lines 10000000 --backend both
    .venv/bin/python -m bench.commerce --evaluate

1. A fresh database (a temporary SQLite file; PostgreSQL at XRM_BENCH_DATABASE_URL,
   default postgresql+psycopg://postgres@127.0.0.1:5432/xrm_bench, its commerce tables and
   parties emptied) migrated with the commerce plugin.
2. **Bulk load**, no service: N parties, 10,000 products in 50 categories, orders of 1 to
   5 lines (3 on average) dated over two years, 90 % in EUR, 3 % cancelled; each party has
   two favourite categories its lines come from four times in five (planted tastes), a
   product's popularity in its category is Zipf-like; one line in twenty is reviewed.
   ``executemany`` on SQLite, ``COPY`` on PostgreSQL.
3. Best of ``--repeat`` runs, each beside its hand-written query on the same tables (the
   ratio library / hand, target 2 at most) and its peak Python allocation (tracemalloc):
   ``values()`` streamed over every party, ``rfm()`` streamed, ``top()``; the hand-written
   queries are read to the end the same way.
4. ``build_model()`` once (its time), then ``recommend()`` for 200 random buyers: p50 and
   p95, beside the scoring query alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import xrm_commerce
from sqlalchemy import text

from bench.timing import best
from xrm import XRM

T0 = dt.datetime(2024, 1, 1)
END = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/xrm_bench"
CATEGORIES = 50
PER_CATEGORY = 200
CHUNK = 200_000

LIVE = "p.merged_into_id IS NULL AND p.erased_at IS NULL"
HAND = {
    "values": f"""
        SELECT o.party_id, o.currency, count(*), sum(o.net_milli - o.refunded_milli),
               sum(o.net_milli - o.refunded_milli - o.cost_milli + o.returned_cost_milli),
               min(o.ordered_at), max(o.ordered_at)
        FROM commerce_order o JOIN party p ON p.id = o.party_id
        WHERE o.status <> 'cancelled' AND o.currency = 'EUR' AND {LIVE}
        GROUP BY o.party_id, o.currency ORDER BY o.party_id, o.currency""",
    "rfm": f"""
        WITH v AS (
            SELECT o.party_id, count(*) AS n, sum(o.net_milli - o.refunded_milli) AS m,
                   max(o.ordered_at) AS last
            FROM commerce_order o JOIN party p ON p.id = o.party_id
            WHERE o.status <> 'cancelled' AND o.currency = 'EUR' AND {LIVE}
            GROUP BY o.party_id)
        , s AS (
            SELECT party_id, 1 + 5 * (rank() OVER (ORDER BY last) - 1) / count(*) OVER () AS r,
                   1 + 5 * (rank() OVER (ORDER BY n) - 1) / count(*) OVER () AS f,
                   1 + 5 * (rank() OVER (ORDER BY m) - 1) / count(*) OVER () AS m, n,
                   m AS revenue, last
            FROM v)
        SELECT party_id, r, f, m, CASE
                 WHEN r = 1 AND f = 1 THEN 'lost'
                 WHEN r <= 2 AND f <= 2 THEN 'hibernating'
                 WHEN r <= 2 AND f = 5 THEN 'cannot_lose'
                 WHEN r <= 2 THEN 'at_risk'
                 WHEN r = 3 AND f <= 2 THEN 'about_to_sleep'
                 WHEN r = 3 AND f = 3 THEN 'need_attention'
                 WHEN r = 3 THEN 'loyal'
                 WHEN f = 1 AND r = 5 THEN 'new'
                 WHEN f = 1 THEN 'promising'
                 WHEN f <= 3 THEN 'potential_loyalists'
                 WHEN r = 5 THEN 'champions'
                 ELSE 'loyal' END, n, revenue, last
        FROM s ORDER BY party_id""",
    "top": f"""
        SELECT o.party_id, count(*),
               sum(o.net_milli - o.refunded_milli - o.cost_milli + o.returned_cost_milli) AS margin
        FROM commerce_order o JOIN party p ON p.id = o.party_id
        WHERE o.status <> 'cancelled' AND o.currency = 'EUR' AND {LIVE}
        GROUP BY o.party_id ORDER BY margin DESC, o.party_id LIMIT 10""",
    "recommend": """
        SELECT s.similar_id, sum(s.score) AS score FROM commerce_similar s
        WHERE s.product_id IN (SELECT l.product_id FROM commerce_order_line l
                               JOIN commerce_order o ON o.id = l.order_id
                               WHERE o.party_id = :p AND o.status <> 'cancelled')
          AND s.similar_id NOT IN (SELECT l.product_id FROM commerce_order_line l
                                   JOIN commerce_order o ON o.id = l.order_id
                                   WHERE o.party_id = :p AND o.status <> 'cancelled')
        GROUP BY s.similar_id ORDER BY score DESC, s.similar_id LIMIT 10""",
}


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- generated purchases -------------------------------------------------------------------


class Shop:
    """Planted tastes: each party's two favourite categories, Zipf-like popularity."""

    def __init__(self, parties: int, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)
        self.parties = parties
        self.products = CATEGORIES * PER_CATEGORY
        self.favourites = self.rng.integers(0, CATEGORIES, size=(parties, 2))
        weights = 1.0 / np.arange(1, PER_CATEGORY + 1) ** 0.8
        self.rank_p = weights / weights.sum()
        self.price_milli = self.rng.integers(2_000, 200_000, size=self.products) // 10 * 10
        self.cost_milli = (
            (self.price_milli * self.rng.uniform(0.3, 0.8, self.products)).astype(np.int64)
            // 10
            * 10
        )

    def pick(self, buyers: np.ndarray) -> np.ndarray:
        """A product (0-based) for each buyer: a favourite category 4 times in 5."""
        n = len(buyers)
        liked = self.favourites[buyers, self.rng.integers(0, 2, n)]
        category = np.where(self.rng.random(n) < 0.8, liked, self.rng.integers(0, CATEGORIES, n))
        rank = self.rng.choice(PER_CATEGORY, size=n, p=self.rank_p)
        result: np.ndarray = category * PER_CATEGORY + rank
        return result


def orders_of(shop: Shop, lines: int) -> tuple[np.ndarray, ...]:
    """Orders (party, date, currency, status, first line, line count) and their lines."""
    rng = shop.rng
    counts = rng.integers(1, 6, size=int(lines / 3 * 1.05))
    ends = np.cumsum(counts)
    counts = counts[ends <= lines]
    n = len(counts)
    party = rng.integers(0, shop.parties, n)
    seconds = rng.integers(0, 2 * 365 * 86400, n)
    eur = rng.random(n) < 0.9
    cancelled = rng.random(n) < 0.03
    line_order = np.repeat(np.arange(n), counts)
    product = shop.pick(party[line_order])
    quantity = rng.integers(1, 4, len(line_order))
    return party, seconds, eur, cancelled, counts, line_order, product, quantity


def _sqlite(value: Any) -> Any:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, dt.datetime) else value


def _writer(app: XRM) -> tuple[Any, Callable[[str, str, list[tuple[Any, ...]]], None]]:
    raw = app.engine.raw_connection()
    driver: Any = raw.driver_connection
    postgres = app.engine.dialect.name == "postgresql"

    def write(table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
        if postgres:
            with driver.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns.split(",")))
            driver.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})",
                               [tuple(map(_sqlite, r)) for r in rows])  # fmt: skip
        driver.commit()

    return raw, write


def load(app: XRM, shop: Shop, lines: int, *, holdout: bool = False) -> tuple[float, Any]:
    """Parties, products, orders and lines; with ``holdout``, each party's last order is
    left out and returned (party index -> product indexes)."""
    started = time.perf_counter()
    raw, write = _writer(app)
    now = dt.datetime(2026, 1, 2)
    try:
        for start in range(0, shop.parties, CHUNK):
            stop = min(start + CHUNK, shop.parties)
            write("party", "id, kind, display_name, name_key, attributes, created_at, "
                  "updated_at, version",
                  [(i + 1, "person", f"Buyer {i + 1}", f"buyer {i + 1}", "{}", now, now, 1)
                   for i in range(start, stop)])  # fmt: skip
        write("commerce_product", "id, sku, name, category, price, cost, currency, created_at, "
              "updated_at",
              [(i + 1, f"P{i + 1:05d}", f"Product {i + 1}", f"c{i // PER_CATEGORY}",
                f"{shop.price_milli[i] / 1000:.2f}", f"{shop.cost_milli[i] / 1000:.2f}", "EUR",
                now, now) for i in range(shop.products)])  # fmt: skip
        party, seconds, eur, cancelled, counts, line_order, product, quantity = orders_of(
            shop, lines
        )
        kept = np.ones(len(counts), dtype=bool)
        held: dict[int, set[int]] = {}
        if holdout:  # each party's last order (by date) is what the model must guess
            order = np.lexsort((seconds, party))
            last = order[np.r_[party[order][1:] != party[order][:-1], True]]
            kept[last] = False
            starts = np.cumsum(counts) - counts
            for o in last:
                first = int(starts[o])
                held[int(party[o])] = {int(p) for p in product[first : first + counts[o]]}
        net = np.bincount(line_order, weights=quantity * shop.price_milli[product])
        cost = np.bincount(line_order, weights=quantity * shop.cost_milli[product])
        order_rows = []
        for o in np.flatnonzero(kept):
            at = T0 + dt.timedelta(seconds=int(seconds[o]))
            order_rows.append((int(o) + 1, f"W{o + 1}", int(party[o]) + 1,
                               "EUR" if eur[o] else "GBP",
                               "cancelled" if cancelled[o] else "delivered", at, at,
                               int(net[o]), int(cost[o]), 0, 0, now))  # fmt: skip
            if len(order_rows) >= CHUNK:
                write("commerce_order", ORDER_COLUMNS, order_rows)
                order_rows = []
        if order_rows:
            write("commerce_order", ORDER_COLUMNS, order_rows)
        line_rows = []
        for i in np.flatnonzero(kept[line_order]):
            p = int(product[i])
            line_rows.append((int(i) + 1, int(line_order[i]) + 1, p + 1, int(quantity[i]),
                              f"{shop.price_milli[p] / 1000:.2f}", "0",
                              f"{shop.cost_milli[p] / 1000:.2f}", 0))  # fmt: skip
            if len(line_rows) >= CHUNK:
                write("commerce_order_line", LINE_COLUMNS, line_rows)
                line_rows = []
        if line_rows:
            write("commerce_order_line", LINE_COLUMNS, line_rows)
        # one line in twenty is reviewed: well (4-5) in a favourite category, else 1-3
        reviewed = np.flatnonzero(kept[line_order] & (shop.rng.random(len(line_order)) < 0.05))
        seen: set[tuple[int, int]] = set()
        review_rows = []
        for i in reviewed:
            who, what = int(party[line_order[i]]), int(product[i])
            if (who, what) in seen:
                continue
            seen.add((who, what))
            liked = what // PER_CATEGORY in shop.favourites[who]
            rating = int(shop.rng.integers(4, 6) if liked else shop.rng.integers(1, 4))
            at = T0 + dt.timedelta(seconds=int(seconds[line_order[i]]) + 86400 * 7)
            review_rows.append((len(review_rows) + 1, who + 1, what + 1, rating,
                                "good" if liked else "meh", "web", at, now))  # fmt: skip
        for start in range(0, len(review_rows), CHUNK):
            write("commerce_review", REVIEW_COLUMNS, review_rows[start : start + CHUNK])
    finally:
        raw.close()
    with app.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started, held


ORDER_COLUMNS = (
    "id, reference, party_id, currency, status, ordered_at, status_at, net_milli, cost_milli, "
    "refunded_milli, returned_cost_milli, created_at"
)
LINE_COLUMNS = "id, order_id, product_id, quantity, unit_price, discount, unit_cost, returned"
REVIEW_COLUMNS = "id, party_id, product_id, rating, text, channel, reviewed_at, created_at"


def fresh(url: str) -> XRM:
    app = XRM(url, plugins=[xrm_commerce], discover=False)
    app.upgrade()
    with app.engine.begin() as conn:
        for table in ("commerce_model", "commerce_similar", "commerce_review", "commerce_refund",
                      "commerce_order_status", "commerce_order_line", "commerce_order",
                      "commerce_product"):  # fmt: skip
            conn.execute(text(f"DELETE FROM {table}"))
        if app.engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE party RESTART IDENTITY CASCADE"))
        else:
            conn.execute(text("DELETE FROM party"))
    return app


# -- the measures ----------------------------------------------------------------------------


def _drain(rows: Iterator[Any]) -> int:
    return sum(1 for _ in rows)


def _hand(s: Any, sql: str) -> int:
    result = s.db.execute(text(sql), execution_options={"yield_per": 10_000})
    return sum(1 for _ in result)


def run(url: str, parties: int, lines: int, repeat: int, *, reuse: bool = False) -> None:
    if reuse:  # the data of an earlier run of the same size (PostgreSQL)
        app = XRM(url, plugins=[xrm_commerce], discover=False)
        backend = app.engine.dialect.name
        print(f"\n== {backend}: {parties:,} parties, {lines:,} order lines of an earlier run")
    else:
        app = fresh(url)
        backend = app.engine.dialect.name
        seconds, _ = load(app, Shop(parties), lines)
        print(f"\n== {backend}: {parties:,} parties, {lines:,} order lines loaded in "
              f"{seconds:.1f} s")  # fmt: skip
    cases: list[tuple[str, Callable[[Any], int], str]] = [
        ("values", lambda s: _drain(xrm_commerce.values(s, currency="EUR")), HAND["values"]),
        ("rfm", lambda s: _drain(xrm_commerce.rfm(s, currency="EUR")), HAND["rfm"]),
        ("top 10", lambda s: len(xrm_commerce.top(s, currency="EUR")), HAND["top"]),
    ]
    print(f"{'measure':<16}{'xrm s':>9}{'hand s':>9}{'ratio':>7}{'rows':>10}{'peak MB':>9}")
    with app.session(readonly=True) as s:
        for name, measure, sql in cases:
            mine, peak, count = best(partial(measure, s), repeat)
            hand, _, hand_count = best(partial(_hand, s, sql), repeat)
            assert count == hand_count, (name, count, hand_count)
            print(f"{name:<16}{mine:>9.3f}{hand:>9.3f}{mine / hand:>7.2f}{count:>10}{peak:>9.2f}")
    started = time.perf_counter()
    with app.session() as s:
        info = xrm_commerce.build_model(s, neighbours=50)
    print(f"model built in {time.perf_counter() - started:.1f} s ({info.pairs:,} pairs, "
          f"{info.parties:,} buyers, {info.products:,} products)")  # fmt: skip
    rng = np.random.default_rng(3)
    sample = [int(p) + 1 for p in rng.integers(0, parties, 200)]
    with app.session(readonly=True) as s:
        mine_t, bare_t, hand_t = [], [], []
        for party in sample:
            started = time.perf_counter()
            xrm_commerce.recommend(s, party)
            mine_t.append(time.perf_counter() - started)
            started = time.perf_counter()
            xrm_commerce.recommend(s, party, opinions=False)
            bare_t.append(time.perf_counter() - started)
            started = time.perf_counter()
            s.db.execute(text(HAND["recommend"]), {"p": party}).all()
            hand_t.append(time.perf_counter() - started)
    h50 = statistics.median(hand_t) * 1000
    for label, times in (("with opinions", mine_t), ("suggestions only", bare_t)):
        p50, p95 = statistics.median(times) * 1000, np.percentile(times, 95) * 1000
        print(f"recommend, {label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms (the hand-written "
              f"scoring query alone p50 {h50:.1f} ms, ratio {p50 / h50:.2f})")  # fmt: skip
    app.dispose()


def evaluate(parties: int, lines: int) -> None:
    """Leave-last-order-out: the model is built without each party's last order, then
    asked for 10 products; hits are the last order's products the party had not bought
    before. Against the 10 most popular products (by buyers) the party had not bought."""
    with tempfile.TemporaryDirectory() as tmp:
        app = fresh(f"sqlite:///{tmp}/evaluate.db")
        shop = Shop(parties, seed=11)
        _, held = load(app, shop, lines, holdout=True)
        started = time.perf_counter()
        with app.session() as s:
            xrm_commerce.build_model(s, neighbours=50)
        built = time.perf_counter() - started
        with app.session(readonly=True) as s:
            bought: dict[int, set[int]] = {}
            query = text("SELECT DISTINCT o.party_id, l.product_id FROM commerce_order o "
                         "JOIN commerce_order_line l ON l.order_id = o.id "
                         "WHERE o.status <> 'cancelled'")  # fmt: skip
            for party, product in s.db.execute(query):
                bought.setdefault(party, set()).add(product)
            buyers: dict[int, int] = {}
            for products in bought.values():
                for p in products:
                    buyers[p] = buyers.get(p, 0) + 1
            popular = sorted(buyers, key=lambda p: (-buyers[p], p))
            scores: dict[str, list[tuple[float, float]]] = {"item-to-item cosine": [],
                                                            "most popular": []}  # fmt: skip
            for index, products in held.items():
                party = index + 1
                before = bought.get(party, set())
                relevant = {p + 1 for p in products} - before
                if not relevant or not before:
                    continue
                mine = [x.product_id for x in xrm_commerce.recommend(s, party, limit=10,
                                                                     reviews=0)]  # fmt: skip
                baseline = [p for p in popular if p not in before][:10]
                for name, guess in (("item-to-item cosine", mine), ("most popular", baseline)):
                    hits = len(relevant & set(guess))
                    scores[name].append((hits / 10, hits / len(relevant)))
        print(
            f"\n== leave-last-order-out on {parties:,} parties, {lines:,} lines "
            f"(model built in {built:.1f} s); {len(scores['most popular']):,} parties judged"
        )
        print(f"{'recommender':<22}{'precision@10':>14}{'recall@10':>11}")
        for name, pairs in scores.items():
            precision = statistics.fmean(p for p, _ in pairs)
            recall = statistics.fmean(r for _, r in pairs)
            print(f"{name:<22}{precision:>14.4f}{recall:>11.4f}")
        app.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--evaluate", action="store_true",
        help="Only the offline evaluation (20,000 parties, 300,000 lines).",
    )  # fmt: skip
    parser.add_argument(
        "--reuse", action="store_true",
        help="PostgreSQL: measure the data an earlier run left (same --parties and --lines).",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.evaluate:
        evaluate(20_000, 300_000)
        return 0
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/commerce.db", args.parties, args.lines, args.repeat)
    if args.backend in ("postgresql", "both"):
        url = os.environ.get("XRM_BENCH_DATABASE_URL", PG_DEFAULT)
        run(url, args.parties, args.lines, args.repeat, reuse=args.reuse)
    print(f"\npeak RSS {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
