"""Several units of work at once on one database: concurrent imports recognise each
other's parties (each party once), contention surfaces as ``Conflict`` (never a raw
database error), ``app.retrying`` re-runs a unit of work that met one, and version-free
writes (tags, contact points) never fail because another writer touched the party.

Each test runs on SQLite and, with ``XRM_TEST_DATABASE_URL``, on PostgreSQL; each worker
is a thread with its own :class:`~xrm.XRM` (its own connection pool) on the same database.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import CUSTOMER
from xrm import XRM, Conflict, Email, Session, ValidationError
from xrm.core.models import ContactPointRow, IdentifierRow, PartyRow

ROWS = 2_000
WORKERS = 4
BATCH = 500  # the default of ``xrm import --batch``


def _file(rows: int = ROWS) -> list[dict[str, Any]]:
    """One import file: every row has an email; half a phone, a quarter a role, some a
    tag, and a third of the last batch an identifier (the unique index on identifiers
    makes a concurrent insert of the same one wait: the batches before have none)."""
    records = []
    for i in range(rows):
        record: dict[str, Any] = {"name": f"Party {i}", "emails": [f"p{i}@example.com"]}
        if i % 2 == 0:
            record["phones"] = [f"+33 6 10 {i // 100:02d} {i % 100:02d} 00"]
        if i % 3 == 0 and i >= rows - BATCH:
            record["identifiers"] = {"legacy": f"L{i}"}
        if i % 4 == 0:
            record["roles"] = [{"type": "customer", "state": "lead"}]
        if i % 5 == 0:
            record["tags"] = ["imported"]
        records.append(record)
    return records


def _worker_app(app: XRM) -> XRM:
    """Another application on the same database, as another process would open it."""
    other = XRM(app.url, builtins=False, discover=False, default_region="FR")
    other.register(CUSTOMER, source="tests")
    return other


def _run_together(count: int, work: Callable[[int], Any], timeout: float = 120) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads started at the same instant; return what each
    returned, or raise the first error one of them met."""
    start = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait(10)
            results[i] = work(i)
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a worker is stuck"
    if errors:
        raise errors[0]
    return results


def _import_file(app: XRM, records: list[dict[str, Any]]) -> Counter[str]:
    """What ``xrm import`` does: one unit of work per batch, ``import_many`` in each."""
    outcomes: Counter[str] = Counter()
    for start in range(0, len(records), BATCH):
        with app.session(actor="import:test") as s:
            for result in s.imports.import_many(records[start : start + BATCH], first_line=start):
                outcomes[result.outcome or f"error: {result.error}"] += 1
    return outcomes


def test_four_concurrent_imports_of_one_file_create_each_party_once(app: XRM) -> None:
    records = _file()
    apps = [_worker_app(app) for _ in range(WORKERS)]
    began = time.perf_counter()
    try:
        outcomes = _run_together(WORKERS, lambda i: _import_file(apps[i], records))
    finally:
        for other in apps:
            other.dispose()
    elapsed = time.perf_counter() - began
    total = sum(outcomes, Counter())
    assert not [k for k in total if k.startswith("error")], total
    # each row created once, by whichever import came first; the others found it
    assert total["created"] == ROWS
    assert total["unchanged"] + total["updated"] == ROWS * (WORKERS - 1)
    with app.session() as s:
        assert s.parties.count() == ROWS
        shared_points = s.db.scalar(
            select(func.count()).select_from(
                select(ContactPointRow.kind, ContactPointRow.key)
                .group_by(ContactPointRow.kind, ContactPointRow.key)
                .having(func.count(func.distinct(ContactPointRow.party_id)) > 1)
                .subquery()
            )
        )
        identifiers = s.db.scalar(select(func.count()).select_from(IdentifierRow))
        parties = s.db.scalar(select(func.count()).select_from(PartyRow))
    assert (shared_points, identifiers, parties) == (0, len(range(ROWS - BATCH, ROWS, 3)), ROWS)
    # a second import of the file, once all is done, recognises every row
    assert _import_file(app, records) == Counter(unchanged=ROWS)
    assert elapsed < 60, f"{WORKERS} concurrent imports of {ROWS} rows took {elapsed:.1f} s"
    print(f"\n{WORKERS} concurrent imports of {ROWS} rows ({app.engine.dialect.name}): "
          f"{parties} parties, {shared_points} shared keys, {elapsed:.1f} s")  # fmt: skip


