"""Parties: people, organisations, households, with their names, contact points,
identifiers and tags.
"""

from __future__ import annotations

import builtins
import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import (
    and_,
    exists,
    func,
    select,
)
from sqlalchemy.orm import selectinload

from xrm.core._args import checked_methods
from xrm.core._fields import (
    NormalizedPoint,
    _clean_name,
    _clean_tags,
    address_region,
    match_keys,
    normalize_contact_point,
    settle_primaries,
    stored_region,
    unique_points,
)
from xrm.core._lean import (
    _KEY_KINDS,
    _P,
    _PARTS_BY_ID,
    _PARTS_IN,
    Prepared,
    _check_limit,
    _held_by,
    _pending,
    _read_parts,
)
from xrm.core.access import READ, WRITE
from xrm.core.events import (
    ContactPointAdded,
    ContactPointPrimary,
    ContactPointRemoved,
    IdentifierAdded,
    PartyCreated,
    PartyTagged,
    PartyUntagged,
    PartyUpdated,
)
from xrm.core.inputs import AnyContactPoint, ImportedParty, Outcome
from xrm.core.models import (
    ContactPointRow,
    IdentifierRow,
    PartyRow,
    PartyTagRow,
    RoleRow,
    utcnow,
)
from xrm.core.normalize import (
    email_key,
    identifier_value,
    phone_key,
    text_key,
)
from xrm.core.predicates import role_current, unmerged_party
from xrm.core.records import ContactPoint, ImportResult, Page, Party
from xrm.core.segments.service import Target
from xrm.core.uow import (
    PartyRef,
    UnitOfWork,
    decode_cursor,
    encode_cursor,
    jsonable,
    ref_id,
    validate_model,
)
from xrm.errors import Conflict, FieldError, NotFound, ValidationError

__all__ = ["Importer", "PartyService", "Suppressions"]


class Suppressions(Protocol):
    """The suppression list (GDPR's, given by the unit of work's wiring)."""

    def blocked(self, points: Iterable[Any]) -> set[tuple[str, str]]:
        """The ``(kind, key)`` of the ``points`` whose address an erasure suppressed."""


class Importer(Protocol):
    """The import service (``s.imports``), which ``import_many`` hands its records to."""

    def import_many(
        self, records: Iterable[ImportedParty | Mapping[str, Any]], *, first_line: int = 1
    ) -> list[ImportResult]:
        """Create or complete many parties at once."""

    def import_one(self, record: ImportedParty | Mapping[str, Any]) -> tuple[Outcome, int]:
        """Create the party, or complete the one known by one of its keys."""


#: the statements finding the holders of match keys, one per set of key kinds
_HOLDERS: dict[tuple[str, ...], Prepared] = {}

_UNSET: Any = object()
_PARTY_LOAD = (
    selectinload(PartyRow.contact_points),
    selectinload(PartyRow.identifiers),
    selectinload(PartyRow.tags),
)


def _by_id(point: ContactPointRow) -> int:
    return point.id


_IF_EXISTS = ("create", "error", "return")

#: a name search looks for at most this many words (each must appear in the name)
MAX_SEARCH_WORDS = 10


def _search_words(name: str) -> list[str]:
    """The distinct words of a name search, compared as names are (case and accents
    folded); a search of punctuation only, or of too many words, is refused rather than
    matching every party or building a statement the database cannot run."""
    words = list(dict.fromkeys(text_key(name).split()))
    if not words:
        raise ValidationError.single("name", "has no letter or digit to search for")
    if len(words) > MAX_SEARCH_WORDS:
        raise ValidationError.single(
            "name", f"has {len(words)} words; search with at most {MAX_SEARCH_WORDS}"
        )
    return words


def _id_cursor(after: str) -> int:
    parts = decode_cursor(after)
    if len(parts) != 1 or isinstance(parts[0], bool) or not isinstance(parts[0], int):
        raise ValidationError.single("after", "is not a cursor returned by a previous page")
    return parts[0]


