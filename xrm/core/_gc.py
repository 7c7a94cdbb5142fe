"""Pausing Python's cyclic garbage collector over a bulk operation.

A full (generation 2) collection walks every object the process tracks: with SQLAlchemy,
pydantic and xrm loaded that is 60-90 ms, and a batch of a thousand import rows leaves
enough live objects behind to set one off nearly every batch - a third of an import's
time. The bulk paths create little cyclic garbage (reference counting frees what they
drop), so they pause the collector while they run and let it catch up after.

Private to ``xrm.core``.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0  # bulk operations running now, in any thread
_was_enabled = False  # the collector's state when the first of them began


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the body with the cyclic collector off; the collector is back as it was once
    the last of the bulk operations running at the same time is done (nested or in
    other threads), whatever the body raised."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
