"""The bulk path for imports: validate a batch in Python, recognise it with one query per
kind of key, and insert the new parties with set-based statements.

Same rules, same journal and same plugin hooks as the one-at-a-time services; what it saves
is the per-row round trips. Rows that concern known parties go through
:func:`xrm.core.importer.import_party`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
from sqlalchemy import insert, literal, select
from sqlalchemy.exc import IntegrityError

from xrm.core.consent import consent_event
from xrm.core.context import Event, jsonable
from xrm.core.gdpr import suppressed_keys
from xrm.core.importer import ImportedParty, Outcome, import_party
from xrm.core.inputs import Email, Phone
from xrm.core.models import (
    ConsentRecordRow,
    ContactPointRow,
    IdentifierRow,
    PartyRow,
    PartyTagRow,
    RoleRow,
    RoleTransitionRow,
    utcnow,
)
from xrm.core.normalize import text_key
from xrm.core.parties import NormalizedPoint, _clean_name, _clean_tags, normalize_contact_point
from xrm.core.records import ConsentRecord, ContactPoint, Identifier, Party, Role, RoleTransition
from xrm.errors import FieldError, PluginError, ValidationError, XRMError

if TYPE_CHECKING:
    from xrm.app import Session

__all__ = ["RowResult", "import_batch"]


@attrs.frozen
class RowResult:
    """What became of one row: ``outcome`` and ``party_id``, or the ``error``."""

    line: int
    outcome: Outcome | None
    party_id: int | None
    error: XRMError | None = None


@attrs.define
class _New:
    line: int
    row: ImportedParty
    name: str | None
    given: str | None
    family: str | None
    attributes: dict[str, Any]
    points: list[NormalizedPoint]
    identifiers: list[tuple[str, str]]
    tags: list[str]
    roles: list[tuple[str, str, dict[str, Any]]]
    consents: list[dict[str, Any]]
    party_id: int = 0
    #: a consent names a contact point the row does not give: only the one-at-a-time
    #: path knows whether the known party holds it
    slow: bool = False


def import_batch(session: Session, rows: Sequence[tuple[int, ImportedParty]]) -> list[RowResult]:
    """Import ``rows`` (line number, record). Each row is all or nothing; a bad row is
    returned with its error and writes nothing. New parties are inserted together."""
    s = session
    results: dict[int, RowResult] = {}
    slow: list[tuple[int, ImportedParty]] = []
    fresh: list[_New] = []
    claimed: set[tuple[str, str]] = set()
    checked = []
    now = utcnow()
    for line, row in rows:
        try:
            checked.append(_check(s, line, row, now))
        except XRMError as exc:
            results[line] = RowResult(line, None, None, exc)
    known = _known_keys(s, [k for new in checked for k in _keys(new)])
    recognised: list[tuple[_New, int]] = []
    touched: list[int] = []  # parties that rows taking the one-at-a-time path may change
    for new in checked:
        keys = _keys(new)
        owners = {owner for k in keys for owner in known.get(k, ())}
        earlier = any(k in claimed for k in keys)
        claimed.update(keys)  # a later row sharing a key waits for this one, as in order
        if earlier or len(owners) > 1 or new.slow:
            slow.append((new.line, new.row))
            touched += owners
        elif owners:
            recognised.append((new, owners.pop()))
        elif new.name is None:
            error = ValidationError.single("display_name", "is required")
            results[new.line] = RowResult(new.line, None, None, error)
        else:
            fresh.append(new)
    counts = Counter([*touched, *(p for _, p in recognised)])
    once = [(new, party_id) for new, party_id in recognised if counts[party_id] == 1]
    same = _unchanged(s, once) if once else set()
    for new, party_id in recognised:
        if new.line in same:
            results[new.line] = RowResult(new.line, "unchanged", party_id)
        else:
            slow.append((new.line, new.row))
    if fresh:
        try:
            with s.atomic():
                _insert(s, fresh)
        except (IntegrityError, PluginError, XRMError):
            slow = [(n.line, n.row) for n in fresh] + slow  # find the culprit row by row
            fresh = []
        for new in fresh:
            results[new.line] = RowResult(new.line, "created", new.party_id)
    for line, row in sorted(slow):
        try:
            outcome, party_id = import_party(s, row)
        except XRMError as exc:
            results[line] = RowResult(line, None, None, exc)
        else:
            results[line] = RowResult(line, outcome, party_id)
    return [results[line] for line, _ in rows]


def _check(s: Session, line: int, row: ImportedParty, now: dt.datetime) -> _New:
    """Everything the services would refuse, refused before anything is written."""
    ctx = s._ctx
    services = s.parties
    errors: list[FieldError] = []
    if row.kind not in ctx.registry.party_kinds:
        known = ", ".join(sorted(ctx.registry.party_kinds))
        raise ValidationError.single("kind", f"unknown party kind {row.kind!r} ({known})")
    given = _clean_name(row.given_name, "given_name", required=False)
    family = _clean_name(row.family_name, "family_name", required=False)
    display = row.display_name
    if display is None and (given or family):
        display = " ".join(p for p in (given, family) if p)
    # a known party needs no name in the row; a new one does (checked when it is known new)
    name = _clean_name(display, "display_name", required=False)
    raw_points: list[Any] = [Email(e) for e in row.emails]
    raw_points += [Phone(p, region=row.region) for p in row.phones]
    raw_points += row.contact_points
    points = services._normalize_points(raw_points, "contact_points", errors)
    identifiers = services._normalize_identifiers(row.identifiers, errors)
    tags = _clean_tags(row.tags)
    if errors:
        raise ValidationError(errors)
    roles = []
    for i, wanted in enumerate(row.roles):
        role_type = s.roles._type(wanted.type)
        state = wanted.state or role_type.initial
        if not role_type.may_start_in(state):
            raise ValidationError.single(f"roles.{i}.state", f"cannot start in {state!r}")
        if role_type.party_kinds is not None and row.kind not in role_type.party_kinds:
            raise ValidationError.single(f"roles.{i}.type", f"a {row.kind} cannot hold it")
        s.roles._attributes(role_type, wanted.attributes)
        roles.append((wanted.type, state, dict(wanted.attributes)))
    if len({r[0] for r in roles}) != len(roles):
        raise ValidationError.single("roles", "the same role twice")
    consents = []
    slow = False
    said: dict[tuple[str, str | None, str | None], str] = {}
    for i, consent in enumerate(row.consents):
        try:
            captured, effective, expires, _ = s.consents.check_record(
                consent.purpose, consent.decision, consent.channel, consent.source, now,
                consent.captured_at, None, consent.expires_at,
            )  # fmt: skip
        except ValidationError as exc:
            raise exc.prefixed(f"consents.{i}") from None
        key = None
        if consent.contact_point is not None:
            key = _point_key(s, consent.contact_point, points, f"consents.{i}.contact_point")
            if key is None:
                slow = True
                continue
        scope = (consent.purpose, None if key else consent.channel, key)
        if said.get(scope) == consent.decision:
            continue  # the row repeats itself: the ledger's latest word is already this
        said[scope] = consent.decision
        consents.append({
            "purpose": consent.purpose, "decision": consent.decision,
            "scope": "channel" if consent.channel else "all",
            "channel": None if key else consent.channel, "contact_key": key,
            "captured_at": captured, "effective_from": effective, "expires_at": expires,
            "confirmed_at": None, "source": consent.source.strip(),
            "evidence": consent.evidence,
        })  # fmt: skip
    return _New(line, row, name, given, family, {}, points, identifiers, tags, roles, consents,
                slow=slow)  # fmt: skip


def _point_key(s: Session, value: str, points: list[NormalizedPoint], path: str) -> str | None:
    """The key of the row's own contact point that ``value`` names, if it names one."""
    for point in points:
        if point.kind in ("email", "phone", "url"):
            try:
                candidate = normalize_contact_point(
                    s._ctx, {"kind": point.kind, "value": value}, path
                )
            except ValidationError:
                continue
            if candidate.key == point.key:
                return point.key
    return None


