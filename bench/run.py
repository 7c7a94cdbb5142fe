"""Measure xrm beside hand-written SQL on the same database, and write the table.

    .venv/bin/python -m bench.run                         # 100,000 parties on SQLite
    .venv/bin/python -m bench.run --database postgresql   # XRM_BENCH_DATABASE_URL
    .venv/bin/python -m bench.run --quick                 # 10,000 parties, few repetitions

Order of a run: the cost of normalisation alone; W1's two baselines (the rows xrm writes;
the party and its contact points only), ``xrm import`` of a CSV, ``s.parties.import_many``
of 1,000 rows with email-scoped consents (measured apart) and of the whole data set, each into an empty, freshly migrated database (the last one is kept); the
relationships, interactions and the long timeline added through the driver; the checks
that every baseline gives the library's answers; then W2-W6. Each workload and each
baseline runs in its own process, which reports its own peak RSS (``VmHWM``). Results go
to ``--out`` as ``results-<database>-<size>.md`` and ``.json``, rewritten after each
step; the table is printed at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: python bench/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.data import MAX_SIZE, csv_header, csv_record, specs
from bench.plain import DEFAULT_POSTGRESQL_URL, Plain, Target
from bench.report import Report

ROOT = Path(__file__).resolve().parent.parent
#: rows imported with consents scoped to an email, which send import_batch row by row
FALLBACK_ROWS = 1000


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="parties (default 100000)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite",
                        help="PostgreSQL is XRM_BENCH_DATABASE_URL, default "
                             f"{DEFAULT_POSTGRESQL_URL}")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 10,000 parties, few repetitions")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results",
                        help="where results go (default bench/results/, git-ignored)")  # fmt: skip
    parser.add_argument("--batch", type=int, default=1000, help="rows per import transaction")
    parser.add_argument("--no-cli", action="store_true", help="leave out `xrm import`")
    parser.add_argument("--no-dedupe", action="store_true",
                        help="leave out W6 (its target is for 100k parties)")  # fmt: skip
    parser.add_argument("--budget", type=float, default=300.0,
                        help="seconds after which a run of the library's audience is "
                             "stopped and its time estimated (default 300)")  # fmt: skip
    parser.add_argument("--profile", action="store_true",
                        help="profile each library workload (slower); top functions "
                             "written beside the results")  # fmt: skip
    parser.add_argument("--keep-data", action="store_true",
                        help="keep the SQLite file (the data set) afterwards")  # fmt: skip
    args = parser.parse_args(argv)
    if args.quick:
        args.size = 10_000
    if not 100 <= args.size <= MAX_SIZE:
        parser.error(f"--size must be between 100 and {MAX_SIZE}")
    return args


def _load() -> tuple[float, float, float]:
    return os.getloadavg()


def _machine() -> dict[str, Any]:
    cpu = "unknown"
    memory_gb = 0.0
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = int(line.split()[1]) / 1024 / 1024
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(memory_gb, 1),
            "platform": platform.platform(), "load_at_start": _load()}  # fmt: skip


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True)  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return done.stdout.strip()


def _versions(target: Target) -> dict[str, Any]:
    import sqlalchemy

    import xrm

    versions: dict[str, Any] = {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "xrm": xrm.__version__,
        "xrm_commit": _git("rev-parse", "--short", "HEAD"),
        "xrm_uncommitted": [
            line.split()[-1] for line in _git("status", "--porcelain", "xrm").splitlines()
        ],
    }
    try:
        import psycopg

        versions["psycopg"] = psycopg.__version__
    except ImportError:
        versions["psycopg"] = "not installed"
    if target.kind == "postgresql":
        db = Plain(target)
        versions["postgresql"] = db.server_version()
        db.close()
    return versions


class Runner:
    """Runs each workload in a child process, which reports its own peak RSS."""

    def __init__(self, target: Target, out: Path, profile: bool) -> None:
        self.target = target
        self.out = out
        self.profile = profile

    def __call__(self, name: str, **kwargs: Any) -> dict[str, Any]:
        kwargs["target"] = self.target.to_json()
        if self.profile and name.endswith("_library"):
            kwargs["profile"] = str(self.out / f"profile-{self.target.kind}-{name}.txt")
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            result_file = Path(handle.name)
        command = [sys.executable, "-m", "bench.worker", name, json.dumps(kwargs),
                   str(result_file)]  # fmt: skip
        say(f"  {name} ...")
        began = time.perf_counter()
        self._run(command)
        data: dict[str, Any] = json.loads(result_file.read_text())
        result_file.unlink()
        data["wall_seconds"] = time.perf_counter() - began
        say(f"  {name}: {_brief(data)}")
        return data

    @staticmethod
    def _run(command: list[str]) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        done = subprocess.run(command, cwd=ROOT, env=env, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command[:5])} failed (exit {done.returncode})")


def _brief(data: dict[str, Any]) -> str:
    keys = ("per_second", "seconds", "p50_us", "peak_rss_mb", "rows", "pairs", "skipped")
    shown = {k: round(v, 1) if isinstance(v, float) else v for k, v in data.items() if k in keys}
    for kind in ("email", "phone"):
        if kind in data:
            shown[kind] = f"p50 {data[kind]['p50_us']:.0f} us"
    return ", ".join(f"{k} {v}" for k, v in shown.items())


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _ensure_postgresql(target: Target) -> None:
    """Create the benchmark database when the server has none of that name."""
    import psycopg

    try:
        psycopg.connect(target.libpq_url).close()
        return
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            raise SystemExit(f"cannot reach PostgreSQL at {target.url}: {exc}") from None
    name = target.libpq_url.rsplit("/", 1)[1].split("?")[0]
    admin = target.libpq_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')


def _fresh(target: Target) -> None:
    target.reset()
    target.migrate()


def _write_csv(path: Path, size: int) -> None:
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(csv_header())
        for spec in specs(0, size):
            writer.writerow(csv_record(spec))


def _count_parties(target: Target) -> int:
    db = Plain(target)
    count = int(db.execute("SELECT count(*) FROM party").fetchone()[0])
    db.close()
    return count


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    size: int = args.size
    data_dir = out / f"data-{args.database}-{size}"
    data_dir.mkdir(exist_ok=True)
    if args.database == "sqlite":
        target = Target.sqlite(data_dir / "xrm.db")
    else:
        url = os.environ.get("XRM_BENCH_DATABASE_URL", DEFAULT_POSTGRESQL_URL)
        target = Target.postgresql(url)
        _ensure_postgresql(target)
    calls = 1000 if args.quick else 5000
    repeat = 1 if args.quick else 3
    run = Runner(target, out, args.profile)
    stem = out / f"results-{args.database}-{size}"
    report = Report(size=size, database=args.database, quick=args.quick, batch=args.batch,
                    machine=_machine(), versions=_versions(target),
                    profiled=args.profile, stem=stem)  # fmt: skip
    began = time.perf_counter()
    say(f"xrm benchmark: {size:,} parties on {args.database} -> {out}")

    say("W1 ingest")
    report.add("normalisation", run("normalisation"))
    _fresh(target)
    report.add("ingest_baseline", run("ingest_baseline", size=size, batch=args.batch))
    _fresh(target)
    report.add("ingest_minimal", run("ingest_minimal", size=size, batch=args.batch))
    if not args.no_cli:
        csv_path = data_dir / "parties.csv"
        _write_csv(csv_path, size)
        _fresh(target)
        cli = run("cli", argv=["import", str(csv_path), "--no-progress"])
        created = _count_parties(target)
        assert created == size, f"xrm import created {created} parties of {size}"
        cli["per_second"] = size / cli["wall_seconds"]  # from process start to exit
        report.add("ingest_cli", cli)
        csv_path.unlink()
    _fresh(target)
    fallback = min(size, FALLBACK_ROWS)
    report.add("ingest_fallback", run("ingest_fallback", size=fallback, batch=args.batch))
    _fresh(target)
    report.add("ingest_library", run("ingest_library", size=size, batch=args.batch))

    say("data set: relationships, interactions, the long timeline")
    report.add("build", run("build", size=size))
    say("checks: the baselines answer as the library does")
    report.add("check", run("check", size=size, budget=min(args.budget, 60.0)))

    say("W2-W6")
    for name, kwargs in (
        ("resolve", {"size": size, "calls": calls}),
        ("relationships", {"size": size, "calls": calls}),
        ("timeline", {"calls": calls // 5}),
    ):
        report.add(f"{name}_baseline", run(f"{name}_baseline", **kwargs))
        report.add(f"{name}_library", run(f"{name}_library", **kwargs))
    theirs = run("audience_baseline", repeat=repeat)
    report.add("audience_baseline", theirs)
    mine = run("audience_library", repeat=repeat, budget=args.budget,
               expected_rows=theirs["rows"])  # fmt: skip
    report.add("audience_library", mine)
    if not mine.get("timed_out"):
        assert (mine["rows"], mine["digest"]) == (theirs["rows"], theirs["digest"]), "W4 differs"
    if not args.no_dedupe:
        report.add("dedupe_floor", run("dedupe_floor"))
        report.add("dedupe_library", run("dedupe_library", size=size))

    report.machine["load_at_end"] = _load()
    report.total_seconds = time.perf_counter() - began
    report.finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    report.save()
    print(report.markdown())
    if args.database == "sqlite" and not args.keep_data:
        target.reset()
    if not any(data_dir.iterdir()):
        data_dir.rmdir()


if __name__ == "__main__":
    main()
