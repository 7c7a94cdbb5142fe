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

import datetime as dt
import itertools
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, runtime_checkable

import attrs
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein
from sqlalchemy import or_, select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Executable

from xrm.core.models import ContactPointRow, IdentifierRow, PartyRow, RelationshipRow
from xrm.core.normalize import text_key
from xrm.errors import ConfigurationError, ValidationError

if TYPE_CHECKING:
    from xrm.app import Session

__all__ = [
    "DEFAULT_AUTO_THRESHOLD",
    "DEFAULT_REVIEW_THRESHOLD",
    "DEFAULT_RULES",
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
    "find_duplicates",
    "soundex",
]

Verdict = Literal["definite", "probable", "review"]
#: how a :class:`FuzzyRule` compares two values, each a similarity from 0 to 1
Comparator = Literal[
    "exact", "jaro_winkler", "levenshtein", "damerau", "token_sort", "token_set", "date"
]
#: how a :class:`KeyPart` turns a field value into (part of) a blocking key
Transform = Literal[
    "exact", "soundex", "initial", "prefix2", "prefix3", "year", "sorted_tokens", "reversed"
]
Outcome = Literal["agree", "partial", "disagree"]

_NAME = re.compile(r"[a-z][a-z0-9_]*")
#: fields read from the party row itself
_PARTY_FIELDS = frozenset({"name", "given_name", "family_name", "birth_date"})
#: fields read from postal contact points (``data``: lines, postcode, city; ``country``)
_POSTAL_FIELDS = frozenset({"postcode", "city", "street", "country"})
#: contact kinds that may be named without the ``contact:`` prefix
_CONTACT_SHORT = frozenset({"email", "phone", "url", "social"})
_PREFIXES = ("contact:", "identifier:", "attribute:")
_OTHER_FIELDS = frozenset({"identifier", "organisation"})

DEFAULT_AUTO_THRESHOLD = 15.0
DEFAULT_REVIEW_THRESHOLD = 8.0

#: rows read per round trip by the streamed queries
_CHUNK = 5000
#: a multi-valued field (several addresses) contributes at most this many blocking keys
_MAX_KEYS = 4
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
    if name in _PARTY_FIELDS | _POSTAL_FIELDS | _CONTACT_SHORT | _OTHER_FIELDS:
        return True
    return any(name.startswith(p) and len(name) > len(p) for p in _PREFIXES)


