"""Relationships: typed and dated, read from either end "as of" any day."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xrm import XRM, Conflict, ValidationError

D = dt.date


@pytest.fixture
def people(app: XRM) -> dict[str, int]:
    with app.session() as s:
        return {
            "marie": s.parties.create("person", "Marie").id,
            "paul": s.parties.create("person", "Paul").id,
            "acme": s.parties.create("organization", "ACME").id,
            "globex": s.parties.create("organization", "Globex").id,
        }


def test_a_person_works_for_an_organization_read_from_both_ends(
    app: XRM, people: dict[str, int]
) -> None:
    with app.session() as s:
        rel = s.relationships.create(
            "works_for", people["marie"], people["acme"], valid_from=D(2024, 1, 1)
        )
        (from_marie,) = s.relationships.of(people["marie"], as_of=D(2024, 6, 1))
        (from_acme,) = s.relationships.of(people["acme"], as_of=D(2024, 6, 1))
    assert (from_marie.label, from_marie.other_id) == ("works for", people["acme"])
    assert (from_acme.label, from_acme.other_id) == ("employs", people["marie"])
    assert from_acme.relationship == rel


def test_as_of_respects_the_half_open_validity_range(app: XRM, people: dict[str, int]) -> None:
    with app.session() as s:
        rel = s.relationships.create(
            "works_for", people["marie"], people["acme"], valid_from=D(2024, 1, 1)
        )
        s.relationships.end(rel, on=D(2024, 7, 1))

        def held(day: D) -> list[int]:
            return [link.other_id for link in s.relationships.of(people["marie"], as_of=day)]

        assert held(D(2023, 12, 31)) == []
        assert held(D(2024, 1, 1)) == [people["acme"]]
        assert held(D(2024, 6, 30)) == [people["acme"]]
        assert held(D(2024, 7, 1)) == []
        assert len(s.relationships.of(people["marie"], all_dates=True)) == 1


def test_one_person_serves_several_companies_through_relationships(
    app: XRM, people: dict[str, int]
) -> None:
    from xrm import RelationshipType

    app.register(RelationshipType("contact_for", "is a contact for", "has contact"))
    with app.session() as s:
        s.relationships.create("contact_for", people["marie"], people["acme"])
        s.relationships.create("contact_for", people["marie"], people["globex"])
        links = s.relationships.of(people["marie"], type="contact_for")
    assert {link.other_id for link in links} == {people["acme"], people["globex"]}


def test_at_most_one_current_employer(app: XRM, people: dict[str, int], unchanged: Any) -> None:
    with app.session() as s:
        s.relationships.create(
            "works_for",
            people["marie"],
            people["acme"],
            valid_from=D(2024, 1, 1),
            valid_to=D(2024, 6, 1),
        )
        # after the first job ends, a new one is fine
        s.relationships.create(
            "works_for", people["marie"], people["globex"], valid_from=D(2024, 6, 1)
        )
    with unchanged(), pytest.raises(Conflict, match="allows at most 1"), app.session() as s:
        s.relationships.create(
            "works_for", people["marie"], people["acme"], valid_from=D(2024, 9, 1)
        )


def test_symmetric_types_read_the_same_from_both_ends_and_are_not_duplicated(
    app: XRM, people: dict[str, int]
) -> None:
    with app.session() as s:
        s.relationships.create("knows", people["marie"], people["paul"])
        assert [
            link.label for link in s.relationships.of(people["paul"], direction="outgoing")
        ] == ["knows"]
        with pytest.raises(Conflict, match="already related"):
            s.relationships.create("knows", people["paul"], people["marie"])


def test_direction_filters(app: XRM, people: dict[str, int]) -> None:
    with app.session() as s:
        s.relationships.create("works_for", people["marie"], people["acme"])
        assert s.relationships.of(people["acme"], direction="outgoing") == []
        assert len(s.relationships.of(people["acme"], direction="incoming")) == 1


@pytest.mark.parametrize(
    ("type_", "a", "b", "kwargs", "error", "field", "reason"),
    [
        ("married_to", "marie", "paul", {}, ValidationError, "type", "unknown relationship type"),
        (
            "works_for",
            "acme",
            "marie",
            {},
            ValidationError,
            "from_party",
            "a party of kind 'organization' cannot",
        ),
        (
            "works_for",
            "marie",
            "paul",
            {},
            ValidationError,
            "to_party",
            "a party of kind 'person' cannot",
        ),
        ("knows", "marie", "marie", {}, ValidationError, "to_party", "itself"),
        (
            "works_for",
            "marie",
            "acme",
            {"valid_from": D(2024, 5, 1), "valid_to": D(2024, 4, 1)},
            ValidationError,
            "valid_to",
            "is not after valid_from",
        ),
        ("supplies", "acme", "globex", {}, ValidationError, "from_party", "must hold a role"),
    ],
)
def test_bad_relationships_are_refused_and_write_nothing(
    app: XRM,
    people: dict[str, int],
    unchanged: Any,
    type_: str,
    a: str,
    b: str,
    kwargs: dict[str, Any],
    error: type[Exception],
    field: str,
    reason: str,
) -> None:
    with unchanged(), pytest.raises(error) as err, app.session() as s:
        s.relationships.create(type_, people[a], people[b], **kwargs)
    assert isinstance(err.value, ValidationError)
    assert err.value.fields == [field]
    assert reason in str(err.value)


def test_a_role_at_an_end_is_required_only_while_held(app: XRM, people: dict[str, int]) -> None:
    with app.session() as s:
        s.roles.assign(people["acme"], "supplier")
        rel = s.relationships.create("supplies", people["acme"], people["globex"])
    assert rel.type == "supplies"


def test_ending_before_the_start_is_refused(app: XRM, people: dict[str, int]) -> None:
    with app.session() as s:
        rel = s.relationships.create(
            "knows", people["marie"], people["paul"], valid_from=D(2024, 1, 1)
        )
        with pytest.raises(ValidationError, match="not after its start"):
            s.relationships.end(rel, on=D(2023, 1, 1))


# -- property: "as of" equals a brute-force filter over random histories ---------------
days = st.integers(min_value=0, max_value=60).map(lambda n: D(2024, 1, 1) + dt.timedelta(n))
spans = st.tuples(days, st.one_of(st.none(), st.integers(min_value=1, max_value=30)))


@given(
    history=st.lists(
        st.tuples(st.sampled_from(["knows", "works_for"]), st.integers(0, 2), st.booleans(), spans),
        max_size=10,
    ),
    probe=days,
)
def test_as_of_equals_a_brute_force_filter(
    app: XRM, history: list[tuple[str, int, bool, tuple[D, int | None]]], probe: D
) -> None:
    with app.session() as s:
        me = s.parties.create("person", "Me").id
        others = [s.parties.create("organization", f"Org {i}").id for i in range(3)]
        stored = []
        for type_, other, incoming, (start, length) in history:
            end = start + dt.timedelta(length) if length else None
            a, b = (others[other], me) if incoming and type_ == "knows" else (me, others[other])
            # overlapping duplicates and the one-employer cap are refused
            with contextlib.suppress(Conflict):
                stored.append(s.relationships.create(type_, a, b, valid_from=start, valid_to=end))
        got = sorted(link.relationship.id for link in s.relationships.of(me, as_of=probe))
    expected = sorted(r.id for r in stored if r.holds_on(probe))
    assert got == expected
