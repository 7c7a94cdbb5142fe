"""``xrm scaffold``: generate a plugin distribution, or add an entity type to one.

``xrm scaffold plugin NAME`` writes ``xrm-NAME/``: an installable distribution whose tests,
``ruff`` and ``mypy --strict`` pass as soon as it is installed. ``xrm scaffold entity NAME
--plugin DIR --kind KIND`` adds a role type, a party kind, a relationship type or a table
(with its Alembic revision) to such a distribution, each in its own module of
``xrm_NAME/entities/``, which the plugin finds by itself: no generated file is ever edited,
only the README gets a section appended.

The files come from the ``*.jinja`` templates beside this module, rendered with
``StrictUndefined``. Nothing is overwritten without ``--force``; ``--dry-run`` lists what
would be written; every file written is printed. Mistakes a user can fix (a bad name, a file
in the way, a directory that is not a plugin) end with a one-line message and exit code 1.
"""

from __future__ import annotations

import ast
import keyword
import re
import tomllib
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import attrs
import click
import jinja2

import xrm
from xrm import XRM, XRMError

__all__ = ["scaffold"]

TEMPLATES = Path(__file__).parent / "templates"
KINDS = ("role", "party-kind", "relationship", "model")
#: longest plugin or entity name
MAX_NAME = 30
#: longest table name, so that "fk_<table>_party_id_party" fits PostgreSQL's 63 characters
MAX_TABLE = 45
#: the plugin's own table, beside the role type named like the plugin
MEMBERSHIP = "membership"
#: each entity module defines REGISTERED, so no entity may be called that
RESERVED_ENTITY_NAMES = frozenset({"registered"})

_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_KIND_LABELS = {
    "role": "role type",
    "party-kind": "party kind",
    "relationship": "relationship type",
    "model": "table",
}


@attrs.frozen
class PlannedFile:
    """A file to write: its whole ``content``, or a part to append to it."""

    path: Path
    content: str
    append: bool = False


@attrs.frozen
class Plan:
    files: tuple[PlannedFile, ...]
    #: things left as they are, told to the user
    notes: tuple[str, ...] = ()


# -- names ---------------------------------------------------------------------------------


def camel(name: str) -> str:
    """``gift_card`` -> ``GiftCard``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def words(name: str) -> str:
    """``gift_card`` -> ``gift card``."""
    return name.replace("_", " ")


@cache
def builtin_names() -> Mapping[str, str]:
    """Every name xrm registers by itself (kinds, channels, purposes, the built-in plugins'
    roles...), each with what it names."""
    try:
        app = XRM("sqlite://", discover=False)
    except XRMError as exc:
        raise click.ClickException(f"cannot list xrm's built-in names: {exc}") from None
    try:
        registry = app.registry
        tables: Sequence[tuple[str, Mapping[str, object]]] = (
            ("party kind", registry.party_kinds),
            ("contact kind", registry.contact_kinds),
            ("channel", registry.channels),
            ("touchpoint", registry.touchpoints),
            ("identifier scheme", registry.identifier_schemes),
            ("purpose", registry.purposes),
            ("role type", registry.role_types),
            ("relationship type", registry.relationship_types),
        )
        names: dict[str, str] = {}
        for what, table in tables:
            for name in table:
                names.setdefault(name, f"xrm's built-in {what} {name!r}")
        for info in app.plugin_info():
            names.setdefault(info.name, f"xrm's built-in plugin {info.name!r}")
        return names
    finally:
        app.dispose()


def check_name(name: str, what: str) -> None:
    """Refuse a name that cannot be a Python module, a registered name and a table prefix,
    or that xrm already uses."""
    if not _NAME.fullmatch(name):
        raise click.ClickException(
            f"invalid {what} name {name!r}: use lower_snake_case "
            "(a-z and 0-9, single underscores), starting with a letter"
        )
    if len(name) > MAX_NAME:
        raise click.ClickException(
            f"invalid {what} name {name!r}: {len(name)} characters, at most {MAX_NAME}"
        )
    if keyword.iskeyword(name):
        raise click.ClickException(f"invalid {what} name {name!r}: it is a Python keyword")
    clash = builtin_names().get(name)
    if clash is not None:
        raise click.ClickException(f"{what} name {name!r} is taken by {clash}")


def check_table(table: str) -> None:
    if len(table) > MAX_TABLE:
        raise click.ClickException(
            f"table name {table!r} is {len(table)} characters, at most {MAX_TABLE} so that "
            "its constraint names fit PostgreSQL's 63: choose a shorter name"
        )


def table_name(plugin: str, entity: str) -> str:
    """Plugin tables are prefixed with the plugin's name (once)."""
    return entity if entity.startswith(f"{plugin}_") else f"{plugin}_{entity}"


