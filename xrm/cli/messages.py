"""``xrm message``: preview, send and list messages; ``xrm worker``: deliver the outbox;
``xrm inbound``: record what came back."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from xrm import Message, Preview
from xrm.cli._common import (
    json_option,
    key_values,
    open_session,
    print_json,
    print_table,
    resolve_party,
)


def _message_args(f: Any) -> Any:
    for option in reversed([
        click.argument("ref", metavar="PARTY"),
        click.argument("template"),
        click.option("--purpose", required=True, help="Why: service, marketing, surveys..."),
        click.option("--data", "data", multiple=True, metavar="KEY=VALUE",
                     help="A value the template reads as data.KEY (repeatable)."),
        click.option("--channel", help="This channel only (default: the party's preferred "
                                       "one for the purpose, else the first allowed)."),
    ]):  # fmt: skip
        f = option(f)
    return f


@click.group()
def message() -> None:
    """Preview, send and list messages for parties (docs/messaging.md)."""


@message.command("preview")
@_message_args
@json_option
@click.pass_context
def preview(
    ctx: click.Context, ref: str, template: str, purpose: str, data: tuple[str, ...],
    channel: str | None, as_json: bool,
) -> None:  # fmt: skip
    """What `xrm message send` would send, and where; nothing is written."""
    with open_session(ctx, readonly=True) as s:
        found = s.messages.preview(
            resolve_party(s, ref), template, purpose=purpose,
            data=key_values(data, "--data"), channel=channel,
        )  # fmt: skip
    if as_json:
        print_json(found)
        return
    _show_preview(found)


def _show_preview(found: Preview) -> None:
    r = found.rendered
    click.echo(f"to party {found.party_id} by {found.channel}: {found.address} ({r.language})")
    if found.not_before > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5):
        click.echo(f"  leaves at: {found.not_before:%Y-%m-%d %H:%M} UTC (quiet hours)")
    for channel, why in found.passed_over.items():
        click.echo(f"  not by {channel}: {why}")
    if r.subject is not None:
        click.echo(f"  subject: {r.subject}")
    if r.sms is not None:
        click.echo(f"  sms: {r.sms.encoding}, {r.sms.units} units, {r.sms.segments} segment(s)")
    click.echo("")
    click.echo(r.text)


@message.command("send")
@_message_args
@json_option
@click.pass_context
def send(
    ctx: click.Context, ref: str, template: str, purpose: str, data: tuple[str, ...],
    channel: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Put a message in the outbox; `xrm worker` delivers it."""
    with open_session(ctx) as s:
        made = s.messages.send(
            resolve_party(s, ref), template, purpose=purpose,
            data=key_values(data, "--data"), channel=channel,
        )  # fmt: skip
    if as_json:
        print_json(made)
        return
    click.echo(f"message {made.id} queued for party {made.party_id} by {made.channel} "
               f"to {made.address}, from {made.not_before:%Y-%m-%d %H:%M} UTC")  # fmt: skip


@message.command("list")
@click.argument("ref", metavar="PARTY")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@json_option
@click.pass_context
def list_messages(ctx: click.Context, ref: str, limit: int, as_json: bool) -> None:
    """A party's latest messages, newest first."""
    with open_session(ctx, readonly=True) as s:
        found: list[Message] = s.messages.of(resolve_party(s, ref), limit=limit)
    if as_json:
        print_json(found)
        return
    print_table(
        ["id", "created", "template", "purpose", "channel", "address", "status"],
        [(m.id, m.created_at, m.template, m.purpose, m.channel, m.address, m.status)
         for m in found],
    )  # fmt: skip


@click.command("worker")
@click.option("--once", is_flag=True, help="One round, then stop.")
@click.option("--poll", default=1.0, show_default=True, type=click.FloatRange(0.05, 3600),
              help="Seconds to wait after a round that found nothing.")  # fmt: skip
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000),
              help="Messages claimed per round.")  # fmt: skip
@click.pass_context
def worker(ctx: click.Context, once: bool, poll: float, limit: int) -> None:
    """Deliver the outbox: hand due messages to their transports, checking the ledger as
    each leaves. Runs until interrupted (Ctrl-C), or one round with --once."""
    from xrm.cli._common import CliState

    state: CliState = ctx.find_object(CliState)  # type: ignore[assignment]
    app = state.app()
    try:
        counts = app.work(poll=poll, limit=limit, rounds=1 if once else None)
    except KeyboardInterrupt:
        return
    done = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing due"
    click.echo(done)


@click.command("inbound")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--create-unknown", is_flag=True, help="Make a party of an unknown sender.")
@json_option
@click.pass_context
def inbound(ctx: click.Context, file: Path, create_unknown: bool, as_json: bool) -> None:
    """Record a message that came back: an email as received (.eml: a reply, or a
    delivery status notification that suppresses a bounced address), or an SMS gateway's
    callback or a direct message (.json, with "network" for a direct message)."""
    with open_session(ctx, actor="inbound") as s:
        if file.suffix.lower() == ".json":
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise click.BadParameter(f"not JSON: {exc}", param_hint="FILE") from None
            if not isinstance(data, dict):
                raise click.BadParameter("a JSON object is expected", param_hint="FILE")
            receive = s.inbound.social if "network" in data else s.inbound.sms
            got = receive(data, create_unknown=create_unknown)
        else:
            raw = file.read_bytes().decode("utf-8", errors="replace")
            got = s.inbound.email(raw, create_unknown=create_unknown)
    if as_json:
        print_json(got)
        return
    who = f"party {got.party_id}" if got.party_id is not None else "an unknown sender"
    about = f", about message {got.message_id}" if got.message_id is not None else ""
    click.echo(f"{got.kind} from {who} ({got.address}){about}")
