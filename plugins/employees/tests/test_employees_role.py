"""The ``employee`` role: persons only, its attributes, its lifecycle, and employee numbers
unique among current employees."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
import xrm_employees
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xrm_employees import find_employee, update_employee

from xrm import XRM, Conflict, Party, PluginError, Session, ValidationError
from xrm.testing import snapshot as rows

D = dt.date


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    return xrm_factory(plugins=[xrm_employees], discover=False)


def hire(s: Session, name: str, number: str, state: str = "active") -> Party:
    person = s.parties.create("person", name)
    s.roles.assign(person, "employee", state=state, attributes={"employee_number": number})
    return person


# -- attributes ------------------------------------------------------------------------


def test_a_person_is_hired_with_the_attributes_of_an_employee(app: XRM) -> None:
    with app.session() as s:
        marie = s.parties.create("person", "Marie Curie")
        role = s.roles.assign(
            marie,
            "employee",
            attributes={
                "employee_number": "  E-0042 ",
                "department": "Research",
                "title": "Physicist",
                "hire_date": D(2024, 3, 1),
            },
        )
    assert role.state == "candidate"
    assert dict(role.attributes) == {
        "employee_number": "E-0042",
        "department": "Research",
        "title": "Physicist",
        "hire_date": "2024-03-01",
        "end_date": None,
    }


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        ({}, "attributes.employee_number"),
        ({"employee_number": "   "}, "attributes.employee_number"),
        ({"employee_number": "E1", "hire_date": "not a date"}, "attributes.hire_date"),
        ({"employee_number": "E1", "badge": "blue"}, "attributes.badge"),
    ],
)
def test_attributes_that_do_not_fit_the_schema_are_refused(
    app: XRM, attributes: dict[str, Any], field: str
) -> None:
    with app.session() as s:
        person = s.parties.create("person", "Paul")
    before = rows(app)
    with pytest.raises(ValidationError) as err, app.session() as s:
        s.roles.assign(person, "employee", attributes=attributes)
    assert field in err.value.fields
    assert rows(app) == before


def test_an_employment_cannot_end_before_it_starts(app: XRM) -> None:
    with app.session() as s:
        person = s.parties.create("person", "Paul")
    before = rows(app)
    with pytest.raises(ValidationError) as err, app.session() as s:
        s.roles.assign(
            person,
            "employee",
            attributes={
                "employee_number": "E1",
                "hire_date": D(2024, 3, 1),
                "end_date": D(2024, 2, 29),
            },
        )
    assert "end_date 2024-02-29 is before hire_date 2024-03-01" in str(err.value)
    assert rows(app) == before
    with app.session() as s:
        one_day = {"employee_number": "E1", "hire_date": D(2024, 3, 1), "end_date": D(2024, 3, 1)}
        assert s.roles.assign(person, "employee", attributes=one_day).attributes["end_date"]


def test_only_a_person_can_be_an_employee(app: XRM) -> None:
    with app.session() as s:
        acme = s.parties.create("organization", "ACME")
    before = rows(app)
    with pytest.raises(ValidationError) as err, app.session() as s:
        s.roles.assign(acme, "employee", attributes={"employee_number": "E1"})
    assert "cannot hold role 'employee' (only person)" in str(err.value)
    assert rows(app) == before


# -- lifecycle -------------------------------------------------------------------------

ALLOWED = {
    ("candidate", "active"),
    ("candidate", "left"),
    ("active", "on_leave"),
    ("active", "left"),
    ("on_leave", "active"),
    ("on_leave", "left"),
}
#: how a role assigned as a candidate reaches each state
PATH = {"candidate": [], "active": ["active"], "on_leave": ["active", "on_leave"], "left": ["left"]}


def test_the_lifecycle_allows_exactly_its_transitions(app: XRM) -> None:
    states = list(PATH)
    numbers = itertools.count()
    for source, target in itertools.product(states, states):
        with app.session() as s:
            person = hire(s, f"{source}-{target}", f"E{next(numbers)}", state="candidate")
            role = s.roles.current(person, "employee")
            assert role is not None
            for step in PATH[source]:
                role = s.roles.transition(role, step)
        if (source, target) in ALLOWED:
            with app.session() as s:
                assert s.roles.transition(role, target).state == target
            continue
        before = rows(app)
        # a role in the final state "left" has ended: no transition leaves it
        refused = "ended; assign it again" if source == "left" else f"cannot go from '{source}'"
        with (
            pytest.raises(ValidationError, match=refused),
            app.session() as s,
        ):
            s.roles.transition(role, target)
        assert rows(app) == before


@pytest.mark.parametrize("state", ["candidate", "active"])
def test_an_employee_starts_as_a_candidate_or_already_active(app: XRM, state: str) -> None:
    with app.session() as s:
        role = s.roles.current(hire(s, "Marie", "E1", state=state), "employee")
    assert role is not None and role.state == state


@pytest.mark.parametrize("state", ["on_leave", "left"])
def test_an_employee_cannot_start_on_leave_or_gone(app: XRM, state: str) -> None:
    with app.session() as s:
        person = s.parties.create("person", "Paul")
    before = rows(app)
    with pytest.raises(ValidationError, match=f"cannot start in '{state}'"), app.session() as s:
        s.roles.assign(person, "employee", state=state, attributes={"employee_number": "E1"})
    assert rows(app) == before


# -- employee numbers ------------------------------------------------------------------


def test_two_current_employees_cannot_share_a_number(app: XRM) -> None:
    with app.session() as s:
        marie = hire(s, "Marie", "E1")
        paul = s.parties.create("person", "Paul")
    before = rows(app)
    with pytest.raises(PluginError) as err, app.session() as s:
        s.roles.assign(paul, "employee", attributes={"employee_number": " E1"})
    assert (err.value.plugin, err.value.hook) == ("employees", "xrm_validate_role_transition")
    cause = err.value.__cause__
    assert isinstance(cause, Conflict)
    assert cause.field == "attributes.employee_number"
    assert f"employee number 'E1' is already held by current employee party {marie.id}" in str(
        cause
    )
    assert rows(app) == before


@pytest.mark.parametrize("state", ["candidate", "on_leave"])
def test_candidates_and_employees_on_leave_keep_their_number(app: XRM, state: str) -> None:
    with app.session() as s:
        marie = hire(s, "Marie", "E1", state="candidate" if state == "candidate" else "active")
        role = s.roles.current(marie, "employee")
        assert role is not None
        if state == "on_leave":
            s.roles.transition(role, "on_leave")
        paul = s.parties.create("person", "Paul")
    before = rows(app)
    with (
        pytest.raises(PluginError, match="employee number 'E1' is already held"),
        app.session() as s,
    ):
        s.roles.assign(paul, "employee", attributes={"employee_number": "E1"})
    assert rows(app) == before


@pytest.mark.parametrize("how", ["left", "ended"])
def test_the_number_of_someone_who_left_may_be_given_again(app: XRM, how: str) -> None:
    with app.session() as s:
        marie = hire(s, "Marie", "E1")
        role = s.roles.current(marie, "employee")
        assert role is not None
        if how == "left":
            s.roles.transition(role, "left")
        else:
            s.roles.end(role)
        paul = hire(s, "Paul", "E1")
        found = find_employee(s, "E1")
    assert found is not None and found.party_id == paul.id


def test_find_employee_reads_a_current_employee_by_number(app: XRM) -> None:
    with app.session() as s:
        marie = hire(s, "Marie", "E1")
        found = find_employee(s, " E1 ")
        assert found is not None and found.party_id == marie.id
        assert find_employee(s, "E2") is None
        s.roles.transition(found, "left")
        assert find_employee(s, "E1") is None


def test_update_employee_changes_some_attributes_and_keeps_the_others(app: XRM) -> None:
    with app.session() as s:
        marie = hire(s, "Marie", "E1")
        update_employee(s, marie, {"department": "Research", "title": "Physicist"})
        role = update_employee(s, marie, {"title": None, "employee_number": "E7"})
    assert dict(role.attributes) == {
        "employee_number": "E7",
        "department": "Research",
        "title": None,
        "hire_date": None,
        "end_date": None,
    }


def test_update_employee_refuses_a_number_another_current_employee_holds(app: XRM) -> None:
    with app.session() as s:
        hire(s, "Marie", "E1")
        paul = hire(s, "Paul", "E2")
    before = rows(app)
    with pytest.raises(Conflict, match="employee number 'E1' is already held"), app.session() as s:
        update_employee(s, paul, {"employee_number": "E1 "})
    assert rows(app) == before


def test_update_employee_refuses_a_party_that_is_no_employee(app: XRM) -> None:
    with app.session() as s:
        paul = s.parties.create("person", "Paul")
    before = rows(app)
    with (
        pytest.raises(ValidationError, match=f"party {paul.id} holds no employee role"),
        app.session() as s,
    ):
        update_employee(s, paul, {"title": "Boss"})
    assert rows(app) == before


def test_update_employee_refuses_attributes_that_do_not_fit(app: XRM) -> None:
    with app.session() as s:
        marie = hire(s, "Marie", "E1")
    before = rows(app)
    with pytest.raises(ValidationError) as err, app.session() as s:
        update_employee(s, marie, {"hire_date": D(2024, 5, 1), "end_date": D(2024, 4, 1)})
    assert "is before hire_date" in str(err.value)
    assert rows(app) == before


def test_a_duplicate_number_written_around_the_rule_is_caught_at_the_next_transition(
    app: XRM,
) -> None:
    # roles.update calls no plugin hook: the plugin re-checks whenever the role moves
    with app.session() as s:
        hire(s, "Marie", "E1")
        paul = hire(s, "Paul", "E2")
        role = s.roles.current(paul, "employee")
        assert role is not None
        role = s.roles.update(role, {"employee_number": "E1"})
    before = rows(app)
    with (
        pytest.raises(PluginError, match="employee number 'E1' is already held"),
        app.session() as s,
    ):
        s.roles.transition(role, "on_leave")
    assert rows(app) == before
    with app.session() as s:  # leaving is never blocked by the number
        assert s.roles.transition(role, "left").state == "left"


# -- the uniqueness rule, as a property --------------------------------------------------

PEOPLE = 4
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("hire"),
            st.integers(0, PEOPLE - 1),
            st.sampled_from(["E1", "E2", "E3"]),
            st.sampled_from(["candidate", "active"]),
        ),
        st.tuples(st.just("leave"), st.integers(0, PEOPLE - 1)),
        st.tuples(st.just("end"), st.integers(0, PEOPLE - 1)),
        st.tuples(st.just("renumber"), st.integers(0, PEOPLE - 1), st.sampled_from(["E1", "E2"])),
    ),
    max_size=12,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_numbers_stay_unique_among_current_employees(app: XRM, ops: list[tuple[Any, ...]]) -> None:
    """Whatever the order of hires, departures and renumberings, an operation is refused
    exactly when another current employee holds the number, and the stored current
    employees never share one."""
    with app.session() as s:
        people = [s.parties.create("person", f"P{i}").id for i in range(PEOPLE)]
        # examples share the database: numbers of earlier examples must not collide
        ops = [(op[0], op[1], f"{people[0]}-{op[2]}", *op[3:]) if len(op) > 2 else op for op in ops]
        #: the model: person index -> (state, number) of their held role
        held: dict[int, tuple[str, str]] = {}

        def taken(number: str, by_other_than: int) -> bool:
            return any(
                state != "left" and n == number
                for who, (state, n) in held.items()
                if who != by_other_than
            )

        for op in ops:
            who = op[1]
            if op[0] == "hire":
                number, state = op[2], op[3]
                if who in held:
                    with pytest.raises(Conflict, match="already holds role"):
                        s.roles.assign(
                            people[who],
                            "employee",
                            state=state,
                            attributes={"employee_number": number},
                        )
                elif taken(number, who):
                    with pytest.raises(PluginError, match=f"employee number '{number}'"):
                        s.roles.assign(
                            people[who],
                            "employee",
                            state=state,
                            attributes={"employee_number": number},
                        )
                else:
                    s.roles.assign(
                        people[who], "employee", state=state, attributes={"employee_number": number}
                    )
                    held[who] = (state, number)
            elif op[0] == "leave" and who in held and held[who][0] != "left":
                role = s.roles.current(people[who], "employee")
                assert role is not None
                s.roles.transition(role, "left")
                del held[who]  # "left" is final: the role has ended
            elif op[0] == "end" and who in held:
                role = s.roles.current(people[who], "employee")
                assert role is not None
                s.roles.end(role)
                del held[who]
            elif op[0] == "renumber":
                number = op[2]
                if who not in held:
                    with pytest.raises(ValidationError, match="holds no employee role"):
                        update_employee(s, people[who], {"employee_number": number})
                elif held[who][0] != "left" and taken(number, who):
                    with pytest.raises(Conflict, match=f"employee number '{number}'"):
                        update_employee(s, people[who], {"employee_number": number})
                else:
                    update_employee(s, people[who], {"employee_number": number})
                    held[who] = (held[who][0], number)

        current = [
            role.attributes["employee_number"]
            for p in people
            for role in s.roles.of(p, type="employee")
            if role.state != "left"
        ]
        assert len(current) == len(set(current))
        assert sorted(current) == sorted(n for state, n in held.values() if state != "left")


def test_erasing_an_employee_leaves_none_of_their_personal_data(app: XRM) -> None:
    from xrm.testing import erasure_leftovers

    with app.session() as s:
        ann = hire(s, "Ann Lee", "E-0042")
    assert erasure_leftovers(app, ann.id) == []
