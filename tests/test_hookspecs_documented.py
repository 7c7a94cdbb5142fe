"""Every hook in ``xrm.hookspecs`` is documented in ``docs/plugins.md`` under a heading that
is its exact signature, so a hook added, renamed or changed without its documentation fails
here (as datasette's ``tests/test_docs.py`` does for its hooks)."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from xrm import hookspecs

DOCS = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"

SPECS: dict[str, Callable[..., Any]] = {
    name: value
    for name, value in vars(hookspecs).items()
    if callable(value) and getattr(value, "xrm_spec", None) is not None
}


def heading(spec: Callable[..., Any]) -> str:
    """``### name(param: Type, ...) -> Return``, the annotations as written in the source
    (``hookspecs`` postpones their evaluation, so ``inspect`` gives their text)."""
    signature = inspect.signature(spec)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in signature.parameters.values())
    return f"### {spec.__name__}({params}) -> {signature.return_annotation}"


def documented_hooks() -> dict[str, str]:
    """Hook name -> heading line, for each ``### xrm_...`` heading of the docs."""
    found: dict[str, str] = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        match = re.match(r"### (xrm_\w+)\(", line)
        if match:
            assert match[1] not in found, f"{match[1]} has two sections in {DOCS.name}"
            found[match[1]] = line.rstrip()
    return found


def test_the_heading_is_the_signature_as_written() -> None:
    assert heading(hookspecs.xrm_validate_role_transition) == (
        "### xrm_validate_role_transition(session: Session, role: Role, "
        "from_state: str | None, to_state: str | None) -> None"
    )
    assert heading(hookspecs.xrm_party_kinds) == "### xrm_party_kinds() -> Iterable[PartyKind]"


def test_every_hook_is_a_specification_and_exported() -> None:
    assert len(SPECS) == 31
    assert sorted(SPECS) == sorted(n for n in hookspecs.__all__ if n != "hookspec")


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hook_has_a_section_headed_by_its_exact_signature(name: str) -> None:
    documented = documented_hooks()
    assert name in documented, f"docs/plugins.md has no section for {name}"
    assert documented[name] == heading(SPECS[name]), "the signature changed: update the docs"


def test_no_section_documents_a_hook_that_does_not_exist() -> None:
    assert sorted(set(documented_hooks()) - set(SPECS)) == []


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_hook_docstring_states_its_contract(name: str) -> None:
    doc = inspect.getdoc(SPECS[name]) or ""
    for param in inspect.signature(SPECS[name]).parameters:
        assert f":param {param}:" in doc, f"{name} does not describe {param}"
    assert "**Called**" in doc, f"{name} does not say when it is called"
    assert ":returns:" in doc, f"{name} does not say what it returns"
    assert "**Raising**" in doc, f"{name} does not say what raising does"


# -- the plugin written in "Writing a plugin from zero" works as shown -------------------

#: Runs the docs' loyalty plugin in an ``XRM`` application on a fresh database, printing
#: what a reader of the docs expects to happen.
SCENARIO = """
import sys

import xrm_loyalty
from sqlalchemy import select
from xrm import XRM, Email, PluginError

app = XRM(sys.argv[1], plugins=[xrm_loyalty])
name = app.plugin_info()[-1].name
print("role:", app.registry.source_of(app.registry.role_types["loyalty_member"]) == name)
print("purpose:", app.registry.purposes["loyalty_offers"].basis.value)
app.upgrade()
print("migrated:", app.schema_is_current())

try:
    with app.session() as s:
        s.roles.assign(s.parties.create("person", "Jo"), "loyalty_member")
except PluginError as err:
    print("refused:", err.plugin == name, err.hook, type(err.__cause__).__name__)

with app.session() as s:
    ann = s.parties.create("person", "Ann", contact_points=[Email("ann@example.com")])
    role = s.roles.assign(ann, "loyalty_member")
    print("export:", s.gdpr.export(ann)["plugins"] == {name: {"cards": [f"L{role.id:08d}"]}})
    s.gdpr.erase(ann, reason="asked by the party")
    print("after erasure:", s.gdpr.export(ann)["plugins"])

from xrm_loyalty.models import LoyaltyCardRow

with app.session() as s:
    jo = s.parties.create("person", "Jo", contact_points=[Email("jo@example.com")])
    s.roles.assign(jo, "loyalty_member")
    print("cards:", len(s.db.scalars(select(LoyaltyCardRow)).all()))
print("listed:", [p.status for p in app.plugin_info() if p.name == name])
"""


def code_blocks(text: str) -> dict[str, str]:
    """The fenced blocks with a ``title="path"``: path -> code."""
    pattern = re.compile(r'^```\w+ title="([^"]+)"\n(.*?)^```$', re.MULTILINE | re.DOTALL)
    return {m[1]: m[2] for m in pattern.finditer(text)}


def test_the_plugin_written_in_the_docs_works_as_shown(tmp_path: Path) -> None:
    files = code_blocks(DOCS.read_text(encoding="utf-8"))
    assert sorted(files) == [
        "pyproject.toml",
        "src/xrm_loyalty/__init__.py",
        "src/xrm_loyalty/migrations/loyalty_0001_cards.py",
        "src/xrm_loyalty/models.py",
    ]
    project = tmp_path / "xrm-loyalty"
    for path, code in files.items():
        (project / path).parent.mkdir(parents=True, exist_ok=True)
        (project / path).write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("XRM_")}
    env["XRM_LOAD_PLUGINS"] = ""  # as the docs' tests do: no other installed plugin
    env["PYTHONPATH"] = os.pathsep.join([str(project / "src"), env.get("PYTHONPATH", "")])
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(SCENARIO),
            f"sqlite:///{tmp_path / 'app.db'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=DOCS.parent.parent,  # the xrm under test, as in this process
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "role: True",
        "purpose: consent",
        "migrated: True",
        "refused: True xrm_validate_role_transition ValidationError",
        "export: True",
        "after erasure: {}",
        "cards: 1",
        "listed: ['loaded']",
    ]
