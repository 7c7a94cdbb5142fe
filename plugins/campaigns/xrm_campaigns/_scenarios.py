"""Automated scenarios: parties are enrolled by a trigger (a journal event, in the unit of
work of the change; entering a segment or a date attribute, by the periodic
:func:`tick`), then a worker runs their steps one at a time.

At most once: the worker runs **one step of one enrolment per unit of work**: the step's
effect (a message put in the outbox, an activity planned, a tag, a role moved), the step
run's row (unique per enrolment and step) and the enrolment's advance commit together. A
worker killed at any moment leaves either all of it or none: the step runs again later,
never twice. On PostgreSQL workers claim enrolments with ``FOR UPDATE SKIP LOCKED`` (the
lock is the transaction's: a dead worker's goes with its connection); SQLite's units of
work begin ``IMMEDIATE`` and take turns.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from sqlalchemy import String, case, cast, exists, func, insert, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from xrm import XRM, ConsentRecord, Interaction, Role, Session, Undeliverable
from xrm.errors import Conflict, NotFound, ValidationError, XRMError
from xrm.tables import MessageRow, PartyRow, RoleRow, live_party, role_current, utcnow
from xrm_campaigns._campaigns import _now, _utc, reason_of, segment_target
from xrm_campaigns._definitions import (
    Condition,
    Exit,
    MoveRole,
    OnDate,
    OnEvent,
    OnSegmentEntry,
    PlanActivity,
    ScenarioSpec,
    Send,
    Step,
    Tag,
    Wait,
    parse,
)
from xrm_campaigns._events import PartyEnrolled, ScenarioCreated, ScenarioStatusChanged, StepRan
from xrm_campaigns._models import EnrolmentRow, ScenarioRow, StepRunRow

__all__ = [
    "Enrolment",
    "Scenario",
    "StepOutcome",
    "create_scenario",
    "enrol",
    "enrolments",
    "get_scenario",
    "on_consent",
    "on_interaction",
    "on_party_created",
    "on_role",
    "run_step",
    "scenario_report",
    "scenarios",
    "set_status",
    "tick",
    "work",
]

#: the session's cache of the active event scenarios (cleared by this module's writes)
_CACHE = "xrm_campaigns.scenarios"
#: at most this many days a late tick looks back for date triggers
_CATCH_UP_DAYS = 31


@attrs.frozen
class Scenario:
    """A scenario as stored."""

    id: int
    name: str
    spec: ScenarioSpec
    status: str
    created_at: dt.datetime

    @classmethod
    def of(cls, row: ScenarioRow) -> Scenario:
        return cls(
            row.id, row.name, ScenarioSpec.model_validate(row.definition), row.status,
            _utc(row.created_at) or row.created_at,
        )  # fmt: skip


@attrs.frozen
class Enrolment:
    """A party's way through a scenario."""

    id: int
    scenario: str
    party_id: int
    occurrence: str
    step: int
    status: str
    next_run_at: dt.datetime
    enrolled_at: dt.datetime


# -- defining -------------------------------------------------------------------------------
def _check(session: Session, spec: ScenarioSpec) -> None:
    trigger = spec.trigger
    if isinstance(trigger, OnEvent | OnSegmentEntry) and trigger.segment is not None:
        segment_target(session, trigger.segment, "trigger.segment")
    if isinstance(trigger, OnDate) and trigger.role is not None:
        _role_type(session, trigger.role, "trigger.role")
    for i, step in enumerate(spec.steps):
        where = f"steps.{i}"
        if isinstance(step, Condition):
            segment_target(session, step.segment, f"{where}.segment")
        elif isinstance(step, Send):
            try:
                session.messages.send_many(
                    [], step.template, purpose=step.purpose, channel=step.channel
                )
            except ValidationError as exc:
                raise exc.prefixed(where) from None
        elif isinstance(step, MoveRole):
            role_type = _role_type(session, step.role, f"{where}.role")
            if step.to not in role_type.states:
                raise ValidationError.single(
                    f"{where}.to", f"{step.to!r} is not a state of role {step.role!r}"
                )


def _role_type(session: Session, name: str, field: str) -> Any:
    try:
        return session.roles.role_type(name)
    except (ValidationError, NotFound):
        raise ValidationError.single(field, f"unknown role type {name!r}") from None


