"""The machinery behind :func:`~xrm.core.identity.dedupe.find_duplicates`: reading,
blocking, scoring.

Private: the rules and the results are in :mod:`xrm.core.identity.dedupe`.

* **Reading**: one streamed Core query per table the rules need (no ORM objects), the
  address parts picked out of the JSON document by the database. Each party becomes a row
  index ``i``; ``values[field][i]`` is its tuple of normalised values.
* **Blocking**: each blocking rule sorts its distinct keys into blocks; a party remembers
  the blocks it is in. The candidates of party ``i`` are the parties after it in its
  blocks and in the blocks within the rule's window, gathered in a set, so that a pair
  that several rules bring together is scored once, and only one party's candidates are
  held at a time: memory grows with the parties, not with the pairs.
* **Scoring**: the Jaro-Winkler of two names, and the weight a rule gives two postcodes or
  cities, are remembered (they repeat: most pairs compare names already compared), so most
  of a pair's comparisons are dictionary look-ups; birth dates and address lines, which
  rarely repeat, are compared each time. The memory is bounded (``_MEMO_LIMIT``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import attrs
from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, Indel, JaroWinkler, Levenshtein
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Executable

from xrm.core.models import ContactPointRow, IdentifierRow, PartyRow, RelationshipRow
from xrm.core.normalize import text_key
from xrm.core.predicates import relationship_valid, unmerged_party

if TYPE_CHECKING:
    from xrm.core.identity.dedupe import BlockingRule, ExactRule, FuzzyRule, KeyPart

#: fields read from the party row itself
PARTY_FIELDS = frozenset({"name", "given_name", "family_name", "birth_date"})
#: fields read from postal contact points (``data``: lines, postcode, city; ``country``);
#: ``house_number`` is the first word of the lines that starts with a digit
POSTAL_FIELDS = frozenset({"postcode", "city", "street", "house_number", "country"})
#: contact kinds that may be named without the ``contact:`` prefix
CONTACT_SHORT = frozenset({"email", "phone", "url", "social"})
PREFIXES = ("contact:", "identifier:", "attribute:")
OTHER_FIELDS = frozenset({"identifier", "organisation"})
NAMES = ("given_name", "family_name")

#: rows read per round trip by the streamed queries
_CHUNK = 5000
#: a multi-valued field (several addresses) contributes at most this many blocking keys
_MAX_KEYS = 4
#: remembered comparisons per comparator before the memory is emptied (bounds memory)
_MEMO_LIMIT = 400_000
_SPACES = re.compile(r"\s+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

Values = tuple[str, ...]
_EMPTY: Values = ()


# -- comparing ---------------------------------------------------------------------------
def _date_similarity(a: str, b: str) -> float:
    """1 for the same date; 0.9 for one typed with day and month the other way round, one
    digit wrong or two neighbouring digits swapped; 0.8 for one whose day or year is one
    away (``1979`` for ``1980`` changes two digits); else 0: two people's dates."""
    if a == b:
        return 1.0
    if not (_ISO_DATE.fullmatch(a) and _ISO_DATE.fullmatch(b)):
        return float(OSA.normalized_similarity(a, b))  # not a date xrm wrote
    if a[:4] == b[:4] and a[5:7] == b[8:10] and a[8:10] == b[5:7]:
        return 0.9  # day and month written the other way round
    if OSA.distance(a, b) == 1:
        return 0.9  # one digit wrong, or two swapped
    ya, ma, day_a = int(a[:4]), a[5:7], int(a[8:10])
    yb, mb, day_b = int(b[:4]), b[5:7], int(b[8:10])
    if ma == mb and (
        (ya == yb and abs(day_a - day_b) == 1) or (day_a == day_b and abs(ya - yb) == 1)
    ):
        return 0.8
    return 0.0


