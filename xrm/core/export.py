"""Everything known about one party, as JSON-ready data (with plugins' contributions)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from xrm.core.context import jsonable

if TYPE_CHECKING:
    from xrm.app import Session

__all__ = ["EXPORT_FORMAT", "export_party"]

#: the version of the export document's layout
EXPORT_FORMAT = "xrm.party-export/1"


def _data(record: Any) -> Any:
    return jsonable(attrs.asdict(record, recurse=True))


def export_party(session: Session, party_id: int, *, page: int = 500) -> dict[str, Any]:
    """The party, its roles (ended ones too), relationships (all dates), interactions,
    consent ledger, timeline, and each plugin's ``xrm_party_export`` contribution."""
    s = session
    party = s.parties.get(party_id, follow_merges=False)
    interactions: list[Any] = []
    cursor: str | None = None
    while True:
        batch = s.interactions.of(party.id, limit=page, after=cursor)
        interactions += [_data(i) for i in batch]
        if batch.next_cursor is None:
            break
        cursor = batch.next_cursor
    events: list[Any] = []
    cursor = None
    while True:
        entries = s.timeline(party.id, limit=page, after=cursor)
        events += [_data(e) for e in entries]
        if entries.next_cursor is None:
            break
        cursor = entries.next_cursor
    ctx = s._ctx
    plugins = ctx.plugins.collect("xrm_party_export", ctx, party=party) if ctx.plugins else {}
    return {
        "format": EXPORT_FORMAT,
        "party": _data(party),
        "roles": [_data(r) for r in s.roles.of(party.id, include_ended=True)],
        "relationships": [_data(link) for link in s.relationships.of(party.id, all_dates=True)],
        "interactions": interactions,
        "consents": [_data(c) for c in s.consents.history(party.id)],
        "timeline": events,
        "plugins": jsonable(plugins),
    }