# -- templates -----------------------------------------------------------------------------


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Python, TOML and Markdown, never HTML
    )


def render(template: str, context: Mapping[str, Any]) -> str:
    return environment().get_template(template).render(context)


# -- plugin --------------------------------------------------------------------------------


def plugin_context(name: str) -> dict[str, Any]:
    table = f"{name}_{MEMBERSHIP}"
    major_minor = ".".join(xrm.__version__.split(".")[:2])
    return {
        "name": name,
        "package": f"xrm_{name}",
        "distribution": f"xrm-{name}",
        "label": words(name).capitalize(),
        "constant": name.upper(),
        "attributes_class": f"{camel(name)}Attributes",
        "table": table,
        "row_class": f"{camel(table)}Row",
        "revision": f"{name}_0001",
        "xrm_version": major_minor,
    }


def plan_plugin(name: str, directory: Path) -> Plan:
    check_name(name, "plugin")
    context = plugin_context(name)
    root = directory / context["distribution"]
    package = context["package"]
    layout = (
        ("plugin/pyproject.toml.jinja", "pyproject.toml"),
        ("plugin/README.md.jinja", "README.md"),
        ("plugin/gitignore.jinja", ".gitignore"),
        ("plugin/package/__init__.py.jinja", f"{package}/__init__.py"),
        ("plugin/package/_entities.py.jinja", f"{package}/_entities.py"),
        ("plugin/package/entities/__init__.py.jinja", f"{package}/entities/__init__.py"),
        ("plugin/package/models.py.jinja", f"{package}/models.py"),
        ("plugin/package/py.typed.jinja", f"{package}/py.typed"),
        (
            "plugin/package/migrations/first_revision.py.jinja",
            f"{package}/migrations/{context['revision']}.py",
        ),
        ("plugin/tests/test_plugin.py.jinja", f"tests/test_{name}.py"),
    )
    return Plan(tuple(PlannedFile(root / path, render(t, context)) for t, path in layout))


# -- entity --------------------------------------------------------------------------------


@attrs.frozen
class PluginDistribution:
    """A distribution made by ``xrm scaffold plugin``, as read from its files."""

    root: Path
    name: str
    package: str

    @property
    def package_dir(self) -> Path:
        return self.root / self.package

    @property
    def migrations(self) -> Path:
        return self.package_dir / "migrations"


def read_plugin(root: Path) -> PluginDistribution:
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        raise click.ClickException(f"{root} is not a plugin distribution: no pyproject.toml")
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {pyproject}: {exc}") from None
    project = data.get("project")
    entry_points = project.get("entry-points") if isinstance(project, dict) else None
    plugins = entry_points.get("xrm") if isinstance(entry_points, dict) else None
    if not isinstance(plugins, dict) or not plugins:
        raise click.ClickException(
            f"{pyproject} declares no xrm plugin ([project.entry-points.xrm] is missing)"
        )
    if len(plugins) > 1:
        raise click.ClickException(
            f"{pyproject} declares several xrm plugins ({', '.join(sorted(plugins))}); "
            "scaffold entity needs exactly one"
        )
    [(name, target)] = plugins.items()
    if not isinstance(target, str) or not target.isidentifier():
        raise click.ClickException(
            f"{pyproject}: the xrm entry point {name} = {target!r} must name a top-level module"
        )
    if not _NAME.fullmatch(name):
        raise click.ClickException(f"{pyproject}: plugin name {name!r} is not lower_snake_case")
    plugin = PluginDistribution(root, name, target)
    if not (plugin.package_dir / "entities" / "__init__.py").is_file():
        raise click.ClickException(
            f"{plugin.package_dir / 'entities'} is not a package: scaffold entity adds to "
            "plugins made by `xrm scaffold plugin`"
        )
    return plugin


@attrs.frozen
class Revision:
    """What scaffolding needs to know of an Alembic revision file."""

    path: Path
    revision: str
    down_revisions: tuple[str, ...]
    #: the tables it creates with ``op.create_table("name", ...)``
    tables: frozenset[str]


def _assigned(node: ast.stmt) -> tuple[str, ast.expr] | None:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target, value = node.targets[0], node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        target, value = node.target, node.value
    else:
        return None
    return (target.id, value) if isinstance(target, ast.Name) else None