#: two forms of one given name for the two sexes: what the longer adds to the shorter
#: (Michel/Michele, Daniel/Danielle, Jean/Jeanne, Paul/Pauline, Henri/Henriette,
#: Julie/Julien, Lucie/Lucien) or the two endings after their common start
#: (Nicolas/Nicole, Mario/Maria, Frederic/Frederique; not Marie/Maria, two forms of one)
_GENDER_SUFFIXES = frozenset({"e", "le", "ne", "te", "tte", "ette", "ine"})
_GENDER_ENDINGS = frozenset({
    ("as", "e"), ("o", "a"), ("es", "ette"), ("e", "ette"), ("ic", "ique"),
    ("us", "a"), ("ien", "ie"), ("an", "ane"),
})  # fmt: skip


def gendered(a: str, b: str) -> bool:
    """Whether two given names (text keys) are one name's forms for the two sexes:
    ``daniel`` and ``danielle``, ``julien`` and ``julie``, ``nicolas`` and ``nicole``; of
    two compound names of as many words (``jean pierre``), whether a word is. A typo
    rarely takes this shape, and a household often does (Michel and Michele)."""
    if a == b:
        return False
    if " " in a or " " in b:
        wa, wb = a.split(), b.split()
        return len(wa) == len(wb) and any(map(_gendered_word, wa, wb))
    return _gendered_word(a, b)


def _gendered_word(a: str, b: str) -> bool:
    if a == b:
        return False
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) < 3:
        return False
    if long_.startswith(short):
        added = long_[len(short) :]
        return added in _GENDER_SUFFIXES or (added == "n" and short.endswith("ie"))
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    if common < 3:
        return False
    ends = (a[common - 1 :], b[common - 1 :]), (a[common:], b[common:])
    return any(e in _GENDER_ENDINGS or e[::-1] in _GENDER_ENDINGS for e in ends)


def _given_name(a: str, b: str) -> float:
    """Jaro-Winkler, but 0 for one name's two forms for the sexes (:func:`gendered`)."""
    if gendered(a, b):
        return 0.0
    return float(JaroWinkler.normalized_similarity(a, b))


def _exact(a: str, b: str) -> float:
    return 1.0 if a == b else 0.0


def _token_set_spaced(a: str, b: str) -> float:
    """The token set ratio, or the two values compared letter by letter without their
    spaces, whichever is higher: ``16 walkercrescent`` and ``16 walker crescent`` agree,
    where the token set sees one word of three missing."""
    ratio = fuzz.token_set_ratio(a, b) / 100.0
    if ratio == 1.0 or (" " not in a and " " not in b):
        return ratio
    joined = Indel.normalized_similarity(a.replace(" ", ""), b.replace(" ", ""))
    return max(ratio, joined)


COMPARE: dict[str, Callable[[str, str], float]] = {
    "exact": _exact,
    "jaro_winkler": JaroWinkler.normalized_similarity,
    "levenshtein": Levenshtein.normalized_similarity,
    "damerau": OSA.normalized_similarity,
    "token_sort": lambda a, b: fuzz.token_sort_ratio(a, b) / 100.0,
    "token_set": lambda a, b: fuzz.token_set_ratio(a, b) / 100.0,
    "token_set_spaced": _token_set_spaced,
    "date": _date_similarity,
    "given_name": _given_name,
}


def best(compare: Callable[[str, str], float], a: Values, b: Values) -> tuple[float, str, str]:
    """The highest similarity over the values of two multi-valued fields."""
    if len(a) == 1 and len(b) == 1:
        return compare(a[0], b[0]), a[0], b[0]
    found = (-1.0, "", "")
    for x, y in itertools.product(a, b):
        sim = compare(x, y)
        if sim > found[0]:
            found = (sim, x, y)
    return found


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


