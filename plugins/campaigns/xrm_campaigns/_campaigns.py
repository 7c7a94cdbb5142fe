"""Campaigns: define, launch, resolve the audience set-based into recipients, drain them
through the messaging layer at the campaign's throttle, and count what came of them.

The audience is resolved by one ``INSERT ... SELECT``: the segment's members, each with
the channel it will be reached on (its preferred channel for the purpose when the ledger
allows it there, else the first of the campaign's channels the ledger allows) and its A/B
arm (a hash of the party and campaign ids: the same party always lands in the same arm of
a campaign). Members the ledger allows on none of the channels are recipients too,
``excluded`` with the reason, so that ``targeted`` is the segment's size.

The worker (:func:`drain`) takes the pending recipients in id order, at most the throttle
allows, and hands them to ``s.messages.send_many`` per arm and channel: the messaging layer
checks consent, suppression, caps and quiet hours again at that moment, and a refusal is
recorded on the recipient with its reason; the messages and the recipients' new status
commit together, so a recipient is sent at most once whatever dies when.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import attrs
from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy import inspect as sa_inspect

from xrm import Session, Undeliverable
from xrm.errors import Conflict, NotFound, ValidationError
from xrm.tables import (
    Base,
    ConsentRecordRow,
    ContactPointRow,
    InteractionRow,
    MessageRow,
    ParticipantRow,
    PurposePreferenceRow,
    utcnow,
)
from xrm_campaigns._definitions import CampaignSpec, parse
from xrm_campaigns._events import (
    CampaignCreated,
    CampaignFinished,
    CampaignLaunched,
    CampaignResolved,
)
from xrm_campaigns._models import CampaignRow, RecipientRow

__all__ = [
    "EXCLUSION_REASONS",
    "Campaign",
    "DrainReport",
    "Results",
    "arm_bucket",
    "campaigns",
    "cancel",
    "create",
    "drain",
    "get",
    "launch",
    "resolve",
    "results",
    "run_due",
]

#: why a member of the segment was not sent the campaign
EXCLUSION_REASONS = (
    "no_consent", "suppressed", "no_address", "capped", "erased", "merged", "not_found",
    "no_channel",
)  # fmt: skip
#: the arm hash: ``((party * _MUL + campaign * _SALT) % _MOD) % 100``, the same in SQL and
#: in Python (64-bit integers on both databases for party ids below 3 billion)
_MUL, _SALT, _MOD = 2654435761, 40503, 4294967291
#: recipients handled per drain by default (one ``send_many`` batch per arm and channel)
BATCH = 1000


def arm_bucket(party_id: int, campaign_id: int) -> int:
    """The bucket (0-99) a party falls in for a campaign: arms take consecutive buckets in
    their order, as many as their share."""
    return ((party_id * _MUL + campaign_id * _SALT) % _MOD) % 100


def _now(value: dt.datetime | None, field: str = "now") -> dt.datetime:
    if value is None:
        return utcnow()
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValidationError.single(field, "must be an aware date and time")
    return value.astimezone(dt.UTC)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """A stored time as aware UTC (SQLite hands back naive ones)."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@attrs.frozen
class Campaign:
    """A campaign as stored: its definition and where its launch stands."""

    id: int
    name: str
    spec: CampaignSpec
    status: str
    starts_at: dt.datetime | None
    launched_at: dt.datetime | None
    resolved_at: dt.datetime | None
    finished_at: dt.datetime | None
    processed: int
    created_at: dt.datetime

    @classmethod
    def of(cls, row: CampaignRow) -> Campaign:
        return cls(
            id=row.id, name=row.name, spec=CampaignSpec.model_validate(row.definition),
            status=row.status, starts_at=_utc(row.starts_at), launched_at=_utc(row.launched_at),
            resolved_at=_utc(row.resolved_at), finished_at=_utc(row.finished_at),
            processed=row.processed, created_at=_utc(row.created_at) or row.created_at,
        )  # fmt: skip


