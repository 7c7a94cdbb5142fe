"""The examples and the demo run as documented."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

from xrm import XRM, demo

ROOT = Path(__file__).resolve().parent.parent


def test_the_quickstart_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["quickstart.py", f"sqlite:///{tmp_path / 'q.db'}"])
    runpy.run_path(str(ROOT / "examples" / "quickstart.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "Marie Dupont works for party 1" in out
    assert "interaction.recorded Asks for a quote" in out


def test_the_demo_runs_twice_on_one_file_and_recognises_what_it_knows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    first: list[str] = []
    second: list[str] = []
    marie = demo.run(url, say=first.append)
    assert demo.run(url, say=second.append) == marie
    assert any("created party" in line for line in first)
    assert not any("created party" in line for line in second)
    app = XRM(url)
    with app.session() as s:
        assert s.parties.count() == 2
        assert len(s.interactions.of(marie)) == 2
    app.dispose()
