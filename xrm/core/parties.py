"""Parties: people, organisations, households, with their names, contact points,
identifiers and tags.
"""

from __future__ import annotations

import builtins
import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

from pydantic import BaseModel
from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    CompoundSelect,
    Connection,
    Select,
    String,
    Table,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    null,
    select,
    type_coerce,
    union,
    union_all,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import selectinload

from xrm.core.context import (
    Context,
    Event,
    PartyRef,
    decode_cursor,
    encode_cursor,
    jsonable,
    ref_id,
    validate_model,
)
from xrm.core.gdpr import suppressed_keys
from xrm.core.inputs import CONTACT_INPUTS, AnyContactPoint, ContactPointIn, PostalAddress
from xrm.core.models import (
    ContactPointRow,
    IdentifierRow,
    PartyRow,
    PartyTagRow,
    RoleRow,
    utcnow,
)
from xrm.core.normalize import (
    address_key,
    country_code,
    email_key,
    identifier_value,
    phone_key,
    social_key,
    text_key,
    url_key,
)
from xrm.core.records import ContactPoint, Identifier, Page, Party
from xrm.errors import Conflict, FieldError, NotFound, ValidationError

__all__ = [
    "NormalizedPoint",
    "PartyService",
    "normalize_contact_point",
    "primary_contact_point",
    "resolve_contact_point",
]

_TAG = re.compile(r"[\w][\w .:/-]{0,59}")
_UNSET: Any = object()
_PARTY_LOAD = (
    selectinload(PartyRow.contact_points),
    selectinload(PartyRow.identifiers),
    selectinload(PartyRow.tags),
)


# -- lean reads ------------------------------------------------------------------------
# The read paths run statements built once, at import, on the session's connection, and
# build the records from the rows: no ORM entity, no identity map, no loader strategies.
# While the ORM session holds changes not yet flushed they read through the ORM instead,
# which sees them.


class Prepared:
    """A read statement compiled once per dialect and run straight on the DBAPI cursor of
    the session's connection, its parameters and values converted by SQLAlchemy's own
    bind and result processors: what ``Connection.execute`` does, without its per-call
    machinery (execution context, result object), which costs several times the query on
    an indexed look-up. When something watches the statements (``echo``, cursor or
    execute events) or the statement needs per-call rendering, it goes through
    ``Connection.execute``."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Select[Any] | CompoundSelect[Any]) -> None:
        self.statement = statement
        self._compiled: dict[Dialect, Any] = {}

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> builtins.list[Any]:
        """The rows, each a sequence of the statement's columns."""
        dialect = conn.dialect
        prepared = self._compiled.get(dialect)
        if prepared is None:
            if len(self._compiled) >= 8:  # engines come and go (tests): keep the latest
                del self._compiled[next(iter(self._compiled))]
            prepared = self._compiled[dialect] = self._prepare(dialect)
        dispatch = conn.dispatch
        if (
            not prepared
            or conn.engine.echo
            or dispatch.before_cursor_execute
            or dispatch.after_cursor_execute
            or dispatch.before_execute
            or dispatch.after_execute
        ):
            return builtins.list(conn.execute(self.statement, params))
        compiled, sql, binds, results = prepared
        values = compiled.construct_params(params)
        for name, process in binds:
            values[name] = process(values[name])
        args = values if compiled.positiontup is None else [values[n] for n in compiled.positiontup]
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, args)
            rows = cursor.fetchall()
        except dialect.loaded_dbapi.Error as exc:
            error = DBAPIError.instance(sql, args, exc, dialect.loaded_dbapi.Error, dialect=dialect)
            raise error from exc
        finally:
            cursor.close()
        if not results:
            return builtins.list(rows)
        converted = []
        for row in rows:
            row = builtins.list(row)
            for i, process in results:
                value = row[i]
                if value is not None:  # every processor leaves NULL as None
                    row[i] = process(value)
            converted.append(row)
        return converted

    def _prepare(self, dialect: Dialect) -> Any:
        compiled = self.statement.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            return False
        binds = []
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                binds.append((name, process))
        results = []
        for i, column in enumerate(self.statement.selected_columns):
            impl = column.type.dialect_impl(dialect)
            process = impl.result_processor(dialect, None)
            if process is not None:
                results.append((i, _empty_object(process) if isinstance(impl, JSON) else process))
        return compiled, str(compiled), binds, results


