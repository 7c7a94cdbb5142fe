"""The reports (each one query), the stale list, merge and unmerge, export and erasure,
and the ``xrm opportunity`` commands."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
import xrm_sales
from click.testing import CliRunner
from sales_support import T0, Cast, cast, sales_app
from sqlalchemy import event
from xrm_sales import ContactIn

from xrm import XRM
from xrm import segments as seg
from xrm.testing import erasure_leftovers, snapshot

DAY = dt.timedelta(days=1)


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    return sales_app(xrm_factory)


@pytest.fixture
def people(app: XRM) -> Cast:
    with app.session() as s:
        return cast(s)


def _queries(app: XRM) -> list[str]:
    seen: list[str] = []
    event.listen(app.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_the_pipeline_by_stage_and_currency_now_and_as_of_a_past_day(
    app: XRM, people: Cast
) -> None:
    with app.session() as s:
        a = xrm_sales.open_opportunity(s, people.acme, "A", amount="1000", currency="EUR", at=T0)
        b = xrm_sales.open_opportunity(s, people.acme, "B", amount="3000", currency="EUR", at=T0)
        xrm_sales.open_opportunity(s, people.acme, "C", amount="500", currency="USD", at=T0)
        xrm_sales.move(s, a, "proposal", at=T0 + 2 * DAY)
        xrm_sales.move(s, b, "won", at=T0 + 3 * DAY)
    queries = _queries(app)
    with app.session() as s:
        now = xrm_sales.pipeline_report(s)
        then = xrm_sales.pipeline_report(s, as_of=(T0 + DAY).date())
        before = xrm_sales.pipeline_report(s, as_of=(T0 - DAY).date())
    assert len([q for q in queries if "sales_opportunity" in q]) == 3  # one query each
    assert [(x.stage, x.currency, x.opportunities, x.amount, x.weighted) for x in now] == [
        ("qualification", "USD", 1, Decimal(500), Decimal(50)),
        ("proposal", "EUR", 1, Decimal(1000), Decimal(500)),
        ("won", "EUR", 1, Decimal(3000), Decimal(3000)),
    ]
    assert [(x.stage, x.currency, x.opportunities, x.amount, x.weighted) for x in then] == [
        ("qualification", "EUR", 2, Decimal(4000), Decimal(400)),
        ("qualification", "USD", 1, Decimal(500), Decimal(50)),
    ]
    assert before == []


def test_the_reports_keep_the_accounts_of_a_segment(app: XRM, people: Cast) -> None:
    with app.session() as s:
        xrm_sales.open_opportunity(s, people.acme, "A", amount="1000", currency="EUR",
                                   expected_close=dt.date(2026, 3, 2), at=T0)  # fmt: skip
        xrm_sales.open_opportunity(s, people.reseller, "B", amount="3000", currency="EUR",
                                   expected_close=dt.date(2026, 3, 2), at=T0)  # fmt: skip
        s.parties.tag(people.reseller, "key account")
        s.segments.define("key accounts", seg.Tagged(tag="key account"))
        assert [x.amount for x in xrm_sales.pipeline_report(s, segment="key accounts")] == [
            Decimal(3000)
        ]
        partners = seg.HasRole(role="partner")
        assert [x.amount for x in xrm_sales.forecast(s, segment=partners)] == [Decimal(3000)]
        assert sum(x.amount for x in xrm_sales.forecast(s)) == Decimal(4000)


def test_the_forecast_by_month_of_expected_close_and_owner(app: XRM, people: Cast) -> None:
    with app.session(actor="ann") as s:
        for amount, close, owner in [
            ("1000", dt.date(2026, 3, 2), people.seller),
            ("2000", dt.date(2026, 3, 30), people.seller),
            ("4000", dt.date(2026, 3, 15), None),
            ("8000", dt.date(2026, 4, 1), None),
            ("9999", None, None),
        ]:
            xrm_sales.open_opportunity(
                s, people.acme, "D", amount=amount, currency="EUR", expected_close=close,
                owner=owner, stage="proposal",
            )  # fmt: skip
        lost = xrm_sales.open_opportunity(
            s, people.acme, "L", amount="7", currency="EUR", expected_close=dt.date(2026, 3, 1)
        )
        xrm_sales.move(s, lost, "lost", lost_reason="budget")
        lines = xrm_sales.forecast(s, start=dt.date(2026, 3, 1), end=dt.date(2026, 5, 1))
    assert [(x.month, x.owner_party_id, x.owner_user, x.opportunities, x.amount, x.weighted)
            for x in lines] == [
        (dt.date(2026, 3, 1), people.seller.id, None, 2, Decimal(3000), Decimal(1500)),
        (dt.date(2026, 3, 1), None, "ann", 1, Decimal(4000), Decimal(2000)),
        (dt.date(2026, 4, 1), None, "ann", 1, Decimal(8000), Decimal(4000)),
    ]  # fmt: skip


def test_win_rate_and_days_in_stage_over_a_period(app: XRM, people: Cast) -> None:
    with app.session() as s:
        won = xrm_sales.open_opportunity(s, people.acme, "W", amount=1, currency="EUR", at=T0)
        xrm_sales.move(s, won, "proposal", at=T0 + 2 * DAY)
        xrm_sales.move(s, won, "won", at=T0 + 6 * DAY)
        lost = xrm_sales.open_opportunity(s, people.acme, "L", amount=1, currency="EUR", at=T0)
        xrm_sales.move(s, lost, "proposal", at=T0 + 4 * DAY)
        xrm_sales.move(s, lost, "lost", at=T0 + 5 * DAY, lost_reason="price")
        later = xrm_sales.open_opportunity(s, people.acme, "X", amount=1, currency="EUR", at=T0)
        xrm_sales.move(s, later, "lost", at=T0 + 40 * DAY, lost_reason="price")
        xrm_sales.open_opportunity(s, people.acme, "Open", amount=1, currency="EUR", at=T0)
        lines = xrm_sales.stage_performance(s, start=T0.date(), end=(T0 + 30 * DAY).date())
    assert [(x.stage, x.reached, x.won, x.win_rate) for x in lines] == [
        ("qualification", 2, 1, 0.5),
        ("proposal", 2, 1, 0.5),
        ("won", 1, 1, 1.0),
        ("lost", 1, 0, 0.0),
    ]
    assert lines[0].average_days == pytest.approx(3.0)  # 2 and 4 days
    assert lines[1].average_days == pytest.approx(2.5)  # 4 days and 1 day
    assert lines[2].average_days is None  # nobody left it


def test_stale_opportunities_had_no_activity_about_them_for_n_days(app: XRM, people: Cast) -> None:
    now = dt.datetime.now(dt.UTC)
    with app.session() as s:
        forgotten = xrm_sales.open_opportunity(
            s, people.acme, "Forgotten", amount=1, currency="EUR", at=now - 40 * DAY
        )
        followed = xrm_sales.open_opportunity(
            s, people.acme, "Followed", amount=1, currency="EUR", at=now - 40 * DAY
        )
        young = xrm_sales.open_opportunity(
            s, people.acme, "Young", amount=1, currency="EUR", at=now - 2 * DAY
        )
        s.activities.plan(
            "call", "Follow up", due=now + DAY, parties=[people.acme],
            about=(xrm_sales.ABOUT, followed.id),
        )  # fmt: skip
        stale = list(xrm_sales.stale(s, days=30))
        assert [x.opportunity_id for x in stale] == [forgotten.id]
        assert stale[0].last_activity is None
        later = list(xrm_sales.stale(s, days=30, now=now + 31 * DAY))
        assert [x.opportunity_id for x in later] == [forgotten.id, young.id, followed.id]
        assert later[2].last_activity is not None


def test_a_merge_moves_opportunities_and_contacts_and_the_unmerge_gives_them_back(
    app: XRM, people: Cast
) -> None:
    with app.session() as s:
        twin = s.parties.create("organization", "ACME Industries SA")
        alice2 = s.parties.create("person", "Alice Martin")
        kept = xrm_sales.open_opportunity(s, people.acme, "Kept", amount=1, currency="EUR")
        moved = xrm_sales.open_opportunity(
            s, twin, "Moved", amount=2, currency="EUR", contacts=[ContactIn(alice2, "user")]
        )
    before = {t: r for t, r in snapshot(app).items() if not t.startswith("journal")}
    with app.session() as s:
        s.identity.merge(people.acme, twin)
        s.identity.merge(people.alice, alice2)
        mine = xrm_sales.opportunities(s, account=people.acme)
        assert [o.id for o in mine] == [kept.id, moved.id]
        assert mine[1].contacts[0].party_id == people.alice.id
    with app.session() as s:
        s.identity.unmerge(alice2)
        s.identity.unmerge(twin)
        assert xrm_sales.get(s, moved.id).account_id == twin.id
        assert xrm_sales.get(s, moved.id).contacts[0].party_id == alice2.id
    after = {t: r for t, r in snapshot(app).items() if not t.startswith("journal")}
    assert after == before


def test_erasing_a_contact_person_leaves_none_of_their_data(app: XRM, people: Cast) -> None:
    with app.session() as s:
        xrm_sales.open_opportunity(
            s, people.acme, "Deal", amount=1, currency="EUR",
            contacts=[ContactIn(people.alice, "decision_maker", "Alice prefers calls")],
        )  # fmt: skip
    assert erasure_leftovers(app, people.alice.id) == []


def test_erasing_a_person_account_erases_titles_and_lost_reasons(app: XRM, people: Cast) -> None:
    with app.session() as s:
        deal = xrm_sales.open_opportunity(
            s, people.bob, "Bob Durand's kitchen", amount=1, currency="EUR"
        )
        xrm_sales.move(s, deal, "lost", lost_reason="Bob Durand moved away")
        exported = s.gdpr.export(people.bob)
    assert [r["title"] for r in exported["tables"]["sales_opportunity"]] == ["Bob Durand's kitchen"]
    with app.session() as s:
        s.gdpr.erase(people.bob, reason="DSR-1")
        erased = xrm_sales.get(s, deal.id)
        assert (erased.title, erased.lost_reason, erased.amount) == (
            "[erased]",
            "[erased]",
            Decimal(1),
        )
        texts = str([e.data for e in s.timeline(people.bob)])
        assert "Durand" not in texts


class _Root:
    """What the ``xrm`` root command leaves in the click context: ``app()``."""

    def __init__(self, app: XRM) -> None:
        self._app = app

    def app(self) -> XRM:
        return self._app


def test_the_opportunity_commands(app: XRM, people: Cast) -> None:
    from xrm_sales._cli import opportunity

    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(opportunity, list(args), obj=_Root(app))
        assert result.exit_code == 0, result.output
        return result.output

    contact = f"{people.alice.id}:decision_maker"
    out = run("open", str(people.acme.id), "ACME: 40 seats", "--amount", "12500",
              "--currency", "EUR", "--close", "2026-03-31", "--contact", contact)  # fmt: skip
    assert out.startswith("opened opportunity 1")
    assert "proposal (open, 50%)" in run("move", "1", "proposal")
    assert "12500.00 EUR" in run("show", "1")
    assert "ACME: 40 seats" in run("list")
    assert "6250.00" in run("pipeline")
    assert "2026-03" in run("forecast")
    assert run("stale", "--days", "5") == "(none)\n"


def test_the_xrm_command_line_has_the_commands_and_errors_are_one_line(
    xrm_factory: Callable[..., XRM],
) -> None:
    from xrm.cli import cli

    app = xrm_factory(plugins=[xrm_sales], discover=False)
    if app.engine.dialect.name != "sqlite":
        pytest.skip("the command line names a database by URL; PostgreSQL tests use a schema")
    XRM.add_plugin_commands(cli)
    runner = CliRunner(env={"XRM_LOAD_PLUGINS": "sales"})
    args = ["--database", app.url, "opportunity"]
    result = runner.invoke(cli, [*args, "open", "1", "Deal", "--amount", "1", "--currency", "EUR"])
    assert result.exit_code == 1
    assert result.output == "Error: account: no party 1\n"
    result = runner.invoke(cli, [*args, "move", "7", "lost"])
    assert (result.exit_code, "Traceback" in result.output) == (1, False)
    assert "opportunity 7" in result.output
