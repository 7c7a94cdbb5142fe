"""Cases: open, move through the workflow, assign, link interactions; the service-level
clock kept current at every write, and the SLA list read from it in one indexed query."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import attrs
from sqlalchemy import (
    BigInteger,
    DateTime,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)

from xrm import Party, Session
from xrm.errors import Conflict, FieldError, NotFound, ValidationError
from xrm.tables import utcnow
from xrm_service._config import PRIORITIES, ServiceConfig, config_of
from xrm_service._events import (
    BreachNear,
    CaseAssigned,
    CaseOpened,
    InteractionLinked,
    SlaBreached,
    StatusChanged,
)
from xrm_service._models import CaseContactRow, CaseInteractionRow, CaseRow, CaseStatusRow

__all__ = [
    "ABOUT",
    "REFERENCE",
    "Case",
    "CaseRef",
    "SlaItem",
    "StatusStep",
    "add_contact",
    "cases",
    "escalate",
    "get",
    "history",
    "link_interaction",
    "move",
    "open_case",
    "parse_reference",
    "party_panel",
    "reference_of",
    "sla_list",
    "update",
]

#: what activities name as ``about`` for a case: ``("service.case", case.id)``
ABOUT = "service.case"
#: a case reference in a text: ``C-000123``
REFERENCE = re.compile(r"\bC-(\d{6,12})\b")
EMPLOYEE = "employee"
_UNSET: Any = object()


def reference_of(case_id: int) -> str:
    """The reference a case is known by: ``C-`` and its id on six digits at least."""
    return f"C-{case_id:06d}"


def parse_reference(text: str | None) -> int | None:
    """The case id of the first case reference in ``text``, if any."""
    if not text:
        return None
    match = REFERENCE.search(text)
    return int(match[1]) if match else None


@attrs.frozen
class Case:
    """A case as stored, with its service-level clock."""

    id: int
    reference: str
    party_id: int
    subject: str
    description: str | None
    category: str
    priority: str
    tier: str | None
    channel: str
    assignee_id: int | None
    team: str | None
    status: str
    external_ref: str | None
    policy: str | None
    calendar: str | None
    opened_at: dt.datetime
    updated_at: dt.datetime
    first_response_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    response_due_at: dt.datetime | None
    resolution_due_at: dt.datetime | None
    next_due_at: dt.datetime | None
    #: business time the resolution clock has used (up to the last stop or start)
    resolution_used: dt.timedelta
    #: is the resolution clock running?
    running: bool
    satisfaction: int | None
    satisfaction_comment: str | None
    contacts: tuple[int, ...]
    version: int

    @classmethod
    def of(cls, row: CaseRow, contacts: Sequence[int] = ()) -> Case:
        return cls(
            id=row.id, reference=reference_of(row.id), party_id=row.party_id,
            subject=row.subject, description=row.description, category=row.category,
            priority=row.priority, tier=row.tier, channel=row.channel,
            assignee_id=row.assignee_id, team=row.team, status=row.status,
            external_ref=row.external_ref, policy=row.policy, calendar=row.calendar,
            opened_at=row.opened_at, updated_at=row.updated_at,
            first_response_at=row.first_response_at, resolved_at=row.resolved_at,
            closed_at=row.closed_at, response_due_at=row.response_due_at,
            resolution_due_at=row.resolution_due_at, next_due_at=row.next_due_at,
            resolution_used=dt.timedelta(seconds=row.resolution_used_s),
            running=row.clock_since is not None, satisfaction=row.satisfaction,
            satisfaction_comment=row.satisfaction_comment, contacts=tuple(contacts),
            version=row.version,
        )  # fmt: skip


CaseRef = int | str | Case


@attrs.frozen
class StatusStep:
    from_status: str | None
    to_status: str
    at: dt.datetime
    by: str | None


class SlaItem(NamedTuple):
    """One line of the SLA list: the next target of a case, when it falls due, whether it
    is breached and the wall-clock time left (negative when breached), from SQL."""

    case_id: int
    party_id: int
    status: str
    priority: str
    team: str | None
    assignee_id: int | None
    #: ``response`` or ``resolution``
    target: str
    due_at: dt.datetime
    breached: bool
    seconds_left: int

    @property
    def reference(self) -> str:
        return reference_of(self.case_id)


# -- reading ------------------------------------------------------------------------------
def _case_id(ref: object, field: str = "case") -> int:
    if isinstance(ref, Case):
        return ref.id
    if isinstance(ref, int) and not isinstance(ref, bool):
        return ref
    if isinstance(ref, str):
        text = ref.strip()
        if text.isdigit():
            return int(text)
        match = REFERENCE.fullmatch(text)
        if match:
            return int(match[1])
    raise ValidationError.single(field, f"{ref!r} is not a case id or reference (C-000123)")


def _row(session: Session, ref: object, field: str = "case") -> CaseRow:
    case_id = _case_id(ref, field)
    row = session.db.get(CaseRow, case_id)
    if row is None:
        raise NotFound("case", reference_of(case_id))
    return row


def _contacts(session: Session, case_id: int) -> list[int]:
    query = (
        select(CaseContactRow.party_id)
        .where(CaseContactRow.case_id == case_id)
        .order_by(CaseContactRow.id)
    )
    return list(session.db.scalars(query))


def _of(session: Session, row: CaseRow) -> Case:
    return Case.of(row, _contacts(session, row.id))


def get(session: Session, case: CaseRef) -> Case:
    """The case with this id or reference (``NotFound`` otherwise)."""
    return _of(session, _row(session, case))


def history(session: Session, case: CaseRef) -> list[StatusStep]:
    """The case's status history, oldest first (the first step is its opening)."""
    row = _row(session, case)
    query = (
        select(CaseStatusRow)
        .where(CaseStatusRow.case_id == row.id)
        .order_by(CaseStatusRow.at, CaseStatusRow.id)
    )
    return [StatusStep(r.from_status, r.to_status, r.at, r.by) for r in session.db.scalars(query)]


