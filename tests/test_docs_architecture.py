"""docs/architecture.md matches the tree: every module and package of the core it names
exists, and every one that exists is named."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
CORE = ROOT / "xrm" / "core"


def diagram() -> str:
    match = re.search(r"```text\n(.*?)```", DOC, re.DOTALL)
    assert match, "docs/architecture.md has its diagram in a ```text block"
    return match.group(1)


def test_every_core_package_and_public_module_is_in_the_diagram() -> None:
    drawn = diagram()
    packages = sorted(p.name for p in CORE.iterdir() if (p / "__init__.py").exists())
    modules = sorted(
        p.name for p in CORE.glob("*.py") if not p.name.startswith("_") and p.name != "__init__.py"
    )
    missing = [f"{p}/" for p in packages if f"{p}/" not in drawn]
    missing += [m for m in modules if m not in drawn]
    assert not missing, f"docs/architecture.md does not show {missing}"


def test_every_path_the_doc_names_exists() -> None:
    named = set(re.findall(r"`?(xrm/[\w/]+\.py|xrm/[\w/]+/)`?", DOC))
    gone = sorted(p for p in named if "*" not in p and not (ROOT / p).exists())
    assert not gone, f"docs/architecture.md names what is not there: {gone}"
