"""The distribution: found through its entry point, registers what it promises, and keeps
its public names in step."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path
from typing import Any

import pytest
import xrm_partners
from xrm_partners import _reports, _types

from xrm import XRM, LawfulBasis


def test_the_plugin_is_discovered_through_its_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    # only this distribution: other installed plugins are none of this test's business
    monkeypatch.setenv("XRM_LOAD_PLUGINS", "partners")
    app = XRM("sqlite://", discover=True)
    (info,) = [i for i in app.plugin_info() if i.name == "partners"]
    assert info.status == "loaded"
    assert info.error is None
    assert info.version == importlib.metadata.version("xrm-partners")
    assert info.hooks == (
        "xrm_purposes",
        "xrm_relationship_types",
        "xrm_role_types",
        "xrm_touchpoints",
        "xrm_validate_relationship",
    )
    assert app.registry.source_of(xrm_partners.PARTNER) == "partners"
    app.dispose()


def test_the_entry_point_names_the_package() -> None:
    (entry_point,) = [
        ep for ep in importlib.metadata.entry_points(group="xrm") if ep.name == "partners"
    ]
    assert entry_point.value == "xrm_partners"
    assert entry_point.load() is xrm_partners


def test_it_registers_the_role_the_relationships_the_purpose_and_the_touchpoint() -> None:
    app = XRM("sqlite://", plugins=[xrm_partners], discover=False)
    registry = app.registry
    assert registry.role_types["partner"] is xrm_partners.PARTNER
    assert {
        name: (t.forward_label, t.inverse_label)
        for name, t in registry.relationship_types.items()
        if registry.source_of(t) == "partners"
    } == {
        "referred": ("referred", "was referred by"),
        "resells_for": ("resells for", "is resold by"),
        "distributes_to": ("distributes to", "buys through"),
        "partner_manager": ("has partner manager", "is partner manager of"),
    }
    purpose = registry.purposes["partner_communications"]
    assert (purpose.basis, purpose.requires_role) == (LawfulBasis.CONTRACT, "partner")
    assert "partner_management" in registry.touchpoints
    app.dispose()


def test_the_public_names_are_sorted_and_every_public_name_of_its_modules_is_exported() -> None:
    def isort_style(name: str) -> tuple[int, str]:  # constants, classes, functions
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert xrm_partners.__all__ == sorted(xrm_partners.__all__, key=isort_style)
    assert set(xrm_partners.__all__) == set(_types.__all__) | set(_reports.__all__)
    for name in xrm_partners.__all__:
        assert getattr(xrm_partners, name) is not None


def test_the_readme_usage_example_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    (example,) = re.findall(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    monkeypatch.setenv("XRM_LOAD_PLUGINS", "partners")
    monkeypatch.chdir(tmp_path)  # the example writes xrm.db in the working directory
    namespace: dict[str, Any] = {}
    exec(compile(example, "README.md", "exec"), namespace)
    namespace["app"].dispose()
    printed = capsys.readouterr().out.splitlines()
    assert "display_name='ACME Resellers'" in printed[0]
    assert "referrals=1" in printed[1]
    assert printed[-1] == "basis_ended"
