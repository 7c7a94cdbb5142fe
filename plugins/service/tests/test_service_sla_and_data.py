"""The SLA list, escalation, the four reports, merge, export and erasure, the command line
and the HTTP endpoints."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
import xrm_service
from click.testing import CliRunner
from service_support import T0, cast, service_app
from xrm_service import SlaItem

from xrm import XRM, Session, hookimpl
from xrm import segments as seg
from xrm.testing import erasure_leftovers

H = dt.timedelta(hours=1)


@pytest.fixture
def app(xrm_factory: Callable[..., XRM], tmp_path: Path) -> XRM:
    return service_app(xrm_factory, tmp_path / "outbox")


def _three_cases(s: Session) -> tuple[int, int, int]:
    c = cast(s)
    urgent = xrm_service.open_case(s, c.marie, "Flood", priority="urgent", team="a", at=T0)
    normal = xrm_service.open_case(s, c.paul, "Noise", priority="normal", team="b", at=T0)
    waiting = xrm_service.open_case(s, c.marie, "Part", priority="high", team="a", at=T0)
    xrm_service.move(s, waiting, "waiting_on_customer", at=T0 + H)
    return urgent.id, normal.id, waiting.id


def test_the_sla_list_is_soonest_first_with_breaches_and_time_left(app: XRM) -> None:
    now = T0 + 30 * H  # Tuesday 15:00 UTC
    with app.session() as s:
        urgent, normal, waiting = _three_cases(s)
        items = xrm_service.sla_list(s, now=now)
        breached = xrm_service.sla_list(s, now=now, breached_only=True)
        page = xrm_service.sla_list(s, now=now, limit=1)
        rest = xrm_service.sla_list(s, now=now, after=(page[0].due_at, page[0].case_id))
    # urgent: response due Monday 10:00; normal: response due Monday 17:00; waiting: the
    # high case answered nothing yet, its response is still due (Monday 13:00)
    assert [(i.case_id, i.target) for i in items] == [
        (urgent, "response"), (waiting, "response"), (normal, "response")
    ]  # fmt: skip
    assert all(i.breached for i in breached) and len(breached) == 3
    assert items[0].seconds_left == -int((now - (T0 + H)).total_seconds())
    assert [i.case_id for i in page + rest] == [i.case_id for i in items]


def test_escalation_calls_the_listeners_once_per_due_instant(app: XRM) -> None:
    seen: list[SlaItem] = []
    xrm_service.configure(app, on_breach_near=[lambda s, item: seen.append(item)])
    with app.session() as s:
        c = cast(s)
        case = xrm_service.open_case(s, c.marie, "Flood", priority="urgent", at=T0)
        first = xrm_service.escalate(s, now=T0 + 0.5 * H)
        again = xrm_service.escalate(s, now=T0 + 0.6 * H)
        late = xrm_service.escalate(s, now=T0 + 2 * H)
        events = [e.type for e in s.timeline(c.marie).items]
    assert [(i.case_id, i.breached) for i in first] == [(case.id, False)]
    assert again == []
    assert [(i.case_id, i.breached) for i in late] == [(case.id, True)]
    assert [i.case_id for i in seen] == [case.id]
    assert "service.breach_near" in events and "service.sla_breached" in events


def test_the_four_reports(app: XRM) -> None:
    with app.session() as s:
        urgent, normal, _ = _three_cases(s)
        xrm_service.move(s, urgent, "open", at=T0 + 0.5 * H)
        xrm_service.link_interaction(
            s, urgent,
            s.interactions.record(channel="phone", direction="outbound", purpose="service",
                                  participants=[(xrm_service.get(s, urgent).party_id,
                                                 "recipient")]).id,
        )  # fmt: skip
        xrm_service.move(s, urgent, "resolved", at=T0 + 3 * H)
        xrm_service.answer_survey(s, urgent, 4)
        ages = xrm_service.open_cases_by_age(s, now=T0 + 4 * 24 * H)
        breaches = xrm_service.breaches_this_week(s, now=T0 + 4 * 24 * H)
        times = {t.team: t for t in xrm_service.times_by_team(s)}
        happy = xrm_service.satisfaction_by_team(s)
    assert [(a.priority, a.age, a.cases) for a in ages] == [("high", "3-7d", 1),
                                                             ("normal", "3-7d", 1)]  # fmt: skip
    with app.session() as s:  # the open cases of a segment's parties: Paul's
        s.parties.tag(xrm_service.get(s, normal).party_id, "noisy")
        mine = xrm_service.open_cases_by_age(
            s, now=T0 + 4 * 24 * H, segment=seg.Tagged(tag="noisy")
        )
    assert [(a.priority, a.cases) for a in mine] == [("normal", 1)]
    kinds = {(b.case_id, b.target) for b in breaches}
    assert (urgent, "resolution") not in kinds  # resolved within 8 business hours
    assert (normal, "response") in kinds
    assert times["a"].resolved == 1 and times["a"].avg_resolution_min == 180.0
    assert [(h.team, h.answers, h.average, h.satisfied) for h in happy] == [("a", 1, 4.0, 1.0)]


def test_a_merge_moves_the_cases_and_an_unmerge_gives_them_back(app: XRM) -> None:
    with app.session() as s:
        c = cast(s)
        twin = s.parties.create("person", "Marie Dupont")
        case = xrm_service.open_case(s, twin, "Broken", at=T0)
        s.identity.merge(c.marie, twin)
        assert xrm_service.get(s, case.id).party_id == c.marie.id
        s.identity.unmerge(twin)
        assert xrm_service.get(s, case.id).party_id == twin.id


def test_erasure_leaves_nothing_personal_and_the_export_has_the_cases(app: XRM) -> None:
    with app.session() as s:
        c = cast(s)
        case = xrm_service.open_case(s, c.marie, "Marie's machine", description="at home",
                                     contacts=[c.paul], at=T0)  # fmt: skip
        xrm_service.move(s, case, "resolved", at=T0 + H)
        xrm_service.answer_survey(s, case, 2, "Marie was not happy")
        export = s.gdpr.export(c.marie)
    assert any(r.get("id") == case.id for r in export["tables"]["service_case"])
    assert not erasure_leftovers(app, c.marie.id)
    with app.session() as s:
        after = xrm_service.get(s, case.id)
    assert (after.subject, after.status, after.satisfaction) == ("[erased]", "resolved", 2)


def test_the_command_line(app: XRM) -> None:
    from xrm_service._cli import case

    class State:
        def app(self) -> XRM:
            return app

    with app.session() as s:
        marie = cast(s).marie.id
    runner = CliRunner()
    opened = runner.invoke(case, ["open", str(marie), "Oven", "--ref", "R-9"], obj=State())
    assert opened.exit_code == 0, opened.output
    assert "C-000001" in opened.output
    moved = runner.invoke(case, ["move", "C-000001", "open"], obj=State())
    assert moved.output.strip() == "C-000001: open"
    listed = runner.invoke(case, ["sla"], obj=State())
    assert "C-000001" in listed.output
    reported = runner.invoke(case, ["report", "age"], obj=State())
    assert "normal" in reported.output

    def ok(*args: str) -> str:
        result = runner.invoke(case, list(args), obj=State())
        assert result.exit_code == 0, result.output
        return result.output

    assert "history:" in ok("show", "C-000001")
    assert "Oven" in ok("list", "--party", str(marie), "--open")
    assert "urgent" in ok("assign", "C-000001", "--priority", "urgent", "--team", "a")
    assert "on C-000001" in ok("notify", str(marie), "repair", "R-9", "repaired",
                               "--data", "note=hello")  # fmt: skip
    ok("escalate")  # what it finds depends on the hour it runs: it must run
    ok("move", "C-000001", "resolved")
    assert ok("surveys", "--delay", "0").strip() == "sent 1, refused 0"
    assert "satisfaction 5" in ok("answer", "C-000001", "5", "--comment", "fine")
    for name in ("breaches", "times", "satisfaction"):
        ok("report", name)
    assert '"answers": 1' in ok("report", "satisfaction", "--json")
    bad = runner.invoke(case, ["open", "marie", "Oven"], obj=State())
    assert bad.exit_code == 2 and "not a party id" in bad.output


class Pager:
    """Another plugin: pages the on-call agent through the hook the service plugin
    declares."""

    def __init__(self) -> None:
        self.paged: list[str] = []

    @hookimpl
    def xrm_service_breach_near(self, item: SlaItem) -> None:
        self.paged.append(f"{item.reference} {item.target}")


def test_another_plugin_hears_of_a_breach_near_through_the_declared_hook(
    xrm_factory: Callable[..., XRM], tmp_path: Path
) -> None:
    pager = Pager()
    app = service_app(xrm_factory, tmp_path / "outbox", extra=[pager])
    with app.session() as s:
        c = cast(s)
        case = xrm_service.open_case(s, c.marie, "Flood", priority="urgent", at=T0)
        xrm_service.escalate(s, now=T0 + 0.5 * H)
        xrm_service.escalate(s, now=T0 + 0.6 * H)  # the same due instant: not again
    assert pager.paged == [f"{case.reference} response"]


def test_the_single_view_shows_the_open_cases_and_their_time_left(app: XRM) -> None:
    with app.session() as s:
        c = cast(s)
        flood = xrm_service.open_case(s, c.marie, "Flood <kitchen>", priority="urgent")
        done = xrm_service.open_case(s, c.marie, "Old one", priority="normal")
        xrm_service.move(s, done, "open")
        xrm_service.move(s, done, "resolved")
        [panel] = [p for p in s.panels(c.marie) if p.plugin == "service"]
    assert panel.title == "Open cases"
    [row] = panel.rows
    assert row[:3] == (flood.reference, "Flood <kitchen>", "new")
    assert row[5].startswith("response due in ")
