"""Consents scoped to a contact point and consents that are not, in one bulk batch.

``executemany`` takes its columns from the first row: every consent row of a batch must
carry the same keys, whatever its scope and whatever the order of the rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from xrm import XRM
from xrm.cli import cli
from xrm.core.imports import bulk
from xrm.core.imports.importer import ImportedParty

SCOPED = {
    "name": "Ann",
    "emails": ["ann@example.com"],
    "consents": [{"purpose": "marketing", "contact_point": "ANN@example.com"}],
}
UNSCOPED = {
    "name": "Bob",
    "emails": ["bob@example.com"],
    "consents": [{"purpose": "marketing", "channel": "email", "decision": "refused"}],
}
BOTH = {
    "name": "Cy",
    "emails": ["cy@example.com"],
    "consents": [
        {"purpose": "surveys"},
        {"purpose": "marketing", "contact_point": "cy@example.com", "decision": "refused"},
    ],
}


def _ledger(app: XRM) -> list[tuple[str, str, str, str | None, str | None, str | None, str]]:
    with app.session() as s:
        out = []
        for party in s.parties.list(limit=100):
            for r in s.consents.history(party):
                out.append((party.display_name, r.purpose, r.scope, r.channel, r.contact_kind,
                            r.contact_key, r.decision))  # fmt: skip
        return sorted(out)


EXPECTED = [
    ("Ann", "marketing", "contact_point", None, "email", "ann@example.com", "granted"),
    ("Bob", "marketing", "channel", "email", None, None, "refused"),
    ("Cy", "marketing", "contact_point", None, "email", "cy@example.com", "refused"),
    ("Cy", "surveys", "all", None, None, None, "granted"),
]


@pytest.mark.parametrize(
    "order",
    [(UNSCOPED, SCOPED, BOTH), (SCOPED, UNSCOPED, BOTH), (BOTH, SCOPED, UNSCOPED)],
    ids=["unscoped-first", "scoped-first", "mixed-first"],
)
def test_scoped_and_unscoped_consents_go_in_one_batch(
    app: XRM, monkeypatch: pytest.MonkeyPatch, order: tuple[dict[str, Any], ...]
) -> None:
    def one_at_a_time(*_: Any) -> Any:
        raise AssertionError("new parties with no conflict must not go row by row")

    monkeypatch.setattr(bulk, "import_party", one_at_a_time)
    rows = [ImportedParty.model_validate(r) for r in order]
    with app.session() as s:
        results = s.imports.import_many(rows)
    assert [(r.outcome, r.error) for r in results] == [("created", None)] * 3
    assert _ledger(app) == EXPECTED


def test_xrm_import_of_scoped_then_unscoped_consents(tmp_path: Path) -> None:
    path = tmp_path / "people.jsonl"

    path.write_text("".join(json.dumps(r) + "\n" for r in (SCOPED, UNSCOPED, BOTH)))
    url = f"sqlite:///{tmp_path / 'x.db'}"
    runner = CliRunner()
    assert runner.invoke(cli, ["-d", url, "db", "upgrade"]).exit_code == 0
    result = runner.invoke(cli, ["-d", url, "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 created, 0 updated, 0 unchanged, 0 rejected" in result.stdout
    again = runner.invoke(cli, ["-d", url, "import", str(path)])
    assert "0 created, 0 updated, 3 unchanged, 0 rejected" in again.stdout
    app = XRM(url)
    try:
        assert _ledger(app) == EXPECTED
    finally:
        app.dispose()


def test_a_consent_may_name_a_point_the_known_party_already_holds(app: XRM) -> None:
    """The row gives only the phone; the email it scopes its consent to is the known
    party's. The bulk path hands such a row to the one-at-a-time path, which knows."""
    with app.session() as s:
        first = s.imports.import_many([ImportedParty.model_validate(
            {"name": "Ann", "emails": ["ann@example.com"], "phones": ["+33612345678"]}
        )])  # fmt: skip
    later = {
        "name": "Ann",
        "phones": ["06 12 34 56 78"],
        "consents": [{"purpose": "marketing", "contact_point": "Ann@Example.com"}],
    }
    stranger = {**later, "phones": ["+33698765432"]}
    rows = [ImportedParty.model_validate(later), ImportedParty.model_validate(stranger)]
    with app.session() as s:
        results = s.imports.import_many(rows, first_line=2)
    assert [(r.outcome, r.party_id) for r in results[:1]] == [("updated", first[0].party_id)]
    assert results[1].error is not None and "contact_point" in str(results[1].error)
    assert [r[:-1] for r in _ledger(app)] == [
        ("Ann", "marketing", "contact_point", None, "email", "ann@example.com")
    ]
