"""``xrm party``: add, show, find, list, update and tag parties; their preferences."""

from __future__ import annotations

from typing import Any

import click

from xrm import Email, Party, Phone
from xrm.cli._common import (
    VERSION,
    json_option,
    key_values,
    open_session,
    print_json,
    print_table,
    resolve_party,
)


def _show(party: Party, as_json: bool) -> None:
    if as_json:
        print_json(party)
        return
    click.echo(f"party {party.id}: {party.display_name} ({party.kind}), version {party.version}")
    if party.merged_into is not None:
        click.echo(f"  merged into party {party.merged_into}")
    for point in party.contact_points:
        flags = " ".join(f for f, on in (("primary", point.primary),
                                         ("suppressed", point.suppressed)) if on)  # fmt: skip
        click.echo(f"  {point.kind:<7} {point.value.replace(chr(10), ', ')}  {flags}".rstrip())
    for ident in party.identifiers:
        click.echo(f"  {ident.scheme}: {ident.value}")
    if party.tags:
        click.echo(f"  tags: {', '.join(party.tags)}")


def _list(parties: list[Party], as_json: bool) -> None:
    if as_json:
        print_json(parties)
        return
    rows = []
    for p in parties:
        email, phone = p.primary("email"), p.primary("phone")
        rows.append((p.id, p.kind, p.display_name, email.value if email else None,
                     phone.value if phone else None, p.tags))  # fmt: skip
    print_table(["id", "kind", "name", "email", "phone", "tags"], rows)


@click.group()
def party() -> None:
    """Add, show, find, list, update and tag parties.

    PARTY arguments take an id, an email, a phone number or scheme:value.
    """


@party.command("add")
@click.argument("kind")
@click.argument("name", required=False)
@click.option("--given", "given_name", help="Given name (persons).")
@click.option("--family", "family_name", help="Family name (persons).")
@click.option("--email", "emails", multiple=True, help="An email address (repeatable).")
@click.option("--phone", "phones", multiple=True, help="A phone number (repeatable).")
@click.option("--identifier", "identifiers", multiple=True, metavar="SCHEME=VALUE",
              help="An identifier such as fr.siren=732829320 (repeatable).")  # fmt: skip
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@json_option
@click.pass_context
def add(
    ctx: click.Context, kind: str, name: str | None, given_name: str | None,
    family_name: str | None, emails: tuple[str, ...], phones: tuple[str, ...],
    identifiers: tuple[str, ...], tags: tuple[str, ...], as_json: bool,
) -> None:  # fmt: skip
    """Add a party of KIND (person, organization, household...) named NAME."""
    points = [Email(e) for e in emails] + [Phone(p) for p in phones]
    with open_session(ctx) as s:
        created = s.parties.create(
            kind, name, given_name=given_name, family_name=family_name,
            contact_points=points, identifiers=key_values(identifiers, "--identifier"),
            tags=tags,
        )  # fmt: skip
    _show(created, as_json)


