"""``xrm activity``: plan, list, complete and cancel calls, meetings, emails and tasks."""

from __future__ import annotations

import datetime as dt

import click

from xrm import Activity
from xrm.cli._common import ID, json_option, open_session, print_json, print_table, resolve_party

WHEN = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])
KINDS = click.Choice(["call", "meeting", "email", "task"])


def _about(value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    kind, sep, ident = value.rpartition(":")
    if not sep or not kind or not ident.isdigit():
        raise click.BadParameter(
            f"{value!r} is not TYPE:ID (sales.opportunity:42)", param_hint="--about"
        )
    return kind, int(ident)


def _show(activities: list[Activity], as_json: bool, more: str | None = None) -> None:
    if as_json:
        print_json({"items": activities, "next_cursor": more})
        return
    print_table(
        ["id", "kind", "due", "status", "subject", "assignee", "parties", "about"],
        [(a.id, a.kind, a.local_due().strftime("%Y-%m-%d %H:%M %Z"), a.status, a.subject,
          a.user or a.assignee_id, ", ".join(map(str, a.parties)),
          f"{a.about_type}:{a.about_id}" if a.about else "")
         for a in activities],
    )  # fmt: skip
    if more:
        click.echo(f"more: --after {more}")


@click.group()
def activity() -> None:
    """Plan calls, meetings, emails and tasks; list what is due; complete or cancel them."""


@activity.command("plan")
@click.argument("kind", type=KINDS)
@click.argument("subject")
@click.option("--due", type=WHEN, required=True, help="When it is due, in --tz (else UTC).")
@click.option("--tz", "time_zone", metavar="ZONE", help="The IANA time zone (Europe/Paris).")
@click.option("--party", "parties", multiple=True, metavar="PARTY", help="A party it concerns.")
@click.option("--assignee", metavar="PARTY", help="The party who does it (an employee).")
@click.option("--user", help="The application user who does it.")
@click.option("--about", metavar="TYPE:ID", help="The record it is about (sales.opportunity:42).")
@click.option("--notes")
@json_option
@click.pass_context
def plan(
    ctx: click.Context, kind: str, subject: str, due: dt.datetime, time_zone: str | None,
    parties: tuple[str, ...], assignee: str | None, user: str | None, about: str | None,
    notes: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Plan an activity of KIND (call, meeting, email, task) called SUBJECT."""
    with open_session(ctx) as s:
        planned = s.activities.plan(
            kind, subject, due=due, time_zone=time_zone,
            parties=[resolve_party(s, p) for p in parties],
            assignee=resolve_party(s, assignee) if assignee else None, user=user,
            about=_about(about), notes=notes,
        )  # fmt: skip
    _show([planned], as_json)


@activity.command("list")
@click.option("--assignee", metavar="PARTY", help="Only those of this party.")
@click.option("--user", help="Only those of this application user.")
@click.option("--party", metavar="PARTY", help="Only those concerning this party.")
@click.option("--about", metavar="TYPE:ID", help="Only those about this record.")
@click.option(
    "--status", type=click.Choice(["open", "done", "cancelled", "any"]), default="open",
    show_default=True,
)  # fmt: skip
@click.option("--overdue", is_flag=True, help="Only open ones past their due time.")
@click.option("--week", is_flag=True, help="Only open ones due this week (in --tz).")
@click.option("--tz", "time_zone", metavar="ZONE", help="The time zone of --week.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--after", metavar="CURSOR", help="The cursor printed by the previous page.")
@json_option
@click.pass_context
def list_(
    ctx: click.Context, assignee: str | None, user: str | None, party: str | None,
    about: str | None, status: str, overdue: bool, week: bool, time_zone: str | None,
    limit: int, after: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Activities, soonest due first."""
    if overdue and week:
        raise click.UsageError("--overdue and --week do not go together")
    with open_session(ctx) as s:
        who = resolve_party(s, assignee) if assignee else None
        whom = resolve_party(s, party) if party else None
        if overdue:
            page = s.activities.overdue(
                assignee=who, user=user, party=whom, limit=limit, after=after
            )
        elif week:
            page = s.activities.due_this_week(
                assignee=who, user=user, party=whom, time_zone=time_zone, limit=limit, after=after
            )
        else:
            page = s.activities.list(
                assignee=who, user=user, party=whom, about=_about(about),
                status=None if status == "any" else status, limit=limit, after=after,
            )  # fmt: skip
    _show(list(page), as_json, page.next_cursor)


@activity.command("show")
@click.argument("activity_id", metavar="ID", type=ID)
@json_option
@click.pass_context
def show(ctx: click.Context, activity_id: int, as_json: bool) -> None:
    """The activity ID and its history."""
    with open_session(ctx) as s:
        found = s.activities.get(activity_id)
        history = s.activities.history(activity_id)
    if as_json:
        print_json({"activity": found, "history": list(history)})
        return
    _show([found], False)
    print_table(["when", "event", "by"], [(e.recorded_at, e.type, e.actor) for e in history])


@activity.command("done")
@click.argument("activity_id", metavar="ID", type=ID)
@click.option("--outcome", help="How it went.")
@click.option("--record", is_flag=True, help="Record the call or meeting as an interaction.")
@click.option("--channel", help="The interaction's channel [default: by kind].")
@click.option(
    "--direction", type=click.Choice(["inbound", "outbound", "internal"]), default="outbound",
    show_default=True,
)  # fmt: skip
@click.option("--purpose", help="The interaction's purpose (an outbound one needs it).")
@click.option("--touchpoint", help="The interaction's touchpoint (sales, support...).")
@json_option
@click.pass_context
def done(
    ctx: click.Context, activity_id: int, outcome: str | None, record: bool,
    channel: str | None, direction: str, purpose: str | None, touchpoint: str | None,
    as_json: bool,
) -> None:  # fmt: skip
    """Mark the activity ID done."""
    with open_session(ctx) as s:
        completed = s.activities.complete(
            activity_id, outcome=outcome, record=record, channel=channel, direction=direction,
            purpose=purpose, touchpoint=touchpoint,
        )  # fmt: skip
    _show([completed], as_json)
    if completed.interaction_id is not None and not as_json:
        click.echo(f"recorded as interaction {completed.interaction_id}")


@activity.command("cancel")
@click.argument("activity_id", metavar="ID", type=ID)
@click.option("--reason", required=True, help="Why it is cancelled.")
@json_option
@click.pass_context
def cancel(ctx: click.Context, activity_id: int, reason: str, as_json: bool) -> None:
    """Cancel the activity ID."""
    with open_session(ctx) as s:
        cancelled = s.activities.cancel(activity_id, reason=reason)
    _show([cancelled], as_json)
