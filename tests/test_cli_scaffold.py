"""``xrm scaffold``: every option and error path, and a generated plugin that arrives green.

The end-to-end test at the bottom scaffolds a plugin, installs it in a fresh virtualenv that
reuses this environment's packages, runs the plugin's own tests, ruff and mypy there,
upgrades a SQLite database with its migration, then adds an entity of every kind and runs
all of it again.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
import tomllib
import venv
from pathlib import Path
from typing import Any

import jinja2
import pytest
from click.testing import CliRunner, Result

import xrm.cli.scaffold  # noqa: F401  (the module, not the group of the same name)
from xrm.cli import cli as root

# `xrm.cli.scaffold` names the click group on the package; the module is this one
scaffolding = sys.modules["xrm.cli.scaffold"]

PLUGIN_FILES = [
    ".gitignore",
    "README.md",
    "pyproject.toml",
    "tests/test_loyalty.py",
    "xrm_loyalty/__init__.py",
    "xrm_loyalty/_entities.py",
    "xrm_loyalty/entities/__init__.py",
    "xrm_loyalty/migrations/loyalty_0001.py",
    "xrm_loyalty/models.py",
    "xrm_loyalty/py.typed",
]


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(root, ["scaffold", *map(str, args)])


def files_under(directory: Path) -> list[str]:
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())


def snapshot(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in files_under(directory)}


def user_error(result: Result) -> str:
    """The one line a user error prints, checked to be one line with exit code 1."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    return lines[0]


def module_values(path: Path, *names: str) -> dict[str, Any]:
    """Module-level literal assignments of a generated file, read without running it."""
    values: dict[str, Any] = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.AnnAssign | ast.Assign) and node.value is not None:
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
            if isinstance(target, ast.Name) and target.id in names:
                values[target.id] = ast.literal_eval(node.value)
    return values


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    result = run("plugin", "loyalty", "--dir", tmp_path)
    assert result.exit_code == 0, result.output
    return tmp_path / "xrm-loyalty"


# -- xrm scaffold plugin ------------------------------------------------------------------


def test_plugin_writes_the_distribution_and_prints_every_file(tmp_path: Path) -> None:
    result = run("plugin", "loyalty", "--dir", tmp_path)
    assert result.exit_code == 0, result.output
    root_dir = tmp_path / "xrm-loyalty"
    assert files_under(root_dir) == PLUGIN_FILES
    created = [line for line in result.output.splitlines() if line.startswith("created ")]
    assert sorted(created) == sorted(f"created {root_dir / name}" for name in PLUGIN_FILES)
    assert result.output.splitlines()[-1] == (
        f"next: cd {root_dir} && pip install -e '.[dev]' && pytest"
    )
    assert (root_dir / "xrm_loyalty" / "py.typed").read_text() == ""
    for name in PLUGIN_FILES:
        if name.endswith(".py"):
            compile((root_dir / name).read_text(), name, "exec")


def test_plugin_defaults_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("plugin", "loyalty")
    assert result.exit_code == 0, result.output
    assert files_under(tmp_path / "xrm-loyalty") == PLUGIN_FILES
    assert "created xrm-loyalty/pyproject.toml" in result.output.splitlines()


def test_the_generated_pyproject_packages_a_strictly_checked_plugin(plugin_dir: Path) -> None:
    data = tomllib.loads((plugin_dir / "pyproject.toml").read_text())
    assert data["build-system"]["requires"] == ["setuptools>=77"]
    assert data["project"]["name"] == "xrm-loyalty"
    assert "xrm>=0.1" in data["project"]["dependencies"]
    assert data["project"]["entry-points"]["xrm"] == {"loyalty": "xrm_loyalty"}
    assert data["tool"]["setuptools"]["package-data"]["xrm_loyalty"] == [
        "py.typed",
        "migrations/*.py",
    ]
    assert data["tool"]["pytest"]["ini_options"]["filterwarnings"] == ["error"]
    assert data["tool"]["mypy"]["strict"] is True
    assert data["tool"]["ruff"]["line-length"] == 100


