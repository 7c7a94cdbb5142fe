"""``employed_by`` (at most one current employer) and ``reports_to`` (never in a loop)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable

import pytest
import xrm_employees
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xrm import XRM, Conflict, PluginError, Session, ValidationError
from xrm.testing import snapshot as rows

D = dt.date


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    return xrm_factory(plugins=[xrm_employees], discover=False)


@pytest.fixture
def ids(app: XRM) -> dict[str, int]:
    with app.session() as s:
        return {
            **{name: s.parties.create("person", name).id for name in ("ann", "bob", "cat", "dan")},
            "acme": s.parties.create("organization", "ACME").id,
            "globex": s.parties.create("organization", "Globex").id,
        }


def report(s: Session, who: int, to: int, start: D, end: D | None = None) -> int:
    return s.relationships.create("reports_to", who, to, valid_from=start, valid_to=end).id


# -- employed_by -----------------------------------------------------------------------


def test_a_person_is_employed_by_an_organization_read_from_both_ends(
    app: XRM, ids: dict[str, int]
) -> None:
    with app.session() as s:
        s.relationships.create("employed_by", ids["ann"], ids["acme"], valid_from=D(2024, 1, 1))
        (from_ann,) = s.relationships.of(ids["ann"], as_of=D(2024, 2, 1))
        (from_acme,) = s.relationships.of(ids["acme"], as_of=D(2024, 2, 1))
    assert (from_ann.label, from_ann.other_id) == ("is employed by", ids["acme"])
    assert (from_acme.label, from_acme.other_id) == ("employs", ids["ann"])


def test_a_person_has_at_most_one_current_employer(app: XRM, ids: dict[str, int]) -> None:
    with app.session() as s:
        first = s.relationships.create(
            "employed_by", ids["ann"], ids["acme"], valid_from=D(2024, 1, 1)
        )
    before = rows(app)
    with (
        pytest.raises(Conflict, match="'employed_by' allows at most 1 at a time"),
        app.session() as s,
    ):
        s.relationships.create("employed_by", ids["ann"], ids["globex"], valid_from=D(2024, 6, 1))
    assert rows(app) == before
    with app.session() as s:  # once the first employment ends, another may start
        s.relationships.end(first, on=D(2024, 6, 1))
        s.relationships.create("employed_by", ids["ann"], ids["globex"], valid_from=D(2024, 6, 1))
        s.relationships.create("employed_by", ids["bob"], ids["globex"], valid_from=D(2024, 6, 1))
        employees = s.relationships.of(ids["globex"], type="employed_by", as_of=D(2024, 7, 1))
    assert {link.other_id for link in employees} == {ids["ann"], ids["bob"]}


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("acme", "globex", "a party of kind 'organization' cannot be at the 'from' end"),
        ("ann", "bob", "a party of kind 'person' cannot be at the 'to' end"),
    ],
)
def test_only_a_person_is_employed_and_only_by_an_organization(
    app: XRM, ids: dict[str, int], source: str, target: str, message: str
) -> None:
    before = rows(app)
    with pytest.raises(ValidationError, match=message), app.session() as s:
        s.relationships.create("employed_by", ids[source], ids[target])
    assert rows(app) == before


# -- reports_to ------------------------------------------------------------------------


def test_a_person_reports_to_a_manager_read_from_both_ends(app: XRM, ids: dict[str, int]) -> None:
    with app.session() as s:
        report(s, ids["ann"], ids["bob"], D(2024, 1, 1))
        (from_ann,) = s.relationships.of(ids["ann"], as_of=D(2024, 1, 1))
        (from_bob,) = s.relationships.of(ids["bob"], as_of=D(2024, 1, 1))
    assert (from_ann.label, from_ann.other_id) == ("reports to", ids["bob"])
    assert (from_bob.label, from_bob.other_id) == ("manages", ids["ann"])


def test_reports_to_links_persons_only(app: XRM, ids: dict[str, int]) -> None:
    before = rows(app)
    with (
        pytest.raises(ValidationError, match="cannot be at the 'to' end of 'reports_to'"),
        app.session() as s,
    ):
        report(s, ids["ann"], ids["acme"], D(2024, 1, 1))
    assert rows(app) == before


@pytest.mark.parametrize(
    "chain",
    [["ann", "bob"], ["ann", "bob", "cat"], ["ann", "bob", "cat", "dan"]],
    ids=["direct", "through one", "through two"],
)
def test_a_link_that_closes_a_reporting_loop_is_refused(
    app: XRM, ids: dict[str, int], chain: list[str]
) -> None:
    with app.session() as s:
        for who, manager in itertools.pairwise(chain):
            report(s, ids[who], ids[manager], D(2024, 1, 1))
    top, bottom = ids[chain[-1]], ids[chain[0]]
    before = rows(app)
    with pytest.raises(PluginError) as err, app.session() as s:
        report(s, top, bottom, D(2024, 3, 1))
    assert (err.value.plugin, err.value.hook) == ("employees", "xrm_validate_relationship")
    cause = err.value.__cause__
    assert isinstance(cause, ValidationError)
    assert cause.fields == ["to_party"]
    assert str(cause) == (
        f"to_party: party {top} cannot report to party {bottom}: from 2024-03-01 party "
        f"{bottom} already reports to party {top}, directly or through others, so the link "
        "would close a reporting loop"
    )
    assert rows(app) == before


def test_a_person_may_report_to_two_managers_who_share_a_boss(
    app: XRM, ids: dict[str, int]
) -> None:
    with app.session() as s:  # a diamond is no loop
        report(s, ids["ann"], ids["bob"], D(2024, 1, 1))
        report(s, ids["ann"], ids["cat"], D(2024, 1, 1))
        report(s, ids["bob"], ids["dan"], D(2024, 1, 1))
        report(s, ids["cat"], ids["dan"], D(2024, 1, 1))
        managers = s.relationships.of(ids["ann"], type="reports_to", direction="outgoing")
    assert {link.other_id for link in managers} == {ids["bob"], ids["cat"]}


def test_roles_may_swap_once_the_old_line_has_ended(app: XRM, ids: dict[str, int]) -> None:
    with app.session() as s:
        report(s, ids["ann"], ids["bob"], D(2023, 1, 1), D(2024, 1, 1))
        report(s, ids["bob"], ids["ann"], D(2024, 1, 1))  # no day on which both hold
        old = report(s, ids["cat"], ids["dan"], D(2023, 1, 1))
        s.relationships.end(old, on=D(2024, 6, 1))
        report(s, ids["dan"], ids["cat"], D(2024, 6, 1))
    with app.session() as s:

        def managers(who: str, day: dt.date) -> set[int]:
            links = s.relationships.of(ids[who], type="reports_to", direction="outgoing", as_of=day)
            return {link.other_id for link in links}

        assert managers("ann", D(2023, 6, 1)) == {ids["bob"]}
        assert managers("bob", D(2024, 6, 1)) == {ids["ann"]}
        assert managers("ann", D(2024, 6, 1)) == set()
        assert managers("cat", D(2024, 5, 31)) == {ids["dan"]}
        assert managers("dan", D(2024, 6, 1)) == {ids["cat"]}
        assert managers("cat", D(2024, 6, 1)) == set()


def test_a_loop_that_a_later_link_would_close_is_refused_too(app: XRM, ids: dict[str, int]) -> None:
    with app.session() as s:  # bob will report to ann from 2025
        report(s, ids["bob"], ids["ann"], D(2025, 1, 1))
    before = rows(app)
    with pytest.raises(PluginError, match="from 2025-01-01 party"), app.session() as s:
        report(s, ids["ann"], ids["bob"], D(2024, 1, 1))  # open-ended: still there in 2025
    assert rows(app) == before
    with app.session() as s:  # until the day bob's line starts, ann may report to him
        report(s, ids["ann"], ids["bob"], D(2024, 1, 1), D(2025, 1, 1))


# -- no loop, ever: a property -----------------------------------------------------------

PEOPLE = 4
HORIZON = 12  # every start and end below falls before this day
edges = st.lists(
    st.tuples(
        st.integers(0, PEOPLE - 1),
        st.integers(0, PEOPLE - 1),
        st.integers(0, 6),
        st.one_of(st.none(), st.integers(1, 4)),
    ).filter(lambda e: e[0] != e[1]),
    max_size=14,
)
Edge = tuple[int, int, int, int]  # from, to, first day, first day after (HORIZON: open)


def holds(edge: Edge, day: int) -> bool:
    return edge[2] <= day < edge[3]


def reaches(stored: list[Edge], start: int, goal: int, day: int) -> bool:
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        for edge in stored:
            if edge[0] == node and holds(edge, day) and edge[1] not in seen:
                seen.add(edge[1])
                todo.append(edge[1])
    return goal in seen


def has_loop(stored: list[Edge], day: int) -> bool:
    return any(reaches(stored, e[1], e[0], day) for e in stored if holds(e, day))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(candidates=edges)
def test_the_stored_reporting_lines_never_loop(
    app: XRM, candidates: list[tuple[int, int, int, int | None]]
) -> None:
    """Random reporting links, each tried in turn: a link is refused exactly when the
    stored links would loop with it on some day, and no day ever sees a loop."""
    base = D(2024, 1, 1)

    def day(n: int) -> D:
        return base + dt.timedelta(days=n)

    with app.session() as s:
        people = [s.parties.create("person", f"P{i}").id for i in range(PEOPLE)]
        stored: list[Edge] = []
        for who, manager, start, length in candidates:
            edge = (who, manager, start, HORIZON if length is None else start + length)
            end = None if length is None else day(edge[3])
            overlapping_twin = any(
                e[:2] == edge[:2] and e[2] < edge[3] and edge[2] < e[3] for e in stored
            )
            would_loop = any(reaches(stored, manager, who, d) for d in range(start, edge[3]))
            if overlapping_twin:  # the core refuses the same link twice over the same days
                with pytest.raises(Conflict, match="already related by 'reports_to'"):
                    report(s, people[who], people[manager], day(start), end)
            elif would_loop:
                with pytest.raises(PluginError, match="would close a reporting loop"):
                    report(s, people[who], people[manager], day(start), end)
            else:
                report(s, people[who], people[manager], day(start), end)
                stored.append(edge)

        index = {party: i for i, party in enumerate(people)}
        read: list[Edge] = []
        for party in people:
            for link in s.relationships.of(
                party, type="reports_to", direction="outgoing", all_dates=True
            ):
                rel = link.relationship
                last = HORIZON if rel.valid_to is None else (rel.valid_to - base).days
                read.append(
                    (index[party], index[link.other_id], (rel.valid_from - base).days, last)
                )
    assert sorted(read) == sorted(stored)
    assert not any(has_loop(read, d) for d in range(HORIZON + 1))