@checked_methods(
    "parties",
    {
        "create": WRITE,
        "get": READ,
        "list": READ,
        "find": READ,
        "find_ids": READ,
        "holders": READ,
        "count": READ,
        "resolve_or_create": WRITE,
        "import_many": WRITE,
        "update": WRITE,
        "add_contact_point": WRITE,
        "remove_contact_point": WRITE,
        "set_primary": WRITE,
        "add_identifier": WRITE,
        "tag": WRITE,
        "untag": WRITE,
    },
)
class PartyService:
    """``s.parties``: create, read, change and find parties."""

    def __init__(
        self,
        uow: UnitOfWork,
        *,
        suppressions: Suppressions,
        importer: Callable[[], Importer],
        segments: Callable[[], Any] | None = None,
    ) -> None:
        self._ctx = uow
        self._suppressions = suppressions
        self._importer = importer
        self._segments = segments

    # -- creating ----------------------------------------------------------------------
    def create(
        self,
        kind: str,
        display_name: str | None = None,
        *,
        given_name: str | None = None,
        family_name: str | None = None,
        birth_date: dt.date | None = None,
        attributes: Mapping[str, Any] | None = None,
        contact_points: Sequence[AnyContactPoint | Mapping[str, Any]] = (),
        identifiers: Mapping[str, str] | Sequence[tuple[str, str]] = (),
        tags: Iterable[str] = (),
        if_exists: str = "create",
    ) -> Party:
        """Create a party and return it.

        ``kind`` is ``person``, ``organization``, ``household`` or a plugin's kind. A person
        may give ``given_name`` / ``family_name`` instead of a display name. Contact points
        are validated and normalised (see :mod:`xrm.core.normalize`); the first point of
        each kind is primary unless another says ``primary=True``. ``identifiers`` maps a
        scheme to a value (``{"fr.siren": "732 829 320"}``).

        ``if_exists`` says what to do when a known party already holds one of the emails,
        phones or identifiers given: ``"create"`` (the default) creates the new party all
        the same (two people may share a family mailbox; an identifier held by another
        party is still a ``Conflict``); ``"error"`` raises ``Conflict`` naming the holder;
        ``"return"`` returns the holder unchanged (a ``Conflict`` when the keys lead to
        several parties). :meth:`resolve_or_create` also completes the party it finds.
        """
        if if_exists not in _IF_EXISTS:
            raise ValidationError.single("if_exists", f"must be one of {', '.join(_IF_EXISTS)}")
        ctx = self._ctx
        errors: builtins.list[FieldError] = []
        if kind not in ctx.registry.party_kinds:
            known = ", ".join(sorted(ctx.registry.party_kinds))
            raise ValidationError.single("kind", f"unknown party kind {kind!r} ({known})")
        given = _clean_name(given_name, "given_name", required=False)
        family = _clean_name(family_name, "family_name", required=False)
        if display_name is None and (given or family):
            display_name = " ".join(p for p in (given, family) if p)
        try:
            name = _clean_name(display_name, "display_name", required=True)
        except ValidationError as exc:
            errors.extend(exc.errors)
            name = None
        attrs_ = self._check_attributes(kind, attributes, errors)
        points = self._normalize_points(contact_points, "contact_points", errors)
        idents = self._normalize_identifiers(identifiers, errors)
        try:
            tag_list = _clean_tags(tags)
        except ValidationError as exc:
            errors.extend(exc.errors)
        if birth_date is not None and not isinstance(birth_date, dt.date):
            errors.append(FieldError("birth_date", "must be a date"))
        if errors:
            raise ValidationError(errors)
        assert name is not None
        with ctx.atomic():
            if if_exists != "create":
                ctx.lock_match_keys(match_keys(points, idents))
                holders = self._holders_of(points, idents)
                if holders and if_exists == "error":
                    raise Conflict(
                        f"party {holders[0]} already holds one of these emails, phones or "
                        "identifiers (if_exists='return' gives it back)",
                        field="contact_points",
                    )
                if len(holders) > 1:
                    raise Conflict(
                        f"the keys given lead to several parties ({', '.join(map(str, holders))})"
                        ": merge them first",
                        field="contact_points",
                    )
                if holders:
                    return self.get(holders[0])
            self._refuse_taken_identifiers(idents, None)
            now = utcnow()
            row = PartyRow(
                kind=kind,
                display_name=name,
                name_key=text_key(name),
                given_name=given,
                family_name=family,
                birth_date=birth_date,
                attributes=attrs_,
                created_at=now,
                updated_at=now,
            )
            row.tags = [PartyTagRow(tag=t) for t in tag_list]
            row.identifiers = [IdentifierRow(scheme=s, value=v) for s, v in idents]
            row.contact_points = []
            self._attach_points(row, points, now)
            ctx.db.add(row)
            ctx.db.flush()
            party = Party.of(row)
            ctx.notify("xrm_validate_party", party=party, action="create")
            ctx.record(PartyCreated.of(party))
            ctx.notify("xrm_party_created", party=party)
        return party

    # -- reading -----------------------------------------------------------------------
    def get(self, party: PartyRef, *, follow_merges: bool = True) -> Party:
        """The party with this id; a merged party resolves to the one it was merged into."""
        ident = ref_id(party)
        db = self._ctx.db
        if _pending(db):
            return self._get_orm(ident, follow_merges)
        conn = db.connection()
        parts = _read_parts(conn, _PARTS_BY_ID, {"id": ident}).get(ident)
        seen = {ident}
        while parts is not None and follow_merges and parts.merged_into is not None:
            target = parts.merged_into
            if target in seen:  # pragma: no cover - merge refuses cycles
                break
            seen.add(target)
            parts = _read_parts(conn, _PARTS_BY_ID, {"id": target}).get(target)
        if parts is None:
            raise NotFound("party", ident)
        return parts.record()

    def _get_orm(self, ident: int, follow_merges: bool) -> Party:
        """:meth:`get` through the ORM: what it reads while changes wait to be flushed."""
        row = self._ctx.db.get(PartyRow, ident, options=_PARTY_LOAD)
        seen = {ident}
        while row is not None and follow_merges and row.merged_into_id is not None:
            if row.merged_into_id in seen:  # pragma: no cover - merge refuses cycles
                break
            seen.add(row.merged_into_id)
            row = self._ctx.db.get(PartyRow, row.merged_into_id, options=_PARTY_LOAD)
        if row is None:
            raise NotFound("party", ident)
        return Party.of(row)

    def _records(self, ids: builtins.list[int]) -> builtins.list[Party]:
        """The parties with these ids, in this order (merges not followed)."""
        if not ids:
            return []
        db = self._ctx.db
        if _pending(db):
            rows = db.scalars(select(PartyRow).where(PartyRow.id.in_(ids)).options(*_PARTY_LOAD))
            by_id = {r.id: Party.of(r) for r in rows}
            return [by_id[i] for i in ids if i in by_id]
        found = _read_parts(db.connection(), _PARTS_IN, {"ids": ids})
        return [found[i].record() for i in ids if i in found]

    def list(
        self,
        *,
        kind: str | None = None,
        tag: str | None = None,
        role: str | None = None,
        role_state: str | None = None,
        name: str | None = None,
        segment: Target | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> Page[Party]:
        """Parties in id order, filtered; ``name`` matches words of the display name
        whatever their case and accents; ``role`` keeps holders of a current role;
        ``segment`` keeps the members of a segment (a saved one's name or a criterion, see
        ``s.segments``), which never holds an erased party."""
        _check_limit(limit)
        query = select(PartyRow.id).where(unmerged_party())
        if segment is not None:
            query = query.where(PartyRow.id.in_(self._segment(segment)))
        if kind is not None:
            query = query.where(PartyRow.kind == kind)
        if tag is not None:
            query = query.where(
                exists().where(
                    and_(PartyTagRow.party_id == PartyRow.id, PartyTagRow.tag == tag.casefold())
                )
            )
        if role is not None or role_state is not None:
            conds = [RoleRow.party_id == PartyRow.id, role_current(self._ctx.now())]
            if role is not None:
                conds.append(RoleRow.type == role)
            if role_state is not None:
                conds.append(RoleRow.state == role_state)
            query = query.where(exists().where(and_(*conds)))
        if name is not None:
            for word in _search_words(name):
                query = query.where(PartyRow.name_key.contains(word, autoescape=True))
        if after is not None:
            query = query.where(PartyRow.id > _id_cursor(after))
        ids = builtins.list(self._ctx.db.scalars(query.order_by(PartyRow.id).limit(limit + 1)))
        more = len(ids) > limit
        items = tuple(self._records(ids[:limit]))
        return Page(items, encode_cursor(items[-1].id) if more and items else None)

    def find(
        self,
        *,
        email: str | None = None,
        phone: str | None = None,
        region: str | None = None,
        identifier: tuple[str, str] | None = None,
    ) -> builtins.list[Party]:
        """Parties holding this email, phone or identifier, compared by match key: an
        upper-cased email or a phone written the national way finds the same party."""
        ids = self.find_ids(email=email, phone=phone, region=region, identifier=identifier)
        return self._records(ids)

    def find_ids(
        self,
        *,
        email: str | None = None,
        phone: str | None = None,
        region: str | None = None,
        identifier: tuple[str, str] | None = None,
    ) -> builtins.list[int]:
        """Like :meth:`find`, the ids only (one index look-up, no party loaded)."""
        return [ident for ident, _ in self.holders(email, phone, region, identifier)]

    def holders(
        self,
        email: str | None,
        phone: str | None,
        region: str | None,
        identifier: tuple[str, str] | None,
    ) -> builtins.list[tuple[int, int | None]]:
        """:meth:`find_ids` with the party each holder was merged into, if any."""
        kinds, params = self._match_keys(email, phone, region, identifier)
        query = _HOLDERS.get(kinds)
        if query is None:
            query = _HOLDERS[kinds] = Prepared(
                select(_P.id, _P.merged_into_id).where(_held_by(_P.id, kinds)).order_by(_P.id)
            )
        return [(r[0], r[1]) for r in query.rows(self._ctx.db.connection(), params)]

    def _match_keys(
        self,
        email: str | None,
        phone: str | None,
        region: str | None,
        identifier: tuple[str, str] | None,
    ) -> tuple[tuple[str, ...], dict[str, str]]:
        """The match keys to look up (kinds among email, phone, identifier) and their
        values; invalid values raise :class:`ValidationError`."""
        params: dict[str, str] = {}
        try:
            if email is not None:
                params["email"] = email_key(email, self._ctx.settings.email_rules)
            if phone is not None:
                params["phone"] = phone_key(phone, region or self._ctx.settings.default_region)
        except ValueError as exc:
            field = "email" if email is not None else "phone"
            raise ValidationError.single(field, str(exc)) from None
        if identifier is not None:
            scheme, value = identifier
            params["identifier"] = self._identifier(scheme, value, "identifier")
            params["scheme"] = scheme
        if not params:
            raise ValidationError.single("", "give an email, a phone or an identifier to find")
        return tuple(k for k in _KEY_KINDS if k in params), params

    def count(self, *, kind: str | None = None, segment: Target | None = None) -> int:
        """How many parties there are (merged ones aside), of ``kind``, members of
        ``segment`` (a saved segment's name or a criterion), each when given."""
        query = select(func.count()).select_from(PartyRow).where(unmerged_party())
        if kind is not None:
            query = query.where(PartyRow.kind == kind)
        if segment is not None:
            query = query.where(PartyRow.id.in_(self._segment(segment)))
        return int(self._ctx.db.scalar(query) or 0)

    def _segment(self, segment: Target) -> Any:
        if self._segments is None:  # pragma: no cover - a Session always wires it
            raise ValidationError.single("segment", "segments are not available here")
        return self._segments()._members_query(segment, None, "segment")

    def resolve_or_create(self, record: ImportedParty | Mapping[str, Any]) -> tuple[Party, Outcome]:
        """What ``xrm import`` does for one party: the party known by one of the record's
        emails, phones or identifiers, completed with what it lacks (contact points,
        identifiers, tags, roles, consents), or a new one. ``record`` has the fields of an
        import row (:class:`~xrm.ImportedParty`). Recognition locks the keys, so two units
        of work resolving one person at once create it once. Returns the party and
        ``"created"``, ``"updated"`` or ``"unchanged"``."""
        outcome, party_id = self._importer().import_one(record)
        return self.get(party_id), outcome

    def _holders_of(
        self, points: Sequence[NormalizedPoint], idents: Sequence[tuple[str, str]]
    ) -> builtins.list[int]:
        found: set[int] = set()
        for point in points:
            if point.kind == "email":
                found.update(self.find_ids(email=point.key))
            elif point.kind == "phone":
                found.update(self.find_ids(phone=point.key))
        for scheme, value in idents:
            found.update(self.find_ids(identifier=(scheme, value)))
        return sorted(found)

    # -- importing ---------------------------------------------------------------------
    def import_many(
        self, records: Iterable[ImportedParty | Mapping[str, Any]], *, first_line: int = 1
    ) -> builtins.list[ImportResult]:
        """The bulk import: the same as ``s.imports.import_many`` (see there)."""
        return self._importer().import_many(records, first_line=first_line)

    # -- changing ----------------------------------------------------------------------
    def update(
        self,
        party: PartyRef,
        *,
        version: int | None = None,
        display_name: str | None = _UNSET,
        given_name: str | None = _UNSET,
        family_name: str | None = _UNSET,
        birth_date: dt.date | None = _UNSET,
        attributes: Mapping[str, Any] | None = _UNSET,
    ) -> Party:
        """Change names, birth date or attributes. Pass the ``version`` you read: if the
        party changed since, :class:`~xrm.errors.Conflict` is raised and nothing is written.
        A :class:`~xrm.Party` record passed as ``party`` carries its version."""
        ctx = self._ctx
        if version is None and not isinstance(party, int):
            version = getattr(party, "version", None)
        with ctx.atomic():
            row = self._locked(party, version)
            changes: dict[str, Any] = {}
            errors: builtins.list[FieldError] = []
            for field, value in (("given_name", given_name), ("family_name", family_name)):
                if value is not _UNSET:
                    try:
                        changes[field] = _clean_name(value, field, required=False)
                    except ValidationError as exc:
                        errors.extend(exc.errors)
            if display_name is not _UNSET:
                try:
                    changes["display_name"] = _clean_name(
                        display_name, "display_name", required=True
                    )
                except ValidationError as exc:
                    errors.extend(exc.errors)
            if birth_date is not _UNSET:
                if birth_date is not None and not isinstance(birth_date, dt.date):
                    errors.append(FieldError("birth_date", "must be a date"))
                changes["birth_date"] = birth_date
            if attributes is not _UNSET:
                changes["attributes"] = self._check_attributes(row.kind, attributes, errors)
            if errors:
                raise ValidationError(errors)
            before = {k: getattr(row, k) for k in changes}
            changed = {k: v for k, v in changes.items() if before[k] != v}
            if not changed:
                return Party.of(row)
            for key, value in changed.items():
                setattr(row, key, value)
            if "display_name" in changed:
                row.name_key = text_key(row.display_name)
            row.updated_at = utcnow()
            ctx.db.flush()
            party_rec = Party.of(row)
            ctx.notify("xrm_validate_party", party=party_rec, action="update")
            ctx.record(
                PartyUpdated(
                    entity_id=row.id,
                    parties=(row.id,),
                    changes={
                        k: {"from": jsonable(before[k]), "to": jsonable(v)}
                        for k, v in changed.items()
                    },
                )
            )
            return party_rec

    def add_contact_point(
        self, party: PartyRef, point: AnyContactPoint | Mapping[str, Any]
    ) -> ContactPoint:
        """Add a contact point to the party; an equal one (same key) is a Conflict. A local
        phone number is read in the country of the party's postal address, if it has one."""
        ctx = self._ctx
        with ctx.atomic():
            row = ctx.lock_party(party)
            normalized = normalize_contact_point(
                ctx, point, "contact_point", stored_region(ctx, row.id)
            )
            if any(
                c.kind == normalized.kind and c.key == normalized.key for c in row.contact_points
            ):
                raise Conflict(
                    f"the party already has the {normalized.kind} {normalized.value!r}",
                    field="contact_point",
                )
            now = utcnow()
            created = self._attach_points(row, [normalized], now)[0]
            row.updated_at = now
            ctx.db.flush()
            ctx.record(
                ContactPointAdded(
                    entity_id=created.id,
                    parties=(row.id,),
                    kind=created.kind,
                    value=created.value,
                    primary=created.is_primary,
                )
            )
            ctx.notify("xrm_validate_party", party=Party.of(row), action="update")
            return ContactPoint.of(created)

    def remove_contact_point(self, party: PartyRef, contact_point: int | ContactPoint) -> None:
        """Remove a contact point (a new primary of its kind is chosen if needed)."""
        ctx = self._ctx
        point_id = ref_id(contact_point, "contact_point")
        with ctx.atomic():
            row = ctx.lock_party(party)
            point = next((c for c in row.contact_points if c.id == point_id), None)
            if point is None:
                raise NotFound("contact point", point_id)
            row.contact_points.remove(point)
            if point.is_primary:
                ctx.db.flush()
                settle_primaries(ctx.db, sorted(row.contact_points, key=_by_id))
            row.updated_at = utcnow()
            ctx.record(
                ContactPointRemoved(
                    entity_id=point_id, parties=(row.id,), kind=point.kind, value=point.value
                )
            )

    def set_primary(self, party: PartyRef, contact_point: int | ContactPoint) -> ContactPoint:
        """Make this contact point the primary one of its kind."""
        ctx = self._ctx
        point_id = ref_id(contact_point, "contact_point")
        with ctx.atomic():
            row = ctx.lock_party(party)
            point = next((c for c in row.contact_points if c.id == point_id), None)
            if point is None:
                raise NotFound("contact point", point_id)
            if point.suppressed:
                raise ValidationError.single(
                    "contact_point",
                    f"{point.kind} {point_id} is suppressed (bounced, reported or erased): "
                    "nothing is sent to it, so it cannot be primary",
                )
            if not point.is_primary:
                for other in row.contact_points:
                    if other.kind == point.kind and other.is_primary:
                        other.is_primary = False
                ctx.db.flush()
                point.is_primary = True
                row.updated_at = utcnow()
                ctx.record(
                    ContactPointPrimary(
                        entity_id=point.id, parties=(row.id,), kind=point.kind, value=point.value
                    )
                )
            ctx.db.flush()
            return ContactPoint.of(point)

    def add_identifier(self, party: PartyRef, scheme: str, value: str) -> Party:
        """Attach an identifier; a value already held by another party is a Conflict."""
        ctx = self._ctx
        idents = self._normalize_identifiers([(scheme, value)], None)
        with ctx.atomic():
            row = ctx.lock_party(party)
            self._refuse_taken_identifiers(idents, row.id)
            scheme_, canonical = idents[0]
            if any(i.scheme == scheme_ and i.value == canonical for i in row.identifiers):
                return Party.of(row)
            row.identifiers.append(IdentifierRow(scheme=scheme_, value=canonical))
            row.updated_at = utcnow()
            ctx.db.flush()
            ctx.record(
                IdentifierAdded(
                    entity_id=row.id, parties=(row.id,), scheme=scheme_, value=canonical
                )
            )
            return Party.of(row)

    def tag(self, party: PartyRef, *tags: str) -> Party:
        """Add tags (case-folded); tags already held are ignored."""
        return self._retag(party, _clean_tags(tags), add=True)

    def untag(self, party: PartyRef, *tags: str) -> Party:
        """Remove tags; tags not held are ignored."""
        return self._retag(party, _clean_tags(tags), add=False)

    # -- helpers -----------------------------------------------------------------------
    def _retag(self, party: PartyRef, tags: builtins.list[str], *, add: bool) -> Party:
        ctx = self._ctx
        with ctx.atomic():
            row = ctx.lock_party(party)
            held = {t.tag for t in row.tags}
            changed = [t for t in tags if (t not in held) == add]
            if not changed:
                return Party.of(row)
            if add:
                row.tags.extend(PartyTagRow(tag=t) for t in changed)
            else:
                row.tags = [t for t in row.tags if t.tag not in changed]
            row.updated_at = utcnow()
            ctx.db.flush()
            ctx.record(
                (PartyTagged if add else PartyUntagged)(
                    entity_id=row.id, parties=(row.id,), tags=changed
                )
            )
            return Party.of(row)

    def _locked(self, party: PartyRef, version: int | None) -> PartyRow:
        """The party's row, locked for the change and current (``UnitOfWork.lock_party``):
        a version passed is compared with the one stored now, and another writer's change
        made meanwhile is a :class:`Conflict` saying so, never a stale write."""
        row = self._ctx.lock_party(party)
        if version is not None and row.version != version:
            raise Conflict(
                f"party {row.id} changed since it was read (version {version}, now "
                f"{row.version}); read it again and retry",
                field="version",
            )
        return row

    def _check_attributes(
        self, kind: str, attributes: Mapping[str, Any] | None, errors: builtins.list[FieldError]
    ) -> dict[str, Any]:
        if attributes is None:
            return {}
        if not isinstance(attributes, Mapping):
            errors.append(FieldError("attributes", "must be a mapping"))
            return {}
        registered = self._ctx.registry.party_kinds.get(kind)
        if registered is not None and registered.schema is not None:
            try:
                model = validate_model(registered.schema, dict(attributes), "attributes")
            except ValidationError as exc:
                errors.extend(exc.errors)
                return {}
            return dict(model.model_dump(mode="json"))
        result = jsonable(dict(attributes))
        assert isinstance(result, dict)
        return result

    def _normalize_points(
        self, points: Sequence[Any], path: str, errors: builtins.list[FieldError]
    ) -> builtins.list[Any]:
        if isinstance(points, str | bytes | Mapping):
            errors.append(FieldError(path, "must be a list of contact points"))
            return []
        normalized: builtins.list[Any] = []
        region = address_region(points)
        for i, raw in enumerate(points):
            try:
                normalized.append(normalize_contact_point(self._ctx, raw, f"{path}.{i}", region))
            except ValidationError as exc:
                errors.extend(exc.errors)
        return unique_points(normalized, path, errors)

    def _attach_points(
        self, row: PartyRow, points: Sequence[NormalizedPoint], now: dt.datetime
    ) -> builtins.list[ContactPointRow]:
        created: builtins.list[ContactPointRow] = []
        older = sorted(row.contact_points, key=_by_id)
        # an erased party's address stays unreachable, whoever gives it again
        blocked = self._suppressions.blocked(points)
        for point in points:
            cp = ContactPointRow(
                kind=point.kind,
                value=point.value,
                key=point.key,
                label=point.label,
                country=point.country,
                data=point.data,
                is_primary=False,
                suppressed=(point.kind, point.key) in blocked,
                valid=point.valid,
                created_at=now,
            )
            row.contact_points.append(cp)
            created.append(cp)
        if created:
            asked = [cp for cp, point in zip(created, points, strict=True) if point.primary]
            settle_primaries(self._ctx.db, older + created, asked)
        return created

    def _identifier(self, scheme: str, value: str, path: str) -> str:
        registered = self._ctx.registry.identifier_schemes.get(scheme)
        try:
            return identifier_value(scheme, value, registered.validate if registered else None)
        except ValueError as exc:
            raise ValidationError.single(path, str(exc)) from None

    def _normalize_identifiers(
        self,
        identifiers: Mapping[str, str] | Sequence[tuple[str, str]],
        errors: builtins.list[FieldError] | None,
    ) -> builtins.list[tuple[str, str]]:
        pairs = list(identifiers.items()) if isinstance(identifiers, Mapping) else identifiers
        result: builtins.list[tuple[str, str]] = []
        collected: builtins.list[FieldError] = []
        for scheme, value in pairs:
            path = f"identifiers.{scheme}"
            if not isinstance(scheme, str) or not re.fullmatch(r"[a-z][a-z0-9_.]{0,59}", scheme):
                collected.append(FieldError(path, "a scheme is lower-case letters, digits, . _"))
                continue
            if not isinstance(value, str):
                collected.append(FieldError(path, "must be text"))
                continue
            try:
                result.append((scheme, self._identifier(scheme, value, path)))
            except ValidationError as exc:
                collected.extend(exc.errors)
        if collected:
            if errors is None:
                raise ValidationError(collected)
            errors.extend(collected)
        return result

    def _refuse_taken_identifiers(
        self, idents: builtins.list[tuple[str, str]], owner: int | None
    ) -> None:
        for scheme, value in idents:
            holder = self._ctx.db.scalar(
                select(IdentifierRow.party_id).where(
                    IdentifierRow.scheme == scheme, IdentifierRow.value == value
                )
            )
            if holder is not None and holder != owner:
                raise Conflict(
                    f"{scheme} {value!r} already belongs to party {holder}",
                    field=f"identifiers.{scheme}",
                )
