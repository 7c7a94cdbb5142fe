"""Sales reports at scale: the pipeline (now and as of a past day) and the forecast of
xrm-sales over N opportunities with 5 stage changes each, beside hand-written SQL on the
same tables.

    .venv/bin/python -m bench.sales --opportunities 1000000 --backend both

1. A fresh database (a temporary SQLite file; PostgreSQL at XRM_BENCH_DATABASE_URL,
   default postgresql+psycopg://postgres@127.0.0.1:5432/xrm_bench, its sales tables
   emptied) migrated with the sales plugin; 1,000 organisations made through the services.
2. **Bulk load**, no service: N opportunities, each with its opening and 5 stage changes
   (6 rows of ``sales_opportunity_stage``), by ``executemany`` (SQLite) or ``COPY``
   (PostgreSQL), 50,000 opportunities at a time.
3. Each report, best of ``--repeat`` runs: ``pipeline_report(s)``,
   ``pipeline_report(s, as_of=day)`` (a day in the middle of the history),
   ``forecast(s)``, and beside each the hand-written query (``DISTINCT ON`` for the
   as-of pipeline on PostgreSQL), the ratio library / hand-written (target: 2 at most),
   and the report's peak Python allocation (tracemalloc), which stays bounded because
   the database aggregates. Peak RSS (VmHWM) is printed at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import xrm_sales
from sqlalchemy import text

from bench.timing import best
from xrm import XRM

T0 = dt.datetime(2024, 1, 1, 8, 0)
CHUNK = 50_000
STAGES = list(xrm_sales.DEFAULT_PIPELINE.stages)
OPEN = [s for s in STAGES if s.outcome == "open"]
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/xrm_bench"
AS_OF = dt.date(2024, 7, 1)

HAND = {
    "pipeline": """
        SELECT pipeline, stage, status, currency, count(*), sum(amount),
               sum(amount * probability) / 100
        FROM sales_opportunity GROUP BY pipeline, stage, status, currency""",
    "pipeline as of (sqlite)": """
        SELECT o.pipeline, h.to_stage, h.status, o.currency, count(*), sum(o.amount),
               sum(o.amount * h.probability) / 100
        FROM (SELECT opportunity_id, max(id) AS id FROM sales_opportunity_stage
              WHERE at < :cutoff GROUP BY opportunity_id) AS last
        JOIN sales_opportunity_stage h ON h.id = last.id
        JOIN sales_opportunity o ON o.id = last.opportunity_id
        GROUP BY o.pipeline, h.to_stage, h.status, o.currency""",
    "pipeline as of (postgresql)": """
        SELECT o.pipeline, h.to_stage, h.status, o.currency, count(*), sum(o.amount),
               sum(o.amount * h.probability) / 100
        FROM (SELECT DISTINCT ON (opportunity_id) opportunity_id, to_stage, status, probability
              FROM sales_opportunity_stage WHERE at < :cutoff
              ORDER BY opportunity_id, at DESC, id DESC) AS h
        JOIN sales_opportunity o ON o.id = h.opportunity_id
        GROUP BY o.pipeline, h.to_stage, h.status, o.currency""",
    "forecast (sqlite)": """
        SELECT strftime('%Y-%m', expected_close) AS month, owner_party_id, owner_user,
               currency, count(*), sum(amount), sum(amount * probability) / 100
        FROM sales_opportunity WHERE status = 'open' AND expected_close IS NOT NULL
        GROUP BY month, owner_party_id, owner_user, currency
        ORDER BY month, owner_party_id, owner_user, currency""",
    "forecast (postgresql)": """
        SELECT date_trunc('month', expected_close) AS month, owner_party_id, owner_user,
               currency, count(*), sum(amount), sum(amount * probability) / 100
        FROM sales_opportunity WHERE status = 'open' AND expected_close IS NOT NULL
        GROUP BY month, owner_party_id, owner_user, currency
        ORDER BY month, owner_party_id, owner_user, currency""",
}


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rows(
    n: int, accounts: list[int], seed: int = 7
) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """Each opportunity's row and its 6 stage rows (the opening and 5 changes)."""
    rnd = random.Random(seed)
    step_id = 0
    for ident in range(1, n + 1):
        at = T0 + dt.timedelta(minutes=rnd.randrange(365 * 24 * 60))
        stage = OPEN[0]
        steps: list[tuple[str | None, xrm_sales.Stage, dt.datetime]] = [(None, stage, at)]
        for change in range(5):
            at += dt.timedelta(hours=rnd.randrange(1, 24 * 20))
            last = change == 4
            choices = STAGES if last else OPEN
            stage = rnd.choice([s for s in choices if s.name != stage.name])
            steps.append((steps[-1][1].name, stage, at))
        amount = f"{rnd.randrange(100, 10_000_000) / 100:.2f}"
        close = (at + dt.timedelta(days=rnd.randrange(-30, 120))).date()
        owner = rnd.randrange(40)
        opened, closed = steps[0][2], (at if stage.outcome != "open" else None)
        opportunity = (
            ident, f"deal {ident}", rnd.choice(accounts), None, f"seller{owner}", "default",
            stage.name, stage.outcome, stage.probability, amount, rnd.choice(("EUR", "EUR", "USD")),
            close, None, None, "price" if stage.outcome == "lost" else None, opened, closed,
            opened, at,
        )  # fmt: skip
        history = []
        for from_stage, to, when in steps:
            step_id += 1
            history.append(
                (step_id, ident, from_stage, to.name, to.outcome, to.probability, when, "bench")
            )
        yield opportunity, history


