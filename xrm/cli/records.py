"""``xrm role``, ``relate``, ``relationships``, ``interact`` and ``timeline``."""

from __future__ import annotations

import datetime as dt

import click

from xrm import Role
from xrm.cli._common import (
    ID,
    json_option,
    key_values,
    open_session,
    print_json,
    print_table,
    resolve_party,
)

WHEN = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def _roles(roles: list[Role], as_json: bool) -> None:
    if as_json:
        print_json(roles)
        return
    print_table(
        ["id", "party", "type", "state", "since", "ended", "attributes"],
        [(r.id, r.party_id, r.type, r.state, r.transitions[-1].at, r.ended_at,
          ", ".join(f"{k}={v}" for k, v in r.attributes.items() if v is not None))
         for r in roles],
    )  # fmt: skip


@click.group()
def role() -> None:
    """Assign roles, move them through their lifecycle, end them."""


@role.command("assign")
@click.argument("ref", metavar="PARTY")
@click.argument("role_type", metavar="TYPE")
@click.option("--state", help="Start in this state (when the role type allows it).")
@click.option("--attr", "attrs", multiple=True, metavar="KEY=VALUE", help="An attribute.")
@click.option("--at", type=WHEN, help="When (UTC) [default: now].")
@json_option
@click.pass_context
def assign(
    ctx: click.Context, ref: str, role_type: str, state: str | None, attrs: tuple[str, ...],
    at: dt.datetime | None, as_json: bool,
) -> None:  # fmt: skip
    """Give PARTY a role of TYPE."""
    with open_session(ctx) as s:
        created = s.roles.assign(resolve_party(s, ref), role_type, state=state,
                                 attributes=key_values(attrs, "--attr"), at=_utc(at))  # fmt: skip
    _roles([created], as_json)