def test_the_first_migration_starts_the_plugin_branch_after_the_core(plugin_dir: Path) -> None:
    migration = plugin_dir / "xrm_loyalty" / "migrations" / "loyalty_0001.py"
    values = module_values(migration, "revision", "down_revision", "branch_labels", "depends_on")
    assert values == {
        "revision": "loyalty_0001",
        "down_revision": None,
        "branch_labels": ("loyalty",),
        "depends_on": "0001_core",
    }
    assert 'op.create_table(\n        "loyalty_membership",' in migration.read_text()
    models = (plugin_dir / "xrm_loyalty" / "models.py").read_text()
    assert '__tablename__ = "loyalty_membership"' in models
    assert "from xrm.tables import Base, utcnow" in models  # the public face, not the core


def test_the_plugin_registers_its_role_and_collects_its_entities(plugin_dir: Path) -> None:
    init = (plugin_dir / "xrm_loyalty" / "__init__.py").read_text()
    assert "@hookimpl\ndef xrm_role_types() -> Iterable[RoleType]:" in init
    assert "return [LOYALTY, *collect(RoleType)]" in init
    assert 'states=["enrolled", "active", "lapsed"],' in init
    assert "class LoyaltyAttributes(BaseModel):" in init
    assert 'return ["migrations"]' in init
    assert (
        "pkgutil.iter_modules(entities.__path__)"
        in (plugin_dir / "xrm_loyalty" / "_entities.py").read_text()
    )


def test_dry_run_lists_the_files_and_writes_nothing(tmp_path: Path) -> None:
    result = run("plugin", "loyalty", "--dir", tmp_path, "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert sorted(lines[:-1]) == sorted(
        f"would create {tmp_path / 'xrm-loyalty' / name}" for name in PLUGIN_FILES
    )
    assert lines[-1] == "dry run: nothing written"
    assert list(tmp_path.iterdir()) == []


def test_existing_files_are_not_overwritten_without_force(plugin_dir: Path) -> None:
    (plugin_dir / "README.md").write_text("my notes\n")
    (plugin_dir / "xrm_loyalty" / "models.py").unlink()
    before = snapshot(plugin_dir)
    message = user_error(run("plugin", "loyalty", "--dir", plugin_dir.parent))
    assert message.startswith("Error: 9 files (")
    assert str(plugin_dir / "README.md") in message
    assert message.endswith("already exist: use --force to overwrite")
    assert snapshot(plugin_dir) == before  # not even the missing file was written


def test_one_existing_file_is_named_alone(tmp_path: Path) -> None:
    (tmp_path / "xrm-loyalty").mkdir()
    (tmp_path / "xrm-loyalty" / "README.md").write_text("my notes\n")
    message = user_error(run("plugin", "loyalty", "--dir", tmp_path))
    readme = tmp_path / "xrm-loyalty" / "README.md"
    assert message == f"Error: {readme} already exists: use --force to overwrite"
    assert files_under(tmp_path) == ["xrm-loyalty/README.md"]


def test_force_overwrites_and_says_so(plugin_dir: Path) -> None:
    (plugin_dir / "README.md").write_text("my notes\n")
    (plugin_dir / "xrm_loyalty" / "models.py").unlink()
    result = run("plugin", "loyalty", "--dir", plugin_dir.parent, "--force")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"overwrote {plugin_dir / 'README.md'}" in lines
    assert f"created {plugin_dir / 'xrm_loyalty' / 'models.py'}" in lines
    assert (plugin_dir / "README.md").read_text().startswith("# xrm-loyalty\n")


