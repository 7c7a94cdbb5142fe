"""Unmerge: putting back what one ``party.merged`` journal event says a merge moved or
changed. Private to ``xrm.core``: :class:`xrm.core.identity.merge.MergeService` runs it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm import Session as OrmSession

from xrm.core._fields import ANY, PRIMARY_NOW, primary_flags
from xrm.core.models import (
    ConsentLedgerRow,
    ConsentRecordRow,
    ContactPointRow,
    IdentifierRow,
    JournalPartyRow,
    ParticipantRow,
    PartyRow,
    PartyTagRow,
    RelationshipRow,
    RoleRow,
)
from xrm.core.nouns.activities import uncarry_activities
from xrm.core.nouns.preferences import uncarry_preferences
from xrm.core.uow import UnitOfWork


def _when(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)


def _move(
    key: InstrumentedAttribute[int],
    column: InstrumentedAttribute[int],
    ids: list[int],
    to: int,
    db: Any,
) -> None:
    if ids:
        db.execute(update(key.class_).where(key.in_(ids)).values({column.key: to}))


class _Unmerge:
    """Puts back what one ``party.merged`` event says was moved or changed."""

    def __init__(
        self, ctx: UnitOfWork, s_id: int, d_id: int, merge_event: int, undo: Mapping[str, Any]
    ) -> None:
        self.ctx = ctx
        self.db = ctx.db
        self.s_id = s_id
        self.d_id = d_id
        self.merge_event = merge_event
        self.undo = undo
        self.moved_back: dict[str, int] = {}
        self.gone: list[str] = []

    def _back(
        self,
        what: str,
        key: InstrumentedAttribute[int],
        column: InstrumentedAttribute[int],
        ids: list[int],
        at: int,
    ) -> None:
        """Move rows ``ids`` whose ``column`` is ``at`` (the survivor) back to the
        duplicate; count those that no longer exist or moved elsewhere since."""
        if not ids:
            return
        present = set(self.db.scalars(select(key).where(key.in_(ids), column == at)))
        if present:
            self.db.execute(
                update(key.class_).where(key.in_(present)).values({column.key: self.d_id})
            )
        self.moved_back[what] = self.moved_back.get(what, 0) + len(present)
        for ident in sorted(set(ids) - present):
            self.gone.append(f"{what} {ident}")

    def apply(self) -> dict[str, Any]:
        db, s_id, d_id, undo = self.db, self.s_id, self.d_id, self.undo
        cp = ContactPointRow
        self._back("contact_point", cp.id, cp.party_id, undo["contact_points"], s_id)
        deleted = [{**r, "created_at": _when(r["created_at"])} for r in undo["points_deleted"]]
        # a point the merge deleted comes back under its id, or a new one when a row
        # created since took it (SQLite gives out the highest id + 1 again)
        renamed = _reinsert(db, cp, deleted)
        if deleted:
            self.moved_back["contact_point"] = self.moved_back.get("contact_point", 0) + len(
                deleted
            )
        settled = undo.get("primary_settled") or []
        if settled:
            _set_flags(db, [[ident, not flag] for ident, flag in settled])
        if undo["suppressed"]:
            db.execute(update(cp).where(cp.id.in_(undo["suppressed"])).values(suppressed=False))
        for name, ident, d_point, s_point in undo["repointed"]:
            model = ParticipantRow if name == "participant" else ConsentRecordRow
            db.execute(
                update(cast(Table, model.__table__))
                .where(model.id == ident, model.contact_point_id == s_point)
                .values(contact_point_id=renamed.get(d_point, d_point))
            )
        if undo["primary_cleared"]:
            # put the flags back where no other primary of the kind took the place
            for ident in undo["primary_cleared"]:
                row = db.execute(select(cp.party_id, cp.kind).where(cp.id == ident)).one_or_none()
                if row is None:
                    continue
                taken = db.scalar(
                    select(cp.id).where(
                        cp.party_id == row.party_id, cp.kind == row.kind, cp.is_primary
                    )
                )
                if taken is None:
                    db.execute(update(cp).where(cp.id == ident).values(is_primary=True))
        carried = undo.get("consent_carried") or []
        if carried:  # the refusals the merge recorded again on the survivor
            db.execute(delete(ConsentRecordRow).where(ConsentRecordRow.id.in_(carried)))
        L = ConsentLedgerRow
        if undo["ledger_inserted"]:
            db.execute(delete(L).where(L.id.in_(undo["ledger_inserted"])))
        removed = [{**r, "since": _when(r["since"])} for r in undo["ledger_removed"]]
        _reinsert(db, L, removed)
        self._back(
            "identifier", IdentifierRow.id, IdentifierRow.party_id, undo["identifiers"], s_id
        )
        if undo["tags"]:
            db.execute(
                delete(PartyTagRow).where(
                    PartyTagRow.party_id == s_id, PartyTagRow.tag.in_(undo["tags"])
                )
            )
        uncarry_preferences(db, s_id, undo.get("preferences"))
        uncarry_activities(db, s_id, d_id, undo.get("activities"))
        self._back("role", RoleRow.id, RoleRow.party_id, undo["roles"], s_id)
        for ident, ended_at, version in undo["roles_ended"]:
            db.execute(
                update(RoleRow)
                .where(RoleRow.id == ident)
                .values(ended_at=_when(ended_at), version=version)
            )
        rel = RelationshipRow
        for end, column in (("from", rel.from_party_id), ("to", rel.to_party_id)):
            ids = [i for i, e in undo["relationships"] if e == end]
            self._back("relationship", rel.id, column, ids, s_id)
        P = ParticipantRow
        self._back("participation", P.id, P.party_id, undo["participations"], s_id)
        J = JournalPartyRow
        theirs = select(J.event_id).where(J.party_id == d_id, J.event_id < self.merge_event)
        db.execute(
            delete(J).where(
                J.party_id == s_id,
                J.event_id.in_(theirs),
                J.event_id.not_in(undo["shared_events"]),
            )
        )
        before = undo["survivor_before"]
        version = db.scalar(select(PartyRow.version).where(PartyRow.id == s_id))
        restored = version == undo["survivor_version"]
        if restored:
            db.execute(
                update(PartyRow)
                .where(PartyRow.id == s_id)
                .values(
                    display_name=before["display_name"],
                    name_key=before["name_key"],
                    given_name=before["given_name"],
                    family_name=before["family_name"],
                    birth_date=None
                    if before["birth_date"] is None
                    else dt.date.fromisoformat(before["birth_date"]),
                    attributes=before["attributes"],
                    version=before["version"],
                    updated_at=_when(before["updated_at"]),
                )
            )
        d_before = undo["duplicate_before"]
        db.execute(
            update(PartyRow)
            .where(PartyRow.id == d_id)
            .values(
                merged_into_id=None,
                version=d_before["version"],
                updated_at=_when(d_before["updated_at"]),
            )
        )
        return {"moved_back": self.moved_back, "gone": self.gone, "fields_restored": restored}


def _settle_primaries(db: OrmSession, party_id: int) -> list[list[Any]]:
    """:func:`~xrm.core._fields.primary_flags` applied to the party's points with Core
    statements (a merge writes without the ORM); returns ``[point id, new flag]`` of each
    change."""
    cp = ContactPointRow
    rows = db.execute(
        select(cp.id, cp.kind, cp.is_primary, cp.suppressed, cp.valid)
        .where(cp.party_id == party_id)
        .order_by(cp.id)
    ).all()
    flags = primary_flags(
        [(r.kind, PRIMARY_NOW if r.is_primary else ANY, r.suppressed or not r.valid)
         for r in rows]
    )  # fmt: skip
    changes = [
        [r.id, flag] for r, flag in zip(rows, flags, strict=True) if bool(r.is_primary) != flag
    ]
    _set_flags(db, changes)
    return changes


def _set_flags(db: OrmSession, changes: list[list[Any]]) -> None:
    """Set ``[point id, primary]`` flags, the cleared ones first (one primary per kind)."""
    cp = ContactPointRow
    for wanted in (False, True):
        ids = [ident for ident, flag in changes if flag is wanted]
        if ids:
            db.execute(update(cp).where(cp.id.in_(ids)).values(is_primary=wanted))


def _reinsert(db: OrmSession, model: Any, rows: list[dict[str, Any]]) -> dict[int, int]:
    """Insert rows a merge deleted, each under its former id unless a row created since
    holds it: that one gets a new id. Returns ``{former id: new id}`` of those renamed."""
    if not rows:
        return {}
    table = model.__table__
    taken = set(db.scalars(select(table.c.id).where(table.c.id.in_([r["id"] for r in rows]))))
    free = [r for r in rows if r["id"] not in taken]
    if free:
        db.execute(insert(table), free)
    renamed: dict[int, int] = {}
    for row in rows:
        if row["id"] in taken:
            values = {k: v for k, v in row.items() if k != "id"}
            renamed[row["id"]] = db.execute(
                insert(table).values(**values).returning(table.c.id)
            ).scalar_one()
    return renamed