# -- defining -------------------------------------------------------------------------------
def segment_target(session: Session, ref: str | dict[str, Any], field: str = "segment") -> Any:
    """What ``s.segments`` takes for a stored segment reference: the saved segment's name,
    or the criterion parsed from its JSON form."""
    if isinstance(ref, str):
        try:
            session.segments.get(ref)
        except NotFound:
            raise ValidationError.single(field, f"no saved segment {ref!r}") from None
        return ref
    try:
        return session.segments.parse(ref)
    except ValidationError as exc:
        raise exc.prefixed(field) from None


def _check_names(session: Session, spec: CampaignSpec) -> None:
    """The purpose, channels and templates exist (the messaging layer's own checks,
    with nothing to send); the segment exists or parses."""
    for channel, template in spec.channels.items():
        try:
            session.consents.contactable(spec.purpose, channel)
        except ValidationError as exc:
            if list(exc.fields) == ["channel"]:
                raise exc.prefixed("channels") from None
            raise
        templates = {template} | {
            a.templates[channel] for a in spec.arms if a.templates and channel in a.templates
        }
        for name in sorted(templates):
            try:
                session.messages.send_many([], name, purpose=spec.purpose, channel=channel)
            except ValidationError as exc:
                raise ValidationError.single(
                    f"channels.{channel}", "; ".join(e.reason for e in exc.errors)
                ) from None
    segment_target(session, spec.segment)


def _row(session: Session, campaign: int | str | Campaign, *, lock: bool = False) -> CampaignRow:
    key: int | str = campaign.id if isinstance(campaign, Campaign) else campaign
    column = CampaignRow.id if isinstance(key, int) else CampaignRow.name
    query = select(CampaignRow).where(column == key)
    if lock and session.db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = session.db.scalars(query).first()
    if row is None:
        raise NotFound("campaign", key)
    return row


def create(session: Session, spec: CampaignSpec | dict[str, Any]) -> Campaign:
    """Store a campaign (a draft: nothing is sent until :func:`launch`). Its purpose,
    channels, templates and segment must exist; its name must be new."""
    spec_ = parse(CampaignSpec, spec)
    _check_names(session, spec_)
    with session.atomic():
        if session.db.scalar(select(CampaignRow.id).where(CampaignRow.name == spec_.name)):
            raise Conflict(f"a campaign is already named {spec_.name!r}", field="name")
        now = utcnow()
        row = CampaignRow(
            name=spec_.name, purpose=spec_.purpose, definition=spec_.model_dump(mode="json"),
            status="draft", starts_at=spec_.starts_at, processed=0, created_at=now,
            updated_at=now,
        )  # fmt: skip
        session.db.add(row)
        session.db.flush()
        session.journal(
            CampaignCreated(
                entity_id=row.id, parties=(), name=row.name, purpose=row.purpose,
                channels=list(spec_.channels), arms=[a.name for a in spec_.arm_list()],
            )
        )  # fmt: skip
        return Campaign.of(row)


def get(session: Session, campaign: int | str) -> Campaign:
    """A campaign, by id or name."""
    return Campaign.of(_row(session, campaign))


def campaigns(session: Session, *, status: str | None = None) -> list[Campaign]:
    """Every campaign (of that ``status``), newest first."""
    query = select(CampaignRow).order_by(CampaignRow.id.desc())
    if status is not None:
        query = query.where(CampaignRow.status == status)
    return [Campaign.of(r) for r in session.db.scalars(query)]


