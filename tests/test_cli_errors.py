"""The command line never prints a traceback: hostile input of every kind ends in one
line, ``Error: ...`` with exit code 1 (or click's usage error, exit code 2), and leaves
the database exactly as it was.

The table below is the hostile-input suite of the CLI: ids that are not numbers or do not
fit 64 bits, database URLs that cannot be parsed or whose driver is missing, files that
are missing, are directories or are not text, values of 200,000 characters, NULs, lone
surrogates, JSON nested 100,000 deep. Each case runs on SQLite, and on PostgreSQL when
XRM_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text
from sqlalchemy.engine import make_url

from xrm import XRM
from xrm.cli import cli
from xrm.cli._common import clip, spreadsheet_safe
from xrm.testing import snapshot, wipe

PG_URL = os.environ.get("XRM_TEST_DATABASE_URL")
SCHEMA = "xrm_test_cli_errors"


def cli_database(backend: str, tmp_path: Path, schema: str) -> str:
    """A migrated database for the CLI with every installed plugin: a SQLite file, or a
    PostgreSQL schema of its own (emptied), named in the URL so the CLI uses it."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'cli.db'}"
    else:
        assert PG_URL is not None
        admin = XRM(PG_URL, builtins=False, discover=False)
        with admin.engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        admin.dispose()
        options = {"options": f"-csearch_path={schema}"}
        url = make_url(PG_URL).update_query_dict(options).render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, ["--database", url, "db", "upgrade"])
    assert result.exit_code == 0, result.output
    if backend == "postgresql":
        app = XRM(url)
        wipe(app)
        app.dispose()
    return url


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, XRM]]:
    """One database for the whole table (every case must leave it as it was): ACME
    (party 1) and Marie Dupont (party 2), who is a customer."""
    if request.param == "postgresql" and not PG_URL:
        pytest.skip("XRM_TEST_DATABASE_URL is not set")
    url = cli_database(request.param, tmp_path_factory.mktemp("cli-errors"), SCHEMA)
    runner = CliRunner()
    for args in (
        ["party", "add", "organization", "ACME", "--identifier", "fr.siren=732829320"],
        [
            "party",
            "add",
            "person",
            "Marie Dupont",
            "--email",
            "marie.dupont@example.com",
            "--phone",
            "+33612345678",
        ],
        ["role", "assign", "2", "customer"],
    ):
        result = runner.invoke(cli, ["--database", url, *args])
        assert result.exit_code == 0, result.output
    app = XRM(url)
    yield url, app
    app.dispose()


class Case(NamedTuple):
    """A command line; ``{file}`` in it is a file holding ``file``; ``{dir}`` a directory;
    ``stdin`` is typed at the prompt."""

    argv: tuple[str, ...]
    file: bytes | None = None
    stdin: str | None = None
    suffix: str = ".csv"


def jsonl(*rows: object) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


HUGE = "a" * 200_000
LONG_EMAIL = "a" * 489 + "@example.com"  # 501 characters
BIG_ID = "9" * 20
IMPORT = ("import", "{file}")

