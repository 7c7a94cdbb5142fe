"""A read-only unit of work (``app.session(readonly=True)``): it reads a snapshot, never
holds writers back (SQLite's writer lock is not taken), and refuses to write."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from xrm import XRM, Email, ReadOnly
from xrm.testing import snapshot


def test_a_write_in_a_read_only_unit_of_work_is_refused_and_nothing_is_written(
    app: XRM,
) -> None:
    with app.session() as s:
        marie = s.parties.create("person", "Marie", contact_points=[Email("m@example.com")])
    before = snapshot(app)
    with pytest.raises(ReadOnly, match="read-only"), app.session(readonly=True) as s:
        assert s.parties.get(marie).display_name == "Marie"  # reading is fine
        s.parties.tag(marie, "vip")
    with pytest.raises(ReadOnly), app.session(readonly=True) as s:
        s.parties.create("person", "Jean")
    assert snapshot(app) == before
    with app.session() as s:  # the connection is back to writing afterwards
        s.parties.tag(marie, "vip")
        assert s.parties.get(marie).tags == ("vip",)


def test_a_long_read_only_search_does_not_hold_a_writer_back(app: XRM) -> None:
    with app.session() as s:
        for name in ("Jean Martin", "Jean Martin", "Ann Other"):
            s.parties.create("person", name)
    wrote: list[Any] = []
    with app.session(readonly=True) as s:
        pairs = s.identity.duplicates()

        def write() -> None:  # another unit of work, while the search's is open
            try:
                with app.session() as w:
                    wrote.append(w.parties.create("person", "Bob").id)
            except Exception as exc:  # pragma: no cover - what the test must not see
                wrote.append(exc)

        writer = threading.Thread(target=write)
        writer.start()
        writer.join(timeout=30)
        assert len(wrote) == 1 and isinstance(wrote[0], int), wrote
        if app.engine.dialect.name == "sqlite":  # one snapshot: Bob came after it
            assert "Bob" not in {p.display_name for p in s.parties.list(limit=100)}
    assert len(pairs) == 1
