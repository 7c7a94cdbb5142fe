"""One workload in its own process, so that its peak RSS is its own.

``python -m bench.worker NAME ARGS_JSON RESULT_FILE``: runs ``NAME`` with the keyword
arguments in ``ARGS_JSON`` (``target`` as :meth:`Target.to_json`) and writes its result as
JSON to ``RESULT_FILE``. With ``"profile": PATH`` in the arguments, the run is profiled
with cProfile and the functions that take the most time are written to ``PATH``.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import build, checks, ingest, queries
from bench.plain import Target

__all__ = ["WORKLOADS", "main"]

WORKLOADS: dict[str, Callable[..., dict[str, Any]]] = {
    "normalisation": lambda target, **_: ingest.normalisation_cost(),
    "ingest_library": ingest.ingest_library,
    "ingest_baseline": ingest.ingest_baseline,
    "ingest_minimal": lambda **kw: ingest.ingest_baseline(**kw, minimal=True),
    "ingest_fallback": lambda **kw: ingest.ingest_library(**kw, with_point_consents=True),
    "build": build.build,
    "check": checks.check,
    "resolve_library": queries.resolve_library,
    "resolve_baseline": queries.resolve_baseline,
    "relationships_library": queries.relationships_library,
    "relationships_baseline": queries.relationships_baseline,
    "audience_library": queries.audience_library,
    "audience_baseline": queries.audience_baseline,
    "timeline_library": queries.timeline_library,
    "timeline_baseline": queries.timeline_baseline,
    "dedupe_library": queries.dedupe_library,
    "dedupe_floor": queries.dedupe_floor,
}


def _profile_text(profile: cProfile.Profile, lines: int = 40) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs()
    out.write("== by own time (tottime)\n")
    stats.sort_stats("tottime").print_stats(lines)
    out.write("\n== by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(lines)
    return out.getvalue()


def peak_rss_mb() -> float:
    """This process's peak resident set size: ``VmHWM``, the high-water mark of its own
    memory map. (``wait4``'s ``ru_maxrss`` would not do: Linux carries the parent's
    high-water mark over ``fork`` and ``exec``.)"""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cli(target: Target, argv: list[str]) -> dict[str, Any]:
    """``xrm ARGV...`` in this process, as the console script runs it."""
    from xrm.cli import main as xrm_main

    try:
        xrm_main(["--database", target.url, *argv])
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    return {}


WORKLOADS["cli"] = cli


def main(argv: list[str]) -> None:
    name, raw, result_file = argv
    kwargs = json.loads(raw)
    kwargs["target"] = Target.from_json(kwargs["target"])
    profile_path = kwargs.pop("profile", None)
    workload = WORKLOADS[name]
    if profile_path:
        profile = cProfile.Profile()
        result = profile.runcall(workload, **kwargs)
        Path(profile_path).write_text(_profile_text(profile))
    else:
        result = workload(**kwargs)
    result["peak_rss_mb"] = peak_rss_mb()
    Path(result_file).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