def test_dry_run_with_force_says_what_it_would_overwrite(plugin_dir: Path) -> None:
    (plugin_dir / "README.md").write_text("my notes\n")
    result = run("plugin", "loyalty", "--dir", plugin_dir.parent, "--force", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"would overwrite {plugin_dir / 'README.md'}" in result.output.splitlines()
    assert (plugin_dir / "README.md").read_text() == "my notes\n"


def test_a_directory_in_the_place_of_a_file_is_refused_even_with_force(tmp_path: Path) -> None:
    (tmp_path / "xrm-loyalty" / "README.md").mkdir(parents=True)
    message = user_error(run("plugin", "loyalty", "--dir", tmp_path, "--force"))
    assert message == f"Error: {tmp_path / 'xrm-loyalty' / 'README.md'} exists and is not a file"
    assert files_under(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Loyalty", "use lower_snake_case"),
        ("loyalty-club", "use lower_snake_case"),
        ("1club", "use lower_snake_case"),
        ("_club", "use lower_snake_case"),
        ("club_", "use lower_snake_case"),
        ("loyalty__club", "use lower_snake_case"),
        ("", "use lower_snake_case"),
        ("a" * 31, "31 characters, at most 30"),
        ("class", "it is a Python keyword"),
        ("customer", "is taken by xrm's built-in role type 'customer'"),
        ("customers", "is taken by xrm's built-in plugin 'customers'"),
        ("person", "is taken by xrm's built-in party kind 'person'"),
        ("email", "is taken by xrm's built-in contact kind 'email'"),
        ("marketing", "is taken by xrm's built-in touchpoint 'marketing'"),
    ],
)
def test_invalid_plugin_names_are_refused(tmp_path: Path, name: str, reason: str) -> None:
    message = user_error(run("plugin", name, "--dir", tmp_path))
    assert f"{name!r}" in message
    assert reason in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["plugin"],
        ["plugin", "loyalty", "--bogus"],
        ["entity", "club", "--kind", "role"],
        ["entity", "club", "--plugin", "."],
        ["entity", "club", "--plugin", ".", "--kind", "table"],
        ["entity", "club", "--plugin", "no/such/dir", "--kind", "role"],
        ["entity", "--plugin", ".", "--kind", "role"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_with_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert "Usage:" in result.output
    assert list(tmp_path.iterdir()) == []


def test_dir_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "here").write_text("")
    result = run("plugin", "loyalty", "--dir", tmp_path / "here")
    assert result.exit_code == 2, result.output


def test_help_names_both_commands_and_their_options() -> None:
    result = run("--help")
    assert result.exit_code == 0
    assert "plugin" in result.output
    assert "entity" in result.output
    for command, options in [
        ("plugin", ["--dir", "--force", "--dry-run"]),
        ("entity", ["--plugin", "--kind", "--force", "--dry-run"]),
    ]:
        helped = run(command, "--help")
        assert helped.exit_code == 0
        assert all(option in helped.output for option in options)
    assert "role|party-kind|relationship|model" in run("entity", "--help").output


# -- xrm scaffold entity ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "registers"),
    [
        ("role", "REGISTERED = (CLUB,)\n"),
        ("party-kind", "REGISTERED = (CLUB,)\n"),
        ("relationship", "REGISTERED = (CLUB,)\n"),
        ("model", "REGISTERED: tuple[()] = ()\n"),
    ],
)
def test_an_entity_gets_its_module_tests_and_readme_section(
    plugin_dir: Path, kind: str, registers: str
) -> None:
    readme_before = (plugin_dir / "README.md").read_text()
    result = run("entity", "club", "--plugin", plugin_dir, "--kind", kind)
    assert result.exit_code == 0, result.output
    module = plugin_dir / "xrm_loyalty" / "entities" / "club.py"
    test_file = plugin_dir / "tests" / "test_club.py"
    lines = result.output.splitlines()
    assert lines[:2] == [f"created {module}", f"created {test_file}"]
    assert lines[-1] == f"appended to {plugin_dir / 'README.md'}"
    source = module.read_text()
    assert source.endswith(registers)
    compile(source, str(module), "exec")
    compile(test_file.read_text(), str(test_file), "exec")
    readme = (plugin_dir / "README.md").read_text()
    assert readme.startswith(readme_before)
    section = readme[len(readme_before) :]
    assert section.startswith("\n### `club` (")
    assert "<!-- xrm scaffold entity club -->" in section
    migrations = sorted(p.name for p in (plugin_dir / "xrm_loyalty" / "migrations").iterdir())
    if kind == "model":
        assert migrations == ["loyalty_0001.py", "loyalty_0002_club.py"]
        assert lines[2] == f"created {plugin_dir / 'xrm_loyalty/migrations/loyalty_0002_club.py'}"
        assert '__tablename__ = "loyalty_club"' in source
        assert "class LoyaltyClubRow(Base):" in source
    else:
        assert migrations == ["loyalty_0001.py"]
        assert len(lines) == 3


