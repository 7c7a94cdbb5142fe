"""The French generator of ``bench/linkage.py`` (bench/french.py) is a fixed, seeded data
set: the side-by-side figures in docs/identity.md can be made again."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

FRENCH = Path(__file__).resolve().parent.parent / "bench" / "french.py"


@pytest.fixture(scope="module")
def french() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_french", FRENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_french"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_one_seed_gives_one_data_set_and_another_seed_another(french: ModuleType) -> None:
    records, pairs = french.generate(2_000, 1)
    again, pairs_again = french.generate(2_000, 1)
    assert records == again and pairs == pairs_again
    other, _ = french.generate(2_000, 2)
    assert other != records


def test_true_pairs_join_records_of_the_set_and_some_people_have_several(
    french: ModuleType,
) -> None:
    records, pairs = french.generate(5_000, 1)
    ids = {r["id"] for r in records}
    assert len(ids) == len(records) == 5_000
    assert all(len(pair) == 2 and pair <= ids for pair in pairs)
    in_pairs = {i for pair in pairs for i in pair}
    assert 0.1 < len(in_pairs) / len(records) < 0.5  # duplicates, but not most records
    # the hard parts are there: one-channel records, several ways of writing a phone
    assert any(r["emails"] and not r["phones"] and not r["postcode"] for r in records)
    assert len({p[:3] for r in records for p in r["phones"]}) > 5
