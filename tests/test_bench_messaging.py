"""The messaging bench runs, and its plain-driver baseline writes what an enqueue writes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from bench import messaging


def test_the_messaging_bench_enqueues_and_delivers_every_message(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    assert messaging.main(["--parties", "30", "--one-by-one", "10", "--deliver", "40",
                           "--json", str(out)]) == 0  # fmt: skip
    result = json.loads(out.read_text())
    assert (result["one_by_one"], result["send_many"], result["delivered"]) == (10, 20, 30)
    assert result["enqueue_per_s"] > 0 and result["send_many_per_s"] > 0


def test_the_plain_baseline_writes_one_message_per_party(tmp_path: Path) -> None:
    from xrm import XRM

    app = XRM(f"sqlite:///{tmp_path / 'plain.db'}", discover=False)
    app.upgrade()
    messaging.load(app, 5)
    app.dispose()
    messaging.plain(tmp_path / "plain.db", 5)
    con = sqlite3.connect(tmp_path / "plain.db")
    counts = [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("message", "interaction", "interaction_participant")]  # fmt: skip
    con.close()
    assert counts == [5, 5, 5]
