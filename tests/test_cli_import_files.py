"""``xrm import`` survives the files people have: Excel's French semicolons in cp1252, a
byte order mark, a Latin-1 file read as UTF-8, a lone surrogate or a bad byte in JSON
Lines, an unbalanced quote, columns of other names or of no use. A bad row is that row's
error, reported with its line; the other rows are imported; the summary is always printed.

Each test runs on SQLite, and on PostgreSQL when XRM_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from xrm import XRM
from xrm.cli import cli
from xrm.testing import snapshot

from .test_cli_errors import cli_database

Run = Callable[..., Result]


@pytest.fixture
def app(xrm_backend: str, tmp_path: Path) -> Iterator[XRM]:
    """The database the CLI imports into, migrated and empty, to read back what it did."""
    application = XRM(cli_database(xrm_backend, tmp_path, "xrm_test_cli_import"))
    yield application
    application.dispose()


@pytest.fixture
def run(app: XRM) -> Run:
    url = app.engine.url.render_as_string(hide_password=False)

    def invoke(*args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(cli, ["--database", url, *args])
        assert result.exit_code == code, (result.output, result.exception)
        assert "Traceback" not in result.output
        return result

    return invoke


def names(app: XRM) -> list[str]:
    with app.session() as s:
        return sorted(p.display_name for p in s.parties.list(limit=1000))


def write(tmp_path: Path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


FRENCH_EXCEL = (
    "Nom;Courriel;Téléphone;Étiquettes;Remarque\r\n"
    "Dupont, Marie;marie.dupont@example.com;06 12 34 56 78;client;appelée le 3/4\r\n"
    "Lefèvre, Hélène;helene@example.com;;;\r\n"
    "Société Générale;;01 42 14 20 00;banque;siège\r\n"
).encode("cp1252")
FRENCH_MAP = (
    "--map",
    "Nom=name",
    "--map",
    "Courriel=email",
    "--map",
    "Téléphone=phone",
    "--map",
    "étiquettes=tags",
)


def test_a_french_excel_file_semicolons_cp1252_own_column_names(
    run: Run, app: XRM, tmp_path: Path
) -> None:
    path = write(tmp_path, "clients.csv", FRENCH_EXCEL)
    first = run("import", path, "--encoding", "cp1252", "--region", "FR", *FRENCH_MAP)
    assert first.stdout == (
        "clients.csv: 3 created, 0 updated, 0 unchanged, 0 rejected, 0 not recognisable\n"
    )
    assert first.stderr == (  # the column nobody mapped, named once
        "warning: column(s) Remarque not imported: not one of birth_date, consents, email, "
        "family_name, given_name, identifiers, kind, language, name, phone, quiet_hours, "
        "region, roles, source, tags, time_zone (--map COLUMN=FIELD reads one as a field)\n"
    )
    assert names(app) == ["Dupont, Marie", "Lefèvre, Hélène", "Société Générale"]
    with app.session() as s:
        marie = s.parties.get(s.parties.find_ids(phone="+33612345678")[0])
        assert list(marie.tags) == ["client"] and marie.primary("email") is not None
    again = run("import", path, "--encoding", "cp1252", "--region", "FR", *FRENCH_MAP)
    assert "0 created, 0 updated, 3 unchanged, 0 rejected" in again.stdout


def test_the_delimiter_is_detected_or_given(run: Run, app: XRM, tmp_path: Path) -> None:
    tabs = write(tmp_path, "people.tsv", b"name\temail\nAnn, Jr\tann@example.com\n")
    assert "1 created" in run("import", tabs).stdout
    pipes = write(tmp_path, "pipes.csv", b"name|email\nBob; Sr|bob@example.com\n")
    assert "1 created" in run("import", pipes, "--delimiter", "|").stdout
    semicolons = write(tmp_path, "semi.csv", b"name;email\nCy;cy@example.com\n")
    assert "1 created" in run("import", semicolons, "--delimiter", "semicolon").stdout
    wrong = run("import", semicolons, "--delimiter", ",", code=1).stderr
    assert wrong.startswith("warning: column(s) name;email not imported")
    assert names(app) == ["Ann, Jr", "Bob; Sr", "Cy"]


def test_a_utf8_byte_order_mark_is_skipped(run: Run, app: XRM, tmp_path: Path) -> None:
    csv_path = write(tmp_path, "bom.csv", "\ufeffname,email\nZoé,zoe@example.com\n".encode())
    result = run("import", csv_path)
    assert result.stderr == "" and "1 created" in result.stdout  # "name" is no unknown column
    jsonl_path = write(tmp_path, "bom.jsonl", '\ufeff{"name": "Éric"}\n'.encode())
    assert "1 not recognisable" in run("import", jsonl_path).stdout
    assert names(app) == ["Zoé", "Éric"]


def test_a_latin1_file_read_as_utf8_rejects_its_lines_naming_the_encoding(
    run: Run, app: XRM, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "latin1.csv",
        "name,email\nJosé,jose@example.com\nAnn,ann@example.com\n".encode("latin-1"),
    )
    result = run("import", path, code=1)
    assert result.stderr == (
        "line 2: not utf-8 text (byte 0xE9): give the file's --encoding (cp1252 or latin-1 for "
        "most files saved by Excel on Windows)\n"
    )
    assert "1 created, 0 updated, 0 unchanged, 1 rejected" in result.stdout
    assert (
        "1 created, 0 updated, 1 unchanged" in run("import", path, "--encoding", "latin-1").stdout
    )
    assert names(app) == ["Ann", "José"]


def test_a_bad_byte_after_the_first_batch_leaves_a_summary_and_the_other_rows(
    run: Run, app: XRM, tmp_path: Path
) -> None:
    """Once a crash after the first committed batch, with no summary."""
    rows = [f"P{i},p{i}@example.com".encode() for i in range(7)]
    rows[4] = b"Fran\xe7ois,francois@example.com"
    path = write(tmp_path, "mixed.csv", b"name,email\n" + b"\n".join(rows) + b"\n")
    result = run("import", path, "--batch", "2", code=1)
    assert result.stderr.startswith("line 6: not utf-8 text (byte 0xE7)")
    assert result.stdout == (
        "mixed.csv: 6 created, 0 updated, 0 unchanged, 1 rejected, 0 not recognisable\n"
    )
    assert len(names(app)) == 6


def test_json_lines_with_a_lone_surrogate_or_a_bad_byte_import_the_other_rows(
    run: Run, app: XRM, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "people.jsonl",
        b'{"name": "Ann", "emails": ["ann@example.com"]}\n'
        b'{"name": "Bad \\ud800", "emails": ["bad@example.com"]}\n'
        b'{"name": "Raw \xff", "emails": ["raw@example.com"]}\n'
        b'{"name": "Cy", "emails": ["cy@example.com"], "roles": [{"type": "customer"}]}\n',
    )
    result = run("import", path, code=1)
    assert result.stderr.splitlines() == [
        "line 2: name: contains a lone surrogate (\\ud800), which is not text",
        "line 3: not utf-8 text (byte 0xFF): give the file's --encoding (cp1252 or latin-1 for "
        "most files saved by Excel on Windows)",
    ]
    assert "2 created, 0 updated, 0 unchanged, 2 rejected" in result.stdout
    assert names(app) == ["Ann", "Cy"]


def test_an_unbalanced_quote_is_reported_on_its_line_not_folded_into_a_name(
    run: Run, app: XRM, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "quotes.csv",
        b'name,email\n"Dupont, Marie,marie@example.com\nPaul,paul@example.com\n'
        b'"Smith, Jo",jo@example.com\nAnn,ann@example.com\n',
    )
    result = run("import", path, code=1)
    assert result.stderr == (
        'line 2: unbalanced quote: the " opened on this line is not closed on it; row left out\n'
    )
    assert "3 created, 0 updated, 0 unchanged, 1 rejected" in result.stdout
    assert names(app) == ["Ann", "Paul", "Smith, Jo"]


def test_a_quoted_line_break_in_a_column_not_imported_is_kept(
    run: Run, app: XRM, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "notes.csv",
        b'name,notes,email\nAnn,"line one\nline two",ann@x.org\nBob,,bob@x.org\n',
    )
    result = run("import", path)
    assert "2 created, 0 updated, 0 unchanged, 0 rejected" in result.stdout
    assert result.stderr.startswith("warning: column(s) notes not imported")


def test_more_values_than_columns_is_the_rows_error(run: Run, app: XRM, tmp_path: Path) -> None:
    path = write(tmp_path, "commas.csv", b"name,email\nDupont, Marie,marie@x.org\nAnn,ann@x.org,\n")
    result = run("import", path, code=1)
    assert (
        result.stderr == "line 2: 3 values for 2 columns (a value holding a comma must be quoted)\n"
    )
    assert names(app) == ["Ann"]  # a trailing empty value is no extra value


def test_unknown_columns_are_named_once_and_json_fields_once_each(run: Run, tmp_path: Path) -> None:
    rows = "".join(f"P{i},p{i}@x.org,blue,{i}\n" for i in range(600))
    path = write(tmp_path, "extra.csv", f"name,email,colour,Score\n{rows}".encode())
    result = run("import", path, "--batch", "100")
    assert result.stderr.count("warning") == 1 and "colour, Score not imported" in result.stderr
    assert "600 created" in result.stdout
    lines = [
        json.dumps({"name": f"J{i}", "emails": [f"j{i}@x.org"], "colour": "red"}) for i in range(3)
    ]
    lines.append(json.dumps({"name": "K", "score": 3}))
    result = run("import", write(tmp_path, "extra.jsonl", "\n".join(lines).encode()))
    assert result.stderr.splitlines() == [
        "warning: line 1: field 'colour' is not imported (known: birth_date, consents, "
        "contact_points, display_name, emails, family_name, given_name, identifiers, kind, name, "
        "phones, preferences, region, roles, tags; --map NAME=FIELD reads it as one)",
        "warning: line 4: field 'score' is not imported (known: birth_date, consents, "
        "contact_points, display_name, emails, family_name, given_name, identifiers, kind, name, "
        "phones, preferences, region, roles, tags; --map NAME=FIELD reads it as one)",
    ]


def test_map_reads_other_names_and_joins_list_columns(run: Run, app: XRM, tmp_path: Path) -> None:
    path = write(
        tmp_path, "crm.csv", b"Full Name,Work Email,Home Email\nAnn,ann@work.org,ann@home.org\n"
    )
    run(
        "import",
        path,
        "--map",
        "full name=name",
        "--map",
        "Work Email=email",
        "--map",
        "Home Email=email",
    )
    with app.session() as s:
        ann = s.parties.get(s.parties.find_ids(email="ann@home.org")[0])
        assert ann.display_name == "Ann" and len(ann.contact_points) == 2
    jsonl = write(tmp_path, "crm.jsonl", b'{"fullName": "Bob", "mail": ["bob@x.org"]}\n')
    run("import", jsonl, "--map", "fullName=name", "--map", "mail=emails")
    assert names(app) == ["Ann", "Bob"]
    both = write(tmp_path, "both.csv", b"name,Nom\nAnn,Anne\n")
    refused = run("import", both, "--map", "Nom=name", code=1)
    assert "columns 'name' and 'Nom' both give name" in refused.stderr
    assert refused.stdout.startswith("both.csv: 0 created")  # the summary, even so
    missing = run("import", both, "--map", "Courriel=email", code=1)
    assert "--map: no column 'Courriel' in the file (its columns: name, Nom" in missing.stderr


def test_a_dry_run_reports_everything_and_writes_nothing(
    run: Run, app: XRM, tmp_path: Path
) -> None:
    run("party", "add", "person", "Ann", "--email", "ann@example.com")
    path = write(
        tmp_path,
        "dry.csv",
        b"name,email,roles\nAnn,ann@example.com,customer\nBob,bob@example.com,\n"
        b"Bob again,BOB@example.com,\nBad,nope,\nNobody,,\n",
    )
    before = snapshot(app)
    result = run("import", path, "--dry-run", code=1)
    assert result.stdout == (
        "dry.csv: 1 created, 1 updated, 1 unchanged, 1 rejected, 1 not recognisable (created "
        "again by each import); dry run, nothing written\n"
    )
    assert result.stderr.startswith("line 5: ")
    assert snapshot(app) == before
    real = run("import", path, code=1)
    assert real.stdout.replace("; dry run, nothing written", "") == result.stdout.replace(
        "; dry run, nothing written", ""
    )


def test_rows_with_nothing_to_recognise_them_by_are_counted_apart_or_skipped(
    run: Run, app: XRM, tmp_path: Path
) -> None:
    path = write(
        tmp_path, "names.csv", b"name,email,identifiers\nAnn,ann@x.org,\nBob,,\nCy,,legacy=C-1\n"
    )
    tail = "1 not recognisable (created again by each import)"
    assert f"2 created, 0 updated, 0 unchanged, 0 rejected, {tail}" in run("import", path).stdout
    assert f"0 created, 0 updated, 2 unchanged, 0 rejected, {tail}" in run("import", path).stdout
    assert names(app) == ["Ann", "Bob", "Bob", "Cy"]  # as the docs say: Bob again
    skipped = run("import", path, "--skip-unrecognisable").stdout
    assert "0 created, 0 updated, 2 unchanged, 0 rejected, 1 not recognisable (skipped)" in skipped
    assert names(app) == ["Ann", "Bob", "Bob", "Cy"]


def test_a_local_phone_number_asks_for_region(run: Run, app: XRM, tmp_path: Path) -> None:
    path = write(
        tmp_path, "phones.csv", b"name,phone,region\nAnn,06 12 34 56 78,\nBob,020 7946 0000,GB\n"
    )
    refused = run("import", path, code=1)
    assert refused.stderr.startswith("line 2: ") and "--region CC" in refused.stderr
    assert "1 created" in run("import", path, "--region", "FR").stdout  # GB stays GB
    with app.session() as s:
        assert s.parties.find_ids(phone="+33612345678") and s.parties.find_ids(
            phone="+442079460000"
        )


def test_all_or_nothing_reports_every_bad_row_and_writes_nothing(
    run: Run, app: XRM, tmp_path: Path
) -> None:
    path = write(tmp_path, "strict.csv", b"name,email\nAnn,ann@x.org\nBad,nope\nWorse,\xff@x.org\n")
    result = run("import", path, "--all-or-nothing", code=1)
    assert result.stderr.splitlines()[0].startswith("line 4: not utf-8 text (byte 0xFF)")
    assert result.stderr.splitlines()[1].startswith("Error: line 3: ")
    assert result.stderr.endswith("; nothing was imported\n")
    assert "0 created, 0 updated, 0 unchanged, 2 rejected" in result.stdout
    assert names(app) == []


def test_a_row_that_breaks_its_whole_batch_is_that_rows_error(
    run: Run, app: XRM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A raw error out of the bulk path (a database refusing one value) is narrowed down to
    its row: the batch is imported again by halves."""
    with app.session() as s:
        service = type(s.imports)
    original = service.import_many

    def import_many(self: Any, records: Any, **kw: Any) -> Any:
        records = list(records)
        if any(r.get("name") == "Boom" for r in records):
            raise RuntimeError("value out of range for the database")
        return original(self, records, **kw)

    monkeypatch.setattr(service, "import_many", import_many)
    rows = "".join(f"P{i},p{i}@x.org\n" for i in range(9))
    path = write(
        tmp_path, "boom.csv", f"name,email\n{rows}Boom,boom@x.org\nZed,zed@x.org\n".encode()
    )
    result = run("import", path, code=1)
    assert result.stderr == "line 11: RuntimeError: value out of range for the database\n"
    assert "10 created, 0 updated, 0 unchanged, 1 rejected" in result.stdout
    assert len(names(app)) == 10


def test_a_workbook_or_an_empty_file(run: Run, tmp_path: Path) -> None:
    workbook = write(tmp_path, "book.csv", b"PK\x03\x04" + b"\x00" * 100)
    result = run("import", workbook, code=1)
    assert "spreadsheet workbook, not CSV" in result.stderr and "0 created" in result.stdout
    empty = run("import", write(tmp_path, "empty.csv", b""))
    assert empty.stderr == "warning: the file is empty\n" and "0 created" in empty.stdout


def test_xrm_import_prints_the_warning_with_the_line_number(
    run: Run, app: XRM, tmp_path: Path
) -> None:
    path = write(tmp_path, "phones.csv", b"name,phone\nAnn,06 12\nBob,06 12 34 56 78\n")
    result = run("import", path, "--region", "FR")
    assert "2 created" in result.stdout
    assert result.stderr.startswith("line 2: warning: phones.0: '06 12' is not a valid phone")