def launch(
    session: Session, campaign: int | str | Campaign, *, now: dt.datetime | None = None
) -> Campaign:
    """Launch a draft: it starts at its ``starts_at``, or now when it has none or that is
    past. Starting resolves its audience into recipients at once (:func:`resolve`); the
    campaign worker (:func:`drain`, ``xrm campaign run``) then sends them."""
    moment = _now(now)
    with session.atomic():
        row = _row(session, campaign, lock=True)
        if row.status != "draft":
            raise Conflict(f"campaign {row.name!r} is {row.status}: only a draft is launched")
        spec = CampaignSpec.model_validate(row.definition)
        _check_names(session, spec)  # the templates or the segment may have gone since
        starts = spec.starts_at if spec.starts_at and spec.starts_at > moment else moment
        row.status, row.starts_at, row.launched_at = "scheduled", starts, moment
        row.updated_at = moment
        session.db.flush()
        session.journal(
            CampaignLaunched(
                entity_id=row.id, parties=(), name=row.name, starts_at=starts.isoformat()
            )
        )
        if starts <= moment:
            _resolve(session, row, spec, moment)
        return Campaign.of(row)


def cancel(session: Session, campaign: int | str | Campaign) -> Campaign:
    """Stop a campaign: its pending recipients are not sent (those already sent stay)."""
    with session.atomic():
        row = _row(session, campaign, lock=True)
        if row.status in ("done", "cancelled"):
            raise Conflict(f"campaign {row.name!r} is already {row.status}")
        _finish(session, row, "cancelled", utcnow())
        return Campaign.of(row)


def resolve(
    session: Session, campaign: int | str | Campaign, *, now: dt.datetime | None = None
) -> int:
    """Resolve a scheduled campaign's audience now (the worker does it when it is due);
    returns the number of recipients (the segment's members)."""
    moment = _now(now)
    with session.atomic():
        row = _row(session, campaign, lock=True)
        if row.status != "scheduled":
            raise Conflict(f"campaign {row.name!r} is {row.status}: only a scheduled one resolves")
        return _resolve(session, row, CampaignSpec.model_validate(row.definition), moment)


def audience_select(
    session: Session, spec: CampaignSpec, campaign_id: int, now: dt.datetime
) -> Select[Any]:
    """The recipients' rows as one ``SELECT`` (``party_id, arm, channel, status, reason``):
    the segment's members with their arm, preferred allowed channel, and whether they are
    pending, held out (a control arm) or excluded (with why)."""
    members = session.segments.select(segment_target(session, spec.segment), at=now).subquery()
    party_id = members.c[0]
    channels = list(spec.channels)
    # each channel's ledger audience joined once (a hash join: a million ids need not fit
    # in memory, as an IN list would on PostgreSQL), its party ids made distinct
    audiences = [
        select(a.c.party_id).distinct().subquery(f"allowed{i}")
        for i, a in enumerate(
            session.consents.contactable(spec.purpose, c, now).subquery() for c in channels
        )
    ]
    prefs = PurposePreferenceRow.__table__
    joined: Any = members
    for audience in audiences:
        joined = joined.outerjoin(audience, audience.c.party_id == party_id)
    joined = joined.outerjoin(
        prefs, and_(prefs.c.party_id == party_id, prefs.c.purpose == spec.purpose)
    )
    bucket = ((party_id * _MUL + campaign_id * _SALT) % _MOD) % 100
    # materialised: the joins run once, however often the cases below name a flag
    flags = (
        select(
            party_id.label("party_id"), prefs.c.channel.label("preferred"),
            bucket.label("bucket"),
            *(a.c.party_id.is_not(None).label(f"ok{i}") for i, a in enumerate(audiences)),
        )
        .select_from(joined)
        .cte("campaign_flags")
        .prefix_with("MATERIALIZED")
    )  # fmt: skip
    ok = [flags.c[f"ok{i}"] for i in range(len(channels))]
    channel = case(
        *((and_(flags.c.preferred == c, ok[i]), literal(c)) for i, c in enumerate(channels)),
        *((ok[i], literal(c)) for i, c in enumerate(channels)),
        else_=None,
    )
    arms: list[tuple[ColumnElement[bool], Any]] = []
    upper = 0
    for arm in spec.arm_list()[:-1]:
        upper += arm.share
        arms.append((flags.c.bucket < upper, literal(arm.name)))
    last = spec.arm_list()[-1].name
    arm_of = case(*arms, else_=literal(last)) if arms else literal(last)
    suppressed = exists().where(
        ContactPointRow.party_id == flags.c.party_id, ContactPointRow.suppressed.is_(True)
    )
    chosen = select(
        flags.c.party_id, arm_of.label("arm"), channel.label("channel"),
        suppressed.label("suppressed"),
    ).subquery()  # fmt: skip
    control = [a.name for a in spec.arm_list() if a.control]
    status = case(
        (chosen.c.channel.is_(None), literal("excluded")),
        (chosen.c.arm.in_(control), literal("held_out")),
        else_=literal("pending"),
    )
    reason = case(
        (and_(chosen.c.channel.is_(None), chosen.c.suppressed), literal("suppressed")),
        (chosen.c.channel.is_(None), literal("no_consent")),
        else_=None,
    )
    return select(
        chosen.c.party_id, chosen.c.arm, chosen.c.channel, status.label("status"),
        reason.label("reason"),
    )  # fmt: skip