def create_scenario(session: Session, spec: ScenarioSpec | dict[str, Any]) -> Scenario:
    """Store a scenario, active at once. An ``OnSegmentEntry`` scenario notes the segment's
    present members as already there (unless ``include_existing``): only those who enter
    later are enrolled, by :func:`tick`."""
    spec_ = parse(ScenarioSpec, spec)
    _check(session, spec_)
    trigger = spec_.trigger
    now = utcnow()
    with session.atomic():
        if session.db.scalar(select(ScenarioRow.id).where(ScenarioRow.name == spec_.name)):
            raise Conflict(f"a scenario is already named {spec_.name!r}", field="name")
        row = ScenarioRow(
            name=spec_.name, definition=spec_.model_dump(mode="json"), trigger=trigger.type,
            event=trigger.event if isinstance(trigger, OnEvent) else None, status="active",
            ticked_at=now if isinstance(trigger, OnDate) else None, created_at=now,
            updated_at=now,
        )  # fmt: skip
        session.db.add(row)
        session.db.flush()
        session.journal(
            ScenarioCreated(
                entity_id=row.id, parties=(), name=row.name, trigger=trigger.type,
                steps=[s.type for s in spec_.steps],
            )
        )  # fmt: skip
        if isinstance(trigger, OnSegmentEntry) and not trigger.include_existing:
            members = session.segments.select(segment_target(session, trigger.segment), at=now)
            _insert_enrolments(
                session, row.id, members.subquery(), "", "baseline", now, returning=False
            )
        session.db.info.pop(_CACHE, None)
        return Scenario.of(row)


def _scenario_row(session: Session, scenario: int | str) -> ScenarioRow:
    column = ScenarioRow.id if isinstance(scenario, int) else ScenarioRow.name
    row = session.db.scalars(select(ScenarioRow).where(column == scenario)).first()
    if row is None:
        raise NotFound("scenario", scenario)
    return row


def get_scenario(session: Session, scenario: int | str) -> Scenario:
    """A scenario, by id or name."""
    return Scenario.of(_scenario_row(session, scenario))


def scenarios(session: Session) -> list[Scenario]:
    """Every scenario, oldest first."""
    return [
        Scenario.of(r) for r in session.db.scalars(select(ScenarioRow).order_by(ScenarioRow.id))
    ]


def set_status(session: Session, scenario: int | str, status: str) -> Scenario:
    """Pause (``paused``: nobody is enrolled, no step runs) or resume (``active``)."""
    if status not in ("active", "paused"):
        raise ValidationError.single("status", "must be active or paused")
    with session.atomic():
        row = _scenario_row(session, scenario)
        if row.status != status:
            row.status, row.updated_at = status, utcnow()
            session.db.flush()
            session.journal(
                ScenarioStatusChanged(entity_id=row.id, parties=(), name=row.name, status=status)
            )
        session.db.info.pop(_CACHE, None)
        return Scenario.of(row)


# -- enrolling ------------------------------------------------------------------------------
def _insert_ignoring(session: Session, values: list[dict[str, Any]]) -> list[int]:
    """Insert enrolments, those already there (same scenario, party and occurrence) left
    as they are; the ids of the new ones."""
    if not values:
        return []
    dialect = session.db.get_bind().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        make(EnrolmentRow)
        .values(values)
        .on_conflict_do_nothing(index_elements=["scenario_id", "party_id", "occurrence"])
        .returning(EnrolmentRow.id)
    )
    return list(session.db.scalars(statement))


