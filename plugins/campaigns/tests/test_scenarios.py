"""Automated scenarios: what enrols a party, what each step does, and that each runs once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import xrm_campaigns as xc
from campaigns_support import Cast, Recorder, campaigns_app, cast
from sqlalchemy import select

from xrm import XRM, Conflict, RoleType, ValidationError
from xrm import segments as seg

SOON = dt.timedelta(days=3)


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    return campaigns_app(xrm_factory, Recorder())


@pytest.fixture
def people(app: XRM) -> Cast:
    with app.session() as s:
        return cast(s)


def welcome(**changes: object) -> dict[str, object]:
    spec: dict[str, object] = {
        "name": "welcome",
        "trigger": {"type": "event", "event": "role.assigned", "role": "customer"},
        "steps": [
            {"type": "send", "template": "campaigns_welcome", "purpose": "marketing"},
            {"type": "wait", "days": 2},
            {"type": "activity", "kind": "call", "subject": "Welcome call", "due_in_days": 1},
            {"type": "tag", "tag": "welcomed"},
        ],
    }
    spec.update(changes)
    return spec


def _later(days: float = 3) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(days=days)


def test_a_new_customer_is_welcomed_then_called_two_days_later(app: XRM, people: Cast) -> None:
    with app.session() as s:
        xc.create_scenario(s, welcome())
        s.roles.assign(people.bob, "customer")
    assert xc.work(app) == {"done": 2}  # the email, then the wait
    with app.session() as s:
        assert [m.template for m in s.messages.of(people.bob)] == ["campaigns_welcome"]
        assert s.activities.list(party=people.bob).items == ()
        (waiting,) = xc.enrolments(s, party=people.bob.id)
    assert (waiting.step, waiting.status) == (2, "active")
    assert xc.work(app, now=_later()) == {"done": 2}
    with app.session() as s:
        (call,) = s.activities.list(party=people.bob).items
        assert "welcomed" in s.parties.get(people.bob).tags
        (done,) = xc.enrolments(s, party=people.bob.id)
        report = xc.scenario_report(s, "welcome")
    assert (call.kind, call.subject, done.status) == ("call", "Welcome call", "done")
    assert report["enrolments"] == {"done": 1}
    assert [line["outcomes"] for line in report["steps"]] == [{"done": 1}] * 4
    assert report["steps"][0]["messages"] == 1


def test_a_party_is_enrolled_once_however_often_the_trigger_fires(app: XRM, people: Cast) -> None:
    with app.session() as s:
        xc.create_scenario(s, welcome())
        role = s.roles.assign(people.bob, "customer")
        s.roles.end(role)
        s.roles.assign(people.bob, "customer")
        assert len(xc.enrolments(s, party=people.bob.id)) == 1
        assert xc.enrol(s, "welcome", people.bob.id) is None


def test_a_send_the_ledger_refuses_is_recorded_and_the_scenario_goes_on(
    app: XRM, people: Cast
) -> None:
    with app.session() as s:
        xc.create_scenario(s, welcome())
        s.roles.assign(people.cid, "customer")  # no marketing consent
    xc.work(app)
    xc.work(app, now=_later())
    with app.session() as s:
        report = xc.scenario_report(s, "welcome")
        assert s.messages.of(people.cid) == []
    assert report["steps"][0]["outcomes"] == {"excluded": 1}
    assert report["enrolments"] == {"done": 1}


def test_the_trigger_filters_on_the_state_reached_and_a_segment(app: XRM, people: Cast) -> None:
    trigger = {
        "type": "event", "event": "role.transitioned", "role": "customer",
        "to_state": "customer", "segment": seg.Tagged(tag="vip").model_dump(mode="json"),
    }  # fmt: skip
    with app.session() as s:
        xc.create_scenario(s, welcome(trigger=trigger))
        s.parties.tag(people.ann, "vip")
        for party in (people.ann, people.bob):
            role = s.roles.assign(party, "customer", state="prospect")
            assert xc.enrolments(s, party=party.id) == []  # assigned: not this trigger
            s.roles.transition(role, "customer")
        enrolled = {e.party_id for e in xc.enrolments(s)}
    assert enrolled == {people.ann.id}


def test_interactions_and_consents_trigger_scenarios(app: XRM, people: Cast) -> None:
    steps = [{"type": "tag", "tag": "heard"}]
    with app.session() as s:
        xc.create_scenario(
            s,
            {
                "name": "inbound",
                "steps": steps,
                "trigger": {
                    "type": "event",
                    "event": "interaction.recorded",
                    "direction": "inbound",
                },
            },
        )
        xc.create_scenario(
            s,
            {
                "name": "optin",
                "steps": steps,
                "trigger": {"type": "event", "event": "consent.granted", "purpose": "surveys"},
            },
        )
        xc.create_scenario(s, {"name": "new", "steps": steps, "trigger": {
            "type": "event", "event": "party.created"}})  # fmt: skip
        s.interactions.record(channel="phone", direction="inbound",
                              participants=[(people.ann, "caller")])  # fmt: skip
        s.consents.grant(people.bob, "surveys", source="web form")
        eve = s.parties.create("person", "Eve")
        by = {(e.scenario, e.party_id) for e in xc.enrolments(s)}
    assert by == {("inbound", people.ann.id), ("optin", people.bob.id), ("new", eve.id)}


def test_a_condition_exits_or_skips_the_next_step(app: XRM, people: Cast) -> None:
    vip = seg.Tagged(tag="vip").model_dump(mode="json")
    steps = [
        {"type": "condition", "segment": vip, "otherwise": "skip"},
        {"type": "tag", "tag": "vip_gift"},
        {"type": "condition", "segment": vip},
        {"type": "tag", "tag": "vip_call"},
    ]
    with app.session() as s:
        xc.create_scenario(s, welcome(steps=steps))
        s.parties.tag(people.ann, "vip")
        s.roles.assign(people.ann, "customer")
        s.roles.assign(people.bob, "customer")
    xc.work(app)
    with app.session() as s:
        ann, bob = (s.parties.get(p) for p in (people.ann, people.bob))
        status = {e.party_id: e.status for e in xc.enrolments(s)}
    assert {"vip_gift", "vip_call"} <= set(ann.tags)
    assert not {"vip_gift", "vip_call"} & set(bob.tags)
    assert status == {people.ann.id: "done", people.bob.id: "exited"}


def test_a_role_is_moved_and_a_step_that_cannot_be_done_fails_undone(
    app: XRM, people: Cast
) -> None:
    steps = [
        {"type": "tag", "tag": "nurtured"},
        {"type": "move_role", "role": "customer", "to": "customer"},
        {"type": "move_role", "role": "customer", "to": "lead"},  # not allowed from customer
        {"type": "tag", "tag": "never"},
    ]
    with app.session() as s:
        any_role = {"type": "event", "event": "role.assigned"}
        xc.create_scenario(s, welcome(steps=steps, trigger=any_role))
        s.roles.assign(people.bob, "customer", state="prospect")
    assert xc.work(app) == {"done": 2, "failed": 1}
    with app.session() as s:
        assert s.roles.current(people.bob, "customer").state == "customer"  # type: ignore[union-attr]
        assert "never" not in s.parties.get(people.bob).tags
        (failed,) = xc.enrolments(s, party=people.bob.id)
        report = xc.scenario_report(s, "welcome")
    assert (failed.status, failed.step) == ("failed", 2)
    assert report["steps"][2]["outcomes"] == {"failed": 1}


def test_entering_a_segment_enrols_those_who_enter_after_the_start(app: XRM, people: Cast) -> None:
    vip = seg.Tagged(tag="vip").model_dump(mode="json")
    with app.session() as s:
        s.parties.tag(people.ann, "vip")
        xc.create_scenario(s, {"name": "vip", "trigger": {"type": "segment", "segment": vip},
                               "steps": [{"type": "tag", "tag": "greeted"}]})  # fmt: skip
        assert xc.tick(s) == {}  # Ann was already there
        s.parties.tag(people.bob, "vip")
        assert xc.tick(s) == {"vip": 1}
        assert xc.tick(s) == {}  # once
    xc.work(app)
    with app.session() as s:
        assert "greeted" in s.parties.get(people.bob).tags
        assert "greeted" not in s.parties.get(people.ann).tags


def test_a_birthday_enrols_the_party_every_year_on_the_day(app: XRM) -> None:
    day = dt.datetime(2027, 5, 10, 8, 0, tzinfo=dt.UTC)
    with app.session() as s:
        zoe = s.parties.create("person", "Zoe", birth_date=dt.date(1990, 5, 12))
        s.parties.create("person", "Max", birth_date=dt.date(1990, 6, 1))
        xc.create_scenario(s, {
            "name": "birthday", "trigger": {"type": "date", "attribute": "birth_date",
                                            "days_before": 2},
            "steps": [{"type": "tag", "tag": "birthday"}],
        })  # fmt: skip
        assert xc.tick(s, now=day - dt.timedelta(days=1)) == {}
        assert xc.tick(s, now=day) == {"birthday": 1}
        assert xc.tick(s, now=day + dt.timedelta(hours=3)) == {}
        assert xc.tick(s, now=day.replace(year=2028)) == {"birthday": 1}
        occurrences = sorted(e.occurrence for e in xc.enrolments(s, party=zoe.id))
    assert occurrences == ["2027-05-12", "2028-05-12"]


def test_a_role_date_attribute_triggers_once_on_its_date(app: XRM) -> None:
    renewal = dt.date(2027, 9, 30)
    app.register(RoleType("subscriber", states=["active", "ended"],
                          transitions={"active": ["ended"]}))  # fmt: skip
    with app.session() as s:
        acme = s.parties.create("organization", "ACME")
        s.roles.assign(acme, "subscriber", attributes={"renewal": renewal.isoformat()})
        other = s.parties.create("organization", "Other")
        s.roles.assign(other, "subscriber", attributes={"renewal": "2028-09-30"})
        xc.create_scenario(s, {
            "name": "renewal", "trigger": {"type": "date", "role": "subscriber",
                                           "attribute": "renewal", "days_before": 30,
                                           "yearly": False},
            "steps": [{"type": "activity", "kind": "call", "subject": "Renewal"}],
        })  # fmt: skip
        moment = dt.datetime.combine(renewal - dt.timedelta(days=30), dt.time(6), dt.UTC)
        assert xc.tick(s, now=moment) == {"renewal": 1}
        (enrolment,) = xc.enrolments(s)
    assert (enrolment.party_id, enrolment.occurrence) == (acme.id, "2027-09-30")


def test_a_paused_scenario_enrols_nobody_and_runs_nothing(app: XRM, people: Cast) -> None:
    with app.session() as s:
        xc.create_scenario(s, welcome())
        s.roles.assign(people.ann, "customer")
        xc.set_status(s, "welcome", "paused")
        s.roles.assign(people.bob, "customer")
    assert xc.work(app) == {}
    with app.session() as s:
        assert [e.party_id for e in xc.enrolments(s)] == [people.ann.id]
        xc.set_status(s, "welcome", "active")
    assert xc.work(app) == {"done": 2}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"steps": []}, "steps"),
        ({"steps": [{"type": "send", "template": "nope", "purpose": "marketing"}]}, "steps.0"),
        ({"steps": [{"type": "move_role", "role": "customer", "to": "king"}]}, "steps.0.to"),
        ({"steps": [{"type": "move_role", "role": "wizard", "to": "x"}]}, "steps.0.role"),
        ({"steps": [{"type": "wait", "days": -1}]}, "steps.0.days"),
        ({"trigger": {"type": "event", "event": "party.exploded"}}, "trigger.event"),
        ({"trigger": {"type": "segment", "segment": "unknown"}}, "trigger.segment"),
    ],
)
def test_a_bad_scenario_is_refused_naming_the_field(
    app: XRM, change: dict[str, object], field: str
) -> None:
    with app.session() as s, pytest.raises(ValidationError) as refused:
        xc.create_scenario(s, welcome(**change))
    assert any(f == field or f.startswith(f"{field}.") for f in refused.value.fields), (
        refused.value.fields
    )


def test_a_scenario_name_is_taken_once(app: XRM) -> None:
    with app.session() as s:
        xc.create_scenario(s, welcome())
        with pytest.raises(Conflict):
            xc.create_scenario(s, welcome())
        assert [x.name for x in xc.scenarios(s)] == ["welcome"]


def test_each_step_run_is_on_the_party_timeline(app: XRM, people: Cast) -> None:
    with app.session() as s:
        xc.create_scenario(s, welcome())
        s.roles.assign(people.bob, "customer")
    xc.work(app)
    xc.work(app, now=_later())
    with app.session() as s:
        types = [e.type for e in s.timeline(people.bob, limit=100).items]
        runs = s.db.scalar(select(xc.StepRunRow.id).limit(1))
    assert types.count("campaigns.step_ran") == 4
    assert "campaigns.enrolled" in types
    assert runs is not None
