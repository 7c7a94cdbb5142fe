"""Duplicate detection: match rules as data, blocking, and scored candidate pairs.

Three kinds of rule, all immutable attrs values that a plugin may return from the
``xrm_match_rules`` hook:

* :class:`ExactRule` - parties sharing a normalised value (an email key, a phone in E.164,
  an identifier) are the same party: verdict ``definite``.
* :class:`FuzzyRule` - a field compared with a similarity measure (Jaro-Winkler, token sort,
  Levenshtein, dates) adds a weight to the pair's score: a positive one when the field
  agrees, a negative one when it disagrees, a linear share in between. The score is read
  against two thresholds: ``auto`` (verdict ``probable``, safe to link) and ``review``.
* :class:`BlockingRule` - which pairs are compared at all: parties whose blocking key is
  equal (``window=1``) or sorts near (a sorted neighbourhood over ``window`` distinct keys).
  Exact rules block on their own values, so blocking never loses an exact pair.

:func:`find_duplicates` reads the columns the rules need with a few streamed queries,
builds the blocks in Python and scores each candidate pair once: the cost grows with the
number of parties times the block sizes, which the rules cap, never with its square.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, Protocol, TypeAlias, get_args

import attrs

from xrm.core._gc import collector_paused
from xrm.core.identity._match import (
    CONTACT_SHORT,
    NAMES,
    OTHER_FIELDS,
    PARTY_FIELDS,
    POSTAL_FIELDS,
    PREFIXES,
    Candidates,
    Scorer,
    Table,
    exact_pairs,
    load,
    soundex,
)
from xrm.core.uow import UnitOfWork
from xrm.errors import ConfigurationError, ValidationError

__all__ = [
    "DEFAULT_AUTO_THRESHOLD",
    "DEFAULT_REVIEW_THRESHOLD",
    "DEFAULT_RULES",
    "THRESHOLD_BASE_PARTIES",
    "BlockingRule",
    "CandidatePair",
    "Comparator",
    "ExactRule",
    "FieldComparison",
    "FuzzyRule",
    "KeyPart",
    "MatchRule",
    "Transform",
    "Verdict",
    "default_thresholds",
    "find_duplicates",
    "find_pairs",
    "iter_duplicates",
    "iter_pairs",
    "soundex",
]

Verdict = Literal["definite", "probable", "review"]
#: how a :class:`FuzzyRule` compares two values, each a similarity from 0 to 1
Comparator = Literal[
    "exact", "jaro_winkler", "levenshtein", "damerau", "token_sort", "token_set",
    "token_set_spaced", "date", "given_name",
]  # fmt: skip
#: how a :class:`KeyPart` turns a field value into (part of) a blocking key
Transform = Literal[
    "exact", "soundex", "initial", "prefix2", "prefix3", "year", "sorted_tokens", "reversed"
]
Outcome = Literal["agree", "partial", "disagree"]

_NAME = re.compile(r"[a-z][a-z0-9_]*")

DEFAULT_AUTO_THRESHOLD = 15.0
DEFAULT_REVIEW_THRESHOLD = 8.0

_VERDICT_ORDER: dict[str, int] = {"definite": 0, "probable": 1, "review": 2}


# -- rules -------------------------------------------------------------------------------
def _check_rule_name(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ValueError(
            f"{type(instance).__name__}.{attribute.name} must be lower_snake_case, got {value!r}"
        )


def _is_field(name: object) -> bool:
    if not isinstance(name, str):
        return False
    if name in PARTY_FIELDS | POSTAL_FIELDS | CONTACT_SHORT | OTHER_FIELDS:
        return True
    return any(name.startswith(p) and len(name) > len(p) for p in PREFIXES)


def _check_field(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not _is_field(value):
        raise ValueError(
            f"{type(instance).__name__}.{attribute.name}: {value!r} is not a match field "
            "(name, given_name, family_name, birth_date, email, phone, url, social, "
            "postcode, city, street, house_number, country, identifier, organisation, "
            "contact:KIND, identifier:SCHEME or attribute:NAME)"
        )


def _check_fields(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    for field in value:
        _check_field(instance, attribute, field)


def _kinds(values: Iterable[str] | None) -> frozenset[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        return frozenset({values})
    return frozenset(values)


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return (values,) if isinstance(values, str) else tuple(values)


def _finite(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{type(instance).__name__}.{attribute.name} must be a finite number")


def _at_least(low: int) -> Callable[[object, attrs.Attribute[int], int], None]:
    def check(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{type(instance).__name__}.{attribute.name} must be >= {low}")

    return check


@attrs.frozen
class ExactRule:
    """Parties that share a value of ``field`` are one party: verdict ``definite``.

    ``field`` is a normalised key (``email``, ``phone``, ``identifier``,
    ``identifier:fr.siren``, ``contact:KIND``, ``attribute:NAME``); values are compared as
    stored, so two ways of writing one email meet on their key.
    """

    name: str = attrs.field(validator=_check_rule_name)
    field: str = attrs.field(validator=_check_field)
    #: party kinds the rule applies to (``None``: every kind)
    kinds: frozenset[str] | None = attrs.field(default=None, converter=_kinds)
    #: a value held by more parties than this identifies nobody (a switchboard number, a
    #: shared mailbox): it pairs no one
    max_group: int = attrs.field(default=25, validator=_at_least(2))
    #: when the pair's fuzzy score is below this, the verdict is ``review`` rather than
    #: ``definite`` (two people sharing a family email address); ``None``: never
    contradicted_below: float | None = None
    #: the fields whose rules make the score ``contradicted_below`` reads (``None``: every
    #: fuzzy rule). With the person's own fields (names, birth date), a shared landline
    #: at one address is judged on who holds it, not on the address it comes with; a
    #: pair that compares none of them is not contradicted
    contradicted_on: tuple[str, ...] | None = attrs.field(
        default=None, converter=attrs.converters.optional(_strings)
    )


@attrs.frozen
class FuzzyRule:
    """Compare ``field`` of two parties with ``compare`` and add a weight to their score.

    A similarity at or above ``agree_at`` adds ``agree``; at or below ``disagree_at`` it
    adds ``disagree`` (usually negative); in between, the linear share. A party without
    the field adds nothing: missing data is no evidence either way. With multi-valued
    fields (several addresses) the best-matching pair of values counts.
    """

    name: str = attrs.field(validator=_check_rule_name)
    field: str = attrs.field(validator=_check_field)
    compare: Comparator = attrs.field(validator=attrs.validators.in_(get_args(Comparator)))
    agree: float = attrs.field(validator=_finite)
    disagree: float = attrs.field(default=0.0, validator=_finite)
    agree_at: float = attrs.field(default=1.0, validator=_finite)
    disagree_at: float = attrs.field(default=0.0, validator=_finite)
    kinds: frozenset[str] | None = attrs.field(default=None, converter=_kinds)
    #: skip this rule when both parties have one of these fields, which other rules
    #: compare more finely (the whole name, when given and family names are known)
    unless_both: tuple[str, ...] = attrs.field(
        default=(), converter=_strings, validator=_check_fields
    )
    #: weigh an exact agreement by how common the value is in this database (a
    #: term-frequency adjustment, as in Fellegi-Sunter linkage): two parties agreeing on
    #: a name few others hold gain up to one point more, on a name many hold up to
    #: ``agree - 1`` less. Off below 1,000 values of the field in the base
    #: (docs/identity.md, "How common a name is")
    term_frequency: bool = attrs.field(default=False, validator=attrs.validators.instance_of(bool))

    def __attrs_post_init__(self) -> None:
        if not 0.0 <= self.disagree_at < self.agree_at <= 1.0:
            raise ValueError(
                f"FuzzyRule {self.name!r}: need 0 <= disagree_at < agree_at <= 1, got "
                f"{self.disagree_at} and {self.agree_at}"
            )

    def weight(self, similarity: float) -> float:
        """The score this rule adds for a similarity."""
        if similarity >= self.agree_at:
            return self.agree
        if similarity <= self.disagree_at:
            return self.disagree
        share = (similarity - self.disagree_at) / (self.agree_at - self.disagree_at)
        return self.disagree + (self.agree - self.disagree) * share

    def outcome(self, similarity: float) -> Outcome:
        if similarity >= self.agree_at:
            return "agree"
        return "disagree" if similarity <= self.disagree_at else "partial"


@attrs.frozen
class KeyPart:
    """One part of a blocking key: a field's value through a ``transform``."""

    field: str = attrs.field(validator=_check_field)
    transform: Transform = attrs.field(
        default="exact",
        validator=attrs.validators.in_(get_args(Transform)),
    )