CASES: dict[str, Case] = {
    # ids: not a number, too large, not digits
    "show superscript two": Case(("party", "show", "²")),
    "show a 20-digit id": Case(("party", "show", BIG_ID)),
    "show an empty reference": Case(("party", "show", "")),
    "show a NUL": Case(("party", "show", "\x00")),
    "show a lone surrogate": Case(("party", "show", "a\ud800@example.com")),
    "show 200,000 characters": Case(("party", "show", HUGE)),
    "show a long scheme:value": Case(("party", "show", "fr.siren:" + HUGE)),
    "show a long phone": Case(("party", "show", "+" + "9" * 60)),
    "role end superscript two": Case(("role", "end", "²")),
    "role end a 20-digit id": Case(("role", "end", BIG_ID)),
    "role move a 20-digit id": Case(("role", "move", BIG_ID, "prospect")),
    "update a 20-digit version": Case(("party", "update", "2", "--version", BIG_ID, "--name", "X")),
    "update a version in letters": Case(
        ("party", "update", "2", "--version", "two", "--name", "X")
    ),
    "timeline a 20-digit id": Case(("timeline", BIG_ID)),
    "export a 20-digit id": Case(("export", BIG_ID)),
    "erase a 20-digit id": Case(("erase", BIG_ID, "--reason", "art. 17", "--yes")),
    "unmerge a 20-digit id": Case(("unmerge", BIG_ID)),
    "merge a party into itself": Case(("merge", "2", "2")),
    "list after a forged cursor": Case(("party", "list", "--after", "x" * 5000)),
    "list a limit of zero": Case(("party", "list", "--limit", "0")),
    # values: too long, not text, unknown
    "add a 200,000-character name": Case(("party", "add", "person", HUGE)),
    "add a 501-character email": Case(("party", "add", "person", "Jo", "--email", LONG_EMAIL)),
    "add a name with a NUL": Case(("party", "add", "person", "Jo\x00")),
    "add a name with a lone surrogate": Case(("party", "add", "person", "Jo\udc80")),
    "add an unknown kind": Case(("party", "add", "robot", "R2")),
    "add an identifier without =": Case(("party", "add", "person", "Jo", "--identifier", "x")),
    "add a local phone with no region": Case(
        ("party", "add", "person", "Jo", "--phone", "0612345678")
    ),
    "assign a 100,000-character role": Case(("role", "assign", "2", "r" * 100_000)),
    "relate an unknown type": Case(("relate", "married_to", "1", "2")),
    "interact on an unknown channel": Case(
        ("interact", "--channel", "telepathy", "--direction", "inbound", "--party", "2")
    ),
    "email without consent": Case(
        (
            "interact",
            "--channel",
            "email",
            "--direction",
            "outbound",
            "--purpose",
            "marketing",
            "--party",
            "2",
        )
    ),
    "grant an unknown purpose": Case(("consent", "grant", "2", "nope", "--source", "x")),
    "grant without a source": Case(("consent", "grant", "2", "marketing")),
    "check at no date": Case(("consent", "check", "2", "marketing", "email", "--at", "soon")),
    "audience at no date": Case(("consent", "audience", "marketing", "email", "--at", HUGE)),
    "dedupe an unknown kind": Case(("dedupe", "--kind", "robot")),
    "erase answered no": Case(("erase", "2", "--reason", "art. 17"), stdin="n\n"),
    # databases: unparseable URL, unknown or missing driver, unreachable
    "a URL that is no URL": Case(("--database", "not a url", "party", "list")),
    "an unknown dialect": Case(("--database", "foo://x/y", "party", "list")),
    "a missing driver": Case(("--database", "postgresql+nodriver://u:pw@h/db", "party", "list")),
    "a driver not installed": Case(("--database", "postgresql+psycopg2://u@h/db", "party", "list")),
    "a dialect whose driver is not installed": Case(
        ("--database", "mysql://u@h/db", "party", "list")
    ),
    "a port out of range": Case(
        ("--database", "postgresql://u@127.0.0.1:99999/db", "party", "list")
    ),
    "a directory that is not there": Case(
        ("--database", "sqlite:////nonexistent/dir/x.db", "party", "list")
    ),
    "a 5,000-character file name": Case(("--database", "sqlite:///" + "d" * 5000, "party", "list")),
    "an unknown default region": Case(("--region", "XYZ", "party", "list")),
    # files: missing, a directory, not text, not what they say
    "import a missing file": Case(("import", "/nonexistent/people.csv")),
    "import a directory": Case(("import", "{dir}")),
    "import a workbook": Case(IMPORT, b"PK\x03\x04\x14\x00\x06\x00rest of a zip"),
    "import Latin-1 as UTF-8": Case(
        IMPORT, "name,email\nJosé,jose@example.com\n".encode("latin-1")
    ),
    "import a lone surrogate": Case(
        IMPORT, b'{"name": "\\ud800", "emails": ["s@example.com"]}\n', suffix=".jsonl"
    ),
    "import an invalid byte": Case(
        IMPORT, b'{"name": "\xff", "emails": ["b@example.com"]}\n', suffix=".jsonl"
    ),
    "import JSON nested 100,000 deep": Case(
        IMPORT, b"[" * 100_000 + b"]" * 100_000 + b"\n", suffix=".jsonl"
    ),
    "import attributes nested 40 deep": Case(
        IMPORT,
        jsonl(
            {
                "name": "N",
                "emails": ["n@example.com"],
                "roles": [
                    {"type": "customer", "attributes": json.loads('{"a":' * 40 + "1" + "}" * 40)}
                ],
            }
        ),
        suffix=".jsonl",
    ),
    "import a NUL": Case(
        IMPORT, jsonl({"name": "N\x00", "emails": ["z@example.com"]}), suffix=".jsonl"
    ),
    "import NaN": Case(IMPORT, b'{"name": NaN}\n', suffix=".jsonl"),
    "import a list, not an object": Case(IMPORT, b"[1, 2]\n", suffix=".jsonl"),
    "import a 200,000-character name": Case(
        IMPORT, jsonl({"name": HUGE, "emails": ["h@example.com"]}), suffix=".jsonl"
    ),
    "import a 501-character email": Case(
        IMPORT, jsonl({"name": "Jo", "emails": [LONG_EMAIL]}), suffix=".jsonl"
    ),
    "import a 200,000-character CSV value": Case(
        IMPORT, f"name,email\n{HUGE},c@example.com\n".encode()
    ),
    "import an unbalanced quote": Case(IMPORT, b'name,email\n"Dupont, Marie,q@example.com\n'),
    "import more values than columns": Case(IMPORT, b"name,email\nDupont, Marie,d@example.com\n"),
    "import a header not in the encoding": Case(IMPORT, b"n\xe9m,email\nJo,jo@example.com\n"),
    "import an unknown encoding": Case(("import", "{file}", "--encoding", "klingon"), b"name\n"),
    "import a two-character delimiter": Case(("import", "{file}", "--delimiter", ";;"), b"name\n"),
    "import a map without =": Case(("import", "{file}", "--map", "Courriel"), b"name\n"),
    "import a map to no field": Case(("import", "{file}", "--map", "Courriel=mail"), b"name\n"),
    "import a map of no column": Case(("import", "{file}", "--map", "Courriel=email"), b"name\n"),
    "import a three-letter region": Case(("import", "{file}", "--region", "FRA"), b"name\n"),
}