@party.command("show")
@click.argument("ref", metavar="PARTY")
@json_option
@click.pass_context
def show(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Show a party with its contact points, identifiers and tags."""
    with open_session(ctx) as s:
        found = s.parties.get(resolve_party(s, ref))
    _show(found, as_json)


@party.command("find")
@click.option("--email", help="Find by email, whatever its case.")
@click.option("--phone", help="Find by phone, however it is written.")
@click.option("--identifier", metavar="SCHEME=VALUE", help="Find by identifier.")
@json_option
@click.pass_context
def find(
    ctx: click.Context, email: str | None, phone: str | None, identifier: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Find parties by email, phone or identifier (match keys, not raw text)."""
    if not (email or phone or identifier):
        raise click.UsageError("give --email, --phone or --identifier")
    ident = None
    if identifier:
        ((scheme, value),) = key_values([identifier], "--identifier").items()
        ident = (scheme, value)
    with open_session(ctx) as s:
        found = s.parties.find(email=email, phone=phone, identifier=ident)
    _list(found, as_json)


@party.command("list")
@click.option("--kind", help="Only this kind.")
@click.option("--tag", help="Only parties with this tag.")
@click.option("--role", help="Only holders of this current role.")
@click.option("--state", "role_state", help="Only holders of a current role in this state.")
@click.option("--name", help="Words of the name, whatever their case and accents.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--after", metavar="CURSOR", help="The cursor printed by the previous page.")
@json_option
@click.pass_context
def list_parties(
    ctx: click.Context, kind: str | None, tag: str | None, role: str | None,
    role_state: str | None, name: str | None, limit: int, after: str | None, as_json: bool,
) -> None:  # fmt: skip
    """List parties, filtered, a page at a time."""
    with open_session(ctx) as s:
        page = s.parties.list(kind=kind, tag=tag, role=role, role_state=role_state, name=name,
                              limit=limit, after=after)  # fmt: skip
    if as_json:
        print_json({"items": list(page.items), "next_cursor": page.next_cursor})
        return
    _list(list(page.items), False)
    if page.next_cursor:
        click.echo(f"more: --after {page.next_cursor}")


@party.command("update")
@click.argument("ref", metavar="PARTY")
@click.option("--name", "display_name", help="New display name.")
@click.option("--given", "given_name", help="New given name.")
@click.option("--family", "family_name", help="New family name.")
@click.option("--version", type=VERSION, help="The version you read: refuse if it changed since.")
@json_option
@click.pass_context
def update(
    ctx: click.Context, ref: str, display_name: str | None, given_name: str | None,
    family_name: str | None, version: int | None, as_json: bool,
) -> None:  # fmt: skip
    """Change a party's names."""
    if display_name is None and given_name is None and family_name is None:
        raise click.UsageError("nothing to change: give --name, --given or --family")
    changes: dict[str, Any] = {"display_name": display_name, "given_name": given_name,
                               "family_name": family_name}  # fmt: skip
    with open_session(ctx) as s:
        updated = s.parties.update(
            resolve_party(s, ref), version=version,
            **{k: v for k, v in changes.items() if v is not None},
        )  # fmt: skip
    _show(updated, as_json)


@party.command("tag")
@click.argument("ref", metavar="PARTY")
@click.argument("tags", nargs=-1, required=True)
@click.option("--remove", is_flag=True, help="Remove the tags instead.")
@json_option
@click.pass_context
def tag(ctx: click.Context, ref: str, tags: tuple[str, ...], remove: bool, as_json: bool) -> None:
    """Add (or --remove) tags."""
    with open_session(ctx) as s:
        ident = resolve_party(s, ref)
        result = s.parties.untag(ident, *tags) if remove else s.parties.tag(ident, *tags)
    _show(result, as_json)


def _none(value: str) -> str | None:
    return None if value.lower() in ("", "none", "-") else value


@party.command("prefs")
@click.argument("ref", metavar="PARTY")
@click.option("--language", help="BCP 47 (fr, fr-CA, en); 'none' clears it.")
@click.option("--time-zone", help="IANA (Europe/Paris); 'none' clears it.")
@click.option(
    "--quiet-hours",
    metavar="HH:MM-HH:MM",
    help="No message in this local window (21:00-08:00); 'none' clears it.",
)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="PURPOSE=CHANNEL",
    help="Preferred channel for a purpose (repeatable); PURPOSE=none clears it.",
)
@click.option(
    "--cap",
    "caps",
    multiple=True,
    metavar="PURPOSE=COUNT/DAYS",
    help="At most COUNT messages in DAYS days for a purpose (2/7d; repeatable); "
    "PURPOSE=none clears it.",
)
@json_option
@click.pass_context
def prefs(
    ctx: click.Context, ref: str, language: str | None, time_zone: str | None,
    quiet_hours: str | None, channels: tuple[str, ...], caps: tuple[str, ...], as_json: bool,
) -> None:  # fmt: skip
    """Show a party's preferences, or change those given: language, time zone, quiet
    hours, and per purpose the preferred channel and a frequency cap."""
    changes: dict[str, Any] = {}
    for name, value in (("language", language), ("time_zone", time_zone),
                        ("quiet_hours", quiet_hours)):  # fmt: skip
        if value is not None:
            changes[name] = _none(value)
    if channels:
        changes["channels"] = {k: _none(v) for k, v in key_values(channels, "--channel").items()}
    if caps:
        changes["caps"] = {k: _none(v) for k, v in key_values(caps, "--cap").items()}
    with open_session(ctx) as s:
        ident = resolve_party(s, ref)
        found = s.preferences.set(ident, **changes) if changes else s.preferences.get(ident)
    if as_json:
        print_json(found.as_json())
        return
    click.echo(f"party {found.party_id}: preferences")
    click.echo(f"  language:    {found.language or '-'}")
    click.echo(f"  time zone:   {found.time_zone or '-'}")
    click.echo(f"  quiet hours: {found.quiet_hours or '-'}")
    for purpose in sorted(set(found.channels) | set(found.caps)):
        cap = found.caps.get(purpose)
        click.echo(f"  {purpose}: channel {found.channels.get(purpose, '-')}, "
                   f"cap {cap if cap else '-'}")  # fmt: skip