def _key_parts(values: Iterable[KeyPart | str]) -> tuple[KeyPart, ...]:
    if isinstance(values, KeyPart | str):
        values = [values]
    return tuple(v if isinstance(v, KeyPart) else KeyPart(v) for v in values)


@attrs.frozen
class BlockingRule:
    """A blocking pass: which parties are compared at all.

    Each party gets a key made of ``key`` parts (a party missing a part gets none in this
    pass). With ``window=1`` parties with equal keys are compared; with ``window=w`` the
    distinct keys are sorted and each is compared with the next ``w - 1`` (a sorted
    neighbourhood, which catches a typo after the common prefix). A key held by more than
    ``max_block`` parties is skipped: it says too little to compare everyone in it.
    """

    name: str = attrs.field(validator=_check_rule_name)
    key: tuple[KeyPart, ...] = attrs.field(converter=_key_parts)
    window: int = attrs.field(default=1, validator=_at_least(1))
    max_block: int = attrs.field(default=50, validator=_at_least(2))
    kinds: frozenset[str] | None = attrs.field(default=None, converter=_kinds)

    def __attrs_post_init__(self) -> None:
        if not self.key:
            raise ValueError(f"BlockingRule {self.name!r} needs at least one key part")


#: what the ``xrm_match_rules`` hook returns and ``find_duplicates(rules=...)`` takes
MatchRule: TypeAlias = ExactRule | FuzzyRule | BlockingRule
MATCH_RULE_TYPES: tuple[type[Any], ...] = (ExactRule, FuzzyRule, BlockingRule)

