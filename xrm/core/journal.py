"""The journal read back: a party's timeline, newest first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import and_, or_, select

from xrm.core.context import Context, PartyRef, decode_cursor, encode_cursor, ref_id
from xrm.core.models import JournalEventRow, JournalPartyRow
from xrm.core.parties import _check_limit
from xrm.core.records import Page, TimelineEntry

__all__ = ["timeline"]


def timeline(
    ctx: Context,
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
    query = (
        select(JournalEventRow)
        .join(JournalPartyRow, JournalPartyRow.event_id == JournalEventRow.id)
        .where(JournalPartyRow.party_id == ident)
    )
    if types is not None:
        wanted = [types] if isinstance(types, str) else list(types)
        query = query.where(JournalEventRow.type.in_(wanted))
    if after is not None:
        at_text, last_id = decode_cursor(after)
        at = dt.datetime.fromisoformat(at_text)
        query = query.where(
            or_(
                JournalPartyRow.occurred_at < at,
                and_(JournalPartyRow.occurred_at == at, JournalPartyRow.event_id < int(last_id)),
            )
        )
    query = query.order_by(JournalPartyRow.occurred_at.desc(), JournalPartyRow.event_id.desc())
    rows = list(ctx.db.scalars(query.limit(limit + 1)))
    more = len(rows) > limit
    items = tuple(TimelineEntry.of(r) for r in rows[:limit])
    cursor = encode_cursor(items[-1].occurred_at, items[-1].event_id) if more and items else None
    return Page(items, cursor)