TRANSFORMS: dict[str, Callable[[str], str]] = {
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
#: words after which a number is a building's part, not the house number
#: (``escalier 2 10 rue du 8 mai`` is number 10)
_NOT_HOUSE = frozenset({
    "apt", "app", "appt", "appartement", "apartment", "bat", "batiment", "building",
    "bldg", "escalier", "esc", "etage", "floor", "porte", "door", "flat", "unit", "suite",
    "lot", "bp", "cs", "cedex", "box", "po", "residence", "res", "tour", "entree",
})  # fmt: skip


def house_number(lines: str) -> str:
    """The first word of the (:func:`text_key`) address lines that starts with a digit
    and does not number a part of the building: ``12 rue des lilas`` -> ``12``,
    ``12bis rue x`` -> ``12bis``, ``escalier 2 10 rue x`` -> ``10``; empty without one."""
    before = ""
    for word in lines.split():
        if word[0].isdigit() and before not in _NOT_HOUSE:
            return word
        before = word
    return ""


@attrs.define
class Table:
    """The parties to compare, column by column: ``values[field][i]`` is the tuple of
    party ``i``'s values for ``field`` (empty when it has none)."""

    ids: list[int] = attrs.field(factory=list)
    kinds: list[str] = attrs.field(factory=list)
    values: dict[str, list[Values]] = attrs.field(factory=dict)
    index: dict[int, int] = attrs.field(factory=dict)


def _stream(db: Connection, query: Executable) -> Iterator[Any]:
    result = db.execute(query.execution_options(yield_per=_CHUNK))
    try:
        for partition in result.partitions():
            yield from partition
    finally:  # a caller that stops early closes the server-side cursor
        result.close()


def _add(column: list[Values], i: int, value: str) -> None:
    if value and value not in column[i]:
        column[i] = tuple(sorted((*column[i], value)))


class _Interned:
    """:func:`text_key` remembering its answers, and one tuple object per distinct value:
    names, cities and streets repeat, and a hundred thousand parties share them."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.single: dict[str, Values] = {}

    def key(self, raw: str) -> str:
        found = self.keys.get(raw)
        if found is None:
            found = self.keys[raw] = text_key(raw)
        return found

    def one(self, value: str) -> Values:
        if not value:
            return _EMPTY
        found = self.single.get(value)
        if found is None:
            found = self.single[value] = (value,)
        return found


def load(db: Connection, fields: set[str], kinds: frozenset[str] | None) -> Table:
    table = Table()
    intern = _Interned()
    text, one = intern.key, intern.one
    attributes = sorted(f[len("attribute:") :] for f in fields if f.startswith("attribute:"))
    columns: list[Any] = [
        PartyRow.id, PartyRow.kind, PartyRow.name_key, PartyRow.given_name,
        PartyRow.family_name, PartyRow.birth_date,
    ]  # fmt: skip
    if attributes:
        columns.append(PartyRow.attributes)
    query = select(*columns).where(unmerged_party()).order_by(PartyRow.id)
    if kinds is not None:
        query = query.where(PartyRow.kind.in_(sorted(kinds)))
    vals = table.values = {f: [] for f in fields}
    own_fields = [f for f in vals if f in PARTY_FIELDS]
    attr_fields = [(f, f[len("attribute:") :]) for f in vals if f.startswith("attribute:")]
    other_columns = [column for f, column in vals.items() if f not in PARTY_FIELDS
                     and not f.startswith("attribute:")]  # fmt: skip
    kind_names: dict[str, str] = {}
    for row in _stream(db, query):
        table.index[row[0]] = len(table.ids)
        table.ids.append(row[0])
        table.kinds.append(kind_names.setdefault(row[1], row[1]))
        for field in own_fields:
            if field == "name":
                value = row[2] or ""
            elif field == "given_name":
                value = text(row[3]) if row[3] else ""
            elif field == "family_name":
                value = text(row[4]) if row[4] else ""
            else:
                value = row[5].isoformat() if isinstance(row[5], dt.date) else ""
            vals[field].append(one(value))
        for field, name in attr_fields:
            raw = (row[6] or {}).get(name)
            vals[field].append(one(text(str(raw)) if raw is not None and raw != "" else ""))
        for column in other_columns:
            column.append(_EMPTY)
    if not table.ids:
        return table
    _load_contact_points(db, table, fields, intern)
    _load_identifiers(db, table, fields)
    if "organisation" in fields:
        _load_organisations(db, table)
    return table


def _load_contact_points(db: Connection, table: Table, fields: set[str], intern: _Interned) -> None:
    by_kind: dict[str, list[str]] = defaultdict(list)
    for field in fields:
        if field in CONTACT_SHORT or field.startswith("contact:"):
            by_kind[field.removeprefix("contact:")].append(field)
    postal = sorted(fields & POSTAL_FIELDS)
    if postal:
        by_kind["postal"] += postal
    if not by_kind:
        return
    data = ContactPointRow.data
    # the parts of the address are picked out by the database: no whole document decoded
    query = select(
        ContactPointRow.party_id, ContactPointRow.kind, ContactPointRow.key,
        ContactPointRow.country, data["postcode"].as_string(), data["city"].as_string(),
        data["lines"],
    ).where(
        ContactPointRow.kind.in_(sorted(by_kind)),
        ContactPointRow.valid.is_(True),  # an invalid number kept as written links no one
    )  # fmt: skip
    vals, index, text = table.values, table.index, intern.key
    for party_id, kind, key, country, postcode, city, lines in _stream(db, query):
        i = index.get(party_id)
        if i is None:
            continue
        for field in by_kind[kind]:
            if field == "postcode":
                value = text(str(postcode or "")).replace(" ", "")
            elif field == "city":
                value = text(str(city or ""))
            elif field == "street":
                value = text(" ".join(str(x) for x in lines or ()))
            elif field == "house_number":
                value = house_number(text(" ".join(str(x) for x in lines or ())))
            elif field == "country":
                value = country or ""
            else:
                value = key
            column = vals[field]
            if not column[i]:
                column[i] = intern.one(value)
            else:
                _add(column, i, value)


def _load_identifiers(db: Connection, table: Table, fields: set[str]) -> None:
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


def _load_organisations(db: Connection, table: Table) -> None:
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
                relationship_valid(today),
            )
        )
        for party_id, org_id in _stream(db, query):
            i = table.index.get(party_id)
            if i is not None:
                _add(column, i, str(org_id))


# -- blocking ----------------------------------------------------------------------------
def _applies(kinds: frozenset[str] | None, kind: str) -> bool:
    return kinds is None or kind in kinds


def exact_pairs(table: Table, rules: Sequence[ExactRule]) -> dict[int, dict[int, list[str]]]:
    """i -> {j: names of the exact rules that pair them} for i < j (all pairs: no blocking
    loss). Exact groups are small (``max_group``), so these pairs are few."""
    found: dict[int, dict[int, list[str]]] = defaultdict(dict)
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
                names = found[a].setdefault(b, [])
                if rule.name not in names:
                    names.append(rule.name)
    return found


def _key_column(table: Table, part: KeyPart, cache: dict[KeyPart, list[Values]]) -> list[Values]:
    """Every party's values of ``part`` (transformed, without empty ones), computed once
    per run however many blocking rules use it."""
    if part not in cache:
        transform = TRANSFORMS[part.transform]
        memo: dict[Values, Values] = {}
        column = []
        for values in table.values[part.field]:
            keys = memo.get(values)
            if keys is None:
                found: list[str] = []
                for value in values:
                    key = transform(value)
                    if key and key not in found:
                        found.append(key)
                keys = memo[values] = tuple(found)
            column.append(keys)
        cache[part] = column
    return cache[part]


@attrs.define
class _Pass:
    """One blocking rule, laid out: its blocks (sorted by key) and each party's blocks."""

    blocks: list[list[int]]
    #: for each block, the blocks it is compared with (itself and the next and previous
    #: ``window - 1``), crowded ones left out; empty for a crowded block
    reach: list[tuple[int, ...]]
    #: party -> the blocks it is in (most parties are in one)
    member_of: dict[int, tuple[int, ...]]


def _layout(table: Table, rule: BlockingRule, cache: dict[KeyPart, list[Values]]) -> _Pass:
    columns = [_key_column(table, part, cache) for part in rule.key]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, kind in enumerate(table.kinds):
        if rule.kinds is not None and kind not in rule.kinds:
            continue
        parts = [column[i] for column in columns]
        if not all(parts):
            continue
        if len(parts) == 1 and len(parts[0]) == 1:
            groups[f"{kind}\x1f{parts[0][0]}"].append(i)
            continue
        for combo in itertools.islice(itertools.product(*parts), _MAX_KEYS):
            groups["\x1f".join((kind, *combo))].append(i)
    # distinct keys in order: the result depends on the keys only, never on the order
    # parties came in
    blocks = [groups[k] for k in sorted(groups)]
    del groups
    fits = [len(b) <= rule.max_block for b in blocks]
    w = rule.window
    reach = [
        tuple(h for h in range(max(0, g - w + 1), min(len(blocks), g + w)) if fits[h])
        if fits[g] else ()
        for g in range(len(blocks))
    ]  # fmt: skip
    member_of: dict[int, tuple[int, ...]] = {}
    for g, members in enumerate(blocks):
        if not reach[g]:
            continue
        for i in members:
            have = member_of.get(i)
            member_of[i] = (g,) if have is None else (*have, g)
    return _Pass(blocks, reach, member_of)


class Candidates:
    """The parties each party is compared with: those after it sharing a block (or a
    neighbouring one) in some blocking rule, or an exact value."""

    def __init__(
        self, table: Table, rules: Sequence[BlockingRule], exact: dict[int, dict[int, list[str]]]
    ) -> None:
        cache: dict[KeyPart, list[Values]] = {}
        self.passes = [_layout(table, rule, cache) for rule in rules]
        self.exact = exact
        self.n = len(table.ids)

    def __iter__(self) -> Iterator[tuple[int, list[int]]]:
        passes = [(p.blocks, p.reach, p.member_of) for p in self.passes]
        exact = self.exact
        for i in range(self.n):
            found: set[int] = set()
            for blocks, reach, member_of in passes:
                mine = member_of.get(i)
                if mine is None:
                    continue
                for g in mine:
                    for h in reach[g]:
                        found.update(blocks[h])
            hits = exact.get(i)
            if hits:
                found.update(hits)
            later = [j for j in found if j > i]
            if later:
                yield i, later


# -- scoring -----------------------------------------------------------------------------
_MULTI = object()


def _singles(column: Sequence[Values]) -> list[Any]:
    """Per party: its one value, ``None`` without one, ``_MULTI`` with several."""
    return [v[0] if len(v) == 1 else (None if not v else _MULTI) for v in column]


def _masks(columns: Sequence[list[Values]]) -> list[int] | None:
    if not columns:
        return None
    return [sum(1 << k for k, column in enumerate(columns) if column[i])
            for i in range(len(columns[0]))]  # fmt: skip


@attrs.define
class _Compiled:
    rule: FuzzyRule
    column: list[Values]
    single: list[Any]
    #: the columns compared with ``column`` when given and family names were swapped
    crossed: list[Values] | None
    crossed_single: list[Any] | None
    compare: Callable[[str, str], float]
    #: per party, a bit for each of the rule's ``unless_both`` fields it has: the rule
    #: is skipped for a pair whose masks share a bit (``None``: no such fields)
    unless: list[int] | None
    #: the most this rule may add, and how much agreeing rather than disagreeing weighs
    most: float = 0.0
    spread: float = 0.0
    #: a Jaro-Winkler rule on given or family name: its similarity is the one computed
    #: to see whether the names are swapped
    names_jw: bool = False
    #: value -> what an exact agreement on it adds to ``agree`` (term frequency); ``None``
    #: when the rule asks for none or the base is too small
    tf: dict[str, float] | None = None


#: comparators whose values repeat enough (names, cities, postcodes) to be worth
#: remembering the weight of each pair of values compared
_REMEMBERED = frozenset({"jaro_winkler", "levenshtein", "damerau", "given_name"})
#: the comparators of the name rules whose similarities the swap check computes
_NAME_COMPARE = frozenset({"jaro_winkler", "given_name"})


class _Memo:
    """Comparisons already made: the Jaro-Winkler of two names, and per rule and value of
    the party scored, the weight for each value of a candidate. Emptied between two
    parties once it holds ``_MEMO_LIMIT`` entries (bounds memory)."""

    def __init__(self) -> None:
        self.size = 0
        self._names: dict[str, dict[str, float]] = {}
        self._weights: dict[tuple[int, str], dict[Any, float]] = {}

    def clear(self) -> None:
        self._names.clear()
        self._weights.clear()
        self.size = 0

    def names(self, name: str) -> dict[str, float]:
        found = self._names.get(name)
        if found is None:
            found = self._names[name] = {}
        return found

    def weights(self, c: _Compiled, i: int) -> dict[Any, float] | None:
        """The weights of rule ``c`` for party ``i``'s value, or ``None`` when they are
        not remembered: several values, names compared through the swap check, a rule
        skipped for some pairs, or a comparison whose values rarely repeat."""
        a = c.single[i]
        if (not isinstance(a, str) or c.rule.compare not in _REMEMBERED or c.names_jw
                or c.unless is not None):  # fmt: skip
            return None
        key = (id(c), a)
        found = self._weights.get(key)
        if found is None:
            found = self._weights[key] = {}
        return found


class Scorer:
    """Scores a party against its candidates, each value looked up by position."""

    def __init__(self, table: Table, rules: Sequence[FuzzyRule]) -> None:
        self.memo = _Memo()
        names = all(f in table.values for f in NAMES)
        self.given = table.values["given_name"] if names else None
        self.family = table.values["family_name"] if names else None
        self.given_1 = _singles(self.given) if self.given is not None else None
        self.family_1 = _singles(self.family) if self.family is not None else None
        cross = {"given_name": "family_name", "family_name": "given_name"} if names else {}
        singles: dict[str, list[Any]] = {}

        def single(field: str) -> list[Any]:
            if field not in singles:
                singles[field] = _singles(table.values[field])
            return singles[field]

        self.rules: list[_Compiled] = []
        for rule in rules:
            other = cross.get(rule.field)
            self.rules.append(_Compiled(
                rule, table.values[rule.field], single(rule.field),
                table.values[other] if other else None, single(other) if other else None,
                COMPARE[rule.compare],
                _masks([table.values[f] for f in rule.unless_both]),
            ))  # fmt: skip
        for c in self.rules:
            c.names_jw = c.crossed is not None and c.rule.compare in _NAME_COMPARE
            c.tf = term_frequencies(c.column, c.rule.agree) if c.rule.term_frequency else None
            bonus = max(c.tf.values(), default=0.0) if c.tf else 0.0
            c.most = max(c.rule.agree + max(bonus, 0.0), c.rule.disagree, 0.0)
            c.spread = abs(c.rule.agree - c.rule.disagree)
        self.given_weight, self.given_floor, self.given_compare = self._name_weight("given_name")
        self.family_weight, self.family_floor, self.family_compare = self._name_weight(
            "family_name"
        )
        #: per kind, the rules that apply, in rule order
        self.by_kind = {
            kind: [c for c in self.rules if c.rule.kinds is None or kind in c.rule.kinds]
            for kind in set(table.kinds)
        }

    def _name_weight(
        self, field: str
    ) -> tuple[Callable[[float], float], float, Callable[[str, str], float]]:
        """What the Jaro-Winkler rule on a name field adds for a similarity (the
        similarity itself without such a rule), the similarity at or below which it adds
        its least, and its comparison: names are read as swapped when that makes the two
        name rules add more, not merely when the similarities sum higher."""
        for c in self.rules:
            if c.names_jw and c.rule.field == field:
                return c.rule.weight, c.rule.disagree_at, c.compare
        return float, -1.0, JaroWinkler.normalized_similarity

    def score(
        self, i: int, js: Sequence[int], kind: str, floors: Sequence[float]
    ) -> Iterator[tuple[int, float, bool]]:
        """(j, score, names swapped) for each candidate j of party i whose score reaches
        ``floors[k] - 0.01`` (the candidates sure to stay below it are dropped).

        The rules that party ``i`` has a value for are compared most telling first (the
        widest spread between agree and disagree); once the weights so far plus the most
        the rules left could add cannot reach the floor, the pair is dropped. The score of
        the others is the sum of their weights in rule order, as :meth:`FuzzyRule.weight`
        gives them (written inline here: this is the hot loop of the search).
        """
        rules = [c for c in self.by_kind[kind] if c.column[i]]
        order = sorted(range(len(rules)), key=lambda k: -rules[k].spread)
        memo = self.memo
        if memo.size >= _MEMO_LIMIT:
            memo.clear()
        plan = [(k, rules[k], rules[k].most, memo.weights(rules[k], i)) for k in order]
        most = sum(c.most for c in rules)
        cmp_g, cmp_f = self.given_compare, self.family_compare
        wg, wf = self.given_weight, self.family_weight
        g_floor, f_floor = self.given_floor, self.family_floor
        given, family = self.given_1, self.family_1
        gi: Any = given[i] if given is not None else None
        fi: Any = family[i] if family is not None else None
        names = isinstance(gi, str) and isinstance(fi, str)
        if names:
            by_given, by_family = memo.names(gi), memo.names(fi)
        weights: list[float | None] = [None] * len(rules)
        for j, floor in zip(js, floors, strict=True):
            limit = floor - 0.01  # float rounding never drops a pair right at the floor
            swapped = False
            straight: tuple[float, float] | None = None
            crossed: tuple[float, float] | None = None
            if names:
                gj, fj = given[j], family[j]  # type: ignore[index]
                if isinstance(gj, str) and isinstance(fj, str):
                    # names already compared, else compared and remembered
                    sg = by_given.get(gj)
                    if sg is None:
                        sg = by_given[gj] = cmp_g(gi, gj)
                        memo.size += 1
                    sf = by_family.get(fj)
                    if sf is None:
                        sf = by_family[fj] = cmp_f(fi, fj)
                        memo.size += 1
                    straight = (sg, sf)
                    if sg + sf < 1.9:  # else crossing could not do better
                        cg = by_given.get(fj)
                        if cg is None:
                            cg = by_given[fj] = cmp_g(gi, fj)
                            memo.size += 1
                        cf = by_family.get(gj)
                        if cf is None:
                            cf = by_family[gj] = cmp_f(fi, gj)
                            memo.size += 1
                        crossed = (cg, cf)
                        # both crossed names at their rules' least weight: no gain
                        if cg > g_floor or cf > f_floor:
                            swapped = wg(cg) + wf(cf) > wg(sg) + wf(sf) + 0.1
            partial = 0.0
            remaining = most
            for k, c, top, known in plan:
                remaining -= top
                weights[k] = None
                crossing = swapped and c.crossed_single is not None
                b = c.crossed_single[j] if crossing else c.single[j]  # type: ignore[index]
                if b is None or (c.unless is not None and c.unless[i] & c.unless[j]):
                    if partial + remaining < limit:
                        break
                    continue
                if known is not None and not crossing:
                    w = known.get(b)
                    if w is not None:  # these two values were compared before
                        weights[k] = w
                        partial += w
                        if partial + remaining < limit:
                            break
                        continue
                a = c.single[i]
                if c.names_jw and straight is not None:
                    # the Jaro-Winkler of the names, computed above to see if they swap
                    sims = crossed if swapped else straight
                    assert sims is not None
                    sim = sims[0] if c.rule.field == "given_name" else sims[1]
                elif a is _MULTI or b is _MULTI:
                    y = c.crossed[j] if swapped and c.crossed is not None else c.column[j]
                    sim = best(c.compare, c.column[i], y)[0]
                else:
                    sim = c.compare(a, b)
                r = c.rule
                if sim >= r.agree_at:
                    w = r.agree
                elif sim <= r.disagree_at:
                    w = r.disagree
                else:
                    w = r.disagree + (r.agree - r.disagree) * (
                        (sim - r.disagree_at) / (r.agree_at - r.disagree_at)
                    )
                if c.tf is not None and a == b and a is not _MULTI:  # how common is it?
                    w += c.tf.get(a, 0.0)
                if known is not None and not crossing and b is not _MULTI:
                    known[b] = w
                    memo.size += 1
                weights[k] = w
                partial += w
                if partial + remaining < limit:
                    break
            else:
                total = 0.0
                for weight in weights:
                    if weight is not None:
                        total += weight
                yield j, total, swapped

    def explain(self, i: int, j: int, kind: str, swapped: bool) -> Iterable[
        tuple[FuzzyRule, float, str, str, float]
    ]:  # fmt: skip
        """Each rule compared for the pair: (rule, similarity, value, other value, weight
        added, the term-frequency adjustment included)."""
        for c in self.rules:
            a = c.column[i]
            if not a or (c.rule.kinds is not None and kind not in c.rule.kinds):
                continue
            b = c.crossed[j] if swapped and c.crossed is not None else c.column[j]
            if not b or (c.unless is not None and c.unless[i] & c.unless[j]):
                continue
            sim, x, y = best(c.compare, a, b)
            weight = c.rule.weight(sim)
            if c.tf is not None and len(a) == 1 and len(b) == 1 and x == y:
                weight += c.tf.get(x, 0.0)
            yield c.rule, sim, x, y, weight


#: term-frequency adjustments need this many values of the field in the base; below it
#: the rule's own weights stand (a small base says little about how common a name is)
TF_MIN_VALUES = 1_000
#: the most a rare value adds to a rule's ``agree``: nothing, so a rare name weighs what
#: the rule says and a common one less. (One point more linked households of a rare
#: family name: 7 + 1 - 5 + 12 = 15.)
TF_MAX_BONUS = 0.0


def term_frequencies(column: Sequence[Values], agree: float) -> dict[str, float] | None:
    """value -> the points an exact agreement on it adds to the rule's ``agree``.

    With ``f`` the share of the field's values that are this one and ``u`` the chance
    that two values drawn at random agree (the sum of every value's share squared), an
    agreement on this value is ``f / u`` times as likely to be chance as an agreement on
    an average one: it adds ``log2(u / f)`` (negative for a common value), kept between
    ``1 - agree`` (an agreement still adds a point) and ``TF_MAX_BONUS``. ``None`` below
    ``TF_MIN_VALUES`` values."""
    counts: dict[str, int] = defaultdict(int)
    for values in column:
        for value in values:
            counts[value] += 1
    n = sum(counts.values())
    if n < TF_MIN_VALUES:
        return None
    chance = sum(c * c for c in counts.values()) / (n * n)
    floor = min(0.0, 1.0 - agree)
    found: dict[str, float] = {}
    for value, count in counts.items():
        adjust = math.log2(chance * n / count)
        found[value] = max(floor, min(TF_MAX_BONUS, adjust))
    return found
