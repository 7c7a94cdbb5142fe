"""``s.segments``: saved segments, and counting, previewing and streaming any segment."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
from sqlalchemy import Select, delete, func, insert, literal, select

from xrm.core._args import checked_methods
from xrm.core._lean import _check_limit
from xrm.core.access import READ, TARGET
from xrm.core.events import SegmentChanged, SegmentDefined, SegmentDeleted, SegmentFrozen
from xrm.core.models import PartyRow, SegmentMemberRow, SegmentRow
from xrm.core.predicates import live_party
from xrm.core.records import Party
from xrm.core.segments.criteria import (
    BUILTIN_CRITERIA,
    Context,
    Criterion,
    InSegment,
    SavedSegment,
    parse,
    walk,
)
from xrm.core.uow import PartyRef, UnitOfWork, as_utc, ref_id
from xrm.errors import Conflict, NotFound, ValidationError

__all__ = ["Segment", "SegmentService", "Target"]

#: what a segment method reads: a saved segment's name, a criterion, or its JSON form
Target = str | Criterion | Mapping[str, Any]
_UNSET: Any = object()
_NAME_MAX = 100


@attrs.frozen(kw_only=True)
class Segment:
    """A saved segment. ``criterion`` is what it selects; ``frozen_at`` is set on a
    frozen one, whose members are the parties the criterion selected then (``members``
    says how many; ``None`` for a dynamic one, evaluated whenever it is read)."""

    id: int
    name: str
    description: str | None
    criterion: Criterion
    frozen_at: dt.datetime | None
    members: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int

    @property
    def frozen(self) -> bool:
        return self.frozen_at is not None


@checked_methods(
    "segments",
    {
        "criteria": None, "parse": None, "define": TARGET, "update": TARGET, "delete": TARGET,
        "freeze": TARGET,
        "get": None, "list": None, "count": READ, "preview": READ, "stream": READ,
        "contains": READ, "select": READ,
    },
)  # fmt: skip
class SegmentService:
    """``s.segments``: define named segments, freeze one as a dated list, and count,
    preview or stream the parties of a segment — saved (by name) or given as a criterion.

    A segment is one SQL query over the parties: merged and erased parties are never
    members. Evaluation happens at ``at`` (default now): "in the last 30 days", roles
    current, consent given are read at that instant."""

    def __init__(self, uow: UnitOfWork, parties: Any, session: Any = None) -> None:
        self._ctx = uow
        self._parties = parties
        self._session = session

    # -- definitions ---------------------------------------------------------------------
    def criteria(self) -> dict[str, type[Criterion]]:
        """Every criterion a segment may use, by ``type``: the core's, then the plugins'."""
        return {**BUILTIN_CRITERIA, **self._ctx.registry.segment_criteria}

    def parse(self, data: Mapping[str, Any]) -> Criterion:
        """A criterion from its JSON form (``criterion.model_dump(mode="json")``), with the
        criteria the plugins registered; a bad one raises :class:`~xrm.ValidationError`
        naming the field (``of.1.states.0``)."""
        return parse(dict(data), self._known)

    def define(
        self, name: str, criterion: Criterion | Mapping[str, Any], *, description: str | None = None
    ) -> Segment:
        """Save ``criterion`` as the dynamic segment ``name`` (unique). The criterion is
        checked against the registry (known roles, states, purposes...) before anything is
        written."""
        ctx = self._ctx
        name = _name(name)
        found = self._criterion(criterion, "criterion")
        with ctx.atomic():
            self._compile(found, "criterion")
            if ctx.db.scalar(select(SegmentRow.id).where(SegmentRow.name == name)) is not None:
                raise Conflict(f"a segment is already named {name!r}", field="name")
            now = ctx.now()
            definition = found.model_dump(mode="json")
            row = SegmentRow(
                name=name,
                description=_description(description),
                definition=definition,
                created_at=now,
                updated_at=now,
            )
            ctx.db.add(row)
            ctx.db.flush()
            ctx.record(
                SegmentDefined(entity_id=row.id, parties=(), name=name, definition=definition)
            )
            return self._record(row, found)

    def update(
        self,
        name: str,
        *,
        criterion: Criterion | Mapping[str, Any] | None = None,
        description: str | None = _UNSET,
        version: int | None = None,
    ) -> Segment:
        """Change a saved segment's criterion or description. A frozen segment's members
        are fixed: only its description changes. ``version`` (optimistic lock) refuses the
        change with :class:`~xrm.Conflict` if the segment changed since it was read."""
        ctx = self._ctx
        with ctx.atomic():
            row = self._row(name, lock=True)
            if version is not None and version != row.version:
                raise Conflict(f"segment {name!r} changed since version {version}", field="version")
            found = self._parse_row(row)
            if criterion is not None:
                if row.frozen_at is not None:
                    raise Conflict(
                        f"segment {name!r} is frozen: its members are fixed", field="criterion"
                    )
                found = self._criterion(criterion, "criterion")
                self._compile(found, "criterion", seen=(row.name,))
                row.definition = found.model_dump(mode="json")
            if description is not _UNSET:
                row.description = _description(description)
            row.updated_at = ctx.now()
            ctx.db.flush()
            ctx.record(
                SegmentChanged(
                    entity_id=row.id,
                    parties=(),
                    name=row.name,
                    definition=row.definition,
                    description=row.description,
                )
            )
            return self._record(row, found)

    def delete(self, name: str) -> None:
        """Delete a saved segment (a frozen one with its member list). A segment that
        another one refers to (``InSegment``) is refused with :class:`~xrm.Conflict`."""
        ctx = self._ctx
        with ctx.atomic():
            row = self._row(name, lock=True)
            users = [
                other.name
                for other in ctx.db.scalars(select(SegmentRow).where(SegmentRow.id != row.id))
                if any(
                    isinstance(c, InSegment) and c.name == row.name
                    for c in walk(self._parse_row(other))
                )
            ]
            if users:
                raise Conflict(f"segment {name!r} is used by {sorted(users)}", field="name")
            ctx.db.execute(delete(SegmentMemberRow).where(SegmentMemberRow.segment_id == row.id))
            ctx.db.delete(row)
            ctx.db.flush()
            ctx.record(SegmentDeleted(entity_id=row.id, parties=(), name=row.name))

    def freeze(self, name: str, *, as_name: str | None = None) -> Segment:
        """Save the members the segment ``name`` has now as a frozen segment (default
        name: ``"<name> <date>"``), with one ``INSERT ... SELECT``. Its criterion is kept
        to say how it was made; reading it reads the list."""
        ctx = self._ctx
        with ctx.atomic():
            source = self._row(name)
            criterion = self._parse_row(source)
            now = ctx.now()
            new_name = _name(as_name or f"{source.name} {now.date().isoformat()}", "as_name")
            if ctx.db.scalar(select(SegmentRow.id).where(SegmentRow.name == new_name)):
                raise Conflict(f"a segment is already named {new_name!r}", field="as_name")
            members = self.select(InSegment(name=source.name), at=now).subquery()
            row = SegmentRow(
                name=new_name,
                description=source.description,
                definition=source.definition,
                frozen_at=now,
                created_at=now,
                updated_at=now,
            )
            ctx.db.add(row)
            ctx.db.flush()
            ctx.db.execute(
                insert(SegmentMemberRow).from_select(
                    ["segment_id", "party_id"], select(literal(row.id), members.c.id)
                )
            )
            count = self._members(row.id)
            ctx.record(
                SegmentFrozen(
                    entity_id=row.id, parties=(), name=new_name, source=source.name, members=count
                )
            )
            return self._record(row, criterion, members=count)

    def get(self, name: str) -> Segment:
        """The saved segment ``name``; :class:`~xrm.NotFound` if there is none."""
        row = self._row(name)
        return self._record(row, self._parse_row(row))

    def list(self) -> builtins.list[Segment]:
        """Every saved segment, by name."""
        rows = self._ctx.db.scalars(select(SegmentRow).order_by(SegmentRow.name)).all()
        return [self._record(row, self._parse_row(row)) for row in rows]

    # -- reading a segment ---------------------------------------------------------------
    def select(self, target: Target, *, at: dt.datetime | dt.date | None = None) -> Select[Any]:
        """The segment as a query of one column, ``id``, the members' party ids — to
        count, join or ``INSERT ... SELECT`` from in the caller's own SQL."""
        return self._members_query(target, at, "target")

    def count(self, target: Target, *, at: dt.datetime | dt.date | None = None) -> int:
        """How many parties the segment has (at ``at``, default now): one ``COUNT``."""
        query = self.select(target, at=at).subquery()
        return int(self._ctx.db.scalar(select(func.count()).select_from(query)) or 0)

    def preview(
        self, target: Target, *, limit: int = 20, at: dt.datetime | dt.date | None = None
    ) -> builtins.list[Party]:
        """The first ``limit`` members (by id), as parties."""
        _check_limit(limit)
        ids = self._ctx.db.scalars(self.select(target, at=at).order_by(PartyRow.id).limit(limit))
        return [self._parties.get(i) for i in ids.all()]

    def stream(
        self, target: Target, *, at: dt.datetime | dt.date | None = None, batch: int = 1000
    ) -> Iterator[int]:
        """Every member's party id, ascending, read ``batch`` rows at a time from one
        query (a server-side cursor on PostgreSQL): memory stays bounded whatever the
        segment's size."""
        if not 1 <= batch <= 100_000:
            raise ValidationError.single("batch", "must be between 1 and 100000")
        query = self.select(target, at=at).order_by(PartyRow.id)
        db = self._ctx.db

        def rows() -> Iterator[int]:
            result = db.execute(query.execution_options(yield_per=batch))
            for part in result.partitions():
                for (party_id,) in part:
                    yield int(party_id)

        return rows()

    def contains(
        self, target: Target, party: PartyRef, *, at: dt.datetime | dt.date | None = None
    ) -> bool:
        """Whether ``party`` is a member of the segment (at ``at``, default now)."""
        query = self.select(target, at=at).where(PartyRow.id == ref_id(party))
        return self._ctx.db.scalar(query) is not None

    # -- helpers -------------------------------------------------------------------------
    def _members_query(
        self, target: Target, at: dt.datetime | dt.date | None, field: str
    ) -> Select[Any]:
        """:meth:`select` without the access check, errors naming ``field`` (for the
        core's other services: ``s.parties.list(segment=...)``)."""
        criterion = self._criterion(target, field)
        cond = self._compile(criterion, field, at=at)
        return select(PartyRow.id).where(live_party(), cond)

    def _known(self, kind: str) -> type[Criterion] | None:
        return BUILTIN_CRITERIA.get(kind) or self._ctx.registry.segment_criteria.get(kind)

    def _criterion(self, target: Any, field: str) -> Criterion:
        if isinstance(target, str):
            self._row(target, field=field)  # NotFound if there is none
            return InSegment(name=target)
        if isinstance(target, Criterion):
            for c in walk(target):
                if self._known(c.type) is not type(c):
                    raise ValidationError.single(
                        field, f"criterion type {c.type!r} is not registered"
                    )
            return target
        if isinstance(target, Mapping):
            return parse(dict(target), self._known, field)
        raise ValidationError.single(field, "expected a segment name, a criterion or its JSON")

    def _compile(
        self,
        criterion: Criterion,
        field: str,
        *,
        at: dt.datetime | dt.date | None = None,
        seen: tuple[str, ...] = (),
    ) -> Any:
        ctx = self._ctx
        now = as_utc(at, "at") or ctx.now()
        cache: dict[str, SavedSegment] = {}

        def saved(name: str) -> SavedSegment:
            if name not in cache:
                row = self._row(name, field=field)
                crit = None if row.frozen_at is not None else self._parse_row(row)
                cache[name] = SavedSegment(
                    id=row.id, name=row.name, criterion=crit, frozen=row.frozen_at is not None
                )
            return cache[name]

        context = Context(
            now=now,
            historical=at is not None,
            registry=ctx.registry,
            session=self._session,
            path=field,
            saved=saved,
            seen=seen,
        )
        return criterion.where(context, PartyRow.id)

    def _row(self, name: str, *, lock: bool = False, field: str = "name") -> SegmentRow:
        if len(name) > _NAME_MAX:  # no segment has such a name; don't quote it back
            raise ValidationError.single(field, f"at most {_NAME_MAX} characters")
        query = select(SegmentRow).where(SegmentRow.name == name)
        if lock:
            query = query.with_for_update()
        row = self._ctx.db.scalar(query)
        if row is None:
            raise NotFound("segment", name)
        return row

    def _parse_row(self, row: SegmentRow) -> Criterion:
        return parse(dict(row.definition), self._known, "definition")

    def _members(self, segment_id: int) -> int:
        query = select(func.count()).where(SegmentMemberRow.segment_id == segment_id)
        return int(self._ctx.db.scalar(query) or 0)

    def _record(self, row: SegmentRow, criterion: Criterion, members: int | None = None) -> Segment:
        if row.frozen_at is not None and members is None:
            members = self._members(row.id)
        return Segment(
            id=row.id,
            name=row.name,
            description=row.description,
            criterion=criterion,
            frozen_at=row.frozen_at,
            members=members,
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
        )


def _name(value: str, field: str = "name") -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name:
        raise ValidationError.single(field, "must not be empty")
    if len(name) > _NAME_MAX:
        raise ValidationError.single(field, f"at most {_NAME_MAX} characters")
    if "/" in name or any(not c.isprintable() for c in name):
        raise ValidationError.single(field, "no '/' and no control character (names go in URLs)")
    return name


def _description(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    return text or None
