"""``xrm opportunity``: open, show, move and list opportunities; the pipeline, forecast and
stale reports. Added to the ``xrm`` command line by the plugin's ``xrm_cli_commands``.

The commands take the application of the ``xrm`` root command's options (``--database``)
from the click context (its ``app()``), so they run on the same database as the core's
commands; errors become one ``Error:`` line through the root group.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import click

from xrm.commands import cell, print_json, print_table, session
from xrm_sales._opportunities import (
    CONTACT_ROLES,
    ContactIn,
    Opportunity,
    get,
    history,
    move,
    open_opportunity,
    opportunities,
)
from xrm_sales._reports import forecast, pipeline_report
from xrm_sales._stale import stale

__all__ = ["opportunity"]

DAY = click.DateTime(formats=["%Y-%m-%d"])
WHEN = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def _party_id(value: str, option: str) -> int:
    if not value.isdigit():
        raise click.BadParameter(f"{value!r} is not a party id", param_hint=option)
    return int(value)


def _owner(o: Opportunity) -> str:
    return f"party {o.owner_party_id}" if o.owner_party_id is not None else (o.owner_user or "-")


def _show(o: Opportunity) -> list[tuple[str, Any]]:
    return [
        ("id", o.id),
        ("title", o.title),
        ("account", o.account_id),
        ("pipeline", o.pipeline),
        ("stage", f"{o.stage} ({o.status}, {o.probability}%)"),
        ("amount", f"{o.amount} {o.currency}"),
        ("weighted", f"{o.weighted_amount.quantize(o.amount)} {o.currency}"),
        ("expected close", o.expected_close),
        ("owner", _owner(o)),
        ("source", o.source_campaign or (o.source_partner_id and f"partner {o.source_partner_id}")),
        ("lost reason", o.lost_reason),
        ("contacts", ", ".join(f"{c.party_id} ({c.role})" for c in o.contacts) or None),
        ("opened", o.opened_at),
        ("closed", o.closed_at),
    ]


@click.group()
def opportunity() -> None:
    """Opportunities: open, move through the pipeline, report (the sales plugin)."""


@opportunity.command("open")
@click.argument("account", metavar="ACCOUNT")
@click.argument("title")
@click.option("--amount", required=True, help="The amount, as decimal text (12500.00).")
@click.option("--currency", required=True, help="ISO 4217 code (EUR).")
@click.option("--pipeline", default="default", show_default=True)
@click.option("--stage", help="An open stage [default: the pipeline's first].")
@click.option("--probability", type=int, help="Percent [default: the stage's].")
@click.option("--close", "expected_close", type=DAY, help="Expected close date.")
@click.option("--owner", help="The owner: an employee party id.")
@click.option("--owner-user", help="The owner: an application user id [default: cli].")
@click.option("--campaign", help="Source: the campaign's name.")
@click.option("--partner", help="Source: the referring partner's party id.")
@click.option(
    "--contact", "contacts", multiple=True, metavar="PARTY[:ROLE]",
    help=f"A contact person and their role ({', '.join(CONTACT_ROLES)}).",
)  # fmt: skip
@click.option("--at", type=WHEN, help="When it opened (UTC) [default: now].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def open_command(
    ctx: click.Context, account: str, title: str, amount: str, currency: str, pipeline: str,
    stage: str | None, probability: int | None, expected_close: dt.datetime | None,
    owner: str | None, owner_user: str | None, campaign: str | None, partner: str | None,
    contacts: tuple[str, ...], at: dt.datetime | None, as_json: bool,
) -> None:  # fmt: skip
    """Open an opportunity for ACCOUNT (a party id) named TITLE."""
    named = []
    for value in contacts:
        party, _, role = value.partition(":")
        named.append(ContactIn(_party_id(party, "--contact"), role or "other"))
    with session(ctx) as s:
        created = open_opportunity(
            s, _party_id(account, "ACCOUNT"), title, amount=amount, currency=currency,
            pipeline=pipeline, stage=stage, probability=probability,
            expected_close=expected_close.date() if expected_close else None,
            owner=_party_id(owner, "--owner") if owner else None, owner_user=owner_user,
            contacts=named, campaign=campaign,
            partner=_party_id(partner, "--partner") if partner else None, at=_utc(at),
        )  # fmt: skip
    if as_json:
        print_json(dict(_show(created)))
    else:
        click.echo(f"opened opportunity {created.id}: {created.title} ({created.stage})")


@opportunity.command("show")
@click.argument("ident", metavar="ID", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def show_command(ctx: click.Context, ident: int, as_json: bool) -> None:
    """An opportunity and its stage history."""
    with session(ctx) as s:
        found = get(s, ident)
        steps = history(s, ident)
    if as_json:
        print_json({**dict(_show(found)), "history": [
            {"from": h.from_stage, "to": h.to_stage, "outcome": h.outcome,
             "probability": h.probability, "at": h.at, "by": h.by} for h in steps]})  # fmt: skip
        return
    width = max(len(k) for k, _ in _show(found))
    for key, value in _show(found):
        click.echo(f"{key.ljust(width)}  {cell(value)}")
    click.echo("")
    print_table(
        ["at", "from", "to", "outcome", "probability", "by"],
        [(h.at, h.from_stage, h.to_stage, h.outcome, h.probability, h.by) for h in steps],
    )


@opportunity.command("move")
@click.argument("ident", metavar="ID", type=int)
@click.argument("stage")
@click.option("--reason", help="Why it was lost (a lost stage needs one).")
@click.option("--probability", type=int, help="Percent [default: the stage's].")
@click.option("--at", type=WHEN, help="When (UTC) [default: now].")
@click.pass_context
def move_command(
    ctx: click.Context, ident: int, stage: str, reason: str | None, probability: int | None,
    at: dt.datetime | None,
) -> None:  # fmt: skip
    """Move opportunity ID to STAGE (a won stage makes the account a customer)."""
    with session(ctx) as s:
        moved = move(s, ident, stage, lost_reason=reason, probability=probability, at=_utc(at))
    click.echo(f"opportunity {moved.id}: {stage} ({moved.status}, {moved.probability}%)")


@opportunity.command("list")
@click.option("--account", help="Of this account (party id).")
@click.option("--owner", help="Owned by this employee (party id).")
@click.option("--owner-user", help="Owned by this user id.")
@click.option(
    "--status", type=click.Choice(["open", "won", "lost", "any"]), default="open",
    show_default=True,
)  # fmt: skip
@click.option("--pipeline")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--after", type=int, help="The id the previous page ended with.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def list_command(
    ctx: click.Context, account: str | None, owner: str | None, owner_user: str | None,
    status: str, pipeline: str | None, limit: int, after: int | None, as_json: bool,
) -> None:  # fmt: skip
    """Opportunities, by id."""
    with session(ctx) as s:
        found = opportunities(
            s, account=_party_id(account, "--account") if account else None,
            owner=_party_id(owner, "--owner") if owner else None, owner_user=owner_user,
            status=None if status == "any" else status, pipeline=pipeline, limit=limit,
            after=after,
        )  # fmt: skip
    if as_json:
        print_json([dict(_show(o)) for o in found])
        return
    print_table(
        ["id", "title", "account", "stage", "amount", "close", "owner"],
        [(o.id, o.title, o.account_id, o.stage, f"{o.amount} {o.currency}", o.expected_close,
          _owner(o)) for o in found],
    )  # fmt: skip


@opportunity.command("pipeline")
@click.option("--as-of", type=DAY, help="As the pipeline stood at the end of this day (UTC).")
@click.option("--pipeline")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def pipeline_command(
    ctx: click.Context, as_of: dt.datetime | None, pipeline: str | None, as_json: bool
) -> None:
    """Count, amount and weighted amount per stage and currency."""
    with session(ctx) as s:
        lines = pipeline_report(s, as_of=as_of.date() if as_of else None, pipeline=pipeline)
    if as_json:
        print_json([line._asdict() for line in lines])
        return
    print_table(
        ["pipeline", "stage", "outcome", "currency", "count", "amount", "weighted"],
        [(*line[:6], line.weighted.quantize(Decimal("0.01"))) for line in lines],
    )


@opportunity.command("forecast")
@click.option("--start", type=DAY, help="Expected close from this day.")
@click.option("--end", type=DAY, help="Expected close before this day.")
@click.option("--pipeline")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def forecast_command(
    ctx: click.Context, start: dt.datetime | None, end: dt.datetime | None,
    pipeline: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Open opportunities by month of expected close and owner: the weighted forecast."""
    with session(ctx) as s:
        lines = forecast(
            s, start=start.date() if start else None, end=end.date() if end else None,
            pipeline=pipeline,
        )  # fmt: skip
    if as_json:
        print_json([line._asdict() for line in lines])
        return
    print_table(
        ["month", "owner", "currency", "count", "amount", "weighted"],
        [(line.month.strftime("%Y-%m"),
          f"party {line.owner_party_id}" if line.owner_party_id else line.owner_user,
          line.currency, line.count, line.amount, line.weighted.quantize(Decimal("0.01")))
         for line in lines],
    )  # fmt: skip


@opportunity.command("stale")
@click.option("--days", type=click.IntRange(1), default=30, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def stale_command(ctx: click.Context, days: int, as_json: bool) -> None:
    """Open opportunities with no activity about them for DAYS days."""
    with session(ctx) as s:
        lines = list(stale(s, days=days))
    if as_json:
        print_json([line._asdict() for line in lines])
        return
    print_table(
        ["id", "title", "account", "stage", "owner", "last activity"],
        [(line.opportunity_id, line.title, line.account_id, line.stage,
          f"party {line.owner_party_id}" if line.owner_party_id else line.owner_user,
          line.last_activity) for line in lines],
    )  # fmt: skip