def _empty_object(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A JSON column's processor that spares decoding ``{}``, what most rows hold."""

    def decode(value: Any) -> Any:
        return {} if value == "{}" else process(value)

    return decode


_P = cast(Table, PartyRow.__table__).c
_C = cast(Table, ContactPointRow.__table__).c
_I = cast(Table, IdentifierRow.__table__).c
_T = cast(Table, PartyTagRow.__table__).c
_KEY_KINDS = ("email", "phone", "identifier")


def _key_owners(kind: str) -> Select[tuple[int]]:
    """The ids of the parties holding the key given as the ``kind`` parameter."""
    if kind == "identifier":
        owner = cast(Table, IdentifierRow.__table__).alias("k")
        return (
            select(owner.c.party_id)
            .where(owner.c.scheme == bindparam("scheme"), owner.c.value == bindparam("identifier"))
            .correlate(None)
        )
    point = cast(Table, ContactPointRow.__table__).alias("k")
    return (
        select(point.c.party_id)
        .where(point.c.kind == kind, point.c.key == bindparam(kind))
        .correlate(None)
    )


def _held_by(column: ColumnElement[int], kinds: tuple[str, ...]) -> ColumnElement[bool]:
    if len(kinds) == 1:
        return column.in_(_key_owners(kinds[0]))
    # one IN over the union: an OR of INs is a scan of the whole party table on PostgreSQL
    return column.in_(union(*(_key_owners(kind) for kind in kinds)))


def _parts(where: Callable[[ColumnElement[int]], ColumnElement[bool]]) -> CompoundSelect[Any]:
    """Everything the records of the parties that ``where`` keeps hold, in one statement:
    each party's row (part 0), contact points (1), identifiers (2) and tags (3), every row
    carrying its party's id; four index range scans."""
    nothing = null()

    def part(n: int, party_id: Any, *columns: Any) -> Select[Any]:
        cols = [literal_column(str(n)), party_id, *columns]
        cols += [nothing] * (16 - len(cols))
        return select(*(c.label(f"c{i}") for i, c in enumerate(cols))).where(where(party_id))

    return union_all(
        # 2 id, 3 kind, 4 display_name, 5 given_name, 6 family_name, 7 birth_date,
        # 8 attributes, 9 version, 10 merged_into_id, 11 created_at, 12 updated_at,
        # 13-15 typed for the contact points' country, is_primary, suppressed
        part(0, _P.id, _P.id, _P.kind, _P.display_name, _P.given_name, _P.family_name,
             _P.birth_date, _P.attributes, _P.version, _P.merged_into_id, _P.created_at,
             _P.updated_at, type_coerce(nothing, String()), type_coerce(nothing, Boolean()),
             type_coerce(nothing, Boolean())),
        # 2 id, 3 kind, 4 value, 5 key, 6 label, 8 data, 13 country, 14-15
        part(1, _C.party_id, _C.id, _C.kind, _C.value, _C.key, _C.label, nothing, _C.data,
             nothing, nothing, nothing, nothing, _C.country, _C.is_primary, _C.suppressed),
        part(2, _I.party_id, _I.id, _I.scheme, _I.value),
        part(3, _T.party_id, nothing, _T.tag),
    )  # fmt: skip


_PARTS_BY_ID = Prepared(_parts(lambda column: column == bindparam("id")))
_PARTS_IN = Prepared(_parts(lambda column: column.in_(bindparam("ids", expanding=True))))
_HOLDERS: dict[tuple[str, ...], Prepared] = {}


class _Parts:
    """A party's row and the rows of what its record holds, as read by :data:`_parts`."""

    __slots__ = ("identifiers", "points", "row", "tags")

    def __init__(self) -> None:
        self.row: Any = None
        self.points: builtins.list[Any] = []
        self.identifiers: builtins.list[Any] = []
        self.tags: builtins.list[str] = []

    @property
    def merged_into(self) -> int | None:
        return cast("int | None", self.row[10])

    def record(self) -> Party:
        points = sorted(self.points, key=_first)
        identifiers = sorted(self.identifiers, key=_first)
        r = self.row
        return Party.from_row(
            (r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12]),
            [ContactPoint.from_row(c) for c in points],
            [Identifier(i[1], i[2]) for i in identifiers],
            self.tags,
        )


