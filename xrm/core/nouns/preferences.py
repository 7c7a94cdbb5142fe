"""Preferences: how a party likes to be addressed (``s.preferences``).

A party's language (BCP 47), its time zone (IANA) and quiet hours (a local window in which
no message leaves), and per purpose its preferred channel and a frequency cap (at most N
messages in D days). Personalisation, not permission: the consent ledger still decides
whether a party may be contacted at all; preferences choose among what it allows.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
from sqlalchemy import delete, select

from xrm.core._args import checked_methods
from xrm.core.access import READ, WRITE
from xrm.core.events import PreferencesChanged
from xrm.core.messaging.templates import language_tag
from xrm.core.models import PreferenceRow, PurposePreferenceRow, utcnow
from xrm.core.uow import PartyRef, UnitOfWork
from xrm.errors import FieldError, ValidationError

__all__ = [
    "FrequencyCap",
    "PreferenceService",
    "Preferences",
    "QuietHours",
    "parse_cap",
    "parse_language",
    "parse_quiet_hours",
    "parse_time_zone",
]

_UNSET: Any = object()
_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}")
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_CAP = re.compile(r"\s*(\d{1,4})\s*/\s*(\d{1,4})\s*d?\s*")
#: the most messages a cap may allow, and the longest period it may count over
MAX_CAP_COUNT = 1000
MAX_CAP_DAYS = 366


@attrs.frozen
class QuietHours:
    """A local window in which no message leaves: ``21:00``-``08:00`` crosses midnight."""

    start: dt.time
    end: dt.time

    def __contains__(self, moment: dt.time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@attrs.frozen
class FrequencyCap:
    """At most ``count`` messages in any ``days`` consecutive days."""

    count: int
    days: int

    def __str__(self) -> str:
        return f"{self.count}/{self.days}d"


@attrs.frozen
class Preferences:
    """What ``s.preferences.get`` returns: ``None`` and empty mappings where the party
    stated nothing (the application's defaults apply)."""

    party_id: int
    language: str | None = None
    time_zone: str | None = None
    quiet_hours: QuietHours | None = None
    #: purpose -> preferred channel
    channels: Mapping[str, str] = attrs.field(factory=dict)
    #: purpose -> cap
    caps: Mapping[str, FrequencyCap] = attrs.field(factory=dict)

    def as_json(self) -> dict[str, Any]:
        """JSON-ready: the shape of the export's ``preferences`` section."""
        return {
            "language": self.language,
            "time_zone": self.time_zone,
            "quiet_hours": str(self.quiet_hours) if self.quiet_hours else None,
            "channels": dict(sorted(self.channels.items())),
            "caps": {p: {"count": c.count, "days": c.days} for p, c in sorted(self.caps.items())},
        }


# -- reading values ------------------------------------------------------------------------
def parse_language(value: str) -> str:
    """A BCP 47 tag Babel has data for, in its usual spelling (``fr-ca`` -> ``fr-CA``,
    ``pt_BR`` -> ``pt-BR``); a ``ValueError`` names what is wrong."""
    return language_tag(value.strip().replace("_", "-"))


def parse_time_zone(value: str) -> str:
    """An IANA time zone name (``Europe/Paris``)."""
    text = value.strip()
    try:
        if not _ZONE.fullmatch(text):  # never a path the file system is asked for
            raise ValueError(text)
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone (Europe/Paris, UTC)") from exc
    return text


def parse_quiet_hours(value: str | QuietHours) -> QuietHours:
    """``21:00-08:00`` (or a :class:`QuietHours`): two different ``HH:MM`` local times."""
    if isinstance(value, QuietHours):
        return value
    start, sep, end = value.strip().partition("-")
    a, b = _HHMM.fullmatch(start.strip()), _HHMM.fullmatch(end.strip())
    if not sep or a is None or b is None:
        raise ValueError(f"{value!r}: write quiet hours as HH:MM-HH:MM (21:00-08:00)")
    window = QuietHours(dt.time(int(a[1]), int(a[2])), dt.time(int(b[1]), int(b[2])))
    if window.start == window.end:
        raise ValueError(f"{value!r}: the window starts and ends at the same time")
    return window


def parse_cap(value: Any) -> FrequencyCap:
    """A :class:`FrequencyCap`, a ``(count, days)`` pair or ``"2/7d"``: at most 2 messages
    in 7 days."""
    if isinstance(value, FrequencyCap):
        count, days = value.count, value.days
    elif isinstance(value, tuple | list) and len(value) == 2:
        count, days = value
    elif isinstance(value, str) and (m := _CAP.fullmatch(value)):
        count, days = int(m[1]), int(m[2])
    else:
        raise ValueError(f"{value!r}: write a cap as COUNT/DAYS (2/7d: two in seven days)")
    if not (isinstance(count, int) and isinstance(days, int)) or isinstance(count, bool):
        raise ValueError("a cap's count and days must be whole numbers")
    if not 1 <= count <= MAX_CAP_COUNT or not 1 <= days <= MAX_CAP_DAYS:
        raise ValueError(f"a cap allows 1 to {MAX_CAP_COUNT} messages in 1 to {MAX_CAP_DAYS} days")
    return FrequencyCap(count, days)


def _hhmm(value: str | None) -> dt.time | None:
    return None if value is None else dt.time(int(value[:2]), int(value[3:5]))


def read_preferences(party_id: int, row: Any, purposes: Sequence[Any]) -> Preferences:
    """From the rows (ORM objects or Core rows: the same attribute names)."""
    start, end = (_hhmm(row.quiet_start), _hhmm(row.quiet_end)) if row else (None, None)
    return Preferences(
        party_id=party_id,
        language=row.language if row else None,
        time_zone=row.time_zone if row else None,
        quiet_hours=QuietHours(start, end) if start and end else None,
        channels={p.purpose: p.channel for p in purposes if p.channel},
        caps={
            p.purpose: FrequencyCap(p.cap_count, p.cap_days)
            for p in purposes
            if p.cap_count is not None and p.cap_days is not None
        },
    )


def preferences_of(db: Any, parties: list[int]) -> dict[int, Preferences]:
    """The preferences of many parties: two statements (the bulk paths)."""
    # Core rows (the same attribute names): the session's identity map stays empty
    table, per_purpose = PreferenceRow.__table__, PurposePreferenceRow.__table__
    rows = {r.party_id: r for r in db.execute(
        select(table).where(table.c.party_id.in_(parties)))}  # fmt: skip
    purposes: dict[int, list[Any]] = {}
    for row in db.execute(
        select(per_purpose)
        .where(per_purpose.c.party_id.in_(parties))
        .order_by(per_purpose.c.party_id, per_purpose.c.purpose)
    ):
        purposes.setdefault(row.party_id, []).append(row)
    return {p: read_preferences(p, rows.get(p), purposes.get(p, [])) for p in parties}


@checked_methods("preferences", {"get": READ, "set": WRITE})
class PreferenceService:
    """``s.preferences``: a party's language, time zone, quiet hours, and per purpose its
    preferred channel and frequency cap."""

    def __init__(self, ctx: UnitOfWork) -> None:
        self._ctx = ctx

    def get(self, party: PartyRef) -> Preferences:
        """The party's preferences (of the party it was merged into, if it was)."""
        row = self._ctx.party_row(party, live=False, reading=True)
        seen = {row.id}
        while row.merged_into_id is not None and row.merged_into_id not in seen:
            seen.add(row.merged_into_id)
            row = self._ctx.party_row(row.merged_into_id, live=False, reading=True)
        return self._read(row.id)

    def set(
        self,
        party: PartyRef,
        *,
        language: str | None = _UNSET,
        time_zone: str | None = _UNSET,
        quiet_hours: str | None = _UNSET,
        channels: Mapping[str, Any] | None = None,
        caps: Mapping[str, Any] | None = None,
    ) -> Preferences:
        """Change what is given and keep the rest: ``None`` clears a value.
        ``quiet_hours`` is ``"21:00-08:00"`` (``str(QuietHours(...))``). ``channels``
        maps a purpose to its preferred channel (``None``: no preference), ``caps`` a
        purpose to a cap (``"2/7d"``, ``(2, 7)``, a :class:`FrequencyCap`; ``None``: no
        cap). Purposes and channels must be registered. One ``party.preferences_changed``
        event records what changed, on the party's timeline."""
        ctx = self._ctx
        errors: list[FieldError] = []
        fields: dict[str, Any] = {}
        if language is not _UNSET:
            fields["language"] = _check(parse_language, language, "language", errors)
        if time_zone is not _UNSET:
            fields["time_zone"] = _check(parse_time_zone, time_zone, "time_zone", errors)
        if quiet_hours is not _UNSET:
            window = _check(parse_quiet_hours, quiet_hours, "quiet_hours", errors)
            fields["quiet_start"] = f"{window.start:%H:%M}" if window else None
            fields["quiet_end"] = f"{window.end:%H:%M}" if window else None
        registry = ctx.registry
        wanted: dict[str, dict[str, Any]] = {}
        for purpose, channel in (channels or {}).items():
            path = f"channels.{purpose}"
            known_purpose = self._purpose_known(purpose, path, errors)
            if channel is not None and not isinstance(channel, str):
                errors.append(FieldError(path, "must be a channel name or None"))
            elif known_purpose and channel is not None and channel not in registry.channels:
                known = ", ".join(sorted(registry.channels))
                errors.append(FieldError(path, f"unknown channel {channel!r} ({known})"))
            wanted.setdefault(purpose, {})["channel"] = channel
        for purpose, value in (caps or {}).items():
            path = f"caps.{purpose}"
            self._purpose_known(purpose, path, errors)
            cap = _check(parse_cap, value, path, errors)
            wanted.setdefault(purpose, {}).update(
                cap_count=cap.count if cap else None, cap_days=cap.days if cap else None
            )
        if errors:
            raise ValidationError(errors)
        with ctx.atomic():
            row = ctx.lock_party(party)
            before = self._read(row.id)
            now = utcnow()
            if fields:
                self._write_row(row.id, fields, now)
            for purpose, values in wanted.items():
                self._write_purpose(row.id, purpose, values, now)
            ctx.db.flush()
            after = self._read(row.id)
            changes = _changes(before, after)
            if changes:
                ctx.record(PreferencesChanged(entity_id=row.id, parties=(row.id,), changes=changes))
            return after

    # -- private -------------------------------------------------------------------------
    def _read(self, party_id: int) -> Preferences:
        return preferences_of(self._ctx.db, [party_id])[party_id]

    def _purpose_known(self, purpose: str, path: str, errors: list[FieldError]) -> bool:
        purposes = self._ctx.registry.purposes
        if purpose in purposes:
            return True
        known = ", ".join(sorted(purposes))
        errors.append(FieldError(path, f"unknown purpose {purpose!r} ({known})"))
        return False

    def _write_row(self, party_id: int, fields: dict[str, Any], now: dt.datetime) -> None:
        db = self._ctx.db
        row = db.get(PreferenceRow, party_id)
        if row is None:
            row = PreferenceRow(party_id=party_id, updated_at=now)
            db.add(row)
        for key, value in fields.items():
            setattr(row, key, value)
        row.updated_at = now
        if row.language is None and row.time_zone is None and row.quiet_start is None:
            _forget(db, row)  # nothing stated: no row

    def _write_purpose(
        self, party_id: int, purpose: str, values: dict[str, Any], now: dt.datetime
    ) -> None:
        db = self._ctx.db
        row = db.get(PurposePreferenceRow, (party_id, purpose))
        if row is None:
            row = PurposePreferenceRow(party_id=party_id, purpose=purpose, updated_at=now)
            db.add(row)
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now
        if row.channel is None and row.cap_count is None:
            _forget(db, row)


def _forget(db: Any, row: Any) -> None:
    """No row for what states nothing: one just added is dropped, a stored one deleted."""
    if row in db.new:
        db.expunge(row)
    else:
        db.delete(row)


def _check(parse: Any, value: Any, path: str, errors: list[FieldError]) -> Any:
    if value is None:
        return None
    try:
        return parse(value)
    except ValueError as exc:
        errors.append(FieldError(path, str(exc)))
        return None


def _changes(before: Preferences, after: Preferences) -> dict[str, Any]:
    """``{field: {"from": ..., "to": ...}}`` over the JSON shapes, per purpose for the
    channels and caps (``channels.marketing``)."""
    a, b = before.as_json(), after.as_json()
    changes: dict[str, Any] = {}
    for key in ("language", "time_zone", "quiet_hours"):
        if a[key] != b[key]:
            changes[key] = {"from": a[key], "to": b[key]}
    for group in ("channels", "caps"):
        for purpose in sorted(set(a[group]) | set(b[group])):
            old, new = a[group].get(purpose), b[group].get(purpose)
            if old != new:
                changes[f"{group}.{purpose}"] = {"from": old, "to": new}
    return changes


def delete_preferences(ctx: UnitOfWork, parties: list[int]) -> int:
    """Remove the preferences of ``parties`` (erasure): how many rows went."""
    db = ctx.db
    gone = db.execute(delete(PreferenceRow).where(PreferenceRow.party_id.in_(parties)))
    more = db.execute(
        delete(PurposePreferenceRow).where(PurposePreferenceRow.party_id.in_(parties))
    )
    return int(gone.rowcount or 0) + int(more.rowcount or 0)  # type: ignore[attr-defined]


_PARTY_FIELDS = ("language", "time_zone", "quiet_start", "quiet_end")


def carry_preferences(db: Any, survivor: int, duplicate: int, now: dt.datetime) -> dict[str, Any]:
    """A merge: the survivor keeps what it stated and takes from the duplicate what it
    did not (a language, a time zone, quiet hours; a purpose's channel and cap). The
    duplicate's own rows stay with it. Returns what :func:`uncarry_preferences` undoes."""
    mine, theirs = db.get(PreferenceRow, survivor), db.get(PreferenceRow, duplicate)
    stamp = mine.updated_at.isoformat() if mine is not None else None
    filled: dict[str, Any] = {}
    created = False
    if theirs is not None:
        quiet_known = mine is not None and mine.quiet_start is not None
        for field in _PARTY_FIELDS:
            value = getattr(theirs, field)
            if value is None or (field.startswith("quiet") and quiet_known):
                continue
            if mine is None:
                mine = PreferenceRow(party_id=survivor, updated_at=now)
                db.add(mine)
                created = True
            if getattr(mine, field) is None:
                setattr(mine, field, value)
                filled[field] = value
        if mine is not None and filled:
            mine.updated_at = now
    P = PurposePreferenceRow
    have = set(db.scalars(select(P.purpose).where(P.party_id == survivor)))
    copied: list[str] = []
    for row in db.scalars(select(P).where(P.party_id == duplicate).order_by(P.purpose)):
        if row.purpose not in have:
            db.add(P(party_id=survivor, purpose=row.purpose, channel=row.channel,
                     cap_count=row.cap_count, cap_days=row.cap_days, updated_at=now))  # fmt: skip
            copied.append(row.purpose)
    db.flush()
    return {"filled": filled, "created": created, "purposes": copied, "updated_at": stamp}


def uncarry_preferences(db: Any, survivor: int, undo: Mapping[str, Any] | None) -> None:
    """An unmerge: take back what :func:`carry_preferences` gave the survivor, where the
    survivor has not changed it since."""
    if not undo:
        return
    P = PurposePreferenceRow
    if undo["purposes"]:
        db.execute(delete(P).where(P.party_id == survivor, P.purpose.in_(undo["purposes"])))
    row = db.get(PreferenceRow, survivor)
    if row is not None:
        for field, value in undo["filled"].items():
            if getattr(row, field) == value:
                setattr(row, field, None)
        if all(getattr(row, f) is None for f in _PARTY_FIELDS):
            db.delete(row)
        elif undo["filled"] and undo.get("updated_at"):
            row.updated_at = dt.datetime.fromisoformat(undo["updated_at"])
    db.flush()
