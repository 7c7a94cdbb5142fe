"""``xrm consent``: record consent evidence, check it, list an audience."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from xrm.cli._common import (
    json_option,
    open_session,
    print_json,
    resolve_party,
    spreadsheet_safe,
)
from xrm.cli.records import WHEN, _utc


def _scope_options(command: Any) -> Any:
    for option in reversed([
        click.option("--source", required=True,
                     help="Where and how: web_form, call, in_person, import, email..."),
        click.option("--channel", help="Only this channel [default: all channels]."),
        click.option("--contact-point", help="Only this address or number (its value)."),
        click.option("--evidence", help="What proves it: form id, notice version, IP..."),
        click.option("--at", type=WHEN, help="When the party said it (UTC) [default: now]."),
    ]):  # fmt: skip
        command = option(command)
    return command


def _record(ctx: click.Context, decision: str, ref: str, purpose: str, **kw: Any) -> None:
    as_json = kw.pop("as_json")
    expires = kw.pop("expires", None)
    with open_session(ctx) as s:
        record = s.consents.record(
            resolve_party(s, ref), purpose, decision, source=kw["source"],
            channel=kw["channel"], contact_point=kw["contact_point"], evidence=kw["evidence"],
            captured_at=_utc(kw["at"]), expires_at=_utc(expires),
        )  # fmt: skip
    if as_json:
        print_json(record)
    else:
        click.echo(f"consent record {record.id}: party {record.party_id} {record.decision} "
                   f"{record.purpose} ({record.scope})")  # fmt: skip


@click.group()
def consent() -> None:
    """Record consent evidence, check it, and list who may be contacted."""


@consent.command("grant")
@click.argument("ref", metavar="PARTY")
@click.argument("purpose")
@_scope_options
@click.option("--expires", type=WHEN, help="When the grant stops counting (UTC).")
@json_option
@click.pass_context
def grant(ctx: click.Context, /, ref: str, purpose: str, **kw: Any) -> None:
    """Record that PARTY agreed to be contacted for PURPOSE."""
    _record(ctx, "granted", ref, purpose, **kw)


def _negative(decision: str, doc: str) -> click.Command:
    @click.argument("ref", metavar="PARTY")
    @click.argument("purpose")
    @_scope_options
    @json_option
    @click.pass_context
    def command(ctx: click.Context, /, ref: str, purpose: str, **kw: Any) -> None:
        _record(ctx, decision, ref, purpose, **kw)

    command.__doc__ = doc
    return click.command()(command)


consent.add_command(_negative("withdrawn", "Record that PARTY withdrew its consent."), "withdraw")
consent.add_command(_negative("objected", "Record that PARTY objects to PURPOSE."), "object")
consent.add_command(_negative("refused", "Record that PARTY said no to PURPOSE."), "refuse")


@consent.command("check")
@click.argument("ref", metavar="PARTY")
@click.argument("purpose")
@click.argument("channel")
@click.option("--contact-point", help="The address or number to contact.")
@click.option("--at", type=WHEN, help="At this time (UTC) [default: now].")
@json_option
@click.pass_context
def check(
    ctx: click.Context, ref: str, purpose: str, channel: str, contact_point: str | None,
    at: dt.datetime | None, as_json: bool,
) -> None:  # fmt: skip
    """May PARTY be contacted for PURPOSE on CHANNEL? Says why. Exit 0 either way."""
    with open_session(ctx) as s:
        decision = s.consents.check(resolve_party(s, ref), purpose, channel, contact_point,
                                    at=_utc(at))  # fmt: skip
    if as_json:
        print_json(decision)
    else:
        verdict = "allowed" if decision.allowed else "refused"
        click.echo(f"{verdict} ({decision.rule}): {decision.reason}")


@consent.command("audience")
@click.argument("purpose")
@click.argument("channel")
@click.option("--at", type=WHEN, help="At this time (UTC) [default: now].")
@json_option
@click.pass_context
def audience(
    ctx: click.Context, purpose: str, channel: str, at: dt.datetime | None, as_json: bool
) -> None:
    """Everyone who may be contacted for PURPOSE on CHANNEL, streamed (JSON Lines with
    --json, else tab-separated party id, contact point id, value).

    In the tab-separated output a value that a spreadsheet would read as a formula
    (starting with =, +, -, @) is written with a ' before it: +33612345678 comes out as
    '+33612345678. JSON keeps every value as stored.
    """
    with open_session(ctx) as s:
        count = 0
        for member in s.consents.audience(purpose, channel, at=_utc(at)):
            count += 1
            if as_json:
                click.echo(json.dumps(member._asdict()))
            else:
                value = spreadsheet_safe(member.value) if member.value else "-"
                click.echo(f"{member.party_id}\t{member.contact_point_id or '-'}\t{value}")
    if not as_json:
        click.echo(f"{count} contactable", err=True)
