"""Interactions: every contact on every channel, with its participants."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from xrm.core._args import checked_methods
from xrm.core._fields import primary_contact_point, resolve_contact_point
from xrm.core._lean import _check_limit
from xrm.core.access import READ, WRITE
from xrm.core.events import InteractionRecorded
from xrm.core.inputs import ParticipantIn
from xrm.core.models import ContactPointRow, InteractionRow, ParticipantRow, PartyRow, utcnow
from xrm.core.predicates import role_held
from xrm.core.records import Interaction, Page
from xrm.core.uow import (
    PartyRef,
    UnitOfWork,
    as_utc,
    decode_time_cursor,
    jsonable,
    keyset_page,
    ref_id,
    validate_model,
)
from xrm.errors import FieldError, NotFound, ValidationError

__all__ = ["DIRECTIONS", "ConsentGate", "InteractionService"]

DIRECTIONS = ("inbound", "outbound", "internal")
#: participants on the company's side: never the ones being contacted
COMPANY_SIDE_ROLES = frozenset({"sender", "agent", "organizer", "author"})
#: how far in the past an outbound contact may be dated and still be checked only as of
#: its own time (the clock of the caller and the database's may differ a little)
_LATE = dt.timedelta(minutes=5)

ParticipantLike = ParticipantIn | tuple[PartyRef, str] | tuple[PartyRef, str, int | str | None]


def _text(value: Any, field: str, limit: int, errors: list[FieldError]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors.append(FieldError(field, "must be text"))
        return None
    cleaned = value.strip()
    if len(cleaned) > limit:
        errors.append(FieldError(field, f"is longer than {limit} characters"))
    return cleaned or None


class ConsentGate(Protocol):
    """What the interaction service asks before recording an outbound contact: the
    consent service (``s.consents``), given at construction."""

    def require(
        self, party_id: int, purpose: str, channel: str, point_id: int | None, at: dt.datetime
    ) -> None:
        """Raise :class:`~xrm.ConsentRequired` unless the ledger allows the contact."""


@checked_methods("interactions", {"record": WRITE, "get": READ, "of": READ})
class InteractionService:
    """``s.interactions``: record contacts and list them per party, newest first."""

    def __init__(self, uow: UnitOfWork, consents: ConsentGate) -> None:
        if not callable(getattr(consents, "require", None)):
            raise TypeError("InteractionService needs the consent service it must ask")
        self._ctx = uow
        self._consents = consents

    def record(
        self,
        *,
        channel: str,
        direction: str,
        participants: Sequence[ParticipantLike | Mapping[str, Any]],
        touchpoint: str | None = None,
        purpose: str | None = None,
        occurred_at: dt.datetime | None = None,
        subject: str | None = None,
        content: str | None = None,
        outcome: str | None = None,
        external_ref: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        historical: bool = False,
    ) -> Interaction:
        """Record one interaction.

        ``participants`` are :class:`~xrm.ParticipantIn` objects, mappings, or tuples
        ``(party, role)`` / ``(party, role, contact_point)``. An *outbound* interaction
        needs a ``purpose`` and is checked against the consent ledger for every
        participant who is not one of the company's own parties (a holder of a role type
        with ``internal_states``, such as a current employee), whatever their part in it;
        a company-side part (sender, agent, organizer, author) given to another party is
        refused. An outbound interaction dated in the past is checked against the ledger
        as it stood then *and* as it stands now, unless ``historical=True`` says it is a
        record of the past being imported (then only as it stood then; the journal says
        so).
        """
        ctx = self._ctx
        registry = ctx.registry
        errors: list[FieldError] = []
        if channel not in registry.channels:
            errors.append(
                FieldError(
                    "channel",
                    f"unknown channel {channel!r} ({', '.join(sorted(registry.channels))})",
                )
            )
        if direction not in DIRECTIONS:
            errors.append(FieldError("direction", f"must be one of {', '.join(DIRECTIONS)}"))
        if touchpoint is not None and touchpoint not in registry.touchpoints:
            errors.append(
                FieldError(
                    "touchpoint",
                    f"unknown touchpoint {touchpoint!r} "
                    f"({', '.join(sorted(registry.touchpoints))})",
                )
            )
        if purpose is not None and purpose not in registry.purposes:
            errors.append(
                FieldError(
                    "purpose",
                    f"unknown purpose {purpose!r} ({', '.join(sorted(registry.purposes))})",
                )
            )
        if direction == "outbound" and purpose is None:
            errors.append(
                FieldError(
                    "purpose", "an outbound interaction needs a purpose, so consent can be checked"
                )
            )
        subject_ = _text(subject, "subject", 300, errors)
        content_ = _text(content, "content", 1_000_000, errors)
        outcome_ = _text(outcome, "outcome", 300, errors)
        ref_ = _text(external_ref, "external_ref", 200, errors)
        when = as_utc(occurred_at, "occurred_at") or utcnow()
        parts = self._participants(participants, errors)
        if attributes is not None and not isinstance(attributes, Mapping):
            errors.append(FieldError("attributes", "must be a mapping"))
        if errors:
            raise ValidationError(errors)
        with ctx.atomic():
            ctx.require_existing([p.party for p in parts], "participants")
            for p in parts:
                ctx.party_row(p.party, "participants")
            point_ids = self._contact_points(parts, channel, direction == "outbound")
            if direction == "outbound":
                assert purpose is not None
                self._check_consent(channel, purpose, parts, point_ids, when, historical)
            row = InteractionRow(
                channel=channel,
                direction=direction,
                touchpoint=touchpoint,
                purpose=purpose,
                occurred_at=when,
                subject=subject_,
                content=content_,
                outcome=outcome_,
                external_ref=ref_,
                attributes=jsonable(dict(attributes or {})),
                created_at=utcnow(),
            )
            row.participants = [
                ParticipantRow(party_id=p.party, role=p.role, contact_point_id=cp, occurred_at=when)
                for p, cp in zip(parts, point_ids, strict=True)
            ]
            ctx.db.add(row)
            ctx.db.flush()
            interaction = Interaction.of(row)
            ctx.notify("xrm_validate_interaction", interaction=interaction)
            ctx.record(
                InteractionRecorded(
                    entity_id=row.id,
                    parties=tuple(p.party for p in parts),
                    occurred_at=when,
                    channel=channel,
                    direction=direction,
                    touchpoint=touchpoint,
                    purpose=purpose,
                    subject=subject_,
                    outcome=outcome_,
                    participants=[[p.party, p.role] for p in parts],
                    historical=bool(historical),
                )
            )
            ctx.notify("xrm_interaction_recorded", interaction=interaction)
            return interaction

    def get(self, interaction: int | Interaction) -> Interaction:
        ident = ref_id(interaction, "interaction")
        row = self._ctx.db.get(
            InteractionRow, ident, options=[selectinload(InteractionRow.participants)]
        )
        if row is None:
            raise NotFound("interaction", ident)
        return Interaction.of(row)

    def of(
        self,
        party: PartyRef,
        *,
        channel: str | None = None,
        touchpoint: str | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> Page[Interaction]:
        """The party's interactions, newest first, ``limit`` at a time (keyset pages)."""
        _check_limit(limit)
        ident = ref_id(party)
        query = select(ParticipantRow.interaction_id, ParticipantRow.occurred_at).where(
            ParticipantRow.party_id == ident
        )
        if channel is not None or touchpoint is not None:
            query = query.join(InteractionRow, InteractionRow.id == ParticipantRow.interaction_id)
            if channel is not None:
                query = query.where(InteractionRow.channel == channel)
            if touchpoint is not None:
                query = query.where(InteractionRow.touchpoint == touchpoint)
        if after is not None:
            at, last_id = decode_time_cursor(after)
            query = query.where(
                or_(
                    ParticipantRow.occurred_at < at,
                    and_(ParticipantRow.occurred_at == at, ParticipantRow.interaction_id < last_id),
                )
            )
        query = query.order_by(
            ParticipantRow.occurred_at.desc(), ParticipantRow.interaction_id.desc()
        ).limit(limit + 1)
        items, cursor = keyset_page(
            self._ctx.db, query, limit, InteractionRow,
            [selectinload(InteractionRow.participants)], Interaction.of,
        )  # fmt: skip
        return Page(items, cursor)

    # -- helpers -----------------------------------------------------------------------
    def _check_consent(
        self,
        channel: str,
        purpose: str,
        parts: Sequence[ParticipantIn],
        point_ids: Sequence[int | None],
        when: dt.datetime,
        historical: bool,
    ) -> None:
        own = self._company_own([p.party for p in parts], when)
        refused = [
            FieldError(
                f"participants.{i}.role",
                f"{part.role!r} is the company's part, and party {part.party} is not one of "
                "the company's own parties (a current holder of an internal role, such as "
                "an employee)",
            )
            for i, part in enumerate(parts)
            if part.role in COMPANY_SIDE_ROLES and part.party not in own
        ]
        if refused:
            raise ValidationError(refused)
        now = self._ctx.now()
        # the ledger as it stood then, and, for a contact dated in the past, as it stands
        # now: a withdrawal recorded since is not passed by back-dating
        moments = [when] if historical or when >= now - _LATE else [when, now]
        for part, point in zip(parts, point_ids, strict=True):
            if part.party in own:
                continue
            for at in moments:
                self._consents.require(part.party, purpose, channel, point, at)

    def _company_own(self, party_ids: Sequence[int], at: dt.datetime) -> set[int]:
        """Which of ``party_ids`` are the company's own parties at ``at``: holders of a
        role type with ``internal_states``, in one of those states then."""
        internal = [
            t for t in self._ctx.registry.role_types.values() if t.internal_states is not None
        ]
        if not internal:
            return set()
        held = or_(*(role_held(t.name, as_of=at, states=t.internal_states or ()) for t in internal))
        query = select(PartyRow.id).where(PartyRow.id.in_(set(party_ids)), held)
        return set(self._ctx.db.scalars(query))

    def _participants(self, raw: Sequence[Any], errors: list[FieldError]) -> list[ParticipantIn]:
        if isinstance(raw, str | bytes | Mapping) or not raw:
            errors.append(FieldError("participants", "give at least one participant"))
            return []
        result: list[ParticipantIn] = []
        for i, item in enumerate(raw):
            path = f"participants.{i}"
            try:
                if isinstance(item, ParticipantIn):
                    result.append(item)
                elif isinstance(item, tuple):
                    if len(item) not in (2, 3):
                        raise ValidationError.single(
                            path, "a tuple is (party, role[, contact point])"
                        )
                    data = {"party": ref_id(item[0], f"{path}.party"), "role": item[1]}
                    if len(item) == 3:
                        data["contact_point"] = item[2]
                    result.append(validate_model(ParticipantIn, data, path))
                elif isinstance(item, Mapping | BaseModel):
                    data = dict(item) if isinstance(item, Mapping) else item.model_dump()
                    if "party" in data and not isinstance(data["party"], int):
                        data["party"] = ref_id(data["party"], f"{path}.party")
                    result.append(validate_model(ParticipantIn, data, path))
                else:
                    raise ValidationError.single(path, "expected (party, role) or a ParticipantIn")
            except ValidationError as exc:
                errors.extend(exc.errors)
        seen = set()
        for i, p in enumerate(result):
            if (p.party, p.role) in seen:
                errors.append(FieldError(f"participants.{i}", "the same party twice in one role"))
            seen.add((p.party, p.role))
        return result

    def _contact_points(
        self, parts: Sequence[ParticipantIn], channel: str, outbound: bool
    ) -> list[int | None]:
        """Each participant's contact point, given by id or value; for an outbound
        contact without one, the contacted party's primary point for the channel."""
        ctx = self._ctx
        kind = ctx.registry.channels[channel].contact_kind
        ids: list[int | None] = []
        for i, part in enumerate(parts):
            if part.contact_point is not None:
                path = f"participants.{i}.contact_point"
                ids.append(resolve_contact_point(ctx, part.party, part.contact_point, path).id)
            elif outbound and kind is not None and part.role not in COMPANY_SIDE_ROLES:
                point = primary_contact_point(ctx, part.party, kind)
                if point is None:
                    # every point of the kind is suppressed: name one, so that the
                    # consent check refuses the contact as suppressed
                    point = ctx.db.scalar(
                        select(ContactPointRow)
                        .where(ContactPointRow.party_id == part.party, ContactPointRow.kind == kind)
                        .order_by(ContactPointRow.id)
                        .limit(1)
                    )
                ids.append(point.id if point is not None else None)
            else:
                ids.append(None)
        return ids
