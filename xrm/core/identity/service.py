"""Recognise a party at every touchpoint: ``s.identity``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from sqlalchemy import and_, bindparam, select

from xrm.core._args import checked_methods
from xrm.core._lean import Prepared
from xrm.core.access import MERGE, READ
from xrm.core.identity.dedupe import CandidatePair, MatchRule, find_pairs, iter_pairs
from xrm.core.identity.merge import MergePlan, MergeService, Side, Unmerged
from xrm.core.models import InteractionRow, ParticipantRow, PartyRow
from xrm.core.nouns.parties import PartyService
from xrm.core.nouns.relationships import RelationshipService
from xrm.core.records import Party
from xrm.core.uow import PartyRef, UnitOfWork
from xrm.errors import Conflict, ValidationError

__all__ = ["IdentityService"]

_AGENTS = ("agent", "author", "organizer")

#: the parties behind an interaction's external reference (not the company's agents)
_BY_REF = Prepared(
    select(ParticipantRow.party_id)
    .join(InteractionRow, InteractionRow.id == ParticipantRow.interaction_id)
    .where(
        InteractionRow.external_ref == bindparam("ref"),
        ParticipantRow.role.not_in(_AGENTS),
        # the company's side: the sender of what it sends, the recipient of what it receives
        ~and_(InteractionRow.direction == "outbound", ParticipantRow.role == "sender"),
        ~and_(InteractionRow.direction == "inbound", ParticipantRow.role == "recipient"),
    )
)
_MERGED_INTO = Prepared(select(PartyRow.merged_into_id).where(PartyRow.id == bindparam("id")))


@checked_methods(
    "identity",
    {
        "resolve": READ,
        "duplicates": READ,
        "iter_duplicates": READ,
        "merge": MERGE,
        "unmerge": MERGE,
    },
)
class IdentityService:
    """``s.identity``: who is this, from whatever the touchpoint knows."""

    def __init__(
        self, uow: UnitOfWork, parties: PartyService, relationships: RelationshipService
    ) -> None:
        self._ctx = uow
        self._parties = parties
        self._merges = MergeService(uow, parties, relationships)

    def resolve(
        self,
        *,
        email: str | None = None,
        phone: str | None = None,
        region: str | None = None,
        identifier: tuple[str, str] | None = None,
        external_ref: str | None = None,
    ) -> Party | None:
        """The party behind an email, a phone number, an identifier or the external
        reference of an interaction (a message id, a call id: the party contacted or
        contacting, not the company's agent), following merges; ``None`` if unknown.

        Every key given must lead to the same party: keys that point at different parties
        raise :class:`~xrm.Conflict` naming them (merge them first). Each key is one index
        look-up: emails and phones by match key (``XRM(email_rules=...)`` and
        ``default_region`` apply), identifiers by scheme and canonical value.
        """
        if email is None and phone is None and identifier is None and external_ref is None:
            raise ValidationError.single("", "give an email, a phone, an identifier or a ref")
        parties = self._parties
        # the holders of the keys, each with the party it was merged into: one index look-up
        holders: dict[int, int | None] = {}
        if email is not None or phone is not None or identifier is not None:
            holders = dict(parties.holders(email, phone, region, identifier))
        ids = set(holders)
        if external_ref is not None:
            conn = self._ctx.db.connection()
            ids.update(r[0] for r in _BY_REF.rows(conn, {"ref": external_ref.strip()}))
        # merges are rare: a holder merged into none is its own survivor
        survivors = {i if i in holders and holders[i] is None else self._survivor(i) for i in ids}
        if not survivors:
            return None
        if len(survivors) > 1:
            listed = ", ".join(map(str, sorted(survivors)))
            raise Conflict(f"these details belong to different parties ({listed}): merge them")
        return parties.get(survivors.pop())

    def duplicates(
        self,
        *,
        kinds: Iterable[str] | None = None,
        rules: Iterable[MatchRule] | None = None,
        review_threshold: float | None = None,
        auto_threshold: float | None = None,
        limit: int | None = None,
    ) -> list[CandidatePair]:
        """Candidate duplicate pairs, each with its score, verdict (definite, probable,
        review) and the fields that agreed or disagreed; see docs/identity.md. Rules
        default to xrm's plus every plugin's (``xrm_match_rules``)."""
        return find_pairs(
            self._ctx, kinds=kinds, rules=rules, review_threshold=review_threshold,
            auto_threshold=auto_threshold, limit=limit,
        )  # fmt: skip

    def iter_duplicates(
        self,
        *,
        kinds: Iterable[str] | None = None,
        rules: Iterable[MatchRule] | None = None,
        review_threshold: float | None = None,
        auto_threshold: float | None = None,
    ) -> Iterator[CandidatePair]:
        """The pairs of :meth:`duplicates`, one at a time and unsorted (by the first
        party's id, then the second's), without holding them all: for a search that
        reports millions of pairs."""
        return iter_pairs(
            self._ctx, kinds=kinds, rules=rules, review_threshold=review_threshold,
            auto_threshold=auto_threshold,
        )  # fmt: skip

    def merge(
        self,
        survivor: PartyRef,
        duplicate: PartyRef,
        *,
        prefer: Side | Mapping[str, Side] = "survivor",
        dry_run: bool = False,
        force: bool = False,
    ) -> MergePlan:
        """Merge ``duplicate`` into ``survivor``: contact points (one per match key),
        identifiers, tags, roles (two current roles of a type: the ``prefer``-red one stays
        current, the other is ended), relationships (never a duplicate, a self-link or
        more than a type's cap: those stay), interaction participations, the timeline and
        plugins' data (``xrm_parties_merged``). The duplicate stays, merged into the
        survivor, and its id resolves to it. Consent is never widened: each point keeps
        answering to the ledger it had. ``prefer`` ("survivor" or "duplicate", for all or
        per field of :data:`~xrm.core.identity.merge.PREFERABLE`) says whose value wins; an empty
        field is always filled. ``dry_run=True`` returns the plan and changes nothing.
        One ``party.merged`` journal event records everything moved: see :meth:`unmerge`.

        Two parties that hold different values of one identifier scheme (two VAT
        numbers), or two organisations whose names clearly differ, are refused with a
        ``Conflict`` naming why, unless ``force=True``; the plan (a dry run too) lists
        them in ``conflicts``.
        """
        return self._merges.merge(survivor, duplicate, prefer=prefer, dry_run=dry_run, force=force)

    def unmerge(self, duplicate: PartyRef) -> Unmerged:
        """Undo the last merge of ``duplicate``, from its ``party.merged`` journal event:
        every row that moved goes back, the survivor's fields come back (unless it was
        edited since) and the duplicate is a party of its own again. What was added to the
        survivor after the merge stays with it."""
        return self._merges.unmerge(duplicate)

    def _survivor(self, party_id: int) -> int:
        """Follow ``merged_into`` to the party that holds this one's history now."""
        conn = self._ctx.db.connection()
        seen = {party_id}
        current = party_id
        while True:
            found = _MERGED_INTO.rows(conn, {"id": current})
            nxt = found[0][0] if found else None
            if nxt is None or nxt in seen:
                return current
            seen.add(nxt)
            current = nxt
