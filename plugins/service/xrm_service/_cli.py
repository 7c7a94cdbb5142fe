"""``xrm case``: open, show, list, move and assign cases; notify a party; the SLA list,
escalation, surveys and the reports. Added to the ``xrm`` command line by the plugin's
``xrm_cli_commands``; the commands use the application of the root command's options
(``--database``, ``--templates``, ``--outbox``), and errors become one ``Error:`` line
through the root group."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from xrm.commands import cell, print_table, session
from xrm_service._cases import (
    Case,
    cases,
    escalate,
    get,
    history,
    move,
    open_case,
    sla_list,
    update,
)
from xrm_service._config import PRIORITIES
from xrm_service._messages import answer_survey, notify, send_surveys
from xrm_service._reports import (
    breaches_this_week,
    open_cases_by_age,
    satisfaction_by_team,
    times_by_team,
)

__all__ = ["case"]


def _party_id(value: str, option: str) -> int:
    if not value.isdigit():
        raise click.BadParameter(f"{value!r} is not a party id", param_hint=option)
    return int(value)


def _show(c: Case) -> None:
    for label, value in (
        ("case", c.reference), ("party", c.party_id), ("subject", c.subject),
        ("status", c.status), ("category", c.category), ("priority", c.priority),
        ("channel", c.channel), ("team", c.team), ("assignee", c.assignee_id),
        ("external ref", c.external_ref), ("policy", c.policy), ("opened", c.opened_at),
        ("first response", c.first_response_at), ("response due", c.response_due_at),
        ("resolution due", c.resolution_due_at), ("resolved", c.resolved_at),
        ("closed", c.closed_at), ("satisfaction", c.satisfaction),
        ("contacts", ", ".join(map(str, c.contacts)) or None),
    ):  # fmt: skip
        click.echo(f"{label + ':':<16}{cell(value)}")


@click.group()
def case() -> None:
    """Service cases: open, move, notify, SLA list, reports (the service plugin)."""


@case.command("open")
@click.argument("party")
@click.argument("subject")
@click.option("--category", default="general", show_default=True)
@click.option("--priority", type=click.Choice(PRIORITIES), default="normal", show_default=True)
@click.option("--channel", default="phone", show_default=True, help="The channel it came by.")
@click.option("--description")
@click.option("--contact", "contacts", multiple=True, help="A contact person's party id.")
@click.option("--assignee", help="An employee party id.")
@click.option("--team")
@click.option("--ref", "external_ref", help="The order or repair number.")
@click.option("--tier", help="The customer tier the service level is chosen for.")
@click.pass_context
def open_command(ctx: click.Context, /, party: str, subject: str, **kw: Any) -> None:
    """Open a case for PARTY."""
    contacts = [_party_id(p, "--contact") for p in kw.pop("contacts")]
    assignee = kw.pop("assignee")
    with session(ctx) as s:
        opened = open_case(
            s, _party_id(party, "PARTY"), subject, contacts=contacts,
            assignee=None if assignee is None else _party_id(assignee, "--assignee"), **kw,
        )  # fmt: skip
        _show(opened)


@case.command("show")
@click.argument("ref")
@click.pass_context
def show(ctx: click.Context, ref: str) -> None:
    """Show a case (id or C-000123) and its status history."""
    with session(ctx) as s:
        _show(get(s, ref))
        click.echo("history:")
        print_table(["at", "from", "to", "by"], ((h.at, h.from_status, h.to_status, h.by)
                                           for h in history(s, ref)))  # fmt: skip


@case.command("list")
@click.option("--party")
@click.option("--status")
@click.option("--open", "open_only", is_flag=True, help="Only cases not resolved nor closed.")
@click.option("--team")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.pass_context
def list_command(ctx: click.Context, /, party: str | None, **kw: Any) -> None:
    """List cases, newest first."""
    with session(ctx) as s:
        found = cases(s, party=None if party is None else _party_id(party, "--party"), **kw)
        print_table(
            ["case", "party", "status", "priority", "team", "next due", "subject"],
            ((c.reference, c.party_id, c.status, c.priority, c.team, c.next_due_at, c.subject)
             for c in found),
        )  # fmt: skip


@case.command("move")
@click.argument("ref")
@click.argument("status")
@click.pass_context
def move_command(ctx: click.Context, ref: str, status: str) -> None:
    """Move a case to STATUS (open, waiting_on_customer, resolved, closed...)."""
    with session(ctx) as s:
        moved = move(s, ref, status)
        click.echo(f"{moved.reference}: {moved.status}")


@case.command("assign")
@click.argument("ref")
@click.option("--assignee", help="An employee party id ('none' clears).")
@click.option("--team", help="A team ('none' clears).")
@click.option("--priority", type=click.Choice(PRIORITIES))
@click.option("--category")
@click.pass_context
def assign(ctx: click.Context, /, ref: str, **kw: Any) -> None:
    """Reassign a case or change its priority or category."""
    changes: dict[str, Any] = {}
    for name in ("assignee", "team"):
        if kw[name] is not None:
            value = None if kw[name] == "none" else kw[name]
            changes[name] = (
                _party_id(value, "--assignee") if name == "assignee" and value else value
            )
    for name in ("priority", "category"):
        if kw[name] is not None:
            changes[name] = kw[name]
    with session(ctx) as s:
        _show(update(s, ref, **changes))


@case.command("notify")
@click.argument("party")
@click.argument("kind")
@click.argument("reference")
@click.argument("status")
@click.option("--data", "pairs", multiple=True, metavar="KEY=VALUE")
@click.option("--channel")
@click.pass_context
def notify_command(
    ctx: click.Context, party: str, kind: str, reference: str, status: str,
    pairs: tuple[str, ...], channel: str | None,
) -> None:  # fmt: skip
    """Tell PARTY where its KIND (repair, order...) REFERENCE stands: STATUS."""
    data: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--data")
        data[key] = value
    with session(ctx) as s:
        notice = notify(s, _party_id(party, "PARTY"), kind, reference, status, data,
                        channel=channel)  # fmt: skip
        click.echo(
            f"message {notice.message.id} queued by {notice.message.channel}"
            + (f" on {notice.case_reference}" if notice.case_reference else "")
        )


@case.command("sla")
@click.option("--breached", is_flag=True, help="Only breached targets.")
@click.option("--within", type=click.IntRange(1), help="Only targets due within N minutes.")
@click.option("--team")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.pass_context
def sla(
    ctx: click.Context, breached: bool, within: int | None, team: str | None, limit: int
) -> None:
    """The SLA list: targets due, soonest first, with time left."""
    with session(ctx) as s:
        items = sla_list(
            s, breached_only=breached, team=team, limit=limit,
            within=None if within is None else dt.timedelta(minutes=within),
        )  # fmt: skip
        print_table(
            ["case", "party", "priority", "team", "target", "due", "left (min)", "breached"],
            ((i.reference, i.party_id, i.priority, i.team, i.target, i.due_at,
              i.seconds_left // 60, "yes" if i.breached else "") for i in items),
        )  # fmt: skip


@case.command("escalate")
@click.pass_context
def escalate_command(ctx: click.Context) -> None:
    """Escalate targets due soon and report breaches (run every few minutes)."""
    with session(ctx) as s:
        for item in escalate(s):
            state = "breached" if item.breached else "due soon"
            click.echo(f"{item.reference}: {item.target} {state} ({cell(item.due_at)})")


@case.command("surveys")
@click.option("--delay", type=click.IntRange(0), default=60, show_default=True,
              help="Minutes after resolution.")  # fmt: skip
@click.pass_context
def surveys(ctx: click.Context, delay: int) -> None:
    """Send the satisfaction survey of every case resolved and not yet surveyed."""
    with session(ctx) as s:
        run = send_surveys(s, delay=dt.timedelta(minutes=delay))
        click.echo(f"sent {len(run.sent)}, refused {len(run.refused)}")


@case.command("answer")
@click.argument("ref")
@click.argument("score", type=click.IntRange(1, 5))
@click.option("--comment")
@click.pass_context
def answer(ctx: click.Context, ref: str, score: int, comment: str | None) -> None:
    """Store a survey answer: SCORE from 1 to 5."""
    with session(ctx) as s:
        answered = answer_survey(s, ref, score, comment)
        click.echo(f"{answered.reference}: satisfaction {answered.satisfaction}")


@case.command("report")
@click.argument("name", type=click.Choice(["age", "breaches", "times", "satisfaction"]))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def report(ctx: click.Context, name: str, as_json: bool) -> None:
    """A report: open cases by AGE and priority, BREACHES this week, response and
    resolution TIMES by team, SATISFACTION by team."""
    with session(ctx) as s:
        rows: list[Any]
        if name == "age":
            rows = list(open_cases_by_age(s))
        elif name == "breaches":
            rows = list(breaches_this_week(s))
        elif name == "times":
            rows = list(times_by_team(s))
        else:
            rows = list(satisfaction_by_team(s))
    if as_json:
        click.echo(json.dumps([r._asdict() for r in rows], default=str, indent=2))
        return
    headers = list(rows[0]._fields) if rows else ["(none)"]
    print_table(headers, rows)