def _resolve(session: Session, row: CampaignRow, spec: CampaignSpec, now: dt.datetime) -> int:
    source = audience_select(session, spec, row.id, now).subquery()
    created = literal(now, RecipientRow.created_at.type)
    query = select(
        literal(row.id, RecipientRow.campaign_id.type), source.c.party_id, source.c.arm,
        source.c.channel, source.c.status, source.c.reason, created,
    )  # fmt: skip
    columns = ["campaign_id", "party_id", "arm", "channel", "status", "reason", "created_at"]
    session.db.execute(insert(RecipientRow).from_select(columns, query))
    counts = dict(
        session.db.execute(
            select(RecipientRow.status, func.count())
            .where(RecipientRow.campaign_id == row.id)
            .group_by(RecipientRow.status)
        ).all()
    )
    targeted, pending = sum(counts.values()), counts.get("pending", 0)
    row.status, row.resolved_at, row.updated_at = "running", now, now
    session.db.flush()
    session.journal(
        CampaignResolved(
            entity_id=row.id, parties=(), name=row.name, targeted=targeted, pending=pending
        )
    )
    if pending == 0:
        _finish(session, row, "done", now)
    return targeted


# -- sending --------------------------------------------------------------------------------
@attrs.frozen
class DrainReport:
    """What one :func:`drain` did: recipients sent, and excluded at send time by reason."""

    campaign: str
    sent: int
    excluded: dict[str, int]
    #: the campaign's status afterwards
    status: str
    #: ``True`` when the throttle stopped this round short
    throttled: bool = False


def _budget(row: CampaignRow, spec: CampaignSpec, now: dt.datetime, limit: int) -> int:
    """How many recipients may be handled now: ``limit``, or fewer when the throttle's
    count since the start (a minute's worth at once, then one more per minute) says so."""
    if spec.throttle is None:
        return limit
    started = _utc(row.resolved_at) or now
    minutes = max(0, math.floor((now - started).total_seconds() / 60)) + 1
    return max(0, min(limit, spec.throttle * minutes - row.processed))


def reason_of(refusal: Undeliverable) -> str:
    """The exclusion reason of a refusal by the messaging layer."""
    if refusal.code in ("capped", "erased", "merged", "not_found"):
        return refusal.code
    said = " ".join(refusal.reasons.values())
    if "consent ledger" in said:
        return "no_consent"
    if "unsuppressed" in said or "no address" in said:
        return "no_address"
    return "no_channel"