@role.command("move")
@click.argument("role_id", type=ID, metavar="ROLE")
@click.argument("state")
@click.option("--note", help="Why.")
@click.option("--at", type=WHEN, help="When (UTC) [default: now].")
@json_option
@click.pass_context
def move(
    ctx: click.Context, role_id: int, state: str, note: str | None, at: dt.datetime | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Move role ROLE (an id, see `xrm role list`) to STATE."""
    with open_session(ctx) as s:
        moved = s.roles.transition(role_id, state, note=note, at=_utc(at))
    _roles([moved], as_json)


@role.command("end")
@click.argument("role_id", type=ID, metavar="ROLE")
@click.option("--note", help="Why.")
@click.option("--at", type=WHEN, help="When (UTC) [default: now].")
@json_option
@click.pass_context
def end(
    ctx: click.Context, role_id: int, note: str | None, at: dt.datetime | None, as_json: bool
) -> None:
    """End role ROLE: the party no longer holds it."""
    with open_session(ctx) as s:
        ended = s.roles.end(role_id, note=note, at=_utc(at))
    _roles([ended], as_json)


@role.command("list")
@click.argument("ref", metavar="PARTY")
@click.option("--all", "include_ended", is_flag=True, help="Ended roles too.")
@json_option
@click.pass_context
def list_roles(ctx: click.Context, ref: str, include_ended: bool, as_json: bool) -> None:
    """The roles PARTY holds."""
    with open_session(ctx) as s:
        roles = s.roles.of(resolve_party(s, ref), include_ended=include_ended)
    _roles(roles, as_json)


@click.command("relate")
@click.argument("rel_type", metavar="TYPE")
@click.argument("from_ref", metavar="FROM")
@click.argument("to_ref", metavar="TO")
@click.option("--from-date", "valid_from", type=WHEN, help="First day [default: today].")
@click.option("--to-date", "valid_to", type=WHEN, help="First day it no longer holds.")
@click.option("--attr", "attrs", multiple=True, metavar="KEY=VALUE", help="An attribute.")
@json_option
@click.pass_context
def relate(
    ctx: click.Context, rel_type: str, from_ref: str, to_ref: str,
    valid_from: dt.datetime | None, valid_to: dt.datetime | None, attrs: tuple[str, ...],
    as_json: bool,
) -> None:  # fmt: skip
    """Relate FROM to TO by a relationship of TYPE (FROM --type--> TO)."""
    with open_session(ctx) as s:
        rel = s.relationships.create(
            rel_type, resolve_party(s, from_ref), resolve_party(s, to_ref),
            valid_from=valid_from.date() if valid_from else None,
            valid_to=valid_to.date() if valid_to else None,
            attributes=key_values(attrs, "--attr"),
        )  # fmt: skip
    if as_json:
        print_json(rel)
    else:
        click.echo(f"relationship {rel.id}: {rel.from_party_id} {rel.type} {rel.to_party_id} "
                   f"from {rel.valid_from}")  # fmt: skip


@click.command("relationships")
@click.argument("ref", metavar="PARTY")
@click.option("--type", "rel_type", help="Only this type.")
@click.option("--as-of", type=WHEN, help="On this day [default: today].")
@click.option("--direction", type=click.Choice(["both", "outgoing", "incoming"]),
              default="both", show_default=True)  # fmt: skip
@click.option("--all-dates", is_flag=True, help="Every relationship, whatever its dates.")
@json_option
@click.pass_context
def relationships(
    ctx: click.Context, ref: str, rel_type: str | None, as_of: dt.datetime | None,
    direction: str, all_dates: bool, as_json: bool,
) -> None:  # fmt: skip
    """PARTY's relationships as of a day, read from PARTY."""
    with open_session(ctx) as s:
        party_id = resolve_party(s, ref)
        links = s.relationships.of(
            party_id, type=rel_type, as_of=as_of.date() if as_of else None,
            direction=direction,  # type: ignore[arg-type]
            all_dates=all_dates,
        )  # fmt: skip
        names = {link.other_id: s.parties.get(link.other_id).display_name for link in links}
    if as_json:
        print_json(links)
        return
    print_table(
        ["id", "relationship", "party", "name", "from", "until"],
        [(x.relationship.id, x.label, x.other_id, names[x.other_id], x.relationship.valid_from,
          x.relationship.valid_to) for x in links],
    )  # fmt: skip


@click.command("interact")
@click.option("--channel", required=True, help="email, phone, sms, postal_mail, web, chat...")
@click.option("--direction", required=True, type=click.Choice(["inbound", "outbound", "internal"]))
@click.option("--party", "participants", multiple=True, required=True, metavar="PARTY[=ROLE]",
              help="A participant and its role (default: recipient when outbound, else "
                   "sender); repeatable.")  # fmt: skip
@click.option("--touchpoint", help="marketing, sales, after_sales, support...")
@click.option("--purpose", help="Why (required when outbound): marketing, service...")
@click.option("--subject")
@click.option("--content")
@click.option("--outcome")
@click.option("--ref", "external_ref", help="An external reference (message id, ticket).")
@click.option("--at", type=WHEN, help="When (UTC) [default: now].")
@json_option
@click.pass_context
def interact(
    ctx: click.Context, channel: str, direction: str, participants: tuple[str, ...],
    touchpoint: str | None, purpose: str | None, subject: str | None, content: str | None,
    outcome: str | None, external_ref: str | None, at: dt.datetime | None, as_json: bool,
) -> None:  # fmt: skip
    """Record an interaction; outbound ones are checked against consent."""
    default_role = "recipient" if direction == "outbound" else "sender"
    with open_session(ctx) as s:
        parts = []
        for item in participants:
            ref, _, part_role = item.partition("=")
            parts.append((resolve_party(s, ref), part_role or default_role))
        done = s.interactions.record(
            channel=channel, direction=direction, participants=parts, touchpoint=touchpoint,
            purpose=purpose, subject=subject, content=content, outcome=outcome,
            external_ref=external_ref, occurred_at=_utc(at),
        )  # fmt: skip
    if as_json:
        print_json(done)
    else:
        who = ", ".join(f"{p.party_id} ({p.role})" for p in done.participants)
        click.echo(f"interaction {done.id}: {done.direction} {done.channel} with {who}")


@click.command("timeline")
@click.argument("ref", metavar="PARTY")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--after", metavar="CURSOR", help="The cursor printed by the previous page.")
@click.option("--type", "types", multiple=True, help="Only events of this type (repeatable).")
@json_option
@click.pass_context
def timeline(
    ctx: click.Context, ref: str, limit: int, after: str | None, types: tuple[str, ...],
    as_json: bool,
) -> None:  # fmt: skip
    """PARTY's whole history, newest first."""
    with open_session(ctx) as s:
        page = s.timeline(resolve_party(s, ref), limit=limit, after=after, types=types or None)
    if as_json:
        print_json({"items": list(page.items), "next_cursor": page.next_cursor})
        return
    print_table(
        ["when", "event", "by", "details"],
        [(e.occurred_at, e.type, e.actor, _summary(e.data)) for e in page],
    )
    if page.next_cursor:
        click.echo(f"more: --after {page.next_cursor}")


def _summary(data: object) -> str:
    if not isinstance(data, dict):
        return ""
    keys = ("subject", "display_name", "type", "to", "purpose", "scope", "value", "tags")
    found = [f"{k}={data[k]}" for k in keys if data.get(k) not in (None, "", [])]
    changes = data.get("changes")
    if isinstance(changes, dict):  # what changed: to its new value
        found += [f"{k}={c.get('to')}" for k, c in changes.items() if isinstance(c, dict)]
    return "; ".join(found)[:80]