_NAMES = NAMES
_PERSON = ("given_name", "family_name", "name", "birth_date")
DEFAULT_RULES: tuple[MatchRule, ...] = (
    # a shared mailbox or phone whose holders' names and birth dates clearly disagree is a
    # family or a switchboard, not one person: review it rather than link it
    # judged on the names and birth dates alone (an address agrees for a whole family):
    # two given names that disagree (-5 + 7 for the family name) make it a family's
    ExactRule("same_email", "email", contradicted_below=3.0, contradicted_on=_PERSON),
    ExactRule("same_phone", "phone", contradicted_below=3.0, contradicted_on=_PERSON),
    ExactRule("same_identifier", "identifier"),
    # two parties that both hold an email (or a phone) and share none are evidence against:
    # most people keep theirs, so namesakes in one town fall below auto-linking
    # (12 + 5 + 2 - 5 = 14). One typo still agrees (0: the exact rule decides), and a
    # party without one adds nothing
    FuzzyRule("other_email", "email", "damerau", 0.0, -5.0, 0.9, 0.6),
    FuzzyRule("other_phone", "phone", "damerau", 0.0, -5.0, 0.9, 0.6),
    # one typo in a name of five letters or more still agrees (Jaro-Winkler >= 0.9); a
    # family name changes at marriage, a given name far less often. In a large base, the
    # same name counts for less the more parties hold it (term frequency): namesakes in
    # one town fall below auto-linking, two holders of a rare name need less else to agree.
    # One name's forms for the two sexes (Michel/Michele, Julien/Julie) disagree: in one
    # household they are a husband and his wife, however alike the letters
    FuzzyRule("given_name", "given_name", "given_name", 5.0, -5.0, 0.9, 0.8,
              term_frequency=True),
    FuzzyRule("family_name", "family_name", "jaro_winkler", 7.0, -3.0, 0.9, 0.75,
              term_frequency=True),
    FuzzyRule("name", "name", "token_sort", 11.0, -6.0, 0.95, 0.7, unless_both=_NAMES,
              term_frequency=True),
    # a birth date typed with one wrong digit, two swapped, day and month the other way
    # round (0.9) or a day or year one away (0.8) still counts in part; any other (1956 and
    # 1986 for two Marie Moreau: the digits alone are 0.75 alike) is another date. One
    # (a date of another record, a default like 1900-01-01) is evidence against, not proof.
    # Two people rarely share a whole birth date: with one whole address it outweighs two
    # names that disagree (11 + 12 - 5 - 3 = 15), one person whose names were mistyped
    FuzzyRule("birth_date", "birth_date", "date", 11.0, -3.0, 1.0, 0.6),
    # people move: a different address is weak evidence, the same one strong. One whole
    # address (postcode, city, street, house number) adds 12: with a shared family name (+7)
    # and two given names that disagree (-5), one household scores 14, below auto-linking
    FuzzyRule("postcode", "postcode", "damerau", 5.0, -1.0, 1.0, 0.25),
    FuzzyRule("city", "city", "jaro_winkler", 2.0, -0.5, 0.95, 0.8),
    FuzzyRule("street", "street", "token_set_spaced", 4.0, -0.5, 0.8, 0.5),
    FuzzyRule("house_number", "house_number", "exact", 1.0, -1.0),
    FuzzyRule("organisation", "organisation", "exact", 3.0),
    BlockingRule(
        "family_birth_year", [KeyPart("family_name", "soundex"), KeyPart("birth_date", "year")]
    ),
    BlockingRule("given_postcode", [KeyPart("given_name", "soundex"), "postcode"]),
    BlockingRule("family_postcode", [KeyPart("family_name", "soundex"), "postcode"]),
    BlockingRule("birth_date", ["birth_date"], max_block=30),
    BlockingRule("family_given", ["family_name", "given_name"], window=3),
    BlockingRule("name_tokens", [KeyPart("name", "sorted_tokens")], window=3),
    BlockingRule("name_reversed", [KeyPart("name", "reversed")], window=3),
    BlockingRule("street", [KeyPart("street", "sorted_tokens")], window=3),
)  # fmt: skip


