"""xrm-service: cases (tickets) with service levels, and telling each party where its order,
invoice, delivery or repair stands.

- Tables (Alembic branch ``service``): ``service_case`` (customer, subject, category,
  priority, channel of origin, assignee and team, status, external reference, the
  service-level clock), ``service_case_contact``, ``service_case_status`` (the dated
  status history) and ``service_case_interaction`` (linked interactions: origin,
  threaded replies, notices, surveys).
- A configurable workflow (:data:`DEFAULT_WORKFLOW`: new → open → waiting_on_customer →
  resolved → closed, reopened within N days), service-level :class:`Policy` per
  priority, category and customer tier with first-response and resolution targets in
  business hours of a :class:`Calendar` (public holidays from the ``holidays`` package),
  paused while waiting on the customer; due instants stored at every write, so the SLA
  list (:func:`sla_list`) and :func:`escalate` are index ranges.
- Inbound: every recorded interaction naming a case (its reference ``C-000123``, the
  message it replies to, its external reference) is threaded onto it; an inbound one from
  a recognised party naming none opens a case.
- :func:`notify` (``service`` purpose), :func:`survey` / :func:`send_surveys`
  (``surveys`` purpose) and :func:`answer_survey`; shipped templates
  (:func:`with_default_templates`).
- Reports, one query each: :func:`open_cases_by_age`, :func:`breaches_this_week`,
  :func:`times_by_team`, :func:`satisfaction_by_team`.
- Journal events ``service.*``; merge moves cases to the survivor (back on unmerge);
  erasure: the descriptions and survey comments are declared ``PERSONAL``, the subjects
  of the erased customer's cases are replaced; ``xrm case ...``; HTTP routes under
  ``/plugins/service``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click
from sqlalchemy import select, update

from xrm import Interaction, JournalEvent, Panel, Party, Session, hookimpl
from xrm.hookspecs import hookspec
from xrm_service._calendar import DEFAULT_CALENDAR, Calendar
from xrm_service._cases import (
    ABOUT,
    REFERENCE,
    Case,
    SlaItem,
    StatusStep,
    add_contact,
    cases,
    escalate,
    get,
    history,
    link_interaction,
    move,
    open_case,
    parse_reference,
    party_panel,
    reference_of,
    sla_list,
)
from xrm_service._cases import (
    update as update_case,
)
from xrm_service._config import (
    DEFAULT_POLICIES,
    DEFAULT_WORKFLOW,
    PRIORITIES,
    Policy,
    ServiceConfig,
    Workflow,
    config_of,
    configure,
)
from xrm_service._events import EVENT_TYPES
from xrm_service._inbound import on_interaction
from xrm_service._messages import (
    NOTICE_TEMPLATE,
    SURVEY_TEMPLATE,
    Notice,
    SurveyRun,
    answer_survey,
    default_templates,
    notify,
    send_surveys,
    survey,
    with_default_templates,
)
from xrm_service._models import CaseContactRow, CaseInteractionRow, CaseRow, CaseStatusRow
from xrm_service._reports import (
    AgeLine,
    Breach,
    TeamSatisfaction,
    TeamTimes,
    breaches_this_week,
    open_cases_by_age,
    satisfaction_by_team,
    times_by_team,
)

__all__ = [
    "ABOUT",
    "DEFAULT_CALENDAR",
    "DEFAULT_POLICIES",
    "DEFAULT_WORKFLOW",
    "EVENT_TYPES",
    "NOTICE_TEMPLATE",
    "PRIORITIES",
    "REFERENCE",
    "SURVEY_TEMPLATE",
    "AgeLine",
    "Breach",
    "Calendar",
    "Case",
    "CaseContactRow",
    "CaseInteractionRow",
    "CaseRow",
    "CaseStatusRow",
    "Notice",
    "Policy",
    "ServiceConfig",
    "SlaItem",
    "StatusStep",
    "SurveyRun",
    "TeamSatisfaction",
    "TeamTimes",
    "Workflow",
    "add_contact",
    "answer_survey",
    "breaches_this_week",
    "cases",
    "config_of",
    "configure",
    "default_templates",
    "escalate",
    "get",
    "history",
    "link_interaction",
    "move",
    "notify",
    "open_case",
    "open_cases_by_age",
    "parse_reference",
    "party_panel",
    "reference_of",
    "satisfaction_by_team",
    "send_surveys",
    "sla_list",
    "survey",
    "times_by_team",
    "update_case",
    "with_default_templates",
]

#: what an erased text becomes (as the core's erasure writes it)
_ERASED = "[erased]"


class ServiceHooks:
    """The hooks the service plugin declares (``xrm_hookspecs``) for other plugins."""

    @staticmethod
    @hookspec
    def xrm_service_breach_near(session: Session, item: SlaItem) -> None:
        """A case's next target (``item.target``: response or resolution) falls due
        within the configured ``escalate_within``: page someone, reassign, raise the
        priority. Called once per due instant, by ``escalate`` (``xrm case escalate``);
        raising undoes the escalation round (``PluginError``)."""


@hookimpl
def xrm_hookspecs() -> Iterable[object]:
    return [ServiceHooks]


def _left(item: SlaItem | None) -> str:
    if item is None:
        return "nothing due (waiting on the customer)"
    minutes = abs(item.seconds_left) // 60
    span = f"{minutes // 60} h {minutes % 60:02d}"
    return f"{item.target} overdue by {span}" if item.breached else f"{item.target} due in {span}"


@hookimpl
def xrm_party_panels(session: Session, party: Party) -> Iterable[Panel]:
    """The party's open cases on its single view, with the time left on their next
    service-level target."""
    rows = [
        (case.reference, case.subject, case.status, case.priority, case.team, _left(item))
        for case, item in party_panel(session, party)
    ]
    return [
        Panel(
            "Open cases",
            ["reference", "subject", "status", "priority", "team", "service level"],
            rows,
            empty="No open case.",
        )
    ]


@hookimpl
def xrm_migration_locations() -> Iterable[str]:
    return ["migrations"]  # relative: resolved by the host next to this module


@hookimpl
def xrm_event_types() -> Iterable[type[JournalEvent]]:
    return EVENT_TYPES


@hookimpl
def xrm_interaction_recorded(session: Session, interaction: Interaction) -> None:
    """Thread the interaction onto the case it names, or open a case for an inbound one."""
    on_interaction(session, interaction)


@hookimpl
def xrm_parties_merged(session: Session, survivor: Party, duplicate: Party) -> object:
    """The duplicate's cases (as customer, assignee or contact) become the survivor's."""
    moved: dict[str, list[int]] = {}
    for key, table, column in _PARTY_COLUMNS:
        ids = list(session.db.scalars(select(table.id).where(column == duplicate.id)))
        if ids:
            session.db.execute(
                update(table).where(table.id.in_(ids)).values({column.key: survivor.id}),
                execution_options={"synchronize_session": False},
            )
            moved[key] = ids
    session.db.expire_all()
    return moved or None


@hookimpl
def xrm_parties_unmerged(
    session: Session, survivor: Party, duplicate: Party, moved: object
) -> None:
    """An unmerge gives the duplicate back what the merge moved (still on the survivor)."""
    if not isinstance(moved, dict):
        return
    for key, table, column in _PARTY_COLUMNS:
        ids = moved.get(key)
        if ids:
            session.db.execute(
                update(table)
                .where(table.id.in_(ids), column == survivor.id)
                .values({column.key: duplicate.id}),
                execution_options={"synchronize_session": False},
            )
    session.db.expire_all()


_PARTY_COLUMNS: tuple[tuple[str, Any, Any], ...] = (
    ("cases", CaseRow, CaseRow.party_id),
    ("assigned", CaseRow, CaseRow.assignee_id),
    ("contacts", CaseContactRow, CaseContactRow.party_id),
)


@hookimpl
def xrm_party_erase(session: Session, party: Party) -> None:
    """An erased customer's cases keep their facts (statuses, dates, service levels) and
    lose their subjects; descriptions and survey comments are declared ``PERSONAL`` and
    erased by the core."""
    session.db.execute(
        update(CaseRow).where(CaseRow.party_id == party.id).values(subject=_ERASED),
        execution_options={"synchronize_session": False},
    )
    session.db.expire_all()


@hookimpl
def xrm_cli_commands(cli: click.Group) -> None:
    from xrm_service._cli import case

    cli.add_command(case)


@hookimpl
def xrm_web_routers() -> Iterable[Any]:
    from xrm_service._web import router

    return [router]
