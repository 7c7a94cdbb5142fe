"""``s.imports``: bring parties in from files and other systems, recognising the known
ones, one record at a time or in bulk."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from xrm.core._args import checked_methods
from xrm.core._gc import collector_paused
from xrm.core.access import WRITE
from xrm.core.consent.service import ConsentService
from xrm.core.gdpr._suppression import Suppressions
from xrm.core.imports.bulk import import_batch
from xrm.core.imports.importer import import_party
from xrm.core.inputs import ImportedParty, Outcome
from xrm.core.nouns.parties import PartyService
from xrm.core.nouns.preferences import PreferenceService
from xrm.core.nouns.roles import RoleService
from xrm.core.records import ImportResult
from xrm.core.uow import UnitOfWork, validate_model
from xrm.errors import ValidationError

__all__ = ["ImportService"]


@checked_methods("imports", {"import_one": WRITE, "import_many": WRITE})
class ImportService:
    """``s.imports``: the one-at-a-time and the bulk import, over the party, role,
    consent and preference services of the same unit of work."""

    def __init__(
        self,
        uow: UnitOfWork,
        parties: PartyService,
        roles: RoleService,
        consents: ConsentService,
        preferences: PreferenceService,
    ) -> None:
        self.uow = uow
        self.parties = parties
        self.roles = roles
        self.consents = consents
        self.preferences = preferences
        self.suppressions = Suppressions(uow)

    def import_one(self, record: ImportedParty | Mapping[str, Any]) -> tuple[Outcome, int]:
        """Create the party, or complete the one already known by one of its emails, phones
        or identifiers: missing contact points, identifiers, tags and roles are added, a
        consent is recorded unless the ledger's latest word for that scope is already it,
        and ``preferences`` fill what the party has not stated.
        All or nothing for the record. Returns what happened and the party id."""
        return import_party(self, record)

    def import_many(
        self, records: Iterable[ImportedParty | Mapping[str, Any]], *, first_line: int = 1
    ) -> list[ImportResult]:
        """Create or complete many parties at once: the bulk path of ``xrm import``.

        Each record is a mapping with the fields of an ``xrm import`` JSON Lines row
        (docs/cli.md: ``name``, ``emails``, ``phones``, ``contact_points``, ``identifiers``,
        ``tags``, ``roles``, ``consents``...) or an :class:`~xrm.ImportedParty`. A record
        whose email, phone or identifier belongs to a known party completes that party;
        the new parties are inserted together, with set-based statements. Same rules,
        journal and plugin hooks as the one-at-a-time services.

        Each record is all or nothing: a bad one comes back with its error (naming the
        field) and writes nothing, and the others go on. One :class:`~xrm.ImportResult`
        per record, in order, numbered from ``first_line``. Everything is written in this
        unit of work: for a large file, call this once per batch of about a thousand
        records, each batch in its own session, as ``xrm import`` does (memory then stays
        flat). Python's cyclic garbage collector is paused meanwhile (docs/performance.md).

        Recognition serialises on the match keys: a unit of work importing the same keys
        at the same time is waited for, and its parties are found (docs/reliability.md).
        When that wait ends in a deadlock or a lock timeout, :class:`~xrm.Conflict` is
        raised and the batch wrote nothing (``app.retrying`` runs it again).
        """
        if isinstance(first_line, bool) or not isinstance(first_line, int):
            raise ValidationError.single("first_line", "must be an integer")
        if isinstance(records, str | bytes | Mapping):
            raise ValidationError.single("records", "give an iterable of records, not one")
        results: dict[int, ImportResult] = {}
        rows: list[tuple[int, ImportedParty]] = []
        lines: list[int] = []
        with collector_paused():
            for line, record in enumerate(records, start=first_line):
                lines.append(line)
                if isinstance(record, ImportedParty):
                    rows.append((line, record))
                    continue
                data = dict(record) if isinstance(record, Mapping) else record
                try:
                    rows.append((line, validate_model(ImportedParty, data)))
                except ValidationError as exc:
                    results[line] = ImportResult(line, None, None, exc)
            for result in import_batch(self, rows):
                results[result.line] = result
        return [results[line] for line in lines]
