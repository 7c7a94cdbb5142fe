"""Interactions: every contact on every channel, with its participants, listed per party
newest first."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from xrm import XRM, NotFound, ParticipantIn, ValidationError

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def parties(app: XRM) -> dict[str, int]:
    with app.session() as s:
        return {
            "marie": s.parties.create(
                "person", "Marie", contact_points=[{"kind": "phone", "value": "06 12 34 56 78"}]
            ).id,
            "acme": s.parties.create("organization", "ACME").id,
            "agent": s.parties.create("person", "Agent Smith").id,
        }


def test_a_call_with_several_participants_is_recorded(app: XRM, parties: dict[str, int]) -> None:
    with app.session() as s:
        call = s.interactions.record(
            channel="phone",
            direction="inbound",
            touchpoint="support",
            occurred_at=T0,
            subject="Printer jams",
            content="Paper tray 2 jams after 10 pages.",
            outcome="ticket opened",
            external_ref="PBX-991",
            participants=[
                (parties["marie"], "caller", "+33 6 12 34 56 78"),
                ParticipantIn(party=parties["agent"], role="agent"),
                {"party": parties["acme"], "role": "about"},
            ],
        )
        stored = s.interactions.get(call.id)
    assert stored == call
    assert call.occurred_at == T0
    assert [(p.role, p.contact_point_id is not None) for p in call.participants] == [
        ("caller", True),
        ("agent", False),
        ("about", False),
    ]


def test_a_party_lists_its_interactions_newest_first_in_keyset_pages(
    app: XRM, parties: dict[str, int]
) -> None:
    with app.session() as s:
        ids = [
            s.interactions.record(
                channel="email" if i % 2 else "chat",
                direction="inbound",
                occurred_at=T0 + dt.timedelta(hours=i),
                participants=[(parties["marie"], "sender")],
            ).id
            for i in range(7)
        ]
        seen: list[int] = []
        page = s.interactions.of(parties["marie"], limit=3)
        while True:
            seen += [i.id for i in page]
            if page.next_cursor is None:
                break
            page = s.interactions.of(parties["marie"], limit=3, after=page.next_cursor)
        assert seen == ids[::-1]
        emails = s.interactions.of(parties["marie"], channel="email")
        assert [i.id for i in emails] == [ids[5], ids[3], ids[1]]
        assert len(s.interactions.of(parties["acme"])) == 0


def test_internal_interactions_between_collaborators(app: XRM, parties: dict[str, int]) -> None:
    with app.session() as s:
        note = s.interactions.record(
            channel="chat",
            direction="internal",
            participants=[(parties["agent"], "author"), (parties["marie"], "attendee")],
        )
    assert note.direction == "internal"


def test_outbound_contact_needs_a_purpose(
    app: XRM, parties: dict[str, int], unchanged: Any
) -> None:
    with unchanged(), pytest.raises(ValidationError) as err, app.session() as s:
        s.interactions.record(
            channel="email", direction="outbound", participants=[(parties["marie"], "recipient")]
        )
    assert err.value.fields == ["purpose"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"channel": "telepathy"}, "channel"),
        ({"direction": "sideways"}, "direction"),
        ({"touchpoint": "canteen"}, "touchpoint"),
        ({"purpose": "gossip"}, "purpose"),
        ({"participants": []}, "participants"),
        ({"participants": [("marie", "caller", 1, 2)]}, "participants.0"),
        ({"participants": [(1, "")]}, "participants.0.role"),
        ({"subject": "x" * 301}, "subject"),
    ],
)
def test_bad_interactions_are_refused_and_write_nothing(
    app: XRM, parties: dict[str, int], unchanged: Any, kwargs: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {
        "channel": "phone",
        "direction": "inbound",
        "participants": [(parties["marie"], "caller")],
    }
    args.update(kwargs)
    with unchanged(), pytest.raises(ValidationError) as err, app.session() as s:
        s.interactions.record(**args)
    assert field in err.value.fields


def test_an_unknown_participant_is_not_found_and_nothing_is_written(
    app: XRM, parties: dict[str, int], unchanged: Any
) -> None:
    with unchanged(), pytest.raises(NotFound), app.session() as s:
        s.interactions.record(
            channel="phone",
            direction="inbound",
            participants=[(parties["marie"], "caller"), (999, "about")],
        )


def test_a_contact_point_the_party_does_not_have_is_refused(
    app: XRM, parties: dict[str, int]
) -> None:
    with app.session() as s, pytest.raises(ValidationError, match="has no contact point"):
        s.interactions.record(
            channel="phone",
            direction="inbound",
            participants=[(parties["marie"], "caller", "+33 1 23 45 67 89")],
        )