def cases(
    session: Session,
    *,
    party: int | Party | None = None,
    status: str | None = None,
    open_only: bool = False,
    team: str | None = None,
    assignee: int | Party | None = None,
    external_ref: str | None = None,
    limit: int = 50,
) -> list[Case]:
    """Cases, newest first, filtered by the customer ``party``, ``status`` (or every case
    not resolved nor closed with ``open_only``), ``team``, ``assignee`` or
    ``external_ref``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise ValidationError.single("limit", "must be a whole number from 1 to 1000")
    done = config_of(session).workflow.done
    query = select(CaseRow).order_by(CaseRow.id.desc()).limit(limit)
    if party is not None:
        query = query.where(CaseRow.party_id == session.parties.get(party).id)
    if status is not None:
        query = query.where(CaseRow.status == status)
    if open_only:
        query = query.where(CaseRow.status.not_in(done))
    if team is not None:
        query = query.where(CaseRow.team == team)
    if assignee is not None:
        query = query.where(CaseRow.assignee_id == session.parties.get(assignee).id)
    if external_ref is not None:
        query = query.where(CaseRow.external_ref == external_ref)
    return [_of(session, row) for row in session.db.scalars(query)]


# -- checks ------------------------------------------------------------------------------
def _text(value: object, field: str, limit: int, errors: list[FieldError]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(FieldError(field, "must be text"))
        return None
    cleaned = " ".join(value.split()) if limit <= 300 else value.strip()
    if len(cleaned) > limit:
        errors.append(FieldError(field, f"is longer than {limit} characters"))
    return cleaned or None


def _when(value: object, field: str, errors: list[FieldError]) -> dt.datetime:
    now = utcnow()
    if value is None:
        return now
    if not isinstance(value, dt.datetime):
        errors.append(FieldError(field, f"must be a date and time, got {value!r}"))
        return now
    when = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    if when > now + dt.timedelta(minutes=1):
        errors.append(FieldError(field, f"{when.isoformat()} is in the future"))
    return when


def _assignee(session: Session, assignee: object, errors: list[FieldError]) -> int | None:
    if assignee is None:
        return None
    try:
        party = session.parties.get(assignee)  # type: ignore[arg-type]
    except (NotFound, ValidationError) as exc:
        errors.append(FieldError("assignee", str(exc)))
        return None
    if session.roles.current(party.id, EMPLOYEE) is None:
        errors.append(FieldError("assignee", f"party {party.id} holds no current employee role"))
    return party.id


def _choice(value: object, field: str, allowed: Iterable[str], errors: list[FieldError]) -> str:
    options = tuple(allowed)
    if not isinstance(value, str) or value not in options:
        errors.append(FieldError(field, f"must be one of {', '.join(options)}, got {value!r}"))
        return options[0]
    return value


def _category(value: object, config: ServiceConfig, errors: list[FieldError]) -> str:
    if config.categories is not None:
        return _choice(value, "category", config.categories, errors)
    cleaned = _text(value, "category", 60, errors)
    if cleaned is None:
        errors.append(FieldError("category", "must not be empty"))
        return "general"
    return cleaned


# -- the clock ---------------------------------------------------------------------------
def _policy(row: CaseRow, config: ServiceConfig) -> None:
    """Choose the case's policy from its priority, category and tier."""
    policy = config.policy_for(row.priority, row.category, row.tier)
    if policy is None:
        row.policy = row.calendar = None
        row.response_target_min = row.resolution_target_min = None
    else:
        row.policy, row.calendar = policy.name, policy.calendar
        row.response_target_min = policy.response_minutes
        row.resolution_target_min = policy.resolution_minutes


