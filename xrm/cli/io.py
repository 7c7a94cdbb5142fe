"""``xrm import`` and ``xrm export``.

The import reads the files people actually have: any text encoding, a comma, semicolon
or tab between values, their own column names, a stray quote, a byte that is not text.
Whatever is wrong with a row is that row's error, reported with its line; the other rows
go on and the summary is always printed.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import re
import sys
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import click
from sqlalchemy.exc import OperationalError

from xrm import XRM
from xrm.cli._common import (
    CliState,
    clip,
    debug_mode,
    describe,
    open_session,
    print_json,
    resolve_party,
)

#: the columns of a CSV file
CSV_COLUMNS = {
    "kind", "name", "given_name", "family_name", "birth_date", "email", "phone", "region",
    "identifiers", "tags", "roles", "consents", "source", "language", "time_zone",
    "quiet_hours",
}  # fmt: skip
#: the CSV columns holding ``;``-separated lists: several columns read as one are joined
LIST_COLUMNS = {"email", "phone", "identifiers", "tags", "roles", "consents"}
#: the fields of a JSON Lines row
JSONL_FIELDS = {
    "kind", "name", "display_name", "given_name", "family_name", "birth_date", "emails",
    "phones", "region", "contact_points", "identifiers", "tags", "roles", "consents",
    "preferences",
}  # fmt: skip
#: how deep a JSON Lines row may nest (role attributes hold objects)
MAX_DEPTH = 32
#: how far a quoted CSV value may run over lines before its quote counts as unbalanced
MAX_RECORD_LINES = 1000
MAX_RECORD_CHARS = 1_000_000

_DELIMITERS = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t"}
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNBALANCED = 'unbalanced quote: the " opened on this line is not closed on it; row left out'


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(";") if v.strip()]


def csv_row(row: Mapping[str, str]) -> dict[str, Any]:
    """A CSV row as an import record. Lists are ``;``-separated: ``identifiers`` as
    ``scheme=value``, ``roles`` as ``type[:state]``, ``consents`` as
    ``purpose[@channel][=decision]`` (default granted), recorded with ``source``;
    ``language``, ``time_zone`` and ``quiet_hours`` are the party's preferences."""
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
            raise ValueError(f"identifiers: {clip(repr(item))} is not scheme=value")
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
    preferences = {k: v.strip() for k in ("language", "time_zone", "quiet_hours")
                   if (v := row.get(k) or "").strip()}  # fmt: skip
    if preferences:
        data["preferences"] = preferences
    return data


def recognisable(record: Mapping[str, Any]) -> bool:
    """Whether a record carries a key that finds its party again at the next import: an
    email, a phone or an identifier (an external system's reference is an identifier)."""
    if record.get("emails") or record.get("phones") or record.get("identifiers"):
        return True
    points = record.get("contact_points")
    return isinstance(points, list) and any(
        isinstance(p, Mapping) and p.get("kind") in ("email", "phone") for p in points
    )


# -- reading a file: (line number, record or the reason it cannot be read) ---------------
Row = tuple[int, dict[str, Any] | str]


def _not_text(text: str, encoding: str) -> str | None:
    """Why ``text`` (decoded with ``surrogateescape``) is not the file's encoding."""
    found = _SURROGATE.search(text)
    if found is None:
        return None
    byte = ord(found[0]) - 0xDC00
    shown = f" (byte 0x{byte:02X})" if 0x80 <= byte <= 0xFF else ""
    return (
        f"not {encoding} text{shown}: give the file's --encoding "
        "(cp1252 or latin-1 for most files saved by Excel on Windows)"
    )


def _bad_text(value: str, path: str) -> str | None:
    """Why a decoded value is not text that can be stored: a NUL or a lone surrogate."""
    if "\x00" in value:
        return f"{path}: contains a NUL character"
    found = _SURROGATE.search(value)
    if found is not None:
        return f"{path}: contains a lone surrogate (\\u{ord(found[0]):04x}), which is not text"
    return None