def test_the_entity_schemas_and_types(plugin_dir: Path) -> None:
    for name, kind in [
        ("ambassador", "role"),
        ("trust", "party-kind"),
        ("sponsor", "relationship"),
    ]:
        assert run("entity", name, "--plugin", plugin_dir, "--kind", kind).exit_code == 0
    entities = plugin_dir / "xrm_loyalty" / "entities"
    role = (entities / "ambassador.py").read_text()
    assert "class AmbassadorAttributes(BaseModel):" in role
    assert 'AMBASSADOR = RoleType(\n    "ambassador",' in role
    kind = (entities / "trust.py").read_text()
    assert 'TRUST = PartyKind(\n    "trust",' in kind
    assert "schema=TrustAttributes," in kind
    relationship = (entities / "sponsor.py").read_text()
    assert 'SPONSOR = RelationshipType(\n    "sponsor",' in relationship
    assert 'forward_label="sponsor",' in relationship


def test_model_revisions_chain_after_the_branch_head(plugin_dir: Path) -> None:
    for name in ("voucher", "gift_card"):
        assert run("entity", name, "--plugin", plugin_dir, "--kind", "model").exit_code == 0
    migrations = plugin_dir / "xrm_loyalty" / "migrations"
    wanted = ("revision", "down_revision", "branch_labels", "depends_on")
    assert module_values(migrations / "loyalty_0002_voucher.py", *wanted) == {
        "revision": "loyalty_0002",
        "down_revision": "loyalty_0001",
        "branch_labels": None,
        "depends_on": None,
    }
    assert module_values(migrations / "loyalty_0003_gift_card.py", *wanted) == {
        "revision": "loyalty_0003",
        "down_revision": "loyalty_0002",
        "branch_labels": None,
        "depends_on": None,
    }
    revision = scaffolding.read_revision(migrations / "loyalty_0003_gift_card.py")
    assert revision is not None
    assert revision.tables == frozenset({"loyalty_gift_card"})


def test_a_model_named_with_the_plugin_prefix_is_not_prefixed_twice(plugin_dir: Path) -> None:
    result = run("entity", "loyalty_voucher", "--plugin", plugin_dir, "--kind", "model")
    assert result.exit_code == 0, result.output
    module = plugin_dir / "xrm_loyalty" / "entities" / "loyalty_voucher.py"
    assert '__tablename__ = "loyalty_voucher"' in module.read_text()


