"""Activities: what someone has to do, for whom, by when. Planned, rescheduled, completed
(recording the call or meeting it was) or cancelled; listed per assignee, per party, per
record, overdue or due this week, soonest first; on the timelines; exported and erased
with the party."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xrm import (
    XRM,
    Activity,
    Conflict,
    ConsentRequired,
    Email,
    NotFound,
    Phone,
    RoleType,
    ValidationError,
)

NOW = dt.datetime(2026, 12, 2, 9, 30, tzinfo=dt.UTC)  # a Wednesday
PARIS = ZoneInfo("Europe/Paris")


def people(app: XRM) -> tuple[int, int, int]:
    """A customer, an organisation and an employee (the assignee)."""
    with app.session(actor="setup") as s:
        marie = s.parties.create(
            "person", "Marie Dupont",
            contact_points=[Email("marie@example.com"), Phone("+33612345678")],
        ).id  # fmt: skip
        acme = s.parties.create("organization", "ACME").id
        ann = s.parties.create("person", "Ann Agent").id
    return marie, acme, ann


def test_a_planned_activity_is_due_in_utc_and_shows_on_every_timeline(app: XRM) -> None:
    marie, acme, ann = people(app)
    with app.session(actor="ann") as s:
        call = s.activities.plan(
            "call", "Call back about the quote", due=dt.datetime(2026, 12, 3, 10, 0),
            time_zone="Europe/Paris", parties=[marie, acme], assignee=ann,
            about=("sales.opportunity", 7), notes="she prefers mornings",
        )  # fmt: skip
    assert call.due_at == dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)  # 10:00 in Paris
    assert call.local_due() == dt.datetime(2026, 12, 3, 10, 0, tzinfo=PARIS)
    assert (call.status, call.kind, call.parties) == ("open", "call", (marie, acme))
    assert call.about == ("sales.opportunity", 7) and call.assignee_id == ann
    with app.session() as s:
        assert s.activities.get(call.id) == call
        for party in (marie, acme, ann):
            [entry] = [e for e in s.timeline(party).items if e.type == "activity.planned"]
            assert entry.entity_id == call.id and entry.actor == "ann"


def test_bad_input_names_the_field_and_writes_nothing(app: XRM, unchanged: object) -> None:
    marie, _, _ = people(app)
    cases = [
        ({"kind": "lunch"}, "kind"),
        ({"subject": "   "}, "subject"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"about": ("", 1)}, "about.0"),
    ]
    for change, field in cases:
        given_ = {"kind": "call", "subject": "Call", "time_zone": None, "about": None, **change}
        with unchanged(), app.session() as s, pytest.raises(ValidationError) as refused:  # type: ignore[operator]
            s.activities.plan(
                given_["kind"], given_["subject"], due=NOW, time_zone=given_["time_zone"],
                parties=[marie], about=given_["about"],
            )  # fmt: skip
        assert refused.value.errors[0].path == field
    with unchanged(), app.session() as s, pytest.raises(NotFound):  # type: ignore[operator]
        s.activities.plan("task", "Send the contract", due=NOW, parties=[marie, 999_999])


def test_rescheduling_keeps_a_history_and_only_open_activities_change(app: XRM) -> None:
    marie, _, ann = people(app)
    with app.session(actor="ann") as s:
        task = s.activities.plan("task", "Send the contract", due=NOW, parties=[marie])
        moved = s.activities.update(task, due=NOW + dt.timedelta(days=2), assignee=ann)
        assert moved.due_at == NOW + dt.timedelta(days=2) and moved.assignee_id == ann
        with pytest.raises(Conflict, match="changed since"):
            s.activities.update(task, subject="stale copy")  # read before the move
        s.activities.cancel(moved, reason="the customer signed at the shop")
        with pytest.raises(Conflict, match="cancelled"):
            s.activities.update(moved.id, subject="too late")
        history = s.activities.history(task.id)
    assert [e.type for e in history] == [
        "activity.planned", "activity.updated", "activity.cancelled"
    ]  # fmt: skip
    changes = history[1].data["changes"]
    assert changes["due_at"]["to"] == (NOW + dt.timedelta(days=2)).isoformat()
    assert changes["assignee_id"] == {"from": None, "to": ann}


def test_completing_a_call_records_the_interaction_in_the_same_unit_of_work(app: XRM) -> None:
    """The assignee takes part as the company's agent: it must be one of the company's
    own parties (a current staff member)."""
    app.register(RoleType("staff", states=["active"], transitions={}, internal_states=["active"]))
    marie, _, ann = people(app)
    with app.session(actor="ann") as s:
        s.roles.assign(ann, "staff")
        s.consents.grant(marie, "marketing", source="web form")
        call = s.activities.plan(
            "call", "Present the offer", due=NOW, parties=[marie], assignee=ann
        )
        done = s.activities.complete(
            call, outcome="interested", record=True, purpose="marketing", touchpoint="sales"
        )
        assert (done.status, done.outcome) == ("done", "interested")
        assert done.completed_at is not None
        interaction = s.interactions.get(done.interaction_id)
    assert (interaction.channel, interaction.direction, interaction.subject) == (
        "phone", "outbound", "Present the offer"
    )  # fmt: skip
    assert {(p.party_id, p.role) for p in interaction.participants} == {
        (marie, "participant"), (ann, "agent")
    }  # fmt: skip
    assert interaction.attributes == {"activity_id": call.id}


def test_a_completion_the_consent_ledger_refuses_leaves_the_activity_open(app: XRM) -> None:
    marie, _, _ = people(app)
    with app.session() as s:
        call = s.activities.plan("call", "Spring offers", due=NOW, parties=[marie])
        with pytest.raises(ValidationError) as refused:
            s.activities.complete(call, record=True)  # outbound: which purpose?
        assert refused.value.errors[0].path == "purpose"
        with pytest.raises(ConsentRequired):
            s.activities.complete(call, record=True, purpose="marketing")
        assert s.activities.get(call.id).status == "open"
        assert not s.interactions.of(marie).items
        with pytest.raises(ValidationError, match="reason"):
            s.activities.cancel(call, reason=" ")


def test_lists_mine_per_party_per_record_overdue_and_this_week(app: XRM) -> None:
    marie, acme, ann = people(app)
    with app.session() as s:
        late = s.activities.plan("call", "Late", due=NOW - dt.timedelta(days=1), parties=[marie],
                                 assignee=ann)  # fmt: skip
        # Monday 00:30 in Paris is next week there, and still Sunday 23:30 in UTC
        sunday = s.activities.plan(
            "task", "Sunday night", due=dt.datetime(2026, 12, 7, 0, 30), time_zone="Europe/Paris",
            parties=[acme], user="bob",
        )  # fmt: skip
        next_week = s.activities.plan(
            "meeting", "Next week", due=NOW + dt.timedelta(days=7), parties=[marie, acme],
            user="bob", about=("sales.opportunity", 3),
        )  # fmt: skip
        done = s.activities.plan("email", "Done", due=NOW, parties=[marie], user="bob")
        s.activities.complete(done)

        def ids(page: object) -> list[int]:
            return [a.id for a in page]  # type: ignore[attr-defined]

        assert ids(s.activities.mine(ann)) == [late.id]
        assert ids(s.activities.mine("bob")) == [sunday.id, next_week.id]
        assert ids(s.activities.list(party=marie)) == [late.id, next_week.id]
        assert ids(s.activities.list(party=marie, status=None)) == [late.id, done.id, next_week.id]
        assert ids(s.activities.list(about=("sales.opportunity", 3))) == [next_week.id]
        assert ids(s.activities.overdue(now=NOW)) == [late.id]
        assert ids(s.activities.due_this_week(now=NOW, time_zone="Europe/Paris")) == [late.id]
        assert ids(s.activities.due_this_week(now=NOW)) == [late.id, sunday.id]  # UTC
        assert ids(s.activities.due_this_week(now=NOW, party=acme)) == [sunday.id]
        with pytest.raises(ValidationError, match="status"):
            s.activities.list(status="pending")


@given(
    offsets=st.lists(st.integers(min_value=-500, max_value=500), min_size=1, max_size=25),
    page=st.integers(min_value=1, max_value=7),
)
def test_pages_read_every_activity_once_soonest_first(
    app: XRM, offsets: list[int], page: int
) -> None:
    with app.session() as s:
        party = s.parties.create("person", "Someone").id
        planned = [
            s.activities.plan("task", f"t{i}", due=NOW + dt.timedelta(hours=h), parties=[party])
            for i, h in enumerate(offsets)
        ]
        seen: list[Activity] = []
        cursor = None
        while True:
            got = s.activities.list(party=party, limit=page, after=cursor)
            seen.extend(got)
            cursor = got.next_cursor
            if cursor is None:
                break
    assert [a.id for a in seen] == [a.id for a in sorted(planned, key=lambda a: (a.due_at, a.id))]


def test_the_export_holds_the_activities_and_erasure_clears_them(app: XRM) -> None:
    marie, acme, ann = people(app)
    with app.session() as s:
        open_call = s.activities.plan("call", "Call Marie Dupont", due=NOW, parties=[marie],
                                      assignee=ann, notes="mobile after 6pm")  # fmt: skip
        other = s.activities.plan("task", "Ann Agent reviews ACME", due=NOW, parties=[acme],
                                  assignee=ann)  # fmt: skip
        exported = s.gdpr.export(marie)
        assert [a["subject"] for a in exported["activities"]] == ["Call Marie Dupont"]
        assert {a["id"] for a in s.gdpr.export(ann)["activities"]} == {open_call.id, other.id}
        report = s.gdpr.erase(marie, reason="asked")
        assert report.activities == 1
        gone = s.activities.get(open_call.id)
        assert (gone.subject, gone.notes, gone.status) == ("[erased]", None, "cancelled")
        s.gdpr.erase(ann, reason="left the company")
        kept = s.activities.get(other.id)
        assert kept.assignee_id is None and "Ann" not in kept.subject and "ACME" in kept.subject


def test_a_merge_carries_the_activities_and_an_unmerge_gives_them_back(app: XRM) -> None:
    """The duplicate's planned call shows on the survivor after the merge (one link where
    both were concerned), and its assignments follow; the unmerge gives back each."""
    with app.session() as s:
        marie = s.parties.create("person", "Marie Dupont").id
        twin = s.parties.create("person", "Marie Dupont").id
        call = s.activities.plan("call", "Call back", due=NOW, parties=[twin])
        both = s.activities.plan("meeting", "Both", due=NOW, parties=[marie, twin])
        hers = s.activities.plan("task", "Twin's task", due=NOW, parties=[marie], assignee=twin)
        s.identity.merge(marie, twin)
        assert [a.id for a in s.activities.list(party=marie)] == [call.id, both.id, hers.id]
        assert s.activities.get(both.id).parties == (marie,)
        assert s.activities.get(hers.id).assignee_id == marie
        s.identity.unmerge(twin)
        assert [a.id for a in s.activities.list(party=twin)] == [call.id, both.id]
        assert s.activities.get(both.id).parties == (marie, twin)
        assert s.activities.get(hers.id).assignee_id == twin
