"""Merge a duplicate party into the one that survives, and undo it: ``s.identity.merge``
and ``s.identity.unmerge``.

A merge moves the duplicate's rows to the survivor with plain SQL updates and writes one
``party.merged`` journal event that lists every row it moved and every value it changed,
so that :func:`unmerge` can put each one back. The duplicate's party row stays, marked
``merged_into`` the survivor: its id keeps resolving.

Consent is never widened by a merge. The duplicate's consent records stay where they are;
each contact point it brings keeps answering to the ledger it had (rows of
:class:`~xrm.core.models.ConsentLedgerRow`) plus what the survivor records from the merge
on; a point both parties had answers to both ledgers and is contactable only if both
allow it. docs/identity.md has the rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, Literal, cast

import attrs
from rapidfuzz import fuzz
from sqlalchemy import Table, delete, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from xrm.core.consent.rules import NEGATIVE
from xrm.core.events import PartyMerged, PartyUnmerged
from xrm.core.identity._unmerge import _move, _settle_primaries, _Unmerge
from xrm.core.models import (
    ConsentLedgerRow,
    ConsentRecordRow,
    ContactPointRow,
    IdentifierRow,
    JournalEventRow,
    JournalPartyRow,
    ParticipantRow,
    PartyRow,
    PartyTagRow,
    RelationshipRow,
    RoleRow,
    utcnow,
)
from xrm.core.normalize import text_key
from xrm.core.nouns.activities import carry_activities
from xrm.core.nouns.parties import PartyService
from xrm.core.nouns.preferences import carry_preferences
from xrm.core.nouns.relationships import RelationshipService
from xrm.core.uow import PartyRef, UnitOfWork, jsonable, ref_id
from xrm.errors import Conflict, ValidationError

__all__ = ["PREFERABLE", "MergePlan", "MergeService", "Unmerged"]

Side = Literal["survivor", "duplicate"]
#: what ``prefer=`` can name: the party's fields, which primary contact point stays
#: primary, and which of two current roles of one type stays current
PREFERABLE = (
    "display_name",
    "given_name",
    "family_name",
    "birth_date",
    "attributes",
    "primary",
    "roles",
)
_NAME_FIELDS = ("display_name", "given_name", "family_name", "birth_date")


@attrs.frozen
class MergePlan:
    """What a merge moved (or, with ``dry_run=True``, would move)."""

    survivor_id: int
    duplicate_id: int
    #: the survivor's fields the merge changes: name -> new value
    fields: Mapping[str, Any]
    #: the duplicate's contact points that move to the survivor
    contact_points_moved: tuple[int, ...]
    #: (duplicate's point, survivor's point) with the same match key: the duplicate's is
    #: removed (interactions and consent records naming it now name the survivor's) and
    #: its consent ledger now also decides for the survivor's
    contact_points_shared: tuple[tuple[int, int], ...]
    identifiers_moved: tuple[int, ...]
    tags_added: tuple[str, ...]
    roles_moved: tuple[int, ...]
    #: current roles ended by the merge (both parties held the type; ``prefer["roles"]``)
    roles_ended: tuple[int, ...]
    relationships_moved: tuple[int, ...]
    #: relationships left with the duplicate, each with the reason
    relationships_kept: tuple[tuple[int, str], ...]
    participations_moved: tuple[int, ...]
    #: interactions the survivor already takes part in with the same role
    participations_kept: tuple[int, ...]
    #: the duplicate's consent records, which keep deciding for its contact points
    consent_records: int
    #: events of the duplicate's timeline that the survivor's timeline now shows
    timeline_events: int
    dry_run: bool
    #: the ``party.merged`` journal event (``None`` on a dry run)
    event_id: int | None
    #: why the two may not be one party (two values of one identifier scheme, two
    #: organisations of clearly different names): a merge with any needs ``force=True``
    conflicts: tuple[str, ...] = ()
    #: refusals, withdrawals and objections of a whole channel or of all channels that
    #: either party held, recorded again on the survivor so that they cover every
    #: address it holds (one person said no); unmerge removes them
    consent_carried: tuple[int, ...] = ()


@attrs.frozen
class Unmerged:
    """What an unmerge put back."""

    survivor_id: int
    duplicate_id: int
    #: rows moved back to the duplicate, by kind
    moved_back: Mapping[str, int]
    #: rows the merge moved that were deleted since: they cannot come back
    gone: tuple[str, ...]
    #: ``False`` when the survivor was edited after the merge: its fields are kept
    fields_restored: bool
    event_id: int


def _ids(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(values))


class _DryRun(Exception):
    """Raised at the end of a dry run so that everything it did rolls back."""


class MergeService:
    """The merge and unmerge of two parties (reached through ``s.identity``)."""

    def __init__(
        self, uow: UnitOfWork, parties: PartyService, relationships: RelationshipService
    ) -> None:
        self._ctx = uow
        self._parties = parties
        self._relationships = relationships

    # -- merge -------------------------------------------------------------------------
    def merge(
        self,
        survivor: PartyRef,
        duplicate: PartyRef,
        *,
        prefer: Side | Mapping[str, Side] = "survivor",
        dry_run: bool = False,
        force: bool = False,
    ) -> MergePlan:
        ctx = self._ctx
        choice = _preferences(prefer)
        with ctx.atomic():
            ctx.db.flush()
            # party_row refuses a party merged into another, or erased
            s_row = ctx.party_row(survivor, "survivor")
            d_row = ctx.party_row(duplicate, "duplicate")
            if s_row.id == d_row.id:
                raise ValidationError.single("duplicate", "a party cannot be merged into itself")
            s_id, d_id = s_row.id, d_row.id
            now = utcnow()
            work = _Merge(ctx, self._relationships, s_id, d_id, now, choice)
            work.conflicts = _conflicts(ctx.db, s_row, d_row)
            if work.conflicts and not (force or dry_run):
                raise Conflict(
                    f"parties {s_id} and {d_id} look like two parties: "
                    f"{'; '.join(work.conflicts)}. Merge with force=True if they are one",
                    field="duplicate",
                )
            try:
                with ctx.atomic():
                    self._merge(work, s_row, d_row, dry_run)
            except _DryRun:
                # everything the merge did, plugins' part included, was rolled back
                return work.result(dry_run=True, event_id=None)
            return work.result(dry_run=False, event_id=work.event_id)

    def _merge(self, work: _Merge, s_row: PartyRow, d_row: PartyRow, dry_run: bool) -> None:
        ctx = self._ctx
        s_id, d_id, now = work.s_id, work.d_id, work.now
        work.plan_fields(s_row, d_row)
        work.plan_contact_points()
        work.plan_roles()
        work.move_relationships()
        work.plan_participations()
        work.plan_rest()
        work.apply()
        ctx.db.expire_all()
        survivor_rec = self._parties.get(s_id)
        duplicate_rec = self._parties.get(d_id, follow_merges=False)
        plugins = ctx.hooks.collect(
            "xrm_parties_merged", survivor=survivor_rec, duplicate=duplicate_rec
        )
        work.undo["plugins"] = jsonable(plugins)
        work.event_id = ctx.record(
            PartyMerged(
                entity_id=d_id,
                parties=(s_id, d_id),
                occurred_at=now,
                summary=work.summary(),
                undo=work.undo,
            )
        )
        ctx.db.expire_all()
        if dry_run:
            raise _DryRun

    # -- unmerge -----------------------------------------------------------------------
    def unmerge(self, duplicate: PartyRef) -> Unmerged:
        ctx = self._ctx
        d_id = ref_id(duplicate, "duplicate")
        with ctx.atomic():
            ctx.db.flush()
            d_row = ctx.party_row(d_id, "duplicate", live=False)
            s_id = d_row.merged_into_id
            if s_id is None:
                raise Conflict(f"party {d_id} is not merged into another", field="duplicate")
            s_row = ctx.party_row(s_id, "survivor", live=False)
            if s_row.merged_into_id is not None:
                raise Conflict(
                    f"party {s_id} was merged into party {s_row.merged_into_id} since: "
                    f"unmerge party {s_id} first",
                    field="duplicate",
                )
            merged = ctx.db.execute(
                select(JournalEventRow.id, JournalEventRow.type, JournalEventRow.data)
                .where(
                    JournalEventRow.entity == "party",
                    JournalEventRow.entity_id == d_id,
                    JournalEventRow.type.in_(("party.merged", "party.unmerged")),
                )
                .order_by(JournalEventRow.id.desc())
                .limit(1)
            ).one_or_none()
            if merged is None or merged.type != "party.merged" or "undo" not in merged.data:
                raise Conflict(f"the journal holds no merge of party {d_id} to undo")
            undo: dict[str, Any] = merged.data["undo"]
            result = _Unmerge(ctx, s_id, d_id, merged.id, undo).apply()
            ctx.db.expire_all()
            survivor_rec = self._parties.get(s_id)
            duplicate_rec = self._parties.get(d_id)
            moved = undo.get("plugins", {})
            ctx.hooks.call_each(
                "xrm_parties_unmerged",
                lambda name: {
                    "survivor": survivor_rec,
                    "duplicate": duplicate_rec,
                    "moved": moved.get(name),
                },
            )
            event_id = ctx.record(
                PartyUnmerged(
                    entity_id=d_id,
                    parties=(s_id, d_id),
                    merge_event=merged.id,
                    moved_back=result["moved_back"],
                    gone=result["gone"],
                    fields_restored=result["fields_restored"],
                )
            )
            ctx.db.expire_all()
            return Unmerged(
                survivor_id=s_id,
                duplicate_id=d_id,
                moved_back=result["moved_back"],
                gone=tuple(result["gone"]),
                fields_restored=result["fields_restored"],
                event_id=event_id,
            )


def _preferences(prefer: Side | Mapping[str, Side]) -> dict[str, Side]:
    sides = ("survivor", "duplicate")
    if isinstance(prefer, str):
        if prefer not in sides:
            raise ValidationError.single("prefer", "must be 'survivor' or 'duplicate'")
        return dict.fromkeys(PREFERABLE, prefer)
    if not isinstance(prefer, Mapping):
        raise ValidationError.single("prefer", "a side or a mapping of field to side")
    choice: dict[str, Side] = dict.fromkeys(PREFERABLE, "survivor")
    for field, side in prefer.items():
        if field not in PREFERABLE:
            raise ValidationError.single(
                f"prefer.{field}", f"unknown; one of {', '.join(PREFERABLE)}"
            )
        if side not in sides:
            raise ValidationError.single(f"prefer.{field}", "must be 'survivor' or 'duplicate'")
        choice[field] = side
    return choice


class _Merge:
    """Plans a merge by reading, then applies it with set-based updates, keeping in
    ``undo`` what :class:`_Unmerge` needs to put everything back."""

    def __init__(
        self,
        ctx: UnitOfWork,
        relationships: RelationshipService,
        s_id: int,
        d_id: int,
        now: dt.datetime,
        choice: Mapping[str, Side],
    ) -> None:
        self.ctx = ctx
        self.relationships = relationships
        self.db = ctx.db
        self.s_id = s_id
        self.d_id = d_id
        self.now = now
        self.choice = choice
        self.fields: dict[str, Any] = {}
        self.undo: dict[str, Any] = {"survivor": s_id, "duplicate": d_id, "at": now}
        self.moved_points: list[int] = []
        self.primary_cleared: list[int] = []
        self.shared: list[tuple[int, int]] = []
        self.ledger_plan: list[dict[str, Any]] = []
        self.ledger_removed: list[int] = []
        self.identifiers: list[int] = []
        self.conflicts: list[str] = []
        self.tags: list[str] = []
        self.roles_moved: list[int] = []
        self.roles_ended: list[int] = []
        self.rel_moved: list[tuple[int, str]] = []
        self.rel_kept: list[tuple[int, str]] = []
        self.part_moved: list[int] = []
        self.part_kept: list[int] = []
        self.consent_records = 0
        self.carried: list[int] = []
        self.timeline_events = 0
        self.shared_events: list[int] = []
        self.event_id: int | None = None

    # -- planning ----------------------------------------------------------------------
    def plan_fields(self, s_row: PartyRow, d_row: PartyRow) -> None:
        for name in _NAME_FIELDS:
            mine, theirs = getattr(s_row, name), getattr(d_row, name)
            wanted = mine
            if theirs is not None and (mine is None or self.choice[name] == "duplicate"):
                wanted = theirs
            if wanted != mine:
                self.fields[name] = wanted
        mine_attrs = dict(s_row.attributes or {})
        theirs_attrs = dict(d_row.attributes or {})
        if self.choice["attributes"] == "duplicate":
            merged = {**mine_attrs, **theirs_attrs}
        else:
            merged = {**theirs_attrs, **mine_attrs}
        if merged != mine_attrs:
            self.fields["attributes"] = merged
        self.undo["survivor_before"] = {
            "display_name": s_row.display_name,
            "name_key": s_row.name_key,
            "given_name": s_row.given_name,
            "family_name": s_row.family_name,
            "birth_date": s_row.birth_date,
            "attributes": mine_attrs,
            "version": s_row.version,
            "updated_at": s_row.updated_at,
        }
        self.undo["duplicate_before"] = {"version": d_row.version, "updated_at": d_row.updated_at}

    def plan_contact_points(self) -> None:
        cp = ContactPointRow
        columns = (cp.id, cp.party_id, cp.kind, cp.key, cp.is_primary)
        rows = self.db.execute(
            select(*columns).where(cp.party_id.in_((self.s_id, self.d_id))).order_by(cp.id)
        ).all()
        mine = {(r.kind, r.key): r for r in rows if r.party_id == self.s_id}
        primary_kinds = {r.kind: r.id for r in rows if r.party_id == self.s_id and r.is_primary}
        ledgers, rows_of = self._ledgers()
        removed: list[int] = list(rows_of.get(self.d_id, []))
        for r in rows:
            if r.party_id != self.d_id:
                continue
            theirs = ledgers.get((self.d_id, r.kind, r.key), [[(self.d_id, None)]])
            # each of the duplicate's ledgers goes on counting, plus what the survivor
            # records from now on
            groups = [[*group, (self.s_id, self.now)] for group in theirs]
            same = mine.get((r.kind, r.key))
            held = ledgers.get((self.s_id, r.kind, r.key))
            if same is not None:
                self.shared.append((r.id, same.id))
                # the survivor's point keeps its own ledger(s) too: both must allow
                if held is None:
                    groups = [[(self.s_id, None)], *groups]
                else:
                    removed += rows_of[(self.s_id, r.kind, r.key)]
                    groups = [*held, *groups]
            else:
                self.moved_points.append(r.id)
                if held is not None:  # left by a point the survivor no longer has
                    removed += rows_of[(self.s_id, r.kind, r.key)]
                if r.is_primary and r.kind in primary_kinds:
                    if self.choice["primary"] == "survivor":
                        self.primary_cleared.append(r.id)
                    else:
                        self.primary_cleared.append(primary_kinds[r.kind])
            for grp, group in enumerate(groups):
                for owner, since in group:
                    self.ledger_plan.append(
                        {
                            "party_id": self.s_id,
                            "contact_kind": r.kind,
                            "contact_key": r.key,
                            "grp": grp,
                            "ledger_party_id": owner,
                            "since": since,
                        }
                    )
        # rows replaced by the ones above (and the duplicate's, which it no longer needs):
        # removed now, put back on unmerge
        self.ledger_removed = sorted(set(removed))

    def _ledgers(
        self,
    ) -> tuple[
        dict[tuple[int, str, str], list[list[tuple[int, dt.datetime | None]]]],
        dict[Any, list[int]],
    ]:
        """The two parties' ledger groups by (holder, kind, key), and their row ids by the
        same key and by holder."""
        L = ConsentLedgerRow
        rows = self.db.execute(
            select(
                L.id, L.party_id, L.contact_kind, L.contact_key, L.grp, L.ledger_party_id, L.since
            )
            .where(L.party_id.in_((self.s_id, self.d_id)))
            .order_by(L.grp, L.id)
        ).all()
        groups: dict[tuple[int, str, str], dict[int, list[tuple[int, dt.datetime | None]]]] = {}
        ids: dict[Any, list[int]] = {}
        for r in rows:
            point = (r.party_id, r.contact_kind, r.contact_key)
            groups.setdefault(point, {}).setdefault(r.grp, []).append((r.ledger_party_id, r.since))
            ids.setdefault(point, []).append(r.id)
            ids.setdefault(r.party_id, []).append(r.id)
        return {k: list(v.values()) for k, v in groups.items()}, ids

    def plan_roles(self) -> None:
        rows = self.db.execute(
            select(RoleRow.id, RoleRow.party_id, RoleRow.type, RoleRow.ended_at).where(
                RoleRow.party_id.in_((self.s_id, self.d_id))
            )
        ).all()
        current = {r.type: r.id for r in rows if r.party_id == self.s_id and r.ended_at is None}
        for r in sorted(rows, key=lambda r: r.id):
            if r.party_id != self.d_id:
                continue
            self.roles_moved.append(r.id)
            if r.ended_at is None and r.type in current:
                loser = r.id if self.choice["roles"] == "survivor" else current[r.type]
                self.roles_ended.append(loser)

    def move_relationships(self) -> None:
        """Move the duplicate's relationships one at a time, each checked against what the
        survivor holds by then (duplicates, caps), or keep it with the reason."""
        rel = RelationshipRow
        rows = self.db.execute(
            select(rel).where(or_(rel.from_party_id == self.d_id, rel.to_party_id == self.d_id))
        ).scalars()
        for r in sorted(rows, key=lambda r: r.id):
            end = "from" if r.from_party_id == self.d_id else "to"
            other = r.to_party_id if end == "from" else r.from_party_id
            if other == self.s_id:
                self.rel_kept.append((r.id, "it links the two parties merged"))
                continue
            rel_type = self.ctx.registry.relationship_types.get(r.type)
            source, target = (self.s_id, other) if end == "from" else (other, self.s_id)
            if rel_type is not None:
                try:
                    self.relationships.check_duplicates_and_caps(
                        rel_type, source, target, r.valid_from, r.valid_to, moving=r.id
                    )
                except Conflict as exc:
                    self.rel_kept.append((r.id, str(exc)))
                    continue
            self.rel_moved.append((r.id, end))
            column = RelationshipRow.from_party_id if end == "from" else RelationshipRow.to_party_id
            _move(RelationshipRow.id, column, [r.id], self.s_id, self.db)

    def plan_participations(self) -> None:
        P = ParticipantRow
        theirs = self.db.execute(
            select(P.id, P.interaction_id, P.role).where(P.party_id == self.d_id).order_by(P.id)
        ).all()
        mine = set(
            self.db.execute(select(P.interaction_id, P.role).where(P.party_id == self.s_id)).all()
        )
        for r in theirs:
            if (r.interaction_id, r.role) in mine:
                self.part_kept.append(r.id)
            else:
                self.part_moved.append(r.id)

    def plan_rest(self) -> None:
        self.identifiers = list(
            self.db.scalars(
                select(IdentifierRow.id)
                .where(IdentifierRow.party_id == self.d_id)
                .order_by(IdentifierRow.id)
            )
        )
        tag = PartyTagRow
        theirs = set(self.db.scalars(select(tag.tag).where(tag.party_id == self.d_id)))
        mine = set(self.db.scalars(select(tag.tag).where(tag.party_id == self.s_id)))
        self.tags = sorted(theirs - mine)
        self.consent_records = (
            self.db.scalar(
                select(func.count())
                .select_from(ConsentRecordRow)
                .where(ConsentRecordRow.party_id == self.d_id)
            )
            or 0
        )
        J = JournalPartyRow
        theirs_events = select(J.event_id).where(J.party_id == self.d_id)
        self.shared_events = list(
            self.db.scalars(
                select(J.event_id)
                .where(J.party_id == self.s_id, J.event_id.in_(theirs_events))
                .order_by(J.event_id)
            )
        )
        total = self.db.scalar(select(func.count()).where(J.party_id == self.d_id)) or 0
        self.timeline_events = total - len(self.shared_events)

    # -- applying ----------------------------------------------------------------------
    def apply(self) -> None:
        db, s_id, d_id, now = self.db, self.s_id, self.d_id, self.now
        cp = ContactPointRow
        if self.primary_cleared:
            db.execute(update(cp).where(cp.id.in_(self.primary_cleared)).values(is_primary=False))
        if self.moved_points:
            db.execute(update(cp).where(cp.id.in_(self.moved_points)).values(party_id=s_id))
        L = ConsentLedgerRow
        removed = [
            dict(r._mapping)
            for r in db.execute(select(L.__table__).where(L.id.in_(self.ledger_removed)))
        ]
        if self.ledger_removed:
            db.execute(delete(L).where(L.id.in_(self.ledger_removed)))
        inserted = self.ctx.insert_many(ConsentLedgerRow, [dict(r) for r in self.ledger_plan])
        self._carry_refusals()
        self._fold_shared_points()
        _move(IdentifierRow.id, IdentifierRow.party_id, self.identifiers, s_id, db)
        if self.tags:
            db.execute(insert(PartyTagRow), [{"party_id": s_id, "tag": t} for t in self.tags])
        self.undo["preferences"] = carry_preferences(db, s_id, d_id, now)
        self.undo["activities"] = carry_activities(db, s_id, d_id)
        ended = db.execute(
            select(RoleRow.id, RoleRow.ended_at, RoleRow.version).where(
                RoleRow.id.in_(self.roles_ended)
            )
        ).all()
        if self.roles_ended:
            db.execute(
                update(RoleRow)
                .where(RoleRow.id.in_(self.roles_ended))
                .values(ended_at=now, version=RoleRow.version + 1)
            )
        # after the ending: a party holds a role type at most once at a time
        _move(RoleRow.id, RoleRow.party_id, self.roles_moved, s_id, db)
        _move(ParticipantRow.id, ParticipantRow.party_id, self.part_moved, s_id, db)
        J = JournalPartyRow
        db.execute(
            insert(J).from_select(
                ["party_id", "event_id", "occurred_at"],
                select(literal(s_id, J.party_id.type), J.event_id, J.occurred_at).where(
                    J.party_id == d_id, J.event_id.not_in(self.shared_events)
                ),
            )
        )
        values: dict[str, Any] = dict(self.fields)
        if "display_name" in values:
            values["name_key"] = text_key(values["display_name"])
        db.execute(
            update(PartyRow)
            .where(PartyRow.id == s_id)
            .values(**values, updated_at=now, version=PartyRow.version + 1)
        )
        db.execute(
            update(PartyRow)
            .where(PartyRow.id == d_id)
            .values(merged_into_id=s_id, updated_at=now, version=PartyRow.version + 1)
        )
        self.undo.update(
            {
                "survivor_version": self.undo["survivor_before"]["version"] + 1,
                "contact_points": self.moved_points,
                "primary_cleared": self.primary_cleared,
                "ledger_inserted": inserted,
                "ledger_removed": removed,
                "identifiers": self.identifiers,
                "tags": self.tags,
                "roles": self.roles_moved,
                "roles_ended": [[r.id, r.ended_at, r.version] for r in ended],
                "relationships": [[i, e] for i, e in self.rel_moved],
                "participations": self.part_moved,
                "shared_events": self.shared_events,
            }
        )
        self.undo = jsonable(self.undo)

    def _carry_refusals(self) -> None:
        """One person said no: every refusal, withdrawal or objection either party holds
        for a whole channel or for all channels is recorded again on the survivor, as of
        the merge, keeping its effective time. It then counts for the survivor's own
        points, for the points the duplicate brings (they count the survivor's records from
        the merge on) and for points of earlier merges. Grants are never carried: the
        survivor's "all channels" grant does not reach the duplicate's addresses, nor the
        other way round. The copies come after every record either party holds, in the
        order of the originals: where a copy meets its own original, it can only win a
        tie of one instant against a grant, making that point less contactable, never
        more."""
        R = ConsentRecordRow
        rows = self.db.execute(
            select(R.__table__)
            .where(
                R.party_id.in_((self.s_id, self.d_id)),
                R.scope.in_(("all", "channel")),
                R.decision.in_(sorted(NEGATIVE)),
            )
            .order_by(R.id)
        ).all()
        carried = []
        for row in rows:
            copy = dict(row._mapping)
            origin = copy.pop("id")
            note = (
                f"carried by the merge of party {self.d_id} into party {self.s_id} "
                f"from consent record {origin} of party {copy['party_id']}"
            )
            evidence = copy["evidence"]
            copy.update(
                party_id=self.s_id,
                recorded_at=self.now,
                recorded_by=self.ctx.actor,
                evidence=f"{note}; {evidence}" if evidence else note,
            )
            carried.append(copy)
        self.carried = self.ctx.insert_many(ConsentRecordRow, carried)
        self.undo["consent_carried"] = self.carried

    def _fold_shared_points(self) -> None:
        """A point both parties had: what names the duplicate's names the survivor's, and
        the duplicate's is deleted (kept whole in ``undo`` to come back on unmerge)."""
        db = self.db
        table = ContactPointRow.__table__
        deleted = [
            dict(r._mapping)
            for r in db.execute(
                select(table)
                .where(table.c.id.in_([d for d, _ in self.shared]))
                .order_by(table.c.id)
            )
        ]
        repointed: list[list[Any]] = []
        # a point suppressed on either side stays suppressed (never widen)
        suppressed = [r["id"] for r in deleted if r["suppressed"]]
        mine = dict(self.shared)
        newly = list(
            db.scalars(
                select(ContactPointRow.id).where(
                    ContactPointRow.id.in_([mine[d] for d in suppressed]),
                    ContactPointRow.suppressed.is_(False),
                )
            )
        )
        if newly:
            db.execute(
                update(ContactPointRow).where(ContactPointRow.id.in_(newly)).values(suppressed=True)
            )
        self.undo["suppressed"] = newly
        # a survivor's point suppressed now is no longer primary (the next reachable one
        # of its kind takes its place); unmerge puts the flags back
        self.undo["primary_settled"] = _settle_primaries(db, self.s_id) if newly else []
        for d_point, s_point in self.shared:
            for name in ("participant", "consent"):
                model = ParticipantRow if name == "participant" else ConsentRecordRow
                ids = list(db.scalars(select(model.id).where(model.contact_point_id == d_point)))
                if ids:
                    db.execute(
                        update(cast(Table, model.__table__))
                        .where(model.id.in_(ids))
                        .values(contact_point_id=s_point)
                    )
                    repointed += [[name, i, d_point, s_point] for i in ids]
        if deleted:
            db.execute(
                delete(ContactPointRow).where(ContactPointRow.id.in_([r["id"] for r in deleted]))
            )
        self.undo["points_deleted"] = deleted
        self.undo["repointed"] = repointed

    def summary(self) -> dict[str, Any]:
        return {
            "fields": sorted(self.fields),
            "contact_points_moved": len(self.moved_points),
            "contact_points_shared": len(self.shared),
            "identifiers_moved": len(self.identifiers),
            "tags_added": self.tags,
            "roles_moved": len(self.roles_moved),
            "roles_ended": len(self.roles_ended),
            "relationships_moved": len(self.rel_moved),
            "relationships_kept": [[i, why] for i, why in self.rel_kept],
            "participations_moved": len(self.part_moved),
            "participations_kept": len(self.part_kept),
            "consent_records": self.consent_records,
            "consent_carried": len(self.carried),
            "timeline_events": self.timeline_events,
        }

    def result(self, *, dry_run: bool, event_id: int | None) -> MergePlan:
        return MergePlan(
            survivor_id=self.s_id,
            duplicate_id=self.d_id,
            fields=dict(self.fields),
            contact_points_moved=_ids(self.moved_points),
            contact_points_shared=tuple(self.shared),
            identifiers_moved=_ids(self.identifiers),
            tags_added=tuple(self.tags),
            roles_moved=_ids(self.roles_moved),
            roles_ended=_ids(self.roles_ended),
            relationships_moved=_ids(i for i, _ in self.rel_moved),
            relationships_kept=tuple(self.rel_kept),
            participations_moved=_ids(self.part_moved),
            participations_kept=_ids(self.part_kept),
            consent_records=self.consent_records,
            consent_carried=_ids(self.carried),
            timeline_events=self.timeline_events,
            dry_run=dry_run,
            event_id=event_id,
            conflicts=tuple(self.conflicts),
        )