def drain(
    session: Session,
    campaign: int | str | Campaign,
    *,
    now: dt.datetime | None = None,
    limit: int = BATCH,
) -> DrainReport:
    """Send the next pending recipients of a running campaign (at most ``limit``, and what
    the throttle allows), each on its channel with its arm's template, through
    ``s.messages.send_many``; a recipient refused now (consent withdrawn, suppressed,
    capped) is excluded with the reason. The messages and the recipients' status commit
    in the caller's unit of work. A scheduled campaign whose start is due is resolved
    first; the campaign is ``done`` when no recipient is left pending."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100_000:
        raise ValidationError.single("limit", "must be between 1 and 100000")
    moment = _now(now)
    with session.atomic():
        row = _row(session, campaign, lock=True)
        spec = CampaignSpec.model_validate(row.definition)
        if row.status == "scheduled" and (_utc(row.starts_at) or moment) <= moment:
            _resolve(session, row, spec, moment)
        if row.status != "running":
            return DrainReport(row.name, 0, {}, row.status)
        budget = _budget(row, spec, moment, limit)
        pending = session.db.execute(
            select(RecipientRow.id, RecipientRow.party_id, RecipientRow.arm, RecipientRow.channel)
            .where(RecipientRow.campaign_id == row.id, RecipientRow.status == "pending")
            .order_by(RecipientRow.id)
            .limit(budget)
        ).all()
        changes, excluded = _send(session, spec, pending, moment)
        if changes:
            session.db.execute(update(RecipientRow), changes)
        row.processed += len(pending)
        row.updated_at = moment
        left = session.db.scalar(
            select(RecipientRow.id)
            .where(RecipientRow.campaign_id == row.id, RecipientRow.status == "pending")
            .limit(1)
        )
        if left is None:
            _finish(session, row, "done", moment)
        session.db.flush()
        sent = sum(1 for c in changes if c["status"] == "sent")
        return DrainReport(
            row.name, sent, excluded, row.status, throttled=budget < limit and left is not None
        )


def _send(
    session: Session, spec: CampaignSpec, pending: Sequence[Any], now: dt.datetime
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Send ``pending`` recipients (``id, party_id, arm, channel``): each on the channel it
    was given, and when the messaging layer refuses that channel now (a withdrawal, a
    suppression since), on the campaign's other channels in order; one ``send_many`` per
    arm and channel tried. The recipients' changes, and the exclusions by reason."""
    order = list(spec.channels)
    left: dict[int, tuple[int, str, list[str]]] = {}
    given: dict[int, str] = {}
    for rid, party_id, arm, channel in pending:
        assert channel is not None  # a pending recipient has its channel
        given[party_id] = channel
        left[party_id] = (rid, arm, [channel, *(c for c in order if c != channel)])
    changes: list[dict[str, Any]] = []
    refused: dict[int, str] = {}
    while left:
        groups: dict[tuple[str, str], list[int]] = {}
        for party_id, (_, arm, tries) in left.items():
            groups.setdefault((arm, tries[0]), []).append(party_id)
        for (arm, channel), members in groups.items():
            template = spec.template(arm, channel)
            assert template is not None  # a control arm's members are held out, not pending
            report = session.messages.send_many(
                members, template, purpose=spec.purpose, data=spec.data, channel=channel
            )
            made = iter(report.sent)
            for party_id in members:
                rid, _, tries = left.pop(party_id)
                refusal = report.refused.get(party_id)
                if refusal is None:
                    changes.append({"id": rid, "status": "sent", "reason": None,
                                    "channel": channel, "message_id": next(made),
                                    "processed_at": now})  # fmt: skip
                    continue
                why = reason_of(refusal)
                # the first channel's reason stands (the party's preferred, or the first allowed)
                first = refused.setdefault(party_id, why)
                if why in _PER_CHANNEL and len(tries) > 1:
                    left[party_id] = (rid, arm, tries[1:])
                else:
                    changes.append({"id": rid, "status": "excluded", "reason": first,
                                    "channel": given[party_id], "message_id": None,
                                    "processed_at": now})  # fmt: skip
    excluded: dict[str, int] = {}
    for change in changes:
        if change["status"] == "excluded":
            excluded[change["reason"]] = excluded.get(change["reason"], 0) + 1
    return changes, excluded


#: refusals of one channel: another channel may still be allowed
_PER_CHANNEL = ("no_consent", "no_address", "no_channel")