# -- results -----------------------------------------------------------------------------
@attrs.frozen
class FieldComparison:
    """How one field of a candidate pair compared."""

    rule: str
    field: str
    #: 0 (nothing alike) to 1 (equal)
    similarity: float
    #: what the comparison added to the score (0 for exact rules)
    weight: float
    outcome: Outcome
    #: the two values compared (the closest pair, for multi-valued fields)
    values: tuple[str, str]


@attrs.frozen
class CandidatePair:
    """Two parties that may be one, with the evidence."""

    #: the smaller party id
    left: int
    right: int
    kind: str
    score: float
    verdict: Verdict
    #: the exact rules the pair meets (a non-empty tuple makes it ``definite``, unless a
    #: rule's ``contradicted_below`` turned it to ``review``)
    exact: tuple[str, ...]
    #: every field compared, exact rules first, in rule order
    fields: tuple[FieldComparison, ...]
    #: given and family names were compared crosswise (written the other way round)
    names_swapped: bool = False

    @property
    def agreed(self) -> tuple[FieldComparison, ...]:
        return tuple(f for f in self.fields if f.outcome == "agree")

    @property
    def disagreed(self) -> tuple[FieldComparison, ...]:
        return tuple(f for f in self.fields if f.outcome == "disagree")


# -- the search --------------------------------------------------------------------------
def _rules_of(uow: UnitOfWork, rules: Iterable[MatchRule] | None) -> list[MatchRule]:
    """The rules of a search: the application's (``registry.match_rules``: xrm's defaults
    then the plugins', each checked when registered at start), or ``rules`` as given."""
    if rules is None:
        return list(uow.registry.match_rules)
    chosen = list(rules)
    seen: set[tuple[type[Any], str]] = set()
    for rule in chosen:
        if not isinstance(rule, MATCH_RULE_TYPES):
            raise ConfigurationError(f"{rule!r} is not an ExactRule, FuzzyRule or BlockingRule")
        key = (type(rule), rule.name)
        if key in seen:
            raise ConfigurationError(
                f"two {type(rule).__name__}s are named {rule.name!r} (rules= names one twice)"
            )
        seen.add(key)
    return chosen


