"""``s.consents``: the append-only evidence ledger, and checking it.

The rules (docs/consent.md has them as a table) are implemented twice on purpose, from
one definition: :func:`decide` answers for one party in Python and says why;
:meth:`ConsentService.contactable` answers for every party at once in SQL. A property test
keeps the two equal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, and_, exists, or_, select, true

from xrm.core._args import checked_methods
from xrm.core._fields import resolve_contact_point, settle_primaries
from xrm.core.access import CONSENT, READ
from xrm.core.consent.audience import AudienceMember, audience_query, role_held
from xrm.core.consent.rules import (
    DECISIONS,
    PointFacts,
    consent_event,
    decide,
    record_from_row,
)
from xrm.core.events import ContactPointSuppressed, ContactPointUnsuppressed
from xrm.core.models import ConsentLedgerRow, ConsentRecordRow, utcnow
from xrm.core.records import ConsentDecision, ConsentRecord
from xrm.core.registry import Channel, Purpose
from xrm.core.uow import PartyRef, UnitOfWork, as_utc, ref_id
from xrm.errors import ConsentRequired, ValidationError

__all__ = ["ConsentService"]


@checked_methods(
    "consents",
    {
        "grant": CONSENT,
        "refuse": CONSENT,
        "withdraw": CONSENT,
        "object": CONSENT,
        "record": CONSENT,
        "confirm": CONSENT,
        "check_record": READ,
        "history": READ,
        "suppress": CONSENT,
        "unsuppress": CONSENT,
        "check": READ,
        "contactable": READ,
        "audience": READ,
        "ledgers": READ,
        "require": READ,
    },
)
class ConsentService:
    """``s.consents``: record consent evidence, check it, and build audiences."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._ctx = uow

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
            # the party's lock: a message being handed to its transport (which holds it)
            # is waited for, so no message leaves after a withdrawal is committed
            party_row = ctx.lock_party(party)
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
            facts = PointFacts(point.kind, point.key, point.suppressed, point.valid)
            point_id = point.id
        holds = True
        if purpose_obj.requires_role is not None:
            held = role_held(purpose_obj, party_row.id, when)
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
        return audience_query(purpose_obj, channel_obj, when)

    def audience(
        self, purpose: str, channel: str, at: dt.datetime | None = None, *, batch: int = 1000
    ) -> Iterator[AudienceMember]:
        """Stream :meth:`contactable`, ``batch`` rows at a time: memory stays bounded
        whatever the number of parties."""
        if not 1 <= batch <= 100_000:
            raise ValidationError.single("batch", "must be between 1 and 100,000")
        # the statement is built now: an unknown purpose is refused at the call
        return self._audience(self.contactable(purpose, channel, at), batch)

    def _audience(self, query: Select[Any], batch: int) -> Iterator[AudienceMember]:
        result = self._ctx.db.execute(query, execution_options={"yield_per": batch})
        try:
            for row in result:
                yield AudienceMember(row[0], row[1], row[2])
        finally:  # a caller that stops early closes the server-side cursor
            result.close()

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
    def require(
        self, party_id: int, purpose: str, channel: str, point_id: int | None, at: dt.datetime
    ) -> None:
        """Raise :class:`~xrm.ConsentRequired` (with the reason) unless :meth:`check`
        allows contacting the party: what the interaction service asks before it records
        an outbound contact."""
        decision = self.check(party_id, purpose, channel, point_id, at=at)
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
            party_row = ctx.lock_party(party)
            point = resolve_contact_point(ctx, party_row.id, contact_point, "contact_point")
            if point.suppressed == value:
                return
            point.suppressed = value
            party_row.updated_at = utcnow()
            ctx.db.flush()
            # a suppressed point is never primary: the next reachable one of its kind
            # takes its place (and an unsuppressed one may take an empty place back)
            points = sorted(party_row.contact_points, key=lambda c: c.id)
            settle_primaries(ctx.db, points)
            ctx.db.flush()
            ctx.record(
                (ContactPointSuppressed if value else ContactPointUnsuppressed)(
                    entity_id=point.id,
                    parties=(party_row.id,),
                    kind=point.kind,
                    value=point.value,
                    reason=reason.strip(),
                )
            )
