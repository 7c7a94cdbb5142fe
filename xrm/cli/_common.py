"""What every command shares: the application, errors as one line, tables and JSON."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs
import click
import pydantic
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from xrm import XRM, FileTransport, Policy, Session, SmtpTransport, Transport
from xrm.errors import NotFound, ValidationError, XRMError

__all__ = [
    "ID",
    "VERSION",
    "CliState",
    "XRMGroup",
    "cell",
    "clip",
    "debug_mode",
    "describe",
    "json_option",
    "open_session",
    "print_json",
    "print_table",
    "resolve_party",
    "spreadsheet_safe",
    "to_data",
]

#: how much of a value an error message quotes
QUOTE_LIMIT = 80
#: how long an error message may be, whatever it lists
MESSAGE_LIMIT = 600
#: the largest id a database stores (a signed 64-bit integer)
MAX_ID = 2**63 - 1

_LONG_QUOTED = re.compile(f"'[^'\\n]{{{QUOTE_LIMIT - 1},}}'|\"[^\"\\n]{{{QUOTE_LIMIT - 1},}}\"")
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_LONG_WORD = re.compile(f"[^\\s'\"]{{{QUOTE_LIMIT + 1},}}")


def clip(message: object) -> str:
    """``message`` on one line, quoting at most ~80 characters of any value (a quoted
    value or a run of characters without a space is cut with ``…``), and the whole at
    most 600 characters; control characters and lone surrogates escaped."""
    text = str(message)[: MESSAGE_LIMIT * 8]
    text = " ".join(text.split())
    # what a terminal would act on or cannot print: control characters, lone surrogates
    text = _UNPRINTABLE.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)
    text = _LONG_QUOTED.sub(lambda m: f"{m[0][: QUOTE_LIMIT - 2]}…{m[0][-1]}", text)
    text = _LONG_WORD.sub(lambda m: f"{m[0][: QUOTE_LIMIT - 1]}…", text)
    return text if len(text) <= MESSAGE_LIMIT else f"{text[: MESSAGE_LIMIT - 1]}…"


def describe(exc: BaseException) -> str:
    """An error as one short line: xrm's own message; a database driver's first line
    (never the statement and its parameters); otherwise the exception's type and text."""
    if isinstance(exc, XRMError):
        return clip(exc)
    if isinstance(exc, pydantic.ValidationError):
        return clip("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        first = (str(exc.orig).strip().splitlines() or [""])[0]
        return clip(f"{type(exc.orig).__name__}: {first}")
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename is not None else ""
        return clip(f"{exc.strerror}{where}")
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply"
    text = str(exc)
    return clip(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def debug_mode() -> bool:
    """``XRM_DEBUG=1``: let exceptions through, with their traceback (developers)."""
    return os.environ.get("XRM_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


class XRMGroup(click.Group):
    """The root group, where every error of every command becomes one line.

    An :class:`~xrm.XRMError` ends the command with its message and exit code 1; a
    database that cannot be opened or used, a file that cannot be read, any other
    exception, with a one-line message naming it; click's usage errors keep exit code 2.
    Never a traceback, unless ``XRM_DEBUG=1`` asks for one (developers). Messages quote
    at most ~80 characters of a value.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # exit code 2; a bad value is quoted in it
            setattr(exc, "message", clip(exc.message))  # noqa: B010 (typed Final, set by click)
            raise
        except click.ClickException:  # a command's own message (file paths kept whole)
            raise
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            if debug_mode():
                raise
            if isinstance(exc, XRMError):
                raise click.ClickException(describe(exc)) from None
            if isinstance(exc, OperationalError):
                reason = (str(exc.orig).strip().splitlines() or ["?"])[0]
                raise click.ClickException(f"cannot use the database: {clip(reason)}") from None
            if isinstance(exc, OSError | UnicodeError | RecursionError | pydantic.ValidationError):
                raise click.ClickException(describe(exc)) from None
            raise click.ClickException(
                f"unexpected {describe(exc)} (XRM_DEBUG=1 shows the traceback)"
            ) from None


class _Whole(click.ParamType[int, Any]):
    """A whole number from ``low`` up to the largest a database stores (64 bits): digits
    only, so ``²`` or ``1e3`` is refused as a usage error, not a traceback."""

    def __init__(self, name: str, low: int) -> None:
        self.name = name
        self.low = low

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            if not (text.isascii() and text.isdigit()):
                self.fail(f"{clip(repr(value))} is not a whole number", param, ctx)
            digits = text.lstrip("0") or "0"
            number = int(digits) if len(digits) <= 19 else MAX_ID + 1
        if not self.low <= number <= MAX_ID:
            self.fail(f"{clip(value)} is not between {self.low} and {MAX_ID}", param, ctx)
        return number


#: click parameter types: an id (a row's), a version (what a read returned)
ID = _Whole("id", 1)
VERSION = _Whole("integer", 0)


def _database_error(url: str | None, exc: Exception) -> click.ClickException:
    """Why the database URL cannot be used, without its password."""
    try:
        shown = make_url(url or os.environ.get("XRM_DATABASE_URL") or "sqlite:///xrm.db")
    except Exception:
        return click.ClickException(
            "--database: not a database URL (dialect[+driver]://user:password@host/database, "
            "or sqlite:///file.db)"
        )
    where = clip(repr(shown.render_as_string(hide_password=True)))
    if isinstance(exc, NoSuchModuleError | ImportError):
        driver = shown.drivername
        hint = ""
        if driver in ("postgresql", "postgresql+psycopg"):
            hint = " (pip install 'xrm[postgresql]')"
        elif driver.startswith("postgres"):
            hint = " (postgresql:// is read with psycopg 3: pip install 'xrm[postgresql]')"
        return click.ClickException(
            f"--database {where}: no database driver {clip(repr(driver))} installed{hint}"
        )
    return click.ClickException(f"--database {where}: {describe(exc)}")


@attrs.define
class CliState:
    url: str | None
    region: str | None
    #: messaging: the templates folder, the file transport's folder, an SMTP server
    templates: str | None = None
    outbox: str | None = None
    smtp: str | None = None
    sender: str = "xrm@localhost"
    _app: XRM | None = None

    def _messaging(self) -> dict[str, Any]:
        transports: list[Transport] = []
        if self.smtp is not None:
            host, _, port = self.smtp.rpartition(":")
            if not host or not port.isdigit():
                raise click.BadParameter(f"{self.smtp!r} is not HOST:PORT", param_hint="--smtp")
            transports.append(SmtpTransport(host, int(port), sender=self.sender))
        if self.outbox is not None:
            channels = ("sms",) if self.smtp is not None else ("email", "sms")
            transports.append(FileTransport(self.outbox, channels=channels, sender=self.sender))
        return {"templates": self.templates, "transports": transports}

    def app(self, *, require_current: bool = True, policy: Policy | None = None) -> XRM:
        """The application of the global options (built once); ``policy``: the
        authorisation policy it runs with (``xrm serve``'s :class:`xrm.RolePolicy`)."""
        if self._app is None:
            messaging = self._messaging()
            try:
                self._app = XRM(self.url, default_region=self.region, policy=policy, **messaging)
            except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:
                raise _database_error(self.url, exc) from None
            if require_current and not self._app.schema_is_current():
                raise click.ClickException(
                    "the database schema is not up to date: run `xrm db upgrade`"
                )
        return self._app

    def close(self) -> None:
        """Close the database connections the command opened."""
        if self._app is not None:
            self._app.dispose()
            self._app = None

    @property
    def display_url(self) -> str:
        return self.app(require_current=False).engine.url.render_as_string(hide_password=True)


@contextmanager
def open_session(
    ctx: click.Context, actor: str = "cli", *, readonly: bool = False
) -> Iterator[Session]:
    state: CliState = ctx.find_object(CliState)  # type: ignore[assignment]
    with state.app().session(actor=actor, readonly=readonly) as s:
        yield s


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _jsonable(value: Any) -> Any:
    """Dates as ISO text, enums as values, pydantic models dumped, containers
    recursively."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):  # money: exact, as text
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    return value


def to_data(value: Any) -> Any:
    """Records (attrs classes), named tuples and containers as JSON-ready data."""
    if attrs.has(type(value)):
        return _jsonable(attrs.asdict(value, recurse=True))
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return _jsonable(value._asdict())
    if isinstance(value, list | tuple):
        return [to_data(v) for v in value]
    if isinstance(value, dict):
        return {k: to_data(v) for k, v in value.items()}
    return _jsonable(value)


def print_json(value: Any) -> None:
    click.echo(json.dumps(to_data(value), indent=2, ensure_ascii=False))


def print_json_line(value: Any) -> None:
    """One value as one line of JSON (JSON Lines), for output streamed as it comes."""
    click.echo(json.dumps(to_data(value), ensure_ascii=False, separators=(",", ":")))


def cell(value: Any) -> str:
    """A value as a table shows it: ``-`` for none, a datetime to the minute, a list
    joined, text on one line."""
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, list | tuple):
        return ", ".join(cell(v) for v in value)
    return " ".join(str(value).split())


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A plain aligned table for people."""
    cells = [[cell(v) for v in row] for row in rows]
    if not cells:
        click.echo("(none)")
        return
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    head = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))
    click.echo(head.rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


#: what a spreadsheet reads as the start of a formula (OWASP, CSV injection)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    """``value`` as one cell of CSV or TSV output that a spreadsheet shows as text: a value
    starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is prefixed with
    ``'`` (so ``=HYPERLINK(...)`` is not run, ``+33 6...`` reads ``'+33 6...``), and the
    tabs and line breaks inside it become spaces (one row stays one line)."""
    text = str(value)
    if text.startswith(_FORMULA_START):
        text = "'" + text
    return text.translate(_FLATTEN)


_FLATTEN = str.maketrans({"\t": " ", "\r": " ", "\n": " "})


_PHONE = re.compile(r"[+0-9][0-9 ().-]{5,}")


def resolve_party(s: Session, ref: str) -> int:
    """A party from the command line: an id, an email, a phone number or
    ``scheme:value`` (an identifier)."""
    text = ref.strip()
    if text.isascii() and text.isdigit():
        digits = text.lstrip("0") or "0"
        if len(digits) > 19 or int(digits) > MAX_ID:  # beyond any id a database stores
            raise NotFound("party", int(digits) if len(digits) <= QUOTE_LIMIT else clip(text))
        return s.parties.get(int(digits)).id
    if "@" in text:
        ids = s.parties.find_ids(email=text)
    elif _PHONE.fullmatch(text):
        ids = s.parties.find_ids(phone=text)
    elif ":" in text:
        scheme, value = text.split(":", 1)
        ids = s.parties.find_ids(identifier=(scheme, value))
    else:
        raise ValidationError.single(
            "party", f"{clip(repr(ref))} is not an id, an email, a phone or scheme:value"
        )
    if not ids:
        raise NotFound("party", clip(ref))
    if len(ids) > 1:
        raise ValidationError.single(
            "party", f"{clip(repr(ref))} matches parties {', '.join(map(str, ids))}: give an id"
        )
    return ids[0]


def key_values(pairs: Iterable[str], option: str) -> dict[str, str]:
    """``key=value`` options as a dict."""
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint=option)
        result[key.strip()] = value.strip()
    return result
