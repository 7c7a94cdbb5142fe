"""What a party is given, checked and normalised: contact points (with their match keys),
names and tags.

Private to ``xrm.core``: parties, the bulk path, interactions and consent use it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session as OrmSession

from xrm.core.inputs import CONTACT_INPUTS, AnyContactPoint, ContactPointIn, PostalAddress
from xrm.core.models import (
    ContactPointRow,
)
from xrm.core.normalize import (
    CountryUnknown,
    address_key,
    country_code,
    email_key,
    phone_key,
    social_key,
    text_key,
    url_key,
)
from xrm.core.uow import (
    UnitOfWork,
    ref_id,
    validate_model,
)
from xrm.errors import FieldError, ValidationError

_TAG = re.compile(r"[\w][\w .:/-]{0,59}")


class NormalizedPoint:
    """A contact point after validation: what to store."""

    __slots__ = ("country", "data", "key", "kind", "label", "primary", "problem", "value")

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
        problem: str | None = None,
    ) -> None:
        self.kind = kind
        self.value = value
        self.key = key
        self.label = label
        self.primary = primary
        self.country = country
        self.data = dict(data or {})
        #: why the value is invalid, for a phone number kept as written (``None``: valid)
        self.problem = problem

    @property
    def valid(self) -> bool:
        return self.problem is None


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


def address_region(points: Iterable[Any]) -> str | None:
    """The country of the first postal address among ``points`` (input models or
    mappings), if it has a valid one: the region a local phone number of the same party
    is read in before the application's default region."""
    for raw in points:
        if isinstance(raw, PostalAddress):
            country: Any = raw.country
        elif isinstance(raw, Mapping) and raw.get("kind") == "postal":
            country = raw.get("country")
        else:
            continue
        if isinstance(country, str):
            try:
                return country_code(country)
            except ValueError:
                return None
    return None


def stored_region(ctx: UnitOfWork, party_id: int) -> str | None:
    """The country of the party's primary (else oldest) postal address, if it has one."""
    return ctx.db.scalar(
        select(ContactPointRow.country)
        .where(
            ContactPointRow.party_id == party_id,
            ContactPointRow.kind == "postal",
            ContactPointRow.country.is_not(None),
        )
        .order_by(ContactPointRow.is_primary.desc(), ContactPointRow.id)
        .limit(1)
    )


def normalize_contact_point(
    ctx: UnitOfWork, raw: Any, path: str, region: str | None = None
) -> NormalizedPoint:
    """Validate one contact point and compute its match key; errors name ``path``. A
    phone without a region of its own is read in ``region`` (the country of the party's
    postal address), else in the application's default region."""
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
            read_in = getattr(point, "region", None) or region or ctx.settings.default_region
            try:
                key = phone_key(point.value, read_in)
            except ValueError as exc:
                # a number whose country is unknown may be valid: the caller must say
                # where it is from rather than have it kept as invalid
                if not getattr(point, "keep_invalid", False) or isinstance(exc, CountryUnknown):
                    raise
                return invalid_phone(point, str(exc), path)
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


#: how an import reports a phone number it kept though invalid
KEPT_INVALID = "{path}: {problem}; kept as written, not used to recognise the party or contacted"


def invalid_phone(point: Any, problem: str, path: str) -> NormalizedPoint:
    """A phone number libphonenumber judges invalid, kept as written: its digits are its
    key (never a ``+`` E.164 key, so it meets no valid number), and it is never primary,
    never used to recognise the party and never contacted. A value without a digit is
    no phone number at all and is refused."""
    digits = "".join(ch for ch in point.value if ch.isdigit() and ch.isascii())
    if not digits:
        raise ValidationError.single(f"{path}.value", problem)
    return NormalizedPoint(
        "phone", point.value, digits, label=point.label, primary=False, problem=problem
    )


def resolve_contact_point(
    ctx: UnitOfWork, party_id: int, wanted: Any, path: str
) -> ContactPointRow:
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
        if found is None:  # a phone number kept as written though invalid: as written
            found = ctx.db.scalar(
                query.where(ContactPointRow.valid.is_(False), ContactPointRow.value == wanted)
            )
    else:
        ident = ref_id(wanted, path)
        found = ctx.db.scalar(query.where(ContactPointRow.id == ident))
    if found is None:
        raise ValidationError.single(path, f"party {party_id} has no contact point {wanted!r}")
    return found


#: how strongly a point claims to be its kind's primary (see primary_flags)
ASKED, PRIMARY_NOW, ANY = 2, 1, 0


def primary_flags(points: Sequence[tuple[str, int, bool]]) -> list[bool]:
    """Which of a party's points are primary, given each point's ``(kind, claim,
    unreachable)`` in age order, the claim being ASKED (``primary=True`` given now),
    PRIMARY_NOW or ANY: per kind, the reachable point with the strongest claim, the oldest
    among equals. An unreachable point (suppressed, or a phone number kept invalid) is
    never primary (nothing is sent to it), and a kind whose points are all unreachable has
    no primary."""
    chosen: dict[str, int] = {}
    for i, (kind, claim, suppressed) in enumerate(points):
        if not suppressed and (kind not in chosen or claim > points[chosen[kind]][1]):
            chosen[kind] = i
    winners = set(chosen.values())
    return [i in winners for i in range(len(points))]


def settle_primaries(
    db: OrmSession, points: Sequence[ContactPointRow], asked: Collection[ContactPointRow] = ()
) -> list[ContactPointRow]:
    """Apply :func:`primary_flags` to a party's loaded points, oldest first (``asked``:
    the points given ``primary=True`` now). Flags are cleared before one is set (one
    primary per kind is an index). Returns the points that became primary."""
    flags = primary_flags(
        [
            (p.kind, ASKED if p in asked else PRIMARY_NOW if p.is_primary else ANY,
             bool(p.suppressed) or p.valid is False)
            for p in points
        ]
    )  # fmt: skip
    losing = [p for p, flag in zip(points, flags, strict=True) if p.is_primary and not flag]
    gaining = [p for p, flag in zip(points, flags, strict=True) if flag and not p.is_primary]
    for p in losing:
        p.is_primary = False
    if losing and gaining:
        db.flush()
    for p in gaining:
        p.is_primary = True
    return gaining


def primary_contact_point(ctx: UnitOfWork, party_id: int, kind: str) -> ContactPointRow | None:
    """The party's primary contact point of ``kind``, if it has one (never a suppressed
    point: nothing is sent to it)."""
    return ctx.db.scalar(
        select(ContactPointRow).where(
            ContactPointRow.party_id == party_id,
            ContactPointRow.kind == kind,
            ContactPointRow.is_primary.is_(True),
            ContactPointRow.suppressed.is_(False),
            ContactPointRow.valid.is_(True),
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


def match_keys(
    points: Iterable[NormalizedPoint], identifiers: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """The keys recognition looks a record up by: its emails' and phones' ``(kind, key)``
    and ``("id:<scheme>", value)`` for its identifiers (canonical values)."""
    keys = [(p.kind, p.key) for p in points if p.kind in ("email", "phone") and p.valid]
    keys += [(f"id:{scheme}", value) for scheme, value in identifiers]
    return keys
