"""``xrm segment``: define, inspect, count and export segments of the parties."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from xrm import Session
from xrm import segments as seg
from xrm.cli._common import json_option, open_session, print_json, print_table

WHEN = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])
AT = click.option("--at", type=WHEN, help="Evaluate at this instant (UTC; default now).")


def _criterion_json(text: str, hint: str) -> dict[str, Any]:
    """A criterion given as JSON text, or as @FILE holding it (- for stdin)."""
    if text.startswith("@"):
        source = text[1:]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {source}: {exc.strerror}", param_hint=hint
            ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"not JSON: {exc.msg} at character {exc.pos}", param_hint=hint
        ) from None
    if not isinstance(data, dict):
        raise click.BadParameter("a criterion is a JSON object with a 'type'", param_hint=hint)
    return data


def _target(s: Session, value: str) -> seg.Target:
    """A saved segment's name, or a criterion as JSON ({...}) or @FILE."""
    if value.startswith(("{", "@")):
        return s.segments.parse(_criterion_json(value, "SEGMENT"))
    return value


def _rows(segments: list[seg.Segment]) -> list[tuple[Any, ...]]:
    return [
        (x.name, "frozen " + x.frozen_at.strftime("%Y-%m-%d %H:%M") if x.frozen_at else "dynamic",
         "" if x.members is None else x.members, x.description or "")
        for x in segments
    ]  # fmt: skip


@click.group()
def segment() -> None:
    """Segments: named criteria over the parties (docs/segments.md).

    A SEGMENT argument is a saved segment's name, a criterion as JSON
    ('{"type": "tag", "tag": "vip"}') or @FILE holding one (@- reads stdin).
    """


@segment.command("criteria")
@json_option
@click.pass_context
def criteria(ctx: click.Context, as_json: bool) -> None:
    """The criteria a segment may use: the core's and the plugins'."""
    with open_session(ctx) as s:
        known = s.segments.criteria()
    fields = {
        name: [f for f in cls.model_fields if f != "type"] for name, cls in sorted(known.items())
    }
    if as_json:
        print_json(
            {name: {"fields": f, "summary": known[name].summary} for name, f in fields.items()}
        )
        return
    print_table(
        ["type", "fields", "what it selects"],
        [(name, ", ".join(f), known[name].summary) for name, f in fields.items()],
    )


@segment.command("define")
@click.argument("name")
@click.argument("criterion")
@click.option("--description")
@json_option
@click.pass_context
def define(
    ctx: click.Context, name: str, criterion: str, description: str | None, as_json: bool
) -> None:
    """Save CRITERION (JSON, or @FILE) as the segment NAME."""
    data = _criterion_json(criterion, "CRITERION")
    with open_session(ctx) as s:
        saved = s.segments.define(name, data, description=description)
        count = s.segments.count(saved.name)
    if as_json:
        print_json({"segment": saved, "count": count})
        return
    click.echo(f"segment {saved.name!r} saved: {count:,} parties now")


@segment.command("update")
@click.argument("name")
@click.option("--criterion", help="The new criterion (JSON, or @FILE).")
@click.option("--description")
@json_option
@click.pass_context
def update(
    ctx: click.Context, name: str, criterion: str | None, description: str | None, as_json: bool
) -> None:
    """Change the criterion or the description of the segment NAME."""
    changes: dict[str, Any] = {}
    if criterion is not None:
        changes["criterion"] = _criterion_json(criterion, "--criterion")
    if description is not None:
        changes["description"] = description
    if not changes:
        raise click.UsageError("give --criterion or --description")
    with open_session(ctx) as s:
        saved = s.segments.update(name, **changes)
    if as_json:
        print_json(saved)
        return
    click.echo(f"segment {saved.name!r} changed (version {saved.version})")


@segment.command("list")
@json_option
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """The saved segments."""
    with open_session(ctx) as s:
        found = s.segments.list()
    if as_json:
        print_json(found)
        return
    print_table(["name", "kind", "members", "description"], _rows(found))


@segment.command("show")
@click.argument("name")
@AT
@json_option
@click.pass_context
def show(ctx: click.Context, name: str, at: dt.datetime | None, as_json: bool) -> None:
    """The segment NAME: its criterion (JSON) and how many parties it has."""
    with open_session(ctx) as s:
        found = s.segments.get(name)
        count = s.segments.count(name, at=at)
    definition = found.criterion.model_dump(mode="json")
    if as_json:
        print_json({"segment": found, "criterion": definition, "count": count})
        return
    print_table(["name", "kind", "members", "description"], _rows([found]))
    click.echo(json.dumps(definition, indent=2, ensure_ascii=False))
    click.echo(f"{count:,} parties" + (" (its frozen list)" if found.frozen else " now"))


@segment.command("count")
@click.argument("target", metavar="SEGMENT")
@AT
@json_option
@click.pass_context
def count(ctx: click.Context, target: str, at: dt.datetime | None, as_json: bool) -> None:
    """How many parties SEGMENT has."""
    with open_session(ctx) as s:
        n = s.segments.count(_target(s, target), at=at)
    if as_json:
        print_json({"count": n})
        return
    click.echo(f"{n:,}")


@segment.command("preview")
@click.argument("target", metavar="SEGMENT")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@AT
@json_option
@click.pass_context
def preview(
    ctx: click.Context, target: str, limit: int, at: dt.datetime | None, as_json: bool
) -> None:
    """The first members of SEGMENT."""
    with open_session(ctx) as s:
        parties = s.segments.preview(_target(s, target), limit=limit, at=at)
    if as_json:
        print_json(parties)
        return
    print_table(["id", "kind", "name"], [(p.id, p.kind, p.display_name) for p in parties])


@segment.command("members")
@click.argument("target", metavar="SEGMENT")
@AT
@click.pass_context
def members(ctx: click.Context, target: str, at: dt.datetime | None) -> None:
    """Every member's party id, one per line, streamed (a million take a few megabytes)."""
    with open_session(ctx) as s:
        out = sys.stdout
        for party_id in s.segments.stream(_target(s, target), at=at):
            out.write(f"{party_id}\n")


@segment.command("freeze")
@click.argument("name")
@click.option("--as", "as_name", metavar="NAME", help="The frozen list's name (NAME DATE).")
@json_option
@click.pass_context
def freeze(ctx: click.Context, name: str, as_name: str | None, as_json: bool) -> None:
    """Save the members segment NAME has now as a dated list."""
    with open_session(ctx) as s:
        frozen = s.segments.freeze(name, as_name=as_name)
    if as_json:
        print_json(frozen)
        return
    click.echo(f"segment {frozen.name!r} frozen with {frozen.members:,} parties")


@segment.command("delete")
@click.argument("name")
@click.pass_context
def delete(ctx: click.Context, name: str) -> None:
    """Delete the segment NAME (a frozen one with its list)."""
    with open_session(ctx) as s:
        s.segments.delete(name)
    click.echo(f"segment {name!r} deleted")