def _threshold(value: float | None, default: float, name: str) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError.single(name, "must be a finite number")
    return float(value)


def find_pairs(
    uow: UnitOfWork,
    *,
    kinds: Iterable[str] | None = None,
    rules: Iterable[MatchRule] | None = None,
    review_threshold: float | None = None,
    auto_threshold: float | None = None,
    limit: int | None = None,
) -> list[CandidatePair]:
    """The pairs of live parties (not merged into another) that may be one party.

    ``rules`` replaces the rule set; by default it is :data:`DEFAULT_RULES` followed by
    every plugin's ``xrm_match_rules``. A pair that meets an :class:`ExactRule` is
    ``definite``; otherwise its fuzzy score (the sum of the :class:`FuzzyRule` weights)
    makes it ``probable`` from ``auto_threshold``, ``review`` from ``review_threshold``,
    and below that it is not reported. By default the thresholds are 15 and 8 up to
    10,000 parties searched and one point more per doubling beyond
    (:func:`default_thresholds`). Only parties of the same kind are paired; ``kinds``
    limits the search to some kinds.

    Returns the pairs definite first, then by decreasing score, then by party ids; at
    most ``limit`` of them (only those are held while searching). Reads only; writes
    nothing. :func:`iter_pairs` gives the same pairs one at a time, unsorted.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValidationError.single("limit", "must be a positive integer")
    pairs = iter_pairs(
        uow, kinds=kinds, rules=rules, review_threshold=review_threshold,
        auto_threshold=auto_threshold,
    )  # fmt: skip
    with collector_paused():  # see xrm.core._gc: a full collection over the pairs held
        if limit is not None:
            return heapq.nsmallest(limit, pairs, key=_rank)
        return sorted(pairs, key=_rank)


class _Session(Protocol):
    """A unit of work (``xrm.Session``), as the module-level functions take it."""

    @property
    def identity(self) -> _Identity: ...


class _Identity(Protocol):
    def duplicates(
        self,
        *,
        kinds: Iterable[str] | None = None,
        rules: Iterable[MatchRule] | None = None,
        review_threshold: float | None = None,
        auto_threshold: float | None = None,
        limit: int | None = None,
    ) -> list[CandidatePair]: ...

    def iter_duplicates(
        self,
        *,
        kinds: Iterable[str] | None = None,
        rules: Iterable[MatchRule] | None = None,
        review_threshold: float | None = None,
        auto_threshold: float | None = None,
    ) -> Iterator[CandidatePair]: ...


def find_duplicates(
    session: _Session,
    *,
    kinds: Iterable[str] | None = None,
    rules: Iterable[MatchRule] | None = None,
    review_threshold: float | None = None,
    auto_threshold: float | None = None,
    limit: int | None = None,
) -> list[CandidatePair]:
    """``session.identity.duplicates(...)``: the pairs of live parties that may be one
    party, definite first, then by decreasing score (see :func:`find_pairs`)."""
    return session.identity.duplicates(
        kinds=kinds, rules=rules, review_threshold=review_threshold,
        auto_threshold=auto_threshold, limit=limit,
    )  # fmt: skip


def iter_duplicates(
    session: _Session,
    *,
    kinds: Iterable[str] | None = None,
    rules: Iterable[MatchRule] | None = None,
    review_threshold: float | None = None,
    auto_threshold: float | None = None,
) -> Iterator[CandidatePair]:
    """``session.identity.iter_duplicates(...)``: the pairs one at a time, unsorted (see
    :func:`iter_pairs`)."""
    return session.identity.iter_duplicates(
        kinds=kinds, rules=rules, review_threshold=review_threshold,
        auto_threshold=auto_threshold,
    )  # fmt: skip


def _rank(pair: CandidatePair) -> tuple[int, float, int, int]:
    return (_VERDICT_ORDER[pair.verdict], -pair.score, pair.left, pair.right)


def iter_pairs(
    uow: UnitOfWork,
    *,
    kinds: Iterable[str] | None = None,
    rules: Iterable[MatchRule] | None = None,
    review_threshold: float | None = None,
    auto_threshold: float | None = None,
) -> Iterator[CandidatePair]:
    """The pairs of :func:`find_duplicates`, one at a time as they are found: by the id
    of the pair's first party, then of its second. Memory holds the columns the rules
    read and the blocks, never the pairs: for a search that reports millions of pairs
    (namesakes for review in a large base), write them out as they come.

    The arguments are checked and the parties read when this is called; the pairs are
    scored as they are taken.
    """
    wanted = _kinds(kinds)
    unknown = sorted((wanted or set()) - set(uow.registry.party_kinds))
    if unknown:
        raise ValidationError.single("kinds", f"unknown party kind {unknown[0]!r}")
    review_given = _threshold(review_threshold, DEFAULT_REVIEW_THRESHOLD, "review_threshold")
    auto_given = _threshold(auto_threshold, DEFAULT_AUTO_THRESHOLD, "auto_threshold")
    if review_given > auto_given and review_threshold is not None and auto_threshold is not None:
        raise ValidationError.single("review_threshold", "must not exceed auto_threshold")
    chosen = _rules_of(uow, rules)
    exact = {r.name: r for r in chosen if isinstance(r, ExactRule)}
    fuzzy = [r for r in chosen if isinstance(r, FuzzyRule)]
    blocking = [r for r in chosen if isinstance(r, BlockingRule)]
    fields = {r.field for r in exact.values()} | {r.field for r in fuzzy}
    fields |= {f for r in fuzzy for f in r.unless_both}
    fields |= {p.field for r in blocking for p in r.key}
    if any(r.field in _NAMES for r in fuzzy):
        fields |= set(_NAMES)  # to see swapped names
    uow.db.flush()  # the parties of this unit of work too: read below without the ORM
    with collector_paused():
        table = load(uow.db.connection(), fields, wanted)
        auto_default, review_default = default_thresholds(len(table.ids))
        # a default never crosses the threshold given: the review one stays below auto
        auto = auto_given if auto_threshold is not None else auto_default
        review = review_given if review_threshold is not None else min(review_default, auto)
        if auto_threshold is None:
            auto = max(auto, review)
        if review > auto:
            raise ValidationError.single("review_threshold", "must not exceed auto_threshold")
        scorer = Scorer(table, fuzzy)
        candidates = Candidates(table, blocking, exact_pairs(table, list(exact.values())))
    return _scored(table, scorer, candidates, exact, review, auto)


#: the base size of :func:`default_thresholds`: up to this many parties searched, the
#: thresholds are :data:`DEFAULT_AUTO_THRESHOLD` and :data:`DEFAULT_REVIEW_THRESHOLD`
THRESHOLD_BASE_PARTIES = 10_000


def default_thresholds(parties: int) -> tuple[float, float]:
    """The default ``(auto, review)`` thresholds of a search over ``parties`` parties:
    15 and 8 up to :data:`THRESHOLD_BASE_PARTIES`, then one point more per doubling.

    The same evidence says less in a larger base: the chance that some other party
    agrees with a record on a name and a town grows with the number of parties (the
    prior odds of a match fall as one over it), so the score a link needs grows with its
    logarithm, as a Fellegi-Sunter match probability would. Measured on the French
    generator of ``bench/linkage.py``: at 100,000 parties a fixed 15 links with precision
    0.957, the scaled 18.3 with 0.988."""
    extra = max(0.0, math.log2(max(parties, 1) / THRESHOLD_BASE_PARTIES))
    return (round(DEFAULT_AUTO_THRESHOLD + extra, 2), round(DEFAULT_REVIEW_THRESHOLD + extra, 2))


def _scored(table: Table, scorer: Scorer, candidates: Candidates, exact: dict[str, ExactRule],
            review: float, auto: float) -> Iterator[CandidatePair]:  # fmt: skip
    kinds_of, exact_hits = table.kinds, candidates.exact
    for i, later in candidates:
        kind = kinds_of[i]  # blocks and exact groups are per kind: j is of the same kind
        later.sort()  # parties are numbered in id order: the second party's id order
        mine = exact_hits.get(i) or {}
        floors = (
            [-math.inf if j in mine else review for j in later] if mine else [review] * len(later)
        )
        for j, raw, swapped in scorer.score(i, later, kind, floors):
            hits = mine.get(j)
            score = round(raw, 2)
            verdict: Verdict
            if hits:
                doubted = all(
                    _contradicted(exact[h], scorer, i, j, kind, score, swapped) for h in hits
                )
                verdict = "review" if doubted else "definite"
            elif score >= auto:
                verdict = "probable"
            elif score >= review:
                verdict = "review"
            else:
                continue
            yield _pair(table, scorer, exact, hits or [], i, j, score, verdict, swapped)


def _contradicted(rule: ExactRule, scorer: Scorer, i: int, j: int, kind: str, score: float,
                  swapped: bool) -> bool:  # fmt: skip
    """Do the pair's other fields say the value the exact rule found is shared by two?"""
    limit = rule.contradicted_below
    if limit is None:
        return False
    if rule.contradicted_on is None:
        return score < limit
    fields = rule.contradicted_on
    weights = [w for r, _s, _x, _y, w in scorer.explain(i, j, kind, swapped) if r.field in fields]
    return bool(weights) and round(sum(weights), 2) < limit


def _pair(table: Table, scorer: Scorer, exact: dict[str, ExactRule], hits: list[str], i: int,
          j: int, score: float, verdict: Verdict, swapped: bool) -> CandidatePair:  # fmt: skip
    """A reported pair with its evidence: the exact rules met, then every fuzzy rule."""
    comparisons = [_agreed_exactly(table, exact[h], i, j) for h in hits]
    for rule, sim, x, y, weight in scorer.explain(i, j, table.kinds[i], swapped):
        comparisons.append(FieldComparison(rule.name, rule.field, round(sim, 3),
                                           round(weight, 2), rule.outcome(sim),
                                           (x, y)))  # fmt: skip
    return CandidatePair(table.ids[i], table.ids[j], table.kinds[i], score, verdict,
                         tuple(hits), tuple(comparisons), swapped)  # fmt: skip


def _agreed_exactly(table: Table, rule: ExactRule, i: int, j: int) -> FieldComparison:
    column = table.values[rule.field]
    value = min(set(column[i]) & set(column[j]))
    return FieldComparison(rule.name, rule.field, 1.0, 0.0, "agree", (value, value))