def _plan(row: CaseRow, config: ServiceConfig) -> None:
    """Work out the due instants from the targets and the clock as it stands."""
    if row.calendar is None or row.response_target_min is None:
        row.response_due_at = row.resolution_due_at = None
    else:
        cal = config.calendar(row.calendar)
        row.response_due_at = cal.add_business_time(
            row.opened_at, dt.timedelta(minutes=row.response_target_min)
        )
        if row.clock_since is not None and row.resolution_target_min is not None:
            left = dt.timedelta(minutes=row.resolution_target_min) - dt.timedelta(
                seconds=row.resolution_used_s
            )
            row.resolution_due_at = cal.add_business_time(row.clock_since, left)
        else:
            row.resolution_due_at = None
    _next_due(row)


def _next_due(row: CaseRow) -> None:
    due = []
    if row.first_response_at is None and row.response_due_at is not None:
        due.append(row.response_due_at)
    if row.resolution_due_at is not None:
        due.append(row.resolution_due_at)
    row.next_due_at = min(due) if due else None


def _stop(row: CaseRow, config: ServiceConfig, at: dt.datetime) -> None:
    if row.clock_since is None:
        return
    if row.calendar is not None:
        used = config.calendar(row.calendar).business_time(row.clock_since, at)
        row.resolution_used_s += int(used.total_seconds())
    if (
        row.resolution_due_at is not None
        and at > row.resolution_due_at
        and row.resolution_breached_at is None
    ):
        row.resolution_breached_at = row.resolution_due_at
    row.clock_since = None


