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
    # 7. the bulk import: Marie recognised by her email, Jean new, a bad record refused
    assert out.splitlines()[-3:] == [
        "1 updated",
        "2 created",
        "3 refused: contact_points.0.value: 'not-an-email' is not a valid email address: "
        "An email address must have an @-sign.",
    ]


def test_the_demo_runs_twice_on_one_file_and_recognises_what_it_knows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    first: list[str] = []
    second: list[str] = []
    marie = demo.run(url, say=first.append)
    assert demo.run(url, say=second.append) == marie
    assert any("created party" in line for line in first)
    assert not any("created party" in line for line in second)
    assert "  segment 'newsletter readers': 1 party" in first
    app = XRM(url)
    if "campaigns.enrolled" in app.registry.event_types:  # the welcome scenario, once
        welcomed = "scenario worker: {'done': 2} now, {'done': 1} two days later"
        assert any(welcomed in line for line in first)
        assert not any(welcomed in line for line in second)
    # with xrm-sales installed (make demo installs it), the quote's call is recorded, once
    selling = "sales.opportunity_opened" in app.registry.event_types
    # with xrm-service, a repair case is opened from the call and its status sent, once
    servicing = "service.case_opened" in app.registry.event_types
    with app.session() as s:
        assert s.parties.count() == 2
        # a call, a campaign, a repair notice per run
        assert len(s.interactions.of(marie)) == 2 * 3 + selling + servicing
        if servicing:
            assert any("opened from the call; status sent by sms; case closed" in line
                       for line in first)  # fmt: skip
        if selling:
            assert s.roles.current(marie, "customer") is None
            assert any("opportunity won: ACME is now a customer" in line for line in first)
    assert any("refused: party" in line for line in second)
    # the repair notice went by SMS, Marie's preferred channel for service, as a file
    assert any("queued for Marie by sms" in line for line in first)
    sent = sorted((tmp_path / "demo-outbox").glob("*.json"))
    assert len(sent) == 2 + servicing
    assert "réparation R-1042 terminée" in sent[0].read_text()
    app.dispose()


def test_the_consent_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["consent.py", f"sqlite:///{tmp_path / 'c.db'}"])
    runpy.run_path(str(ROOT / "examples" / "consent.py"), run_name="__main__")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "['marie@example.com']"
    assert out[1].startswith("False withdrawn withdrawn")
    assert "may not be contacted for 'marketing' by email: withdrawn" in out[2]


def test_the_docs_worked_examples_are_the_example_files() -> None:
    docs = (ROOT / "docs" / "consent.md").read_text()
    example = (ROOT / "examples" / "consent.py").read_text()
    body = docs.split("## A worked example", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    for line in body.splitlines():
        if "XRM(" not in line:
            assert line in example.splitlines(), line


def test_the_merge_example_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["merge.py", f"sqlite:///{tmp_path / 'm.db'}"])
    runpy.run_path(str(ROOT / "examples" / "merge.py"), run_name="__main__")
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["1", "2"] and out[0].split()[2] in ("review", "probable")
    assert out[1:] == [
        "2 ['given_name']",
        "True True",
        "marie.dupont@example.com False",  # one person said no to emails
        "marie.dupont@example.fr False",
        "{'contact_point': 2}",
    ]


def test_the_merge_example_in_the_docs_is_the_example_file() -> None:
    docs = (ROOT / "docs" / "identity.md").read_text()
    example = (ROOT / "examples" / "merge.py").read_text()
    body = docs.split("## Merge and unmerge", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert body.strip() and body in example


def test_the_segments_example_runs_and_is_the_one_in_the_docs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["segments.py", f"sqlite:///{tmp_path / 's.db'}"])
    runpy.run_path(str(ROOT / "examples" / "segments.py"), run_name="__main__")
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == ["1", "['Marie Dupont']", "True", "1"]
    assert out[4].startswith('{"type":"all","of":[{"type":"related"')
    docs = (ROOT / "docs" / "segments.md").read_text()
    body = docs.split("## A worked example", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    example = (ROOT / "examples" / "segments.py").read_text().splitlines()
    for line in body.splitlines():
        if "XRM(" not in line:
            assert line in example, line