def assert_one_line_refusal(result: Result) -> str:
    """Exit code 1 or 2, one message line on standard error (click's usage lines and a
    prompt aside), no traceback, no value echoed at length; the message."""
    assert result.exit_code in (1, 2), (result.exit_code, result.output[:2000])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip() and "[y/N]" not in line]
    if result.exit_code == 2:
        lines = [line for line in lines if not line.startswith(("Usage: ", "Try '"))]
    assert len(lines) == 1, result.stderr[:2000]
    message = lines[0]
    assert message.startswith(("Error: ", "line ", "Aborted!")), message
    assert len(message) < 700 and not re.search(r"(.)\1{99}", message), message
    return message


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_hostile_input_gets_one_line_and_changes_nothing(
    case: Case, seeded: tuple[str, XRM], tmp_path: Path
) -> None:
    url, app = seeded
    argv = [a.replace("{dir}", str(tmp_path)) for a in case.argv]
    if case.file is not None:
        path = tmp_path / f"hostile{case.suffix}"
        path.write_bytes(case.file)
        argv = [a.replace("{file}", str(path)) for a in argv]
    before = snapshot(app)
    result = CliRunner().invoke(cli, ["--database", url, *argv], input=case.stdin)
    assert_one_line_refusal(result)
    assert snapshot(app) == before


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 40


def test_messages_quote_at_most_80_characters_of_a_value() -> None:
    message = clip(f"name: {'x' * 300!r} is too long; email: {'y' * 300} too")
    assert message == f"name: '{'x' * 77}…' is too long; email: {'y' * 79}… too"
    message = clip(f"name: {'x' * 1_000_000!r} is too long")
    assert len(message) < 100 and "x" * 70 in message and "x" * 80 not in message
    assert clip("a\x1b[2Jb\r\nc \udcff") == "a\\x1b[2Jb c \\udcff"  # no terminal control
    assert clip("a b " * 1_000_000).endswith("…") and len(clip("a b " * 1_000_000)) == 600


