"""A campaign launched to N parties: the audience resolved into recipients (segment ∩ the
consent ledger's audience on the campaign's channels, each on its preferred allowed
channel, with its A/B arm), beside the same ``INSERT ... SELECT`` written by hand; then the
campaign worker putting a batch of recipients into the outbox.

    .venv/bin/python -m bench.campaigns --parties 1000000 --backend both

1. A fresh database (a temporary SQLite file; PostgreSQL at XRM_BENCH_DATABASE_URL,
   default postgresql+psycopg://postgres@127.0.0.1:5432/xrm_bench_campaigns, emptied) migrated with
   the campaigns plugin.
2. **Bulk load**, no service (``bench.bulk``, streamed: the rows are never all in memory):
   N persons, each with an email address (3 % of them suppressed) and 40 % with a mobile
   phone; a marketing consent (all channels) for 70 %, a later withdrawal for 10 % of
   those; 20 % prefer SMS for marketing.
3. **Launch** (``xrm_campaigns.launch``: one ``INSERT ... SELECT`` of every member of
   ``Kind(person)`` with its channel, arm, status and exclusion reason), timed once, with
   the process's peak RSS measured over the launch alone (``/proc/self/clear_refs``) and
   its peak Python allocation (tracemalloc); targets: 60 s and 300 MB. Beside it, the
   hand-written ``INSERT ... SELECT`` (the ledger's rule simplified to the data's: the
   latest all-channel record is a grant) into the same table (its indexes and keys) for
   another campaign; the ratio.
4. **Drain**: ``xrm_campaigns.drain`` of ``--drain`` recipients (messages rendered and put
   in the outbox with their interactions): messages per second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import xrm_campaigns
from sqlalchemy import text

from bench.bulk import Loader, peak_rss_mb
from xrm import XRM, Template, TemplateSet, Transport
from xrm import segments as seg

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/xrm_bench_campaigns"
NOW = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
BEFORE = NOW - dt.timedelta(days=400)
TEMPLATES = TemplateSet([
    Template("promo", "email", "en", subject="Offers, {{ party.name }}",
             body="Hello {{ party.name }}, -20% this week."),
    Template("promo", "sms", "en", body="-20% this week."),
])  # fmt: skip


class Nowhere(Transport):
    """The bench never delivers: the outbox is what is measured."""

    name, channels = "nowhere", ("email", "sms")

    def send(self, envelope: Any) -> str | None:  # pragma: no cover - never called
        raise AssertionError("the bench does not deliver")


SPEC = {
    "name": "bench", "purpose": "marketing",
    "segment": seg.Kind(kind="person").model_dump(mode="json"),
    "channels": {"email": "promo", "sms": "promo"},
    "arms": [{"name": "A", "share": 45}, {"name": "B", "share": 45},
             {"name": "control", "share": 10, "control": True}],
}  # fmt: skip

COLUMNS = {
    "party": "id, kind, display_name, name_key, attributes, created_at, updated_at, version",
    "contact_point": (
        "id, party_id, kind, value, key, data, is_primary, suppressed, valid, created_at"
    ),
    "consent_record": (
        "id, party_id, purpose, scope, decision, captured_at, effective_from, source, recorded_at"
    ),
    "party_purpose_preference": "party_id, purpose, channel, updated_at",
}

HAND = """
    INSERT INTO campaigns_recipient
        (campaign_id, party_id, arm, channel, status, reason, created_at)
    SELECT :campaign, f.id,
           CASE WHEN f.bucket < 45 THEN 'A' WHEN f.bucket < 90 THEN 'B' ELSE 'control' END,
           f.channel,
           CASE WHEN f.channel IS NULL THEN 'excluded'
                WHEN f.bucket >= 90 THEN 'held_out' ELSE 'pending' END,
           CASE WHEN f.channel IS NULL THEN 'no_consent' END, :now
    FROM (
      SELECT g.id, ((g.id * 2654435761 + :campaign * 40503) % 4294967291) % 100 AS bucket,
             CASE WHEN g.ok AND g.preferred = 'sms' AND g.phone THEN 'sms'
                  WHEN g.ok AND g.email THEN 'email'
                  WHEN g.ok AND g.phone THEN 'sms' END AS channel
      FROM (
        SELECT p.id, pp.channel AS preferred,
               (SELECT c.decision FROM consent_record c
                WHERE c.party_id = p.id AND c.purpose = 'marketing'
                ORDER BY c.effective_from DESC, c.id DESC LIMIT 1) = 'granted' AS ok,
               EXISTS (SELECT 1 FROM contact_point c WHERE c.party_id = p.id
                       AND c.kind = 'email' AND NOT c.suppressed AND c.valid) AS email,
               EXISTS (SELECT 1 FROM contact_point c WHERE c.party_id = p.id
                       AND c.kind = 'phone' AND NOT c.suppressed AND c.valid) AS phone
        FROM party p
        LEFT JOIN party_purpose_preference pp
               ON pp.party_id = p.id AND pp.purpose = 'marketing'
        WHERE p.kind = 'person' AND p.merged_into_id IS NULL AND p.erased_at IS NULL
      ) g
    ) f"""


def rows(n: int, seed: int = 5) -> dict[str, Iterator[tuple[Any, ...]]]:
    """Each table's rows, generated as the loader reads them."""

    def party() -> Iterator[tuple[Any, ...]]:
        for i in range(1, n + 1):
            yield (i, "person", f"Person {i}", f"person {i}", "{}", BEFORE, BEFORE, 1)

    def points() -> Iterator[tuple[Any, ...]]:
        rnd, ident = random.Random(seed), 0
        for i in range(1, n + 1):
            ident += 1
            email = f"p{i}@example.com"
            yield (ident, i, "email", email, email, "{}", True, rnd.random() < 0.03, True, BEFORE)
            if rnd.random() < 0.4:
                ident += 1
                phone = f"+336{i:08d}"
                yield (ident, i, "phone", phone, phone, "{}", True, False, True, BEFORE)

    def consents() -> Iterator[tuple[Any, ...]]:
        rnd, ident = random.Random(seed + 1), 0
        for i in range(1, n + 1):
            if rnd.random() < 0.7:
                ident += 1
                yield (ident, i, "marketing", "all", "granted", BEFORE, BEFORE, "bench", BEFORE)
                if rnd.random() < 0.1:
                    later = BEFORE + dt.timedelta(days=30)
                    ident += 1
                    yield (ident, i, "marketing", "all", "withdrawn", later, later, "bench", later)

    def prefs() -> Iterator[tuple[Any, ...]]:
        rnd = random.Random(seed + 2)
        for i in range(1, n + 1):
            if rnd.random() < 0.2:
                yield (i, "marketing", "sms", BEFORE)

    return {
        "party": party(), "contact_point": points(), "consent_record": consents(),
        "party_purpose_preference": prefs(),
    }  # fmt: skip


