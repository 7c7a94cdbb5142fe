"""xrm-sales: opportunities and their pipeline, with a dated stage history.

- Tables (Alembic branch ``sales``): ``sales_opportunity`` (account, owner, pipeline and
  stage, amount as ``Decimal`` in an ISO 4217 currency, expected close, source, lost
  reason), ``sales_opportunity_contact`` (persons and their role in the deal) and
  ``sales_opportunity_stage`` (every step: from, to, at, by), so the pipeline can be read
  as of any past day.
- Pipelines: :data:`DEFAULT_PIPELINE` ships; :func:`configure` gives an application more,
  and stage-move vetoes.
- Rules: a won stage makes the account a customer (the ``customer`` role's transitions,
  in the same unit of work); a lost stage needs a reason; vetoes may refuse a move.
- Reports, each one SQL query: :func:`pipeline_report`, :func:`forecast`,
  :func:`stage_performance`, :func:`stale`.
- Journal events ``sales.*`` on the timelines of the account and the contacts; merge moves
  opportunities to the survivor (back on unmerge); erasure of a contact person erases
  their notes (declared ``PERSONAL``), of an account the titles and lost reasons.
- ``xrm opportunity open|show|move|list|pipeline|forecast|stale``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import click
from sqlalchemy import update

from xrm import JournalEvent, Panel, Party, Session, hookimpl
from xrm_sales._events import (
    EVENT_TYPES,
    ContactAdded,
    OpportunityLost,
    OpportunityOpened,
    OpportunityWon,
    StageChanged,
)
from xrm_sales._models import OpportunityContactRow, OpportunityRow, OpportunityStageRow
from xrm_sales._opportunities import (
    ABOUT,
    CONTACT_ROLES,
    Contact,
    ContactIn,
    Opportunity,
    StageChange,
    add_contact,
    get,
    give_back,
    history,
    move,
    move_to_survivor,
    open_opportunity,
    opportunities,
)
from xrm_sales._pipelines import (
    DEFAULT_PIPELINE,
    VALIDATE_STAGE_MOVE,
    Pipeline,
    SalesHooks,
    Stage,
    StageMove,
    StageVeto,
    configure,
    pipelines,
)
from xrm_sales._reports import (
    ForecastLine,
    PipelineLine,
    StagePerformance,
    end_of_day,
    forecast,
    pipeline_report,
    stage_performance,
)
from xrm_sales._stale import StaleOpportunity, stale

__all__ = [
    "ABOUT",
    "CONTACT_ROLES",
    "DEFAULT_PIPELINE",
    "EVENT_TYPES",
    "VALIDATE_STAGE_MOVE",
    "Contact",
    "ContactAdded",
    "ContactIn",
    "ForecastLine",
    "Opportunity",
    "OpportunityContactRow",
    "OpportunityLost",
    "OpportunityOpened",
    "OpportunityRow",
    "OpportunityStageRow",
    "OpportunityWon",
    "Pipeline",
    "PipelineLine",
    "SalesHooks",
    "Stage",
    "StageChange",
    "StageChanged",
    "StageMove",
    "StagePerformance",
    "StageVeto",
    "StaleOpportunity",
    "add_contact",
    "configure",
    "end_of_day",
    "forecast",
    "get",
    "history",
    "move",
    "open_opportunity",
    "opportunities",
    "pipeline_report",
    "pipelines",
    "stage_performance",
    "stale",
]

#: what an erased text becomes (as the core's erasure writes it)
_ERASED = "[erased]"


@hookimpl
def xrm_hookspecs() -> Iterable[object]:
    return [SalesHooks]


@hookimpl
def xrm_party_panels(session: Session, party: Party) -> Iterable[Panel]:
    """The party's opportunities as the account, on its single view: open ones first."""
    found = opportunities(session, account=party, status=None, limit=20)
    found.sort(key=lambda o: (o.status != "open", o.expected_close or dt.date.max, o.id))
    rows = [
        (o.title, o.stage, f"{o.amount} {o.currency}", o.probability, o.expected_close,
         o.owner_user or (f"party {o.owner_party_id}" if o.owner_party_id else ""))
        for o in found
    ]  # fmt: skip
    return [
        Panel(
            "Opportunities",
            ["title", "stage", "amount", "probability %", "expected close", "owner"],
            rows,
            empty="No opportunity.",
        )
    ]


@hookimpl
def xrm_web_routers() -> Iterable[object]:
    """The sales endpoints, under /plugins/sales when xrm serve runs (xrm[web])."""
    from xrm_sales._web import router  # FastAPI is needed only here

    return [router]


@hookimpl
def xrm_migration_locations() -> Iterable[str]:
    return ["migrations"]  # relative: resolved by the host next to this module


@hookimpl
def xrm_event_types() -> Iterable[type[JournalEvent]]:
    return EVENT_TYPES


@hookimpl
def xrm_parties_merged(session: Session, survivor: Party, duplicate: Party) -> object:
    """The duplicate's opportunities (as account, owner, partner or contact) become the
    survivor's."""
    return move_to_survivor(session, survivor, duplicate)


@hookimpl
def xrm_parties_unmerged(
    session: Session, survivor: Party, duplicate: Party, moved: object
) -> None:
    """An unmerge gives the duplicate back what the merge moved."""
    give_back(session, survivor, duplicate, moved)


@hookimpl
def xrm_party_erase(session: Session, party: Party) -> None:
    """An erased account's opportunities keep their facts (stages, amounts, dates) and
    lose their titles and lost reasons, which may name the person. Contacts' notes are
    declared ``PERSONAL`` and erased by the core."""
    Opp = OpportunityRow
    session.db.execute(
        update(Opp).where(Opp.account_id == party.id).values(title=_ERASED),
        execution_options={"synchronize_session": False},
    )
    session.db.execute(
        update(Opp)
        .where(Opp.account_id == party.id, Opp.lost_reason.is_not(None))
        .values(lost_reason=_ERASED),
        execution_options={"synchronize_session": False},
    )
    session.db.expire_all()


@hookimpl
def xrm_cli_commands(cli: click.Group) -> None:
    from xrm_sales._cli import opportunity

    cli.add_command(opportunity)