def test_force_regenerates_a_model_in_place(plugin_dir: Path) -> None:
    assert run("entity", "voucher", "--plugin", plugin_dir, "--kind", "model").exit_code == 0
    assert run("entity", "gift_card", "--plugin", plugin_dir, "--kind", "model").exit_code == 0
    migration = plugin_dir / "xrm_loyalty" / "migrations" / "loyalty_0002_voucher.py"
    migration.write_text(migration.read_text().replace("sa.String(200)", "sa.String(100)"))
    readme_before = (plugin_dir / "README.md").read_text()
    result = run("entity", "voucher", "--plugin", plugin_dir, "--kind", "model", "--force")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"overwrote {plugin_dir / 'xrm_loyalty' / 'entities' / 'voucher.py'}",
        f"overwrote {plugin_dir / 'tests' / 'test_voucher.py'}",
        f"overwrote {migration}",
        f"kept {plugin_dir / 'README.md'} (it already has a section for 'voucher')",
    ]
    assert "sa.String(200)" in migration.read_text()  # regenerated, same ids
    assert module_values(migration, "revision", "down_revision") == {
        "revision": "loyalty_0002",
        "down_revision": "loyalty_0001",
    }
    assert len(list(migration.parent.iterdir())) == 3
    assert (plugin_dir / "README.md").read_text() == readme_before


def test_an_existing_entity_is_not_overwritten_without_force(plugin_dir: Path) -> None:
    assert run("entity", "voucher", "--plugin", plugin_dir, "--kind", "model").exit_code == 0
    before = snapshot(plugin_dir)
    message = user_error(run("entity", "voucher", "--plugin", plugin_dir, "--kind", "role"))
    assert str(plugin_dir / "xrm_loyalty" / "entities" / "voucher.py") in message
    assert message.endswith("already exist: use --force to overwrite")
    assert snapshot(plugin_dir) == before


def test_entity_dry_run_lists_the_files_and_writes_nothing(plugin_dir: Path) -> None:
    before = snapshot(plugin_dir)
    result = run("entity", "voucher", "--plugin", plugin_dir, "--kind", "model", "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"would create {plugin_dir / 'xrm_loyalty' / 'entities' / 'voucher.py'}",
        f"would create {plugin_dir / 'tests' / 'test_voucher.py'}",
        f"would create {plugin_dir / 'xrm_loyalty' / 'migrations' / 'loyalty_0002_voucher.py'}",
        f"would append to {plugin_dir / 'README.md'}",
        "dry run: nothing written",
    ]
    assert snapshot(plugin_dir) == before


def test_a_missing_readme_is_created_with_the_section(plugin_dir: Path) -> None:
    (plugin_dir / "README.md").unlink()
    result = run("entity", "club", "--plugin", plugin_dir, "--kind", "role")
    assert result.exit_code == 0, result.output
    assert f"created {plugin_dir / 'README.md'}" in result.output.splitlines()
    assert (plugin_dir / "README.md").read_text().startswith("### `club` (role type)\n")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Club", "use lower_snake_case"),
        ("gift-card", "use lower_snake_case"),
        ("import", "it is a Python keyword"),
        ("customer", "is taken by xrm's built-in role type 'customer'"),
        ("person", "is taken by xrm's built-in party kind 'person'"),
        ("account_manager", "is taken by xrm's built-in relationship type 'account_manager'"),
        ("loyalty", "is the plugin's own role type"),
        ("registered", "is reserved by the entity modules"),
    ],
)
def test_invalid_entity_names_are_refused(plugin_dir: Path, name: str, reason: str) -> None:
    before = snapshot(plugin_dir)
    message = user_error(run("entity", name, "--plugin", plugin_dir, "--kind", "role"))
    assert f"{name!r}" in message
    assert reason in message
    assert snapshot(plugin_dir) == before


@pytest.mark.parametrize("name", ["membership", "loyalty_membership"])
def test_a_model_whose_table_exists_is_refused(plugin_dir: Path, name: str) -> None:
    message = user_error(run("entity", name, "--plugin", plugin_dir, "--kind", "model"))
    first = plugin_dir / "xrm_loyalty" / "migrations" / "loyalty_0001.py"
    assert message == f"Error: table 'loyalty_membership' is already created by {first}"