def _keys(new: _New) -> list[tuple[str, str]]:
    keys = [(p.kind, p.key) for p in new.points if p.kind in ("email", "phone")]
    keys += [(f"id:{scheme}", value) for scheme, value in new.identifiers]
    return keys


def _known_keys(s: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], set[int]]:
    """Who already holds each key (contact kind or ``id:scheme``, value).

    One ``kind = ? AND key IN (...)`` query per kind and chunk: a row-value
    ``(kind, key) IN (...)`` list is not matched to the (kind, key) index by PostgreSQL,
    which then reads the whole table for each chunk."""
    db = s.db
    by_kind: dict[str, set[str]] = {}
    for kind, value in keys:
        by_kind.setdefault(kind, set()).add(value)
    found: dict[tuple[str, str], set[int]] = {}
    for kind, values in by_kind.items():
        ordered = sorted(values)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            if kind.startswith("id:"):
                query = select(IdentifierRow.value, IdentifierRow.party_id).where(
                    IdentifierRow.scheme == kind[3:], IdentifierRow.value.in_(chunk)
                )
            else:
                query = select(ContactPointRow.key, ContactPointRow.party_id).where(
                    ContactPointRow.kind == kind, ContactPointRow.key.in_(chunk)
                )
            for value, owner in db.execute(query):
                found.setdefault((kind, value), set()).add(owner)
    return found