def _check_field(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not _is_field(value):
        raise ValueError(
            f"{type(instance).__name__}.{attribute.name}: {value!r} is not a match field "
            "(name, given_name, family_name, birth_date, email, phone, url, social, "
            "postcode, city, street, country, identifier, organisation, "
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
    compare: Comparator = attrs.field(
        validator=attrs.validators.in_(
            ("exact", "jaro_winkler", "levenshtein", "damerau", "token_sort", "token_set", "date")
        )
    )
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
        validator=attrs.validators.in_(
            ("exact", "soundex", "initial", "prefix2", "prefix3", "year", "sorted_tokens",
             "reversed")
        ),
    )  # fmt: skip


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

_NAMES = ("given_name", "family_name")
DEFAULT_RULES: tuple[MatchRule, ...] = (
    # a shared mailbox or phone whose holders' names and birth dates clearly disagree is a
    # family or a switchboard, not one person: review it rather than link it
    ExactRule("same_email", "email", contradicted_below=0.0),
    ExactRule("same_phone", "phone", contradicted_below=0.0),
    ExactRule("same_identifier", "identifier"),
    FuzzyRule("given_name", "given_name", "jaro_winkler", 5.0, -4.0, 0.94, 0.75),
    FuzzyRule("family_name", "family_name", "jaro_winkler", 7.0, -5.0, 0.94, 0.75),
    FuzzyRule("name", "name", "token_sort", 11.0, -6.0, 0.95, 0.7, unless_both=_NAMES),
    FuzzyRule("birth_date", "birth_date", "date", 9.0, -5.0, 1.0, 0.7),
    # people move: a different address is weak evidence, the same one strong
    FuzzyRule("postcode", "postcode", "damerau", 4.0, -1.0, 1.0, 0.5),
    FuzzyRule("city", "city", "jaro_winkler", 2.0, -0.5, 0.95, 0.8),
    FuzzyRule("street", "street", "token_set", 5.0, -0.5, 0.9, 0.6),
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


# -- comparing ---------------------------------------------------------------------------
def _date_similarity(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if a[:4] == b[:4] and a[5:7] == b[8:10] and a[8:10] == b[5:7]:
        return 0.9  # day and month written the other way round
    return float(OSA.normalized_similarity(a.replace("-", ""), b.replace("-", "")))


def _exact(a: str, b: str) -> float:
    return 1.0 if a == b else 0.0


_COMPARE: dict[str, Callable[[str, str], float]] = {
    "exact": _exact,
    "jaro_winkler": JaroWinkler.normalized_similarity,
    "levenshtein": Levenshtein.normalized_similarity,
    "damerau": OSA.normalized_similarity,
    "token_sort": lambda a, b: fuzz.token_sort_ratio(a, b) / 100.0,
    "token_set": lambda a, b: fuzz.token_set_ratio(a, b) / 100.0,
    "date": _date_similarity,
}


def _best(
    compare: Callable[[str, str], float], a: tuple[str, ...], b: tuple[str, ...]
) -> tuple[float, str, str]:
    """The highest similarity over the values of two multi-valued fields."""
    if len(a) == 1 and len(b) == 1:
        return compare(a[0], b[0]), a[0], b[0]
    best = (-1.0, "", "")
    for x, y in itertools.product(a, b):
        sim = compare(x, y)
        if sim > best[0]:
            best = (sim, x, y)
    return best


# -- blocking keys -----------------------------------------------------------------------
_SOUNDEX = str.maketrans("bfpvcgjkqsxzdtlmnr", "111122222222334556")


def soundex(value: str) -> str:
    """American Soundex of a :func:`~xrm.core.normalize.text_key` (``robert`` -> ``r163``);
    a value without Latin letters is returned as it is."""
    letters = [c for c in value if "a" <= c <= "z"]
    if not letters:
        return value
    first = letters[0]
    code = first
    last = first.translate(_SOUNDEX)
    for ch in letters[1:]:
        digit = ch.translate(_SOUNDEX)
        if digit.isdigit() and digit != last:
            code += digit
        if ch not in "hw":  # h and w do not separate equal codes; vowels do
            last = digit
        if len(code) == 4:
            break
    return code.ljust(4, "0")


_TRANSFORMS: dict[str, Callable[[str], str]] = {
    "exact": lambda v: v,
    "soundex": soundex,
    "initial": lambda v: v[:1],
    "prefix2": lambda v: v[:2],
    "prefix3": lambda v: v[:3],
    "year": lambda v: v[:4],
    "sorted_tokens": lambda v: " ".join(sorted(v.split())),
    "reversed": lambda v: v[::-1],
}


# -- reading -----------------------------------------------------------------------------
@attrs.define
class _Table:
    """The parties to compare, column by column: ``values[field][i]`` is the tuple of
    party ``i``'s values for ``field`` (empty when it has none)."""

    ids: list[int] = attrs.field(factory=list)
    kinds: list[str] = attrs.field(factory=list)
    values: dict[str, list[tuple[str, ...]]] = attrs.field(factory=dict)
    index: dict[int, int] = attrs.field(factory=dict)


def _stream(db: OrmSession, query: Executable) -> Iterator[Any]:
    result = db.execute(query.execution_options(yield_per=_CHUNK))
    for partition in result.partitions():
        yield from partition


def _add(column: list[tuple[str, ...]], i: int, value: str) -> None:
    if value and value not in column[i]:
        column[i] = tuple(sorted((*column[i], value)))


def _keyer() -> Callable[[str], str]:
    """:func:`text_key` remembering its answers: names, cities and streets repeat."""
    memo: dict[str, str] = {}

    def key(value: str) -> str:
        found = memo.get(value)
        if found is None:
            found = memo[value] = text_key(value)
        return found

    return key


def _load(db: OrmSession, fields: set[str], kinds: frozenset[str] | None) -> _Table:
    table = _Table()
    text = _keyer()
    attributes = sorted(f[len("attribute:") :] for f in fields if f.startswith("attribute:"))
    columns: list[Any] = [
        PartyRow.id, PartyRow.kind, PartyRow.name_key, PartyRow.given_name,
        PartyRow.family_name, PartyRow.birth_date,
    ]  # fmt: skip
    if attributes:
        columns.append(PartyRow.attributes)
    query = select(*columns).where(PartyRow.merged_into_id.is_(None)).order_by(PartyRow.id)
    if kinds is not None:
        query = query.where(PartyRow.kind.in_(sorted(kinds)))
    vals = table.values = {f: [] for f in fields}
    empty: tuple[str, ...] = ()
    for row in _stream(db, query):
        table.index[row[0]] = len(table.ids)
        table.ids.append(row[0])
        table.kinds.append(row[1])
        own = {
            "name": row[2] or "",
            "given_name": text(row[3]) if row[3] else "",
            "family_name": text(row[4]) if row[4] else "",
            "birth_date": row[5].isoformat() if isinstance(row[5], dt.date) else "",
        }
        for field, column in vals.items():
            if field in own:
                column.append((own[field],) if own[field] else empty)
            elif field.startswith("attribute:"):
                raw = (row[6] or {}).get(field[len("attribute:") :])
                key = text(str(raw)) if raw is not None and raw != "" else ""
                column.append((key,) if key else empty)
            else:
                column.append(empty)
    if not table.ids:
        return table
    _load_contact_points(db, table, fields)
    _load_identifiers(db, table, fields)
    if "organisation" in fields:
        _load_organisations(db, table)
    return table


def _load_contact_points(db: OrmSession, table: _Table, fields: set[str]) -> None:
    by_kind: dict[str, list[str]] = defaultdict(list)
    for field in fields:
        if field in _CONTACT_SHORT or field.startswith("contact:"):
            by_kind[field.removeprefix("contact:")].append(field)
    postal = sorted(fields & _POSTAL_FIELDS)
    if postal:
        by_kind["postal"] += postal
    if not by_kind:
        return
    query = select(
        ContactPointRow.party_id, ContactPointRow.kind, ContactPointRow.key,
        ContactPointRow.data, ContactPointRow.country,
    ).where(ContactPointRow.kind.in_(sorted(by_kind)))  # fmt: skip
    vals, index, text = table.values, table.index, _keyer()
    for party_id, kind, key, data, country in _stream(db, query):
        i = index.get(party_id)
        if i is None:
            continue
        for field in by_kind[kind]:
            if field == "postcode":
                value = text(str((data or {}).get("postcode") or "")).replace(" ", "")
            elif field == "city":
                value = text(str((data or {}).get("city") or ""))
            elif field == "street":
                value = text(" ".join(str(x) for x in (data or {}).get("lines") or ()))
            elif field == "country":
                value = country or ""
            else:
                value = key
            _add(vals[field], i, value)


def _load_identifiers(db: OrmSession, table: _Table, fields: set[str]) -> None:
    schemes = {f[len("identifier:") :] for f in fields if f.startswith("identifier:")}
    whole = "identifier" in fields
    if not schemes and not whole:
        return
    query = select(IdentifierRow.party_id, IdentifierRow.scheme, IdentifierRow.value)
    if not whole:
        query = query.where(IdentifierRow.scheme.in_(sorted(schemes)))
    vals, index = table.values, table.index
    for party_id, scheme, value in _stream(db, query):
        i = index.get(party_id)
        if i is None:
            continue
        if whole:
            _add(vals["identifier"], i, f"{scheme}:{value}")
        if scheme in schemes:
            _add(vals[f"identifier:{scheme}"], i, value)


def _load_organisations(db: OrmSession, table: _Table) -> None:
    """The organisations each party has a current relationship with, from either end."""
    today = dt.date.today()
    other = aliased(PartyRow)
    column = table.values["organisation"]
    for mine, theirs in (
        (RelationshipRow.from_party_id, RelationshipRow.to_party_id),
        (RelationshipRow.to_party_id, RelationshipRow.from_party_id),
    ):
        query = (
            select(mine, theirs)
            .join(other, other.id == theirs)
            .where(
                other.kind == "organization",
                RelationshipRow.valid_from <= today,
                or_(RelationshipRow.valid_to.is_(None), RelationshipRow.valid_to > today),
            )
        )
        for party_id, org_id in _stream(db, query):
            i = table.index.get(party_id)
            if i is not None:
                _add(column, i, str(org_id))


# -- blocking ----------------------------------------------------------------------------
def _applies(kinds: frozenset[str] | None, kind: str) -> bool:
    return kinds is None or kind in kinds


def _exact_pairs(table: _Table, rules: Sequence[ExactRule]) -> dict[int, list[str]]:
    """Pair code -> names of the exact rules that pair it (all pairs, no blocking loss)."""
    n = len(table.ids)
    found: dict[int, list[str]] = defaultdict(list)
    for rule in rules:
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        column = table.values[rule.field]
        for i, values in enumerate(column):
            kind = table.kinds[i]
            if values and _applies(rule.kinds, kind):
                for value in values:
                    groups[(kind, value)].append(i)
        for members in groups.values():
            if len(members) > rule.max_group:
                continue
            for a, b in itertools.combinations(sorted(set(members)), 2):
                code = a * n + b
                if rule.name not in found[code]:
                    found[code].append(rule.name)
    return found


def _key_column(
    table: _Table, part: KeyPart, cache: dict[KeyPart, list[tuple[str, ...]]]
) -> list[tuple[str, ...]]:
    """Every party's values of ``part`` (transformed, without empty ones), computed once
    per run however many blocking rules use it."""
    if part not in cache:
        transform = _TRANSFORMS[part.transform]
        memo: dict[str, str] = {}
        column = []
        for values in table.values[part.field]:
            keys = []
            for value in values:
                key = memo.get(value)
                if key is None:
                    key = memo[value] = transform(value)
                if key and key not in keys:
                    keys.append(key)
            column.append(tuple(keys))
        cache[part] = column
    return cache[part]


def _blocked_pairs(table: _Table, rules: Sequence[BlockingRule]) -> set[int]:
    n = len(table.ids)
    pairs: set[int] = set()
    cache: dict[KeyPart, list[tuple[str, ...]]] = {}
    for rule in rules:
        columns = [_key_column(table, part, cache) for part in rule.key]
        groups: dict[str, list[int]] = defaultdict(list)
        for i, kind in enumerate(table.kinds):
            if rule.kinds is not None and kind not in rule.kinds:
                continue
            parts = [column[i] for column in columns]
            if not all(parts):
                continue
            for combo in itertools.islice(itertools.product(*parts), _MAX_KEYS):
                groups["\x1f".join((kind, *combo))].append(i)
        # distinct keys in order; each group is compared with itself and the next ones,
        # so that the result depends on the keys only, never on the order parties came in
        ordered = [groups[k] for k in sorted(groups)]
        for g, members in enumerate(ordered):
            if len(members) > rule.max_block:
                continue
            pairs.update(a * n + b for a, b in itertools.combinations(members, 2))
            for later in ordered[g + 1 : g + rule.window]:
                if len(later) > rule.max_block:
                    continue
                pairs.update(min(a, b) * n + max(a, b) for a in members for b in later if a != b)
    return pairs


# -- scoring ---------------------------------------------------------------------------
@attrs.frozen
class _Compiled:
    rule: FuzzyRule
    kinds: frozenset[str] | None
    column: list[tuple[str, ...]]
    #: the column compared with ``column`` when given and family names were swapped
    crossed: list[tuple[str, ...]] | None
    compare: Callable[[str, str], float]
    unless: tuple[list[tuple[str, ...]], ...]


class _Scorer:
    def __init__(self, table: _Table, rules: Sequence[FuzzyRule]) -> None:
        names = all(f in table.values for f in _NAMES)
        self.given = table.values["given_name"] if names else None
        self.family = table.values["family_name"] if names else None
        cross = {"given_name": self.family, "family_name": self.given}
        self.rules = [
            _Compiled(rule, rule.kinds, table.values[rule.field], cross.get(rule.field),
                      _COMPARE[rule.compare], tuple(table.values[f] for f in rule.unless_both))
            for rule in rules
        ]  # fmt: skip
        #: the most the rules after each one may still add: a pair that cannot reach the
        #: review threshold any more is dropped without comparing the rest
        self.rest = [
            sum(max(r.agree, r.disagree, 0.0) for r in rules[k + 1 :]) for k in range(len(rules))
        ]

    def swapped(self, i: int, j: int) -> bool:
        """Whether i's given name is j's family name and the other way round."""
        if self.given is None or self.family is None:
            return False
        gi, fi, gj, fj = self.given[i], self.family[i], self.given[j], self.family[j]
        if not (gi and fi and gj and fj):
            return False
        jw = JaroWinkler.normalized_similarity
        straight = jw(gi[0], gj[0]) + jw(fi[0], fj[0])
        if straight >= 1.9:  # crossed names could not do better by the 0.1 margin
            return False
        return bool(jw(gi[0], fj[0]) + jw(fi[0], gj[0]) > straight + 0.1)

    def _values(
        self, c: _Compiled, i: int, j: int, kind: str, swapped: bool
    ) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        a = c.column[i]
        if not a or (c.kinds is not None and kind not in c.kinds):
            return None
        b = c.crossed[j] if swapped and c.crossed is not None else c.column[j]
        if not b or (c.unless and any(col[i] and col[j] for col in c.unless)):
            return None
        return a, b

    def score(self, i: int, j: int, kind: str, swapped: bool, floor: float) -> float | None:
        """The pair's score, or ``None`` once it is sure to stay below ``floor``.

        The hot loop of the search: :meth:`FuzzyRule.weight` written inline, same formula.
        """
        total = 0.0
        limit = floor - 0.01  # so that float rounding never drops a pair right at the floor
        for c, rest in zip(self.rules, self.rest, strict=True):
            a = c.column[i]
            if a:
                b = c.crossed[j] if swapped and c.crossed is not None else c.column[j]
                if (
                    b
                    and (c.kinds is None or kind in c.kinds)
                    and not (c.unless and any(col[i] and col[j] for col in c.unless))
                ):
                    if len(a) == 1 and len(b) == 1:
                        sim = c.compare(a[0], b[0])
                    else:
                        sim = _best(c.compare, a, b)[0]
                    r = c.rule
                    if sim >= r.agree_at:
                        total += r.agree
                    elif sim <= r.disagree_at:
                        total += r.disagree
                    else:
                        share = (sim - r.disagree_at) / (r.agree_at - r.disagree_at)
                        total += r.disagree + (r.agree - r.disagree) * share
            if total + rest < limit:
                return None
        return total

    def explain(self, i: int, j: int, kind: str, swapped: bool) -> list[FieldComparison]:
        found = []
        for c in self.rules:
            values = self._values(c, i, j, kind, swapped)
            if values is None:
                continue
            sim, x, y = _best(c.compare, *values)
            rule = c.rule
            found.append(
                FieldComparison(
                    rule.name, rule.field, round(sim, 3), round(rule.weight(sim), 2),
                    rule.outcome(sim), (x, y),
                )
            )  # fmt: skip
        return found


# -- the search --------------------------------------------------------------------------
@runtime_checkable
class _RuleSource(Protocol):
    def match_rules(self) -> list[MatchRule]: ...


def _rules_of(session: Session, rules: Iterable[MatchRule] | None) -> list[MatchRule]:
    if rules is not None:
        chosen = list(rules)
    else:
        host = session._ctx.plugins
        extra: list[MatchRule] = host.match_rules() if isinstance(host, _RuleSource) else []
        chosen = [*DEFAULT_RULES, *extra]
    seen: set[tuple[type[Any], str]] = set()
    for rule in chosen:
        if not isinstance(rule, MATCH_RULE_TYPES):
            raise ConfigurationError(f"{rule!r} is not an ExactRule, FuzzyRule or BlockingRule")
        key = (type(rule), rule.name)
        if key in seen:
            raise ConfigurationError(
                f"two {type(rule).__name__}s are named {rule.name!r} (a plugin's rule takes "
                "the name of a default one, or rules= names one twice)"
            )
        seen.add(key)
    return chosen


def _threshold(value: float | None, default: float, name: str) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError.single(name, "must be a finite number")
    return float(value)


def find_duplicates(
    session: Session,
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
    makes it ``probable`` from ``auto_threshold`` (default
    :data:`DEFAULT_AUTO_THRESHOLD`), ``review`` from ``review_threshold`` (default
    :data:`DEFAULT_REVIEW_THRESHOLD`), and below that it is not reported. Only parties of
    the same kind are paired; ``kinds`` limits the search to some kinds.

    Returns the pairs definite first, then by decreasing score, then by party ids; at
    most ``limit`` of them. Reads only; writes nothing.
    """
    wanted = _kinds(kinds)
    unknown = sorted((wanted or set()) - set(session._ctx.registry.party_kinds))
    if unknown:
        raise ValidationError.single("kinds", f"unknown party kind {unknown[0]!r}")
    review = _threshold(review_threshold, DEFAULT_REVIEW_THRESHOLD, "review_threshold")
    auto = _threshold(auto_threshold, DEFAULT_AUTO_THRESHOLD, "auto_threshold")
    if review > auto:
        raise ValidationError.single("review_threshold", "must not exceed auto_threshold")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValidationError.single("limit", "must be a positive integer")
    chosen = _rules_of(session, rules)
    exact = {r.name: r for r in chosen if isinstance(r, ExactRule)}
    fuzzy = [r for r in chosen if isinstance(r, FuzzyRule)]
    blocking = [r for r in chosen if isinstance(r, BlockingRule)]
    fields = {r.field for r in exact.values()} | {r.field for r in fuzzy}
    fields |= {f for r in fuzzy for f in r.unless_both}
    fields |= {p.field for r in blocking for p in r.key}
    if any(r.field in _NAMES for r in fuzzy):
        fields |= set(_NAMES)  # to see swapped names
    table = _load(session.db, fields, wanted)
    n = len(table.ids)
    exact_hits = _exact_pairs(table, list(exact.values()))
    scorer = _Scorer(table, fuzzy)
    found: list[CandidatePair] = []
    for code in _blocked_pairs(table, blocking) | exact_hits.keys():
        i, j = divmod(code, n)
        kind = table.kinds[i]
        if kind != table.kinds[j]:
            continue
        swapped = scorer.swapped(i, j)
        hits = exact_hits.get(code, [])
        raw = scorer.score(i, j, kind, swapped, -math.inf if hits else review)
        if raw is None:
            continue
        score = round(raw, 2)
        verdict: Verdict
        if hits:
            limits = [exact[h].contradicted_below for h in hits]
            doubted = all(lim is not None and score < lim for lim in limits)
            verdict = "review" if doubted else "definite"
        elif score >= auto:
            verdict = "probable"
        elif score >= review:
            verdict = "review"
        else:
            continue
        same = [_agreed_exactly(table, exact[h], i, j) for h in hits]
        comparisons = (*same, *scorer.explain(i, j, kind, swapped))
        pair = CandidatePair(
            table.ids[i], table.ids[j], kind, score, verdict, tuple(hits), comparisons, swapped
        )
        found.append(pair)
    found.sort(key=lambda p: (_VERDICT_ORDER[p.verdict], -p.score, p.left, p.right))
    return found[:limit] if limit is not None else found


def _agreed_exactly(table: _Table, rule: ExactRule, i: int, j: int) -> FieldComparison:
    column = table.values[rule.field]
    value = min(set(column[i]) & set(column[j]))
    return FieldComparison(rule.name, rule.field, 1.0, 0.0, "agree", (value, value))
