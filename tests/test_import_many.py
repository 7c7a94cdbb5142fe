"""``s.parties.import_many``: the public bulk path. Records as ``xrm import`` reads them,
each all or nothing, results in order, the unit of work's own rollback still whole."""

from __future__ import annotations

from typing import Any

import pytest

from xrm import XRM, ImportedParty, ImportResult, ValidationError


def _ada(**more: Any) -> dict[str, Any]:
    return {"name": "Ada Lovelace", "emails": ["ada@example.com"], **more}


def test_records_are_created_then_completed_then_left_unchanged(app: XRM) -> None:
    with app.session() as s:
        first = s.parties.import_many([_ada(), {"name": "Bob", "emails": ["bob@example.com"]}])
    assert [(r.line, r.outcome, r.error) for r in first] == [(1, "created", None),
                                                             (2, "created", None)]  # fmt: skip
    ada = first[0].party_id
    with app.session() as s:
        again = s.parties.import_many([_ada(tags=["vip"]), _ada()], first_line=10)
    # recognised by the email: the first record adds a tag, the second adds nothing more
    assert [(r.line, r.outcome, r.party_id) for r in again] == [(10, "updated", ada),
                                                                (11, "unchanged", ada)]  # fmt: skip
    with app.session() as s:
        assert s.parties.get(ada).tags == ("vip",)
        assert s.parties.count() == 2


def test_a_bad_record_comes_back_with_its_error_and_the_others_are_written(app: XRM) -> None:
    with app.session() as s:
        results = s.parties.import_many(
            [_ada(), {"name": "Eve", "emails": ["not an email"]}, {"nme": "typo"},
             "not a mapping", {"name": "Carl", "phones": ["+33 6 12 34 56 78"]}]
        )  # fmt: skip
    assert [r.outcome for r in results] == ["created", None, None, None, "created"]
    errors = [r.error for r in results]
    assert isinstance(errors[1], ValidationError)
    assert [e.path for e in errors[1].errors] == ["contact_points.0.value"]
    assert isinstance(errors[2], ValidationError) and "nme" in str(errors[2])
    assert isinstance(errors[3], ValidationError)
    with app.session() as s:
        assert sorted(p.display_name for p in s.parties.list()) == ["Ada Lovelace", "Carl"]


def test_models_and_mappings_mix_and_keep_their_order(app: XRM) -> None:
    records: list[Any] = [ImportedParty(name="Model", emails=["m@example.com"]), _ada()]
    with app.session() as s:
        results = s.parties.import_many(iter(records))  # any iterable, read once
    assert all(isinstance(r, ImportResult) for r in results)
    with app.session() as s:
        assert [s.parties.get(r.party_id or 0).display_name for r in results] == [
            "Model", "Ada Lovelace"]  # fmt: skip


def test_an_error_later_in_the_unit_of_work_undoes_the_import_too(app: XRM) -> None:
    with pytest.raises(RuntimeError), app.session() as s:
        s.parties.import_many([_ada()])
        raise RuntimeError("the caller changed its mind")
    with app.session() as s:
        assert s.parties.count() == 0


@pytest.mark.parametrize(
    ("records", "first_line", "field"),
    [({"name": "one record"}, 1, "records"), ("text", 1, "records"), ([], "1", "first_line"),
     ([], True, "first_line")],
)  # fmt: skip
def test_arguments_that_are_not_records_are_refused(
    app: XRM, records: Any, first_line: Any, field: str
) -> None:
    with app.session() as s, pytest.raises(ValidationError) as err:
        s.parties.import_many(records, first_line=first_line)
    assert err.value.errors[0].path == field


def test_nothing_to_import_gives_nothing(app: XRM) -> None:
    with app.session() as s:
        assert s.parties.import_many([]) == []
