"""The distribution is found through its entry point and registers its types."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
import xrm_employees

from xrm import XRM

HOOKS = (
    "xrm_relationship_types",
    "xrm_role_changed",
    "xrm_role_types",
    "xrm_touchpoints",
    "xrm_validate_interaction",
    "xrm_validate_relationship",
    "xrm_validate_role_transition",
)


def test_the_installed_plugin_is_discovered_through_its_entry_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XRM_LOAD_PLUGINS", "employees")  # whatever else is installed
    app = XRM("sqlite://", discover=True)
    try:
        (info,) = [p for p in app.plugin_info() if p.name == "employees"]
        assert info.status == "loaded"
        assert info.error is None
        assert info.version == importlib.metadata.version("xrm-employees")
        assert info.hooks == HOOKS
        registry = app.registry
        assert registry.role_types.sources["employee"] == "employees"
        assert registry.relationship_types.sources["employed_by"] == "employees"
        assert registry.relationship_types.sources["reports_to"] == "employees"
        assert registry.touchpoints.sources["internal"] == "employees"
    finally:
        app.dispose()


def test_the_plugin_registers_its_declared_types() -> None:
    app = XRM("sqlite://", plugins=[xrm_employees], discover=False, builtins=False)
    try:
        assert app.registry.role_types["employee"] is xrm_employees.EMPLOYEE
        employed_by = app.registry.relationship_types["employed_by"]
        assert (employed_by.forward_label, employed_by.inverse_label) == (
            "is employed by",
            "employs",
        )
        assert employed_by.max_per_from == 1
        reports_to = app.registry.relationship_types["reports_to"]
        assert (reports_to.forward_label, reports_to.inverse_label) == ("reports to", "manages")
        assert app.registry.touchpoints["internal"] is xrm_employees.INTERNAL
    finally:
        app.dispose()


def test_the_public_names_are_listed_once_in_isort_order_and_all_exist() -> None:
    def isort_key(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    names = list(xrm_employees.__all__)
    assert names == sorted(set(names), key=isort_key)
    missing = [n for n in names if not hasattr(xrm_employees, n)]
    assert missing == []


def test_the_usage_example_of_the_readme_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    usage = readme.split("## Usage", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)  # the example's sqlite:///xrm.db
    monkeypatch.setenv("XRM_LOAD_PLUGINS", "employees")
    namespace: dict[str, object] = {}
    exec(compile(usage, "README.md", "exec"), namespace)
    app = namespace["app"]
    assert isinstance(app, XRM)
    app.dispose()
    assert "'display_name': 'Sorbonne'" in capsys.readouterr().out