def _check_json(value: Any, path: str, depth: int = 0) -> str | None:
    """The first problem of a JSON value: too deep, a NUL, a lone surrogate."""
    if depth > MAX_DEPTH:
        return f"{path}: nested more than {MAX_DEPTH} levels deep"
    if isinstance(value, str):
        return _bad_text(value, path)
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            problem = _bad_text(key, where) or _check_json(item, where, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for i, item in enumerate(value):
            problem = _check_json(item, f"{path}.{i}" if path else str(i), depth + 1)
            if problem:
                return problem
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


@attrs.define
class Reader:
    """Reads one file's rows: decoding, delimiters, column names and warnings."""

    encoding: str  # as the user named it
    mapping: dict[str, str]
    delimiter: str | None = None
    warn: Callable[[str], None] = lambda message: click.echo(f"warning: {message}", err=True)
    _warned: set[str] = attrs.field(factory=set)

    # -- JSON Lines ----------------------------------------------------------------------
    def jsonl(self, lines: Iterator[tuple[int, str]]) -> Iterator[Row]:
        for number, line in lines:
            if not line.strip():
                continue
            problem = _not_text(line, self.encoding)
            if problem:
                yield number, problem
                continue
            try:
                value = json.loads(line, parse_constant=_no_constant)
            except RecursionError:
                yield number, "not JSON: nested too deeply"
                continue
            except ValueError as exc:
                yield number, f"not JSON: {getattr(exc, 'msg', exc)}"
                continue
            if not isinstance(value, dict):
                yield number, "not a JSON object"
                continue
            problem = _check_json(value, "")
            if problem:
                yield number, problem
                continue
            yield number, self._fields(number, value)

    def _fields(self, number: int, value: dict[str, Any]) -> dict[str, Any]:
        record = {}
        for key, item in value.items():
            field = self.mapping.get(key, key)
            if field in JSONL_FIELDS:
                record[field] = item
            elif key not in self._warned:
                self._warned.add(key)
                self.warn(
                    f"line {number}: field {clip(repr(key))} is not imported (known: "
                    f"{', '.join(sorted(JSONL_FIELDS))}; --map NAME=FIELD reads it as one)"
                )
        return record

    # -- CSV -----------------------------------------------------------------------------
    def csv(self, lines: Iterator[tuple[int, str]]) -> Iterator[Row]:
        lines = (item for item in lines if item[1].strip())  # blank lines are no rows
        first = next(lines, None)
        if first is None:
            self.warn("the file is empty")
            return
        number, text = first
        problem = _not_text(text, self.encoding)
        if problem:
            raise click.ClickException(f"line {number}, the header: {problem}")
        delimiter = self.delimiter or _detect(text)
        ignored: set[int] = set()  # the columns read as nothing, where a line break may be
        records = _csv_records(itertools.chain([first], lines), delimiter, ignored)
        number, header = next(records)
        if isinstance(header, str):
            raise click.ClickException(f"line {number}, the header: {header}")
        columns = self._columns(header, delimiter)
        ignored.update(i for i, field in enumerate(columns) if field is None)
        for number, fields in records:
            if isinstance(fields, str):
                yield number, fields
                continue
            yield number, self._csv_record(fields, columns, delimiter)

    def _columns(self, header: list[str], delimiter: str) -> list[str | None]:
        """The field each column gives (``None``: not imported), from the header."""
        names = [name.strip().casefold() for name in header]
        mapping = {column.strip().casefold(): field for column, field in self.mapping.items()}
        missing = [c for c in self.mapping if c.strip().casefold() not in names]
        if missing:
            raise click.ClickException(
                f"--map: no column {', '.join(clip(repr(m)) for m in missing)} in the file "
                f"(its columns: {clip(', '.join(header))}; read with the "
                f"{_DELIMITER_NAMES.get(delimiter, repr(delimiter))} as delimiter)"
            )
        columns = [mapping.get(n, n if n in CSV_COLUMNS else None) for n in names]
        given: dict[str, str] = {}
        for name, field in zip(header, columns, strict=True):
            if field is not None and field not in LIST_COLUMNS:
                if field in given:
                    raise click.ClickException(
                        f"columns {clip(repr(given[field]))} and {clip(repr(name))} both "
                        f"give {field}: keep one (--map tells which column is which)"
                    )
                given[field] = name
        unknown = [name for name, field in zip(header, columns, strict=True)
                   if field is None and name.strip()]  # fmt: skip
        if unknown:
            self.warn(
                f"column(s) {clip(', '.join(unknown))} not imported: not one of "
                f"{', '.join(sorted(CSV_COLUMNS))} (--map COLUMN=FIELD reads one as a field)"
            )
        elif not any(columns):
            self.warn("no column is imported")
        return columns

    def _csv_record(
        self, fields: list[str], columns: list[str | None], delimiter: str
    ) -> dict[str, Any] | str:
        if len(fields) > len(columns) and any(f.strip() for f in fields[len(columns) :]):
            name = _DELIMITER_NAMES.get(delimiter, repr(delimiter))
            return (
                f"{len(fields)} values for {len(columns)} columns "
                f"(a value holding a {name} must be quoted)"
            )
        values: dict[str, str] = {}
        for field, value in zip(columns, fields, strict=False):
            if field is None:
                continue
            problem = _not_text(value, self.encoding) or _bad_text(value, field)
            if problem:
                return problem
            if field in values:  # several columns for one list: joined
                values[field] = f"{values[field]};{value}"
            else:
                values[field] = value
        try:
            return csv_row(values)
        except ValueError as exc:
            return clip(exc)


def _detect(header: str) -> str:
    """The delimiter of a CSV file, from its header line: the commonest of ``,`` ``;``
    and tab (a comma on a tie or when there is none: a file of one column)."""
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


def _csv_records(
    lines: Iterator[tuple[int, str]], delimiter: str, ignored: set[int]
) -> Iterator[tuple[int, list[str] | str]]:
    """``(line where the row starts, its values or the reason they cannot be read)``.

    A row ends where its quotes are balanced. A quote left open would swallow the rows
    after it: when the quoted value never closes, or closes lines later in a column that
    holds no line break (every imported one), the row is reported as an unbalanced quote
    and reading starts again on the next line.
    """
    pending: deque[tuple[int, str]] = deque()

    def take() -> tuple[int, str] | None:
        return pending.popleft() if pending else next(lines, None)

    while (first := take()) is not None:
        start = first[0]
        used = [first]
        quotes = first[1].count('"')
        size = len(first[1])
        while quotes % 2 and len(used) < MAX_RECORD_LINES and size < MAX_RECORD_CHARS:
            more = take()
            if more is None:
                break
            used.append(more)
            quotes += more[1].count('"')
            size += len(more[1])
        fields: list[str] | None = None
        problem = _UNBALANCED
        if quotes % 2 == 0:
            try:
                fields = next(csv.reader([text for _, text in used], delimiter=delimiter,
                                         strict=True), [])  # fmt: skip
            except csv.Error as exc:
                problem = _csv_error(exc, len(used))
        if fields is not None and len(used) > 1:
            breaks = any("\n" in f or "\r" in f for i, f in enumerate(fields) if i not in ignored)
            fields = None if breaks else fields
        if fields is None:
            pending.extendleft(reversed(used[1:]))  # read again, each line on its own
            yield start, clip(problem)
        elif fields:
            yield start, fields


def _csv_error(exc: csv.Error, lines: int) -> str:
    text = str(exc)
    if "field limit" in text:
        return f"a value is longer than {csv.field_size_limit():,} characters"
    if lines > 1:
        return _UNBALANCED
    return f"not CSV: {text}" + (" (a stray quote?)" if '"' in text else "")


# -- the command ---------------------------------------------------------------------------
def _encoding(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        "".encode(value)
        b"".decode(value)
    except LookupError:
        raise click.BadParameter(f"{clip(repr(value))} is not a text encoding") from None
    return value


def _delimiter(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    chosen = _DELIMITERS.get(value.lower(), value)
    if len(chosen) != 1 or chosen in '"\r\n' or chosen.isalnum():
        raise click.BadParameter(f"{clip(repr(value))}: give ',', ';', 'tab' or one character")
    return chosen


def _mapping(ctx: click.Context, param: click.Parameter, value: Sequence[str]) -> dict[str, str]:
    result = {}
    for pair in value:
        column, sep, field = pair.rpartition("=")
        if not sep or not column.strip() or not field.strip():
            raise click.BadParameter(f"{clip(repr(pair))} is not COLUMN=FIELD")
        result[column.strip()] = field.strip()
    return result


def _region(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not (len(value) == 2 and value.isascii() and value.isalpha()):
        raise click.BadParameter(f"{clip(repr(value))} is not a country code such as FR")
    return value.upper() if value else None


class _Discard(Exception):
    """Raised inside a unit of work to roll it back (a dry run, an aborted file)."""


#: what became of one imported record: outcome, error, warnings
_Row = tuple[str | None, str | None, tuple[str, ...]]


@attrs.define
class _Import:
    """One file's import: the rows go in batches, each batch in its own unit of work."""

    app: XRM
    actor: str
    keep: bool  # False: every unit of work is rolled back (a dry run)
    all_or_nothing: bool

    def run(self, records: list[dict[str, Any]]) -> list[_Row]:
        """``(outcome, error, warnings)`` per record. A failure of the batch as a whole (a
        database error on one row) is narrowed down by halves, so only its row is left
        out."""
        results: list[_Row] = []
        try:
            with self.app.session(actor=self.actor) as s:
                for result in s.imports.import_many(records, first_line=0):
                    error = None if result.error is None else _message(result.error)
                    results.append((result.outcome, error, result.warnings))
                bad = any(error for _, error, _ in results)
                if not self.keep or (bad and self.all_or_nothing):
                    raise _Discard
        except _Discard:
            pass
        except OperationalError:  # the database itself: locked, gone; not a row's fault
            raise
        except Exception as exc:
            if debug_mode():
                raise
            if len(records) == 1:
                return [(None, describe(exc), ())]
            middle = len(records) // 2
            # all or nothing: the file is refused anyway, so the halves write nothing
            keep = self.keep and not self.all_or_nothing
            halves = attrs.evolve(self, keep=keep)
            return halves.run(records[:middle]) + halves.run(records[middle:])
        return results


def _message(error: Exception) -> str:
    """A row's error on one line; a phone number that needs a country names --region."""
    message = describe(error)
    if "region" in message and "phone" in message and "--region" not in message:
        message = message.replace("set a default region", "give --region CC or a region column")
        if "--region" not in message:
            message += " (give --region CC or a region column)"
    return message


_FORMATS = {".csv": "csv", ".tsv": "csv", ".tab": "csv"}


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]),
              help="Default: from the file name (.csv or .tsv, else JSON Lines).")  # fmt: skip
@click.option("--encoding", default="utf-8", show_default=True, callback=_encoding,
              help="The file's text encoding (cp1252, latin-1, utf-16...). A UTF-8 byte "
                   "order mark is skipped.")  # fmt: skip
@click.option("--delimiter", callback=_delimiter, metavar="CHAR",
              help="CSV: what separates values: ',', ';', 'tab' or another character "
                   "[default: the commonest "
                   "of the three in the header line].")  # fmt: skip
@click.option("--map", "mapping", multiple=True, metavar="COLUMN=FIELD", callback=_mapping,
              help="Read the file's COLUMN (a JSON Lines field) as FIELD, e.g. --map "
                   "Courriel=email. Repeatable.")  # fmt: skip
@click.option("--region", metavar="CC", callback=_region,
              help="Country of the phone numbers written without a country code, for the "
                   "rows with no region of their own [default: xrm --region].")  # fmt: skip
@click.option("--skip-unrecognisable", is_flag=True,
              help="Leave out the rows with no email, phone or identifier: each import "
                   "would create them again.")  # fmt: skip
@click.option("--dry-run", is_flag=True,
              help="Report what the import would do, row by row, and write nothing.")  # fmt: skip
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000),
              help="Rows per transaction.")  # fmt: skip
