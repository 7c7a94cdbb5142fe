"""What every command shares: the application, errors as one line, tables and JSON."""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs
import click
import pydantic
from sqlalchemy.exc import OperationalError

from xrm import XRM, Session
from xrm.errors import NotFound, ValidationError, XRMError

__all__ = [
    "CliState",
    "XRMGroup",
    "json_option",
    "open_session",
    "print_json",
    "print_table",
    "resolve_party",
    "to_data",
]


class XRMGroup(click.Group):
    """The root group: an :class:`~xrm.XRMError` ends the command with its message on one
    line and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except XRMError as exc:
            raise click.ClickException(" ".join(str(exc).split())) from None
        except OperationalError as exc:
            reason = " ".join(str(exc.orig).split())
            raise click.ClickException(f"cannot use the database: {reason}") from None


@attrs.define
class CliState:
    url: str | None
    region: str | None
    _app: XRM | None = None

    def app(self, *, require_current: bool = True) -> XRM:
        if self._app is None:
            self._app = XRM(self.url, default_region=self.region)
            if require_current and not self._app.schema_is_current():
                raise click.ClickException(
                    "the database schema is not up to date: run `xrm db upgrade`"
                )
        return self._app

    @property
    def display_url(self) -> str:
        return self.app(require_current=False).engine.url.render_as_string(hide_password=True)


@contextmanager
def open_session(ctx: click.Context, actor: str = "cli") -> Iterator[Session]:
    state: CliState = ctx.find_object(CliState)  # type: ignore[assignment]
    with state.app().session(actor=actor) as s:
        yield s


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _jsonable(value: Any) -> Any:
    """Dates as ISO text, enums as values, pydantic models dumped, containers
    recursively."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
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


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v) for v in value)
    return " ".join(str(value).split())


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A plain aligned table for people."""
    cells = [[_cell(v) for v in row] for row in rows]
    if not cells:
        click.echo("(none)")
        return
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    head = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))
    click.echo(head.rstrip())
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


_PHONE = re.compile(r"[+0-9][0-9 ().-]{5,}")


def resolve_party(s: Session, ref: str) -> int:
    """A party from the command line: an id, an email, a phone number or
    ``scheme:value`` (an identifier)."""
    text = ref.strip()
    if text.isdigit():
        return s.parties.get(int(text)).id
    if "@" in text:
        ids = s.parties.find_ids(email=text)
    elif _PHONE.fullmatch(text):
        ids = s.parties.find_ids(phone=text)
    elif ":" in text:
        scheme, value = text.split(":", 1)
        ids = s.parties.find_ids(identifier=(scheme, value))
    else:
        raise ValidationError.single(
            "party", f"{ref!r} is not an id, an email, a phone or scheme:value"
        )
    if not ids:
        raise NotFound("party", ref)
    if len(ids) > 1:
        raise ValidationError.single(
            "party", f"{ref!r} matches parties {', '.join(map(str, ids))}: give an id"
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