def test_concurrent_version_free_writes_on_one_party_never_fail(app: XRM) -> None:
    """Tags, untags and contact points need no version: eight writers changing one party
    at once, each call in its own unit of work and none retried, all succeed."""
    with app.session() as s:
        party = s.parties.create("person", "Shared").id
    apps = [_worker_app(app) for _ in range(8)]
    rounds = 12

    def write(i: int) -> None:
        for n in range(rounds):
            with apps[i].session(actor=f"writer {i}") as s:
                s.parties.tag(party, "common", f"w{i}")
                s.parties.add_contact_point(party, Email(f"w{i}.{n}@example.com"))
                if n % 3 == 2:
                    s.parties.untag(party, "common")

    try:
        _run_together(len(apps), write)
    finally:
        for other in apps:
            other.dispose()
    with app.session() as s:
        shared = s.parties.get(party)
    assert len(shared.contact_points) == len(apps) * rounds
    assert {f"w{i}" for i in range(len(apps))} <= set(shared.tags)


def test_concurrent_updates_with_versions_all_apply_through_retrying(app: XRM) -> None:
    """Read-modify-write with the version read: a writer that read before another one
    wrote gets Conflict and ``app.retrying`` runs it again, reading afresh; every change
    lands once and nothing raw escapes."""
    with app.session() as s:
        party = s.parties.create("person", "Counter", attributes={"n": 0}).id
    apps = [_worker_app(app) for _ in range(6)]
    rounds = 8
    runs: Counter[int] = Counter()

    def increment(s: Session, i: int) -> None:
        runs[i] += 1
        current = s.parties.get(party)
        s.parties.update(current, attributes={"n": current.attributes["n"] + 1})

    def write(i: int) -> None:
        for _ in range(rounds):
            apps[i].retrying(lambda s: increment(s, i), attempts=20, backoff=0.01)

    try:
        _run_together(len(apps), write)
    finally:
        for other in apps:
            other.dispose()
    with app.session() as s:
        final = s.parties.get(party)
    assert final.attributes["n"] == len(apps) * rounds  # no update lost
    assert final.version == 1 + len(apps) * rounds
    print(f"\n{len(apps)} writers x {rounds} updates ({app.engine.dialect.name}): "
          f"{sum(runs.values()) - len(apps) * rounds} runs again after a Conflict")  # fmt: skip


def _blocked_app(app: XRM) -> XRM:
    """An application that waits 0.2 s for a lock, not the default 5 s (SQLite) or ever
    (PostgreSQL)."""
    if app.engine.dialect.name == "sqlite":
        options: dict[str, Any] = {"connect_args": {"timeout": 0.2}}
    else:
        options = {"connect_args": {"options": "-c lock_timeout=200"}}
    other = XRM(app.url, builtins=False, discover=False, engine_options=options)
    other.register(CUSTOMER, source="tests")
    return other


