"""Opportunities: open one, name its contacts, move it through its pipeline's stages.

Every write goes through :meth:`xrm.Session.atomic`: when a rule, a veto or the customer
role refuses, nothing the call wrote stays, and the unit of work may go on.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation

import attrs
from babel.numbers import get_currency_precision, is_currency
from sqlalchemy import select, update

from xrm import Party, Role, RoleType, Session
from xrm.errors import FieldError, NotFound, ValidationError
from xrm.tables import utcnow
from xrm_sales._events import (
    ContactAdded,
    OpportunityLost,
    OpportunityOpened,
    OpportunityWon,
    StageChanged,
)
from xrm_sales._models import OpportunityContactRow, OpportunityRow, OpportunityStageRow
from xrm_sales._pipelines import VALIDATE_STAGE_MOVE, StageMove, pipeline_of, vetoes_of

__all__ = [
    "ABOUT",
    "CONTACT_ROLES",
    "Contact",
    "ContactIn",
    "Opportunity",
    "StageChange",
    "add_contact",
    "get",
    "give_back",
    "history",
    "move",
    "move_to_survivor",
    "open_opportunity",
    "opportunities",
]

#: how an activity names an opportunity: ``about=(ABOUT, opportunity.id)``
ABOUT = "sales.opportunity"
#: a contact's role in the deal
CONTACT_ROLES = ("decision_maker", "influencer", "user", "other")
#: the role types the rules read: the customers plugin's, the employees', the partners'
CUSTOMER, CUSTOMER_STATE, EMPLOYEE, PARTNER = "customer", "customer", "employee", "partner"

_TITLE_LIMIT = 300
_TEXT_LIMIT = 4000
_CAMPAIGN_LIMIT = 200
_USER_LIMIT = 200
_MAX_INTEGER_DIGITS = 15
_CURRENCY = re.compile(r"[A-Z]{3}")


@attrs.frozen
class ContactIn:
    """A contact to name when opening: a person party and their role in the deal."""

    party: int | Party
    role: str = "other"
    note: str | None = None


@attrs.frozen
class Contact:
    party_id: int
    role: str
    note: str | None


@attrs.frozen
class StageChange:
    """One step of the stage history; the opening has ``from_stage`` ``None``."""

    id: int
    from_stage: str | None
    to_stage: str
    outcome: str
    probability: int
    at: dt.datetime
    by: str | None


@attrs.frozen
class Opportunity:
    id: int
    title: str
    account_id: int
    owner_party_id: int | None
    owner_user: str | None
    pipeline: str
    stage: str
    #: ``open``, ``won`` or ``lost``: the stage's outcome
    status: str
    probability: int
    amount: Decimal
    currency: str
    expected_close: dt.date | None
    source_campaign: str | None
    source_partner_id: int | None
    lost_reason: str | None
    contacts: tuple[Contact, ...]
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    updated_at: dt.datetime

    @property
    def weighted_amount(self) -> Decimal:
        return self.amount * self.probability / 100

    @classmethod
    def of(cls, row: OpportunityRow, contacts: Iterable[OpportunityContactRow]) -> Opportunity:
        return cls(
            id=row.id,
            title=row.title,
            account_id=row.account_id,
            owner_party_id=row.owner_party_id,
            owner_user=row.owner_user,
            pipeline=row.pipeline,
            stage=row.stage,
            status=row.status,
            probability=row.probability,
            amount=_in_units(Decimal(row.amount), row.currency),
            currency=row.currency,
            expected_close=row.expected_close,
            source_campaign=row.source_campaign,
            source_partner_id=row.source_partner_id,
            lost_reason=row.lost_reason,
            contacts=tuple(Contact(c.party_id, c.role, c.note) for c in contacts),
            opened_at=row.opened_at,
            closed_at=row.closed_at,
            updated_at=row.updated_at,
        )


def _in_units(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-get_currency_precision(currency)))


# -- opening -------------------------------------------------------------------------------


def open_opportunity(
    session: Session,
    account: int | Party,
    title: str,
    *,
    amount: Decimal | int | str,
    currency: str,
    pipeline: str = "default",
    stage: str | None = None,
    probability: int | None = None,
    expected_close: dt.date | None = None,
    owner: int | Party | None = None,
    owner_user: str | None = None,
    contacts: Sequence[ContactIn] = (),
    campaign: str | None = None,
    partner: int | Party | None = None,
    at: dt.datetime | None = None,
) -> Opportunity:
    """Open an opportunity for ``account`` (an organization or a person) and return it.

    - ``amount`` is a :class:`~decimal.Decimal` (or an int, or decimal text; never a
      float), zero or more, with no more decimals than ``currency`` has (ISO 4217: ``EUR``
      2, ``JPY`` 0, ``KWD`` 3);
    - ``stage`` defaults to the pipeline's first, and must be an open stage;
      ``probability`` to the stage's;
    - the owner is ``owner``, a party holding a current ``employee`` role, or
      ``owner_user``, an application user id; with neither, the unit of work's actor;
    - the source is a ``campaign`` name, or a ``partner`` party holding a current
      ``partner`` role (not both);
    - ``contacts``: persons with their role in the deal (:data:`CONTACT_ROLES`).

    Writes the opportunity, its first stage-history step (dated ``at``, default now) and
    ``sales.opportunity_opened`` (plus ``sales.contact_added`` per contact), on the
    timelines of the account and the contacts. Bad input raises
    :class:`~xrm.ValidationError` naming each field, before anything is written.
    """
    errors: list[FieldError] = []
    title_ = _text(title, "title", _TITLE_LIMIT, errors, required=True)
    currency_ = _currency(currency, errors)
    amount_ = _amount(amount, currency_, errors)
    campaign_ = _text(campaign, "campaign", _CAMPAIGN_LIMIT, errors)
    owner_user_ = _text(owner_user, "owner_user", _USER_LIMIT, errors)
    when = _when(at, "at", errors)
    if expected_close is not None and (
        isinstance(expected_close, dt.datetime) or not isinstance(expected_close, dt.date)
    ):
        errors.append(FieldError("expected_close", f"must be a date, got {expected_close!r}"))
    if campaign_ is not None and partner is not None:
        errors.append(FieldError("partner", "give a campaign or a partner as the source, not both"))
    if owner is not None and owner_user_ is not None:
        errors.append(FieldError("owner_user", "give an owner party or a user id, not both"))
    pipe = None
    try:
        pipe = pipeline_of(session, pipeline)
    except ValidationError as exc:
        errors.extend(exc.errors)
    first = None
    if pipe is not None:
        try:
            first = pipe.stage(stage) if stage is not None else pipe.first
            if first.outcome != "open":
                errors.append(
                    FieldError("stage", f"{first.name!r} is {first.outcome}: open in an open stage")
                )
        except ValidationError as exc:
            errors.extend(exc.errors)
    prob = _probability(probability, errors)
    account_ = _party(session, account, "account", errors, kinds=("organization", "person"))
    owner_id = None
    if owner is not None:
        found = _party(session, owner, "owner", errors, kinds=("person",))
        if found is not None:
            if session.roles.current(found.id, EMPLOYEE) is None:
                errors.append(
                    FieldError("owner", f"party {found.id} holds no current employee role")
                )
            owner_id = found.id
    partner_id = None
    if partner is not None:
        found = _party(session, partner, "partner", errors)
        if found is not None:
            if session.roles.current(found.id, PARTNER) is None:
                errors.append(
                    FieldError("partner", f"party {found.id} holds no current partner role")
                )
            partner_id = found.id
    contact_rows = _contacts(session, contacts, errors)
    if errors:
        raise ValidationError(errors)
    assert account_ is not None
    assert first is not None
    assert pipe is not None
    assert title_ is not None
    assert amount_ is not None
    now = utcnow()
    opened_at = when or now
    prob_ = first.probability if prob is None else prob
    if owner_id is None and owner_user_ is None:
        owner_user_ = session.actor
    with session.atomic():
        row = OpportunityRow(
            title=title_,
            account_id=account_.id,
            owner_party_id=owner_id,
            owner_user=owner_user_,
            pipeline=pipe.name,
            stage=first.name,
            status=first.outcome,
            probability=prob_,
            amount=amount_,
            currency=currency_,
            expected_close=expected_close,
            source_campaign=campaign_,
            source_partner_id=partner_id,
            lost_reason=None,
            opened_at=opened_at,
            closed_at=None,
            created_at=now,
            updated_at=now,
        )
        session.db.add(row)
        session.db.flush()
        session.db.add(
            OpportunityStageRow(
                opportunity_id=row.id,
                from_stage=None,
                to_stage=first.name,
                status=first.outcome,
                probability=prob_,
                at=opened_at,
                by=session.actor,
            )
        )
        for contact in contact_rows:
            contact.opportunity_id = row.id
            contact.created_at = now
            session.db.add(contact)
        session.db.flush()
        parties = _timeline_parties(account_.id, contact_rows)
        session.journal(
            OpportunityOpened(
                entity_id=row.id,
                parties=parties,
                occurred_at=when,
                title=title_,
                account_id=account_.id,
                pipeline=pipe.name,
                stage=first.name,
                probability=prob_,
                amount=str(amount_),
                currency=currency_,
                expected_close=None if expected_close is None else expected_close.isoformat(),
                owner_party_id=owner_id,
                owner_user=owner_user_,
                source_campaign=campaign_,
                source_partner_id=partner_id,
            )
        )
        for contact in contact_rows:
            _journal_contact(session, row.id, parties, contact)
        return Opportunity.of(row, contact_rows)


def add_contact(
    session: Session,
    opportunity: int | Opportunity,
    party: int | Party,
    role: str = "other",
    note: str | None = None,
) -> Opportunity:
    """Name ``party`` (a person) a contact of the opportunity, with its ``role`` in the deal
    (:data:`CONTACT_ROLES`); a person already named is refused."""
    row = _row(session, opportunity)
    errors: list[FieldError] = []
    rows = _contacts(session, [ContactIn(party, role, note)], errors, path="")
    if errors:
        raise ValidationError(errors)
    (contact,) = rows
    if any(c.party_id == contact.party_id for c in _contact_rows(session, [row.id])):
        raise ValidationError.single(
            "party", f"party {contact.party_id} is already a contact of opportunity {row.id}"
        )
    with session.atomic():
        contact.opportunity_id = row.id
        contact.created_at = utcnow()
        session.db.add(contact)
        row.updated_at = utcnow()
        session.db.flush()
        current = _contact_rows(session, [row.id])
        _journal_contact(session, row.id, _timeline_parties(row.account_id, current), contact)
        return Opportunity.of(row, current)


# -- moving --------------------------------------------------------------------------------


def move(
    session: Session,
    opportunity: int | Opportunity,
    stage: str,
    *,
    at: dt.datetime | None = None,
    probability: int | None = None,
    lost_reason: str | None = None,
) -> Opportunity:
    """Move the opportunity to ``stage`` of its pipeline, dated ``at`` (default now; never
    before its previous step, never in the future), and return it.

    - ``probability`` defaults to the stage's;
    - a **lost** stage needs a ``lost_reason``; a reason for another stage is refused;
    - a **won** stage makes the account a customer, in the same unit of work: its current
      ``customer`` role is moved along the role type's transitions to ``customer`` (``lost``
      → ``lead`` → ``customer``), or it is assigned one in state ``customer``. If the role
      service or a plugin refuses, the move is undone and the error raised;
    - every veto given to :func:`xrm_sales.configure`, then every plugin's
      ``xrm_sales_validate_stage_move(session, change)``, is asked after the move is
      written: one that raises refuses it (the move is undone, its error raised; a
      plugin's as ``PluginError``).

    Writes a stage-history step and ``sales.stage_changed`` (and ``sales.opportunity_won``
    or ``sales.opportunity_lost``) on the timelines of the account and the contacts.
    """
    row = _row(session, opportunity)
    errors: list[FieldError] = []
    pipe = pipeline_of(session, row.pipeline)
    target = None
    try:
        target = pipe.stage(stage)
    except ValidationError as exc:
        errors.extend(exc.errors)
    when = _when(at, "at", errors)
    prob = _probability(probability, errors)
    reason = _text(lost_reason, "lost_reason", _TEXT_LIMIT, errors)
    last = _last_step(session, row.id)
    if when is not None and when < last.at:
        errors.append(
            FieldError(
                "at", f"{when.isoformat()} is before the previous step ({last.at.isoformat()})"
            )
        )
    if target is not None:
        if target.name == row.stage:
            errors.append(FieldError("stage", f"opportunity {row.id} is already in {row.stage!r}"))
        if target.outcome == "lost" and reason is None:
            errors.append(FieldError("lost_reason", "a lost opportunity needs a reason"))
        if target.outcome != "lost" and reason is not None:
            errors.append(FieldError("lost_reason", f"{target.name!r} is not a lost stage"))
    if errors:
        raise ValidationError(errors)
    assert target is not None
    now = utcnow()
    moved_at = when or now
    prob_ = target.probability if prob is None else prob
    from_stage = row.stage
    with session.atomic():
        row.stage = target.name
        row.status = target.outcome
        row.probability = prob_
        row.lost_reason = reason
        row.closed_at = moved_at if target.outcome != "open" else None
        row.updated_at = now
        step = OpportunityStageRow(
            opportunity_id=row.id,
            from_stage=from_stage,
            to_stage=target.name,
            status=target.outcome,
            probability=prob_,
            at=moved_at,
            by=session.actor,
        )
        session.db.add(step)
        session.db.flush()
        change = StageMove(
            opportunity_id=row.id,
            account_id=row.account_id,
            pipeline=row.pipeline,
            from_stage=from_stage,
            to_stage=target.name,
            outcome=target.outcome,
            at=moved_at,
            lost_reason=reason,
        )
        for veto in vetoes_of(session):
            veto(session, change)
        # other plugins' vetoes: the hook this plugin declares (raising refuses the move)
        session.hook(VALIDATE_STAGE_MOVE, change=change)
        contacts = _contact_rows(session, [row.id])
        parties = _timeline_parties(row.account_id, contacts)
        session.journal(
            StageChanged(
                entity_id=row.id,
                parties=parties,
                occurred_at=when,
                pipeline=row.pipeline,
                from_stage=from_stage,
                to_stage=target.name,
                outcome=target.outcome,
                probability=prob_,
            )
        )
        if target.outcome == "won":
            role = make_customer(session, row.account_id, row.id, moved_at)
            session.journal(
                OpportunityWon(
                    entity_id=row.id,
                    parties=parties,
                    occurred_at=when,
                    stage=target.name,
                    amount=str(Decimal(row.amount)),
                    currency=row.currency,
                    customer_role_id=role.id,
                )
            )
        elif target.outcome == "lost":
            assert reason is not None
            session.journal(
                OpportunityLost(
                    entity_id=row.id,
                    parties=parties,
                    occurred_at=when,
                    stage=target.name,
                    reason=reason,
                )
            )
        return Opportunity.of(row, contacts)


def make_customer(session: Session, account_id: int, opportunity_id: int, at: dt.datetime) -> Role:
    """The account's current customer role, moved to ``customer`` along the role type's
    transitions (shortest path), or assigned in state ``customer``, dated ``at`` (the win:
    the role service refuses a date before the role's last transition)."""
    note = f"opportunity {opportunity_id} won"
    role = session.roles.current(account_id, CUSTOMER)
    if role is None:
        return session.roles.assign(account_id, CUSTOMER, state=CUSTOMER_STATE, note=note, at=at)
    path = _path(session.roles.role_type(CUSTOMER), role.state, CUSTOMER_STATE)
    if path is None:
        raise ValidationError.single(
            "stage",
            f"the account's customer role is {role.state!r}, from which no transition leads "
            f"to {CUSTOMER_STATE!r}",
        )
    for state in path:
        role = session.roles.transition(role, state, note=note, at=at)
    return role


def _path(role_type: RoleType, start: str, goal: str) -> list[str] | None:
    """The states after ``start`` on a shortest way to ``goal`` (``[]`` when there)."""
    came_from: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        if state == goal:
            path: list[str] = []
            step: str | None = state
            while step is not None and step != start:
                path.append(step)
                step = came_from[step]
            return path[::-1]
        for following in role_type.transitions.get(state, ()):
            if following not in came_from:
                came_from[following] = state
                queue.append(following)
    return None


# -- reading -------------------------------------------------------------------------------


def get(session: Session, opportunity: int | Opportunity) -> Opportunity:
    row = _row(session, opportunity)
    return Opportunity.of(row, _contact_rows(session, [row.id]))


def history(session: Session, opportunity: int | Opportunity) -> list[StageChange]:
    """The opportunity's stage history, oldest first: the opening, then every move."""
    row = _row(session, opportunity)
    S = OpportunityStageRow
    query = select(S).where(S.opportunity_id == row.id).order_by(S.at, S.id)
    return [
        StageChange(s.id, s.from_stage, s.to_stage, s.status, s.probability, s.at, s.by)
        for s in session.db.scalars(query)
    ]


def opportunities(
    session: Session,
    *,
    account: int | Party | None = None,
    owner: int | Party | None = None,
    owner_user: str | None = None,
    status: str | None = "open",
    pipeline: str | None = None,
    limit: int = 50,
    after: int | None = None,
) -> list[Opportunity]:
    """Opportunities by id, ``limit`` at a time after the id ``after``: of an account, an
    owner (party or user id), in a status (``None``: any) or a pipeline. Two queries
    whatever the count (the opportunities, then their contacts)."""
    Opp = OpportunityRow
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise ValidationError.single("limit", "must be a whole number from 1 to 1000")
    if status is not None and status not in ("open", "won", "lost"):
        raise ValidationError.single("status", "must be open, won or lost")
    query = select(Opp).order_by(Opp.id).limit(limit)
    if account is not None:
        query = query.where(Opp.account_id == session.parties.get(account).id)
    if owner is not None:
        query = query.where(Opp.owner_party_id == session.parties.get(owner).id)
    if owner_user is not None:
        query = query.where(Opp.owner_user == owner_user)
    if status is not None:
        query = query.where(Opp.status == status)
    if pipeline is not None:
        query = query.where(Opp.pipeline == pipeline)
    if after is not None:
        query = query.where(Opp.id > after)
    rows = list(session.db.scalars(query))
    contacts: dict[int, list[OpportunityContactRow]] = {}
    for contact in _contact_rows(session, [r.id for r in rows]):
        contacts.setdefault(contact.opportunity_id, []).append(contact)
    return [Opportunity.of(r, contacts.get(r.id, [])) for r in rows]


# -- merge ---------------------------------------------------------------------------------

_PARTY_COLUMNS = (
    (OpportunityRow, "account_id"),
    (OpportunityRow, "owner_party_id"),
    (OpportunityRow, "source_partner_id"),
    (OpportunityContactRow, "party_id"),
)


def move_to_survivor(
    session: Session, survivor: Party, duplicate: Party
) -> dict[str, list[int]] | None:
    """A merge: what named the duplicate (as account, owner, partner or contact) names the
    survivor. Returns the ids moved per column, for :func:`give_back`."""
    moved: dict[str, list[int]] = {}
    for table, name in _PARTY_COLUMNS:
        column = getattr(table, name)
        ids = list(session.db.scalars(select(table.id).where(column == duplicate.id)))
        if ids:
            session.db.execute(
                update(table).where(table.id.in_(ids)).values({name: survivor.id}),
                execution_options={"synchronize_session": False},
            )
            moved[f"{table.__tablename__}.{name}"] = ids
    session.db.expire_all()
    return moved or None


def give_back(session: Session, survivor: Party, duplicate: Party, moved: object) -> None:
    """An unmerge: what a merge moved (and still names the survivor) goes back."""
    if not isinstance(moved, dict):
        return
    for table, name in _PARTY_COLUMNS:
        ids = moved.get(f"{table.__tablename__}.{name}")
        if ids:
            column = getattr(table, name)
            session.db.execute(
                update(table)
                .where(table.id.in_(ids), column == survivor.id)
                .values({name: duplicate.id}),
                execution_options={"synchronize_session": False},
            )
    session.db.expire_all()


# -- helpers -------------------------------------------------------------------------------


def _row(session: Session, opportunity: int | Opportunity) -> OpportunityRow:
    ident = opportunity.id if isinstance(opportunity, Opportunity) else opportunity
    if isinstance(ident, bool) or not isinstance(ident, int):
        raise ValidationError.single("opportunity", f"must be an id, got {ident!r}")
    row = session.db.get(OpportunityRow, ident)
    if row is None:
        raise NotFound("opportunity", ident)
    return row


def _contact_rows(session: Session, ids: Sequence[int]) -> list[OpportunityContactRow]:
    if not ids:
        return []
    C = OpportunityContactRow
    query = select(C).where(C.opportunity_id.in_(ids)).order_by(C.opportunity_id, C.id)
    return list(session.db.scalars(query))


def _last_step(session: Session, opportunity_id: int) -> OpportunityStageRow:
    S = OpportunityStageRow
    query = select(S).where(S.opportunity_id == opportunity_id).order_by(S.at.desc(), S.id.desc())
    step = session.db.scalars(query.limit(1)).first()
    assert step is not None  # opening writes the first step
    return step


def _timeline_parties(
    account_id: int, contacts: Iterable[OpportunityContactRow]
) -> tuple[int, ...]:
    parties = [account_id]
    for contact in contacts:
        if contact.party_id not in parties:
            parties.append(contact.party_id)
    return tuple(parties)


def _journal_contact(
    session: Session, opportunity_id: int, parties: tuple[int, ...], contact: OpportunityContactRow
) -> None:
    session.journal(
        ContactAdded(
            entity_id=opportunity_id,
            parties=parties,
            party_id=contact.party_id,
            role=contact.role,
            note=contact.note,
        )
    )


def _contacts(
    session: Session,
    contacts: Sequence[ContactIn],
    errors: list[FieldError],
    path: str = "contacts",
) -> list[OpportunityContactRow]:
    rows: list[OpportunityContactRow] = []
    seen: set[int] = set()
    for index, contact in enumerate(contacts):
        prefix = f"{path}.{index}." if path else ""
        if not isinstance(contact, ContactIn):
            errors.append(
                FieldError(f"{path}.{index}" if path else "contact", "must be a ContactIn")
            )
            continue
        if contact.role not in CONTACT_ROLES:
            errors.append(
                FieldError(
                    f"{prefix}role",
                    f"must be one of {', '.join(CONTACT_ROLES)}, got {contact.role!r}",
                )
            )
        note = _text(contact.note, f"{prefix}note", _TEXT_LIMIT, errors)
        party = _party(session, contact.party, f"{prefix}party", errors, kinds=("person",))
        if party is None:
            continue
        if party.id in seen:
            errors.append(FieldError(f"{prefix}party", f"party {party.id} is named twice"))
            continue
        seen.add(party.id)
        rows.append(OpportunityContactRow(party_id=party.id, role=contact.role, note=note))
    return rows


def _party(
    session: Session,
    ref: object,
    field: str,
    errors: list[FieldError],
    *,
    kinds: Sequence[str] | None = None,
) -> Party | None:
    if not isinstance(ref, Party) and (isinstance(ref, bool) or not isinstance(ref, int)):
        errors.append(FieldError(field, f"must be a party or a party id, got {ref!r}"))
        return None
    try:
        party = session.parties.get(ref)
    except NotFound:
        errors.append(FieldError(field, f"no party {ref.id if isinstance(ref, Party) else ref}"))
        return None
    if kinds is not None and party.kind not in kinds:
        errors.append(
            FieldError(field, f"party {party.id} is a {party.kind}; must be a {' or '.join(kinds)}")
        )
        return None
    if session.gdpr.is_erased(party):
        errors.append(FieldError(field, f"party {party.id} was erased"))
        return None
    return party


def _text(
    value: object, field: str, limit: int, errors: list[FieldError], *, required: bool = False
) -> str | None:
    if value is None:
        if required:
            errors.append(FieldError(field, "is required"))
        return None
    if not isinstance(value, str):
        errors.append(FieldError(field, "must be text"))
        return None
    cleaned = " ".join(value.split()) if limit <= _TITLE_LIMIT else value.strip()
    if len(cleaned) > limit:
        errors.append(FieldError(field, f"is longer than {limit} characters"))
    if required and not cleaned:
        errors.append(FieldError(field, "must not be blank"))
    return cleaned or None


def _currency(value: object, errors: list[FieldError]) -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value.strip().upper()):
        errors.append(
            FieldError("currency", f"must be an ISO 4217 code such as 'EUR', got {value!r}")
        )
        return ""
    code = value.strip().upper()
    if not is_currency(code):
        errors.append(FieldError("currency", f"{code!r} is not an ISO 4217 currency"))
        return ""
    return code


def _amount(value: object, currency: str, errors: list[FieldError]) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        hint = " (a float is not exact: use Decimal or text)" if isinstance(value, float) else ""
        errors.append(FieldError("amount", f"must be a Decimal, an int or decimal text{hint}"))
        return None
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        errors.append(FieldError("amount", f"{value!r} is not a number"))
        return None
    if not amount.is_finite() or amount < 0:
        errors.append(FieldError("amount", f"must be zero or more, got {value!r}"))
        return None
    _sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)
    if len(digits) + exponent > _MAX_INTEGER_DIGITS:
        errors.append(
            FieldError("amount", f"has more than {_MAX_INTEGER_DIGITS} digits before the point")
        )
        return None
    if currency:
        decimals = get_currency_precision(currency)
        if amount != amount.quantize(Decimal(1).scaleb(-decimals)):
            errors.append(
                FieldError("amount", f"{currency} has {decimals} decimals, got {value!r}")
            )
            return None
        return amount.quantize(Decimal(1).scaleb(-decimals))
    return amount


def _probability(value: object, errors: list[FieldError]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        errors.append(
            FieldError("probability", f"must be a whole number from 0 to 100, got {value!r}")
        )
        return None
    return value


def _when(value: object, field: str, errors: list[FieldError]) -> dt.datetime | None:
    if value is None:
        return None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        errors.append(FieldError(field, f"must be a datetime with a time zone, got {value!r}"))
        return None
    when = value.astimezone(dt.UTC)
    if when > utcnow() + dt.timedelta(seconds=1):
        errors.append(FieldError(field, f"{when.isoformat()} is in the future"))
        return None
    return when
