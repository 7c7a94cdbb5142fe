"""The layers hold: a contract over the import graph, read from the source with ``ast``
(the rules of docs/architecture.md, "What may import what").

- The CLI, the built-in customers plugin, the plugin distributions, the web layer
  (``xrm.web``) and the events relay (``xrm.relay``) import only the public faces of xrm
  (``xrm``, ``xrm.tables``, ``xrm.hookspecs``, ``xrm.testing``, ``xrm.errors``, and the
  services built on them: ``xrm.web``, ``xrm.relay``) and their own package: if a plugin
  needs to reach inside the core, the core is missing an extension point.
- The app, the plugin host and the essential plugin import neither the CLI nor a plugin.
- The core (``xrm/core/``) imports none of what is built on it: the app, the plugin host,
  the CLI, the plugins, the web layer, the demo.
- The nouns (``xrm/core/nouns/``) import neither imports, GDPR nor identity: a noun that
  needs one of them receives it.

Every import counts: at module level, inside functions, under ``if TYPE_CHECKING:``,
relative ones, and ``importlib.import_module("...")`` with a literal name. A known
exception is named below, file by file, with its reason; any other import breaks a test,
and so does an exception the code no longer needs.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: what apps, plugins and the CLI may import from xrm: the library's faces, and the two
#: services built on them (the web layer, whose ``session`` dependency plugins' routers
#: use, and the events relay)
PUBLIC = frozenset(
    {
        "xrm",
        "xrm.commands",
        "xrm.errors",
        "xrm.hookspecs",
        "xrm.segments",
        "xrm.tables",
        "xrm.testing",
        "xrm.web",
        "xrm.relay",
    }
)

#: the app, the plugin host and the essential plugin (the core's defaults as a plugin)
HOST = ("xrm/app.py", "xrm/plugin.py", "xrm/plugins/core.py")

#: what the core may not import: everything built on it
ABOVE_THE_CORE = (
    "xrm.app", "xrm.cli", "xrm.demo", "xrm.plugin", "xrm.plugins", "xrm.relay", "xrm.web"
)  # fmt: skip

#: what the nouns may not import
BESIDE_THE_NOUNS = ("xrm.core.gdpr", "xrm.core.identity", "xrm.core.imports")

#: (importing file, imported module) -> why it is allowed, for now
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("xrm/cli/__init__.py", "xrm.demo"): "`xrm demo` runs the demo, an app on the public API",
    ("xrm/app.py", "xrm.plugins.customers"): "the app registers its built-in plugin",
    ("xrm/plugin.py", "xrm.plugins.core"): "the host registers the essential plugin first",
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
    parts = list(path.relative_to(ROOT).parts)
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


def where(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def imports_of(path: Path, source: str | None = None) -> Iterator[Import]:
    """Every module ``path`` (or ``source``, read as if it were there) imports, wherever
    the import statement is."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    text = path.read_text(encoding="utf-8") if source is None else source
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(where(path), node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # ``from xrm import db`` imports the module xrm.db; ``from xrm import Party``, xrm
            named = [f"{base}.{alias.name}" for alias in node.names]
            modules = dict.fromkeys(m if m in MODULES else base for m in named)
            yield from (Import(where(path), node.lineno, m) for m in modules)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield Import(where(path), node.lineno, node.args[0].value)


def within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def is_xrm(module: str) -> bool:
    return within(module, "xrm")


def is_distribution(module: str) -> bool:
    return module.startswith("xrm_")


def own_package(path: Path) -> str:
    """The package a module may import freely: the CLI's, a built-in plugin's (its
    subpackage or module of ``xrm.plugins``), a distribution's (``xrm_partners``)."""
    name = module_name(path)
    if within(name, "xrm.cli"):
        return "xrm.cli"
    if within(name, "xrm.plugins"):
        return ".".join(name.split(".")[:3])
    if within(name, "xrm.web", "xrm.relay"):
        return ".".join(name.split(".")[:2])
    return name.split(".")[0]


# -- the rules ----------------------------------------------------------------------------
class Rule(NamedTuple):
    says: str
    #: the files it governs, by path relative to the repository
    governs: Callable[[str], bool]
    #: does it forbid the module at this path to import that module?
    forbids: Callable[[Path, str], bool]


def on_the_public_side(path: str) -> bool:
    return (
        path.startswith(("xrm/cli/", "xrm/plugins/", "xrm/web/", "xrm/relay/", "plugins/"))
        and path not in HOST
    )


def private_for(path: Path, module: str) -> bool:
    return is_xrm(module) and module not in PUBLIC and not within(module, own_package(path))


PUBLIC_ONLY = Rule(
    "the CLI, the plugins, the web layer and the relay import only xrm, xrm.commands, "
    "xrm.segments, xrm.tables, xrm.hookspecs, xrm.testing, xrm.errors, xrm.web, xrm.relay "
    "and their own package (docs/tables.md; or ask the core for a public way)",
    on_the_public_side,
    private_for,
)
HOST_BELOW_CLI_AND_PLUGINS = Rule(
    "the app, the plugin host and the essential plugin import neither the CLI nor a plugin",
    lambda path: path in HOST,
    lambda _, module: within(module, "xrm.cli", "xrm.plugins") or is_distribution(module),
)
CORE_BELOW_ALL = Rule(
    "xrm/core imports neither the app, the plugin host, the CLI, the plugins, the web layer, "
    "the demo nor a plugin distribution (not even under TYPE_CHECKING)",
    lambda path: path.startswith("xrm/core/"),
    lambda _, module: within(module, *ABOVE_THE_CORE) or is_distribution(module),
)
NOUNS_APART = Rule(
    "xrm/core/nouns imports neither imports, gdpr nor identity: a noun that needs one "
    "receives it (docs/architecture.md)",
    lambda path: path.startswith("xrm/core/nouns/"),
    lambda _, module: within(module, *BESIDE_THE_NOUNS),
)
RULES = (PUBLIC_ONLY, HOST_BELOW_CLI_AND_PLUGINS, CORE_BELOW_ALL, NOUNS_APART)


def forbidden(rule: Rule) -> Iterator[Import]:
    """The imports ``rule`` forbids, exceptions included."""
    for path in FILES:
        if rule.governs(where(path)):
            yield from (imp for imp in imports_of(path) if rule.forbids(path, imp.module))


def breaking(rule: Rule) -> list[Import]:
    return [imp for imp in forbidden(rule) if (imp.path, imp.module) not in EXCEPTIONS]


def check(rule: Rule) -> None:
    found = breaking(rule)
    if found:
        pytest.fail(f"{rule.says}:\n" + "\n".join(f"  {imp}" for imp in found), pytrace=False)


def test_the_cli_and_the_plugins_import_only_public_modules() -> None:
    check(PUBLIC_ONLY)


def test_the_app_and_the_plugin_host_import_neither_the_cli_nor_a_plugin() -> None:
    check(HOST_BELOW_CLI_AND_PLUGINS)


def test_the_core_imports_nothing_built_on_it() -> None:
    check(CORE_BELOW_ALL)


def test_the_nouns_import_neither_imports_gdpr_nor_identity() -> None:
    check(NOUNS_APART)


def test_every_exception_is_still_needed() -> None:
    """An exception that no rule needs any more is removed, so it cannot hide a new
    import."""
    needed = {(imp.path, imp.module) for rule in RULES for imp in forbidden(rule)}
    assert sorted(set(EXCEPTIONS) - needed) == []


# -- the reader of the import graph and the rules, on samples --------------------------------
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


def test_the_contract_reads_every_source_file() -> None:
    paths = {where(f) for f in FILES}
    assert {"xrm/cli/db.py", "xrm/core/models.py", "xrm/plugins/customers/reports.py"} <= paths
    assert any(p.startswith("plugins/partners/xrm_partners/") for p in paths)


def test_each_package_may_import_its_own_modules() -> None:
    assert own_package(ROOT / "plugins" / "partners" / "xrm_partners" / "_reports.py") == (
        "xrm_partners"
    )
    assert own_package(ROOT / "xrm" / "plugins" / "customers" / "reports.py") == (
        "xrm.plugins.customers"
    )
    assert own_package(ROOT / "xrm" / "cli" / "db.py") == "xrm.cli"


def test_what_each_rule_forbids() -> None:
    cli = ROOT / "xrm" / "cli" / "parties.py"
    customers = ROOT / "xrm" / "plugins" / "customers" / "reports.py"
    partners = ROOT / "plugins" / "partners" / "xrm_partners" / "_reports.py"
    for path in (cli, customers, partners):
        assert PUBLIC_ONLY.governs(where(path))
        for module in ("xrm", "xrm.tables", "xrm.errors", "xrm.hookspecs", "sqlalchemy"):
            assert not PUBLIC_ONLY.forbids(path, module), (path, module)
        for module in ("xrm.core.models", "xrm.core", "xrm.app", "xrm.plugin", "xrm.db"):
            assert PUBLIC_ONLY.forbids(path, module), (path, module)
    assert not PUBLIC_ONLY.forbids(cli, "xrm.cli._common")
    assert not PUBLIC_ONLY.forbids(customers, "xrm.plugins.customers.reports")
    assert PUBLIC_ONLY.forbids(customers, "xrm.plugins.other")
    assert not PUBLIC_ONLY.forbids(partners, "xrm_partners._types")
    assert not PUBLIC_ONLY.governs("xrm/plugins/core.py")  # the essential plugin: host side
    host = ROOT / "xrm" / "plugins" / "core.py"
    for module in ("xrm.cli", "xrm.plugins.customers", "xrm_partners"):
        assert HOST_BELOW_CLI_AND_PLUGINS.forbids(host, module), module
    for module in ("xrm.core.registry", "xrm.plugin", "xrm.errors"):
        assert not HOST_BELOW_CLI_AND_PLUGINS.forbids(host, module), module
    core = ROOT / "xrm" / "core" / "uow.py"
    for module in ("xrm.app", "xrm.cli._common", "xrm.plugins.customers", "xrm.plugin",
                   "xrm.web", "xrm.demo", "xrm_partners"):  # fmt: skip
        assert CORE_BELOW_ALL.forbids(core, module), module
    for module in ("xrm.core.models", "xrm.errors", "xrm.plugin_x", "sqlalchemy"):
        assert not CORE_BELOW_ALL.forbids(core, module), module
    noun = ROOT / "xrm" / "core" / "nouns" / "parties.py"
    assert NOUNS_APART.forbids(noun, "xrm.core.imports.bulk")
    assert not NOUNS_APART.forbids(noun, "xrm.core.uow")
