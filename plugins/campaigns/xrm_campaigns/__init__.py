"""xrm-campaigns: targeted multi-channel campaigns on segments, and automated scenarios that
react to what a party does.

- Tables (Alembic branch ``campaigns``): ``campaigns_campaign`` (the definition, as JSON,
  and where the launch stands), ``campaigns_recipient`` (each member of the segment at
  resolution: arm, channel, status, exclusion reason, message), ``campaigns_scenario``,
  ``campaigns_enrolment`` (a party's way through a scenario) and ``campaigns_step_run``
  (each step run, unique per enrolment and step).
- Campaigns (:func:`create`, :func:`launch`, :func:`drain`, :func:`run_due`,
  :func:`results`): the audience is the segment's members the consent ledger allows for the
  purpose on at least one of the campaign's channels, resolved set-based in one
  ``INSERT ... SELECT``, each on its preferred allowed channel, with a deterministic A/B
  arm; sent through ``s.messages.send_many`` at the throttle, which checks again.
- Scenarios (:func:`create_scenario`, :func:`tick`, :func:`run_step`, :func:`work`): an
  event, a segment entry or a date enrols a party; wait, condition, send, activity, tag,
  role move and exit steps run one per unit of work, each at most once per enrolment.
- Journal events ``campaigns.*``; export of a party's campaigns and scenarios; erasure
  cancels its enrolments; a merge moves them to the survivor (back on unmerge);
  ``xrm campaign ...`` and ``xrm scenario ...``; HTTP routes under
  ``/plugins/campaigns``; a panel on the party page.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select, update

from xrm import (
    ConsentRecord,
    Interaction,
    JournalEvent,
    Panel,
    Party,
    Role,
    Session,
    TemplateSet,
    hookimpl,
)
from xrm_campaigns._campaigns import (
    EXCLUSION_REASONS,
    Campaign,
    DrainReport,
    Results,
    arm_bucket,
    audience_select,
    campaigns,
    cancel,
    create,
    drain,
    get,
    launch,
    recipients_of,
    resolve,
    results,
    run_due,
)
from xrm_campaigns._criteria import CRITERIA, InCampaign, InScenario
from xrm_campaigns._definitions import (
    Arm,
    CampaignSpec,
    Condition,
    Exit,
    MoveRole,
    OnDate,
    OnEvent,
    OnSegmentEntry,
    PlanActivity,
    ScenarioSpec,
    Send,
    Tag,
    Wait,
)
from xrm_campaigns._events import EVENT_TYPES
from xrm_campaigns._models import (
    CampaignRow,
    EnrolmentRow,
    RecipientRow,
    ScenarioRow,
    StepRunRow,
)
from xrm_campaigns._scenarios import (
    Enrolment,
    Scenario,
    StepOutcome,
    create_scenario,
    enrol,
    enrolments,
    get_scenario,
    on_consent,
    on_interaction,
    on_party_created,
    on_role,
    run_step,
    scenario_report,
    scenarios,
    set_status,
    tick,
    work,
)

__all__ = [
    "CRITERIA",
    "EVENT_TYPES",
    "EXCLUSION_REASONS",
    "TEMPLATES_DIR",
    "WELCOME_TEMPLATE",
    "Arm",
    "Campaign",
    "CampaignRow",
    "CampaignSpec",
    "Condition",
    "DrainReport",
    "Enrolment",
    "EnrolmentRow",
    "Exit",
    "InCampaign",
    "InScenario",
    "MoveRole",
    "OnDate",
    "OnEvent",
    "OnSegmentEntry",
    "PlanActivity",
    "RecipientRow",
    "Results",
    "Scenario",
    "ScenarioRow",
    "ScenarioSpec",
    "Send",
    "StepOutcome",
    "StepRunRow",
    "Tag",
    "Wait",
    "arm_bucket",
    "audience_select",
    "campaigns",
    "cancel",
    "create",
    "create_scenario",
    "default_templates",
    "drain",
    "enrol",
    "enrolments",
    "get",
    "get_scenario",
    "launch",
    "resolve",
    "results",
    "run_due",
    "run_step",
    "scenario_report",
    "scenarios",
    "set_status",
    "tick",
    "with_default_templates",
    "work",
]

#: the templates the plugin ships: ``campaigns_welcome`` (email and SMS, English and French)
TEMPLATES_DIR = Path(__file__).parent / "templates"
WELCOME_TEMPLATE = "campaigns_welcome"


def default_templates() -> TemplateSet:
    """The plugin's templates."""
    return TemplateSet.from_directory(TEMPLATES_DIR)


def with_default_templates(templates: TemplateSet | None = None) -> TemplateSet:
    """``templates`` (the application's) plus the plugin's for every name it lacks: give
    the result to ``XRM(templates=...)``. The application's own versions win."""
    return TemplateSet(templates or ()).with_defaults(default_templates())


@hookimpl
def xrm_migration_locations() -> Iterable[str]:
    return ["migrations"]  # relative: resolved by the host next to this module


@hookimpl
def xrm_event_types() -> Iterable[type[JournalEvent]]:
    return EVENT_TYPES


@hookimpl
def xrm_segment_criteria() -> Iterable[type[Any]]:
    """``campaigns.recipient`` (:class:`InCampaign`) and ``campaigns.scenario``
    (:class:`InScenario`)."""
    return CRITERIA


# -- scenario triggers, in the unit of work of the change -------------------------------------
@hookimpl
def xrm_role_changed(session: Session, role: Role, from_state: str | None) -> None:
    """Enrol the party in the scenarios a role event triggers."""
    on_role(session, role, from_state)


@hookimpl
def xrm_interaction_recorded(session: Session, interaction: Interaction) -> None:
    """Enrol the participants in the scenarios an interaction triggers."""
    on_interaction(session, interaction)


