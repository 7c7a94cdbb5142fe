"""The distribution is found through its entry point and registers what it promises."""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import xrm_suppliers

from xrm import XRM, LawfulBasis

HOOKS = (
    "xrm_migration_locations",
    "xrm_parties_merged",
    "xrm_parties_unmerged",
    "xrm_purposes",
    "xrm_relationship_types",
    "xrm_role_types",
    "xrm_touchpoints",
    "xrm_validate_interaction",
)


def test_the_installed_distribution_is_discovered_and_loaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("XRM_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("XRM_DISABLE_PLUGINS", raising=False)
    app = XRM("sqlite://", discover=True)
    try:
        plugins = {p.name: p for p in app.plugin_info()}
        assert plugins["suppliers"].status == "loaded"
        assert plugins["suppliers"].error is None
        assert plugins["suppliers"].version == importlib.metadata.version("xrm-suppliers")
        assert plugins["suppliers"].hooks == HOOKS
        assert app.registry.role_types.sources["supplier"] == "suppliers"
    finally:
        app.dispose()


def test_the_plugin_registers_its_role_relationship_touchpoint_and_purpose(
    xrm_factory: Callable[..., XRM],
) -> None:
    app = xrm_factory(plugins=[xrm_suppliers], discover=False)
    registry = app.registry
    assert registry.role_types["supplier"] is xrm_suppliers.SUPPLIER
    assert registry.relationship_types["supplies"] is xrm_suppliers.SUPPLIES
    assert registry.touchpoints["procurement"] is xrm_suppliers.PROCUREMENT
    purchasing = registry.purposes["purchasing"]
    assert (purchasing.basis, purchasing.requires_role) == (LawfulBasis.CONTRACT, "supplier")
    assert {registry.role_types.sources["supplier"], registry.purposes.sources["purchasing"]} == {
        "suppliers"
    }


def test_the_usage_example_of_the_readme_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (Path(xrm_suppliers.__file__).parent.parent / "README.md").read_text()
    usage = readme.split("## Usage", 1)[1]
    example = re.findall(r"```python\n(.*?)```", usage, flags=re.DOTALL)[0]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XRM_LOAD_PLUGINS", "suppliers")
    monkeypatch.delenv("XRM_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("XRM_DATABASE_URL", raising=False)
    namespace: dict[str, object] = {}
    exec(compile(example, "README.md", "exec"), namespace)
    app = namespace["app"]
    assert isinstance(app, XRM)
    app.dispose()
    assert "supplier 'Acme Parts' (party 2) is blocked since" in capsys.readouterr().out