def read_revision(path: Path) -> Revision | None:
    """The revision in ``path``, read without running it; ``None`` for a module that
    defines no ``revision``."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read the revision {path}: {exc}") from None
    values: dict[str, object] = {}
    for node in tree.body:
        assigned = _assigned(node)
        if assigned is not None and assigned[0] in ("revision", "down_revision"):
            try:
                values[assigned[0]] = ast.literal_eval(assigned[1])
            except (ValueError, TypeError, SyntaxError):
                raise click.ClickException(
                    f"{path}: {assigned[0]} must be a literal to be read by xrm scaffold"
                ) from None
    revision = values.get("revision")
    if not isinstance(revision, str):
        return None
    down = values.get("down_revision")
    if down is None:
        downs: tuple[str, ...] = ()
    elif isinstance(down, str):
        downs = (down,)
    elif isinstance(down, tuple | list) and all(isinstance(d, str) for d in down):
        downs = tuple(down)
    else:
        raise click.ClickException(f"{path}: down_revision {down!r} is not a revision id")
    tables = frozenset(
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "create_table"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )
    return Revision(path, revision, downs, tables)


def read_revisions(directory: Path) -> list[Revision]:
    if not directory.is_dir():
        raise click.ClickException(f"{directory} is missing: the plugin has no migrations")
    found = [read_revision(path) for path in sorted(directory.glob("*.py"))]
    return [r for r in found if r is not None]


def next_revision(plugin: str, revisions: Sequence[Revision]) -> tuple[str, str]:
    """The id of a new revision chained after the branch's only head, and that head."""
    if not revisions:
        raise click.ClickException(f"no Alembic revision found for plugin {plugin!r}")
    referenced = {down for r in revisions for down in r.down_revisions}
    heads = sorted(r.revision for r in revisions if r.revision not in referenced)
    if len(heads) != 1:
        raise click.ClickException(
            f"the migrations of plugin {plugin!r} have {len(heads)} heads "
            f"({', '.join(heads) or 'a cycle'}): merge them into one before adding a revision"
        )
    numbered = re.compile(rf"{re.escape(plugin)}_(\d+)")
    taken = {r.revision for r in revisions}
    numbers = [int(m.group(1)) for r in revisions if (m := numbered.fullmatch(r.revision))]
    number = max(numbers, default=len(revisions)) + 1
    while f"{plugin}_{number:04d}" in taken:
        number += 1
    return f"{plugin}_{number:04d}", heads[0]


def model_revision(
    plugin: PluginDistribution, entity: str, table: str
) -> tuple[Path, dict[str, str]]:
    """Where the revision creating ``table`` goes, with its ids: a new one after the head,
    or, when the entity already has one, that same file and ids (regenerated in place)."""
    revisions = read_revisions(plugin.migrations)
    own = re.compile(rf"{re.escape(plugin.name)}_\d+_{re.escape(entity)}\.py")
    existing = [r for r in revisions if own.fullmatch(r.path.name)]
    for r in revisions:
        if table in r.tables and r not in existing:
            raise click.ClickException(f"table {table!r} is already created by {r.path}")
    if existing and len(existing[0].down_revisions) == 1:
        revision, down = existing[0].revision, existing[0].down_revisions[0]
        path = existing[0].path
    else:
        revision, down = next_revision(plugin.name, revisions)
        path = plugin.migrations / f"{revision}_{entity}.py"
    return path, {"revision": revision, "down_revision": down, "migration_file": path.name}


def plan_entity(name: str, kind: str, root: Path) -> Plan:
    plugin = read_plugin(root)
    check_name(name, "entity")
    if name == plugin.name:
        raise click.ClickException(
            f"entity name {name!r} is the plugin's own role type: choose another name"
        )
    if name in RESERVED_ENTITY_NAMES:
        raise click.ClickException(
            f"entity name {name!r} is reserved by the entity modules: choose another name"
        )
    table = table_name(plugin.name, name)
    context: dict[str, Any] = {
        "plugin": plugin.name,
        "package": plugin.package,
        "entity": name,
        "kind": kind,
        "kind_label": _KIND_LABELS[kind],
        "label": words(name).capitalize(),
        "words": words(name),
        "constant": name.upper(),
        "attributes_class": f"{camel(name)}Attributes",
        "table": table,
        "row_class": f"{camel(table)}Row",
    }
    migration: PlannedFile | None = None
    if kind == "model":
        check_table(table)
        path, ids = model_revision(plugin, name, table)
        context.update(ids)
        migration = PlannedFile(path, render("entity/migration.py.jinja", context))
    module = kind.replace("-", "_")
    files = [
        PlannedFile(
            plugin.package_dir / "entities" / f"{name}.py",
            render(f"entity/{module}.py.jinja", context),
        ),
        PlannedFile(
            root / "tests" / f"test_{name}.py", render(f"entity/test_{module}.py.jinja", context)
        ),
    ]
    if migration is not None:
        files.append(migration)
    notes: list[str] = []
    readme = root / "README.md"
    marker = f"<!-- xrm scaffold entity {name} -->"
    current = readme.read_text(encoding="utf-8") if readme.is_file() else None
    section = render("entity/readme_section.md.jinja", context)
    if current is None:
        files.append(PlannedFile(readme, section.lstrip("\n")))
    elif marker in current:
        notes.append(f"kept {readme} (it already has a section for {name!r})")
    else:
        separator = "" if current.endswith("\n") or not current else "\n"
        files.append(PlannedFile(readme, separator + section, append=True))
    return Plan(tuple(files), tuple(notes))