def test_an_unexpected_exception_is_one_line_naming_its_type(
    seeded: tuple[str, XRM], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = seeded

    def broken(*args: Any, **kw: Any) -> Any:
        raise KeyError("x" * 1000)

    monkeypatch.setattr(XRM, "session", broken)
    monkeypatch.delenv("XRM_DEBUG", raising=False)
    result = CliRunner().invoke(cli, ["--database", url, "party", "show", "1"])
    message = assert_one_line_refusal(result)
    assert message.startswith("Error: unexpected KeyError: 'xxx") and "XRM_DEBUG=1" in message


def test_xrm_debug_shows_the_traceback_to_developers(
    seeded: tuple[str, XRM], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = seeded
    monkeypatch.setenv("XRM_DEBUG", "1")
    result = CliRunner().invoke(cli, ["--database", url, "party", "show", "99"])
    assert result.exit_code == 1 and type(result.exception).__name__ == "NotFound"


def test_database_errors_name_the_option_and_hide_the_password(
    seeded: tuple[str, XRM],
) -> None:
    result = CliRunner().invoke(
        cli, ["-d", "postgresql+nodriver://me:s3cret@h/db", "party", "list"]
    )
    message = assert_one_line_refusal(result)
    assert "--database" in message and "nodriver" in message and "s3cret" not in message
    result = CliRunner().invoke(cli, ["-d", "no url://me:s3cret@h", "party", "list"])
    assert "not a database URL" in assert_one_line_refusal(result)
    assert "s3cret" not in result.output


def test_postgresql_without_its_driver_installed_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if xrm[postgresql] were missing
    result = CliRunner().invoke(
        cli, ["-d", "postgresql://me:s3cret@db.example/crm", "party", "list"]
    )
    assert assert_one_line_refusal(result) == (
        "Error: --database 'postgresql://me:***@db.example/crm': no database driver "
        "'postgresql' installed (pip install 'xrm[postgresql]')"
    )


def test_an_unreadable_file_is_one_line(seeded: tuple[str, XRM], tmp_path: Path) -> None:
    url, _ = seeded
    path = tmp_path / "locked.csv"
    path.write_text("name,email\nJo,jo@example.com\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):  # root reads it anyway: make it a file that fails
            pytest.skip("running as root: every file is readable")
        result = CliRunner().invoke(cli, ["--database", url, "import", str(path)])
    finally:
        path.chmod(0o644)
    assert assert_one_line_refusal(result).startswith("Error:")


def test_a_bad_id_where_a_number_is_expected_is_a_usage_error(seeded: tuple[str, XRM]) -> None:
    url, _ = seeded
    result = CliRunner().invoke(cli, ["--database", url, "role", "end", "²"])
    assert result.exit_code == 2 and "'²' is not a whole number" in result.stderr
    result = CliRunner().invoke(cli, ["--database", url, "party", "show", BIG_ID])
    assert result.exit_code == 1 and f"party {BIG_ID} not found" in result.stderr
    shown = CliRunner().invoke(cli, ["--database", url, "party", "show", "0" * 30 + "2"])
    assert "Marie Dupont" in shown.stdout


# -- what the CLI writes for spreadsheets ----------------------------------------------------
@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("+33612345678", "'+33612345678"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "' =1"),
        ("\r=1", "' =1"),
        ("marie@example.com", "marie@example.com"),
        ("a\tb\nc", "a b c"),
    ],
)
def test_spreadsheet_formulas_are_neutralised(value: str, cell: str) -> None:
    assert spreadsheet_safe(value) == cell


def test_the_audience_tsv_neutralises_formulas_and_json_keeps_values(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tsv.db'}"
    runner = CliRunner()

    def run(*args: str) -> Result:
        result = runner.invoke(cli, ["--database", url, *args])
        assert result.exit_code == 0, result.output
        return result

    run("db", "upgrade")
    run("party", "add", "person", "Formula", "--email", "=cmd|'/C.calc'!A0@example.com")
    run("party", "add", "person", "Phone", "--phone", "+33612345678")
    run("consent", "grant", "1", "marketing", "--source", "web_form")
    run("consent", "grant", "2", "marketing", "--source", "web_form")
    assert run("consent", "audience", "marketing", "email").stdout == (
        "1\t1\t'=cmd|'/C.calc'!A0@example.com\n"
    )
    assert run("consent", "audience", "marketing", "sms").stdout == "2\t2\t'+33612345678\n"
    member = json.loads(run("consent", "audience", "marketing", "email", "--json").stdout)
    assert member["value"] == "=cmd|'/C.calc'!A0@example.com"


# -- xrm db vacuum ---------------------------------------------------------------------------
def test_db_vacuum_leaves_no_erased_value_in_the_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vacuum.db'}"
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        result = runner.invoke(cli, ["--database", url, *args], input=input)
        assert result.exit_code == 0, result.output
        return result

    run("db", "upgrade")
    run("party", "add", "person", "Zebulon Quaggaface", "--email", "zebulon.q@example.com")
    run("erase", "1", "--reason", "art. 17", "--yes")
    assert "vacuumed" in run("db", "vacuum").stdout
    files = [p for p in tmp_path.iterdir() if p.name.startswith("vacuum.db")]
    assert files and not any(b"Quaggaface" in p.read_bytes() for p in files)


def test_db_vacuum_runs_on_each_database_and_changes_no_row(seeded: tuple[str, XRM]) -> None:
    url, app = seeded
    before = snapshot(app)
    result = CliRunner().invoke(cli, ["--database", url, "db", "vacuum"])
    assert result.exit_code == 0 and result.stdout.endswith(": vacuumed\n"), result.output
    assert snapshot(app) == before


def test_db_vacuum_is_a_command(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--database", f"sqlite:///{tmp_path / 'v.db'}", "db", "vacuum", "--help"]
    )
    assert result.exit_code == 0 and "erased data leaves the database files" in result.stdout
