"""The consent decision rules for one party, in Python (docs/consent.md has them as a
table); :mod:`xrm.core.consent.audience` states the same rules in SQL for every party at
once, and a property test keeps the two equal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import attrs

from xrm.core.events import JournalEvent, consent_event_of
from xrm.core.models import ConsentRecordRow
from xrm.core.records import ConsentRecord
from xrm.core.registry import LawfulBasis, Purpose

__all__ = [
    "DECISIONS",
    "NEGATIVE",
    "SCOPES",
    "PointFacts",
    "consent_event",
    "decide",
    "record_from_row",
]

DECISIONS = ("granted", "refused", "withdrawn", "objected")
NEGATIVE = frozenset({"refused", "withdrawn", "objected"})
#: most specific first
SCOPES = ("contact_point", "channel", "all")


@attrs.frozen
class PointFacts:
    """What the rules need to know of a contact point."""

    kind: str
    key: str
    suppressed: bool
    #: ``False``: a phone number kept as written though invalid, never contacted
    valid: bool = True


def _order(record: ConsentRecord) -> tuple[dt.datetime, int]:
    return (record.effective_from, record.id)


def _applies(record: ConsentRecord, channel: str, point: PointFacts | None) -> bool:
    if record.scope == "all":
        return True
    if record.scope == "channel":
        return record.channel == channel
    return (
        point is not None and record.contact_kind == point.kind and record.contact_key == point.key
    )


def decide(
    purpose: Purpose,
    channel: str,
    point: PointFacts | None,
    records: Sequence[ConsentRecord],
    at: dt.datetime,
    *,
    basis_holds: bool = True,
) -> tuple[bool, str, str, ConsentRecord | None]:
    """The decision rules, for one party: ``(allowed, rule, reason, deciding record)``.

    ``records`` are the party's ledger for ``purpose``, in any order.
    """
    if point is not None and point.suppressed:
        return False, "suppressed", f"the {point.kind} is suppressed: never contactable", None
    if point is not None and not point.valid:
        return False, "invalid", f"the {point.kind} is not a valid number: never contacted", None
    if purpose.basis in (LawfulBasis.CONTRACT, LawfulBasis.LEGAL_OBLIGATION):
        if not basis_holds:
            return (
                False,
                "basis_ended",
                f"the {purpose.basis.value} basis needs a current {purpose.requires_role!r} role"
                + (
                    f" in state {' or '.join(purpose.requires_states)}"
                    if purpose.requires_states
                    else ""
                ),
                None,
            )
        return True, purpose.basis.value, f"{purpose.basis.value}: always allowed", None
    latest: dict[str, ConsentRecord] = {}
    for record in records:
        if record.effective_from > at or not _applies(record, channel, point):
            continue
        held = latest.get(record.scope)
        if held is None or _order(record) > _order(held):
            latest[record.scope] = record
    ranked = [latest[s] for s in SCOPES if s in latest]
    if not ranked:
        if purpose.basis is LawfulBasis.LEGITIMATE_INTEREST:
            return True, "legitimate_interest", "legitimate interest, no objection recorded", None
        return False, "no_consent", "no consent recorded: opt-in required", None
    deciding = ranked[0]
    if deciding.decision == "granted":
        beaters = [r for r in ranked[1:] if r.decision in NEGATIVE and _order(r) > _order(deciding)]
        if beaters:
            deciding = max(beaters, key=_order)
    when = deciding.effective_from.isoformat(timespec="seconds")
    scope = _scope_text(deciding)
    if deciding.decision in NEGATIVE:
        return False, deciding.decision, f"{deciding.decision} {when} ({scope})", deciding
    if purpose.basis is LawfulBasis.LEGITIMATE_INTEREST:
        return True, "granted", f"granted {when} ({scope})", deciding
    if deciding.expires_at is not None and deciding.expires_at <= at:
        expired = deciding.expires_at.isoformat(timespec="seconds")
        return False, "expired", f"the grant of {when} expired {expired} ({scope})", deciding
    if purpose.double_opt_in and (deciding.confirmed_at is None or deciding.confirmed_at > at):
        return False, "unconfirmed", f"the grant of {when} awaits double opt-in", deciding
    return True, "granted", f"granted {when} ({scope})", deciding


def consent_event(record: ConsentRecord) -> JournalEvent:
    """The journal event of a new ledger record, with its evidence."""
    return consent_event_of(record, _scope_text(record))


def _scope_text(record: ConsentRecord) -> str:
    if record.scope == "all":
        return "all channels"
    if record.scope == "channel":
        return f"channel {record.channel}"
    return f"{record.contact_kind} {record.contact_key}"


def record_from_row(row: ConsentRecordRow) -> ConsentRecord:
    return ConsentRecord(
        id=row.id,
        party_id=row.party_id,
        purpose=row.purpose,
        scope=row.scope,
        channel=row.channel,
        contact_kind=row.contact_kind,
        contact_key=row.contact_key,
        decision=row.decision,
        captured_at=row.captured_at,
        effective_from=row.effective_from,
        expires_at=row.expires_at,
        confirmed_at=row.confirmed_at,
        source=row.source,
        recorded_by=row.recorded_by,
        evidence=row.evidence,
        recorded_at=row.recorded_at,
    )
