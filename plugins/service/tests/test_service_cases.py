"""Cases: opening, the workflow, the service-level clock, reassignment; every rule, one
specification each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
import xrm_service
from service_support import T0, cast, service_app
from xrm_service import Calendar, Policy, Workflow

from xrm import XRM, ConfigurationError, Conflict, NotFound, ValidationError

H = dt.timedelta(hours=1)


@pytest.fixture
def app(xrm_factory: Callable[..., XRM], tmp_path: Path) -> XRM:
    return service_app(xrm_factory, tmp_path / "outbox")


def test_a_case_is_opened_new_with_its_service_level_due_in_business_hours(app: XRM) -> None:
    with app.session() as s:
        c = cast(s)
        case = xrm_service.open_case(
            s, c.marie, "Washing machine leaks", category="repair", priority="normal",
            channel="phone", contacts=[c.paul], assignee=c.agent, team="repairs",
            external_ref="R-42", at=T0,
        )  # fmt: skip
    assert case.reference == f"C-{case.id:06d}"
    assert (case.status, case.policy, case.contacts) == ("new", "normal", (c.paul.id,))
    # normal: first response in 8 business hours (Monday 17:00), resolution in 40 (Friday)
    assert case.response_due_at == T0 + 8 * H
    assert case.resolution_due_at == T0 + 4 * 24 * H + 8 * H
    assert case.next_due_at == case.response_due_at


def test_bad_input_names_every_field(app: XRM) -> None:
    with app.session() as s:
        c = cast(s)
        with pytest.raises(ValidationError) as err:
            xrm_service.open_case(
                s, c.marie, " ", priority="asap", channel="Phone!", assignee=c.paul
            )
    paths = {e.path for e in err.value.errors}
    assert paths == {"subject", "priority", "channel", "assignee"}
    assert "no current employee role" in str(err.value)


def test_a_case_is_found_by_its_reference_and_an_unknown_one_is_not_found(app: XRM) -> None:
    with app.session() as s:
        case = xrm_service.open_case(s, cast(s).marie, "Broken", at=T0)
        assert xrm_service.get(s, case.reference).id == case.id
        with pytest.raises(NotFound):
            xrm_service.get(s, "C-999999")
        with pytest.raises(ValidationError, match="case"):
            xrm_service.get(s, "nonsense")


def test_waiting_on_the_customer_pauses_the_resolution_clock(app: XRM) -> None:
    with app.session() as s:
        case = xrm_service.open_case(s, cast(s).marie, "Broken", priority="urgent", at=T0)
        # urgent: resolution in 8 business hours, Monday 17:00
        assert case.resolution_due_at == T0 + 8 * H
        waiting = xrm_service.move(s, case, "waiting_on_customer", at=T0 + 2 * H)
        assert (waiting.running, waiting.resolution_due_at) == (False, None)
        assert waiting.resolution_used == 2 * H
        # back on Tuesday 10:00: 6 business hours left, so Tuesday 16:00
        back = xrm_service.move(s, case, "open", at=T0 + 25 * H)
        assert back.running
        assert back.resolution_due_at == T0 + 24 * H + 7 * H


def test_a_move_the_workflow_does_not_have_is_a_conflict(app: XRM) -> None:
    with app.session() as s:
        case = xrm_service.open_case(s, cast(s).marie, "Broken", at=T0)
        with pytest.raises(Conflict, match="cannot move from 'new' to 'new'") as err:
            xrm_service.move(s, case, "new", at=T0 + H)
        assert "'new'" in str(err.value)
        with pytest.raises(ValidationError, match="status"):
            xrm_service.move(s, case, "limbo", at=T0 + H)


def test_a_resolved_case_is_reopened_within_the_window_only(app: XRM) -> None:
    with app.session() as s:
        first = xrm_service.open_case(s, cast(s).marie, "Broken", at=T0)
        xrm_service.move(s, first, "resolved", at=T0 + H)
        reopened = xrm_service.move(s, first, "open", at=T0 + 3 * 24 * H)
        assert (reopened.status, reopened.resolved_at, reopened.running) == ("open", None, True)
        late = xrm_service.open_case(s, cast_again(s), "Again", at=T0)
        xrm_service.move(s, late, "resolved", at=T0 + H)
        xrm_service.move(s, late, "closed", at=T0 + 2 * H)
        with pytest.raises(Conflict, match="more than 7 days ago"):
            xrm_service.move(s, late, "open", at=T0 + 8 * 24 * H + 2 * H)
        steps = [(h.from_status, h.to_status) for h in xrm_service.history(s, first)]
    assert steps == [(None, "new"), ("new", "resolved"), ("resolved", "open")]


def cast_again(s: object) -> int:
    from xrm import Session

    assert isinstance(s, Session)
    return s.parties.create("person", "Jean Martin").id


def test_resolving_without_a_response_counts_as_the_response(app: XRM) -> None:
    with app.session() as s:
        case = xrm_service.open_case(s, cast(s).marie, "Broken", at=T0)
        done = xrm_service.move(s, case, "resolved", at=T0 + 3 * H)
    assert done.first_response_at == T0 + 3 * H
    assert (done.next_due_at, done.running) == (None, False)


def test_a_new_priority_chooses_the_service_level_again(app: XRM) -> None:
    with app.session() as s:
        c = cast(s)
        case = xrm_service.open_case(s, c.marie, "Broken", at=T0)
        urgent = xrm_service.update_case(s, case, priority="urgent", team="tier2", at=T0 + H)
        assert (urgent.policy, urgent.team) == ("urgent", "tier2")
        assert urgent.response_due_at == T0 + H  # one business hour after opening
        assert urgent.resolution_due_at == T0 + 8 * H  # 1 hour used, 7 left from 10:00
        events = [e.type for e in s.timeline(c.marie).items]
    assert "service.case_updated" in events and "service.case_opened" in events


def test_an_application_configures_calendars_policies_and_workflow(app: XRM) -> None:
    paris = Calendar(
        "paris", {"mon-fri": "09:00-12:00, 14:00-18:00"}, time_zone="Europe/Paris", country="FR"
    )
    xrm_service.configure(
        app, calendars=[paris],
        policies=[Policy("gold", 60, 120, tier="gold", calendar="paris"),
                  Policy("any", 240, 480, calendar="paris")],
    )  # fmt: skip
    with app.session() as s:
        c = cast(s)
        # Wednesday 11 November 2026 is Armistice Day: closed; Thursday 09:00 Paris (08:00Z)
        at = dt.datetime(2026, 11, 10, 17, 30, tzinfo=dt.UTC)  # Tuesday 18:30 in Paris
        gold = xrm_service.open_case(s, c.marie, "Broken", tier="gold", at=at)
        other = xrm_service.open_case(s, c.paul, "Broken", at=at)
    assert gold.policy == "gold" and other.policy == "any"
    assert gold.response_due_at == dt.datetime(2026, 11, 12, 9, 0, tzinfo=dt.UTC)
    assert gold.resolution_due_at == dt.datetime(2026, 11, 12, 10, 0, tzinfo=dt.UTC)
    with pytest.raises(ConfigurationError, match="unknown calendar"):
        xrm_service.configure(app, policies=[Policy("x", 1, 2, calendar="nowhere")])
    with pytest.raises(ConfigurationError, match="unknown statuses"):
        Workflow(statuses=("new",), transitions={"new": ("done",)})
    with pytest.raises(ConfigurationError, match="time zone"):
        Calendar("bad", {"mon": "09:00-17:00"}, time_zone="Mars/Olympus")
    with pytest.raises(ConfigurationError, match="HH:MM-HH:MM"):
        Calendar("bad", {"mon": "9 to 5"})
