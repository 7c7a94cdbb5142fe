"""Campaigns: who is targeted, on which channel, with which template, at what pace, and
what came of it."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
import xrm_campaigns as xc
import xrm_sales
from campaigns_support import PEOPLE, Cast, Recorder, campaigns_app, cast, promo
from sqlalchemy import select

from xrm import XRM, Conflict, Email, ValidationError
from xrm import segments as seg


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def app(xrm_factory: Callable[..., XRM], recorder: Recorder) -> XRM:
    return campaigns_app(xrm_factory, recorder)


@pytest.fixture
def people(app: XRM) -> Cast:
    with app.session() as s:
        return cast(s)


def _recipients(app: XRM, name: str) -> dict[int, tuple[str, str | None, str | None]]:
    with app.session() as s:
        campaign = xc.get(s, name)
        rows = s.db.execute(
            select(xc.RecipientRow.party_id, xc.RecipientRow.status, xc.RecipientRow.channel,
                   xc.RecipientRow.reason)
            .where(xc.RecipientRow.campaign_id == campaign.id)
        ).all()  # fmt: skip
    return {p: (status, channel, reason) for p, status, channel, reason in rows}


def test_each_allowed_party_is_reached_once_on_its_preferred_allowed_channel(
    app: XRM, people: Cast, recorder: Recorder
) -> None:
    with app.session() as s:
        xc.create(s, promo())
        launched = xc.launch(s, "spring")
        report = xc.drain(s, "spring")
    assert (launched.status, report.sent, report.status) == ("running", 2, "done")
    assert _recipients(app, "spring") == {
        people.ann.id: ("sent", "sms", None),  # she prefers SMS for marketing
        people.bob.id: ("sent", "email", None),
        people.cid.id: ("excluded", None, "no_consent"),
        people.dan.id: ("excluded", None, "suppressed"),  # his only address bounced
    }
    assert app.deliver() == {"sent": 2}
    assert sorted(e.to for e in recorder.sent) == ["+33612345678", "bob@example.com"]
    assert {e.text for e in recorder.sent} >= {"-20% on bikes"}


def test_a_withdrawal_between_launch_and_sending_is_honoured_with_its_reason(
    app: XRM, people: Cast
) -> None:
    with app.session() as s:
        xc.create(s, promo())
        xc.launch(s, "spring")
    with app.session() as s:
        s.consents.withdraw(people.bob, "marketing", source="phone call")
    with app.session() as s:
        report = xc.drain(s, "spring")
        results = xc.results(s, "spring")
    assert report.excluded == {"no_consent": 1}
    assert _recipients(app, "spring")[people.bob.id] == ("excluded", "email", "no_consent")
    assert results.total["sent"] == 1
    assert results.total["excluded"] == {"no_consent": 2, "suppressed": 1}


def test_a_frequency_cap_reached_excludes_the_party_as_capped(app: XRM, people: Cast) -> None:
    with app.session() as s:
        s.preferences.set(people.bob, caps={"marketing": "1/7d"})
        xc.create(s, promo("first"))
        xc.create(s, promo("second"))
        xc.launch(s, "first")
        xc.drain(s, "first")
        xc.launch(s, "second")
        xc.drain(s, "second")
    assert _recipients(app, "second")[people.bob.id] == ("excluded", "email", "capped")


def test_the_ab_split_is_deterministic_follows_the_shares_and_sends_each_arm_its_template(
    app: XRM, recorder: Recorder
) -> None:
    with app.session() as s:
        for i in range(300):
            p = s.parties.create("person", f"P{i}", contact_points=[Email(f"p{i}@example.com")])
            s.consents.grant(p, "marketing", source="web form")
        arms = [
            {"name": "A", "share": 45},
            {"name": "B", "share": 45, "templates": {"email": "promo_b"}},
            {"name": "ctl", "share": 10, "control": True},
        ]
        made = xc.create(s, promo(arms=arms))
        xc.launch(s, "spring")
        xc.drain(s, "spring")
        rows = s.db.execute(
            select(xc.RecipientRow.party_id, xc.RecipientRow.arm, xc.RecipientRow.status)
            .where(xc.RecipientRow.campaign_id == made.id)
        ).all()  # fmt: skip
        results = xc.results(s, "spring")
    expected = {
        p: "A" if xc.arm_bucket(p, made.id) < 45 else "B" if xc.arm_bucket(p, made.id) < 90
        else "ctl" for p, _, _ in rows
    }  # fmt: skip
    assert {p: arm for p, arm, _ in rows} == expected
    shares = Counter(arm for _, arm, _ in rows)
    assert 100 <= shares["A"] <= 170 and 100 <= shares["B"] <= 170 and 10 <= shares["ctl"] <= 55
    assert {status for _, arm, status in rows if arm == "ctl"} == {"held_out"}
    assert results.arms["ctl"]["held_out"] == shares["ctl"]
    assert results.arms["ctl"]["sent"] == 0
    app.deliver(limit=1000)
    subjects = Counter(e.subject.split(",")[0] for e in recorder.sent if e.subject)
    assert subjects == {"Spring offers": shares["A"], "Only for you": shares["B"]}


def test_the_throttle_sends_so_many_recipients_per_minute(app: XRM) -> None:
    t0 = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)
    with app.session() as s:
        for i in range(25):
            p = s.parties.create("person", f"P{i}", contact_points=[Email(f"p{i}@example.com")])
            s.consents.grant(p, "marketing", source="web form")
        xc.create(s, promo(throttle=10))
        xc.launch(s, "spring", now=t0)
        rounds = [
            xc.drain(s, "spring", now=t0).sent,
            xc.drain(s, "spring", now=t0 + dt.timedelta(seconds=59)).sent,
            xc.drain(s, "spring", now=t0 + dt.timedelta(minutes=1)).sent,
            xc.drain(s, "spring", now=t0 + dt.timedelta(minutes=5)).sent,
        ]
        assert xc.get(s, "spring").status == "done"
    assert rounds == [10, 0, 10, 5]


def test_a_scheduled_campaign_resolves_its_audience_only_when_it_starts(
    app: XRM, people: Cast
) -> None:
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    with app.session() as s:
        xc.create(s, promo(starts_at=start.isoformat()))
        assert xc.launch(s, "spring").status == "scheduled"
        assert [r.sent for r in xc.run_due(s)] == []
        s.consents.grant(people.cid, "marketing", source="shop")  # before the start: counts
        (report,) = xc.run_due(s, now=start + dt.timedelta(minutes=1))
    assert (report.sent, report.status) == (3, "done")
    with app.session() as s, pytest.raises(Conflict, match="only a draft"):
        xc.launch(s, "spring")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"purpose": "bowling"}, "purpose"),
        ({"channels": {"email": "nope"}}, "channels.email"),
        ({"channels": {"pigeon": "promo"}}, "channels"),
        ({"segment": "no such segment"}, "segment"),
        ({"segment": {"type": "kind"}}, "segment"),
        ({"arms": [{"name": "A", "share": 60}, {"name": "B", "share": 30}]}, ""),
        ({"throttle": 0}, "throttle"),
        ({"name": "a name with spaces"}, "name"),
        ({"starts_at": "2027-01-01T09:00:00"}, "starts_at"),
    ],
)
def test_a_bad_definition_is_refused_naming_the_field(
    app: XRM, change: dict[str, object], field: str
) -> None:
    with app.session() as s, pytest.raises(ValidationError) as refused:
        xc.create(s, promo(**change))
    assert any(f == field or f.startswith(f"{field}.") for f in refused.value.fields), (
        refused.value.fields
    )


def test_a_name_is_taken_once(app: XRM) -> None:
    with app.session() as s:
        xc.create(s, promo())
        with pytest.raises(Conflict, match="already named"):
            xc.create(s, promo())
        assert [c.name for c in xc.campaigns(s)] == ["spring"]


def test_a_saved_segment_is_targeted_by_name(app: XRM, people: Cast) -> None:
    with app.session() as s:
        s.parties.tag(people.bob, "vip")
        s.segments.define("vip", seg.Tagged(tag="vip"))
        xc.create(s, promo(segment="vip"))
        xc.launch(s, "spring")
        xc.drain(s, "spring")
    assert _recipients(app, "spring") == {people.bob.id: ("sent", "email", None)}


def test_results_count_deliveries_bounces_replies_unsubscriptions_and_sales(
    app: XRM, people: Cast
) -> None:
    with app.session() as s:
        xc.create(s, promo())
        xc.launch(s, "spring")
        xc.drain(s, "spring")
    app.deliver()
    with app.session() as s:
        by_party = {m.party_id: m for p in (people.ann, people.bob) for m in s.messages.of(p)}
        s.messages.bounced(by_party[people.ann.id].id, reason="550 no such user")
        s.interactions.record(
            channel="email", direction="inbound", participants=[(people.bob, "sender")],
            subject="Re: Spring offers",
        )  # fmt: skip
        s.consents.withdraw(people.bob, "marketing", source="unsubscribe link")
        deal = xrm_sales.open_opportunity(s, people.bob, "Bikes", amount="1200", currency="EUR")
        xrm_sales.move(s, deal, "won")
        results = xc.results(s, "spring")
    total = results.total
    assert (total["targeted"], total["sent"], total["delivered"], total["bounced"]) == (4, 2, 1, 1)
    assert (total["replied"], total["unsubscribed"]) == (1, 1)
    assert total["opportunities"] == 1
    assert Decimal(results.arms["main"]["revenue"]["EUR"]) == Decimal("1200")


def test_a_cancelled_campaign_sends_no_more(app: XRM, people: Cast) -> None:
    with app.session() as s:
        xc.create(s, promo())
        xc.launch(s, "spring")
        xc.cancel(s, "spring")
        report = xc.drain(s, "spring")
        assert (report.sent, report.status) == (0, "cancelled")
        assert s.messages.of(people.bob) == []
        with pytest.raises(Conflict):
            xc.cancel(s, "spring")


def test_an_empty_audience_finishes_at_once(app: XRM) -> None:
    with app.session() as s:
        xc.create(s, promo(segment=seg.Tagged(tag="nobody").model_dump(mode="json")))
        assert xc.launch(s, "spring").status == "done"
        assert xc.results(s, "spring").total["targeted"] == 0


def test_the_journal_tells_the_campaign_story(app: XRM, people: Cast) -> None:
    with app.session() as s:
        made = xc.create(s, promo())
        xc.launch(s, "spring")
        xc.drain(s, "spring")
        from xrm.tables import JournalEventRow

        types = list(
            s.db.scalars(
                select(JournalEventRow.type)
                .where(JournalEventRow.entity == "campaigns.campaign",
                       JournalEventRow.entity_id == made.id)
                .order_by(JournalEventRow.id)
            )
        )  # fmt: skip
    assert types == [
        "campaigns.campaign_created", "campaigns.campaign_launched",
        "campaigns.campaign_resolved", "campaigns.campaign_finished",
    ]  # fmt: skip
    assert PEOPLE.type == "kind"


def test_a_segment_retargets_the_recipients_of_a_campaign(app: XRM, people: Cast) -> None:
    with app.session() as s:
        xc.create(s, promo())
        xc.launch(s, "spring")
        xc.drain(s, "spring")
        s.segments.define("spring, not sent", xc.InCampaign(campaign="spring",
                                                             statuses=["excluded"]))  # fmt: skip
        parsed = s.segments.parse(xc.InCampaign(campaign="spring").model_dump(mode="json"))
        sent = {p.id for p in s.segments.preview(xc.InCampaign(campaign="spring",
                                                               statuses=["sent"]))}  # fmt: skip
        left_out = {p.id for p in s.segments.preview("spring, not sent")}
        nobody = s.segments.count(xc.InScenario(scenario="welcome"))
    assert sent == {people.ann.id, people.bob.id}
    assert left_out == {people.cid.id, people.dan.id}
    assert parsed == xc.InCampaign(campaign="spring")
    assert nobody == 0