def _first(row: Sequence[Any]) -> Any:
    return row[0]


def _read_parts(conn: Connection, statement: Prepared, params: Any) -> dict[int, _Parts]:
    """The parties read by a :func:`_parts` statement, by id (only those with a row)."""
    found: dict[int, _Parts] = {}
    for r in statement.rows(conn, params):
        parts = found.get(r[1])
        if parts is None:
            parts = found[r[1]] = _Parts()
        n = r[0]
        if n == 0:
            parts.row = r
        elif n == 1:
            parts.points.append((r[2], r[3], r[4], r[5], r[6], r[13], r[8], r[14], r[15]))
        elif n == 2:
            parts.identifiers.append((r[2], r[3], r[4]))
        else:
            parts.tags.append(r[3])
    return {ident: parts for ident, parts in found.items() if parts.row is not None}


def _pending(db: OrmSession) -> bool:
    """Whether the ORM session holds changes it has not flushed (then the ORM reads)."""
    return bool(db.new or db.dirty or db.deleted)


class NormalizedPoint:
    """A contact point after validation: what to store."""

    __slots__ = ("country", "data", "key", "kind", "label", "primary", "value")

    def __init__(
        self,
        kind: str,
        value: str,
        key: str,
        *,
        label: str | None,
        primary: bool,
        country: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        self.kind = kind
        self.value = value
        self.key = key
        self.label = label
        self.primary = primary
        self.country = country
        self.data = dict(data or {})


def _coerce_point(raw: Any, path: str) -> AnyContactPoint:
    if isinstance(raw, ContactPointIn | PostalAddress):
        return raw
    if isinstance(raw, BaseModel):
        raw = raw.model_dump()
    if not isinstance(raw, Mapping):
        raise ValidationError.single(path, "expected a contact point or a mapping with a kind")
    kind = raw.get("kind")
    model = CONTACT_INPUTS.get(kind) if isinstance(kind, str) else None
    return validate_model(model or ContactPointIn, dict(raw), path)  # type: ignore[return-value]


def normalize_contact_point(ctx: Context, raw: Any, path: str) -> NormalizedPoint:
    """Validate one contact point and compute its match key; errors name ``path``."""
    point = _coerce_point(raw, path)
    kind = point.kind
    registered = ctx.registry.contact_kinds.get(kind)
    if registered is None:
        known = ", ".join(sorted(ctx.registry.contact_kinds))
        raise ValidationError.single(f"{path}.kind", f"unknown contact kind {kind!r} ({known})")
    data: dict[str, Any] = {}
    country = None
    try:
        if isinstance(point, PostalAddress):
            country = country_code(point.country)
            key = address_key(list(point.lines), point.postcode, point.city, country)
            data = point.model_dump(include={"lines", "postcode", "city", "region"})
            data["country"] = country
        elif kind == "email":
            key = email_key(point.value, ctx.settings.email_rules)
        elif kind == "phone":
            region = getattr(point, "region", None) or ctx.settings.default_region
            key = phone_key(point.value, region)
            country = _phone_country(key)
        elif kind == "url":
            key = url_key(point.value)
        elif kind == "social":
            network = getattr(point, "network", "")
            key = social_key(point.value, network)
            data = {"network": network.casefold()}
        elif registered.key is not None:
            key = registered.key(point.value)
        else:
            key = text_key(point.value)
    except ValueError as exc:
        field = "country" if isinstance(point, PostalAddress) else "value"
        raise ValidationError.single(f"{path}.{field}", str(exc)) from None
    if not key:
        raise ValidationError.single(f"{path}.value", "is empty once normalised")
    return NormalizedPoint(
        kind,
        point.value,
        key,
        label=point.label,
        primary=point.primary,
        country=country,
        data=data,
    )


def resolve_contact_point(ctx: Context, party_id: int, wanted: Any, path: str) -> ContactPointRow:
    """One of the party's contact points, given by id, record, or value (any way of
    writing it: the value is compared by match key)."""
    query = select(ContactPointRow).where(ContactPointRow.party_id == party_id)
    found: ContactPointRow | None = None
    if isinstance(wanted, str):
        for kind in ("email", "phone", "url"):
            try:
                point = normalize_contact_point(ctx, {"kind": kind, "value": wanted}, path)
            except ValidationError:
                continue
            found = ctx.db.scalar(
                query.where(ContactPointRow.kind == kind, ContactPointRow.key == point.key)
            )
            if found is not None:
                break
    else:
        ident = ref_id(wanted, path)
        found = ctx.db.scalar(query.where(ContactPointRow.id == ident))
    if found is None:
        raise ValidationError.single(path, f"party {party_id} has no contact point {wanted!r}")
    return found


def primary_contact_point(ctx: Context, party_id: int, kind: str) -> ContactPointRow | None:
    """The party's primary contact point of ``kind``, if it has one."""
    return ctx.db.scalar(
        select(ContactPointRow).where(
            ContactPointRow.party_id == party_id,
            ContactPointRow.kind == kind,
            ContactPointRow.is_primary.is_(True),
        )
    )


def _phone_country(e164: str) -> str | None:
    import phonenumbers

    region = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    return region if region and len(region) == 2 and region != "ZZ" else None


def _clean_name(value: Any, path: str, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise ValidationError.single(path, "is required")
        return None
    if not isinstance(value, str):
        raise ValidationError.single(path, "must be text")
    cleaned = " ".join(value.split())
    if not cleaned:
        if required:
            raise ValidationError.single(path, "must not be blank")
        return None
    if len(cleaned) > 300:
        raise ValidationError.single(path, "is longer than 300 characters")
    return cleaned


def _clean_tags(tags: Iterable[str], path: str = "tags") -> list[str]:
    if isinstance(tags, str):
        tags = [tags]
    cleaned: list[str] = []
    for i, tag in enumerate(tags):
        if not isinstance(tag, str) or not _TAG.fullmatch(tag.strip()):
            raise ValidationError.single(
                f"{path}.{i}", f"{tag!r} is not a tag (letters, digits, ' .:/-', 60 at most)"
            )
        value = tag.strip().casefold()
        if value not in cleaned:
            cleaned.append(value)
    return cleaned


def unique_points(points: Iterable[Any], path: str, errors: list[FieldError]) -> list[Any]:
    """Normalised contact points, one per (kind, match key) in the order given (the same
    address written twice is one point); more than one primary of a kind is an error."""
    unique: list[Any] = []
    seen: set[tuple[str, str]] = set()
    for point in points:
        if (point.kind, point.key) not in seen:
            seen.add((point.kind, point.key))
            unique.append(point)
    for kind in {p.kind for p in unique}:
        if sum(1 for p in unique if p.kind == kind and p.primary) > 1:
            errors.append(FieldError(path, f"more than one primary {kind}"))
    return unique


class PartyService:
    """``s.parties``: create, read, change and find parties."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

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
    ) -> Party:
        """Create a party and return it.

        ``kind`` is ``person``, ``organization``, ``household`` or a plugin's kind. A person
        may give ``given_name`` / ``family_name`` instead of a display name. Contact points
        are validated and normalised (see :mod:`xrm.core.normalize`); the first point of
        each kind is primary unless another says ``primary=True``. ``identifiers`` maps a
        scheme to a value (``{"fr.siren": "732 829 320"}``).
        """
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
            ctx.record(
                Event(
                    "party.created",
                    "party",
                    row.id,
                    (row.id,),
                    {
                        "kind": kind,
                        "display_name": name,
                        "contact_points": [
                            {"kind": c.kind, "value": c.value} for c in party.contact_points
                        ],
                        "identifiers": [[i.scheme, i.value] for i in party.identifiers],
                        "tags": list(party.tags),
                    },
                )
            )
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
        limit: int = 50,
        after: str | None = None,
    ) -> Page[Party]:
        """Parties in id order, filtered; ``name`` matches words of the display name
        whatever their case and accents; ``role`` keeps holders of a current role."""
        _check_limit(limit)
        query = select(PartyRow.id).where(PartyRow.merged_into_id.is_(None))
        if kind is not None:
            query = query.where(PartyRow.kind == kind)
        if tag is not None:
            query = query.where(
                exists().where(
                    and_(PartyTagRow.party_id == PartyRow.id, PartyTagRow.tag == tag.casefold())
                )
            )
        if role is not None or role_state is not None:
            conds = [RoleRow.party_id == PartyRow.id, RoleRow.ended_at.is_(None)]
            if role is not None:
                conds.append(RoleRow.type == role)
            if role_state is not None:
                conds.append(RoleRow.state == role_state)
            query = query.where(exists().where(and_(*conds)))
        if name:
            for word in text_key(name).split():
                query = query.where(PartyRow.name_key.contains(word, autoescape=True))
        if after is not None:
            (last_id,) = decode_cursor(after)
            query = query.where(PartyRow.id > int(last_id))
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
        return [ident for ident, _ in self._holders(email, phone, region, identifier)]

    def _holders(
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

    def count(self, *, kind: str | None = None) -> int:
        query = select(func.count()).select_from(PartyRow).where(PartyRow.merged_into_id.is_(None))
        if kind is not None:
            query = query.where(PartyRow.kind == kind)
        return int(self._ctx.db.scalar(query) or 0)

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
                Event(
                    "party.updated",
                    "party",
                    row.id,
                    (row.id,),
                    {
                        "changes": {
                            k: {"from": jsonable(before[k]), "to": jsonable(v)}
                            for k, v in changed.items()
                        }
                    },
                )
            )
            return party_rec

    def add_contact_point(
        self, party: PartyRef, point: AnyContactPoint | Mapping[str, Any]
    ) -> ContactPoint:
        """Add a contact point to the party; an equal one (same key) is a Conflict."""
        ctx = self._ctx
        normalized = normalize_contact_point(ctx, point, "contact_point")
        with ctx.atomic():
            row = ctx.party_row(party)
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
                Event(
                    "contact_point.added",
                    "contact_point",
                    created.id,
                    (row.id,),
                    {"kind": created.kind, "value": created.value, "primary": created.is_primary},
                )
            )
            ctx.notify("xrm_validate_party", party=Party.of(row), action="update")
            return ContactPoint.of(created)

    def remove_contact_point(self, party: PartyRef, contact_point: int | ContactPoint) -> None:
        """Remove a contact point (a new primary of its kind is chosen if needed)."""
        ctx = self._ctx
        point_id = ref_id(contact_point, "contact_point")
        with ctx.atomic():
            row = ctx.party_row(party)
            point = next((c for c in row.contact_points if c.id == point_id), None)
            if point is None:
                raise NotFound("contact point", point_id)
            row.contact_points.remove(point)
            if point.is_primary:
                ctx.db.flush()
                successor = next((c for c in row.contact_points if c.kind == point.kind), None)
                if successor is not None:
                    successor.is_primary = True
            row.updated_at = utcnow()
            ctx.record(
                Event(
                    "contact_point.removed",
                    "contact_point",
                    point_id,
                    (row.id,),
                    {"kind": point.kind, "value": point.value},
                )
            )

    def set_primary(self, party: PartyRef, contact_point: int | ContactPoint) -> ContactPoint:
        """Make this contact point the primary one of its kind."""
        ctx = self._ctx
        point_id = ref_id(contact_point, "contact_point")
        with ctx.atomic():
            row = ctx.party_row(party)
            point = next((c for c in row.contact_points if c.id == point_id), None)
            if point is None:
                raise NotFound("contact point", point_id)
            if not point.is_primary:
                for other in row.contact_points:
                    if other.kind == point.kind and other.is_primary:
                        other.is_primary = False
                ctx.db.flush()
                point.is_primary = True
                row.updated_at = utcnow()
                ctx.record(
                    Event(
                        "contact_point.primary",
                        "contact_point",
                        point.id,
                        (row.id,),
                        {"kind": point.kind, "value": point.value},
                    )
                )
            ctx.db.flush()
            return ContactPoint.of(point)

    def add_identifier(self, party: PartyRef, scheme: str, value: str) -> Party:
        """Attach an identifier; a value already held by another party is a Conflict."""
        ctx = self._ctx
        idents = self._normalize_identifiers([(scheme, value)], None)
        with ctx.atomic():
            row = ctx.party_row(party)
            self._refuse_taken_identifiers(idents, row.id)
            scheme_, canonical = idents[0]
            if any(i.scheme == scheme_ and i.value == canonical for i in row.identifiers):
                return Party.of(row)
            row.identifiers.append(IdentifierRow(scheme=scheme_, value=canonical))
            row.updated_at = utcnow()
            ctx.db.flush()
            ctx.record(
                Event(
                    "identifier.added",
                    "party",
                    row.id,
                    (row.id,),
                    {"scheme": scheme_, "value": canonical},
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
            row = ctx.party_row(party)
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
                Event(
                    "party.tagged" if add else "party.untagged",
                    "party",
                    row.id,
                    (row.id,),
                    {"tags": changed},
                )
            )
            return Party.of(row)

    def _locked(self, party: PartyRef, version: int | None) -> PartyRow:
        row = self._ctx.party_row(party)
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
        for i, raw in enumerate(points):
            try:
                normalized.append(normalize_contact_point(self._ctx, raw, f"{path}.{i}"))
            except ValidationError as exc:
                errors.extend(exc.errors)
        return unique_points(normalized, path, errors)

    def _attach_points(
        self, row: PartyRow, points: Sequence[NormalizedPoint], now: dt.datetime
    ) -> builtins.list[ContactPointRow]:
        created = []
        # an erased party's address stays unreachable, whoever gives it again
        blocked = suppressed_keys(self._ctx, points)
        for point in points:
            has_primary = any(c.kind == point.kind and c.is_primary for c in row.contact_points)
            make_primary = point.primary or not has_primary
            if point.primary and has_primary:
                for other in row.contact_points:
                    if other.kind == point.kind:
                        other.is_primary = False
                self._ctx.db.flush()
            cp = ContactPointRow(
                kind=point.kind,
                value=point.value,
                key=point.key,
                label=point.label,
                country=point.country,
                data=point.data,
                is_primary=make_primary,
                suppressed=(point.kind, point.key) in blocked,
                created_at=now,
            )
            row.contact_points.append(cp)
            created.append(cp)
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


def _check_limit(limit: int) -> None:
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise ValidationError.single("limit", "must be between 1 and 1000")