# -- writing -------------------------------------------------------------------------------


def carry_out(plan: Plan, *, force: bool, dry_run: bool) -> None:
    """Write (or, with ``dry_run``, list) the planned files; refuse to overwrite one unless
    ``force``. Checks every file before writing any."""
    for planned in plan.files:
        if planned.path.exists() and not planned.path.is_file():
            raise click.ClickException(f"{planned.path} exists and is not a file")
    if not force:
        taken = [str(f.path) for f in plan.files if not f.append and f.path.exists()]
        if taken:
            what = taken[0] if len(taken) == 1 else f"{len(taken)} files ({', '.join(taken)})"
            raise click.ClickException(
                f"{what} already exist{'s' if len(taken) == 1 else ''}: use --force to overwrite"
            )
    prefix = "would " if dry_run else ""
    for planned in plan.files:
        if planned.append:
            verb = "append to" if dry_run else "appended to"
        elif planned.path.exists():
            verb = "overwrite" if dry_run else "overwrote"
        else:
            verb = "create" if dry_run else "created"
        if not dry_run:
            write(planned)
        click.echo(f"{prefix}{verb} {planned.path}")
    for note in plan.notes:
        click.echo(note)
    if dry_run:
        click.echo("dry run: nothing written")


def write(planned: PlannedFile) -> None:
    try:
        planned.path.parent.mkdir(parents=True, exist_ok=True)
        with planned.path.open("a" if planned.append else "w", encoding="utf-8") as out:
            out.write(planned.content)
    except OSError as exc:
        raise click.ClickException(f"cannot write {planned.path}: {exc.strerror}") from None


# -- commands ------------------------------------------------------------------------------

force_option = click.option("--force", is_flag=True, help="Overwrite files that already exist.")
dry_run_option = click.option(
    "--dry-run", is_flag=True, help="List the files that would be written; write nothing."
)


@click.group()
def scaffold() -> None:
    """Generate an xrm plugin distribution, or add an entity type to one."""


@scaffold.command("plugin", short_help="Create a plugin distribution, green once installed.")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to create the xrm-NAME/ directory.",
)
@force_option
@dry_run_option
def plugin_command(name: str, directory: Path, force: bool, dry_run: bool) -> None:
    """Create DIR/xrm-NAME/, a plugin distribution: the NAME role type, a NAME_membership
    table with its Alembic revision, tests, README; green once installed.

    NAME is lower_snake_case. Then: cd xrm-NAME && pip install -e '.[dev]' && pytest
    """
    plan = plan_plugin(name, directory)
    carry_out(plan, force=force, dry_run=dry_run)
    if not dry_run:
        click.echo(f"next: cd {directory / f'xrm-{name}'} && pip install -e '.[dev]' && pytest")


@scaffold.command(
    "entity", short_help="Add a role type, party kind, relationship type or table to a plugin."
)
@click.argument("name")
@click.option(
    "--plugin",
    "plugin_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The plugin distribution (the directory holding its pyproject.toml).",
)
@click.option(
    "--kind",
    required=True,
    type=click.Choice(KINDS),
    help="role, party-kind, relationship (a registered type) or model (a table).",
)
@force_option
@dry_run_option
def entity_command(name: str, plugin_dir: Path, kind: str, force: bool, dry_run: bool) -> None:
    """Add the entity type NAME to a plugin made by `xrm scaffold plugin`: its module in
    xrm_PLUGIN/entities/ (found by the plugin by itself), its tests and a README section;
    for a model, a table and an Alembic revision after the plugin's latest one."""
    carry_out(plan_entity(name, kind, plugin_dir), force=force, dry_run=dry_run)