def _insert_enrolments(
    session: Session, scenario_id: int, members: Any, occurrence: str, status: str,
    now: dt.datetime, *, returning: bool = True,
) -> list[tuple[int, int]]:  # fmt: skip
    """Enrol every party of ``members`` (a one-column subquery of party ids) not yet
    enrolled for this occurrence, set-based; the new ``(enrolment id, party id)`` pairs
    (none asked when not ``returning``: a baseline of a large segment)."""
    party_id = members.c[0]
    already = exists().where(
        EnrolmentRow.scenario_id == scenario_id,
        EnrolmentRow.party_id == party_id,
        EnrolmentRow.occurrence == occurrence,
    )
    moment = literal(now, EnrolmentRow.enrolled_at.type)
    query = select(
        literal(scenario_id, EnrolmentRow.scenario_id.type), party_id, literal(occurrence),
        literal(0, EnrolmentRow.step.type), literal(status), moment, moment, moment,
    ).where(~already)  # fmt: skip
    columns = [
        "scenario_id", "party_id", "occurrence", "step", "status", "next_run_at",
        "enrolled_at", "updated_at",
    ]  # fmt: skip
    statement = insert(EnrolmentRow).from_select(columns, query)
    if not returning:
        session.db.execute(statement)
        return []
    made = session.db.execute(statement.returning(EnrolmentRow.id, EnrolmentRow.party_id))
    return [(int(i), int(p)) for i, p in made.all()]


def enrol(
    session: Session,
    scenario: int | str | Scenario,
    party: int,
    *,
    occurrence: str = "",
    now: dt.datetime | None = None,
) -> Enrolment | None:
    """Enrol a party in a scenario by hand (or for a trigger): ``None`` when it already is
    (for that occurrence): a scenario runs at most once per party and occurrence."""
    moment = _now(now)
    with session.atomic():
        row = _scenario_row(session, scenario.id if isinstance(scenario, Scenario) else scenario)
        party_id = session.parties.get(party).id
        return _enrol(session, row.id, row.name, row.trigger, party_id, occurrence, moment)


def _enrol(
    session: Session, scenario_id: int, name: str, trigger: str, party_id: int,
    occurrence: str, now: dt.datetime,
) -> Enrolment | None:  # fmt: skip
    made = _insert_ignoring(session, [{
        "scenario_id": scenario_id, "party_id": party_id, "occurrence": occurrence, "step": 0,
        "status": "active", "next_run_at": now, "enrolled_at": now, "updated_at": now,
    }])  # fmt: skip
    if not made:
        return None
    session.journal(
        PartyEnrolled(
            entity_id=made[0], parties=(party_id,), scenario=name, trigger=trigger,
            occurrence=occurrence,
        )
    )  # fmt: skip
    return Enrolment(made[0], name, party_id, occurrence, 0, "active", now, now)


def _event_scenarios(session: Session, event: str) -> list[tuple[int, str, OnEvent]]:
    """The active scenarios an event of this type may trigger (cached for the unit of
    work: a bulk send calls the interaction hook once per message)."""
    cache: dict[str, list[tuple[int, str, OnEvent]]] | None = session.db.info.get(_CACHE)
    if cache is None:
        cache = {}
        for sid, name, definition in session.db.execute(
            select(ScenarioRow.id, ScenarioRow.name, ScenarioRow.definition).where(
                ScenarioRow.status == "active", ScenarioRow.trigger == "event"
            )
        ):
            trigger = ScenarioSpec.model_validate(definition).trigger
            assert isinstance(trigger, OnEvent)
            cache.setdefault(trigger.event, []).append((sid, name, trigger))
        session.db.info[_CACHE] = cache
    return cache.get(event, [])


def _on_event(
    session: Session, event: str, parties: Iterable[int], facts: Mapping[str, Any]
) -> None:
    found = _event_scenarios(session, event)
    if not found:
        return
    now = utcnow()
    for sid, name, trigger in found:
        if any(
            getattr(trigger, key) is not None and getattr(trigger, key) != value
            for key, value in facts.items()
        ):
            continue
        for party_id in parties:
            if trigger.segment is not None and not session.segments.contains(
                segment_target(session, trigger.segment, "trigger.segment"), party_id
            ):
                continue
            _enrol(session, sid, name, "event", party_id, "", now)


def on_role(session: Session, role: Role, from_state: str | None) -> None:
    """``xrm_role_changed``: a role assigned, moved or ended."""
    if from_state is None:
        event = "role.assigned"
    elif role.ended_at is not None and from_state == role.state:
        event = "role.ended"
    else:
        event = "role.transitioned"
    _on_event(session, event, [role.party_id], {"role": role.type, "to_state": role.state})