def test_a_model_whose_table_name_is_too_long_is_refused(tmp_path: Path) -> None:
    assert run("plugin", "b" * 30, "--dir", tmp_path).exit_code == 0
    plugin_path = tmp_path / f"xrm-{'b' * 30}"
    assert run("entity", "c" * 14, "--plugin", plugin_path, "--kind", "model").exit_code == 0
    message = user_error(run("entity", "d" * 15, "--plugin", plugin_path, "--kind", "model"))
    assert "46 characters, at most 45" in message


def test_several_heads_are_refused(plugin_dir: Path) -> None:
    migrations = plugin_dir / "xrm_loyalty" / "migrations"
    (migrations / "loyalty_0001b.py").write_text(
        'revision = "loyalty_0001b"\ndown_revision = None\n'
    )
    message = user_error(run("entity", "voucher", "--plugin", plugin_dir, "--kind", "model"))
    assert message == (
        "Error: the migrations of plugin 'loyalty' have 2 heads (loyalty_0001, loyalty_0001b): "
        "merge them into one before adding a revision"
    )


def test_a_revision_after_a_merge_takes_the_next_number(plugin_dir: Path) -> None:
    migrations = plugin_dir / "xrm_loyalty" / "migrations"
    (migrations / "loyalty_0002_a.py").write_text(
        'revision = "loyalty_0002"\ndown_revision = "loyalty_0001"\n'
    )
    (migrations / "loyalty_0003_b.py").write_text(
        'revision: str = "loyalty_0003"\ndown_revision = "loyalty_0001"\n'
    )
    (migrations / "loyalty_0007_merge.py").write_text(
        'revision = "loyalty_0007"\ndown_revision = ("loyalty_0002", "loyalty_0003")\n'
    )
    assert run("entity", "voucher", "--plugin", plugin_dir, "--kind", "model").exit_code == 0
    values = module_values(migrations / "loyalty_0008_voucher.py", "revision", "down_revision")
    assert values == {"revision": "loyalty_0008", "down_revision": "loyalty_0007"}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('revision = "x" +\n', "cannot read the revision"),
        ("revision = compute()\n", "revision must be a literal"),
        ('revision = "x"\ndown_revision = 3\n', "down_revision 3 is not a revision id"),
    ],
)
def test_an_unreadable_revision_is_reported(plugin_dir: Path, content: str, reason: str) -> None:
    (plugin_dir / "xrm_loyalty" / "migrations" / "broken.py").write_text(content)
    message = user_error(run("entity", "voucher", "--plugin", plugin_dir, "--kind", "model"))
    assert reason in message
    assert "broken.py" in message


@pytest.mark.parametrize(
    ("pyproject", "reason"),
    [
        (None, "is not a plugin distribution: no pyproject.toml"),
        ("[project\n", "cannot read"),
        ('[project]\nname = "x"\n', "declares no xrm plugin"),
        (
            '[project.entry-points.xrm]\na = "xrm_a"\nb = "xrm_b"\n',
            "declares several xrm plugins (a, b)",
        ),
        ('[project.entry-points.xrm]\na = "xrm_a:plugin"\n', "must name a top-level module"),
        ('[project.entry-points.xrm]\nA = "xrm_a"\n', "plugin name 'A' is not lower_snake_case"),
        ('[project.entry-points.xrm]\na = "xrm_a"\n', "is not a package"),
    ],
)
def test_a_directory_that_is_no_scaffolded_plugin_is_refused(
    tmp_path: Path, pyproject: str | None, reason: str
) -> None:
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject)
    message = user_error(run("entity", "club", "--plugin", tmp_path, "--kind", "role"))
    assert reason in message


def test_a_model_needs_the_migrations_directory(plugin_dir: Path) -> None:
    migrations = plugin_dir / "xrm_loyalty" / "migrations"
    for path in migrations.iterdir():
        path.unlink()
    message = user_error(run("entity", "voucher", "--plugin", plugin_dir, "--kind", "model"))
    assert message == "Error: no Alembic revision found for plugin 'loyalty'"
    migrations.rmdir()
    message = user_error(run("entity", "voucher", "--plugin", plugin_dir, "--kind", "model"))
    assert message == f"Error: {migrations} is missing: the plugin has no migrations"


