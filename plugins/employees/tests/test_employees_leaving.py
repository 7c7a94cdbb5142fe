"""When an employee leaves, the customers they manage (``account_manager``, from the built-in
customers plugin) are reported in the timelines, to be given another account manager."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import xrm_employees
from xrm_employees import ManagedCustomer, customers_managed_by

from xrm import XRM, Party, Role, Session, TimelineEntry, ValidationError

D = dt.date
AT = dt.datetime


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    app = xrm_factory(plugins=[xrm_employees], discover=False)  # built-ins on: customers
    assert "account_manager" in app.registry.relationship_types
    return app


def hire(s: Session, name: str) -> Party:
    person = s.parties.create("person", name)
    s.roles.assign(
        person,
        "employee",
        state="active",
        attributes={"employee_number": name},
        at=AT(2024, 1, 1, tzinfo=dt.UTC),
    )
    return person


def role_of(s: Session, person: int) -> Role:
    role = s.roles.current(person, "employee")
    assert role is not None
    return role


def left_events(s: Session, party: int) -> list[TimelineEntry]:
    return list(s.timeline(party, types=["employees.left"]))


@pytest.fixture
def book(app: XRM) -> dict[str, int]:
    """ann manages ACME (since 2024), Globex (until June 2024) and Initech (from September
    2024); bob manages Umbrella."""
    with app.session() as s:
        ids = {"ann": hire(s, "ann").id, "bob": hire(s, "bob").id}
        for name, manager, start, end in [
            ("ACME", "ann", D(2024, 1, 1), None),
            ("Globex", "ann", D(2024, 1, 1), D(2024, 6, 1)),
            ("Initech", "ann", D(2024, 9, 1), None),
            ("Umbrella", "bob", D(2024, 1, 1), None),
        ]:
            customer = s.parties.create("organization", name)
            s.roles.assign(customer, "customer", state="customer")
            s.relationships.create(
                "account_manager", customer, ids[manager], valid_from=start, valid_to=end
            )
            ids[name] = customer.id
    return ids


def test_customers_managed_by_reads_the_current_account_manager_links(
    app: XRM, book: dict[str, int]
) -> None:
    with app.session() as s:

        def names(person: str, day: D | AT | None) -> list[str]:
            return [c.display_name for c in customers_managed_by(s, book[person], as_of=day)]

        assert names("ann", D(2023, 12, 31)) == []
        assert names("ann", D(2024, 3, 1)) == ["ACME", "Globex"]
        assert names("ann", D(2024, 6, 1)) == ["ACME"]
        assert names("ann", AT(2024, 9, 1, 8, 30, tzinfo=dt.UTC)) == ["ACME", "Initech"]
        assert names("ann", None) == names("ann", dt.date.today()) == ["ACME", "Initech"]
        assert names("bob", D(2024, 3, 1)) == ["Umbrella"]
        (acme, _) = customers_managed_by(s, book["ann"], as_of=D(2024, 3, 1))
        (link,) = s.relationships.of(book["ACME"], type="account_manager")
    assert acme == ManagedCustomer(book["ACME"], "ACME", link.relationship.id, D(2024, 1, 1))


def test_customers_managed_by_refuses_what_is_not_a_day(app: XRM, book: dict[str, int]) -> None:
    with pytest.raises(ValidationError, match="as_of: expected a date"), app.session() as s:
        customers_managed_by(s, book["ann"], as_of="2024-01-01")  # type: ignore[arg-type]


def test_an_employee_who_leaves_is_reported_with_the_customers_to_reassign(
    app: XRM, book: dict[str, int]
) -> None:
    leaving = AT(2024, 10, 15, 17, 0, tzinfo=dt.UTC)
    with app.session() as s:
        role = s.roles.transition(role_of(s, book["ann"]), "left", at=leaving)
        (event,) = left_events(s, book["ann"])
        in_timelines = {name: left_events(s, book[name]) for name in book}
        links = {
            name: s.relationships.of(book[name], type="account_manager")[0].relationship.id
            for name in ("ACME", "Initech")
        }
    assert (event.entity, event.entity_id, event.occurred_at) == ("role", role.id, leaving)
    assert dict(event.data) == {
        "employee": book["ann"],
        "state": "left",
        "role_ended": False,
        "customers_to_reassign": [
            {"party_id": book[name], "display_name": name, "relationship_id": links[name]}
            for name in ("ACME", "Initech")
        ],
    }
    assert {name for name, events in in_timelines.items() if events} == {
        "ann",
        "ACME",
        "Initech",
    }
    assert in_timelines["ACME"] == in_timelines["Initech"] == [event]


def test_customers_are_read_on_the_day_the_employee_left(app: XRM, book: dict[str, int]) -> None:
    with app.session() as s:  # before Initech was given to ann, after Globex left her
        s.roles.transition(role_of(s, book["ann"]), "left", at=AT(2024, 7, 1, tzinfo=dt.UTC))
        (event,) = left_events(s, book["ann"])
    assert [c["display_name"] for c in event.data["customers_to_reassign"]] == ["ACME"]


def test_ending_the_role_of_someone_still_employed_reports_them_too(
    app: XRM, book: dict[str, int]
) -> None:
    ended = AT(2024, 10, 15, tzinfo=dt.UTC)
    with app.session() as s:
        s.roles.transition(role_of(s, book["ann"]), "on_leave", at=AT(2024, 8, 1, tzinfo=dt.UTC))
        assert left_events(s, book["ann"]) == []  # being on leave is not leaving
        role = s.roles.end(role_of(s, book["ann"]), at=ended)
        (event,) = left_events(s, book["ann"])
    assert (event.entity_id, event.occurred_at) == (role.id, ended)
    assert (event.data["state"], event.data["role_ended"]) == ("on_leave", True)
    assert [c["display_name"] for c in event.data["customers_to_reassign"]] == [
        "ACME",
        "Initech",
    ]


def test_leaving_ends_the_role_and_is_reported_once(app: XRM, book: dict[str, int]) -> None:
    with app.session() as s:
        left = s.roles.transition(role_of(s, book["ann"]), "left")
        assert left.ended_at is not None  # "left" is a final state
        assert s.roles.current(book["ann"], "employee") is None
        assert all(p.id != book["ann"] for p in s.parties.list(role="employee").items)
        assert len(left_events(s, book["ann"])) == 1
        assert len(left_events(s, book["ACME"])) == 1


def test_a_leaver_without_customers_is_reported_with_none(app: XRM) -> None:
    with app.session() as s:
        cat = s.parties.create("person", "cat")
        candidate = s.roles.assign(cat, "employee", attributes={"employee_number": "C1"})
        s.roles.transition(candidate, "left")
        (event,) = left_events(s, cat.id)
    assert event.data["customers_to_reassign"] == []


def test_without_the_customers_plugin_a_leaver_has_no_customers(
    xrm_factory: Callable[..., XRM], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XRM_DISABLE_PLUGINS", "customers")
    app = xrm_factory(plugins=[xrm_employees], discover=False)
    assert "account_manager" not in app.registry.relationship_types
    with app.session() as s:
        ann = hire(s, "ann")
        assert customers_managed_by(s, ann) == []
        s.roles.transition(role_of(s, ann.id), "left")
        (event,) = left_events(s, ann.id)
    assert event.data["customers_to_reassign"] == []
