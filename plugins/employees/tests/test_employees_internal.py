"""Internal interactions: contacts between collaborators, every one a current employee."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import xrm_employees
from xrm_employees import record_internal

from xrm import XRM, Party, PluginError, Role, Session, ValidationError
from xrm.testing import snapshot as rows


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    return xrm_factory(plugins=[xrm_employees], discover=False)


def hire(s: Session, name: str, state: str = "active") -> Party:
    person = s.parties.create("person", name)
    s.roles.assign(person, "employee", state=state, attributes={"employee_number": name})
    return person


def role_of(s: Session, person: Party) -> Role:
    role = s.roles.current(person, "employee")
    assert role is not None
    return role


@pytest.fixture
def staff(app: XRM) -> dict[str, int]:
    """Current employees: ann, bob, cat (on leave) and dan (a candidate); eve has left,
    fay's role was ended, gus never was an employee."""
    with app.session() as s:
        people = {name: hire(s, name) for name in ("ann", "bob", "cat", "eve", "fay")}
        people["dan"] = hire(s, "dan", state="candidate")
        people["gus"] = s.parties.create("person", "gus")
        s.roles.transition(role_of(s, people["cat"]), "on_leave")
        s.roles.transition(role_of(s, people["eve"]), "left")
        s.roles.end(role_of(s, people["fay"]))
    return {name: party.id for name, party in people.items()}


def test_an_internal_interaction_is_recorded_between_collaborators(
    app: XRM, staff: dict[str, int]
) -> None:
    with app.session() as s:
        chat = record_internal(
            s, staff["ann"], [staff["bob"], staff["cat"]], "Quarterly plan", "Draft attached."
        )
        meeting = record_internal(
            s, staff["bob"], [staff["dan"]], "Onboarding", channel="face_to_face"
        )
        bobs = s.interactions.of(staff["bob"], touchpoint="internal")
    assert (chat.direction, chat.touchpoint, chat.channel) == ("internal", "internal", "chat")
    assert (chat.subject, chat.content) == ("Quarterly plan", "Draft attached.")
    assert [(p.party_id, p.role) for p in chat.participants] == [
        (staff["ann"], "author"),
        (staff["bob"], "attendee"),
        (staff["cat"], "attendee"),
    ]
    assert meeting.channel == "face_to_face"
    assert [i.id for i in bobs] == [meeting.id, chat.id]


def test_parties_who_are_not_current_employees_are_refused_by_name(
    app: XRM, staff: dict[str, int]
) -> None:
    before = rows(app)
    with pytest.raises(ValidationError) as err, app.session() as s:
        record_internal(s, staff["eve"], [staff["ann"], staff["fay"], staff["gus"]], "Gossip")
    assert err.value.fields == ["author", "attendees.1", "attendees.2"]
    assert str(err.value) == (
        f"author: party {staff['eve']} is not a current employee; "
        f"attendees.1: party {staff['fay']} is not a current employee; "
        f"attendees.2: party {staff['gus']} is not a current employee"
    )
    assert rows(app) == before


@pytest.mark.parametrize(
    ("attendees", "field", "reason"),
    [
        ([], "attendees", "give at least one attendee"),
        (["bob", "ann"], "attendees.1", "the author is already a participant"),
    ],
)
def test_an_internal_interaction_needs_attendees_besides_its_author(
    app: XRM, staff: dict[str, int], attendees: list[str], field: str, reason: str
) -> None:
    before = rows(app)
    with pytest.raises(ValidationError) as err, app.session() as s:
        record_internal(s, staff["ann"], [staff[a] for a in attendees], "Alone")
    assert str(err.value) == f"{field}: {reason}"
    assert rows(app) == before


def test_an_unknown_channel_is_refused(app: XRM, staff: dict[str, int]) -> None:
    before = rows(app)
    with pytest.raises(ValidationError, match="unknown channel 'telepathy'"), app.session() as s:
        record_internal(s, staff["ann"], [staff["bob"]], "Hm", channel="telepathy")
    assert rows(app) == before


def test_the_rule_holds_for_interactions_recorded_directly_too(
    app: XRM, staff: dict[str, int]
) -> None:
    before = rows(app)
    with pytest.raises(PluginError) as err, app.session() as s:
        s.interactions.record(
            channel="email",
            direction="internal",
            touchpoint="internal",
            participants=[(staff["ann"], "sender"), (staff["gus"], "recipient")],
        )
    assert (err.value.plugin, err.value.hook) == ("employees", "xrm_validate_interaction")
    assert str(err.value.__cause__) == (
        f"participants.1: party {staff['gus']} is not a current employee"
    )
    assert rows(app) == before


def test_the_internal_touchpoint_is_for_internal_interactions_only(
    app: XRM, staff: dict[str, int]
) -> None:
    before = rows(app)
    with pytest.raises(PluginError) as err, app.session() as s:
        s.interactions.record(
            channel="phone",
            direction="inbound",
            touchpoint="internal",
            participants=[(staff["ann"], "agent"), (staff["bob"], "sender")],
        )
    assert str(err.value.__cause__) == (
        "direction: an interaction at the 'internal' touchpoint must be internal, not 'inbound'"
    )
    assert rows(app) == before


def test_other_touchpoints_are_not_policed(app: XRM, staff: dict[str, int]) -> None:
    with app.session() as s:  # an agent taking a customer's call: not internal collaboration
        call = s.interactions.record(
            channel="phone",
            direction="inbound",
            touchpoint="support",
            participants=[(staff["ann"], "agent"), (staff["gus"], "sender")],
        )
    assert call.touchpoint == "support"
