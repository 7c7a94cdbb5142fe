"""Import parties (with contact points, identifiers, tags, roles and consents) and
recognise the ones already known, so that importing the same data twice creates nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from xrm.core._fields import KEPT_INVALID, address_region, match_keys, normalize_contact_point
from xrm.core.inputs import (
    Email,
    ImportedConsent,
    ImportedParty,
    ImportedPreferences,
    Outcome,
    Phone,
)
from xrm.core.uow import validate_model
from xrm.errors import ValidationError

if TYPE_CHECKING:
    from xrm.core.imports.service import ImportService

__all__ = ["import_party", "match_keys"]


def import_party(
    s: ImportService,
    data: ImportedParty | Mapping[str, Any],
    warnings: list[str] | None = None,
) -> tuple[Outcome, int]:
    """Create the party, or complete the one already known by one of its emails, phones
    or identifiers: missing contact points, identifiers, tags and roles are added, and a
    consent is recorded unless the ledger's latest word for that scope is already it.
    All or nothing for the row. Returns what happened and the party id; a phone number
    kept though invalid is told in ``warnings``.
    """
    row = data if isinstance(data, ImportedParty) else validate_model(ImportedParty, data)
    if row.kind not in s.uow.registry.party_kinds:
        kinds = ", ".join(sorted(s.uow.registry.party_kinds))
        raise ValidationError.single("kind", f"unknown party kind {row.kind!r} ({kinds})")
    points: list[Any] = [Email(e) for e in row.emails]
    # a local number is read in the row's region, else its postal address's country
    region = row.region or address_region(row.contact_points)
    # an invalid number is kept as written rather than costing the row
    points += [Phone(p, region=region, keep_invalid=True) for p in row.phones]
    points += row.contact_points
    with s.uow.atomic():
        known = _recognise(s, row, points, warnings)
        if known is None:
            party = s.parties.create(
                row.kind, row.display_name, given_name=row.given_name,
                family_name=row.family_name, birth_date=row.birth_date, contact_points=points,
                identifiers=row.identifiers, tags=row.tags,
            )  # fmt: skip
            outcome: Outcome = "created"
        else:
            party = s.parties.get(known)
            outcome = "unchanged"
            held = {(c.kind, c.key) for c in party.contact_points}
            ctx = s.uow
            for i, raw in enumerate(points):
                point = normalize_contact_point(ctx, raw, f"contact_points.{i}", region)
                if (point.kind, point.key) not in held:
                    s.parties.add_contact_point(party.id, raw)
                    held.add((point.kind, point.key))
                    outcome = "updated"
            for scheme, value in row.identifiers.items():
                if party.identifier(scheme) is None:
                    s.parties.add_identifier(party.id, scheme, value)
                    outcome = "updated"
            missing_tags = [t for t in row.tags if t.strip().casefold() not in party.tags]
            if missing_tags:
                s.parties.tag(party.id, *missing_tags)
                outcome = "updated"
        for role in row.roles:
            if not s.roles.of(party.id, type=role.type):  # held, or to start later
                s.roles.assign(party.id, role.type, state=role.state, attributes=role.attributes)
                outcome = "updated" if outcome == "unchanged" else outcome
        for consent in row.consents:
            if _already_said(s, party.id, consent):
                continue
            s.consents.record(
                party.id, consent.purpose, consent.decision, source=consent.source,
                channel=consent.channel, contact_point=consent.contact_point,
                evidence=consent.evidence, captured_at=consent.captured_at,
                expires_at=consent.expires_at,
            )  # fmt: skip
            outcome = "updated" if outcome == "unchanged" else outcome
        if row.preferences is not None and _complete_preferences(s, party.id, row.preferences):
            outcome = "updated" if outcome == "unchanged" else outcome
    return outcome, party.id


def _complete_preferences(s: ImportService, party_id: int, wanted: ImportedPreferences) -> bool:
    """Set what the row gives and the party has not stated (its own word stands): whether
    anything changed."""
    have = s.preferences.get(party_id)
    change: dict[str, Any] = {}
    for field in ("language", "time_zone", "quiet_hours"):
        value = getattr(wanted, field)
        if value is not None and getattr(have, field) is None:
            change[field] = value
    channels = {p: c for p, c in wanted.channels.items() if p not in have.channels}
    caps = {p: c for p, c in wanted.caps.items() if p not in have.caps}
    if not (change or channels or caps):
        return False
    try:
        after = s.preferences.set(party_id, channels=channels, caps=caps, **change)
    except ValidationError as exc:
        raise exc.prefixed("preferences") from None
    return after != have


def _recognise(
    s: ImportService, row: ImportedParty, points: list[Any], warnings: list[str] | None
) -> int | None:
    found: set[int] = set()
    ctx = s.uow
    region = address_region(points)
    normalized = [
        normalize_contact_point(ctx, raw, f"contact_points.{i}", region)
        for i, raw in enumerate(points)
    ]
    first_phone = len(row.emails)
    for i, point in enumerate(normalized):
        if point.problem is not None and warnings is not None:
            path = f"phones.{i - first_phone}" if i < first_phone + len(row.phones) else (
                f"contact_points.{i - first_phone - len(row.phones)}")  # fmt: skip
            warnings.append(KEPT_INVALID.format(path=path, problem=point.problem))
    identifiers = [
        (scheme, s.parties._identifier(scheme, value, f"identifiers.{scheme}"))
        for scheme, value in row.identifiers.items()
    ]
    # a concurrent import of the same keys waits here until this unit of work ends
    ctx.lock_match_keys(match_keys(normalized, identifiers))
    for point in normalized:
        if not point.valid:
            continue  # never used to recognise
        if point.kind == "email":
            found.update(s.parties.find_ids(email=point.key))
        elif point.kind == "phone":
            found.update(s.parties.find_ids(phone=point.key))
    for scheme, value in identifiers:
        found.update(s.parties.find_ids(identifier=(scheme, value)))
    if len(found) > 1:
        raise ValidationError.single(
            "", f"matches several known parties ({', '.join(map(str, sorted(found)))}): "
            "merge them before importing",
        )  # fmt: skip
    return found.pop() if found else None


def _already_said(s: ImportService, party_id: int, consent: ImportedConsent) -> bool:
    """Is the ledger's latest word for this purpose and scope already this decision?"""
    key = None
    if consent.contact_point is not None:
        for kind in ("email", "phone"):
            try:
                point = normalize_contact_point(
                    s.uow, {"kind": kind, "value": consent.contact_point}, "contact_point"
                )
            except ValidationError:
                continue
            key = point.key
            break
    same_scope = [
        r for r in s.consents.history(party_id, purpose=consent.purpose)
        if r.contact_key == key and (key is not None or r.channel == consent.channel)
    ]  # fmt: skip
    return bool(same_scope) and same_scope[-1].decision == consent.decision