def on_interaction(session: Session, interaction: Interaction) -> None:
    """``xrm_interaction_recorded``: each participant of a matching interaction."""
    parties = [p.party_id for p in interaction.participants if p.role not in ("agent", "employee")]
    facts = {
        "channel": interaction.channel, "direction": interaction.direction,
        "purpose": interaction.purpose,
    }  # fmt: skip
    _on_event(session, "interaction.recorded", dict.fromkeys(parties), facts)


def on_party_created(session: Session, party_id: int) -> None:
    """``xrm_party_created``."""
    _on_event(session, "party.created", [party_id], {})


def on_consent(session: Session, record: ConsentRecord) -> None:
    """``xrm_consent_changed``: ``consent.granted``, ``refused``, ``withdrawn``,
    ``objected``."""
    event = f"consent.{record.decision}"
    _on_event(
        session, event, [record.party_id], {"purpose": record.purpose, "channel": record.channel}
    )


def tick(session: Session, *, now: dt.datetime | None = None) -> dict[str, int]:
    """Enrol, set-based, the parties that entered a segment-triggered scenario's segment
    since they were last looked for, and those whose date attribute is due (each day since
    the last tick, at most 31 back). Returns the parties enrolled per scenario."""
    moment = _now(now)
    enrolled: dict[str, int] = {}
    with session.atomic():
        rows = session.db.scalars(
            select(ScenarioRow)
            .where(ScenarioRow.status == "active", ScenarioRow.trigger.in_(("segment", "date")))
            .order_by(ScenarioRow.id)
        ).all()
        for row in rows:
            trigger = ScenarioSpec.model_validate(row.definition).trigger
            made: list[tuple[int, int, str]] = []
            if isinstance(trigger, OnSegmentEntry):
                target = segment_target(session, trigger.segment, "trigger.segment")
                members = session.segments.select(target, at=moment).subquery()
                made += [
                    (i, p, "")
                    for i, p in _insert_enrolments(session, row.id, members, "", "active", moment)
                ]
            elif isinstance(trigger, OnDate):
                last = (_utc(row.ticked_at) or moment).date()
                first = max(last, moment.date() - dt.timedelta(days=_CATCH_UP_DAYS))
                day = first
                while day <= moment.date():
                    target = day + dt.timedelta(days=trigger.days_before)
                    members = _dated(trigger, target).subquery()
                    occurrence = target.isoformat()
                    made += [
                        (i, p, occurrence)
                        for i, p in _insert_enrolments(
                            session, row.id, members, occurrence, "active", moment
                        )
                    ]
                    day += dt.timedelta(days=1)
            row.ticked_at = moment
            for ident, party_id, occurrence in made:
                session.journal(
                    PartyEnrolled(
                        entity_id=ident, parties=(party_id,), scenario=row.name,
                        trigger=row.trigger, occurrence=occurrence,
                    )
                )  # fmt: skip
            if made:
                enrolled[row.name] = len(made)
        session.db.flush()
    return enrolled


def _dated(trigger: OnDate, day: dt.date) -> Any:
    """The live parties whose date attribute is ``day`` (its month and day when yearly)."""
    if trigger.role is None:
        if trigger.attribute != "birth_date":
            raise ValidationError.single(
                "trigger.attribute", "without a role, the only date is birth_date"
            )
        value: Any = cast(PartyRow.birth_date, String)
        query = select(PartyRow.id).where(live_party())
    else:
        value = RoleRow.attributes[trigger.attribute].as_string()
        query = (
            select(RoleRow.party_id)
            .join(PartyRow, PartyRow.id == RoleRow.party_id)
            .where(RoleRow.type == trigger.role, role_current(), live_party())
        )
    if trigger.yearly:
        return query.where(func.substr(value, 6, 5) == day.strftime("%m-%d"))
    return query.where(func.substr(value, 1, 10) == day.isoformat())


# -- running --------------------------------------------------------------------------------
@attrs.frozen
class StepOutcome:
    """One step run by :func:`run_step`."""

    enrolment_id: int
    scenario: str
    party_id: int
    step: int
    kind: str
    outcome: str
    detail: str | None = None
    message_id: int | None = None
    activity_id: int | None = None


