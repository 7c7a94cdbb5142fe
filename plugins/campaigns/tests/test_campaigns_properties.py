"""Properties, on random consent ledgers, preferences and caps: no campaign message is made
without the ledger's permission for its purpose on its channel and address; every party
allowed and under its cap is sent; a frequency cap is never exceeded, whatever campaigns
and scenarios run. SQLite, and PostgreSQL with XRM_TEST_DATABASE_URL."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Callable
from typing import Any

import pytest
import xrm_campaigns as xc
from campaigns_support import Recorder, campaigns_app, promo
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from xrm import XRM, Email, Phone, Session
from xrm import segments as seg

_RUN = itertools.count()
#: each example makes its own parties in the test's database
SLOW_FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]

#: what may happen to a party's ledger and addresses before, and between launch and send
Event = tuple[str, str | None]
EVENTS = st.tuples(
    st.sampled_from(["grant", "withdraw", "object", "refuse", "suppress_email", "prefer_sms",
                     "prefer_email", "cap"]),
    st.sampled_from([None, "email", "sms"]),
)  # fmt: skip
LEDGERS = st.lists(st.lists(EVENTS, max_size=4), min_size=1, max_size=6)


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    return campaigns_app(xrm_factory, Recorder())


def _apply(s: Session, party: Any, event: Event) -> None:
    what, channel = event
    scope = {"channel": channel} if channel else {}
    if what in ("grant", "withdraw", "object", "refuse"):
        getattr(s.consents, what)(party, "marketing", source="test", **scope)
    elif what == "suppress_email":
        s.consents.suppress(party, party.contact_points[0].id, reason="bounced")
    elif what.startswith("prefer_"):
        s.preferences.set(party, channels={"marketing": what.removeprefix("prefer_")})
    else:
        s.preferences.set(party, caps={"marketing": "1/30d"})


def _parties(s: Session, n: int) -> list[Any]:
    run = next(_RUN)
    return [
        s.parties.create("person", f"P{run}-{i}", contact_points=[
            Email(f"p{run}-{i}@example.com"), Phone(f"+33612{(run * 10 + i) % 1_000_000:06d}")])
        for i in range(n)
    ]  # fmt: skip


@settings(
    max_examples=int(os.environ.get("CAMPAIGN_EXAMPLES", "20")),
    deadline=None,
    suppress_health_check=SLOW_FIXTURES,
)
@given(before=LEDGERS, between=LEDGERS)
def test_no_campaign_message_is_made_without_permission_and_none_allowed_is_left_out(
    app: XRM, before: list[list[Event]], between: list[list[Event]]
) -> None:
    note(f"before={before} between={between}")
    name = f"c{next(_RUN)}"
    with app.session() as s:
        parties = _parties(s, len(before))
        for party, events in zip(parties, before, strict=True):
            for event in events:
                _apply(s, party, event)
        tag = f"t-{name}"
        for party in parties:
            s.parties.tag(party, tag)
        xc.create(s, promo(name, segment=seg.Tagged(tag=tag).model_dump(mode="json")))
        launched = xc.launch(s, name).launched_at
    with app.session() as s:
        for party, events in zip(parties, between, strict=False):
            for event in events:
                _apply(s, s.parties.get(party), event)
    with app.session() as s:
        xc.drain(s, name)
        now = dt.datetime.now(dt.UTC)
        outcome = {p.party_id: p for p in _recipient_rows(s, name)}
        for party in parties:
            sent = [m for m in s.messages.of(party) if m.template == "promo"]
            row = outcome[party.id]
            if row.status == "sent":
                (message,) = sent
                point = next(c for c in s.parties.get(party).contact_points
                             if c.value == message.address or c.key == message.address)  # fmt: skip
                decision = s.consents.check(party, "marketing", message.channel, point.id, at=now)
                assert decision.allowed, decision.reason
                assert message.id == row.message_id
            else:
                assert sent == []
                assert row.reason in xc.EXCLUSION_REASONS
                # nobody allowed is left out: when the audience was resolved (at launch),
                # or when it was sent
                when = now if row.processed_at is not None else launched
                if row.reason != "capped":
                    for channel in ("email", "sms"):
                        for point in s.parties.get(party).contact_points:
                            if point.suppressed or point.kind != {"email": "email"}.get(
                                channel, "phone"
                            ):
                                continue
                            check = s.consents.check(party, "marketing", channel, point.id, at=when)
                            assert not check.allowed, (party.id, channel, row.reason)


def _recipient_rows(s: Session, name: str) -> list[Any]:
    from sqlalchemy import select

    campaign = xc.get(s, name)
    return list(
        s.db.execute(
            select(xc.RecipientRow).where(xc.RecipientRow.campaign_id == campaign.id)
        ).scalars()
    )


@settings(max_examples=10, deadline=None, suppress_health_check=SLOW_FIXTURES)
@given(
    caps=st.lists(st.integers(1, 3), min_size=1, max_size=5),
    campaigns=st.integers(1, 3),
    scenario_sends=st.integers(0, 3),
)
def test_a_frequency_cap_is_never_exceeded(
    app: XRM, caps: list[int], campaigns: int, scenario_sends: int
) -> None:
    run = next(_RUN)
    tag = f"cap-{run}"
    with app.session() as s:
        parties = _parties(s, len(caps))
        for party, cap in zip(parties, caps, strict=True):
            s.consents.grant(party, "marketing", source="test")
            s.preferences.set(party, caps={"marketing": f"{cap}/7d"})
            s.parties.tag(party, tag)
        if scenario_sends:
            steps = [{"type": "send", "template": "promo", "purpose": "marketing",
                      "data": {"offer": "x"}}] * scenario_sends  # fmt: skip
            xc.create_scenario(s, {"name": f"s{run}", "steps": steps, "trigger": {
                "type": "event", "event": "party.created"}})  # fmt: skip
        for i in range(campaigns):
            xc.create(
                s, promo(f"cap{run}-{i}", segment=seg.Tagged(tag=tag).model_dump(mode="json"))
            )
    for i in range(campaigns):
        with app.session() as s:
            xc.launch(s, f"cap{run}-{i}")
            xc.drain(s, f"cap{run}-{i}")
        if scenario_sends:
            with app.session() as s:
                party = _parties(s, 1)[0]
                s.consents.grant(party, "marketing", source="test")
                s.preferences.set(party, caps={"marketing": "1/7d"})
                parties.append(party)
                caps.append(1)
            xc.work(app)
    with app.session() as s:
        for party, cap in zip(parties, caps, strict=True):
            made = [m for m in s.messages.of(party) if m.purpose == "marketing"]
            assert len(made) <= cap


def test_two_workers_sending_at_once_never_exceed_a_cap(app: XRM) -> None:
    """Two campaigns to the same parties (cap: one marketing message a week) drained at
    the same moment by two threads, each in its own unit of work: on PostgreSQL both run
    at once and lock the parties before counting; on SQLite they take turns."""
    import threading

    run = next(_RUN)
    tag = f"race-{run}"
    with app.session() as s:
        parties = _parties(s, 30)
        for party in parties:
            s.consents.grant(party, "marketing", source="test")
            s.preferences.set(party, caps={"marketing": "1/7d"})
            s.parties.tag(party, tag)
        for name in ("left", "right"):
            xc.create(s, promo(f"{name}{run}", segment=seg.Tagged(tag=tag).model_dump(mode="json")))
            xc.launch(s, f"{name}{run}")
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def drain(name: str) -> None:
        try:
            start.wait()
            app.retrying(lambda s: xc.drain(s, name))
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=drain, args=(f"{n}{run}",)) for n in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with app.session() as s:
        made = {p.id: [m for m in s.messages.of(p) if m.purpose == "marketing"] for p in parties}
        results = [xc.results(s, f"{n}{run}").total for n in ("left", "right")]
    assert all(len(messages) == 1 for messages in made.values())
    assert sum(r["sent"] for r in results) == len(parties)
    assert sum(r["excluded"].get("capped", 0) for r in results) == len(parties)