#: below this token-set similarity (0-100) of their names, two organisations are taken for
#: two ("ACME" / "ACME SAS" agree; "ACME" / "Globex" do not)
_ORGANISATION_NAMES_AGREE = 60.0


def _conflicts(db: Session, s_row: PartyRow, d_row: PartyRow) -> list[str]:
    """What says the two are different parties: one identifier scheme with two values,
    or two organisations whose names clearly differ."""
    found: list[str] = []
    held: dict[int, dict[str, set[str]]] = {s_row.id: {}, d_row.id: {}}
    for party_id, scheme, value in db.execute(
        select(IdentifierRow.party_id, IdentifierRow.scheme, IdentifierRow.value)
        .where(IdentifierRow.party_id.in_([s_row.id, d_row.id]))
        .order_by(IdentifierRow.id)
    ):
        held[party_id].setdefault(scheme, set()).add(value)
    mine, theirs = held[s_row.id], held[d_row.id]
    for scheme in sorted(mine.keys() & theirs.keys()):
        if not mine[scheme] & theirs[scheme]:
            found.append(
                f"two {scheme} identifiers ({', '.join(sorted(mine[scheme]))} and "
                f"{', '.join(sorted(theirs[scheme]))})"
            )
    if s_row.kind == d_row.kind == "organization":
        similarity = fuzz.token_set_ratio(
            text_key(s_row.display_name or ""), text_key(d_row.display_name or "")
        )
        if similarity < _ORGANISATION_NAMES_AGREE:
            found.append(
                f"organisations of different names ({s_row.display_name!r} and "
                f"{d_row.display_name!r})"
            )
    return found