def run_due(
    session: Session, *, now: dt.datetime | None = None, limit: int = BATCH
) -> list[DrainReport]:
    """One round of the campaign worker: :func:`drain` every scheduled campaign whose start
    is due and every running one."""
    moment = _now(now)
    names = session.db.scalars(
        select(CampaignRow.name)
        .where(
            or_(
                CampaignRow.status == "running",
                and_(CampaignRow.status == "scheduled", CampaignRow.starts_at <= moment),
            )
        )
        .order_by(CampaignRow.id)
    ).all()
    return [drain(session, name, now=moment, limit=limit) for name in names]


def _finish(session: Session, row: CampaignRow, status: str, now: dt.datetime) -> None:
    row.status, row.finished_at, row.updated_at = status, now, now
    counts = dict(
        session.db.execute(
            select(RecipientRow.status, func.count())
            .where(RecipientRow.campaign_id == row.id)
            .group_by(RecipientRow.status)
        ).all()
    )
    session.db.flush()
    session.journal(
        CampaignFinished(
            entity_id=row.id, parties=(), name=row.name, status=status,
            sent=counts.get("sent", 0), excluded=counts.get("excluded", 0),
        )
    )  # fmt: skip


# -- results --------------------------------------------------------------------------------
@attrs.frozen
class Results:
    """What came of a campaign, per arm (and ``total``): ``targeted`` (the segment's members
    at resolution), ``excluded`` by reason, ``held_out`` (a control arm), ``pending``,
    ``sent`` (put in the outbox), then from the messages: ``delivered`` (left through the
    transport), ``bounced``, ``failed`` (failed, blocked at the last moment, or unknown),
    ``deferred`` (held back by the party's quiet hours), ``replied`` (an inbound
    interaction of the party after its message, within the attribution window),
    ``unsubscribed`` (the party withdrew or objected to the purpose after its message);
    with the sales plugin, ``opportunities`` and ``revenue`` (won, per currency)."""

    campaign: str
    status: str
    arms: dict[str, dict[str, Any]]
    total: dict[str, Any]


_COUNTS = (
    "targeted", "pending", "held_out", "sent", "delivered", "bounced", "failed",
    "deferred", "replied", "unsubscribed",
)  # fmt: skip


