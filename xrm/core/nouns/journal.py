"""The journal read back: a party's timeline, newest first."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Integer, Select, Table, bindparam, or_, select

from xrm.core._lean import Prepared, _check_limit, _pending
from xrm.core.models import JournalEventRow, JournalPartyRow
from xrm.core.records import Page, TimelineEntry
from xrm.core.uow import PartyRef, UnitOfWork, decode_time_cursor, encode_cursor, ref_id

__all__ = ["timeline"]

_EVENTS = cast(Table, JournalEventRow.__table__)
_LINKS = cast(Table, JournalPartyRow.__table__)
_E = _EVENTS.c
_J = _LINKS.c


def _page(typed: bool, later: bool) -> Select[Any]:
    """A page of a party's events, built once: one range scan of ``ix_journal_party_time``
    backwards, each event read by primary key; ``typed`` keeps the ``types`` parameter's,
    ``later`` those before the cursor (``at``, ``last_id``)."""
    query = (
        select(_E.id, _E.type, _E.entity, _E.entity_id, _E.occurred_at, _E.recorded_at,
               _E.actor, _E.data)
        .select_from(_LINKS.join(_EVENTS, _E.id == _J.event_id))
        .where(_J.party_id == bindparam("party"))
    )  # fmt: skip
    if typed:
        query = query.where(_E.type.in_(bindparam("types", expanding=True)))
    if later:
        # (occurred_at, event_id) before the cursor's, written so that the first term is
        # an index range on PostgreSQL too (an OR of both alone is a filter there)
        query = query.where(
            _J.occurred_at <= bindparam("at"),
            or_(_J.occurred_at < bindparam("at"), _J.event_id < bindparam("last_id")),
        )
    return query.order_by(_J.occurred_at.desc(), _J.event_id.desc()).limit(
        bindparam("limit", type_=Integer())
    )


_PAGES = {(t, a): Prepared(_page(t, a)) for t in (False, True) for a in (False, True)}


def timeline(
    ctx: UnitOfWork,
    party: PartyRef,
    *,
    limit: int = 50,
    after: str | None = None,
    types: Iterable[str] | None = None,
) -> Page[TimelineEntry]:
    """Every event that concerns ``party`` (its contact points, roles, relationships,
    interactions, consents...), newest first by when it happened, then by when it was
    written. One index range scan per page, whatever the length of the history."""
    _check_limit(limit)
    ident = ref_id(party)
    params: dict[str, Any] = {"party": ident, "limit": limit + 1}
    if types is not None:
        params["types"] = [types] if isinstance(types, str) else list(types)
    if after is not None:
        params["at"], params["last_id"] = decode_time_cursor(after)
    query = _PAGES[types is not None, after is not None]
    if _pending(ctx.db):  # an event changed through the ORM and not flushed yet
        orm = select(JournalEventRow).from_statement(query.statement)
        events = list(ctx.db.scalars(orm, params))
        more = len(events) > limit
        items = tuple(TimelineEntry.of(e) for e in events[:limit])
    else:
        rows = query.rows(ctx.db.connection(), params)
        more = len(rows) > limit
        items = tuple(map(TimelineEntry.from_row, rows[:limit]))
    cursor = encode_cursor(items[-1].occurred_at, items[-1].event_id) if more and items else None
    return Page(items, cursor)
