"""``xrm erase``: GDPR erasure (art. 17), with confirmation."""

from __future__ import annotations

import click

from xrm.cli._common import json_option, open_session, print_json, resolve_party


@click.command("erase")
@click.argument("ref", metavar="PARTY")
@click.option("--reason", required=True, help="Why (kept in the journal; no personal data).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@click.pass_context
def erase(ctx: click.Context, ref: str, reason: str, yes: bool, as_json: bool) -> None:
    """Erase PARTY's personal data everywhere (core, plugins, journal), keep what is not
    personal, and suppress its email addresses and phone numbers for the future."""
    with open_session(ctx, actor="cli:erase") as s:
        party = s.parties.get(resolve_party(s, ref), follow_merges=False)
        if not yes:
            click.confirm(
                f"Erase party {party.id} ({party.display_name})? This cannot be undone",
                abort=True,
                err=True,
            )
        report = s.gdpr.erase(party.id, reason=reason)
    if as_json:
        print_json(report)
    else:
        click.echo(
            f"party {report.party_id} erased: {report.contact_points} contact point(s), "
            f"{report.identifiers} identifier(s), {report.interactions_cleared} interaction(s) "
            f"cleared, {report.suppressions} address(es) suppressed"
        )