# -- templates ----------------------------------------------------------------------------


def test_templates_are_jinja_files_never_python() -> None:
    templates = [p for p in scaffolding.TEMPLATES.rglob("*") if p.is_file()]
    assert templates
    assert all(p.name.endswith(".jinja") for p in templates), templates
    assert not list(scaffolding.TEMPLATES.rglob("__init__.py"))


def test_every_template_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    used: set[str] = set()
    render = scaffolding.render

    def recording(template: str, context: Any) -> str:
        used.add(template)
        return render(template, context)

    monkeypatch.setattr(scaffolding, "render", recording)
    assert run("plugin", "loyalty", "--dir", tmp_path).exit_code == 0
    for kind in scaffolding.KINDS:
        name = f"my_{kind.replace('-', '_')}"
        result = run("entity", name, "--plugin", tmp_path / "xrm-loyalty", "--kind", kind)
        assert result.exit_code == 0, result.output
    on_disk = {
        p.relative_to(scaffolding.TEMPLATES).as_posix()
        for p in scaffolding.TEMPLATES.rglob("*.jinja")
    }
    assert used == on_disk


def test_templates_render_with_strict_undefined() -> None:
    with pytest.raises(jinja2.UndefinedError, match="'distribution' is undefined"):
        scaffolding.render("plugin/pyproject.toml.jinja", {})