def _unchanged(s: Session, recognised: list[tuple[_New, int]]) -> set[int]:
    """The lines of the rows that add nothing to their known party: every contact point,
    identifier, tag and current role already there, and each consent already the ledger's
    latest word for its scope. A handful of queries for the whole batch."""
    db = s.db
    ids = sorted({party_id for _, party_id in recognised})
    have: dict[int, set[tuple[str, ...]]] = {i: set() for i in ids}
    latest: dict[tuple[int, str, str | None, str | None], tuple[Any, int, str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        queries = [
            select(ContactPointRow.party_id, literal("point"), ContactPointRow.kind,
                   ContactPointRow.key).where(ContactPointRow.party_id.in_(chunk)),
            select(IdentifierRow.party_id, literal("id"), IdentifierRow.scheme,
                   IdentifierRow.value).where(IdentifierRow.party_id.in_(chunk)),
            select(PartyTagRow.party_id, literal("tag"), PartyTagRow.tag,
                   literal("")).where(PartyTagRow.party_id.in_(chunk)),
            select(RoleRow.party_id, literal("role"), RoleRow.type, literal("")).where(
                RoleRow.party_id.in_(chunk), RoleRow.ended_at.is_(None)),
        ]  # fmt: skip
        for query in queries:
            for party_id, what, a, b in db.execute(query):
                have[party_id].add((what, a, b))
        records = select(
            ConsentRecordRow.party_id, ConsentRecordRow.purpose, ConsentRecordRow.channel,
            ConsentRecordRow.contact_key, ConsentRecordRow.effective_from, ConsentRecordRow.id,
            ConsentRecordRow.decision,
        ).where(ConsentRecordRow.party_id.in_(chunk))  # fmt: skip
        for party_id, purpose, channel, key, effective, rid, decision in db.execute(records):
            scope = (party_id, purpose, None if key else channel, key)
            if scope not in latest or (effective, rid) > latest[scope][:2]:
                latest[scope] = (effective, rid, decision)
    same = set()
    for new, party_id in recognised:
        held = have[party_id]
        wanted = {("point", p.kind, p.key) for p in new.points}
        wanted |= {("id", sc, v) for sc, v in new.identifiers}
        wanted |= {("tag", t, "") for t in new.tags}
        wanted |= {("role", t, "") for t, _state, _attrs in new.roles}
        consents_said = all(
            latest.get((party_id, c["purpose"], c["channel"], c["contact_key"]), (0, 0, ""))[2]
            == c["decision"]
            for c in new.consents
        )
        if wanted <= held and consents_said:
            same.add(new.line)
    return same


def _insert(s: Session, fresh: list[_New]) -> None:
    ctx = s._ctx
    db = s.db
    now = utcnow()
    ids = ctx.insert_many(
        PartyRow,
        [
            {"kind": n.row.kind, "display_name": n.name, "name_key": text_key(n.name or ""),
             "given_name": n.given, "family_name": n.family, "birth_date": n.row.birth_date,
             "attributes": n.attributes, "created_at": now, "updated_at": now, "version": 1}
            for n in fresh
        ],
    )  # fmt: skip
    for new, party_id in zip(fresh, ids, strict=True):
        new.party_id = party_id
    point_rows: list[dict[str, Any]] = []
    # an erased party's address stays unreachable, whoever gives it again
    blocked = suppressed_keys(ctx, [p for n in fresh for p in n.points])
    for new in fresh:
        primary_kinds = {p.kind for p in new.points if p.primary}
        first: set[str] = set()
        for p in new.points:
            p.primary = p.primary or (p.kind not in primary_kinds and p.kind not in first)
            first.add(p.kind)
            point_rows.append({
                "party_id": new.party_id, "kind": p.kind, "value": p.value, "key": p.key,
                "label": p.label, "country": p.country, "data": p.data,
                "is_primary": p.primary, "suppressed": (p.kind, p.key) in blocked,
                "created_at": now,
            })  # fmt: skip
    point_ids = iter(ctx.insert_many(ContactPointRow, point_rows))
    ident_rows = [{"party_id": n.party_id, "scheme": sc, "value": v}
                  for n in fresh for sc, v in n.identifiers]  # fmt: skip
    ctx.insert_many(IdentifierRow, ident_rows)
    tag_rows = [{"party_id": n.party_id, "tag": t} for n in fresh for t in n.tags]
    if tag_rows:
        db.connection().execute(insert(PartyTagRow), tag_rows)

    parties: list[Party] = []
    for new in fresh:
        mine = [(p, next(point_ids)) for p in new.points]
        parties.append(Party(
            id=new.party_id, kind=new.row.kind, display_name=new.name or "", given_name=new.given,
            family_name=new.family, birth_date=new.row.birth_date, attributes={},
            tags=tuple(sorted(new.tags)),
            contact_points=tuple(
                ContactPoint(pid, p.kind, p.value, p.key, p.label, p.country, p.data,
                             p.primary, (p.kind, p.key) in blocked)
                for p, pid in mine
            ),
            identifiers=tuple(Identifier(sc, v) for sc, v in new.identifiers),
            version=1, merged_into=None, created_at=now, updated_at=now,
        ))  # fmt: skip
    for party in parties:
        ctx.notify("xrm_validate_party", party=party, action="create")
    ctx.record_many([
        Event("party.created", "party", p.id, (p.id,), {
            "kind": p.kind, "display_name": p.display_name,
            "contact_points": [{"kind": c.kind, "value": c.value} for c in p.contact_points],
            "identifiers": [[i.scheme, i.value] for i in p.identifiers], "tags": list(p.tags),
        }) for p in parties
    ])  # fmt: skip
    for party in parties:
        ctx.notify("xrm_party_created", party=party)
    _insert_roles(s, fresh, now)
    _insert_consents(s, fresh, now)


def _insert_roles(s: Session, fresh: list[_New], now: dt.datetime) -> None:
    ctx = s._ctx
    wanted = [(n.party_id, *r) for n in fresh for r in n.roles]
    if not wanted:
        return
    values = [
        s.roles.initial_attributes(ctx.registry.role_types[t], pid, given)
        for pid, t, _state, given in wanted
    ]
    role_ids = ctx.insert_many(
        RoleRow,
        [{"party_id": pid, "type": t, "state": state, "attributes": v, "started_at": now,
          "ended_at": None, "version": 1}
         for (pid, t, state, _g), v in zip(wanted, values, strict=True)],
    )  # fmt: skip
    ctx.insert_many(
        RoleTransitionRow,
        [{"role_id": rid, "from_state": None, "to_state": state, "at": now, "note": None}
         for rid, (_p, _t, state, _g) in zip(role_ids, wanted, strict=True)],
    )  # fmt: skip
    roles = [
        Role(rid, pid, t, state, v, now, None, (RoleTransition(None, state, now, None),), 1)
        for rid, (pid, t, state, _g), v in zip(role_ids, wanted, values, strict=True)
    ]
    for role in roles:
        ctx.notify("xrm_validate_role_transition", role=role, from_state=None, to_state=role.state)
    ctx.record_many([
        Event("role.assigned", "role", r.id, (r.party_id,),
              {"type": r.type, "state": r.state, "attributes": jsonable(r.attributes),
               "note": None}, occurred_at=now)
        for r in roles
    ])  # fmt: skip
    for role in roles:
        ctx.notify("xrm_role_changed", role=role, from_state=None)


def _insert_consents(s: Session, fresh: list[_New], now: dt.datetime) -> None:
    ctx = s._ctx
    rows = []
    for new in fresh:
        points = {p.key: p for p in new.points}
        for values in new.consents:
            key = values.pop("contact_key")
            # every row gets the same keys: executemany takes its columns from the first
            values["contact_kind"] = None if key is None else points[key].kind
            values["contact_key"] = key
            if key is not None:
                values["scope"] = "contact_point"
            rows.append({"party_id": new.party_id, "recorded_by": ctx.actor,
                         "recorded_at": now, **values})  # fmt: skip
    if not rows:
        return
    ids = ctx.insert_many(ConsentRecordRow, rows)
    records = [
        ConsentRecord(
            id=rid, party_id=r["party_id"], purpose=r["purpose"], scope=r["scope"],
            channel=r.get("channel"), contact_kind=r.get("contact_kind"),
            contact_key=r.get("contact_key"), decision=r["decision"],
            captured_at=r["captured_at"], effective_from=r["effective_from"],
            expires_at=r["expires_at"], confirmed_at=None, source=r["source"],
            recorded_by=r["recorded_by"], evidence=r["evidence"], recorded_at=now,
        )
        for rid, r in zip(ids, rows, strict=True)
    ]  # fmt: skip
    ctx.record_many([consent_event(r) for r in records])
    for record in records:
        ctx.notify("xrm_consent_changed", record=record)
