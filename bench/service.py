"""The SLA due/breach list of xrm-service over N cases, beside hand-written SQL on the same
table.

    .venv/bin/python -m bench.service --cases 1000000 --backend both

1. A fresh database (a temporary SQLite file; PostgreSQL at XRM_BENCH_DATABASE_URL,
   default postgresql+psycopg://postgres@127.0.0.1:5432/xrm_bench, its service tables
   emptied) migrated with the service plugin; 1,000 customers made through the services.
2. **Bulk load**, no service: N cases opened over 30 days (60 % resolved or closed, 15 %
   waiting on the customer, 25 % running, half of those still unanswered), with the due
   instants the plugin stores, by ``executemany`` (SQLite) or ``COPY`` (PostgreSQL),
   50,000 at a time.
3. Best of ``--repeat`` runs of: the first page of the SLA list (100 lines, breached
   first), the targets due within the next 4 hours, and the whole breached list read in
   keyset pages of 1,000 (``sla_list(..., after=...)``); beside each the same query written
   by hand (time left computed by the database too), the ratio library / hand-written
   (target: 2 at most), and the peak Python allocation (tracemalloc): bounded, since the
   lists are index ranges read a page at a time. Peak RSS (VmHWM) is printed at the end.
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

import xrm_service
from sqlalchemy import text

from bench.timing import best
from xrm import XRM

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
CHUNK = 50_000
PAGE = 1000
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/xrm_bench"
COLUMNS = (
    "id, party_id, subject, category, priority, channel, status, policy, calendar, "
    "response_target_min, resolution_target_min, opened_at, updated_at, first_response_at, "
    "resolved_at, resolution_used_s, clock_since, response_due_at, resolution_due_at, "
    "next_due_at, team, version"
)
TARGET = (
    "CASE WHEN first_response_at IS NULL AND response_due_at = next_due_at "
    "THEN 'response' ELSE 'resolution' END"
)
LEFT = {
    "sqlite": "CAST(round((julianday(next_due_at) - julianday(:now_text)) * 86400) AS INTEGER)",
    "postgresql": "floor(extract(epoch FROM next_due_at - :now))",
}


def hand_sql(backend: str, where: str) -> str:
    return f"""
        SELECT id, party_id, status, priority, team, assignee_id, {TARGET}, next_due_at,
               next_due_at < :now, {LEFT[backend]}
        FROM service_case WHERE next_due_at IS NOT NULL AND {where}
        ORDER BY next_due_at, id LIMIT :limit"""


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rows(n: int, parties: list[int], seed: int = 7) -> Iterator[tuple[Any, ...]]:
    rnd = random.Random(seed)
    priorities = ("low", "normal", "normal", "high", "urgent")
    for ident in range(1, n + 1):
        opened = NOW - dt.timedelta(minutes=rnd.randrange(30 * 24 * 60))
        priority = rnd.choice(priorities)
        response_due = opened + dt.timedelta(hours=rnd.randrange(1, 48))
        resolution_due = opened + dt.timedelta(hours=rnd.randrange(8, 24 * 14))
        kind = rnd.random()
        first = resolved = since = res_due = nxt = None
        if kind < 0.60:
            status = rnd.choice(("resolved", "closed"))
            first = opened + dt.timedelta(hours=1)
            resolved = min(NOW, opened + dt.timedelta(hours=rnd.randrange(1, 200)))
        elif kind < 0.75:
            status, first = "waiting_on_customer", opened + dt.timedelta(hours=1)
        else:
            status, since, res_due = "open", opened, resolution_due
            if rnd.random() < 0.5:
                first = opened + dt.timedelta(minutes=30)
                nxt = res_due
            else:
                nxt = min(response_due, res_due)
        yield (
            ident, rnd.choice(parties), f"case {ident}", "general", priority, "email", status,
            priority, "default", 480, 2400, opened, opened, first, resolved, 0, since,
            response_due, res_due, nxt, f"team{ident % 12}", 1,
        )  # fmt: skip


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def load(app: XRM, n: int, parties: list[int]) -> float:
    started = time.perf_counter()
    raw = app.engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        postgres = app.engine.dialect.name == "postgresql"
        batch: list[tuple[Any, ...]] = []

        def flush() -> None:
            if postgres:
                with (
                    driver.cursor() as cur,
                    cur.copy(f"COPY service_case ({COLUMNS}) FROM STDIN") as copy,
                ):
                    for row in batch:
                        copy.write_row(
                            tuple(v.replace(tzinfo=None) if isinstance(v, dt.datetime) else v
                                  for v in row)
                        )  # fmt: skip
            else:
                marks = ", ".join("?" * len(COLUMNS.split(",")))
                driver.executemany(
                    f"INSERT INTO service_case ({COLUMNS}) VALUES ({marks})",
                    [tuple(map(_sqlite_value, r)) for r in batch],
                )
            driver.commit()
            batch.clear()

        for row in rows(n, parties):
            batch.append(row)
            if len(batch) >= CHUNK:
                flush()
        if batch:
            flush()
    finally:
        raw.close()
    with app.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def library_all_breached(s: Any) -> int:
    count, after = 0, None
    while True:
        page = xrm_service.sla_list(s, now=NOW, breached_only=True, limit=PAGE, after=after)
        count += len(page)
        if len(page) < PAGE:
            return count
        after = (page[-1].due_at, page[-1].case_id)


def hand_all_breached(s: Any, backend: str, params: dict[str, Any]) -> int:
    first = hand_sql(backend, "next_due_at < :now")
    rest = hand_sql(
        backend,
        "next_due_at < :now AND next_due_at >= :due"
        " AND (next_due_at > :due OR (next_due_at = :due AND id > :id))",
    )
    count, last = 0, None
    while True:
        sql, extra = (first, {}) if last is None else (rest, {"due": last[0], "id": last[1]})
        page = s.db.execute(text(sql), {**params, **extra, "limit": PAGE}).all()
        count += len(page)
        if len(page) < PAGE:
            return count
        last = (page[-1][7], page[-1][0])


def run(url: str, n: int, repeat: int) -> None:
    app = XRM(url, plugins=[xrm_service], discover=False)
    app.upgrade()
    backend = app.engine.dialect.name
    with app.engine.begin() as conn:
        for table in ("service_case_interaction", "service_case_status", "service_case_contact",
                      "service_case"):  # fmt: skip
            conn.execute(text(f"DELETE FROM {table}"))
    with app.session() as s:
        parties = [s.parties.create("person", f"Customer {i}").id for i in range(1000)]
    seconds = load(app, n, parties)
    print(f"\n== {backend}: {n:,} cases loaded in {seconds:.1f} s")
    naive = NOW.replace(tzinfo=None)
    params = {"now": naive, "now_text": naive.isoformat(" ")}
    horizon = naive + dt.timedelta(hours=4)
    page_sql = hand_sql(backend, "1 = 1")
    within_sql = hand_sql(backend, "next_due_at < :horizon")
    work: list[tuple[str, Callable[[Any], Any], Callable[[Any], Any]]] = [
        ("first page (100)",
         lambda s: xrm_service.sla_list(s, now=NOW, limit=100),
         lambda s: s.db.execute(text(page_sql), {**params, "limit": 100}).all()),
        ("due within 4 h",
         lambda s: xrm_service.sla_list(s, now=NOW, within=dt.timedelta(hours=4), limit=10_000),
         lambda s: s.db.execute(text(within_sql),
                                {**params, "horizon": horizon, "limit": 10_000}).all()),
        ("all breached, paged",
         library_all_breached,
         lambda s: hand_all_breached(s, backend, params)),
    ]  # fmt: skip
    print(f"{'list':<22}{'xrm s':>9}{'hand s':>9}{'ratio':>7}{'lines':>9}{'peak MB':>9}")
    with app.session(readonly=True) as s:
        for name, mine_fn, hand_fn in work:
            mine, peak, lines = best(partial(mine_fn, s), repeat)
            hand, _, hand_rows = best(partial(hand_fn, s), repeat)
            count = lines if isinstance(lines, int) else len(lines)
            hand_count = hand_rows if isinstance(hand_rows, int) else len(hand_rows)
            assert count == hand_count, (name, count, hand_count)
            print(f"{name:<22}{mine:>9.4f}{hand:>9.4f}{mine / hand:>7.2f}{count:>9}{peak:>9.2f}")
    app.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/service.db", args.cases, args.repeat)
    if args.backend in ("postgresql", "both"):
        run(os.environ.get("XRM_BENCH_DATABASE_URL", PG_DEFAULT), args.cases, args.repeat)
    print(f"\npeak RSS {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
