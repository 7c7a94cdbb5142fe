"""Activities: the calls, meetings, emails and tasks someone has to do, and for whom.

An activity is planned for a due time (stored in UTC, with the time zone its assignee
reads it in), assigned to an employee party or an application user, about a party or a
plugin's record (``("sales.opportunity", 42)``), and concerns parties (whose timelines
show it). It is ``open`` until it is ``done`` or ``cancelled``; its history is its
``activity.*`` journal events. Completing a call or a meeting can record the interaction
it was, in the same unit of work (consent applies as to any interaction).

Lists are keyset pages, soonest due first, each one index range: per party
(``activity_party``), per assignee or user, per record, open ones overdue or due this week.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.orm import selectinload

from xrm.core._args import checked_methods
from xrm.core._lean import _check_limit
from xrm.core.access import READ, WRITE
from xrm.core.events import (
    ActivityCancelled,
    ActivityCompleted,
    ActivityPlanned,
    ActivityUpdated,
)
from xrm.core.models import ActivityPartyRow, ActivityRow, JournalEventRow
from xrm.core.nouns.interactions import InteractionService
from xrm.core.nouns.preferences import parse_time_zone
from xrm.core.records import Activity, Interaction, Page, TimelineEntry
from xrm.core.uow import (
    PartyRef,
    UnitOfWork,
    as_utc,
    decode_time_cursor,
    keyset_page,
    ref_id,
)
from xrm.errors import Conflict, FieldError, NotFound, ValidationError

__all__ = ["KINDS", "STATUSES", "ActivityService", "carry_activities", "uncarry_activities"]

#: what an activity may be
KINDS = ("call", "meeting", "email", "task")
STATUSES = ("open", "done", "cancelled")
#: the channel of the interaction a completed activity records, unless told otherwise
CHANNEL_OF = {"call": "phone", "meeting": "face_to_face", "email": "email"}
_ABOUT = 60
_UNSET: Any = object()


def _text(value: str | None, field: str, limit: int, errors: list[FieldError]) -> str | None:
    if value is None:
        return None
    cleaned = value.strip()
    if len(cleaned) > limit:
        errors.append(FieldError(field, f"is longer than {limit} characters"))
    return cleaned or None


def _zone(value: str | None, errors: list[FieldError]) -> str | None:
    if value is None:
        return None
    try:
        return parse_time_zone(value)
    except ValueError as exc:
        errors.append(FieldError("time_zone", str(exc)))
        return None


def _about(
    value: tuple[str, int] | None, errors: list[FieldError]
) -> tuple[str | None, int | None]:
    if value is None:
        return None, None
    kind, ident = value
    if not kind or len(kind) > _ABOUT or kind != kind.strip():
        errors.append(FieldError("about.0", f"a record type of 1 to {_ABOUT} characters"))
    return kind, ident


@checked_methods(
    "activities",
    {
        "plan": WRITE, "get": READ, "update": WRITE, "complete": WRITE, "cancel": WRITE,
        "list": READ, "mine": READ, "overdue": READ, "due_this_week": READ, "history": READ,
    },
)  # fmt: skip
class ActivityService:
    """``s.activities``: plan, reschedule, complete and cancel activities; list them."""

    def __init__(self, uow: UnitOfWork, interactions: InteractionService) -> None:
        self._ctx = uow
        self._interactions = interactions

    # -- changes -------------------------------------------------------------------------
    def plan(
        self,
        kind: str,
        subject: str,
        *,
        due: dt.datetime,
        time_zone: str | None = None,
        parties: Sequence[PartyRef] = (),
        assignee: PartyRef | None = None,
        user: str | None = None,
        about: tuple[str, int] | None = None,
        notes: str | None = None,
    ) -> Activity:
        """Plan an activity of ``kind`` (``call``, ``meeting``, ``email``, ``task``) due at
        ``due`` (a naive datetime is read in ``time_zone``, else UTC). ``assignee`` is
        the party who does it (an employee), ``user`` the application's user id when the
        assignee is not a party; ``about`` the record it concerns (``("sales.opportunity",
        42)``, or ``("party", id)``); ``parties`` those whose timelines show it."""
        ctx = self._ctx
        errors: list[FieldError] = []
        if kind not in KINDS:
            errors.append(FieldError("kind", f"must be one of {', '.join(KINDS)}"))
        subject_ = _text(subject, "subject", 300, errors)
        if subject_ is None:
            errors.append(FieldError("subject", "must not be empty"))
        notes_ = _text(notes, "notes", 100_000, errors)
        zone = _zone(time_zone, errors)
        user_ = _text(user, "user", 200, errors)
        about_type, about_id = _about(about, errors)
        if errors:
            raise ValidationError(errors)
        due_at = self._due(due, zone)
        ids = list(dict.fromkeys(ref_id(p, "parties") for p in parties))
        with ctx.atomic():
            for i, ident in enumerate(ids):
                ctx.party_row(ident, f"parties.{i}")
            assignee_id = ctx.party_row(assignee, "assignee").id if assignee is not None else None
            now = ctx.now()
            row = ActivityRow(
                kind=kind, subject=subject_, notes=notes_, status="open", due_at=due_at,
                time_zone=zone, assignee_id=assignee_id, user=user_, about_type=about_type,
                about_id=about_id, created_at=now, updated_at=now,
            )  # fmt: skip
            row.parties = [ActivityPartyRow(party_id=p, due_at=due_at) for p in ids]
            ctx.db.add(row)
            ctx.db.flush()
            ctx.record(
                ActivityPlanned(
                    entity_id=row.id, parties=self._shown_to(row), kind=kind,
                    subject=row.subject, due_at=due_at.isoformat(), time_zone=zone,
                    assignee_id=assignee_id, user=user_, about_type=about_type,
                    about_id=about_id,
                )
            )  # fmt: skip
            return Activity.of(row)

    def update(
        self,
        activity: int | Activity,
        *,
        subject: str | None = None,
        due: dt.datetime | None = None,
        time_zone: str | None = None,
        assignee: PartyRef | None = None,
        user: str | None = None,
        notes: str | None = None,
    ) -> Activity:
        """Change an open activity: reschedule it (``due``, ``time_zone``), reassign it
        (``assignee`` or ``user``), rename it, change its notes. What is not given stays."""
        ctx = self._ctx
        errors: list[FieldError] = []
        subject_ = _text(subject, "subject", 300, errors)
        if subject is not None and subject_ is None:
            errors.append(FieldError("subject", "must not be empty"))
        notes_ = _text(notes, "notes", 100_000, errors)
        zone = _zone(time_zone, errors)
        user_ = _text(user, "user", 200, errors)
        if errors:
            raise ValidationError(errors)
        with ctx.atomic():
            row = self._open(activity)
            changes: dict[str, Any] = {}

            def change(field: str, value: Any, shown: Any = _UNSET) -> None:
                before = getattr(row, field)
                if value != before:
                    changes[field] = {
                        "from": before.isoformat() if isinstance(before, dt.datetime) else before,
                        "to": value if shown is _UNSET else shown,
                    }
                    setattr(row, field, value)

            if zone is not None:
                change("time_zone", zone)
            if due is not None:
                when = self._due(due, row.time_zone)
                change("due_at", when, when.isoformat())
                for link in row.parties:
                    link.due_at = when
            if subject_ is not None:
                change("subject", subject_)
            if notes_ is not None:
                change("notes", notes_)
            if assignee is not None:
                change("assignee_id", ctx.party_row(assignee, "assignee").id)
            if user_ is not None:
                change("user", user_)
            if changes:
                row.updated_at = ctx.now()
                ctx.db.flush()
                ctx.record(
                    ActivityUpdated(entity_id=row.id, parties=self._shown_to(row), changes=changes)
                )
            return Activity.of(row)

    def complete(
        self,
        activity: int | Activity,
        *,
        outcome: str | None = None,
        record: bool = False,
        channel: str | None = None,
        direction: str = "outbound",
        purpose: str | None = None,
        touchpoint: str | None = None,
        at: dt.datetime | None = None,
    ) -> Activity:
        """Mark an open activity done, with its ``outcome``. ``record=True`` records the
        interaction it was, in the same unit of work: on ``channel`` (a call's is
        ``phone``, a meeting's ``face_to_face``, an email's ``email``), with the
        activity's parties as participants and its assignee as the agent. An outbound
        interaction needs a ``purpose`` and the consent ledger's permission, as any
        other; a refusal leaves the activity open."""
        ctx = self._ctx
        errors: list[FieldError] = []
        outcome_ = _text(outcome, "outcome", 300, errors)
        if errors:
            raise ValidationError(errors)
        when = as_utc(at, "at") or ctx.now()
        with ctx.atomic():
            row = self._open(activity)
            interaction: Interaction | None = None
            if record:
                interaction = self._record(row, channel, direction, purpose, touchpoint, when)
            row.status = "done"
            row.outcome = outcome_
            row.completed_at = when
            row.updated_at = ctx.now()
            row.interaction_id = interaction.id if interaction is not None else None
            ctx.db.flush()
            ctx.record(
                ActivityCompleted(
                    entity_id=row.id, parties=self._shown_to(row), occurred_at=when,
                    kind=row.kind, outcome=outcome_, interaction_id=row.interaction_id,
                )
            )  # fmt: skip
            return Activity.of(row)

    def cancel(self, activity: int | Activity, *, reason: str) -> Activity:
        """Cancel an open activity, saying why."""
        ctx = self._ctx
        errors: list[FieldError] = []
        reason_ = _text(reason, "reason", 300, errors)
        if reason_ is None and not errors:
            errors.append(FieldError("reason", "must not be empty"))
        if errors:
            raise ValidationError(errors)
        assert reason_ is not None
        with ctx.atomic():
            row = self._open(activity)
            row.status = "cancelled"
            row.updated_at = ctx.now()
            ctx.db.flush()
            ctx.record(
                ActivityCancelled(entity_id=row.id, parties=self._shown_to(row), reason=reason_)
            )
            return Activity.of(row)

    # -- reads ---------------------------------------------------------------------------
    def get(self, activity: int | Activity) -> Activity:
        return Activity.of(self._row(activity))

    def list(
        self,
        *,
        assignee: PartyRef | None = None,
        user: str | None = None,
        party: PartyRef | None = None,
        about: tuple[str, int] | None = None,
        status: str | None = "open",
        due_before: dt.datetime | None = None,
        due_after: dt.datetime | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> Page[Activity]:
        """Activities, soonest due first, ``limit`` at a time (keyset pages: pass
        ``next_cursor`` as ``after``). Filters: the ``assignee`` party or the ``user``,
        a ``party`` they concern, the record they are ``about``, the ``status`` (``None``:
        any), due strictly before ``due_before`` / at or after ``due_after``."""
        _check_limit(limit)
        if status is not None and status not in STATUSES:
            raise ValidationError.single("status", f"must be one of {', '.join(STATUSES)}")
        query: Any = select(ActivityRow.id, ActivityRow.due_at)
        if party is not None:
            link = ActivityPartyRow
            query = select(link.activity_id.label("id"), link.due_at).where(
                link.party_id == ref_id(party)
            )
            due_col, id_col = link.due_at, link.activity_id
            needs_row = any(x is not None for x in (assignee, user, about)) or status is not None
            if needs_row:
                query = query.join(ActivityRow, ActivityRow.id == link.activity_id)
        else:
            due_col, id_col = ActivityRow.due_at, ActivityRow.id
        if assignee is not None:
            query = query.where(ActivityRow.assignee_id == ref_id(assignee, "assignee"))
        if user is not None:
            query = query.where(ActivityRow.user == user)
        if about is not None:
            query = query.where(
                ActivityRow.about_type == about[0], ActivityRow.about_id == about[1]
            )
        if status is not None:
            query = query.where(ActivityRow.status == status)
        before = as_utc(due_before, "due_before")
        if before is not None:
            query = query.where(due_col < before)
        since = as_utc(due_after, "due_after")
        if since is not None:
            query = query.where(due_col >= since)
        if after is not None:
            at, last_id = decode_time_cursor(after)
            query = query.where(or_(due_col > at, and_(due_col == at, id_col > last_id)))
        query = query.order_by(due_col, id_col).limit(limit + 1)
        items, cursor = keyset_page(
            self._ctx.db, query, limit, ActivityRow, [selectinload(ActivityRow.parties)],
            Activity.of,
        )  # fmt: skip
        return Page(items, cursor)

    def mine(
        self, who: PartyRef | str, *, limit: int = 50, after: str | None = None
    ) -> Page[Activity]:
        """The open activities of an assignee: a party (an employee), or an application
        user id given as text."""
        if isinstance(who, str):
            return self.list(user=who, limit=limit, after=after)
        return self.list(assignee=who, limit=limit, after=after)

    def overdue(
        self,
        *,
        assignee: PartyRef | None = None,
        user: str | None = None,
        party: PartyRef | None = None,
        now: dt.datetime | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> Page[Activity]:
        """Open activities due before ``now``, the oldest first."""
        moment = as_utc(now, "now") or self._ctx.now()
        return self.list(
            assignee=assignee, user=user, party=party, due_before=moment, limit=limit,
            after=after,
        )  # fmt: skip

    def due_this_week(
        self,
        *,
        assignee: PartyRef | None = None,
        user: str | None = None,
        party: PartyRef | None = None,
        time_zone: str | None = None,
        now: dt.datetime | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> Page[Activity]:
        """Open activities due in the week (Monday 00:00 to the next Monday, in
        ``time_zone``, else UTC) that holds ``now``."""
        errors: list[FieldError] = []
        zone = _zone(time_zone, errors)
        if errors:
            raise ValidationError(errors)
        tz = zoneinfo.ZoneInfo(zone) if zone else dt.UTC
        local = (as_utc(now, "now") or self._ctx.now()).astimezone(tz)
        monday = dt.datetime.combine(local.date() - dt.timedelta(days=local.weekday()), dt.time())
        start = monday.replace(tzinfo=tz)
        end = (monday + dt.timedelta(days=7)).replace(tzinfo=tz)
        return self.list(
            assignee=assignee, user=user, party=party, due_after=start, due_before=end,
            limit=limit, after=after,
        )  # fmt: skip

    def history(self, activity: int | Activity) -> tuple[TimelineEntry, ...]:
        """The activity's journal events, oldest first: planned, updated, completed or
        cancelled, with who did it and when."""
        ident = self._row(activity).id
        rows = self._ctx.db.scalars(
            select(JournalEventRow)
            .where(JournalEventRow.entity == "activity", JournalEventRow.entity_id == ident)
            .order_by(JournalEventRow.id)
        )
        return tuple(TimelineEntry.of(r) for r in rows)

    # -- helpers -------------------------------------------------------------------------
    def _due(self, due: dt.datetime, zone: str | None) -> dt.datetime:
        if isinstance(due, dt.datetime) and due.tzinfo is None and zone is not None:
            due = due.replace(tzinfo=zoneinfo.ZoneInfo(zone))
        when = as_utc(due, "due")
        assert when is not None
        return when

    def _row(self, activity: int | Activity) -> ActivityRow:
        ident = ref_id(activity, "activity")
        row = self._ctx.db.get(ActivityRow, ident, options=[selectinload(ActivityRow.parties)])
        if row is None:
            raise NotFound("activity", ident)
        return row

    def _open(self, activity: int | Activity) -> ActivityRow:
        row = self._row(activity)
        if row.status != "open":
            raise Conflict(f"activity {row.id} is {row.status}: only an open one changes")
        if isinstance(activity, Activity) and activity.version != row.version:
            raise Conflict(f"activity {row.id} changed since it was read", field="activity")
        return row

    def _shown_to(self, row: ActivityRow) -> tuple[int, ...]:
        ids = [p.party_id for p in row.parties]
        if row.assignee_id is not None:
            ids.append(row.assignee_id)
        return tuple(dict.fromkeys(ids))

    def _record(
        self,
        row: ActivityRow,
        channel: str | None,
        direction: str,
        purpose: str | None,
        touchpoint: str | None,
        when: dt.datetime,
    ) -> Interaction:
        chosen = channel or CHANNEL_OF.get(row.kind)
        if chosen is None:
            raise ValidationError.single("channel", f"a {row.kind} records on a channel: name it")
        if not row.parties:
            raise ValidationError.single("record", "the activity concerns no party to record")
        participants: list[tuple[int, str]] = [
            (p.party_id, "participant") for p in row.parties if p.party_id != row.assignee_id
        ]
        if row.assignee_id is not None:
            participants.append((row.assignee_id, "agent"))
        return self._interactions.record(
            channel=chosen, direction=direction, participants=participants, purpose=purpose,
            touchpoint=touchpoint, occurred_at=when, subject=row.subject, outcome=None,
            attributes={"activity_id": row.id},
        )  # fmt: skip


# -- merge and unmerge (xrm.core.identity) ---------------------------------------------------
def carry_activities(db: Any, survivor: int, duplicate: int) -> dict[str, Any]:
    """A merge: the duplicate's activities become the survivor's: the links of those it
    concerns move to the survivor (a link the survivor already has is dropped instead),
    and those assigned to it are assigned to the survivor. Returns what
    :func:`uncarry_activities` undoes."""
    link = ActivityPartyRow
    theirs = db.execute(
        select(link.activity_id, link.due_at).where(link.party_id == duplicate)
    ).all()
    mine = set(db.scalars(select(link.activity_id).where(link.party_id == survivor)))
    moved = [a for a, _ in theirs if a not in mine]
    dropped = [[a, due.isoformat()] for a, due in theirs if a in mine]
    if moved:
        db.execute(
            update(link)
            .where(link.party_id == duplicate, link.activity_id.in_(moved))
            .values(party_id=survivor)
        )
    if dropped:
        db.execute(
            delete(link).where(
                link.party_id == duplicate, link.activity_id.in_([a for a, _ in dropped])
            )
        )
    assigned = list(db.scalars(select(ActivityRow.id).where(ActivityRow.assignee_id == duplicate)))
    if assigned:
        db.execute(
            update(ActivityRow)
            .where(ActivityRow.id.in_(assigned))
            .values(assignee_id=survivor, version=ActivityRow.version + 1),
            execution_options={"synchronize_session": False},
        )
    return {"moved": moved, "dropped": dropped, "assigned": assigned}


def uncarry_activities(db: Any, survivor: int, duplicate: int, undo: Any) -> None:
    """An unmerge: give the duplicate back its activities as :func:`carry_activities` took
    them (those reassigned since stay with their new assignee)."""
    if not undo:
        return
    link = ActivityPartyRow
    if undo["moved"]:
        db.execute(
            update(link)
            .where(link.party_id == survivor, link.activity_id.in_(undo["moved"]))
            .values(party_id=duplicate)
        )
    if undo["dropped"]:
        db.execute(
            insert(link),
            [{"activity_id": a, "party_id": duplicate, "due_at": dt.datetime.fromisoformat(due)}
             for a, due in undo["dropped"]],
        )  # fmt: skip
    if undo["assigned"]:
        db.execute(
            update(ActivityRow)
            .where(ActivityRow.id.in_(undo["assigned"]), ActivityRow.assignee_id == survivor)
            .values(assignee_id=duplicate, version=ActivityRow.version + 1),
            execution_options={"synchronize_session": False},
        )