def _responded(row: CaseRow, config: ServiceConfig, at: dt.datetime) -> bool:
    if row.first_response_at is not None:
        return False
    row.first_response_at = at
    if row.calendar is not None:
        spent = config.calendar(row.calendar).business_time(row.opened_at, at)
        row.response_min = int(spent.total_seconds() // 60)
    return True


def _shown_to(session: Session, row: CaseRow) -> tuple[int, ...]:
    return tuple(dict.fromkeys([row.party_id, *_contacts(session, row.id)]))


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# -- changes -----------------------------------------------------------------------------
def open_case(
    session: Session,
    party: int | Party,
    subject: str,
    *,
    category: str = "general",
    priority: str = "normal",
    channel: str = "phone",
    description: str | None = None,
    contacts: Sequence[int | Party] = (),
    assignee: int | Party | None = None,
    team: str | None = None,
    external_ref: str | None = None,
    tier: str | None = None,
    interaction: int | None = None,
    at: dt.datetime | None = None,
) -> Case:
    """Open a case for ``party`` (the customer) in the workflow's first status, held to the
    service level its priority, category and tier match, both due instants worked out in
    business hours of the policy's calendar. ``contacts`` are persons on the customer's
    side; ``assignee`` an employee party and ``team`` a team's name; ``external_ref`` the
    order or repair number; ``interaction`` the interaction it came in by (linked as its
    origin). Bad input raises :class:`~xrm.ValidationError` naming each field."""
    config = config_of(session)
    errors: list[FieldError] = []
    subject_ = _text(subject, "subject", 300, errors)
    if subject_ is None and not any(e.path == "subject" for e in errors):
        errors.append(FieldError("subject", "must not be empty"))
    description_ = _text(description, "description", 100_000, errors)
    category_ = _category(category, config, errors)
    priority_ = _choice(priority, "priority", PRIORITIES, errors)
    team_ = _text(team, "team", 100, errors)
    ref_ = _text(external_ref, "external_ref", 200, errors)
    tier_ = _text(tier, "tier", 40, errors)
    if not isinstance(channel, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", channel):
        errors.append(FieldError("channel", f"must be a channel's name, got {channel!r}"))
    when = _when(at, "at", errors)
    customer: Party | None = None
    try:
        customer = session.parties.get(party)
    except (NotFound, ValidationError) as exc:
        errors.append(FieldError("party", str(exc)))
    contact_ids: list[int] = []
    for i, contact in enumerate(contacts):
        try:
            contact_ids.append(session.parties.get(contact).id)
        except (NotFound, ValidationError) as exc:
            errors.append(FieldError(f"contacts.{i}", str(exc)))
    assignee_id = _assignee(session, assignee, errors)
    if errors:
        raise ValidationError(errors)
    assert customer is not None
    assert subject_ is not None
    if customer.merged_into is not None:
        raise ValidationError.single(
            "party", f"party {customer.id} was merged into {customer.merged_into}"
        )
    if tier_ is None and config.tier_of is not None:
        tier_ = config.tier_of(session, customer)
    with session.atomic():
        row = CaseRow(
            party_id=customer.id, subject=subject_, description=description_,
            category=category_, priority=priority_, tier=tier_, channel=channel,
            assignee_id=assignee_id, team=team_, status=config.workflow.initial,
            external_ref=ref_, opened_at=when, updated_at=when, clock_since=when,
            resolution_used_s=0, version=1,
        )  # fmt: skip
        _policy(row, config)
        _plan(row, config)
        session.db.add(row)
        session.db.flush()
        for contact_id in dict.fromkeys(contact_ids):
            if contact_id != customer.id:
                session.db.add(CaseContactRow(case_id=row.id, party_id=contact_id, created_at=when))
        session.db.add(
            CaseStatusRow(
                case_id=row.id, from_status=None, to_status=row.status, at=when, by=session.actor
            )
        )
        if interaction is not None:
            session.interactions.get(interaction)
            session.db.add(
                CaseInteractionRow(
                    case_id=row.id, interaction_id=interaction, link="origin", at=when
                )
            )
        session.db.flush()
        session.journal(
            CaseOpened(
                entity_id=row.id, parties=_shown_to(session, row), occurred_at=when,
                reference=reference_of(row.id), subject=row.subject, category=row.category,
                priority=row.priority, channel=row.channel, team=row.team,
                assignee_id=row.assignee_id, external_ref=row.external_ref,
                policy=row.policy, response_due_at=_iso(row.response_due_at),
                resolution_due_at=_iso(row.resolution_due_at), interaction_id=interaction,
            )
        )  # fmt: skip
        return _of(session, row)


def _last_step_at(session: Session, case_id: int) -> dt.datetime:
    last = session.db.scalar(
        select(func.max(CaseStatusRow.at)).where(CaseStatusRow.case_id == case_id)
    )
    assert last is not None
    return last


def move(
    session: Session,
    case: CaseRef,
    to_status: str,
    *,
    at: dt.datetime | None = None,
    expected_version: int | None = None,
) -> Case:
    """Move the case to ``to_status`` along the workflow. Into a paused status the
    resolution clock stops (the business time used is kept); out of it the clock runs on
    and the due instant is worked out again; resolving stops it for good (and counts as
    the first response if there was none); a resolved or closed case is reopened only
    within the workflow's ``reopen_days`` of its resolution. A move the workflow does not
    have is a :class:`~xrm.Conflict` naming both statuses."""
    config = config_of(session)
    flow = config.workflow
    errors: list[FieldError] = []
    when = _when(at, "at", errors)
    if not isinstance(to_status, str) or to_status not in flow.statuses:
        errors.append(
            FieldError("status", f"must be one of {', '.join(flow.statuses)}, got {to_status!r}")
        )
    if errors:
        raise ValidationError(errors)
    row = _row(session, case)
    if expected_version is not None and expected_version != row.version:
        raise Conflict(f"case {reference_of(row.id)} changed: version {row.version}")
    if when < _last_step_at(session, row.id):
        raise ValidationError.single("at", "is before the case's last status change")
    from_status = row.status
    if not flow.allowed(from_status, to_status):
        raise Conflict(
            f"case {reference_of(row.id)} cannot move from {from_status!r} to {to_status!r}"
        )
    reopening = flow.is_reopening(from_status, to_status)
    if reopening and not flow.reopen_allowed(row.resolved_at, when):
        raise Conflict(
            f"case {reference_of(row.id)} was resolved more than {flow.reopen_days} days ago: "
            "open a new case"
        )
    with session.atomic():
        if to_status == flow.resolved or to_status in flow.paused or to_status == flow.closed:
            _stop(row, config, when)
        if to_status == flow.resolved or (to_status == flow.closed and row.resolved_at is None):
            _responded(row, config, when)
            row.resolved_at = when
        if to_status == flow.closed:
            row.closed_at = when
        running = to_status not in flow.done and to_status not in flow.paused
        if running and row.clock_since is None:
            row.clock_since = when
        if reopening:
            row.resolved_at = row.closed_at = None
            row.survey_sent_at = row.survey_status = None
        row.status = to_status
        row.updated_at = when
        row.version += 1
        _plan(row, config)
        session.db.add(
            CaseStatusRow(
                case_id=row.id, from_status=from_status, to_status=to_status, at=when,
                by=session.actor,
            )
        )  # fmt: skip
        session.db.flush()
        session.journal(
            StatusChanged(
                entity_id=row.id, parties=_shown_to(session, row), occurred_at=when,
                reference=reference_of(row.id), from_status=from_status,
                to_status=to_status, reopened=reopening,
                resolution_due_at=_iso(row.resolution_due_at),
            )
        )  # fmt: skip
        return _of(session, row)


def update(
    session: Session,
    case: CaseRef,
    *,
    assignee: int | Party | None = _UNSET,
    team: str | None = _UNSET,
    priority: str = _UNSET,
    category: str = _UNSET,
    at: dt.datetime | None = None,
) -> Case:
    """Reassign the case (``assignee``, ``team``; ``None`` clears) or change its
    ``priority`` or ``category``; the service level is chosen again and the due instants
    worked out again from the same clock."""
    config = config_of(session)
    errors: list[FieldError] = []
    when = _when(at, "at", errors)
    row = _row(session, case)
    changes: dict[str, dict[str, object]] = {}
    values: dict[str, object] = {}
    if assignee is not _UNSET:
        values["assignee_id"] = _assignee(session, assignee, errors)
    if team is not _UNSET:
        values["team"] = _text(team, "team", 100, errors)
    if priority is not _UNSET:
        values["priority"] = _choice(priority, "priority", PRIORITIES, errors)
    if category is not _UNSET:
        values["category"] = _category(category, config, errors)
    if errors:
        raise ValidationError(errors)
    for name, value in values.items():
        if getattr(row, name) != value:
            changes[name] = {"from": getattr(row, name), "to": value}
    if not changes:
        return _of(session, row)
    with session.atomic():
        for name, value in values.items():
            setattr(row, name, value)
        if {"priority", "category"} & changes.keys():
            # the business time used so far stays; the new targets apply to it
            if row.clock_since is not None:
                _stop(row, config, when)
                row.clock_since = when
            _policy(row, config)
            _plan(row, config)
        row.updated_at = when
        row.version += 1
        session.db.flush()
        session.journal(
            CaseAssigned(
                entity_id=row.id, parties=_shown_to(session, row), occurred_at=when,
                reference=reference_of(row.id), changes=changes,
            )
        )  # fmt: skip
        return _of(session, row)


def add_contact(session: Session, case: CaseRef, party: int | Party) -> Case:
    """Name ``party`` a contact person of the case (once)."""
    row = _row(session, case)
    contact = session.parties.get(party)
    if contact.id != row.party_id and contact.id not in _contacts(session, row.id):
        with session.atomic():
            session.db.add(CaseContactRow(case_id=row.id, party_id=contact.id, created_at=utcnow()))
            session.db.flush()
    return _of(session, row)


def link_interaction(
    session: Session,
    case: CaseRef,
    interaction: int,
    *,
    link: str = "linked",
    message_id: int | None = None,
    status: str | None = None,
    reopen: bool = True,
) -> Case:
    """Link an interaction to the case (once). An outbound one is the first response if
    the case had none; an inbound reply to a case waiting on the customer moves it back to
    the workflow's reopen status (the clock runs again), and so does one to a resolved
    case within the reopen window (unless ``reopen`` is false)."""
    config = config_of(session)
    flow = config.workflow
    row = _row(session, case)
    found = session.interactions.get(interaction)
    exists = session.db.scalar(
        select(CaseInteractionRow.id).where(
            CaseInteractionRow.case_id == row.id,
            CaseInteractionRow.interaction_id == found.id,
        )
    )
    if exists is not None:
        return _of(session, row)
    when = found.occurred_at
    with session.atomic():
        session.db.add(
            CaseInteractionRow(
                case_id=row.id, interaction_id=found.id, link=link, message_id=message_id,
                status=status, at=when,
            )
        )  # fmt: skip
        first = False
        if found.direction == "outbound" and row.status not in flow.done:
            first = _responded(row, config, max(when, row.opened_at))
            if first:
                _next_due(row)
                row.version += 1
        session.db.flush()
        session.journal(
            InteractionLinked(
                entity_id=row.id, parties=_shown_to(session, row),
                reference=reference_of(row.id), interaction_id=found.id, link=link,
                first_response=first,
            )
        )  # fmt: skip
    if found.direction == "inbound" and reopen:
        at = max(utcnow(), _last_step_at(session, row.id))
        if row.status in flow.paused and flow.allowed(row.status, flow.reopen_to):
            return move(session, row.id, flow.reopen_to, at=at)
        if row.status in flow.done and flow.reopen_allowed(row.resolved_at, at):
            return move(session, row.id, flow.reopen_to, at=at)
    return _of(session, row)


# -- the SLA list ------------------------------------------------------------------------
def _dialect(session: Session) -> str:
    return session.db.get_bind().dialect.name


def _sla_query(dialect: str) -> Select[Any]:
    """The SLA lines, with the bound parameters ``now`` (aware), ``now_naive`` and
    ``now_text`` (the same instant, for the database's own arithmetic)."""
    target = case(
        (
            and_(
                CaseRow.first_response_at.is_(None),
                CaseRow.response_due_at == CaseRow.next_due_at,
            ),
            literal("response"),
        ),
        else_=literal("resolution"),
    )
    due = CaseRow.next_due_at
    if dialect == "postgresql":
        seconds = func.floor(func.extract("epoch", due - bindparam("now_naive", type_=DateTime)))
    else:
        since = func.julianday(bindparam("now_text", type_=String))
        seconds = func.round((func.julianday(due) - since) * 86400)
    return select(
        CaseRow.id, CaseRow.party_id, CaseRow.status, CaseRow.priority, CaseRow.team,
        CaseRow.assignee_id, target, due, due < bindparam("now"), cast(seconds, BigInteger),
    ).where(due.is_not(None))  # fmt: skip


def _now_params(session: Session, now: dt.datetime) -> dict[str, Any]:
    naive = now.astimezone(dt.UTC).replace(tzinfo=None)
    if _dialect(session) == "postgresql":
        return {"now": now, "now_naive": naive}
    return {"now": now, "now_text": naive.isoformat(" ")}


def _items(session: Session, query: Select[Any], params: dict[str, Any]) -> list[SlaItem]:
    """The lines, read through the connection: no ORM work for plain columns."""
    make = SlaItem._make
    return [make(r) for r in session.db.connection().execute(query, params)]


#: the SLA list's statements, built once per dialect and variant (a list is a hot path:
#: building the statement cost more than running it on a page of 100)
_SLA_QUERIES: dict[tuple[str, bool, bool, bool, bool], Select[Any]] = {}


def _sla_list_query(
    dialect: str, breached_only: bool, within: bool, team: bool, after: bool
) -> Select[Any]:
    key = (dialect, breached_only, within, team, after)
    found = _SLA_QUERIES.get(key)
    if found is not None:
        return found
    due = CaseRow.next_due_at
    query = _sla_query(dialect)
    if breached_only:
        query = query.where(due < bindparam("now"))
    elif within:
        query = query.where(due < bindparam("horizon", type_=due.type))
    if team:
        query = query.where(CaseRow.team == bindparam("team"))
    if after:
        last_due = bindparam("after_due", type_=due.type)
        # the first conjunct bounds the index range; the second breaks ties by id
        query = query.where(
            due >= last_due,
            or_(due > last_due, and_(due == last_due, CaseRow.id > bindparam("after_id"))),
        )
    query = query.order_by(due, CaseRow.id).limit(bindparam("limit", type_=BigInteger))
    _SLA_QUERIES[key] = query
    return query


def sla_list(
    session: Session,
    *,
    now: dt.datetime | None = None,
    within: dt.timedelta | None = None,
    breached_only: bool = False,
    team: str | None = None,
    limit: int = 100,
    after: tuple[dt.datetime, int] | None = None,
) -> list[SlaItem]:
    """The cases with a target due, soonest first: breached ones (due before ``now``)
    first, then those due within ``within`` of ``now`` (default: any time), each with its
    target, due instant, breach flag and wall-clock seconds left computed by the database.
    One query, a range of the index on ``next_due_at``; page with ``after`` = the last
    line's ``(due_at, case_id)``."""
    errors: list[FieldError] = []
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
        errors.append(FieldError("limit", "must be a whole number from 1 to 10000"))
    moment = utcnow() if now is None else _aware(now, "now", errors)
    if within is not None and (not isinstance(within, dt.timedelta) or within <= dt.timedelta()):
        errors.append(FieldError("within", "must be a positive duration"))
    if errors:
        raise ValidationError(errors)
    params = _now_params(session, moment)
    params["limit"] = limit
    if within is not None:
        params["horizon"] = moment + within
    if team is not None:
        params["team"] = team
    if after is not None:
        params["after_due"], params["after_id"] = after
    query = _sla_list_query(
        _dialect(session), breached_only, within is not None, team is not None, after is not None
    )
    return _items(session, query, params)


def _aware(value: object, field: str, errors: list[FieldError]) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        errors.append(FieldError(field, f"must be a date and time, got {value!r}"))
        return utcnow()
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def party_panel(
    session: Session, party: int | Party, *, now: dt.datetime | None = None
) -> list[tuple[Case, SlaItem | None]]:
    """What the party page shows: the party's open cases (not resolved nor closed), newest
    first, each with its next target and time left (``None`` when no target is due, as
    while waiting on the customer)."""
    moment = utcnow() if now is None else _aware(now, "now", [])
    open_cases = cases(session, party=party, open_only=True, limit=100)
    if not open_cases:
        return []
    ids = [c.id for c in open_cases]
    query = _sla_query(_dialect(session)).where(CaseRow.id.in_(ids))
    lines = {item.case_id: item for item in _items(session, query, _now_params(session, moment))}
    return [(c, lines.get(c.id)) for c in open_cases]


def escalate(session: Session, *, now: dt.datetime | None = None) -> list[SlaItem]:
    """Escalate the cases whose next target falls due within the configured
    ``escalate_within`` (a ``service.breach_near`` event, each ``on_breach_near``
    listener and every plugin's ``xrm_service_breach_near(session, item)``, once per due
    instant) and report those whose target has passed (a
    ``service.sla_breached`` event, once per due instant). Returns the lines escalated or reported.
    Run it every few minutes (``xrm case escalate``)."""
    config = config_of(session)
    moment = utcnow() if now is None else _aware(now, "now", [])
    due = CaseRow.next_due_at
    near_query = _sla_query(_dialect(session)).where(
        or_(
            and_(
                due >= moment,
                due < moment + config.escalate_within,
                or_(CaseRow.escalated_due_at.is_(None), CaseRow.escalated_due_at != due),
            ),
            and_(
                due < moment,
                or_(
                    CaseRow.breach_reported_due_at.is_(None), CaseRow.breach_reported_due_at != due
                ),
            ),
        )
    )
    escalated: list[SlaItem] = []
    with session.atomic():
        ordered = near_query.order_by(CaseRow.next_due_at, CaseRow.id)
        for item in _items(session, ordered, _now_params(session, moment)):
            row = session.db.get(CaseRow, item.case_id)
            assert row is not None
            if item.breached:
                row.breach_reported_due_at = item.due_at
            else:
                row.escalated_due_at = item.due_at
            event = SlaBreached if item.breached else BreachNear
            session.journal(
                event(
                    entity_id=row.id, parties=(row.party_id,), reference=item.reference,
                    target=item.target, due_at=item.due_at.isoformat(), team=item.team,
                    assignee_id=item.assignee_id,
                )
            )  # fmt: skip
            escalated.append(item)
            if not item.breached:
                for listener in config.listeners:
                    listener(session, item)
                # other plugins' escalations: the hook this plugin declares
                session.hook("xrm_service_breach_near", item=item)
        session.db.flush()
    return escalated
