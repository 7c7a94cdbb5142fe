"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

__all__ = ["best"]


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall time, and peak Python allocation (MB) of one more run under tracemalloc."""
    times = []
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return min(times), peak, result
