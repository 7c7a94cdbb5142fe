"""Properties: the business-hours clock equals a minute-by-minute reference on random
calendars, pauses and holidays; a case's status history never breaks the workflow. The
database ones run on SQLite, and on PostgreSQL with XRM_TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import xrm_service
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from service_support import service_app
from xrm_service import Calendar, Policy

from xrm import XRM, Conflict

MINUTE = dt.timedelta(minutes=1)
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    week: dict[int, list[tuple[int, int]]] = {}
    for day in range(7):
        windows = []
        for _ in range(draw(st.integers(0, 2))):
            start = draw(st.integers(0, 95)) * 15
            end = draw(st.integers(start // 15 + 1, 96)) * 15
            windows.append((start, end))
        week[day] = windows
    if not any(week.values()):
        week[draw(st.integers(0, 6))] = [(540, 1020)]
    closed = draw(st.lists(st.dates(dt.date(2026, 1, 1), dt.date(2026, 12, 31)), max_size=30))
    return Calendar(
        "random", week, time_zone=draw(st.sampled_from(ZONES)),
        country=draw(st.sampled_from([None, "FR", "US", "DE"])), closed=closed,
    )  # fmt: skip


def is_open(cal: Calendar, minute: dt.datetime) -> bool:
    local = minute.astimezone(ZoneInfo(cal.time_zone))
    at = local.hour * 60 + local.minute
    if cal.is_closed_day(local.date()):
        return False
    return any(a <= at < b for a, b in cal.hours[local.weekday()])


def reference_between(cal: Calendar, start: dt.datetime, end: dt.datetime) -> int:
    minutes, m = 0, start
    while m < end:
        minutes += is_open(cal, m)
        m += MINUTE
    return minutes


def reference_add(cal: Calendar, start: dt.datetime, minutes: int) -> dt.datetime:
    m = start
    while minutes > 0:
        if is_open(cal, m):
            minutes -= 1
        m += MINUTE
    return m if m > start else start


instants = st.integers(0, 364 * 24 * 60).map(lambda n: BASE + n * MINUTE)


@settings(max_examples=150)
@given(cal=calendars(), start=instants, span=st.integers(0, 4 * 24 * 60))
def test_business_time_equals_counting_open_minutes(
    cal: Calendar, start: dt.datetime, span: int
) -> None:
    end = start + span * MINUTE
    assert cal.business_time(start, end) == reference_between(cal, start, end) * MINUTE


@settings(max_examples=150)
@given(cal=calendars(), start=instants, minutes=st.integers(0, 3 * 8 * 60))
def test_adding_business_time_equals_counting_open_minutes(
    cal: Calendar, start: dt.datetime, minutes: int
) -> None:
    due = cal.add_business_time(start, minutes * MINUTE)
    expected = reference_add(cal, start, minutes)
    assert due == expected


@pytest.fixture
def app(xrm_factory: Callable[..., XRM], tmp_path: Path) -> XRM:
    return service_app(xrm_factory, tmp_path / "outbox")


# the application is shared by the examples on purpose: each opens its own case
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cal=calendars(),
    start=st.integers(0, 300 * 24 * 60).map(lambda n: BASE + n * MINUTE),
    gaps=st.lists(st.integers(1, 2 * 24 * 60), min_size=1, max_size=6),
    target=st.integers(1, 3 * 8 * 60),
)
def test_a_case_clock_with_pauses_equals_the_reference(
    app: XRM, cal: Calendar, start: dt.datetime, gaps: list[int], target: int
) -> None:
    xrm_service.configure(app, calendars=[cal],
                          policies=[Policy("p", target, target, calendar="random")])  # fmt: skip
    with app.session() as s:
        party = s.parties.create("person", "Ann")
        case = xrm_service.open_case(s, party, "Broken", at=start)
        assert case.resolution_due_at == reference_add(cal, start, target)
        used, since, at = 0, start, start
        running = True
        for gap in gaps:
            at += gap * MINUTE
            if running:
                used += reference_between(cal, since, at)
                case = xrm_service.move(s, case, "waiting_on_customer", at=at)
                assert case.resolution_due_at is None
            else:
                since = at
                case = xrm_service.move(s, case, "open", at=at)
                expected = reference_add(cal, at, max(target - used, 0))
                assert case.resolution_due_at == expected
            assert case.resolution_used == used * MINUTE
            running = not running


class Workflow(RuleBasedStateMachine):
    """Random moves, legal or not, at increasing instants: the stored history stays a walk
    of the workflow, and the refused moves change nothing."""

    app: XRM

    def __init__(self) -> None:
        super().__init__()
        self.at = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
        with self.app.session() as s:
            self.case = xrm_service.open_case(
                s, s.parties.create("person", "Ann"), "Broken", at=self.at
            ).id

    @rule(to=st.sampled_from(xrm_service.DEFAULT_WORKFLOW.statuses),
          hours=st.integers(0, 24 * 5))  # fmt: skip
    def move(self, to: str, hours: int) -> None:
        self.at += dt.timedelta(hours=hours)
        with self.app.session() as s:
            before = xrm_service.get(s, self.case)
            try:
                xrm_service.move(s, self.case, to, at=self.at)
            except Conflict:
                assert xrm_service.get(s, self.case) == before

    @invariant()
    def history_is_a_walk_of_the_workflow(self) -> None:
        flow = xrm_service.DEFAULT_WORKFLOW
        with self.app.session() as s:
            steps = xrm_service.history(s, self.case)
            now = xrm_service.get(s, self.case)
        assert steps[0].from_status is None and steps[0].to_status == flow.initial
        resolved_at = None
        for before, step in itertools.pairwise(steps):
            assert step.from_status == before.to_status and step.at >= before.at
            assert step.from_status is not None and flow.allowed(step.from_status, step.to_status)
            if flow.is_reopening(step.from_status, step.to_status):
                assert flow.reopen_allowed(resolved_at, step.at)
            if step.to_status == flow.resolved or (
                step.to_status == flow.closed and resolved_at is None
            ):
                resolved_at = step.at
            if flow.is_reopening(step.from_status, step.to_status):
                resolved_at = None
        assert now.status == steps[-1].to_status
        assert now.running == (now.status not in flow.done and now.status not in flow.paused)
        assert (now.resolved_at is not None) == (now.status in flow.done)


def test_a_case_history_never_breaks_the_workflow(app: XRM) -> None:
    Workflow.app = app
    run_state_machine_as_test(
        Workflow, settings=settings(max_examples=15, stateful_step_count=12, deadline=None)
    )