@click.option("--all-or-nothing", is_flag=True,
              help="One transaction for the whole file: the first bad row aborts it.")  # fmt: skip
@click.option("--progress/--no-progress", default=None,
              help="A progress bar [default: when standard error is a terminal].")  # fmt: skip
@click.pass_context
def import_file(
    ctx: click.Context, path: Path, fmt: str | None, encoding: str, delimiter: str | None,
    mapping: dict[str, str], region: str | None, skip_unrecognisable: bool, dry_run: bool,
    batch: int, all_or_nothing: bool, progress: bool | None,
) -> None:  # fmt: skip
    """Import parties from a CSV or JSON Lines file.

    A party already known by one of its emails, phones or identifiers is completed, not
    created again. A row with none of them cannot be recognised: it is counted as "not
    recognisable" and created anew by each import (--skip-unrecognisable leaves it out).

    A bad row (a wrong value, a byte not in the encoding, an unbalanced quote) is
    reported with its line number and writes nothing; the other rows are imported
    (commits every --batch rows) and the exit code is 1. With --all-or-nothing the first
    bad row stops the import and nothing from the file is written. Columns (fields) not
    imported are named once in a warning. A phone number that is not a valid number is
    kept as written, with a warning naming its line: it is never used to recognise the
    party nor contacted. The summary is printed in every case.
    """
    fmt = fmt or _FORMATS.get(path.suffix.lower(), "jsonl")
    known = CSV_COLUMNS if fmt == "csv" else JSONL_FIELDS
    for column, field in mapping.items():
        if field not in known:
            raise click.BadParameter(
                f"{clip(repr(f'{column}={field}'))}: {clip(repr(field))} is not a {fmt} "
                f"field ({', '.join(sorted(known))})",
                param_hint="--map",
            )
    state: CliState = ctx.obj
    counts = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0, "not recognisable": 0}
    try:
        _import(state.app(), path, fmt, counts, Reader(encoding, mapping, delimiter),
                region=region, skip=skip_unrecognisable, dry_run=dry_run, batch=batch,
                all_or_nothing=all_or_nothing, progress=progress)  # fmt: skip
    finally:
        summary = ", ".join(f"{n} {k}" for k, n in counts.items())
        if counts["not recognisable"]:
            summary += " (skipped)" if skip_unrecognisable else " (created again by each import)"
        click.echo(f"{path.name}: {summary}{'; dry run, nothing written' if dry_run else ''}")
    if counts["rejected"]:
        ctx.exit(1)


