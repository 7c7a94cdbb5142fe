"""The bulk paths pause Python's cyclic garbage collector while they run, and always give
it back as they found it."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from xrm import XRM, ImportedParty, Party, hookimpl
from xrm.core._gc import collector_paused


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def _rows(n: int) -> list[ImportedParty]:
    return [
        ImportedParty.model_validate(
            {"kind": "person", "display_name": f"P{i}", "emails": [f"p{i}@example.com"]}
        )
        for i in range(n)
    ]


def test_the_bulk_import_runs_with_the_collector_off_and_turns_it_back_on(
    xrm_factory: Any, collector_on: None
) -> None:
    seen: list[bool] = []

    class Watcher:
        """Sees the collector's state from inside the bulk path, for each party."""

        @hookimpl
        def xrm_validate_party(self, party: Party) -> None:
            seen.append(gc.isenabled())

    app = xrm_factory(plugins=[Watcher()], builtins=False, discover=False)
    with app.session() as s:
        results = s.imports.import_many(_rows(3))
    assert [r.outcome for r in results] == ["created"] * 3
    assert seen == [False, False, False]
    assert gc.isenabled()


def test_a_collector_the_app_turned_off_stays_off(app: XRM, collector_on: None) -> None:
    gc.disable()
    with app.session() as s:
        s.imports.import_many(_rows(1))
    assert not gc.isenabled()


def test_the_collector_comes_back_when_the_body_raises(collector_on: None) -> None:
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_nested_and_concurrent_pauses_end_with_the_last_one(collector_on: None) -> None:
    inside = threading.Event()
    release = threading.Event()

    def other() -> None:
        with collector_paused():
            inside.set()
            release.wait(5)

    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still runs
        thread = threading.Thread(target=other)
        thread.start()
        inside.wait(5)
    assert not gc.isenabled()  # the other thread's pause still runs
    release.set()
    thread.join(5)
    assert gc.isenabled()