def results(
    session: Session, campaign: int | str | Campaign, *, now: dt.datetime | None = None
) -> Results:
    """The campaign's results: two grouped queries over its recipients joined to their
    messages, the inbound interactions and the consent ledger (three with sales)."""
    row = _row(session, campaign)
    spec = CampaignSpec.model_validate(row.definition)
    moment = _now(now)
    messages = MessageRow.__table__
    r, m = RecipientRow, messages.c
    until = (_utc(row.finished_at) or moment) + dt.timedelta(days=spec.attribution_days)

    def flag(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    replied = exists().where(
        ParticipantRow.party_id == r.party_id,
        ParticipantRow.occurred_at >= m.created_at,
        ParticipantRow.occurred_at <= until,
        InteractionRow.id == ParticipantRow.interaction_id,
        InteractionRow.direction == "inbound",
    )
    unsubscribed = exists().where(
        ConsentRecordRow.party_id == r.party_id,
        ConsentRecordRow.purpose == row.purpose,
        ConsentRecordRow.decision.in_(("withdrawn", "objected", "refused")),
        ConsentRecordRow.recorded_at >= m.created_at,
    )
    columns: list[Any] = [
        func.count().label("targeted"),
        flag(r.status == "pending").label("pending"),
        flag(r.status == "held_out").label("held_out"),
        flag(r.status == "sent").label("sent"),
        flag(m.status == "sent").label("delivered"),
        flag(m.status == "bounced").label("bounced"),
        flag(m.status.in_(("failed", "blocked", "unknown", "cancelled"))).label("failed"),
        flag(m.not_before > m.created_at).label("deferred"),
        flag(and_(m.id.is_not(None), replied)).label("replied"),
        flag(and_(m.id.is_not(None), unsubscribed)).label("unsubscribed"),
        *(flag(r.reason == why).label(why) for why in EXCLUSION_REASONS),
    ]
    query = (
        select(r.arm, *columns)
        .select_from(r)
        .outerjoin(messages, m.id == r.message_id)
        .where(r.campaign_id == row.id)
        .group_by(r.arm)
        .order_by(r.arm)
    )
    arms: dict[str, dict[str, Any]] = {a.name: _empty() for a in spec.arm_list()}
    for line in session.db.execute(query).mappings():
        arms[line["arm"]] = {
            **{k: int(line[k]) for k in _COUNTS},
            "excluded": {why: int(line[why]) for why in EXCLUSION_REASONS if line[why]},
        }
    for arm, sales in _attributed(session, row, spec, until).items():
        arms.setdefault(arm, _empty()).update(sales)
    return Results(row.name, row.status, arms, _total(arms.values()))


def _empty() -> dict[str, Any]:
    return {**dict.fromkeys(_COUNTS, 0), "excluded": {}}


def _total(arms: Iterable[dict[str, Any]]) -> dict[str, Any]:
    total = _empty()
    for arm in arms:
        for key in _COUNTS:
            total[key] += arm[key]
        for why, n in arm["excluded"].items():
            total["excluded"][why] = total["excluded"].get(why, 0) + n
        if "opportunities" in arm:
            total["opportunities"] = total.get("opportunities", 0) + arm["opportunities"]
            revenue = total.setdefault("revenue", {})
            for currency, amount in arm["revenue"].items():
                revenue[currency] = str(Decimal(revenue.get(currency, "0")) + Decimal(amount))
    return total


def sales_installed(session: Session) -> bool:
    """Is the sales plugin's opportunity table there (installed and migrated)?"""
    if "sales_opportunity" not in Base.metadata.tables:
        return False
    return bool(sa_inspect(session.db.connection()).has_table("sales_opportunity"))


def _attributed(
    session: Session, row: CampaignRow, spec: CampaignSpec, until: dt.datetime
) -> dict[str, dict[str, Any]]:
    """With the sales plugin: per arm, the opportunities of recipients sent the campaign,
    opened after their message and before ``until`` (or naming the campaign as their
    source), and the revenue of those won, per currency."""
    if not sales_installed(session):
        return {}
    opportunities = Base.metadata.tables["sales_opportunity"]
    message_table = MessageRow.__table__
    opportunity, messages = opportunities.c, message_table.c
    r = RecipientRow
    query = (
        select(
            r.arm,
            opportunity.currency,
            func.count(opportunity.id),
            func.coalesce(
                func.sum(case((opportunity.status == "won", opportunity.amount), else_=0)), 0
            ),
        )
        .select_from(r)
        .join(message_table, messages.id == r.message_id)
        .join(opportunities, opportunity.account_id == r.party_id)
        .where(
            r.campaign_id == row.id,
            or_(
                opportunity.source_campaign == row.name,
                and_(opportunity.opened_at >= messages.created_at, opportunity.opened_at <= until),
            ),
        )
        .group_by(r.arm, opportunity.currency)
    )
    found: dict[str, dict[str, Any]] = {
        a.name: {"opportunities": 0, "revenue": {}} for a in spec.arm_list()
    }
    for arm, currency, count, won in session.db.execute(query):
        found[arm]["opportunities"] += int(count)
        found[arm]["revenue"][currency] = str(won)
    return found


def recipients_of(session: Session, party_id: int, *, limit: int | None = None) -> Sequence[Any]:
    """The campaigns a party was a recipient of: ``(name, status, arm, channel, recipient
    status, reason, message id)``, newest first (the latest ``limit``)."""
    return session.db.execute(
        select(
            CampaignRow.name,
            CampaignRow.status,
            RecipientRow.arm,
            RecipientRow.channel,
            RecipientRow.status,
            RecipientRow.reason,
            RecipientRow.message_id,
        )
        .join(CampaignRow, CampaignRow.id == RecipientRow.campaign_id)
        .where(RecipientRow.party_id == party_id)
        .order_by(RecipientRow.id.desc())
        .limit(limit)
    ).all()
