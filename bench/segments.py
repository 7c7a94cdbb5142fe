"""Segments at scale: a four-criterion segment counted and streamed over N parties, beside
the same count written by hand in SQL on the same tables.

    .venv/bin/python -m bench.segments --parties 1000000 --backend both

1. A fresh database (a temporary SQLite file; PostgreSQL at XRM_BENCH_DATABASE_URL,
   default postgresql+psycopg://postgres@127.0.0.1:5432/xrm_bench, emptied) with the
   customer role type registered.
2. **Bulk load**, no service (``bench.bulk``): N parties (80 % persons), the tag ``vip`` on
   15 % and ``press`` on 10 %, the customer role on half of them (60 % in state
   ``customer``), and 0 to 4 interactions each over the last year (about 2 N interactions
   and as many participant rows).
3. The segment ``Kind(person) & HasRole(customer, states=[customer]) & Tagged(vip) &
   Interacted(within_days=90)``: ``s.segments.count`` beside the hand-written ``SELECT
   count(*)`` with three ``EXISTS`` (target: 1.5 at most), best of ``--repeat``; then
   ``s.segments.stream`` reading every member id, with its peak Python allocation
   (tracemalloc), which stays bounded by the batch. Peak RSS (VmHWM) is printed at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench.bulk import Loader, peak_rss_mb
from bench.timing import best
from xrm import XRM, RoleType
from xrm import segments as seg

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/xrm_bench"
#: the data is dated back from now, and the segment read now (a role's state is then its
#: column, as ``s.parties.list`` reads it); interactions fall 30 s past a minute, so that
#: the seconds between loading and counting move no one across the 90-day line
NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None, second=0, microsecond=0)
CUSTOMER = RoleType(
    "customer",
    states=["lead", "prospect", "customer", "inactive"],
    transitions={"lead": ["prospect"], "prospect": ["customer"], "customer": ["inactive"]},
)
CHANNELS = ("email", "phone", "sms", "web")

SEGMENT = (
    seg.Kind(kind="person")
    & seg.HasRole(role="customer", states=["customer"])
    & seg.Tagged(tag="vip")
    & seg.Interacted(within_days=90)
)
HAND = """
    SELECT count(*) FROM party p
    WHERE p.merged_into_id IS NULL AND p.erased_at IS NULL AND p.kind = 'person'
      AND EXISTS (SELECT 1 FROM role r WHERE r.party_id = p.id AND r.type = 'customer'
                  AND r.state = 'customer' AND r.started_at <= :now
                  AND (r.ended_at IS NULL OR r.ended_at > :now))
      AND EXISTS (SELECT 1 FROM party_tag t WHERE t.party_id = p.id AND t.tag = 'vip')
      AND EXISTS (SELECT 1 FROM interaction_participant i
                  WHERE i.party_id = p.id AND i.occurred_at >= :since)"""

TABLES = (
    "interaction_participant", "interaction", "role_transition", "role", "party_tag",
    "segment_member", "segment", "party",
)  # fmt: skip


def data(n: int, seed: int = 11) -> dict[str, list[tuple[Any, ...]]]:
    """Every row, by table (a million parties hold a few hundred MB as tuples: the loader
    is fed table by table)."""
    rnd = random.Random(seed)
    out: dict[str, list[tuple[Any, ...]]] = {
        table: [] for table in (
            "party", "party_tag", "role", "role_transition", "interaction",
            "interaction_participant",
        )
    }  # fmt: skip
    created = NOW - dt.timedelta(days=800)
    interaction = 0
    for ident in range(1, n + 1):
        kind = "person" if rnd.random() < 0.8 else "organization"
        name = f"Party {ident}"
        out["party"].append((ident, kind, name, name.lower(), "{}", created, created, 1))
        draw = rnd.random()
        if draw < 0.15:
            out["party_tag"].append((ident, "vip"))
        elif draw < 0.25:
            out["party_tag"].append((ident, "press"))
        if rnd.random() < 0.5:
            state = rnd.choices(["customer", "prospect", "inactive"], [60, 25, 15])[0]
            started = NOW - dt.timedelta(days=rnd.randrange(1, 700))
            out["role"].append((ident, ident, "customer", state, "{}", started, None, 1))
            out["role_transition"].append((ident, ident, None, state, started))
        for _ in range(rnd.randrange(5)):
            interaction += 1
            at = NOW - dt.timedelta(minutes=rnd.randrange(365 * 24 * 60), seconds=-30)
            channel = rnd.choice(CHANNELS)
            out["interaction"].append((interaction, channel, "inbound", at, "{}", at))
            out["interaction_participant"].append((interaction, interaction, ident, "customer", at))
    return out


COLUMNS = {
    "party": "id, kind, display_name, name_key, attributes, created_at, updated_at, version",
    "party_tag": "party_id, tag",
    "role": "id, party_id, type, state, attributes, started_at, ended_at, version",
    "role_transition": "id, role_id, from_state, to_state, at",
    "interaction": "id, channel, direction, occurred_at, attributes, created_at",
    "interaction_participant": "id, interaction_id, party_id, role, occurred_at",
}


def load(app: XRM, n: int) -> tuple[float, dict[str, int]]:
    started = time.perf_counter()
    rows = data(n)
    counts = {}
    with Loader(app) as put:
        for table in COLUMNS:
            counts[table] = put(table, COLUMNS[table], iter(rows.pop(table)))
    if app.engine.dialect.name == "postgresql":
        with app.engine.begin() as conn:  # the ids were given: move the sequences on
            for table in ("party", "role", "role_transition", "interaction",
                          "interaction_participant"):  # fmt: skip
                conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :n)"),
                    {"n": max(counts[table], 1)},
                )
    return time.perf_counter() - started, counts


def _ids(stream: Iterator[int]) -> int:
    count = 0
    for _ in stream:
        count += 1
    return count


def run(url: str, n: int, repeat: int) -> None:
    app = XRM(url, builtins=False, discover=False)
    app.register(CUSTOMER, source="bench")
    app.upgrade()
    backend = app.engine.dialect.name
    with app.engine.begin() as conn:
        for table in TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    seconds, counts = load(app, n)
    loaded = ", ".join(f"{v:,} {k}" for k, v in counts.items())
    print(f"\n== {backend}: {loaded} loaded in {seconds:.1f} s")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    params = {"now": now, "since": now - dt.timedelta(days=90)}
    with app.session(readonly=True) as s:
        mine, peak, found = best(lambda: s.segments.count(SEGMENT), repeat)
        hand, _, expected = best(lambda: s.db.execute(text(HAND), params).scalar(), repeat)
        assert found == expected, (found, expected)
        streamed, stream_peak, members = best(
            lambda: _ids(s.segments.stream(SEGMENT, batch=1000)), repeat
        )
        assert members == found
    print(f"{'segment (4 criteria)':<24}{'xrm s':>9}{'hand s':>9}{'ratio':>7}{'members':>10}")
    print(f"{'count':<24}{mine:>9.3f}{hand:>9.3f}{mine / hand:>7.2f}{found:>10,}")
    print(f"{'stream every id':<24}{streamed:>9.3f}{'':>9}{'':>7}{members:>10,}")
    print(f"peak Python allocation: count {peak:.2f} MB, stream {stream_peak:.2f} MB")
    app.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/segments.db", args.parties, args.repeat)
    if args.backend in ("postgresql", "both"):
        run(os.environ.get("XRM_BENCH_DATABASE_URL", PG_DEFAULT), args.parties, args.repeat)
    print(f"\npeak RSS {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
