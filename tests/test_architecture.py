"""The layers hold: a contract over the import graph, read from the source with ``ast``.

- The CLI, the built-in plugins and the plugin distributions import only the public faces
  of xrm (``xrm``, ``xrm.tables``, ``xrm.hookspecs``, ``xrm.testing``, ``xrm.errors``),
  their own package, and nothing else of xrm: if a plugin needs to reach inside the core,
  the core is missing an extension point.
- The core (``xrm/core/``) imports none of what is built on it: the app, the plugin host,
  the CLI, the plugins, the web layer, the demo.

Every import counts: at module level, inside functions, under ``if TYPE_CHECKING:``,
relative ones, and ``importlib.import_module("...")`` with a literal name. A known
exception is named below, file by file, with the reason; any other import breaks the test.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: what apps, plugins and the CLI may import from xrm
PUBLIC = frozenset({"xrm", "xrm.errors", "xrm.hookspecs", "xrm.tables", "xrm.testing"})

#: what the core may not import: everything built on it
ABOVE_THE_CORE = ("xrm.app", "xrm.cli", "xrm.demo", "xrm.plugin", "xrm.plugins", "xrm.web")

#: (importing file, imported module) -> why it is allowed, for now
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("xrm/cli/db.py", "xrm.db"): "TODO(core): XRM methods for the schema's revisions",
    ("xrm/cli/__init__.py", "xrm.plugin"): "TODO(core): plugins' commands without a database",
    ("xrm/cli/__init__.py", "xrm.demo"): "`xrm demo` runs the demo, an app on the public API",
    # the essential plugin gives the core's own defaults (xrm.core.registry.DEFAULT_*,
    # xrm.core.identity.dedupe.DEFAULT_RULES) through the public hooks, as pytest's
    # essential plugins use pytest's internals
    ("xrm/plugins/core.py", "xrm.core.identity.dedupe"): "the essential plugin: core defaults",
    ("xrm/plugins/core.py", "xrm.core.registry"): "the essential plugin: core defaults",
    ("xrm/plugins/core.py", "xrm.plugin"): "the essential plugin: hookimpl",
}


class Import(NamedTuple):
    path: str  # relative to the repository, with /
    line: int
    module: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: imports {self.module}"


def module_name(path: Path) -> str:
    """``xrm/cli/db.py`` -> ``xrm.cli.db``; ``plugins/partners/xrm_partners/__init__.py``
    -> ``xrm_partners``."""
    relative = path.relative_to(ROOT)
    parts = list(relative.parts)
    if parts[0] == "plugins":
        parts = parts[2:]
    parts[-1] = parts[-1].removesuffix(".py")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> list[Path]:
    files = [*ROOT.glob("xrm/**/*.py"), *ROOT.glob("plugins/*/xrm_*/**/*.py")]
    return sorted(f for f in files if "__pycache__" not in f.parts)


FILES = source_files()
MODULES = frozenset(module_name(f) for f in FILES)


def imports_of(path: Path, source: str | None = None) -> Iterator[Import]:
    """Every module ``path`` (or ``source``, read as if it were there) imports, wherever
    the import statement is."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    where = path.relative_to(ROOT).as_posix()
    text = path.read_text(encoding="utf-8") if source is None else source
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(where, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                # ``from xrm import db`` imports the module xrm.db
                submodule = f"{base}.{alias.name}"
                yield Import(where, node.lineno, submodule if submodule in MODULES else base)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield Import(where, node.lineno, node.args[0].value)


def is_xrm(module: str) -> bool:
    return module == "xrm" or module.startswith("xrm.")


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def own_package(path: Path) -> str:
    """The package a module may import freely: the CLI's, a built-in plugin's (its
    subpackage or module of ``xrm.plugins``), a distribution's (``xrm_partners``)."""
    name = module_name(path)
    if within(name, "xrm.cli"):
        return "xrm.cli"
    if within(name, "xrm.plugins"):
        return ".".join(name.split(".")[:3])
    return name.split(".")[0]


def on_the_public_side(path: Path) -> bool:
    where = path.relative_to(ROOT).as_posix()
    return where.startswith(("xrm/cli/", "xrm/plugins/", "plugins/"))


def is_private_for(path: Path, module: str) -> bool:
    """May the CLI or plugin module at ``path`` not import ``module``?"""
    if not is_xrm(module) or module in PUBLIC or within(module, own_package(path)):
        return False
    return (path.relative_to(ROOT).as_posix(), module) not in EXCEPTIONS


def is_above_the_core(module: str) -> bool:
    return any(within(module, m) for m in ABOVE_THE_CORE) or module.startswith("xrm_")


def private_imports() -> list[Import]:
    """Imports of a private xrm module by the CLI or a plugin, exceptions left out."""
    return [
        imp
        for path in filter(on_the_public_side, FILES)
        for imp in imports_of(path)
        if is_private_for(path, imp.module)
    ]


def upward_imports() -> list[Import]:
    """Imports by the core of what is built on it."""
    core = [f for f in FILES if f.relative_to(ROOT).as_posix().startswith("xrm/core/")]
    return [imp for path in core for imp in imports_of(path) if is_above_the_core(imp.module)]


def report(found: list[Import], rule: str) -> str:
    return f"{rule}:\n" + "\n".join(f"  {imp}" for imp in found)


# -- the rules ----------------------------------------------------------------------------
def test_the_cli_and_the_plugins_import_only_public_modules() -> None:
    found = private_imports()
    if found:
        rule = (
            "the CLI and the plugins import only xrm, xrm.tables, xrm.hookspecs, xrm.testing, "
            "xrm.errors and their own package (docs/tables.md; or ask the core for a public way)"
        )
        pytest.fail(report(found, rule), pytrace=False)


def test_the_core_imports_nothing_built_on_it() -> None:
    found = upward_imports()
    if found:
        rule = (
            "xrm/core imports neither the app, the plugin host, the CLI, the plugins, the web "
            "layer, the demo nor a plugin distribution (not even under TYPE_CHECKING)"
        )
        pytest.fail(report(found, rule), pytrace=False)


def test_every_exception_is_still_needed() -> None:
    """An exception the code no longer needs is removed, so it cannot hide a new import."""
    used = {
        (imp.path, imp.module)
        for path in filter(on_the_public_side, FILES)
        for imp in imports_of(path)
    }
    assert sorted(set(EXCEPTIONS) - used) == []


# -- the reader of the import graph, on samples --------------------------------------------
SAMPLE = """
from __future__ import annotations
import os.path
from typing import TYPE_CHECKING
from xrm import db as _db, Party
from . import _common
from ..core import models
from .._lean import thing
import importlib

if TYPE_CHECKING:
    from xrm.app import Session

def later() -> None:
    from xrm.core.records import Role
    importlib.import_module("xrm.plugin")
"""


def test_every_kind_of_import_is_found() -> None:
    sample = ROOT / "xrm" / "cli" / "_sample_never_written.py"
    found = sorted((imp.line, imp.module) for imp in imports_of(sample, SAMPLE))
    assert found == [
        (2, "__future__"),
        (3, "os.path"),
        (4, "typing"),
        (5, "xrm"),  # Party: a name xrm exports
        (5, "xrm.db"),  # db: a module of xrm
        (6, "xrm.cli._common"),
        (7, "xrm.core.models"),
        (8, "xrm._lean"),
        (9, "importlib"),
        (12, "xrm.app"),
        (15, "xrm.core.records"),
        (16, "xrm.plugin"),
    ]


def test_a_plugin_distribution_may_import_its_own_private_modules() -> None:
    path = ROOT / "plugins" / "partners" / "xrm_partners" / "__init__.py"
    assert own_package(path) == "xrm_partners"
    assert own_package(ROOT / "xrm" / "plugins" / "customers" / "reports.py") == (
        "xrm.plugins.customers"
    )
    assert own_package(ROOT / "xrm" / "cli" / "db.py") == "xrm.cli"


def test_the_contract_reads_every_source_file() -> None:
    where = {f.relative_to(ROOT).as_posix() for f in FILES}
    assert {"xrm/cli/db.py", "xrm/core/models.py", "xrm/plugins/customers/reports.py"} <= where
    assert any(w.startswith("plugins/partners/xrm_partners/") for w in where)


def test_what_each_side_may_import() -> None:
    cli = ROOT / "xrm" / "cli" / "parties.py"
    customers = ROOT / "xrm" / "plugins" / "customers" / "reports.py"
    partners = ROOT / "plugins" / "partners" / "xrm_partners" / "_reports.py"
    for path in (cli, customers, partners):
        for module in ("xrm", "xrm.tables", "xrm.errors", "xrm.hookspecs", "sqlalchemy"):
            assert not is_private_for(path, module), (path, module)
        for module in ("xrm.core.models", "xrm.core", "xrm.app", "xrm.plugin", "xrm.db"):
            assert is_private_for(path, module), (path, module)
    assert not is_private_for(cli, "xrm.cli._common")
    assert not is_private_for(customers, "xrm.plugins.customers.reports")
    assert is_private_for(customers, "xrm.plugins.other")
    assert not is_private_for(partners, "xrm_partners._types")
    assert not is_private_for(ROOT / "xrm" / "cli" / "db.py", "xrm.db")  # a named exception
    for module in ("xrm.app", "xrm.cli._common", "xrm.plugins.customers", "xrm.plugin",
                   "xrm.web", "xrm.demo", "xrm_partners"):  # fmt: skip
        assert is_above_the_core(module), module
    for module in ("xrm.core.models", "xrm.errors", "xrm.plugin_x", "sqlalchemy"):
        assert not is_above_the_core(module), module