def ruff(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


LONGEST = "abcdefghij_klmnopqrst_uvwxyz_1"  # 30 characters


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed")
@pytest.mark.parametrize(
    ("plugin", "entities"),
    [
        ("a", [("b", "role"), ("c", "party-kind"), ("d", "relationship"), ("e", "model")]),
        (
            LONGEST,
            [
                (LONGEST[:-1] + "2", "role"),
                (LONGEST[:-1] + "3", "party-kind"),
                (LONGEST[:-1] + "4", "relationship"),
                ("abcdefghijklm", "model"),  # the table name takes the 45 characters allowed
            ],
        ),
    ],
    ids=["shortest-names", "longest-names"],
)
def test_generated_code_is_lint_and_format_clean_whatever_the_name_length(
    tmp_path: Path, plugin: str, entities: list[tuple[str, str]]
) -> None:
    assert run("plugin", plugin, "--dir", tmp_path).exit_code == 0
    plugin_path = tmp_path / f"xrm-{plugin}"
    for name, kind in entities:
        result = run("entity", name, "--plugin", plugin_path, "--kind", kind)
        assert result.exit_code == 0, result.output
    for args in (["check", "."], ["format", "--check", "--diff", "."]):
        done = ruff(*args, cwd=plugin_path)
        assert done.returncode == 0, done.stdout + done.stderr


# -- end to end: a generated plugin installed, tested, linted, typed and migrated ----------


def _clean_environment() -> dict[str, str]:
    """This process's environment without what would steer the plugin's run elsewhere: the
    XRM_* switches and database URLs (its tests must not touch our PostgreSQL database),
    PYTHONPATH and pytest's options."""
    dropped = ("XRM_", "PYTHONPATH", "PYTEST_ADDOPTS", "MYPYPATH", "PIP_")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    environ["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    environ["PIP_NO_INPUT"] = "1"
    return environ


def _make_venv(where: Path) -> Path:
    """A virtualenv that sees this environment's packages (xrm, pytest, ruff, mypy...) and
    imports xrm from a plain directory, as an installed xrm would be: mypy cannot follow
    setuptools' editable-install finder."""
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(where)
    python = where / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    import xrm

    xrm_home = where / "xrm-source"
    xrm_home.mkdir()
    (xrm_home / "xrm").symlink_to(Path(xrm.__file__).parent, target_is_directory=True)
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    parent = "".join(f"import site; site.addsitedir({path!r})\n" for path in sorted(ours))
    (Path(site_packages) / "_xrm_parent_env.pth").write_text(parent)
    (Path(site_packages) / "xrm_source.pth").write_text(f"{xrm_home}\n")
    return python


def _build_isolation_args() -> list[str]:
    """Build with this environment's setuptools when it is new enough for the generated
    pyproject (setuptools>=77), so nothing is downloaded; else let pip fetch it."""
    try:
        major = int(importlib.metadata.version("setuptools").split(".")[0])
    except importlib.metadata.PackageNotFoundError:
        return []
    return ["--no-build-isolation"] if major >= 77 else []


UPGRADE_AND_LIST = """
import json, sys
from sqlalchemy import inspect
from xrm import XRM

app = XRM(sys.argv[1])
app.upgrade()
info = {p.name: {"status": p.status, "version": p.version, "error": p.error}
        for p in app.plugin_info()}
print(json.dumps({
    "plugins": info,
    "tables": sorted(inspect(app.engine).get_table_names()),
    "current": app.schema_is_current(),
}))
app.dispose()
"""


def test_a_scaffolded_plugin_installs_passes_its_checks_and_migrates(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # mypy's cache outlives the test where pytest keeps one: later runs take seconds
    cache: pytest.Cache | None = getattr(request.config, "cache", None)
    mypy_cache = cache.mkdir("scaffold-mypy") if cache is not None else tmp_path / "mypy-cache"
    environ = _clean_environment()
    python = _make_venv(tmp_path / "venv")
    plugin = tmp_path / "xrm-kudos"

    def call(*args: str | Path, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [str(a) for a in args],
            cwd=plugin,
            env=env or environ,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def checks(expected_tests: int) -> None:
        summary = call(python, "-m", "pytest", "-q", "-p", "no:cacheprovider").splitlines()[-1]
        assert f"{expected_tests} passed" in summary, summary
        assert "failed" not in summary and "error" not in summary, summary
        call(python, "-m", "ruff", "check", ".")
        call(python, "-m", "ruff", "format", "--check", ".")
        call(python, "-m", "mypy", "--cache-dir", mypy_cache)

    def upgrade(database: Path) -> dict[str, Any]:
        env = {**environ, "XRM_LOAD_PLUGINS": "kudos"}
        result: dict[str, Any] = json.loads(
            call(python, "-c", UPGRADE_AND_LIST, f"sqlite:///{database}", env=env)
        )
        return result

    assert run("plugin", "kudos", "--dir", tmp_path).exit_code == 0
    call(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps",
         *_build_isolation_args(), "-e", plugin)  # fmt: skip
    checks(expected_tests=7)

    database = tmp_path / "app.db"
    state = upgrade(database)
    assert state["plugins"]["kudos"] == {"status": "loaded", "version": "0.1.0", "error": None}
    assert "kudos_membership" in state["tables"]
    assert state["current"] is True

    for name, kind in [
        ("ambassador", "role"),
        ("trust", "party-kind"),
        ("sponsor", "relationship"),
        ("voucher", "model"),
    ]:
        result = run("entity", name, "--plugin", plugin, "--kind", kind)
        assert result.exit_code == 0, result.output
    checks(expected_tests=7 + 3 + 3 + 3 + 2)

    state = upgrade(database)  # the same database: kudos_0001 -> kudos_0002
    assert {"kudos_membership", "kudos_voucher"} <= set(state["tables"])
    assert state["current"] is True


def test_e2e_helpers_keep_the_plugin_away_from_our_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XRM_TEST_DATABASE_URL", "postgresql://elsewhere/db")
    monkeypatch.setenv("XRM_DISABLE_PLUGINS", "kudos")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    environ = _clean_environment()
    assert not any(k.startswith("XRM_") for k in environ)
    assert "PYTHONPATH" not in environ
