"""``xrm campaign`` and ``xrm scenario``: define, launch and follow campaigns; define
scenarios and run their worker. Added to the ``xrm`` command line by the plugin's
``xrm_cli_commands``.

The commands take the application of the ``xrm`` root command's options (``--database``)
from the click context (its ``app()``); errors become one ``Error:`` line through the root
group. Definitions are JSON files (``-``: standard input), the JSON form of
:class:`~xrm_campaigns.CampaignSpec` and :class:`~xrm_campaigns.ScenarioSpec`.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from typing import Any

import click

from xrm.commands import application, cell, json_option, print_json, print_table, session
from xrm_campaigns._campaigns import (
    Campaign,
    Results,
    campaigns,
    cancel,
    create,
    drain,
    get,
    launch,
    results,
)
from xrm_campaigns._scenarios import (
    create_scenario,
    scenario_report,
    scenarios,
    set_status,
    tick,
    work,
)

__all__ = ["campaign", "scenario"]

WHEN = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def _definition(source: click.File) -> Any:
    try:
        return json.loads(source.read())  # type: ignore[attr-defined]
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="FILE") from None


def _campaign_json(c: Campaign) -> dict[str, Any]:
    return {
        "id": c.id, "name": c.name, "status": c.status, "starts_at": c.starts_at,
        "launched_at": c.launched_at, "resolved_at": c.resolved_at,
        "finished_at": c.finished_at, "processed": c.processed,
        "definition": c.spec.model_dump(mode="json"),
    }  # fmt: skip


def _results_json(r: Results) -> dict[str, Any]:
    return {"campaign": r.campaign, "status": r.status, "arms": r.arms, "total": r.total}


# -- xrm campaign ---------------------------------------------------------------------------
@click.group()
def campaign() -> None:
    """Campaigns: define, launch, send and follow them (the campaigns plugin)."""


@campaign.command("create")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@json_option
@click.pass_context
def campaign_create(ctx: click.Context, file: click.File, as_json: bool) -> None:
    """Define a campaign from FILE (JSON; - for standard input). It is a draft until
    launched."""
    with session(ctx) as s:
        made = create(s, _definition(file))
    if as_json:
        print_json(_campaign_json(made))
    else:
        click.echo(f"created campaign {made.name} (draft)")


@campaign.command("launch")
@click.argument("name")
@json_option
@click.pass_context
def campaign_launch(ctx: click.Context, name: str, as_json: bool) -> None:
    """Launch campaign NAME: now, or at its start date. Its audience is resolved as it
    starts; `xrm campaign run` sends it."""
    with session(ctx) as s:
        launched = launch(s, name)
        report = results(s, name) if launched.status != "scheduled" else None
    if as_json:
        print_json(_campaign_json(launched))
    elif report is None:
        click.echo(f"campaign {launched.name} scheduled for {cell(launched.starts_at)}")
    else:
        total = report.total
        click.echo(
            f"campaign {launched.name} {launched.status}: {total['targeted']} targeted, "
            f"{total['pending']} to send, {sum(total['excluded'].values())} excluded"
        )


@campaign.command("cancel")
@click.argument("name")
@click.pass_context
def campaign_cancel(ctx: click.Context, name: str) -> None:
    """Stop campaign NAME: its pending recipients are not sent."""
    with session(ctx) as s:
        cancel(s, name)
    click.echo(f"campaign {name} cancelled")


@campaign.command("list")
@click.option("--status", help="Only campaigns in this status (draft, scheduled, running...).")
@json_option
@click.pass_context
def campaign_list(ctx: click.Context, status: str | None, as_json: bool) -> None:
    """The campaigns, newest first."""
    with session(ctx) as s:
        found = campaigns(s, status=status)
    if as_json:
        print_json([_campaign_json(c) for c in found])
        return
    print_table(
        ["name", "purpose", "status", "starts", "processed"],
        [(c.name, c.spec.purpose, c.status, c.starts_at, c.processed) for c in found],
    )


@campaign.command("status")
@click.argument("name")
@json_option
@click.pass_context
def campaign_status(ctx: click.Context, name: str, as_json: bool) -> None:
    """Where campaign NAME stands."""
    with session(ctx) as s:
        found = get(s, name)
    if as_json:
        print_json(_campaign_json(found))
        return
    for key, value in (
        ("name", found.name), ("purpose", found.spec.purpose), ("status", found.status),
        ("channels", ", ".join(f"{c} ({t})" for c, t in found.spec.channels.items())),
        ("arms", ", ".join(f"{a.name} {a.share}%" for a in found.spec.arm_list())),
        ("throttle", f"{found.spec.throttle}/min" if found.spec.throttle else None),
        ("starts", found.starts_at), ("resolved", found.resolved_at),
        ("finished", found.finished_at), ("processed", found.processed),
    ):  # fmt: skip
        click.echo(f"{key.ljust(9)}  {cell(value)}")


@campaign.command("results")
@click.argument("name")
@json_option
@click.pass_context
def campaign_results(ctx: click.Context, name: str, as_json: bool) -> None:
    """What came of campaign NAME, per arm: targeted, excluded by reason, sent, delivered,
    bounced, replied, unsubscribed (opportunities and revenue with the sales plugin)."""
    with session(ctx) as s:
        found = results(s, name)
    if as_json:
        print_json(_results_json(found))
        return
    keys = ["targeted", "excluded", "held_out", "sent", "delivered", "bounced", "failed",
            "deferred", "replied", "unsubscribed"]  # fmt: skip
    sales = "opportunities" in found.total
    headers = ["arm", *keys, *(["opportunities", "revenue"] if sales else [])]
    lines = []
    for arm, counts in [*found.arms.items(), ("total", found.total)]:
        row: list[Any] = [arm]
        for key in keys:
            value = counts[key]
            row.append(sum(value.values()) if isinstance(value, dict) else value)
        if sales:
            revenue = counts.get("revenue", {})
            row += [counts.get("opportunities", 0),
                    ", ".join(f"{v} {c}" for c, v in sorted(revenue.items())) or "-"]  # fmt: skip
        lines.append(row)
    print_table(headers, lines)
    if found.total["excluded"]:
        why = ", ".join(f"{n} {r}" for r, n in sorted(found.total["excluded"].items()))
        click.echo(f"excluded: {why}")


@campaign.command("run")
@click.option("--once", is_flag=True, help="One round, then stop.")
@click.option("--poll", default=5.0, show_default=True, type=click.FloatRange(0.05, 3600),
              help="Seconds between rounds.")  # fmt: skip
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="Recipients per campaign per round.")  # fmt: skip
@click.pass_context
def campaign_run(ctx: click.Context, once: bool, poll: float, limit: int) -> None:
    """The campaign worker: start the campaigns that are due and send their recipients at
    their throttle, a unit of work per campaign and round. Runs until interrupted, or one
    round with --once. (`xrm worker` then delivers the messages.)"""
    app = application(ctx)
    totals: Counter[str] = Counter()
    try:
        while True:
            with app.session(actor="campaigns-worker") as s:
                names = [c.name for c in campaigns(s) if c.status in ("scheduled", "running")]
            busy = False
            for name in names:
                with app.session(actor="campaigns-worker") as s:
                    report = drain(s, name, limit=limit)
                excluded = sum(report.excluded.values())
                totals["sent"] += report.sent
                totals["excluded"] += excluded
                busy = busy or report.sent + excluded > 0
            if once:
                break
            if not busy:
                time.sleep(poll)
    except KeyboardInterrupt:
        pass
    click.echo(f"{totals['sent']} sent, {totals['excluded']} excluded")


# -- xrm scenario ---------------------------------------------------------------------------
@click.group()
def scenario() -> None:
    """Automated scenarios: define them, run their worker, follow them (the campaigns
    plugin)."""


@scenario.command("create")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.pass_context
def scenario_create(ctx: click.Context, file: click.File) -> None:
    """Define a scenario from FILE (JSON; - for standard input); it is active at once."""
    with session(ctx) as s:
        made = create_scenario(s, _definition(file))
    click.echo(f"created scenario {made.name} ({made.spec.trigger.type} trigger, "
               f"{len(made.spec.steps)} steps)")  # fmt: skip


@scenario.command("list")
@json_option
@click.pass_context
def scenario_list(ctx: click.Context, as_json: bool) -> None:
    """The scenarios."""
    with session(ctx) as s:
        found = scenarios(s)
    if as_json:
        print_json([{"id": f.id, "name": f.name, "status": f.status,
                "definition": f.spec.model_dump(mode="json")} for f in found])  # fmt: skip
        return
    print_table(
        ["name", "status", "trigger", "steps"],
        [(f.name, f.status, f.spec.trigger.type, " > ".join(x.type for x in f.spec.steps))
         for f in found],
    )  # fmt: skip


@scenario.command("pause")
@click.argument("name")
@click.pass_context
def scenario_pause(ctx: click.Context, name: str) -> None:
    """Pause scenario NAME: nobody is enrolled and no step runs until it is resumed."""
    with session(ctx) as s:
        set_status(s, name, "paused")
    click.echo(f"scenario {name} paused")


@scenario.command("resume")
@click.argument("name")
@click.pass_context
def scenario_resume(ctx: click.Context, name: str) -> None:
    """Resume scenario NAME."""
    with session(ctx) as s:
        set_status(s, name, "active")
    click.echo(f"scenario {name} active")


@scenario.command("status")
@click.argument("name")
@json_option
@click.pass_context
def scenario_status(ctx: click.Context, name: str, as_json: bool) -> None:
    """Scenario NAME's enrolments per status and its steps' outcomes."""
    with session(ctx) as s:
        report = scenario_report(s, name)
    if as_json:
        print_json(report)
        return
    enrolled = ", ".join(f"{n} {k}" for k, n in sorted(report["enrolments"].items()))
    click.echo(f"scenario {report['scenario']} ({report['status']}): {enrolled or 'nobody'}")
    print_table(
        ["step", "kind", "outcomes", "messages", "delivered", "bounced"],
        [(x["step"], x["kind"],
          ", ".join(f"{n} {o}" for o, n in sorted(x["outcomes"].items())) or "-",
          x["messages"], x["delivered"], x["bounced"]) for x in report["steps"]],
    )  # fmt: skip


@scenario.command("run")
@click.option("--once", is_flag=True, help="One round (a tick, then the due steps), then stop.")
@click.option("--poll", default=5.0, show_default=True, type=click.FloatRange(0.05, 3600),
              help="Seconds to wait after a round that found nothing.")  # fmt: skip
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000),
              help="Steps per round.")  # fmt: skip
@click.option("--now", "at", type=WHEN, help="Run as of this time (UTC) [default: now].")
@click.pass_context
def scenario_run(
    ctx: click.Context, once: bool, poll: float, limit: int, at: dt.datetime | None
) -> None:
    """The scenario worker: enrol the parties that entered a segment or whose date is due
    (a tick), then run due steps, one per unit of work. Several may run at once. Runs
    until interrupted, or one round with --once."""
    app = application(ctx)
    totals: Counter[str] = Counter()
    try:
        while True:
            with app.session(actor="campaigns-worker") as s:
                enrolled = tick(s, now=_utc(at))
            totals["enrolled"] += sum(enrolled.values())
            ran = work(app, now=_utc(at), limit=limit)
            totals.update(ran)
            if once:
                break
            if not ran:
                time.sleep(poll)
    except KeyboardInterrupt:
        pass
    done = ", ".join(f"{n} {k}" for k, n in sorted(totals.items()) if n) or "nothing due"
    click.echo(done)
