"""The journal and the timeline: every change is an immutable event, written in the same
transaction, and a party's timeline is its whole history, newest first."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xrm import XRM, Email, ValidationError


def test_the_timeline_is_the_single_view_of_a_party(app: XRM) -> None:
    with app.session(actor="alice") as s:
        acme = s.parties.create("organization", "ACME")
        marie = s.parties.create("person", "Marie", contact_points=[Email("m@example.com")])
        s.parties.add_contact_point(marie, {"kind": "phone", "value": "+33612345678"})
        s.relationships.create("works_for", marie, acme)
        s.roles.assign(marie, "customer")
        s.interactions.record(
            channel="phone", direction="inbound", participants=[(marie, "caller"), (acme, "about")]
        )
        s.parties.tag(marie.id, "vip")
        marie_types = [e.type for e in s.timeline(marie)]
        acme_types = [e.type for e in s.timeline(acme)]
    assert marie_types == [
        "party.tagged",
        "interaction.recorded",
        "role.assigned",
        "relationship.created",
        "contact_point.added",
        "party.created",
    ]
    assert acme_types == ["interaction.recorded", "relationship.created", "party.created"]
    with app.session() as s:
        assert {e.actor for e in s.timeline(marie)} == {"alice"}


def test_the_timeline_orders_by_when_things_happened(app: XRM) -> None:
    with app.session() as s:
        p = s.parties.create("person", "Jo")
        old = s.interactions.record(
            channel="web",
            direction="inbound",
            participants=[(p, "visitor")],
            occurred_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
        )
        entries = list(s.timeline(p))
    assert entries[-1].entity_id == old.id  # recorded last, happened first


def test_a_failed_write_leaves_no_event(app: XRM) -> None:
    with app.session() as s:
        p = s.parties.create("person", "Jo")
        with pytest.raises(ValidationError):
            s.parties.add_contact_point(p, Email("not-an-email"))
        assert [e.type for e in s.timeline(p)] == ["party.created"]


def test_events_can_be_filtered_by_type(app: XRM) -> None:
    with app.session() as s:
        p = s.parties.create("person", "Jo")
        s.parties.tag(p.id, "a")
        assert [e.type for e in s.timeline(p, types=["party.tagged"])] == ["party.tagged"]


actions = st.lists(
    st.sampled_from(["tag", "untag", "email", "rename", "call", "role"]), min_size=1, max_size=12
)


@given(actions)
def test_the_timeline_lists_exactly_the_changes_in_order(app: XRM, steps: list[str]) -> None:
    expected = ["party.created"]
    with app.session() as s:
        p = s.parties.create("person", "Jo").id
        for n, step in enumerate(steps):
            if step == "tag":
                s.parties.tag(p, f"t{n}")
                expected.append("party.tagged")
            elif step == "untag":
                held = s.parties.get(p).tags
                if held:
                    s.parties.untag(p, held[0])
                    expected.append("party.untagged")
            elif step == "email":
                s.parties.add_contact_point(p, Email(f"jo{n}@example.com"))
                expected.append("contact_point.added")
            elif step == "rename":
                s.parties.update(p, display_name=f"Jo {n}")
                expected.append("party.updated")
            elif step == "call":
                s.interactions.record(
                    channel="phone", direction="inbound", participants=[(p, "caller")]
                )
                expected.append("interaction.recorded")
            elif step == "role":
                current = s.roles.current(p, "customer")
                if current is None:
                    s.roles.assign(p, "customer")
                    expected.append("role.assigned")
                else:
                    s.roles.end(current)
                    expected.append("role.ended")
        got: list[str] = []
        page = s.timeline(p, limit=4)
        while True:
            got += [e.type for e in page]
            if page.next_cursor is None:
                break
            page = s.timeline(p, limit=4, after=page.next_cursor)
    assert got == expected[::-1]


@pytest.mark.parametrize("cursor", ["WzFd", "WyJ4IiwxXQ", "WzEsMl0", "WyIyMDI2LTAxLTAxIiwxLjVd"])
def test_a_cursor_of_the_wrong_shape_is_refused_naming_after(app: XRM, cursor: str) -> None:
    """``[1]``, ``["x", 1]``, ``[1, 2]``, ``["2026-01-01", 1.5]``: each decodes, none is a
    cursor a page returned."""
    with app.session() as s:
        party = s.parties.create("person", "Ada")
        with pytest.raises(ValidationError, match="after"):
            s.timeline(party, after=cursor)
        with pytest.raises(ValidationError, match="after"):
            s.interactions.of(party, after=cursor)