@hookimpl
def xrm_party_created(session: Session, party: Party) -> None:
    """Enrol a new party in the scenarios ``party.created`` triggers."""
    on_party_created(session, party.id)


@hookimpl
def xrm_consent_changed(session: Session, record: ConsentRecord) -> None:
    """Enrol the party in the scenarios a consent decision triggers."""
    on_consent(session, record)


# -- the party's data ---------------------------------------------------------------------------
@hookimpl
def xrm_party_export(session: Session, party: Party) -> Mapping[str, Any] | None:
    """The campaigns the party was targeted by and the scenarios it went through."""
    sent = [
        {"campaign": name, "arm": arm, "channel": channel, "status": status,
         "reason": reason, "message_id": message_id}
        for name, _, arm, channel, status, reason, message_id in recipients_of(session, party.id)
    ]  # fmt: skip
    runs = {
        e.id: [
            {"step": r.step, "kind": r.kind, "outcome": r.outcome, "at": r.at.isoformat(),
             "message_id": r.message_id, "activity_id": r.activity_id}
            for r in session.db.scalars(
                select(StepRunRow).where(StepRunRow.enrolment_id == e.id).order_by(StepRunRow.step)
            )
        ]
        for e in enrolments(session, party=party.id)
    }  # fmt: skip
    went = [
        {"scenario": e.scenario, "occurrence": e.occurrence, "status": e.status,
         "enrolled_at": e.enrolled_at.isoformat(), "steps": runs[e.id]}
        for e in enrolments(session, party=party.id)
    ]  # fmt: skip
    if not sent and not went:
        return None
    return {"campaigns": sent, "scenarios": went}


@hookimpl
def xrm_party_erase(session: Session, party: Party) -> None:
    """An erased party's scenarios stop (``cancelled``) and it is sent no more of any
    campaign (pending recipients ``excluded``, reason ``erased``). The rows stay: they hold
    no personal data and keep the campaigns' counts true."""
    session.db.execute(
        update(EnrolmentRow)
        .where(EnrolmentRow.party_id == party.id, EnrolmentRow.status == "active")
        .values(status="cancelled"),
        execution_options={"synchronize_session": False},
    )
    session.db.execute(
        update(RecipientRow)
        .where(RecipientRow.party_id == party.id, RecipientRow.status == "pending")
        .values(status="excluded", reason="erased"),
        execution_options={"synchronize_session": False},
    )
    session.db.expire_all()


_MOVED: tuple[tuple[str, Any, Any], ...] = (
    ("recipients", RecipientRow, RecipientRow.campaign_id),
    ("enrolments", EnrolmentRow, EnrolmentRow.scenario_id),
)


@hookimpl
def xrm_parties_merged(session: Session, survivor: Party, duplicate: Party) -> object:
    """The duplicate's recipients and enrolments become the survivor's, except where the
    survivor has its own for the same campaign or scenario (then the duplicate's pending
    ones stop: the survivor is not sent twice)."""
    moved: dict[str, list[int]] = {}
    for key, table, owner in _MOVED:
        theirs = select(owner).where(table.party_id == survivor.id)
        ids = list(
            session.db.scalars(
                select(table.id).where(table.party_id == duplicate.id, owner.not_in(theirs))
            )
        )
        if ids:
            session.db.execute(
                update(table).where(table.id.in_(ids)).values(party_id=survivor.id),
                execution_options={"synchronize_session": False},
            )
            moved[key] = ids
    session.db.execute(
        update(RecipientRow)
        .where(RecipientRow.party_id == duplicate.id, RecipientRow.status == "pending")
        .values(status="excluded", reason="merged"),
        execution_options={"synchronize_session": False},
    )
    session.db.execute(
        update(EnrolmentRow)
        .where(EnrolmentRow.party_id == duplicate.id, EnrolmentRow.status == "active")
        .values(status="cancelled"),
        execution_options={"synchronize_session": False},
    )
    session.db.expire_all()
    return moved or None


@hookimpl
def xrm_parties_unmerged(
    session: Session, survivor: Party, duplicate: Party, moved: object
) -> None:
    """An unmerge gives the duplicate back the recipients and enrolments the merge moved."""
    if not isinstance(moved, dict):
        return
    for key, table, _ in _MOVED:
        ids = moved.get(key)
        if ids:
            session.db.execute(
                update(table)
                .where(table.id.in_(ids), table.party_id == survivor.id)
                .values(party_id=duplicate.id),
                execution_options={"synchronize_session": False},
            )
    session.db.expire_all()


@hookimpl
def xrm_party_panels(session: Session, party: Party) -> Iterable[Panel]:
    """The campaigns the party was in, and the scenarios it is going through."""
    sent = [
        (name, arm, channel or "-", status if reason is None else f"{status}: {reason}")
        for name, _, arm, channel, status, reason, _ in recipients_of(session, party.id, limit=20)
    ]
    went = [
        (e.scenario, e.status, e.step, e.next_run_at if e.status == "active" else None)
        for e in enrolments(session, party=party.id)[:20]
    ]
    return [
        Panel("Campaigns", ["campaign", "arm", "channel", "status"], sent,
              empty="In no campaign."),
        Panel("Scenarios", ["scenario", "status", "next step", "runs at"], went,
              empty="In no scenario."),
    ]  # fmt: skip


@hookimpl
def xrm_cli_commands(cli: click.Group) -> None:
    from xrm_campaigns._cli import campaign, scenario

    cli.add_command(campaign)
    cli.add_command(scenario)


@hookimpl
def xrm_web_routers() -> Iterable[Any]:
    from xrm_campaigns._web import router

    return [router]
