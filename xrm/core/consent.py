"""Consent: an append-only evidence ledger, the decision rules, and their enforcement.

The rules (docs/consent.md has them as a table) are implemented twice on purpose, from
one definition: :func:`decide` answers for one party in Python and says why;
:meth:`ConsentService.contactable` answers for every party at once in SQL. A property test
keeps the two equal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import attrs
from sqlalchemy import (
    Alias,
    ColumnElement,
    FromClause,
    Select,
    and_,
    exists,
    false,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    union_all,
)

from xrm.core._fields import resolve_contact_point
from xrm.core.context import Context, Event, PartyRef, as_utc, ref_id
from xrm.core.models import (
    ConsentLedgerRow,
    ConsentRecordRow,
    ContactPointRow,
    PartyRow,
    RoleRow,
    RoleTransitionRow,
    utcnow,
)
from xrm.core.records import ConsentDecision, ConsentRecord
from xrm.core.registry import Channel, LawfulBasis, Purpose
from xrm.errors import ConsentRequired, ValidationError

__all__ = [
    "DECISIONS",
    "AudienceMember",
    "ConsentService",
    "consent_event",
    "decide",
    "record_from_row",
]

DECISIONS = ("granted", "refused", "withdrawn", "objected")
NEGATIVE = frozenset({"refused", "withdrawn", "objected"})
#: most specific first
SCOPES = ("contact_point", "channel", "all")


class AudienceMember(NamedTuple):
    """One row of an audience: a party and the contact point to reach it by (``None`` for
    channels that need no address, such as ``face_to_face``)."""

    party_id: int
    contact_point_id: int | None
    value: str | None


@attrs.frozen
class PointFacts:
    """What the rules need to know of a contact point."""

    kind: str
    key: str
    suppressed: bool


def _order(record: ConsentRecord) -> tuple[dt.datetime, int]:
    return (record.effective_from, record.id)


def _applies(record: ConsentRecord, channel: str, point: PointFacts | None) -> bool:
    if record.scope == "all":
        return True
    if record.scope == "channel":
        return record.channel == channel
    return (
        point is not None and record.contact_kind == point.kind and record.contact_key == point.key
    )


def decide(
    purpose: Purpose,
    channel: str,
    point: PointFacts | None,
    records: Sequence[ConsentRecord],
    at: dt.datetime,
    *,
    basis_holds: bool = True,
) -> tuple[bool, str, str, ConsentRecord | None]:
    """The decision rules, for one party: ``(allowed, rule, reason, deciding record)``.

    ``records`` are the party's ledger for ``purpose``, in any order.
    """
    if point is not None and point.suppressed:
        return False, "suppressed", f"the {point.kind} is suppressed: never contactable", None
    if purpose.basis in (LawfulBasis.CONTRACT, LawfulBasis.LEGAL_OBLIGATION):
        if not basis_holds:
            return (
                False,
                "basis_ended",
                f"the {purpose.basis.value} basis needs a current {purpose.requires_role!r} role"
                + (
                    f" in state {' or '.join(purpose.requires_states)}"
                    if purpose.requires_states
                    else ""
                ),
                None,
            )
        return True, purpose.basis.value, f"{purpose.basis.value}: always allowed", None
    latest: dict[str, ConsentRecord] = {}
    for record in records:
        if record.effective_from > at or not _applies(record, channel, point):
            continue
        held = latest.get(record.scope)
        if held is None or _order(record) > _order(held):
            latest[record.scope] = record
    ranked = [latest[s] for s in SCOPES if s in latest]
    if not ranked:
        if purpose.basis is LawfulBasis.LEGITIMATE_INTEREST:
            return True, "legitimate_interest", "legitimate interest, no objection recorded", None
        return False, "no_consent", "no consent recorded: opt-in required", None
    deciding = ranked[0]
    if deciding.decision == "granted":
        beaters = [r for r in ranked[1:] if r.decision in NEGATIVE and _order(r) > _order(deciding)]
        if beaters:
            deciding = max(beaters, key=_order)
    when = deciding.effective_from.isoformat(timespec="seconds")
    scope = _scope_text(deciding)
    if deciding.decision in NEGATIVE:
        return False, deciding.decision, f"{deciding.decision} {when} ({scope})", deciding
    if purpose.basis is LawfulBasis.LEGITIMATE_INTEREST:
        return True, "granted", f"granted {when} ({scope})", deciding
    if deciding.expires_at is not None and deciding.expires_at <= at:
        expired = deciding.expires_at.isoformat(timespec="seconds")
        return False, "expired", f"the grant of {when} expired {expired} ({scope})", deciding
    if purpose.double_opt_in and (deciding.confirmed_at is None or deciding.confirmed_at > at):
        return False, "unconfirmed", f"the grant of {when} awaits double opt-in", deciding
    return True, "granted", f"granted {when} ({scope})", deciding


def consent_event(record: ConsentRecord) -> Event:
    """The journal event of a new ledger record, with its evidence."""
    return Event(
        f"consent.{record.decision}",
        "consent_record",
        record.id,
        (record.party_id,),
        {
            "purpose": record.purpose,
            "scope": _scope_text(record),
            "source": record.source,
            "evidence": record.evidence,
            "effective_from": record.effective_from,
            "expires_at": record.expires_at,
            "confirmed_at": record.confirmed_at,
        },
        occurred_at=record.captured_at,
    )


def _scope_text(record: ConsentRecord) -> str:
    if record.scope == "all":
        return "all channels"
    if record.scope == "channel":
        return f"channel {record.channel}"
    return f"{record.contact_kind} {record.contact_key}"


def record_from_row(row: ConsentRecordRow) -> ConsentRecord:
    return ConsentRecord(
        id=row.id,
        party_id=row.party_id,
        purpose=row.purpose,
        scope=row.scope,
        channel=row.channel,
        contact_kind=row.contact_kind,
        contact_key=row.contact_key,
        decision=row.decision,
        captured_at=row.captured_at,
        effective_from=row.effective_from,
        expires_at=row.expires_at,
        confirmed_at=row.confirmed_at,
        source=row.source,
        recorded_by=row.recorded_by,
        evidence=row.evidence,
        recorded_at=row.recorded_at,
    )


class ConsentService:
    """``s.consents``: record consent evidence, check it, and build audiences."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        ctx.consent_gate = self._gate

    # -- recording ---------------------------------------------------------------------
    def grant(
        self,
        party: PartyRef,
        purpose: str,
        *,
        source: str,
        channel: str | None = None,
        contact_point: Any = None,
        evidence: str | None = None,
        captured_at: dt.datetime | None = None,
        effective_from: dt.datetime | None = None,
        expires_at: dt.datetime | None = None,
        confirmed_at: dt.datetime | None = None,
    ) -> ConsentRecord:
        """Record that the party agreed to be contacted for ``purpose``.

        Scope: every channel (default), one ``channel``, or one ``contact_point`` (id,
        record or value). ``source`` says where and how (``web_form``, ``call``,
        ``in_person``, ``import``...); ``evidence`` what proves it (notice version, form id,
        IP). For a double opt-in purpose, the grant counts from ``confirmed_at`` (or from
        :meth:`confirm`).
        """
        return self.record(
            party, purpose, "granted", source=source, channel=channel,
            contact_point=contact_point, evidence=evidence, captured_at=captured_at,
            effective_from=effective_from, expires_at=expires_at, confirmed_at=confirmed_at,
        )  # fmt: skip

    def refuse(self, party: PartyRef, purpose: str, *, source: str, **scope: Any) -> ConsentRecord:
        """Record that the party said no when asked."""
        return self.record(party, purpose, "refused", source=source, **scope)

    def withdraw(
        self, party: PartyRef, purpose: str, *, source: str, **scope: Any
    ) -> ConsentRecord:
        """Record that the party withdrew its consent: it beats every earlier grant."""
        return self.record(party, purpose, "withdrawn", source=source, **scope)

    def object(self, party: PartyRef, purpose: str, *, source: str, **scope: Any) -> ConsentRecord:
        """Record that the party objects (ends a legitimate-interest basis)."""
        return self.record(party, purpose, "objected", source=source, **scope)

    def record(
        self,
        party: PartyRef,
        purpose: str,
        decision: str,
        *,
        source: str,
        channel: str | None = None,
        contact_point: Any = None,
        evidence: str | None = None,
        captured_at: dt.datetime | None = None,
        effective_from: dt.datetime | None = None,
        expires_at: dt.datetime | None = None,
        confirmed_at: dt.datetime | None = None,
    ) -> ConsentRecord:
        """Append one record to the ledger (the general form of grant, refuse, ...)."""
        ctx = self._ctx
        now = utcnow()
        captured, effective, expires, confirmed = self.check_record(
            purpose, decision, channel, source, now, captured_at, effective_from, expires_at,
            confirmed_at,
        )  # fmt: skip
        with ctx.atomic():
            party_row = ctx.party_row(party)
            row = ConsentRecordRow(
                party_id=party_row.id,
                purpose=purpose,
                scope="all",
                decision=decision,
                captured_at=captured,
                effective_from=effective,
                expires_at=expires,
                confirmed_at=confirmed,
                source=source.strip(),
                recorded_by=ctx.actor,
                evidence=evidence,
                recorded_at=now,
            )
            if contact_point is not None:
                point = resolve_contact_point(ctx, party_row.id, contact_point, "contact_point")
                if channel is not None:
                    self._reaches(self._channel(channel), point.kind)
                row.scope = "contact_point"
                row.contact_point_id = point.id
                row.contact_kind = point.kind
                row.contact_key = point.key
            elif channel is not None:
                row.scope = "channel"
                row.channel = channel
            ctx.db.add(row)
            ctx.db.flush()
            result = record_from_row(row)
            ctx.record(consent_event(result))
            ctx.notify("xrm_consent_changed", record=result)
            return result

    def confirm(
        self, record: int | ConsentRecord, *, at: dt.datetime | None = None,
        evidence: str | None = None,
    ) -> ConsentRecord:  # fmt: skip
        """Confirm a double opt-in grant: appends a confirmed copy of it (the ledger is
        never changed), effective from the confirmation."""
        ident = ref_id(record, "record")
        original = self._ctx.db.get(ConsentRecordRow, ident)
        if original is None or original.decision != "granted":
            raise ValidationError.single("record", f"record {ident} is not a grant")
        when = as_utc(at, "at") or utcnow()
        point: Any = original.contact_point_id
        if original.scope == "contact_point" and point is None:
            raise ValidationError.single("record", "its contact point was removed")
        return self.record(
            original.party_id, original.purpose, "granted", source="double_opt_in",
            channel=original.channel, contact_point=point,
            evidence=evidence or f"confirms record {ident}", captured_at=when,
            effective_from=when, expires_at=original.expires_at, confirmed_at=when,
        )  # fmt: skip

    def check_record(
        self,
        purpose: str,
        decision: str,
        channel: str | None,
        source: str,
        now: dt.datetime,
        captured_at: dt.datetime | None = None,
        effective_from: dt.datetime | None = None,
        expires_at: dt.datetime | None = None,
        confirmed_at: dt.datetime | None = None,
    ) -> tuple[dt.datetime, dt.datetime, dt.datetime | None, dt.datetime | None]:
        """Refuse a record the ledger must not hold; return its captured, effective,
        expiry and confirmation times, in UTC."""
        self._purpose(purpose)
        if decision not in DECISIONS:
            raise ValidationError.single("decision", f"must be one of {', '.join(DECISIONS)}")
        if channel is not None:
            self._channel(channel)
        if not isinstance(source, str) or not source.strip() or len(source.strip()) > 40:
            raise ValidationError.single("source", "say where and how, in 40 characters at most")
        captured = as_utc(captured_at, "captured_at") or now
        effective = as_utc(effective_from, "effective_from") or captured
        expires = as_utc(expires_at, "expires_at")
        confirmed = as_utc(confirmed_at, "confirmed_at")
        if expires is not None and expires <= effective:
            raise ValidationError.single("expires_at", "must be after effective_from")
        if decision != "granted" and (expires is not None or confirmed is not None):
            raise ValidationError.single(
                "expires_at" if expires is not None else "confirmed_at", "only a grant has it"
            )
        if captured > now + dt.timedelta(minutes=5):
            raise ValidationError.single("captured_at", "is in the future")
        return captured, effective, expires, confirmed

    def history(
        self, party: PartyRef, *, purpose: str | None = None, merged: bool = True
    ) -> list[ConsentRecord]:
        """The party's ledger, oldest first (by effective time).

        With ``merged`` (the default), also the records of the parties merged into this
        one that still decide for the contact points they brought (see
        docs/consent.md, "After a merge"); each record's ``party_id`` says whose it is.
        """
        ident = ref_id(party)
        mine = ConsentRecordRow.party_id == ident
        if merged:
            ledger = ConsentLedgerRow
            deciding = exists().where(
                ledger.party_id == ident,
                ledger.ledger_party_id == ConsentRecordRow.party_id,
                or_(ledger.since.is_(None), ConsentRecordRow.recorded_at >= ledger.since),
            )
            query = select(ConsentRecordRow).where(or_(mine, deciding))
        else:
            query = select(ConsentRecordRow).where(mine)
        if purpose is not None:
            query = query.where(ConsentRecordRow.purpose == purpose)
        query = query.order_by(ConsentRecordRow.effective_from, ConsentRecordRow.id)
        return [record_from_row(r) for r in self._ctx.db.scalars(query)]

    def suppress(self, party: PartyRef, contact_point: Any, *, reason: str) -> None:
        """Mark a contact point never contactable (bounced, reported, do-not-call)."""
        self._set_suppressed(party, contact_point, True, reason)

    def unsuppress(self, party: PartyRef, contact_point: Any, *, reason: str) -> None:
        self._set_suppressed(party, contact_point, False, reason)

    # -- deciding ----------------------------------------------------------------------
    def check(
        self,
        party: PartyRef,
        purpose: str,
        channel: str,
        contact_point: Any = None,
        at: dt.datetime | None = None,
    ) -> ConsentDecision:
        """May the company contact ``party`` for ``purpose`` on ``channel`` (at the
        ``contact_point``, when given) at ``at`` (default now)? The decision says why.

        Without a contact point, records scoped to one contact point are not considered.
        """
        ctx = self._ctx
        purpose_obj = self._purpose(purpose)
        channel_obj = self._channel(channel)
        when = as_utc(at, "at") or utcnow()
        party_row = ctx.party_row(party, reading=True)
        facts = None
        point_id = None
        if contact_point is not None:
            point = resolve_contact_point(ctx, party_row.id, contact_point, "contact_point")
            self._reaches(channel_obj, point.kind)
            facts = PointFacts(point.kind, point.key, point.suppressed)
            point_id = point.id
        holds = True
        if purpose_obj.requires_role is not None:
            held = _role_held(purpose_obj, party_row.id, when)
            holds = bool(ctx.db.scalar(select(held)))
        ledgers: list[list[tuple[int, dt.datetime | None]]] = [[(party_row.id, None)]]
        if facts is not None:
            ledgers = self.ledgers(party_row.id, facts.kind, facts.key) or ledgers
        answers = []
        for ledger in ledgers:
            owned = or_(
                *(
                    and_(ConsentRecordRow.party_id == owner,
                         true() if since is None else ConsentRecordRow.recorded_at >= since)
                    for owner, since in ledger
                )
            )  # fmt: skip
            rows = ctx.db.scalars(
                select(ConsentRecordRow).where(
                    owned,
                    ConsentRecordRow.purpose == purpose,
                    ConsentRecordRow.effective_from <= when,
                )
            )
            records = [record_from_row(r) for r in rows]
            answers.append(decide(purpose_obj, channel, facts, records, when, basis_holds=holds))
        # a point kept from a merge answers to every ledger it had: the first refusal wins
        allowed, rule, reason, record = next((a for a in answers if not a[0]), answers[0])
        return ConsentDecision(
            allowed=allowed,
            rule=rule,
            reason=reason,
            party_id=party_row.id,
            purpose=purpose,
            channel=channel,
            contact_point_id=point_id,
            record=record,
        )

    def contactable(self, purpose: str, channel: str, at: dt.datetime | None = None) -> Select[Any]:
        """One SQL query of every ``(party_id, contact_point_id, value)`` that may be
        contacted for ``purpose`` on ``channel`` at ``at``: the same rules as
        :meth:`check`, set-based. Execute it, join it, or stream it with :meth:`audience`.
        """
        purpose_obj = self._purpose(purpose)
        channel_obj = self._channel(channel)
        when = as_utc(at, "at") or utcnow()
        return _audience_query(purpose_obj, channel_obj, when)

    def audience(
        self, purpose: str, channel: str, at: dt.datetime | None = None, *, batch: int = 1000
    ) -> Iterator[AudienceMember]:
        """Stream :meth:`contactable`, ``batch`` rows at a time: memory stays bounded
        whatever the number of parties."""
        query = self.contactable(purpose, channel, at)
        result = self._ctx.db.execute(query, execution_options={"yield_per": batch})
        for row in result:
            yield AudienceMember(row[0], row[1], row[2])

    def ledgers(
        self, party_id: int, kind: str, key: str
    ) -> list[list[tuple[int, dt.datetime | None]]]:
        """The ledgers a contact point of ``party_id`` answers to, when a merge gave it
        some (``[]`` otherwise: the party's own ledger): one list per ledger of
        ``(party whose records count, counted when recorded at or after)``."""
        rows = self._ctx.db.execute(
            select(ConsentLedgerRow.grp, ConsentLedgerRow.ledger_party_id, ConsentLedgerRow.since)
            .where(
                ConsentLedgerRow.party_id == party_id,
                ConsentLedgerRow.contact_kind == kind,
                ConsentLedgerRow.contact_key == key,
            )
            .order_by(ConsentLedgerRow.grp, ConsentLedgerRow.id)
        )
        groups: dict[int, list[tuple[int, dt.datetime | None]]] = {}
        for grp, owner, since in rows:
            groups.setdefault(grp, []).append((owner, since))
        return list(groups.values())

    # -- helpers -----------------------------------------------------------------------
    def _gate(
        self, party_id: int, purpose: str, channel: str, point_id: int | None, when: dt.datetime
    ) -> None:
        decision = self.check(party_id, purpose, channel, point_id, at=when)
        if not decision.allowed:
            raise ConsentRequired(
                party_id=party_id, purpose=purpose, channel=channel, reason=decision.reason
            )

    def _purpose(self, name: str) -> Purpose:
        purpose = self._ctx.registry.purposes.get(name)
        if purpose is None:
            known = ", ".join(sorted(self._ctx.registry.purposes))
            raise ValidationError.single("purpose", f"unknown purpose {name!r} ({known})")
        return purpose

    def _channel(self, name: str) -> Channel:
        channel = self._ctx.registry.channels.get(name)
        if channel is None:
            known = ", ".join(sorted(self._ctx.registry.channels))
            raise ValidationError.single("channel", f"unknown channel {name!r} ({known})")
        return channel

    @staticmethod
    def _reaches(channel: Channel, kind: str) -> None:
        if channel.contact_kind != kind:
            raise ValidationError.single(
                "contact_point", f"a {kind} contact point cannot be reached by {channel.name}"
            )

    def _set_suppressed(
        self, party: PartyRef, contact_point: Any, value: bool, reason: str
    ) -> None:
        ctx = self._ctx
        if not isinstance(reason, str) or not reason.strip():
            raise ValidationError.single("reason", "say why")
        with ctx.atomic():
            party_row = ctx.party_row(party)
            point = resolve_contact_point(ctx, party_row.id, contact_point, "contact_point")
            if point.suppressed == value:
                return
            point.suppressed = value
            party_row.updated_at = utcnow()
            ctx.db.flush()
            ctx.record(
                Event(
                    "contact_point.suppressed" if value else "contact_point.unsuppressed",
                    "contact_point",
                    point.id,
                    (party_row.id,),
                    {"kind": point.kind, "value": point.value, "reason": reason.strip()},
                )
            )