OPP_COLUMNS = (
    "id, title, account_id, owner_party_id, owner_user, pipeline, stage, status, probability, "
    "amount, currency, expected_close, source_campaign, source_partner_id, lost_reason, "
    "opened_at, closed_at, created_at, updated_at"
)
STEP_COLUMNS = "id, opportunity_id, from_stage, to_stage, status, probability, at, by"


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def load(app: XRM, n: int, accounts: list[int]) -> float:
    started = time.perf_counter()
    raw = app.engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        postgres = app.engine.dialect.name == "postgresql"
        batch_o: list[tuple[Any, ...]] = []
        batch_s: list[tuple[Any, ...]] = []

        def flush() -> None:
            if postgres:
                with driver.cursor() as cur:
                    with cur.copy(f"COPY sales_opportunity ({OPP_COLUMNS}) FROM STDIN") as copy:
                        for row in batch_o:
                            copy.write_row(row)
                    with cur.copy(
                        f"COPY sales_opportunity_stage ({STEP_COLUMNS}) FROM STDIN"
                    ) as copy:
                        for row in batch_s:
                            copy.write_row(row)
            else:
                marks_o = ", ".join("?" * len(OPP_COLUMNS.split(",")))
                marks_s = ", ".join("?" * len(STEP_COLUMNS.split(",")))
                driver.executemany(
                    f"INSERT INTO sales_opportunity ({OPP_COLUMNS}) VALUES ({marks_o})",
                    [tuple(map(_sqlite_value, r)) for r in batch_o],
                )
                driver.executemany(
                    f"INSERT INTO sales_opportunity_stage ({STEP_COLUMNS}) VALUES ({marks_s})",
                    [tuple(map(_sqlite_value, r)) for r in batch_s],
                )
            driver.commit()
            batch_o.clear()
            batch_s.clear()

        for opportunity, history in rows(n, accounts):
            batch_o.append(opportunity)
            batch_s.extend(history)
            if len(batch_o) >= CHUNK:
                flush()
        if batch_o:
            flush()
    finally:
        raw.close()
    with app.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def _hand(s: Any, sql: str, params: dict[str, Any]) -> list[Any]:
    return list(s.db.execute(text(sql), params).all())


def run(url: str, n: int, repeat: int) -> None:
    app = XRM(url, plugins=[xrm_sales], discover=False)
    app.upgrade()
    backend = app.engine.dialect.name
    with app.engine.begin() as conn:
        conn.execute(text("DELETE FROM sales_opportunity_stage"))
        conn.execute(text("DELETE FROM sales_opportunity_contact"))
        conn.execute(text("DELETE FROM sales_opportunity"))
    with app.session() as s:
        accounts = [s.parties.create("organization", f"Account {i}").id for i in range(1000)]
    seconds = load(app, n, accounts)
    print(f"\n== {backend}: {n:,} opportunities, {6 * n:,} stage rows loaded in {seconds:.1f} s")
    cutoff = dt.datetime.combine(AS_OF + dt.timedelta(days=1), dt.time())
    cases: list[tuple[str, Callable[[Any], Any], str, dict[str, Any]]] = [
        ("pipeline", lambda s: xrm_sales.pipeline_report(s), HAND["pipeline"], {}),
        ("pipeline as of", lambda s: xrm_sales.pipeline_report(s, as_of=AS_OF),
         HAND[f"pipeline as of ({backend})"], {"cutoff": cutoff}),
        ("forecast", lambda s: xrm_sales.forecast(s), HAND[f"forecast ({backend})"], {}),
    ]  # fmt: skip
    print(f"{'report':<16}{'xrm s':>9}{'hand s':>9}{'ratio':>7}{'groups':>8}{'peak MB':>9}")
    with app.session(readonly=True) as s:
        for name, report, sql, params in cases:
            mine, peak, lines = best(partial(report, s), repeat)
            hand, _, hand_rows = best(partial(_hand, s, sql, params), repeat)
            assert len(lines) == len(hand_rows), (name, len(lines), len(hand_rows))
            print(
                f"{name:<16}{mine:>9.3f}{hand:>9.3f}{mine / hand:>7.2f}{len(lines):>8}{peak:>9.2f}"
            )
    app.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opportunities", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/sales.db", args.opportunities, args.repeat)
    if args.backend in ("postgresql", "both"):
        run(os.environ.get("XRM_BENCH_DATABASE_URL", PG_DEFAULT), args.opportunities, args.repeat)
    print(f"\npeak RSS {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