def test_a_lock_not_obtained_in_time_is_a_conflict_and_retrying_waits_it_out(app: XRM) -> None:
    with app.session() as s:
        party = s.parties.create("person", "Busy").id
    other = _blocked_app(app)
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:  # a unit of work that changed the party and has not ended yet
        with app.session() as s:
            s.parties.tag(party, "first")
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        with pytest.raises(Conflict) as refused, other.session() as s:
            s.parties.tag(party, "second")
        message = str(refused.value)
        assert "another unit of work" in message and "app.retrying" in message
        assert "OperationalError" not in message and "SQL" not in message
        threading.Timer(0.3, release.set).start()
        tagged = other.retrying(lambda s: s.parties.tag(party, "second"), backoff=0.1)
    finally:
        release.set()
        holder.join(10)
        other.dispose()
    assert set(tagged.tags) == {"first", "second"}


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgresql)])
def test_a_row_changed_by_another_unit_of_work_since_it_was_read_is_a_conflict(
    app: XRM,
) -> None:
    """On PostgreSQL two units of work run side by side: an ORM write of a row read before
    another unit of work changed it is a Conflict (in a call, and at commit), never
    SQLAlchemy's StaleDataError. (On SQLite the second unit of work waits for the first.)"""
    with app.session() as s:
        party = s.parties.create("person", "Stale").id
    with app.session() as s:
        row = s.db.get(PartyRow, party)
        assert row is not None
        with app.session() as meanwhile:
            meanwhile.parties.tag(party, "changed")  # version 2, committed
        with pytest.raises(Conflict, match="changed in another unit of work"), s.atomic():
            row.display_name = "Mine"
        s.parties.create("person", "Still usable")
    with pytest.raises(Conflict, match="changed in another unit of work"), app.session() as s:
        row = s.db.get(PartyRow, party)
        assert row is not None
        with app.session() as meanwhile:
            meanwhile.parties.untag(party, "changed")
        row.display_name = "Mine"  # written at commit, outside any service call
    with app.session() as s:
        assert s.parties.get(party).display_name == "Stale"
        assert [p.display_name for p in s.parties.list()] == ["Stale", "Still usable"]


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgresql)])
def test_two_imports_waiting_for_each_other_get_a_conflict_not_a_deadlock_error(
    app: XRM,
) -> None:
    """Two units of work that each imported one row and then import the other's row wait
    for each other (the match keys' locks): PostgreSQL ends one of them, which gets a
    Conflict; the other goes on and commits. (SQLite runs one unit of work at a time.)"""
    rows = [{"name": "Ann", "emails": ["ann@example.com"]},
            {"name": "Bob", "emails": ["bob@example.com"]}]  # fmt: skip
    apps = [_worker_app(app) for _ in range(2)]
    both_hold_one = threading.Barrier(2)

    def work(i: int) -> str:
        try:
            with apps[i].session() as s:
                s.imports.import_many([rows[i]])
                both_hold_one.wait(10)
                s.imports.import_many([rows[1 - i]])
        except Conflict as exc:
            return str(exc)
        return "committed"

    try:
        outcomes = _run_together(2, work)
    finally:
        for other in apps:
            other.dispose()
    assert outcomes.count("committed") == 1, outcomes
    refused = next(o for o in outcomes if o != "committed")
    assert refused.startswith("a deadlock with another unit of work"), refused
    with app.session() as s:
        assert sorted(p.display_name for p in s.parties.list()) == ["Ann", "Bob"]


def test_retrying_runs_again_only_on_conflict_and_raises_the_last_one(app: XRM) -> None:
    calls: list[int] = []

    def always(s: Session) -> None:
        calls.append(1)
        s.parties.create("person", "Undone each time")
        raise Conflict("in the way")

    with pytest.raises(Conflict, match="in the way"):
        app.retrying(always, attempts=3, backoff=0)
    assert len(calls) == 3

    def broken(s: Session) -> None:
        calls.append(2)
        raise KeyError("a bug is not retried")

    with pytest.raises(KeyError):
        app.retrying(broken, backoff=0)
    assert calls.count(2) == 1
    assert app.retrying(lambda s: s.parties.create("person", "Once").display_name) == "Once"
    with app.session() as s:
        assert [p.display_name for p in s.parties.list()] == ["Once"]
    for wrong in (0, -1, True, 1.5):
        with pytest.raises(ValidationError, match="attempts"):
            app.retrying(always, attempts=wrong)  # type: ignore[arg-type]