def load(app: XRM, n: int) -> float:
    started = time.perf_counter()
    counts = {}
    with Loader(app) as put:
        for table, data in rows(n).items():
            counts[table] = put(table, COLUMNS[table], data)
    if app.engine.dialect.name == "postgresql":
        with app.engine.begin() as conn:
            for table in ("party", "contact_point", "consent_record"):
                conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :n)"),
                    {"n": max(counts[table], 1)},
                )
    return time.perf_counter() - started


def reset_peak_rss() -> None:
    """Start the peak RSS (VmHWM) afresh (Linux: ``echo 5 > /proc/self/clear_refs``)."""
    Path("/proc/self/clear_refs").write_text("5")


def run(url: str, n: int, drain: int) -> None:
    app = XRM(url, plugins=[xrm_campaigns], discover=False, templates=TEMPLATES,
              transports=[Nowhere()])  # fmt: skip
    backend = app.engine.dialect.name
    if backend == "postgresql":
        with app.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    app.upgrade()
    seconds = load(app, n)
    print(f"\n== {backend}: {n:,} persons loaded in {seconds:.1f} s")

    with app.session() as s:
        xrm_campaigns.create(s, SPEC)
    reset_peak_rss()
    tracemalloc.start()
    started = time.perf_counter()
    with app.session() as s:
        xrm_campaigns.launch(s, "bench")
    mine = time.perf_counter() - started
    py_peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    rss = peak_rss_mb()

    with app.session() as s:  # the hand-written rows go to the same table, indexes, keys
        hand_campaign = xrm_campaigns.create(s, {**SPEC, "name": "hand"}).id
    sql = HAND
    started = time.perf_counter()
    with app.engine.begin() as conn:
        conn.execute(text(sql), {"campaign": hand_campaign, "now": NOW})
    hand = time.perf_counter() - started

    with app.session() as s:
        results = xrm_campaigns.results(s, "bench").total
        counts = dict(
            s.db.execute(
                text(
                    "SELECT status, count(*) FROM campaigns_recipient WHERE campaign_id = :c "
                    "GROUP BY status"
                ),
                {"c": hand_campaign},
            ).all()
        )
    print(f"{'launch':<10}{'xrm s':>8}{'hand s':>8}{'ratio':>7}{'targeted':>10}{'pending':>9}"
          f"{'excluded':>9}{'RSS MB':>8}{'py MB':>7}")  # fmt: skip
    excluded = sum(results["excluded"].values())
    print(f"{'resolve':<10}{mine:>8.2f}{hand:>8.2f}{mine / hand:>7.2f}{results['targeted']:>10,}"
          f"{results['pending']:>9,}{excluded:>9,}{rss:>8.0f}{py_peak:>7.1f}")  # fmt: skip
    print(f"  excluded: {results['excluded']}; hand-written: {counts}")
    assert results["targeted"] == sum(counts.values()) == n

    started = time.perf_counter()
    with app.session() as s:
        report = xrm_campaigns.drain(s, "bench", limit=drain)
    took = time.perf_counter() - started
    print(f"drain {drain:,}: {report.sent:,} messages in the outbox in {took:.1f} s "
          f"({report.sent / took:,.0f}/s), {sum(report.excluded.values())} refused")  # fmt: skip
    app.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=1_000_000)
    parser.add_argument("--drain", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args(argv)
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/campaigns.db", args.parties, args.drain)
    if args.backend in ("postgresql", "both"):
        run(os.environ.get("XRM_BENCH_DATABASE_URL", PG_DEFAULT), args.parties, args.drain)
    print(f"\npeak RSS of the whole run {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
