"""``xrm import`` and ``xrm export``."""

from __future__ import annotations

import csv
import io
import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from xrm.cli._common import CliState, open_session, print_json, resolve_party

CSV_COLUMNS = {
    "kind", "name", "given_name", "family_name", "birth_date", "email", "phone", "region",
    "identifiers", "tags", "roles", "consents", "source",
}  # fmt: skip


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(";") if v.strip()]


def csv_row(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row as an import record. Lists are ``;``-separated: ``identifiers`` as
    ``scheme=value``, ``roles`` as ``type[:state]``, ``consents`` as
    ``purpose[@channel][=decision]`` (default granted), recorded with ``source``."""
    data: dict[str, Any] = {k: v.strip() for k in ("kind", "name", "given_name", "family_name",
                                                  "birth_date", "region")
                            if (v := row.get(k) or "").strip()}  # fmt: skip
    data["emails"] = _split(row.get("email"))
    data["phones"] = _split(row.get("phone"))
    data["tags"] = _split(row.get("tags"))
    identifiers = {}
    for item in _split(row.get("identifiers")):
        scheme, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"identifiers: {item!r} is not scheme=value")
        identifiers[scheme.strip()] = value.strip()
    data["identifiers"] = identifiers
    data["roles"] = [dict(zip(("type", "state"), item.split(":", 1), strict=False))
                     for item in _split(row.get("roles"))]  # fmt: skip
    consents = []
    for item in _split(row.get("consents")):
        head, _, decision = item.partition("=")
        purpose, _, channel = head.partition("@")
        consent: dict[str, Any] = {"purpose": purpose.strip(),
                                   "source": (row.get("source") or "import").strip()}  # fmt: skip
        if channel.strip():
            consent["channel"] = channel.strip()
        if decision.strip():
            consent["decision"] = decision.strip()
        consents.append(consent)
    data["consents"] = consents
    return data


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def read_rows(handle: TextIO, fmt: str) -> Iterator[tuple[int, dict[str, Any] | Exception]]:
    """``(line number, record or the error reading it)``, one at a time."""
    if fmt == "csv":
        reader = csv.DictReader(handle)
        unknown = set(reader.fieldnames or []) - CSV_COLUMNS
        if unknown:
            raise click.ClickException(
                f"unknown CSV column(s) {', '.join(sorted(unknown))}; known: "
                f"{', '.join(sorted(CSV_COLUMNS))}"
            )
        for row in reader:
            try:
                yield reader.line_num, csv_row(row)
            except ValueError as exc:
                yield reader.line_num, exc
        return
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, ValueError(f"not JSON: {exc.msg}")
            continue
        yield number, value if isinstance(value, dict) else ValueError("not a JSON object")


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]),
              help="Default: from the file name (.csv, else JSON Lines).")  # fmt: skip
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000),
              help="Rows per transaction.")  # fmt: skip
@click.option("--all-or-nothing", is_flag=True,
              help="One transaction for the whole file: the first bad row aborts it.")  # fmt: skip
@click.option("--progress/--no-progress", default=None,
              help="A progress bar [default: when standard error is a terminal].")  # fmt: skip
@click.pass_obj
def import_file(
    state: CliState, path: Path, fmt: str | None, batch: int, all_or_nothing: bool,
    progress: bool | None,
) -> None:  # fmt: skip
    """Import parties from a CSV or JSON Lines file.

    A party already known by one of its emails, phones or identifiers is completed, not
    created again: importing the same file twice creates nothing new. A bad row is
    reported with its line number and writes nothing; the other rows are imported (commits
    every --batch rows) and the exit code is 1. With --all-or-nothing the first bad row
    stops the import and nothing from the file is written.
    """
    fmt = fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    app = state.app()
    counts = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    show = sys.stderr.isatty() if progress is None else progress
    size = path.stat().st_size
    with path.open("rb") as raw, click.progressbar(
        length=size, label="importing", file=sys.stderr if show else io.StringIO()
    ) as bar:  # fmt: skip
        handle = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        rows = read_rows(handle, fmt)
        limit = sys.maxsize if all_or_nothing else batch
        last_pos = 0
        while True:
            chunk = list(itertools.islice(rows, limit))
            if not chunk:
                break
            with app.session(actor=f"import:{path.name}") as s:
                problems: list[tuple[int, str]] = []
                numbers: list[int] = []  # the file's line number of each record passed on
                records: list[Any] = []
                for number, data in chunk:
                    if isinstance(data, Exception):  # a line the reader could not read
                        problems.append((number, _one_line(data)))
                    else:
                        numbers.append(number)
                        records.append(data)
                for result in s.parties.import_many(records, first_line=0):
                    number = numbers[result.line]
                    if result.error is not None:
                        problems.append((number, _one_line(result.error)))
                    else:
                        assert result.outcome is not None
                        counts[result.outcome] += 1
                if problems and all_or_nothing:
                    number, message = min(problems)
                    raise click.ClickException(f"line {number}: {message}; nothing was imported")
                for number, message in sorted(problems):
                    counts["rejected"] += 1
                    click.echo(f"line {number}: {message}", err=True)
            pos = raw.tell()
            bar.update(pos - last_pos)
            last_pos = pos
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    click.echo(f"{path.name}: {summary}")
    if counts["rejected"]:
        raise SystemExit(1)


@click.command("export")
@click.argument("ref", metavar="PARTY")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write to this file [default: standard output].")  # fmt: skip
@click.pass_context
def export_party(ctx: click.Context, ref: str, output: Path | None) -> None:
    """Everything known about PARTY, plugins' data included, as JSON."""
    with open_session(ctx) as s:
        document = s.gdpr.export(resolve_party(s, ref))
    if output is None:
        print_json(document)
    else:
        output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        click.echo(f"wrote {output}", err=True)
