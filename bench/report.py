"""The results of one run as JSON and as a Markdown table, with the issue's targets."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Report"]

_NOTE_1M = "target for 1M parties"


@dataclass
class _Row:
    workload: str
    measure: str
    library: float | None
    baseline: float | None
    unit: str
    #: "higher" when more is better (throughput), "lower" otherwise
    better: str
    target: str
    met: bool | None

    @property
    def ratio(self) -> float | None:
        """How many times the baseline's cost the library's is (above 1: slower)."""
        if self.library is None or self.baseline is None or not self.library or not self.baseline:
            return None
        if self.better == "higher":
            return self.baseline / self.library
        return self.library / self.baseline


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("parties/s",):
        return f"{value:,.0f}"
    if unit == "MB":
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


@dataclass
class Report:
    size: int
    database: str
    quick: bool
    batch: int
    machine: dict[str, Any]
    versions: dict[str, Any]
    profiled: bool = False
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    total_seconds: float = 0.0
    finished: str = ""
    #: where to write the JSON and Markdown (``stem.json``, ``stem.md``); each result
    #: added rewrites them, so a run that is stopped leaves what it measured
    stem: Path | None = None

    def add(self, name: str, result: dict[str, Any]) -> None:
        self.results[name] = result
        self.save()

    def save(self) -> None:
        if self.stem is None:
            return
        self.stem.with_suffix(".json").write_text(json.dumps(self.to_json(), indent=1, default=str))
        self.stem.with_suffix(".md").write_text(self.markdown())

    def _get(self, name: str, *path: str) -> float | None:
        value: Any = self.results.get(name)
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return float(value) if isinstance(value, int | float) else None

    def rows(self) -> list[_Row]:
        g = self._get
        big = self.size >= 1_000_000
        rows: list[_Row] = []
        rate = g("ingest_library", "per_second")
        rows.append(_Row("W1 ingest, import_many", "throughput", rate,
                         g("ingest_baseline", "per_second"), "parties/s", "higher",
                         ">= 30,000", None if rate is None else rate >= 30_000))  # fmt: skip
        rss = g("ingest_library", "peak_rss_mb")
        rows.append(_Row("W1 ingest, import_many", "peak RSS", rss,
                         g("ingest_baseline", "peak_rss_mb"), "MB", "lower",
                         f"<= 200 ({_NOTE_1M})",
                         None if rss is None or not big else rss <= 200))  # fmt: skip
        if "ingest_cli" in self.results:
            cli = g("ingest_cli", "per_second")
            rows.append(_Row("W1 ingest, `xrm import` CSV", "throughput", cli,
                             g("ingest_baseline", "per_second"), "parties/s", "higher",
                             ">= 30,000", None if cli is None else cli >= 30_000))  # fmt: skip
            cli_rss = g("ingest_cli", "peak_rss_mb")
            rows.append(_Row("W1 ingest, `xrm import` CSV", "peak RSS", cli_rss,
                             g("ingest_baseline", "peak_rss_mb"), "MB", "lower",
                             f"<= 200 ({_NOTE_1M})",
                             None if cli_rss is None or not big else cli_rss <= 200))  # fmt: skip
        for kind in ("email", "phone"):
            p50 = g("resolve_library", kind, "p50_us")
            p99 = g("resolve_library", kind, "p99_us")
            rows.append(_Row(f"W2 resolve by {kind}", "p50", p50,
                             g("resolve_baseline", kind, "p50_us"), "µs", "lower", "<= 50",
                             None if p50 is None else p50 <= 50))  # fmt: skip
            rows.append(_Row(f"W2 resolve by {kind}", "p99", p99,
                             g("resolve_baseline", kind, "p99_us"), "µs", "lower", "<= 200",
                             None if p99 is None else p99 <= 200))  # fmt: skip
        p50 = g("relationships_library", "p50_us")
        rows.append(_Row("W3 relationships as of", "p50", p50,
                         g("relationships_baseline", "p50_us"), "µs", "lower", "<= 100",
                         None if p50 is None else p50 <= 100))  # fmt: skip
        p99 = g("relationships_library", "p99_us")
        base = g("relationships_baseline", "p99_us")
        rows.append(_Row("W3 relationships as of", "p99", p99, base, "µs", "lower", "-", None))
        seconds = g("audience_library", "seconds")
        base = g("audience_baseline", "seconds")
        met = None if seconds is None or base is None else seconds <= 1.5 * base
        w4 = self.results.get("audience_library", {})
        measure = "time"
        if w4.get("timed_out"):
            measure = (f"time, estimated: stopped after {w4['budget']:.0f} s at "
                       f"{w4['rows_done']:,} rows")  # fmt: skip
        rows.append(_Row("W4 audience marketing/email", measure, seconds, base, "s", "lower",
                         "<= 1.5x baseline", met))  # fmt: skip
        rss = g("audience_library", "peak_rss_mb")
        rows.append(_Row("W4 audience marketing/email", "peak RSS", rss,
                         g("audience_baseline", "peak_rss_mb"), "MB", "lower", "<= 150",
                         None if rss is None else rss <= 150))  # fmt: skip
        p50 = g("timeline_library", "p50_us")
        rows.append(_Row("W5 timeline, first page of 100k", "p50",
                         None if p50 is None else p50 / 1000,
                         None if (b := g("timeline_baseline", "p50_us")) is None else b / 1000,
                         "ms", "lower", "<= 2", None if p50 is None else p50 <= 2000))  # fmt: skip
        seconds = g("dedupe_library", "seconds")
        met = None if seconds is None or self.size > 100_000 else seconds <= 60
        rows.append(_Row("W6 duplicates (baseline: reading the columns)", "time", seconds,
                         g("dedupe_floor", "seconds"), "s", "lower", "<= 60 (for 100k)",
                         met))  # fmt: skip
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size, "database": self.database, "quick": self.quick,
            "batch": self.batch, "profiled": self.profiled, "machine": self.machine,
            "versions": self.versions,
            "total_seconds": self.total_seconds, "finished": self.finished,
            "table": [
                {"workload": r.workload, "measure": r.measure, "library": r.library,
                 "baseline": r.baseline, "unit": r.unit, "ratio": r.ratio,
                 "target": r.target, "met": r.met}
                for r in self.rows()
            ],
            "results": self.results,
        }  # fmt: skip

    def markdown(self) -> str:
        m, v = self.machine, self.versions
        lines = [
            f"## xrm benchmark: {self.size:,} parties on {self.database}"
            + (" (quick)" if self.quick else "")
            + (" - profiled: xrm's timings include cProfile's overhead" if self.profiled else ""),
            "",
            f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; {m['platform']}; "
            f"load average {_load(m.get('load_at_start'))} at start, "
            f"{_load(m.get('load_at_end'))} at end.  ",
            f"Versions: Python {v['python']}, SQLite {v['sqlite']}"
            + (f", PostgreSQL {v['postgresql']}" if "postgresql" in v else "")
            + f", SQLAlchemy {v['sqlalchemy']}, psycopg {v['psycopg']}, xrm {v['xrm']} "
            f"({v['xrm_commit']}"
            + (f", uncommitted: {', '.join(v['xrm_uncommitted'])}" if v["xrm_uncommitted"] else "")
            + (
                f").  Finished {self.finished}, {self.total_seconds / 60:.1f} min in all."
                if self.finished
                else ").  Unfinished: the results so far."
            ),
            "",
            "| workload | measure | xrm | baseline (plain driver) | xrm / baseline | target "
            "| met |",
            "|---|---|---:|---:|---:|---|---|",
        ]
        for r in self.rows():
            ratio = "-" if r.ratio is None else f"{r.ratio:.1f}x"
            met = {True: "yes", False: "**no**", None: "-"}[r.met]
            lines.append(
                f"| {r.workload} | {r.measure} | {_fmt(r.library, r.unit)} {r.unit} | "
                f"{_fmt(r.baseline, r.unit)} {r.unit} | {ratio} | {r.target} | {met} |"
            )
        lines += ["", *self._notes()]
        return "\n".join(lines) + "\n"

    def _notes(self) -> list[str]:
        res = self.results
        notes = ["Notes:"]
        steps = res.get("normalisation", {})
        if steps:
            shown = ", ".join(f"{k} {v} µs" for k, v in steps.items()
                              if k not in ("peak_rss_mb", "wall_seconds"))  # fmt: skip
            notes.append(f"- Validation and normalisation in Python, per party: {shown}.")
        notes.append(
            f"- W1: one unit of work per {self.batch} rows; the baseline writes the same rows "
            "(party, 3 contact points, roles, transitions, consents, journal) with naive keys "
            "and no validation. `xrm import` is timed from process start to exit; its CSV "
            "has no postal address column."
        )
        if "ingest_minimal" in res:
            m = res["ingest_minimal"]
            notes.append(
                f"- W1 baseline writing only the party and its 3 contact points (the issue's "
                f"reference shape): {m['per_second']:,.0f} parties/s, peak RSS "
                f"{m['peak_rss_mb']:.0f} MB."
            )
        if "ingest_fallback" in res:
            f = res["ingest_fallback"]
            notes.append(
                f"- W1 with consents scoped to an email in the rows ({f['parties']:,} rows): "
                f"{f['per_second']:,.0f} parties/s, in the same batches as the others; the "
                "table's rows leave those consents (10 % of the parties) to the data set "
                "build, as the baseline does, so both write the same rows."
            )
        if "dedupe_library" in res:
            d = res["dedupe_library"]
            if "skipped" in d:
                notes.append(f"- W6 left out: {d['skipped']}.")
            else:
                notes.append(
                    f"- W6: {d['pairs']:,} candidate pairs {d.get('verdicts')}; "
                    f"{d['planted_found']:,} of the {d['planted']:,} planted near-duplicates "
                    "found. Its baseline only reads the columns the rules use: duplicate "
                    "detection has no hand-written SQL equivalent."
                )
        if "check" in res:
            checked = {k: v for k, v in res["check"].items()
                       if k not in ("peak_rss_mb", "wall_seconds")}  # fmt: skip
            notes.append(f"- Checked equal to the library's answers: {checked}.")
        if "build" in res:
            b = res["build"]
            notes.append(f"- Data set: {b['counts']}.")
        for name in ("resolve_library", "relationships_library", "timeline_library"):
            r = res.get(name, {})
            calls = r.get("calls") or r.get("email", {}).get("calls")
            if calls:
                notes.append(f"- {name.split('_')[0]}: {calls:,} timed calls after warm-up.")
        return notes


def _load(value: Any) -> str:
    if not value:
        return "?"
    return "/".join(f"{x:.1f}" for x in value)