def _claim(session: Session, now: dt.datetime) -> EnrolmentRow | None:
    query = (
        select(EnrolmentRow)
        .join(ScenarioRow, ScenarioRow.id == EnrolmentRow.scenario_id)
        .where(
            EnrolmentRow.status == "active",
            EnrolmentRow.next_run_at <= now,
            ScenarioRow.status == "active",
        )
        .order_by(EnrolmentRow.next_run_at, EnrolmentRow.id)
        .limit(1)
    )
    if session.db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=EnrolmentRow)
    return session.db.scalars(query).first()


def run_step(session: Session, *, now: dt.datetime | None = None) -> StepOutcome | None:
    """Run the next due step of one enrolment in the caller's unit of work (``None``:
    nothing is due). Commit the unit of work before running the next: one step, one
    transaction, so that a worker killed mid-step leaves the step undone, never done twice.
    A step that fails (a role that cannot move) is undone and the enrolment ``failed``."""
    moment = _now(now)
    row = _claim(session, moment)
    if row is None:
        return None
    scenario = session.db.get(ScenarioRow, row.scenario_id)
    assert scenario is not None
    spec = ScenarioSpec.model_validate(scenario.definition)
    index = row.step
    # the guard: an enrolment another worker advanced meanwhile is not run again
    moved = session.db.execute(
        update(EnrolmentRow)
        .where(EnrolmentRow.id == row.id, EnrolmentRow.step == index,
               EnrolmentRow.status == "active")
        .values(updated_at=moment)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if getattr(moved, "rowcount", 1) != 1:
        return None
    session.db.refresh(row)
    if index >= len(spec.steps):  # the scenario lost steps since: the party is through
        row.status = "done"
        session.db.flush()
        return None
    step = spec.steps[index]
    try:
        with session.atomic():
            result = _execute(session, row, step, index, moment)
    except XRMError as exc:
        fields = getattr(exc, "fields", None)
        detail = f"{type(exc).__name__}" + (f": {', '.join(fields)}" if fields else "")
        result = StepOutcome(row.id, scenario.name, row.party_id, index, step.type, "failed",
                             detail=detail[:300])  # fmt: skip
        row.status = "failed"
    _advance(row, spec, result, moment)
    session.db.add(
        StepRunRow(
            enrolment_id=row.id, step=index, kind=step.type, outcome=result.outcome,
            detail=result.detail, message_id=result.message_id,
            activity_id=result.activity_id, at=moment,
        )
    )  # fmt: skip
    session.db.flush()
    session.journal(
        StepRan(
            entity_id=row.id, parties=(row.party_id,), scenario=scenario.name, step=index,
            kind=step.type, outcome=result.outcome, detail=result.detail,
            message_id=result.message_id, activity_id=result.activity_id,
        )
    )  # fmt: skip
    return attrs.evolve(result, scenario=scenario.name)


def _advance(row: EnrolmentRow, spec: ScenarioSpec, result: StepOutcome, now: dt.datetime) -> None:
    step = spec.steps[result.step]
    row.updated_at = now
    if row.status != "active":
        return
    if result.outcome == "exited":
        row.status = "exited"
        return
    following = result.step + (2 if result.outcome == "skipped_next" else 1)
    row.step = following
    row.next_run_at = now + step.delay() if isinstance(step, Wait) else now
    if following >= len(spec.steps):
        row.status = "done"


def _execute(
    session: Session, row: EnrolmentRow, step: Step, index: int, now: dt.datetime
) -> StepOutcome:
    party = row.party_id

    def outcome(kind: str, **kw: Any) -> StepOutcome:
        return StepOutcome(row.id, "", party, index, step.type, kind, **kw)

    if isinstance(step, Wait):
        return outcome("done")
    if isinstance(step, Exit):
        return outcome("exited")
    if isinstance(step, Condition):
        target = segment_target(session, step.segment, f"steps.{index}.segment")
        if session.segments.contains(target, party):
            return outcome("passed")
        return outcome("exited" if step.otherwise == "exit" else "skipped_next")
    if isinstance(step, Send):
        try:
            message = session.messages.send(
                party, step.template, purpose=step.purpose, data=step.data, channel=step.channel
            )
        except Undeliverable as refusal:
            return outcome("excluded", detail=reason_of(refusal))
        return outcome("done", message_id=message.id)
    if isinstance(step, PlanActivity):
        activity = session.activities.plan(
            step.kind, step.subject, due=now + dt.timedelta(days=step.due_in_days),
            parties=[party], assignee=step.assignee, user=step.user, about=("party", party),
        )  # fmt: skip
        return outcome("done", activity_id=activity.id)
    if isinstance(step, Tag):
        if step.remove:
            session.parties.untag(party, step.tag)
        else:
            session.parties.tag(party, step.tag)
        return outcome("done")
    assert isinstance(step, MoveRole)
    role = session.roles.current(party, step.role)
    if role is None:
        return outcome("skipped", detail=f"no current {step.role} role")
    if role.state != step.to:
        session.roles.transition(role, step.to)
    return outcome("done")


def work(
    app: XRM,
    *,
    now: dt.datetime | None = None,
    limit: int = 100,
    actor: str = "campaigns-worker",
) -> Counter[str]:
    """Run due steps, each in a unit of work of its own, until none is due or ``limit``
    ran; returns how many ended each way (``done``, ``excluded``, ``failed``...). Several
    workers may run at once (``xrm scenario run``)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100_000:
        raise ValidationError.single("limit", "must be between 1 and 100000")
    counts: Counter[str] = Counter()
    for _ in range(limit):
        try:
            with app.session(actor=actor) as s:
                ran = run_step(s, now=now)
        except Conflict:  # another worker took it first: its turn, then ours
            counts["conflict"] += 1
            continue
        if ran is None:
            break
        counts[ran.outcome] += 1
    return counts


# -- reading --------------------------------------------------------------------------------
def enrolments(
    session: Session, *, scenario: int | str | None = None, party: int | None = None
) -> list[Enrolment]:
    """Enrolments, of a scenario and/or a party, newest first."""
    query = (
        select(EnrolmentRow, ScenarioRow.name)
        .join(ScenarioRow, ScenarioRow.id == EnrolmentRow.scenario_id)
        .order_by(EnrolmentRow.id.desc())
    )
    if scenario is not None:
        query = query.where(EnrolmentRow.scenario_id == _scenario_row(session, scenario).id)
    if party is not None:
        query = query.where(EnrolmentRow.party_id == party)
    return [
        Enrolment(
            e.id,
            name,
            e.party_id,
            e.occurrence,
            e.step,
            e.status,
            _utc(e.next_run_at) or e.next_run_at,
            _utc(e.enrolled_at) or e.enrolled_at,
        )
        for e, name in session.db.execute(query).all()
    ]


def scenario_report(session: Session, scenario: int | str) -> dict[str, Any]:
    """A scenario's results: its enrolments per status, and per step the runs per outcome
    with, for a send step, the messages delivered and bounced (two grouped queries)."""
    row = _scenario_row(session, scenario)
    spec = ScenarioSpec.model_validate(row.definition)
    statuses = dict(
        session.db.execute(
            select(EnrolmentRow.status, func.count())
            .where(EnrolmentRow.scenario_id == row.id)
            .group_by(EnrolmentRow.status)
        ).all()
    )
    message_table = MessageRow.__table__
    messages = message_table.c

    def flag(status: str) -> Any:
        return func.coalesce(func.sum(case((messages.status == status, 1), else_=0)), 0)

    runs = session.db.execute(
        select(
            StepRunRow.step,
            StepRunRow.outcome,
            func.count(),
            func.count(messages.id),
            flag("sent"),
            flag("bounced"),
        )
        .join(EnrolmentRow, EnrolmentRow.id == StepRunRow.enrolment_id)
        .outerjoin(message_table, messages.id == StepRunRow.message_id)
        .where(EnrolmentRow.scenario_id == row.id)
        .group_by(StepRunRow.step, StepRunRow.outcome)
    ).all()
    steps: list[dict[str, Any]] = [
        {"step": i, "kind": s.type, "outcomes": {}, "messages": 0, "delivered": 0, "bounced": 0}
        for i, s in enumerate(spec.steps)
    ]
    for index, outcome, count, made, delivered, bounced in runs:
        if 0 <= index < len(steps):
            line = steps[index]
            line["outcomes"][outcome] = int(count)
            line["messages"] += int(made)
            line["delivered"] += int(delivered)
            line["bounced"] += int(bounced)
    return {"scenario": row.name, "status": row.status, "enrolments": statuses, "steps": steps}