def _codec(encoding: str) -> str:
    """The codec to read with: UTF-8 skips a byte order mark."""
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def _import(
    app: XRM, path: Path, fmt: str, counts: dict[str, int], reader: Reader, *,
    region: str | None, skip: bool, dry_run: bool, batch: int, all_or_nothing: bool,
    progress: bool | None,
) -> None:  # fmt: skip
    show = sys.stderr.isatty() if progress is None else progress
    size = path.stat().st_size
    job = _Import(app, f"import:{path.name}", keep=not dry_run, all_or_nothing=all_or_nothing)
    with path.open("rb") as raw, click.progressbar(
        length=size, label="importing", file=sys.stderr if show else io.StringIO()
    ) as bar:  # fmt: skip
        _refuse_workbook(raw)
        handle = io.TextIOWrapper(raw, encoding=_codec(reader.encoding), errors="surrogateescape",
                                  newline="")  # fmt: skip
        lines = enumerate(handle, start=1)
        rows = reader.csv(lines) if fmt == "csv" else reader.jsonl(lines)
        limit = sys.maxsize if all_or_nothing or dry_run else batch
        last_pos = 0
        while chunk := list(itertools.islice(rows, limit)):
            problems: list[tuple[int, str]] = []
            numbers: list[int] = []  # the file's line number of each record passed on
            records: list[dict[str, Any]] = []
            for number, data in chunk:
                if isinstance(data, str):  # a line the reader could not read
                    problems.append((number, data))
                elif skip and not recognisable(data):
                    counts["not recognisable"] += 1
                else:
                    if region and not data.get("region"):
                        data["region"] = region
                    numbers.append(number)
                    records.append(data)
            done = job.run(records)
            for number, data, (outcome, error, warnings) in zip(numbers, records, done,
                                                                strict=True):  # fmt: skip
                for warning in warnings:
                    click.echo(f"line {number}: warning: {clip(warning)}", err=True)
                if error is not None:
                    problems.append((number, error))
                elif outcome == "created" and not recognisable(data):
                    counts["not recognisable"] += 1
                else:
                    assert outcome is not None
                    counts[outcome] += 1
            problems.sort()
            if problems and all_or_nothing:
                for number, message in problems[1:]:
                    click.echo(f"line {number}: {clip(message)}", err=True)
                for key in counts:
                    counts[key] = 0
                counts["rejected"] = len(problems)
                number, message = problems[0]
                raise click.ClickException(f"line {number}: {message}; nothing was imported")
            for number, message in problems:
                counts["rejected"] += 1
                click.echo(f"line {number}: {clip(message)}", err=True)
            pos = raw.tell()
            bar.update(pos - last_pos)
            last_pos = pos


def _refuse_workbook(raw: BinaryIO) -> None:
    """A spreadsheet workbook is no CSV: say so instead of a line of unreadable bytes."""
    head = raw.read(8)
    raw.seek(0)
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise click.ClickException(
            "this is a spreadsheet workbook, not CSV or JSON Lines: save it as CSV first"
        )


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