# -- the same rules, set-based ------------------------------------------------------------
def _role_held(purpose: Purpose, party_id: Any, at: dt.datetime) -> ColumnElement[bool]:
    """The party held the purpose's required role at ``at`` (in one of its required
    states, when the purpose names some): the state at ``at`` is the latest transition's."""
    r = RoleRow
    when = literal(at, r.started_at.type)
    conds: list[ColumnElement[bool]] = [
        r.party_id == party_id,
        r.type == purpose.requires_role,
        r.started_at <= when,
        or_(r.ended_at.is_(None), r.ended_at > when),
    ]
    if purpose.requires_states:
        t = RoleTransitionRow
        state = (
            select(t.to_state)
            .where(t.role_id == r.id, t.at <= when)
            .order_by(t.at.desc(), t.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        conds.append(state.in_(purpose.requires_states))
    return exists().where(*conds)


def _audience_query(purpose: Purpose, channel: Channel, at: dt.datetime) -> Select[Any]:
    kind = channel.contact_kind
    party_live = PartyRow.merged_into_id.is_(None)
    if kind is not None:
        base: FromClause = ContactPointRow.__table__.join(
            PartyRow.__table__, PartyRow.id == ContactPointRow.party_id
        )
        party_col: Any = ContactPointRow.party_id
        columns: list[Any] = [
            ContactPointRow.party_id.label("party_id"),
            ContactPointRow.id.label("contact_point_id"),
            ContactPointRow.value.label("value"),
        ]
        where: list[ColumnElement[bool]] = [
            party_live,
            ContactPointRow.kind == kind,
            ContactPointRow.suppressed.is_(False),
        ]
    else:
        base = PartyRow.__table__
        party_col = PartyRow.id
        columns = [
            PartyRow.id.label("party_id"),
            null().label("contact_point_id"),
            null().label("value"),
        ]
        where = [party_live]

    if purpose.basis in (LawfulBasis.CONTRACT, LawfulBasis.LEGAL_OBLIGATION):
        if purpose.requires_role is not None:
            where.append(_role_held(purpose, party_col, at))
        return select(*columns).select_from(base).where(*where)

    R = ConsentRecordRow
    table = R.__table__
    at_from = literal(at, R.effective_from.type)

    def pick(scope: str, owned: Callable[[Any], tuple[FromClause, list[Any]]], key: Any) -> Any:
        """The id of the scope's latest record among the records ``owned`` selects: one
        index seek on (party, purpose, effective_from) per row, the record then joined by
        primary key. (A window over the ledger joined three times made SQLite scan it per
        row.)"""
        r = table.alias()
        source, conds = owned(r)
        conds.append(r.c.scope == scope)
        if scope == "channel":
            conds.append(r.c.channel == channel.name)
        if scope == "contact_point":
            conds += [r.c.contact_kind == kind, r.c.contact_key == key]
        return (
            select(r.c.id)
            .select_from(source)
            .where(r.c.purpose == purpose.name, r.c.effective_from <= at_from, *conds)
            .order_by(r.c.effective_from.desc(), r.c.id.desc())
            .limit(1)
            .scalar_subquery()
        )

    def levels_of(
        joined: Any, prefix: str, owned: Callable[[Any], tuple[FromClause, list[Any]]], key: Any
    ) -> tuple[Any, list[Any]]:
        """Join the latest record of each scope (most specific first) to ``joined``."""
        scopes = ["contact_point"] if kind is not None else []
        levels: list[Any] = []
        for scope in [*scopes, "channel", "all"]:
            record = table.alias(f"{prefix}_{scope}")
            joined = joined.outerjoin(record, record.c.id == pick(scope, owned, key))
            levels.append(record)
        return joined, levels

    def own_records(r: Any) -> tuple[FromClause, list[Any]]:
        return r, [r.c.party_id == party_col]

    joined, levels = levels_of(base, "l", own_records, ContactPointRow.key)
    denied = _denied(purpose, at, levels)
    if kind is None:
        return select(*columns).select_from(joined).where(*where, not_(denied), true())

    # A contact point a merge moved answers to the ledgers it had (ConsentLedgerRow): it
    # is contactable only if no ledger group denies it.
    L = ConsentLedgerRow
    point_of = (
        L.party_id == ContactPointRow.party_id,
        L.contact_kind == kind,
        L.contact_key == ContactPointRow.key,
    )
    has_ledger = exists().where(*point_of)
    group = L.__table__.alias("g")

    def group_records(r: Any) -> tuple[FromClause, list[Any]]:
        m = L.__table__.alias()
        joins = and_(
            m.c.party_id == group.c.party_id,
            m.c.contact_kind == group.c.contact_kind,
            m.c.contact_key == group.c.contact_key,
            m.c.grp == group.c.grp,
            r.c.party_id == m.c.ledger_party_id,
        )
        counted = or_(m.c.since.is_(None), r.c.recorded_at >= m.c.since)
        return r.join(m, joins), [counted]

    group_joined, group_levels = levels_of(group, "g", group_records, group.c.contact_key)
    group_denies = (
        select(literal(1))
        .select_from(group_joined)
        .where(
            group.c.party_id == ContactPointRow.party_id,
            group.c.contact_kind == kind,
            group.c.contact_key == ContactPointRow.key,
            _denied(purpose, at, group_levels),
        )
        .exists()
    )
    # Two branches rather than one OR: each planner then turns the ledger test into an
    # anti-join (the usual points) or a semi-join (the few a merge moved); the OR made
    # PostgreSQL probe the ledger per row and doubled the audience's time.
    usual = select(*columns).select_from(joined).where(*where, ~has_ledger, not_(denied))
    # the few points a merge moved, read from the ledger rather than found among all
    # points: a scan of every point of the kind was a sixth of the audience's time
    moved = (
        select(L.party_id, L.contact_key).where(L.contact_kind == kind).distinct().subquery("moved")
    )
    moved_points = moved.join(
        ContactPointRow.__table__,
        and_(
            ContactPointRow.party_id == moved.c.party_id,
            ContactPointRow.kind == kind,
            ContactPointRow.key == moved.c.contact_key,
        ),
    ).join(PartyRow.__table__, PartyRow.id == ContactPointRow.party_id)
    merged = select(*columns).select_from(moved_points).where(*where, ~group_denies)
    both = union_all(usual, merged).subquery("audience")
    return select(both.c.party_id, both.c.contact_point_id, both.c.value)


def _denied(purpose: Purpose, at: dt.datetime, levels: Sequence[Any]) -> ColumnElement[bool]:
    """The decision rules over the latest record of each scope (most specific first), as
    one SQL condition: true when they deny the contact."""
    R = ConsentRecordRow

    def present(x: Alias) -> ColumnElement[bool]:
        return x.c.id.is_not(None)

    def negative(x: Alias) -> ColumnElement[bool]:
        return x.c.decision.in_(sorted(NEGATIVE))

    def later(x: Any, y: Any) -> ColumnElement[bool]:
        return or_(
            x.c.effective_from > y.c.effective_from,
            and_(x.c.effective_from == y.c.effective_from, x.c.id > y.c.id),
        )

    def beaten(x: Any, broader: Sequence[Any]) -> ColumnElement[bool]:
        """A later refusal, withdrawal or objection at a broader scope beats a grant."""
        return or_(false(), *(and_(present(b), negative(b), later(b, x)) for b in broader))

    def grant_counts(x: Any) -> ColumnElement[bool]:
        conds = [
            x.c.decision == "granted",
            or_(x.c.expires_at.is_(None), x.c.expires_at > literal(at, R.expires_at.type)),
        ]
        if purpose.double_opt_in:
            conds += [
                x.c.confirmed_at.is_not(None),
                x.c.confirmed_at <= literal(at, R.confirmed_at.type),
            ]
        return and_(*conds)

    # The most specific scope with a record decides: one branch per level.
    branches: list[ColumnElement[bool]] = []
    for i, level in enumerate(levels):
        more_specific_absent = [not_(present(m)) for m in levels[:i]]
        broader = levels[i + 1 :]
        if purpose.basis is LawfulBasis.LEGITIMATE_INTEREST:
            denies = or_(
                negative(level), and_(level.c.decision == "granted", beaten(level, broader))
            )
        else:
            denies = not_(and_(grant_counts(level), not_(beaten(level, broader))))
        branches.append(and_(*more_specific_absent, present(level), denies))
    if purpose.basis is not LawfulBasis.LEGITIMATE_INTEREST:
        # no record at any scope: opt-in required
        branches.append(and_(*(not_(present(level)) for level in levels)))
    return or_(false(), *branches)
