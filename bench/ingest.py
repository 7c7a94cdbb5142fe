"""W1: ingest parties through xrm's bulk path, and the same rows by hand through the driver.

Both sides read the same generated parties in batches; generating a batch is not timed,
everything after is (validation, normalisation, SQL, commit). The baseline writes the rows
xrm writes - the party, its email, phone and postal address, its roles and their first
transition, its consent records and one journal event per change with its party links -
but normalises keys the naive way (lower-case, digits only) and validates nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from bench.data import Spec, import_record, specs
from bench.plain import Plain, Target

__all__ = ["ingest_baseline", "ingest_library", "normalisation_cost"]

_JOURNAL_EVENT = (
    "INSERT INTO journal_event (id, type, entity, entity_id, occurred_at, recorded_at, actor, "
    "data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_JOURNAL_PARTY = "INSERT INTO journal_party (party_id, event_id, occurred_at) VALUES (?, ?, ?)"
_PARTY = (
    "INSERT INTO party (id, kind, display_name, name_key, given_name, family_name, birth_date, "
    "attributes, merged_into_id, created_at, updated_at, version) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, 1)"
)
_POINT = (
    "INSERT INTO contact_point (id, party_id, kind, value, key, label, country, data, "
    "is_primary, suppressed, created_at) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)"
)
_ROLE = (
    "INSERT INTO role (id, party_id, type, state, attributes, started_at, ended_at, version) "
    "VALUES (?, ?, ?, ?, ?, ?, NULL, 1)"
)
_TRANSITION = (
    "INSERT INTO role_transition (id, role_id, from_state, to_state, at, note) "
    "VALUES (?, ?, NULL, ?, ?, NULL)"
)
_CONSENT = (
    "INSERT INTO consent_record (id, party_id, purpose, scope, channel, contact_kind, "
    "contact_key, contact_point_id, decision, captured_at, effective_from, expires_at, "
    "confirmed_at, source, recorded_by, evidence, recorded_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, NULL, ?, ?, NULL, ?)"
)
TABLES = ("party", "contact_point", "role", "role_transition", "consent_record",
          "journal_event")  # fmt: skip


def normalisation_cost(count: int = 3000) -> dict[str, float]:
    """Microseconds per party for the validation and normalisation xrm does in Python,
    one step at a time, on the first ``count`` generated parties."""
    from xrm.core.imports.importer import ImportedParty
    from xrm.core.normalize import address_key, email_key, phone_key

    group = list(specs(0, count))
    records = [import_record(s) for s in group]
    steps: dict[str, float] = {}
    start = time.perf_counter()
    for record in records:
        ImportedParty.model_validate(record)
    steps["ImportedParty.model_validate"] = time.perf_counter() - start
    start = time.perf_counter()
    for s in group:
        email_key(s.email)
    steps["email_key"] = time.perf_counter() - start
    start = time.perf_counter()
    for s in group:
        phone_key(s.phone)
    steps["phone_key"] = time.perf_counter() - start
    start = time.perf_counter()
    for s in group:
        a = s.address
        address_key([a.line], a.postcode, a.city, a.country)
    steps["address_key"] = time.perf_counter() - start
    return {name: round(seconds / count * 1e6, 1) for name, seconds in steps.items()}


def ingest_library(
    target: Target, size: int, batch: int, with_point_consents: bool = False
) -> dict[str, Any]:
    """``s.parties.import_many`` (validation, then ``import_batch``) in one unit of work
    per batch, as ``xrm import`` does.

    ``with_point_consents`` keeps the consents scoped to an email in the rows. Until
    99782de they made the whole batch fall back to one row at a time; they now go in the
    same batch as the others.
    """
    from xrm import XRM

    app = XRM(target.url)
    elapsed = 0.0
    outcomes: dict[str, int] = {}
    for start in range(0, size, batch):
        records = [import_record(s, with_point_consents=with_point_consents)
                   for s in specs(start, min(size, start + batch))]  # fmt: skip
        began = time.perf_counter()
        with app.session(actor="bench") as s:
            results = s.parties.import_many(records, first_line=start)
        elapsed += time.perf_counter() - began
        for result in results:
            if result.error is not None:
                raise AssertionError(f"row {result.line} refused: {result.error}")
            assert result.outcome is not None
            outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
    app.dispose()
    assert outcomes == {"created": size}, outcomes
    return {"parties": size, "seconds": elapsed, "per_second": size / elapsed, "batch": batch}


class _Ids:
    def __init__(self, db: Plain) -> None:
        self.next = {table: db.max_id(table) + 1 for table in TABLES}

    def take(self, table: str) -> int:
        ident = self.next[table]
        self.next[table] = ident + 1
        return ident


def _baseline_rows(
    db: Plain, group: list[Spec], ids: _Ids, now: dt.datetime, minimal: bool
) -> dict[str, list[tuple[Any, ...]]]:
    ts = db.ts
    stamp = ts(now)
    rows: dict[str, list[tuple[Any, ...]]] = {
        name: [] for name in (*TABLES, "journal_party")
    }  # fmt: skip
    party, points, roles, transitions, consents, events, links = rows.values()

    def event(kind: str, entity: str, entity_id: int, pid: int, data: Any, at: Any) -> None:
        event_id = ids.take("journal_event")
        events.append((event_id, kind, entity, entity_id, at, stamp, "bench", db.json(data)))
        links.append((pid, event_id, at))

    for s in group:
        pid = ids.take("party")
        party.append((pid, s.kind, s.name, s.name.lower(), s.given, s.family,
                      db.day(s.birth_date), "{}", stamp, stamp))  # fmt: skip
        email_key = s.email.strip().lower()
        phone_key = "+" + "".join(c for c in s.phone if c.isdigit())
        a = s.address
        postal_value = f"{a.line}\n{a.postcode} {a.city}\n{a.country}"
        postal_key = "|".join((a.country, a.postcode.replace(" ", "").lower(), a.city.lower(),
                               a.line.lower()))  # fmt: skip
        postal_data = db.json({"lines": [a.line], "postcode": a.postcode, "city": a.city,
                               "region": None, "country": a.country})  # fmt: skip
        points.append((ids.take("contact_point"), pid, "email", s.email, email_key, None, "{}",
                       True, False, stamp))  # fmt: skip
        points.append((ids.take("contact_point"), pid, "phone", s.phone, phone_key,
                       a.country, "{}", True, False, stamp))  # fmt: skip
        points.append((ids.take("contact_point"), pid, "postal", postal_value, postal_key,
                       a.country, postal_data, True, False, stamp))  # fmt: skip
        if minimal:
            continue
        event("party.created", "party", pid, pid, {
            "kind": s.kind, "display_name": s.name,
            "contact_points": [{"kind": "email", "value": s.email},
                               {"kind": "phone", "value": s.phone},
                               {"kind": "postal", "value": postal_value}],
            "identifiers": [], "tags": [],
        }, stamp)  # fmt: skip
        for role_type, state, given in s.roles:
            values = dict(given)
            if role_type == "customer":
                values["customer_number"] = f"C{pid:07d}"
            role_id = ids.take("role")
            roles.append((role_id, pid, role_type, state, db.json(values), stamp))
            transitions.append((ids.take("role_transition"), role_id, state, stamp))
            event("role.assigned", "role", role_id, pid,
                  {"type": role_type, "state": state, "attributes": values, "note": None},
                  stamp)  # fmt: skip
        for c in s.consents:
            if c.on_email:
                continue  # written by bench.build, as for import_batch
            consent_id = ids.take("consent_record")
            captured = ts(c.captured_at)
            scope, channel = ("channel", c.channel) if c.channel else ("all", None)
            text = f"channel {c.channel}" if c.channel else "all channels"
            consents.append((consent_id, pid, c.purpose, scope, channel, None, None, c.decision,
                             captured, captured, ts(c.expires_at), "crm_migration", "bench",
                             stamp))  # fmt: skip
            event(f"consent.{c.decision}", "consent_record", consent_id, pid, {
                "purpose": c.purpose, "scope": text, "source": "crm_migration",
                "evidence": None, "effective_from": c.captured_at.isoformat(),
                "expires_at": c.expires_at.isoformat() if c.expires_at else None,
                "confirmed_at": None,
            }, captured)  # fmt: skip
    return rows


def ingest_baseline(target: Target, size: int, batch: int, minimal: bool = False) -> dict[str, Any]:
    """The same parties as hand-written ``INSERT``s, one ``executemany`` per table and
    batch, ids allocated up front, one transaction per batch.

    ``minimal`` writes only the party and its three contact points: the shape of the
    issue's reference figures (no roles, consents or journal)."""
    db = Plain(target)
    ids = _Ids(db)
    statements = {
        "party": _PARTY, "contact_point": _POINT, "role": _ROLE,
        "role_transition": _TRANSITION, "consent_record": _CONSENT,
        "journal_event": _JOURNAL_EVENT, "journal_party": _JOURNAL_PARTY,
    }  # fmt: skip
    elapsed = 0.0
    for start in range(0, size, batch):
        group = list(specs(start, min(size, start + batch)))
        began = time.perf_counter()
        rows = _baseline_rows(db, group, ids, dt.datetime.now(dt.UTC), minimal)
        db.begin()
        for table, statement in statements.items():
            if rows[table]:
                db.executemany(statement, rows[table])
        db.commit()
        elapsed += time.perf_counter() - began
    db.sync_sequences(TABLES)
    db.close()
    return {"parties": size, "seconds": elapsed, "per_second": size / elapsed, "batch": batch}
