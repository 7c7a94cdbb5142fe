"""docs/cli.md stays true: its reference is the ``--help`` of every command."""

from __future__ import annotations

from pathlib import Path

from xrm.cli import cli
from xrm.cli._reference import MARKER, render

DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def test_the_reference_in_docs_matches_every_commands_help() -> None:
    written = DOC.read_text().split(MARKER, 1)[1].strip()
    assert written == render(cli).strip(), (
        "run `python -m xrm.cli._reference` to update docs/cli.md"
    )


def test_every_command_is_in_the_reference() -> None:
    text = DOC.read_text()
    for name, command in cli.commands.items():
        assert f"`xrm {name}`" in text
        for sub in getattr(command, "commands", {}):
            assert f"`xrm {name} {sub}`" in text
