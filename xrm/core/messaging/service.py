"""``s.messages``: render a message for a party, choose its channel and address under the
consent ledger and the party's preferences, and put it in the outbox with its outbound
interaction; the worker's two steps (claim, deliver) for ``app.deliver``."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
from sqlalchemy import select, update

from xrm.core._args import check_ref, checked_methods
from xrm.core.access import CONSENT, MESSAGE, READ
from xrm.core.consent.audience import audience_query
from xrm.core.consent.service import ConsentService
from xrm.core.events import InteractionRecorded, JournalEvent, MessageDelivered, MessageQueued
from xrm.core.gdpr._suppression import database_secret
from xrm.core.messaging.templates import Rendered, Template, TemplateNotFound, render
from xrm.core.messaging.transports import Envelope, PermanentFailure, TransientFailure
from xrm.core.models import (
    ContactPointRow,
    InteractionRow,
    MessageRow,
    ParticipantRow,
    PartyRow,
    utcnow,
)
from xrm.core.nouns.interactions import InteractionService
from xrm.core.nouns.preferences import Preferences, PreferenceService, preferences_of
from xrm.core.records import ConsentRecord, Interaction, Participant
from xrm.core.registry import LawfulBasis
from xrm.core.uow import PartyRef, UnitOfWork, as_utc
from xrm.errors import ConfigurationError, NotFound, Undeliverable, ValidationError

__all__ = ["Message", "MessageService", "Preview", "SendReport"]

#: parties worked on per round of set-based statements in ``send_many``
BATCH = 1000

#: the order channels are tried in when the party prefers none for the purpose
CHANNEL_ORDER = ("email", "sms", "postal_mail", "phone", "social", "chat")
#: statuses that count towards a frequency cap (made to leave, whatever became of them)
_COUNTED = ("queued", "sending", "sent", "unknown", "bounced")
#: how many times a transient failure is tried again before the message is failed
MAX_ATTEMPTS = 5
#: first retry after this, doubling each time (1, 2, 4, 8 minutes)
BACKOFF = dt.timedelta(minutes=1)
#: what an unsubscribe token looks like
_TOKEN = re.compile(r"(\d{1,19})\.([A-Za-z0-9_-]{22})")
#: the purposes a message may be unsubscribed from, and the decision that records it
_UNSUBSCRIBE = {LawfulBasis.CONSENT: "withdrawn", LawfulBasis.LEGITIMATE_INTEREST: "objected"}
#: how long a message may stay ``sending`` before its worker is taken for dead
DEFAULT_LEASE = dt.timedelta(minutes=5)


@attrs.frozen
class Message:
    """A message in the outbox (``s.messages.get``)."""

    id: int
    party_id: int
    interaction_id: int | None
    template: str
    purpose: str
    channel: str
    transport: str
    address: str
    language: str
    subject: str | None
    text: str
    html: str | None
    status: str
    not_before: dt.datetime
    attempts: int
    last_error: str | None
    external_id: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None
    #: unique to the message: its email's ``Message-ID`` is ``<reference@sender's domain>``,
    #: and an SMS reply names it in ``in_reply_to``
    reference: str

    @classmethod
    def of(cls, row: MessageRow) -> Message:
        return cls(
            id=row.id, party_id=row.party_id, interaction_id=row.interaction_id,
            template=row.template, purpose=row.purpose, channel=row.channel,
            transport=row.transport, address=row.address, language=row.language,
            subject=row.subject, text=row.body_text, html=row.body_html, status=row.status,
            not_before=row.not_before, attempts=row.attempts, last_error=row.last_error,
            external_id=row.external_id, created_at=row.created_at, sent_at=row.sent_at,
            reference=row.idempotency_key,
        )  # fmt: skip


@attrs.frozen
class Preview:
    """What :meth:`MessageService.send` would do, written nowhere."""

    party_id: int
    channel: str
    contact_point_id: int
    address: str
    rendered: Rendered
    #: now, or the end of the party's quiet hours
    not_before: dt.datetime
    #: channels passed over, with why
    passed_over: Mapping[str, str]


@attrs.frozen
class SendReport:
    """What :meth:`MessageService.send_many` did: the messages made (ids, in the order of
    the parties) and, per party refused, why (an :class:`~xrm.errors.Undeliverable`, or
    ``not_found`` / ``merged`` / ``erased``)."""

    sent: tuple[int, ...]
    refused: Mapping[int, Undeliverable]


@checked_methods(
    "messages",
    {
        "preview": MESSAGE,
        "send": MESSAGE,
        "send_many": MESSAGE,
        "get": READ,
        "of": READ,
        "unsubscribe": CONSENT,
        "bounced": CONSENT,
    },
)
class MessageService:
    """``s.messages``: messages for parties, through the outbox."""

    def __init__(
        self,
        ctx: UnitOfWork,
        consents: ConsentService,
        interactions: InteractionService,
        preferences: PreferenceService,
    ) -> None:
        self._ctx = ctx
        self._consents = consents
        self._interactions = interactions
        self._preferences = preferences
        self._orders: dict[str, list[str]] = {}

    # -- making ----------------------------------------------------------------------------
    def preview(
        self,
        party: PartyRef,
        template: str,
        *,
        purpose: str,
        data: Mapping[str, Any] | None = None,
        channel: str | None = None,
    ) -> Preview:
        """The channel, address, rendered message and time :meth:`send` would choose, or
        the same error; nothing is written."""
        ctx = self._ctx
        row = ctx.party_row(party)
        self._check_names(template, purpose, channel)
        prefs = self._preferences.get(row.id)
        now = utcnow()
        self._check_cap(row.id, purpose, prefs, now)
        return self._choose(row, template, purpose, dict(data or {}), channel, prefs, now)

    def send(
        self,
        party: PartyRef,
        template: str,
        *,
        purpose: str,
        data: Mapping[str, Any] | None = None,
        channel: str | None = None,
    ) -> Message:
        """Render ``template`` for the party and put it in the outbox, to leave through the
        worker (never inside this unit of work).

        The channel is ``channel`` if given, else the party's preferred one for
        ``purpose``, else the first of email, SMS, postal mail... that has a template and
        a transport; the address is the first valid, unsuppressed one of that channel's
        kind (the primary first) that the consent ledger allows for ``purpose``. In the
        party's quiet hours the message waits for their end; at the party's frequency cap
        for the purpose it is refused. :class:`~xrm.errors.Undeliverable` says why per
        channel when nothing is allowed. The outbound interaction is recorded in the same
        unit of work (and checked by the ledger again); the message is on the timeline."""
        ctx = self._ctx
        with ctx.atomic():
            # the party is locked before its messages are counted against its cap, so two
            # units of work sending to it at once cannot both fit under the cap
            ctx.lock_party(party)
            preview = self.preview(party, template, purpose=purpose, data=data, channel=channel)
            rendered = preview.rendered
            interaction = self._interactions.record(
                channel=preview.channel, direction="outbound", purpose=purpose,
                participants=[(preview.party_id, "recipient", preview.contact_point_id)],
                subject=rendered.subject, content=rendered.text,
                attributes={"template": template, "language": rendered.language},
            )  # fmt: skip
            now = utcnow()
            row = MessageRow(
                party_id=preview.party_id, interaction_id=interaction.id,
                contact_point_id=preview.contact_point_id, template=template,
                purpose=purpose, channel=preview.channel,
                transport=ctx.settings.transports[preview.channel].name,
                address=preview.address, language=rendered.language,
                subject=rendered.subject, body_text=rendered.text, body_html=rendered.html,
                status="queued", not_before=preview.not_before, attempts=0,
                idempotency_key=secrets.token_hex(16), created_at=now,
            )  # fmt: skip
            ctx.db.add(row)
            ctx.db.flush()
            ctx.record(
                MessageQueued(
                    entity_id=row.id, parties=(row.party_id,), template=template,
                    purpose=purpose, channel=row.channel, address=row.address,
                    interaction_id=interaction.id, not_before=row.not_before.isoformat(),
                )
            )  # fmt: skip
            return Message.of(row)

    def send_many(
        self,
        parties: Iterable[PartyRef],
        template: str,
        *,
        purpose: str,
        data: Mapping[str, Any] | None = None,
        channel: str | None = None,
    ) -> SendReport:
        """:meth:`send` for many parties at once, each once (a party given twice gets one
        message), with the same choices for each — channel, address, language, quiet hours,
        cap — made set-based: per 1,000 parties, one statement each for the parties, their
        preferences, their caps, their addresses and, per channel, the consent ledger's
        audience (the same rules as :meth:`~xrm.core.consent.service.ConsentService.check`,
        in SQL), then the interactions, participants, messages and journal events inserted
        together. Plugins' ``xrm_validate_interaction`` and ``xrm_interaction_recorded``
        hooks are called for each interaction. A party that cannot be sent the message is
        in ``refused`` with why; the others' messages are made. All in the caller's unit of
        work: a failure (a plugin's veto) writes nothing."""
        ctx = self._ctx
        self._check_names(template, purpose, channel)
        data_ = dict(data or {})
        sent: list[int] = []
        refused: dict[int, Undeliverable] = {}
        seen: set[int] = set()
        chunk: list[int] = []
        with ctx.atomic():
            for i, party in enumerate(parties):
                check_ref(party, f"parties.{i}")  # each id checked as it is read
                ident = party if isinstance(party, int) else party.id
                if ident in seen:
                    continue
                seen.add(ident)
                chunk.append(ident)
                if len(chunk) == BATCH:
                    self._send_chunk(chunk, template, purpose, data_, channel, sent, refused)
                    chunk = []
            if chunk:
                self._send_chunk(chunk, template, purpose, data_, channel, sent, refused)
        return SendReport(tuple(sent), refused)

    # -- reading ---------------------------------------------------------------------------
    def get(self, message: int) -> Message:
        """One message, by id."""
        row = self._ctx.db.get(MessageRow, message)
        if row is None:
            raise NotFound("message", message)
        return Message.of(row)

    def of(self, party: PartyRef, *, limit: int = 50) -> list[Message]:
        """The party's latest messages, newest first."""
        if not 1 <= limit <= 1000:
            raise ValidationError.single("limit", "must be between 1 and 1000")
        row = self._ctx.party_row(party, reading=True)
        query = (
            select(MessageRow)
            .where(MessageRow.party_id == row.id)
            .order_by(MessageRow.id.desc())
            .limit(limit)
        )
        return [Message.of(r) for r in self._ctx.db.scalars(query)]

    def unsubscribe(self, token: str, *, source: str = "unsubscribe link") -> ConsentRecord:
        """The party said "no more" through the link (or the one-click ``POST``, RFC 8058)
        of a message: its consent for that purpose on that channel is withdrawn (an
        objection for a legitimate-interest purpose), with the token as evidence.
        A token this database did not sign, or of a message that is gone, is refused
        (:class:`~xrm.errors.NotFound`), as is one of a contract or legal purpose, which no
        link unsubscribes from."""
        ctx = self._ctx
        match = _TOKEN.fullmatch(token.strip())
        row = ctx.db.get(MessageRow, int(match[1])) if match else None
        if match is None or row is None:
            raise NotFound("unsubscribe token", token.strip()[:40])
        expected = unsubscribe_token(database_secret(ctx), row)
        if not hmac.compare_digest(expected, token.strip()):
            raise NotFound("unsubscribe token", token.strip()[:40])
        decision = _UNSUBSCRIBE.get(ctx.registry.purposes[row.purpose].basis)
        if decision is None:
            raise ValidationError.single(
                "token", f"{row.purpose!r} messages are not unsubscribed from (their basis "
                "is a contract or the law)",
            )  # fmt: skip
        return self._consents.record(
            row.party_id, row.purpose, decision, source=source, channel=row.channel,
            evidence=f"unsubscribe token {token.strip()} of message {row.id}",
        )  # fmt: skip

    def bounced(self, message: int, *, reason: str) -> Message:
        """A transport's callback said a sent message bounced (an SMS gateway's delivery
        report, a mail provider's webhook): its address is suppressed on every party
        holding it, with ``reason``, and the message says ``bounced``."""
        ctx = self._ctx
        why = reason.strip()[:200]
        if not why:
            raise ValidationError.single("reason", "say why (the provider's status)")
        with ctx.atomic():
            row = ctx.db.get(MessageRow, message)
            if row is None:
                raise NotFound("message", message)
            point = (
                ctx.db.get(ContactPointRow, row.contact_point_id) if row.contact_point_id else None
            )
            if point is not None:
                suppress_holders(ctx, self._consents, point.kind, point.key, f"bounced: {why}")
            if row.status in ("sent", "unknown"):
                self._finish(row, "bounced", why)
            return Message.of(row)

    # -- choosing --------------------------------------------------------------------------
    def _check_names(self, template: str, purpose: str, channel: str | None) -> None:
        ctx = self._ctx
        if purpose not in ctx.registry.purposes:
            known = ", ".join(sorted(ctx.registry.purposes))
            raise ValidationError.single("purpose", f"unknown purpose {purpose!r} ({known})")
        if channel is not None and channel not in ctx.registry.channels:
            known = ", ".join(sorted(ctx.registry.channels))
            raise ValidationError.single("channel", f"unknown channel {channel!r} ({known})")
        templates = ctx.settings.templates
        if templates is None:
            raise ConfigurationError("no message templates: give XRM(templates=...)")
        if template not in templates.names():
            raise ValidationError.single("template", f"unknown template {template!r}")

    def _check_cap(self, party_id: int, purpose: str, prefs: Preferences, now: dt.datetime) -> None:
        counts = self._cap_counts([party_id], purpose, {party_id: prefs}, now)
        refused = _capped(party_id, purpose, prefs, counts)
        if refused is not None:
            raise refused

    def _choose(
        self, row: PartyRow, template: str, purpose: str, data: dict[str, Any],
        channel: str | None, prefs: Preferences, now: dt.datetime,
    ) -> Preview:  # fmt: skip
        found, address, reasons = self._pick(
            row.id, template, purpose, channel, prefs,
            lambda name: self._address(row.id, purpose, name),
        )  # fmt: skip
        rendered = render(
            found, party=_party_fields(row), data=data, preferences=prefs.as_json(),
            language=prefs.language or self._ctx.settings.default_language,
            time_zone=prefs.time_zone,
        )  # fmt: skip
        return Preview(
            party_id=row.id, channel=found.channel, contact_point_id=address[0],
            address=address[1], rendered=rendered,
            not_before=_after_quiet_hours(prefs, now), passed_over=reasons,
        )  # fmt: skip

    def _pick(
        self, party_id: int, template: str, purpose: str, channel: str | None,
        prefs: Preferences, address: Callable[[str], tuple[tuple[int, str] | None, str]],
    ) -> tuple[Template, tuple[int, str], dict[str, str]]:  # fmt: skip
        """The first candidate channel with a transport, a template in the party's language
        (or a fallback) and an address ``address(channel)`` gives (its id and value), with
        why each channel before it was passed over; :class:`Undeliverable` when none."""
        settings = self._ctx.settings
        templates = settings.templates
        assert templates is not None
        language = prefs.language or settings.default_language
        reasons: dict[str, str] = {}
        for candidate in self._candidates(template, purpose, channel, prefs):
            if candidate not in settings.transports:
                reasons[candidate] = "no transport carries this channel"
                continue
            try:
                found = templates.find(template, candidate, language, settings.default_language)
            except TemplateNotFound as exc:
                reasons[candidate] = f"no template {template!r} for it in {', '.join(exc.tried)}"
                continue
            point, why = address(candidate)
            if point is None:
                reasons[candidate] = why
                continue
            return found, point, reasons
        if not reasons:
            reasons["channels"] = f"no channel has a template {template!r}"
        raise Undeliverable(party_id=party_id, purpose=purpose, code="no_channel", reasons=reasons)

    def _send_chunk(
        self, ids: list[int], template: str, purpose: str, data: dict[str, Any],
        channel: str | None, sent: list[int], refused: dict[int, Undeliverable],
    ) -> None:  # fmt: skip
        ctx, db, registry, settings = (
            self._ctx,
            self._ctx.db,
            self._ctx.registry,
            self._ctx.settings,
        )
        now = utcnow()
        # Core rows, not ORM objects: a million parties never fill the session's identity map
        party = PartyRow.__table__
        rows: dict[int, Any] = {
            r.id: r for r in db.execute(select(party).where(party.c.id.in_(ids)))
        }
        live: list[Any] = []
        for ident in ids:
            row = rows.get(ident)
            why = ("not_found", "no such party") if row is None else (
                ("merged", f"merged into party {row.merged_into_id}")
                if row.merged_into_id is not None
                else ("erased", "the party was erased") if row.erased_at is not None else None
            )  # fmt: skip
            if why is not None:
                refused[ident] = Undeliverable(
                    party_id=ident, purpose=purpose, code=why[0], reasons={"party": why[1]}
                )
            else:
                assert row is not None
                live.append(row)
        if not live:
            return
        live_ids = [r.id for r in live]
        ctx.lock_parties(live_ids)  # before counting toward the caps, as send() does
        prefs = preferences_of(db, live_ids)
        counts = self._cap_counts(live_ids, purpose, prefs, now)
        points: dict[int, list[tuple[int, str, str, str]]] = {}
        for found_point in db.execute(
            select(ContactPointRow.party_id, ContactPointRow.id, ContactPointRow.kind,
                   ContactPointRow.value, ContactPointRow.key)
            .where(ContactPointRow.party_id.in_(live_ids), ContactPointRow.valid.is_(True),
                   ContactPointRow.suppressed.is_(False))
            .order_by(ContactPointRow.party_id, ContactPointRow.is_primary.desc(),
                      ContactPointRow.id)
        ):  # fmt: skip
            party_id, point_id, kind, value, key = found_point
            points.setdefault(party_id, []).append((point_id, kind, value, key))
        allowed: dict[str, set[int]] = {}

        def allowed_on(name: str) -> set[int]:
            if name not in allowed:
                audience = audience_query(
                    registry.purposes[purpose], registry.channels[name], now
                ).subquery()
                query = select(audience.c.contact_point_id).where(audience.c.party_id.in_(live_ids))
                allowed[name] = {r.contact_point_id for r in db.execute(query)}
            return allowed[name]

        def address(party_id: int, name: str) -> tuple[tuple[int, str] | None, str]:
            wanted = registry.channels[name].contact_kind
            if wanted is None:
                return None, "the channel has no address to write to"
            mine = [p for p in points.get(party_id, ()) if p[1] == wanted]
            if not mine:
                return None, f"no valid, unsuppressed {wanted}"
            ok = allowed_on(name)
            pick = next(((p[0], p[2]) for p in mine if p[0] in ok), None)
            return pick, "" if pick is not None else "the consent ledger does not allow it"

        made: list[tuple[Any, str, Rendered, tuple[int, str], dt.datetime]] = []
        for row in live:
            pref = prefs[row.id]
            capped = _capped(row.id, purpose, pref, counts)
            if capped is not None:
                refused[row.id] = capped
                continue
            try:
                found, point, _ = self._pick(
                    row.id, template, purpose, channel, pref, functools.partial(address, row.id)
                )
            except Undeliverable as exc:
                refused[row.id] = exc
                continue
            rendered = render(
                found, party=_party_fields(row), data=data, preferences=pref.as_json(),
                language=pref.language or settings.default_language, time_zone=pref.time_zone,
            )  # fmt: skip
            made.append((row, found.channel, rendered, point, _after_quiet_hours(pref, now)))
        if not made:
            return
        interaction_ids = ctx.insert_many(InteractionRow, [
            {"channel": c, "direction": "outbound", "touchpoint": None, "purpose": purpose,
             "occurred_at": now, "subject": r.subject, "content": r.text, "outcome": None,
             "external_ref": None, "created_at": now,
             "attributes": {"template": template, "language": r.language}}
            for _, c, r, _, _ in made
        ])  # fmt: skip
        ctx.insert_many(ParticipantRow, [
            {"interaction_id": i, "party_id": row.id, "role": "recipient",
             "contact_point_id": point[0], "occurred_at": now}
            for i, (row, _, _, point, _) in zip(interaction_ids, made, strict=True)
        ])  # fmt: skip
        message_rows = [
            {"party_id": row.id, "interaction_id": i, "contact_point_id": point[0],
             "template": template, "purpose": purpose, "channel": c,
             "transport": settings.transports[c].name, "address": point[1],
             "language": r.language, "subject": r.subject, "body_text": r.text,
             "body_html": r.html, "status": "queued", "not_before": leaves, "attempts": 0,
             "last_error": None, "idempotency_key": secrets.token_hex(16),
             "external_id": None, "created_at": now, "claimed_at": None, "sent_at": None}
            for i, (row, c, r, point, leaves) in zip(interaction_ids, made, strict=True)
        ]  # fmt: skip
        message_ids = ctx.insert_many(MessageRow, message_rows)
        records = [
            Interaction(
                id=i, channel=c, direction="outbound", touchpoint=None, purpose=purpose,
                occurred_at=now, subject=r.subject, content=r.text, outcome=None,
                external_ref=None, attributes={"template": template, "language": r.language},
                participants=(Participant(row.id, "recipient", point[0]),),
            )
            for i, (row, c, r, point, _) in zip(interaction_ids, made, strict=True)
        ]  # fmt: skip
        for record in records:
            ctx.notify("xrm_validate_interaction", interaction=record)
        events: list[JournalEvent] = []
        for i, m, (row, c, r, point, leaves) in zip(
            interaction_ids, message_ids, made, strict=True
        ):
            events.append(InteractionRecorded(
                entity_id=i, parties=(row.id,), occurred_at=now, channel=c,
                direction="outbound", touchpoint=None, purpose=purpose, subject=r.subject,
                outcome=None, participants=[[row.id, "recipient"]], historical=False,
            ))  # fmt: skip
            events.append(MessageQueued(
                entity_id=m, parties=(row.id,), template=template, purpose=purpose,
                channel=c, address=point[1], interaction_id=i, not_before=leaves.isoformat(),
            ))  # fmt: skip
        ctx.record_many(events)
        for record in records:
            ctx.notify("xrm_interaction_recorded", interaction=record)
        sent.extend(message_ids)

    def _cap_counts(
        self, ids: list[int], purpose: str, prefs: Mapping[int, Preferences], now: dt.datetime
    ) -> dict[int, int]:
        """Per party with a cap for ``purpose``, the messages counted in its window."""
        capped = {i: p.caps[purpose] for i, p in prefs.items() if purpose in p.caps}
        if not capped:
            return {}
        longest = max(c.days for c in capped.values())
        counts: dict[int, int] = {}
        for party_id, created in self._ctx.db.execute(
            select(MessageRow.party_id, MessageRow.created_at).where(
                MessageRow.party_id.in_(list(capped)), MessageRow.purpose == purpose,
                MessageRow.status.in_(_COUNTED),
                MessageRow.created_at >= now - dt.timedelta(days=longest),
            )
        ):  # fmt: skip
            when = as_utc(created, "created_at")
            if when is not None and when >= now - dt.timedelta(days=capped[party_id].days):
                counts[party_id] = counts.get(party_id, 0) + 1
        return counts

    def _candidates(
        self, template: str, purpose: str, channel: str | None, prefs: Preferences
    ) -> list[str]:
        if channel is not None:
            return [channel]
        order = self._channel_order(template)
        preferred = prefs.channels.get(purpose)
        if preferred is not None:
            order = [preferred] + [c for c in order if c != preferred]
        return order

    def _channel_order(self, template: str) -> list[str]:
        """The channels ``template`` exists for, in :data:`CHANNEL_ORDER` (remembered for
        the unit of work: the templates do not change in it)."""
        found = self._orders.get(template)
        if found is None:
            templates = self._ctx.settings.templates
            assert templates is not None
            have = {t.channel for t in templates if t.name == template}
            found = [c for c in CHANNEL_ORDER if c in have] + sorted(have - set(CHANNEL_ORDER))
            self._orders[template] = found
        return list(found)

    def _address(
        self, party_id: int, purpose: str, channel: str
    ) -> tuple[tuple[int, str] | None, str]:
        """The first contact point of the channel's kind the ledger allows, or why none."""
        ctx = self._ctx
        kind = ctx.registry.channels[channel].contact_kind
        if kind is None:
            return None, "the channel has no address to write to"
        points = list(
            ctx.db.scalars(
                select(ContactPointRow)
                .where(
                    ContactPointRow.party_id == party_id, ContactPointRow.kind == kind,
                    ContactPointRow.valid.is_(True), ContactPointRow.suppressed.is_(False),
                )
                .order_by(ContactPointRow.is_primary.desc(), ContactPointRow.id)
            )
        )  # fmt: skip
        if not points:
            return None, f"no valid, unsuppressed {kind}"
        why = ""
        for point in points:
            decision = self._consents.check(party_id, purpose, channel, point.id)
            if decision.allowed:
                return (point.id, point.value), ""
            why = decision.reason
        return None, why

    # -- the worker's steps (app.deliver) -----------------------------------------------
    def _claim(self, limit: int, now: dt.datetime, lease: dt.timedelta) -> list[int]:
        """Mark up to ``limit`` due messages ``sending`` and return their ids; a message
        left ``sending`` longer than ``lease`` (its worker died) becomes ``unknown``: it
        may have left, so it is never handed over again."""
        ctx, M = self._ctx, MessageRow
        stale = list(
            ctx.db.scalars(
                select(M).where(M.status == "sending", M.claimed_at < now - lease).order_by(M.id)
            )
        )
        for row in stale:
            self._finish(row, "unknown", "the worker died while sending it")
        query = (
            select(M.id)
            .where(M.status == "queued", M.not_before <= now)
            .order_by(M.not_before, M.id)
            .limit(limit)
        )
        if ctx.db.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(ctx.db.scalars(query))
        if ids:
            ctx.db.execute(
                update(M).where(M.id.in_(ids))
                .values(status="sending", claimed_at=now, attempts=M.attempts + 1)
                .execution_options(synchronize_session=False)
            )  # fmt: skip
        return ids

    def _deliver(self, message_id: int, now: dt.datetime) -> str:
        """Hand one claimed message to its transport, holding the party's lock (so that a
        withdrawal or a suppression waits, and one made before is seen), after checking
        the ledger and the address as they stand now. Returns the new status."""
        ctx = self._ctx
        row = ctx.db.get(MessageRow, message_id)
        if row is None or row.status != "sending":
            return "skipped"
        party = ctx.db.get(PartyRow, row.party_id)
        if party is None or party.erased_at is not None or party.merged_into_id is not None:
            return self._finish(row, "blocked", "the party was erased or merged")
        ctx.lock_party(row.party_id)
        point = ctx.db.get(ContactPointRow, row.contact_point_id) if row.contact_point_id else None
        if point is None or point.party_id != row.party_id:
            return self._finish(row, "blocked", "the address is no longer the party's")
        if point.suppressed or not point.valid:
            return self._finish(row, "blocked", "the address is suppressed")
        decision = self._consents.check(row.party_id, row.purpose, row.channel, point.id)
        if not decision.allowed:
            return self._finish(row, "blocked", f"the ledger: {decision.reason}")
        transport = ctx.settings.transports.get(row.channel)
        if transport is None:
            return self._finish(row, "failed", f"no transport for {row.channel}")
        envelope = Envelope(
            message_id=row.id, idempotency_key=row.idempotency_key, channel=row.channel,
            to=point.key if point.kind == "phone" else point.value, language=row.language,
            subject=row.subject, text=row.body_text, html=row.body_html,
            headers=self._list_unsubscribe(row),
        )  # fmt: skip
        try:
            row.external_id = transport.send(envelope)
        except TransientFailure as exc:
            if row.attempts >= MAX_ATTEMPTS:
                return self._finish(row, "failed", f"gave up after {row.attempts}: {exc}")
            row.status = "queued"
            row.last_error = str(exc)[:300]
            row.not_before = as_utc(now, "now") + BACKOFF * 2 ** (row.attempts - 1)
            return "retry"
        except PermanentFailure as exc:
            return self._finish(row, "failed", str(exc))
        row.sent_at = utcnow()
        return self._finish(row, "sent", None)

    def _list_unsubscribe(self, row: MessageRow) -> dict[str, str]:
        """RFC 2369 and RFC 8058 headers of an email one may unsubscribe from."""
        url = self._ctx.settings.unsubscribe_url
        basis = self._ctx.registry.purposes[row.purpose].basis
        if url is None or row.channel != "email" or basis not in _UNSUBSCRIBE:
            return {}
        token = unsubscribe_token(database_secret(self._ctx), row)
        joined = "&" if "?" in url else "?"
        return {
            "List-Unsubscribe": f"<{url}{joined}token={token}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }

    def _finish(self, row: MessageRow, status: str, reason: str | None) -> str:
        row.status = status
        if reason is not None:
            row.last_error = reason[:300]
        self._ctx.db.flush()
        self._ctx.record(
            MessageDelivered(
                entity_id=row.id, parties=(row.party_id,), status=status,
                transport=row.transport, attempts=row.attempts, reason=reason,
            )
        )  # fmt: skip
        return status


def _sign(secret: bytes, payload: str) -> str:
    mac = hmac.new(secret, f"unsubscribe:{payload}".encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def unsubscribe_token(secret: bytes, row: MessageRow) -> str:
    """``<message id>.<signature>``: names the message, and through it the party, the
    purpose and the channel; only this database's secret can make one."""
    payload = f"{row.id}.{row.party_id}.{row.purpose}.{row.channel}"
    return f"{row.id}.{_sign(secret, payload)}"


def suppress_holders(
    ctx: UnitOfWork, consents: ConsentService, kind: str, key: str, reason: str
) -> list[int]:
    """Suppress the address (``kind``, match ``key``) on every party holding it, not yet
    suppressed (a bounce: the address is dead whoever holds it); the parties, in order."""
    holders = ctx.db.execute(
        select(ContactPointRow.party_id, ContactPointRow.id)
        .where(ContactPointRow.kind == kind, ContactPointRow.key == key,
               ContactPointRow.suppressed.is_(False))
        .order_by(ContactPointRow.id)
    ).all()  # fmt: skip
    for party_id, point_id in holders:
        consents.suppress(party_id, point_id, reason=reason)
    return [int(party_id) for party_id, _ in holders]


def _capped(
    party_id: int, purpose: str, prefs: Preferences, counts: Mapping[int, int]
) -> Undeliverable | None:
    """The refusal of a party at its frequency cap for ``purpose`` (``counts``: the
    messages in its window), or ``None``."""
    cap = prefs.caps.get(purpose)
    count = counts.get(party_id, 0)
    if cap is None or count < cap.count:
        return None
    return Undeliverable(
        party_id=party_id, purpose=purpose, code="capped",
        reasons={"cap": f"{count} message(s) in the last {cap.days} day(s), cap {cap}"},
    )  # fmt: skip


def _party_fields(row: Any) -> dict[str, Any]:
    """What a template sees as ``party``."""
    return {
        "id": row.id, "kind": row.kind, "name": row.display_name,
        "display_name": row.display_name, "given_name": row.given_name,
        "family_name": row.family_name,
    }  # fmt: skip


def _after_quiet_hours(prefs: Preferences, now: dt.datetime) -> dt.datetime:
    """``now``, or the end of the party's quiet hours when ``now`` falls in them."""
    window = prefs.quiet_hours
    if window is None:
        return now
    zone = zoneinfo.ZoneInfo(prefs.time_zone or "UTC")
    local = now.astimezone(zone)
    if local.time() not in window:
        return now
    day = local.date() if local.time() < window.end else local.date() + dt.timedelta(days=1)
    end = dt.datetime.combine(day, window.end, tzinfo=zone)
    return end.astimezone(dt.UTC)
