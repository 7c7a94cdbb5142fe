"""W2-W6: the read workloads, each as xrm's call and as hand-written SQL.

Every ``*_library`` function goes through the public API the way an application does, in
one unit of work; every ``*_baseline`` function answers the same question with the plain
driver and returns the same information (the whole party with its contact points, every
link with its label, every audience row), so the ratio measures what the library adds.
:mod:`bench.checks` asserts that both give the same answers.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench.build import TIMELINE_PARTY
from bench.data import AS_OF, AT, SEED, spec
from bench.plain import Plain, Target

__all__ = [
    "AudienceSql",
    "audience_baseline",
    "audience_library",
    "audience_plan",
    "dedupe_floor",
    "dedupe_library",
    "relationships_baseline",
    "relationships_library",
    "resolve_baseline",
    "resolve_library",
    "timeline_baseline",
    "timeline_library",
]

_MASK = (1 << 64) - 1


def sample(size: int, count: int, salt: int) -> list[int]:
    """``count`` random party indices below ``size`` (with repeats when size is small)."""
    rng = random.Random(SEED + salt)
    return [rng.randrange(size) for _ in range(count)]


def percentiles(nanoseconds: list[int]) -> dict[str, float]:
    values = sorted(nanoseconds)
    n = len(values)

    def at(q: float) -> float:
        return values[min(n - 1, int(q * n))] / 1000.0

    return {"p50_us": at(0.50), "p99_us": at(0.99), "mean_us": statistics.fmean(values) / 1e3,
            "calls": n}  # fmt: skip


def _timed(call: Callable[[Any], Any], args: list[Any], warm: int) -> tuple[list[int], list[Any]]:
    for arg in args[:warm]:
        call(arg)
    times: list[int] = []
    answers: list[Any] = []
    clock = time.perf_counter_ns
    for arg in args:
        began = clock()
        answer = call(arg)
        times.append(clock() - began)
        answers.append(answer)
    return times, answers


# -- W2 identity.resolve -------------------------------------------------------------------
def _resolve_keys(size: int, calls: int) -> dict[str, list[str]]:
    indices = sample(size, calls, 2)
    specs = [spec(i) for i in indices]
    return {"email": [s.email for s in specs], "phone": [s.phone for s in specs],
            "expected": [str(i + 1) for i in indices]}  # fmt: skip


def resolve_library(target: Target, size: int, calls: int) -> dict[str, Any]:
    from xrm import XRM

    keys = _resolve_keys(size, calls)
    expected = [int(x) for x in keys["expected"]]
    app = XRM(target.url)
    out: dict[str, Any] = {}
    with app.session() as s:
        for kind in ("email", "phone"):

            def call(raw: str, kind: str = kind) -> int:
                if kind == "email":
                    party = s.identity.resolve(email=raw)
                else:
                    party = s.identity.resolve(phone=raw)
                assert party is not None
                return party.id

            times, ids = _timed(call, keys[kind], warm=min(500, calls))
            assert ids == expected, f"resolve by {kind} found other parties"
            out[kind] = percentiles(times)
    app.dispose()
    return out


_PARTY_BY_POINT = (
    "SELECT p.id, p.kind, p.display_name, p.given_name, p.family_name, p.birth_date, "
    "p.attributes, p.merged_into_id, p.version, p.created_at, p.updated_at "
    "FROM contact_point c JOIN party p ON p.id = c.party_id WHERE c.kind = ? AND c.key = ?"
)
_PARTY_BY_ID = (
    "SELECT id, kind, display_name, given_name, family_name, birth_date, attributes, "
    "merged_into_id, version, created_at, updated_at FROM party WHERE id = ?"
)
_POINTS = (
    "SELECT id, kind, value, key, label, country, data, is_primary, suppressed "
    "FROM contact_point WHERE party_id = ? ORDER BY id"
)
_IDENTIFIERS = "SELECT scheme, value FROM party_identifier WHERE party_id = ? ORDER BY id"
_TAGS = "SELECT tag FROM party_tag WHERE party_id = ? ORDER BY tag"


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _party(db: Plain, row: Any) -> tuple[Any, ...]:
    """The whole party as xrm returns it: row, contact points, identifiers, tags."""
    while row[7] is not None:  # merged_into_id: follow to the survivor
        row = db.execute(_PARTY_BY_ID, (row[7],)).fetchone()
    pid = row[0]
    points = [(*p[:6], _loads(p[6]), bool(p[7]), bool(p[8]))
              for p in db.execute(_POINTS, (pid,)).fetchall()]  # fmt: skip
    identifiers = db.execute(_IDENTIFIERS, (pid,)).fetchall()
    tags = [t[0] for t in db.execute(_TAGS, (pid,)).fetchall()]
    return (*row[:6], _loads(row[6]), *row[7:], points, identifiers, tags)


def resolve_baseline(target: Target, size: int, calls: int) -> dict[str, Any]:
    keys = _resolve_keys(size, calls)
    expected = [int(x) for x in keys["expected"]]
    db = Plain(target)
    db.begin()
    query = db.sql(_PARTY_BY_POINT)
    execute = db.conn.execute

    def by_email(raw: str) -> int:
        row = execute(query, ("email", raw.strip().lower())).fetchone()
        return int(_party(db, row)[0])

    def by_phone(raw: str) -> int:
        key = "+" + "".join(c for c in raw if c.isdigit())
        row = execute(query, ("phone", key)).fetchone()
        return int(_party(db, row)[0])

    out: dict[str, Any] = {}
    for kind, call in (("email", by_email), ("phone", by_phone)):
        times, ids = _timed(call, keys[kind], warm=min(500, calls))
        assert ids == expected, f"baseline resolve by {kind} found other parties"
        out[kind] = percentiles(times)
    db.close()
    return out


# -- W3 relationships.of -------------------------------------------------------------------
def relationships_library(target: Target, size: int, calls: int) -> dict[str, Any]:
    from xrm import XRM

    parties = [i + 1 for i in sample(size, calls, 3)]
    app = XRM(target.url)
    with app.session() as s:
        times, links = _timed(lambda p: s.relationships.of(p, as_of=AS_OF), parties,
                              warm=min(500, calls))  # fmt: skip
    app.dispose()
    result = percentiles(times)
    result["links_per_call"] = statistics.fmean(len(x) for x in links)
    return result


_RELATIONSHIPS = (
    "SELECT id, type, from_party_id, to_party_id, valid_from, valid_to, attributes, created_at "
    "FROM relationship WHERE from_party_id = ? AND valid_from <= ? "
    "AND (valid_to IS NULL OR valid_to > ?) "
    "UNION ALL "
    "SELECT id, type, from_party_id, to_party_id, valid_from, valid_to, attributes, created_at "
    "FROM relationship WHERE to_party_id = ? AND valid_from <= ? "
    "AND (valid_to IS NULL OR valid_to > ?) "
    "ORDER BY 5, 1"
)


def relationship_labels() -> dict[str, tuple[str, str]]:
    """Forward and inverse label of each relationship type, as the application knows them."""
    from xrm import XRM

    app = XRM("sqlite://")
    labels = {
        name: (t.forward_label, t.inverse_label)
        for name, t in app.registry.relationship_types.items()
    }
    app.dispose()
    return labels


def relationships_of(db: Plain, labels: dict[str, tuple[str, str]], party: int,
                     day: Any) -> list[tuple[int, int, str]]:  # fmt: skip
    """(relationship id, other party, label) of the links holding on ``day``."""
    rows = db.conn.execute(db.sql(_RELATIONSHIPS), (party, day, day, party, day, day))
    links = []
    for row in rows.fetchall():
        outgoing = row[2] == party
        forward, inverse = labels.get(row[1], (row[1], f"{row[1]} (inverse)"))
        _loads(row[6])
        links.append((row[0], row[3] if outgoing else row[2], forward if outgoing else inverse))
    return links


def relationships_baseline(target: Target, size: int, calls: int) -> dict[str, Any]:
    parties = [i + 1 for i in sample(size, calls, 3)]
    labels = relationship_labels()
    db = Plain(target)
    db.begin()
    day = db.day(AS_OF)
    times, links = _timed(lambda p: relationships_of(db, labels, p, day), parties,
                          warm=min(500, calls))  # fmt: skip
    db.close()
    result = percentiles(times)
    result["links_per_call"] = statistics.fmean(len(x) for x in links)
    return result


# -- W4 consents.contactable -------------------------------------------------------------
class AudienceSql:
    """The consent rules of docs/consent.md as one hand-written query: for each contact
    point of the channel's kind, the latest record of each scope (one index probe each,
    on ``ix_consent_party_purpose``), then the most specific scope decides unless a later
    refusal at a broader scope beats its grant."""

    _LATEST = (
        "(SELECT r.id FROM consent_record r WHERE r.party_id = cp.party_id "
        "AND r.purpose = ? AND r.effective_from <= ? AND {scope} "
        "ORDER BY r.effective_from DESC, r.id DESC LIMIT 1)"
    )

    def __init__(self, basis: str) -> None:
        self.basis = basis
        latest = {
            "k": self._LATEST.format(scope="r.scope = 'contact_point' AND r.contact_kind = ? "
                                           "AND r.contact_key = cp.key"),
            "c": self._LATEST.format(scope="r.scope = 'channel' AND r.channel = ?"),
            "a": self._LATEST.format(scope="r.scope = 'all'"),
        }  # fmt: skip

        def later(x: str, y: str) -> str:
            return (f"({x}.effective_from > {y}.effective_from OR "
                    f"({x}.effective_from = {y}.effective_from AND {x}.id > {y}.id))")  # fmt: skip

        def beaten(x: str, broader: list[str]) -> str:
            parts = [f"({b}.id IS NOT NULL AND {b}.decision <> 'granted' AND {later(b, x)})"
                     for b in broader]  # fmt: skip
            return "(" + " OR ".join(parts) + ")" if parts else "(1 = 0)"

        def allowed(x: str, broader: list[str]) -> str:
            grant = f"{x}.decision = 'granted'"
            if basis == "consent":
                grant += f" AND ({x}.expires_at IS NULL OR {x}.expires_at > ?)"
            return f"({grant} AND NOT {beaten(x, broader)})"

        fallback = "(1 = 1)" if basis == "legitimate_interest" else "(1 = 0)"
        self.text = (
            "SELECT pts.party_id, pts.cp_id, pts.value FROM ("
            "SELECT cp.party_id, cp.id AS cp_id, cp.value, "
            f"{latest['k']} AS k_id, {latest['c']} AS c_id, {latest['a']} AS a_id "
            "FROM contact_point cp JOIN party p ON p.id = cp.party_id "
            "WHERE cp.kind = ? AND NOT cp.suppressed AND p.merged_into_id IS NULL) pts "
            "LEFT JOIN consent_record k ON k.id = pts.k_id "
            "LEFT JOIN consent_record c ON c.id = pts.c_id "
            "LEFT JOIN consent_record a ON a.id = pts.a_id "
            "WHERE CASE "
            f"WHEN k.id IS NOT NULL THEN {allowed('k', ['c', 'a'])} "
            f"WHEN c.id IS NOT NULL THEN {allowed('c', ['a'])} "
            f"WHEN a.id IS NOT NULL THEN {allowed('a', [])} "
            f"ELSE {fallback} END"
        )

    def params(self, db: Plain, purpose: str, channel: str, kind: str) -> tuple[Any, ...]:
        at = db.ts(AT)
        expiry = (at,) if self.basis == "consent" else ()
        return (purpose, at, kind, purpose, at, channel, purpose, at, kind,
                *expiry, *expiry, *expiry)  # fmt: skip


def stream_baseline(db: Plain, purpose: str, channel: str, kind: str,
                    basis: str = "consent") -> Iterator[tuple[int, int, str]]:  # fmt: skip
    """The audience rows, 1,000 at a time (a server-side cursor on PostgreSQL)."""
    query = AudienceSql(basis)
    cursor = db.cursor() if db.sqlite else db.conn.cursor(name="audience")
    cursor.execute(db.sql(query.text), query.params(db, purpose, channel, kind))
    while rows := cursor.fetchmany(1000):
        yield from rows
    cursor.close()


def _digest(rows: Iterator[tuple[int, int | None, Any]]) -> tuple[int, int]:
    count = 0
    digest = 0
    for party_id, point_id, _value in rows:
        count += 1
        digest = (digest + party_id * 1_000_003 + (point_id or 0) * 7919) & _MASK
    return count, digest


def audience_plan(db: Any, query: Any) -> list[str]:
    """The database's plan for xrm's audience query: the evidence when it is slow."""
    dialect = db.get_bind().dialect
    text = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    connection = db.connection().connection.driver_connection
    if dialect.name == "sqlite":
        rows = connection.execute("EXPLAIN QUERY PLAN " + text).fetchall()
        return [f"{'  ' * (r[1] > 0)}{r[3]}" for r in rows]
    return [str(r[0]) for r in connection.execute("EXPLAIN " + text).fetchall()]


def audience_library(
    target: Target, repeat: int, budget: float, expected_rows: int
) -> dict[str, Any]:
    """Stream the audience ``repeat`` times. A run that passes ``budget`` seconds is
    stopped; its time is then estimated from the share of ``expected_rows`` (the
    baseline's count) it had streamed, rows coming at an even pace."""
    from xrm import XRM

    app = XRM(target.url)
    runs: list[float] = []
    result: dict[str, Any] = {}
    for _ in range(repeat):
        with app.session() as s:
            if "plan" not in result:
                result["plan"] = audience_plan(s.db, s.consents.contactable("marketing", "email",
                                                                            at=AT))  # fmt: skip
            began = time.perf_counter()
            count = digest = 0
            members = s.consents.audience("marketing", "email", at=AT)
            for count, m in enumerate(members, start=1):
                digest = (digest + m.party_id * 1_000_003 + (m.contact_point_id or 0) * 7919
                          ) & _MASK  # fmt: skip
                if count % 256 == 0 and time.perf_counter() - began > budget:
                    spent = time.perf_counter() - began
                    result.update(timed_out=True, rows_done=count, budget=budget,
                                  estimated_seconds=spent * expected_rows / count)  # fmt: skip
                    break
            else:
                runs.append(time.perf_counter() - began)
                result.update(rows=count, digest=digest)
                continue
            break
    app.dispose()
    if runs:
        result.update(seconds=statistics.median(runs), runs=runs)
    else:
        result["seconds"] = result["estimated_seconds"]
    return result


def audience_baseline(target: Target, repeat: int) -> dict[str, Any]:
    db = Plain(target)
    runs = []
    for _ in range(repeat):
        db.begin()
        began = time.perf_counter()
        count, digest = _digest(stream_baseline(db, "marketing", "email", "email"))
        runs.append(time.perf_counter() - began)
        db.commit()
    db.close()
    return {"seconds": statistics.median(runs), "runs": runs, "rows": count,
            "digest": digest}  # fmt: skip


# -- W5 timeline -------------------------------------------------------------------------
def timeline_library(target: Target, calls: int) -> dict[str, Any]:
    from xrm import XRM

    app = XRM(target.url)
    with app.session() as s:
        times, pages = _timed(lambda p: s.timeline(p, limit=50), [TIMELINE_PARTY] * calls,
                              warm=min(50, calls))  # fmt: skip
    app.dispose()
    assert all(len(page.items) == 50 for page in pages)
    return percentiles(times)


_TIMELINE = (
    "SELECT e.id, e.type, e.entity, e.entity_id, e.occurred_at, e.recorded_at, e.actor, "
    "e.data FROM journal_party jp JOIN journal_event e ON e.id = jp.event_id "
    "WHERE jp.party_id = ? ORDER BY jp.occurred_at DESC, jp.event_id DESC LIMIT ?"
)


def timeline_page(db: Plain, party: int, limit: int = 50) -> list[tuple[Any, ...]]:
    rows = db.conn.execute(db.sql(_TIMELINE), (party, limit + 1)).fetchall()
    return [(*r[:7], _loads(r[7])) for r in rows[:limit]]


def timeline_baseline(target: Target, calls: int) -> dict[str, Any]:
    db = Plain(target)
    db.begin()
    times, pages = _timed(lambda p: timeline_page(db, p), [TIMELINE_PARTY] * calls,
                          warm=min(50, calls))  # fmt: skip
    db.close()
    assert all(len(page) == 50 for page in pages)
    return percentiles(times)


# -- W6 duplicates -----------------------------------------------------------------------
def planted_pairs(size: int) -> set[tuple[int, int]]:
    """The (smaller id, larger id) pairs that :mod:`bench.data` made near-duplicates."""
    pairs = set()
    for index in range(size):
        original = spec(index).duplicate_of
        if original is not None:
            pairs.add((original + 1, index + 1))
    return pairs


def dedupe_library(target: Target, size: int) -> dict[str, Any]:
    from xrm import XRM

    try:
        from xrm.core.identity.dedupe import find_duplicates
    except ImportError as exc:
        return {"skipped": f"xrm.core.identity.dedupe.find_duplicates cannot be imported: {exc}"}
    app = XRM(target.url)
    with app.session() as s:
        began = time.perf_counter()
        pairs = find_duplicates(s)
        seconds = time.perf_counter() - began
    app.dispose()
    planted = planted_pairs(size)
    found = {(p.left, p.right) for p in pairs}
    verdicts: dict[str, int] = {}
    for p in pairs:
        verdicts[p.verdict] = verdicts.get(p.verdict, 0) + 1
    return {
        "seconds": seconds, "pairs": len(pairs), "verdicts": verdicts,
        "planted": len(planted), "planted_found": len(planted & found),
    }  # fmt: skip


def dedupe_floor(target: Target) -> dict[str, Any]:
    """Reading the columns the default match rules use, through the driver: the part of
    duplicate detection that is the database's; the rest is Python."""
    db = Plain(target)
    began = time.perf_counter()
    count = 0
    day = db.day(dt.date.today())
    for query, params in (
        ("SELECT id, kind, name_key, given_name, family_name, birth_date FROM party "
         "WHERE merged_into_id IS NULL ORDER BY id", ()),
        ("SELECT party_id, kind, key, data, country FROM contact_point "
         "WHERE kind IN ('email', 'phone', 'postal')", ()),
        ("SELECT party_id, scheme, value FROM party_identifier", ()),
        ("SELECT r.from_party_id, r.to_party_id FROM relationship r JOIN party o "
         "ON o.id = r.to_party_id WHERE o.kind = 'organization' AND r.valid_from <= ? "
         "AND (r.valid_to IS NULL OR r.valid_to > ?)", (day, day)),
    ):  # fmt: skip
        cursor = db.cursor()
        cursor.execute(db.sql(query), params)
        while rows := cursor.fetchmany(5000):
            for row in rows:
                if len(row) == 5:
                    _loads(row[3])
            count += len(rows)
    seconds = time.perf_counter() - began
    db.close()
    return {"seconds": seconds, "rows": count}
