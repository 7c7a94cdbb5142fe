"""Inbound threading, status notices and satisfaction surveys, through the messaging layer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
import xrm_service
from service_support import T0, cast, service_app

from xrm import XRM, Conflict, Email, Undeliverable
from xrm.tables import utcnow


@pytest.fixture
def app(xrm_factory: Callable[..., XRM], tmp_path: Path) -> XRM:
    return service_app(xrm_factory, tmp_path / "outbox")


def _email(sender: str, subject: str, body: str, in_reply_to: str | None = None) -> str:
    headers = [
        f"From: {sender}",
        "To: service@acme.example",
        f"Subject: {subject}",
        "Message-ID: <abc-" + str(abs(hash(subject + body))) + "@example.com>",
    ]
    if in_reply_to:
        headers.append(f"In-Reply-To: {in_reply_to}")
    return "\r\n".join(headers) + "\r\n\r\n" + body + "\r\n"  # fmt: skip


def test_an_inbound_email_from_a_known_party_opens_a_case(app: XRM) -> None:
    with app.session() as s:
        c = cast(s)
        got = s.inbound.email(_email("marie@example.com", "My dryer is noisy", "Help"))
        (case,) = xrm_service.cases(s, party=c.marie)
    assert got.party_id == c.marie.id
    assert (case.subject, case.channel, case.status) == ("My dryer is noisy", "email", "new")


def test_without_the_setting_an_inbound_email_opens_no_case_but_is_still_threaded(
    xrm_factory: Callable[..., XRM], tmp_path: Path
) -> None:
    app = service_app(xrm_factory, tmp_path / "outbox", inbound=False)
    with app.session() as s:
        c = cast(s)
        s.inbound.email(_email("marie@example.com", "My dryer is noisy", "Help"))
        assert xrm_service.cases(s) == []
        case = xrm_service.open_case(s, c.marie, "Dryer", at=T0)
        s.inbound.email(_email("marie@example.com", f"Re: {case.reference}", "Still noisy"))
        events = [e.type for e in s.timeline(c.marie).items]
    assert "service.interaction_linked" in events


def test_an_unknown_sender_opens_nothing(app: XRM) -> None:
    with app.session() as s:
        cast(s)
        s.inbound.email(_email("stranger@example.com", "Hello", "?"))
        assert xrm_service.cases(s) == []


def test_a_reply_naming_the_case_is_threaded_and_the_clock_runs_again(app: XRM) -> None:
    with app.session() as s:
        c = cast(s)
        case = xrm_service.open_case(s, c.marie, "Broken", at=T0)
        xrm_service.move(s, case, "waiting_on_customer", at=T0 + dt.timedelta(hours=1))
        s.inbound.email(_email("marie@example.com", f"Re: {case.reference}", "Photos attached"))
        after = xrm_service.get(s, case.id)
        assert len(xrm_service.cases(s, party=c.marie)) == 1  # threaded, not a new case
    assert (after.status, after.running) == ("open", True)


def test_a_call_naming_the_repair_number_is_threaded_onto_its_case(app: XRM) -> None:
    with app.session() as s:
        c = cast(s)
        case = xrm_service.open_case(s, c.marie, "Broken", external_ref="R-42", at=T0)
        s.interactions.record(
            channel="phone", direction="inbound", touchpoint="after_sales",
            participants=[(c.marie, "caller"), (c.agent, "agent")], external_ref="R-42",
            subject="Where is my machine?",
        )  # fmt: skip
        assert len(xrm_service.cases(s, party=c.marie)) == 1
        events = [e.type for e in s.timeline(c.marie).items]
    assert "service.interaction_linked" in events
    assert case.first_response_at is None


def test_a_call_with_no_reference_opens_a_case_with_its_contacts(app: XRM) -> None:
    with app.session() as s:
        c = cast(s)
        s.interactions.record(
            channel="phone", direction="inbound", touchpoint="support",
            participants=[(c.marie, "caller"), (c.paul, "participant"), (c.agent, "agent")],
            content="The oven door does not close",
        )  # fmt: skip
        (case,) = xrm_service.cases(s, party=c.marie)
    assert (case.subject, case.channel, case.contacts) == (
        "The oven door does not close", "phone", (c.paul.id,)
    )  # fmt: skip


def test_notify_goes_by_the_preferred_channel_and_is_on_the_case_and_timeline(app: XRM) -> None:
    with app.session() as s:
        c = cast(s)
        s.preferences.set(c.marie, channels={"service": "sms"})
        case = xrm_service.open_case(s, c.marie, "Broken", external_ref="R-42", at=T0)
        notice = xrm_service.notify(s, c.marie, "repair", "R-42", "ready for pickup",
                                    {"note": "Open 9-18"})  # fmt: skip
        after = xrm_service.get(s, case.id)
        events = [e.type for e in s.timeline(c.marie).items]
    assert notice.case_reference == case.reference
    assert (notice.message.channel, notice.message.purpose) == ("sms", "service")
    assert "Repair R-42: ready for pickup" in notice.message.text
    assert after.first_response_at is not None and after.next_due_at == after.resolution_due_at
    assert "service.notice_sent" in events


def test_notify_never_writes_to_a_suppressed_address(app: XRM) -> None:
    with app.session() as s:
        jean = s.parties.create("person", "Jean", contact_points=[Email("jean@example.com")])
        s.consents.suppress(jean, jean.contact_points[0].id, reason="bounced")
        with pytest.raises(Undeliverable) as err:
            xrm_service.notify(s, jean, "order", "O-7", "shipped")
        assert s.messages.of(jean) == []
    assert err.value.purpose == "service"


def test_a_survey_is_sent_after_resolution_and_a_reply_is_its_answer(app: XRM) -> None:
    with app.session() as s:
        c = cast(s)
        case = xrm_service.open_case(s, c.marie, "Broken", team="repairs", at=T0)
        with pytest.raises(Conflict, match="once resolved"):
            xrm_service.survey(s, case)
        xrm_service.move(s, case, "resolved", at=T0 + dt.timedelta(hours=2))
        run = xrm_service.send_surveys(s, delay=dt.timedelta(0))
        assert run.sent == (case.reference,)
        (message,) = [m for m in s.messages.of(c.marie) if m.purpose == "surveys"]
        s.inbound.email(_email("marie@example.com", "Re: How did we do?", "5 great service",
                               in_reply_to=f"<{message.reference}@acme.example>"))  # fmt: skip
        answered = xrm_service.get(s, case.id)
    assert (answered.satisfaction, answered.satisfaction_comment) == (5, "great service")
    assert answered.status == "resolved"  # an answer does not reopen the case


def test_a_party_who_objected_to_surveys_is_not_surveyed(app: XRM) -> None:
    with app.session() as s:
        c = cast(s)
        s.consents.object(c.marie, "surveys", source="phone call")
        case = xrm_service.open_case(s, c.marie, "Broken", at=T0)
        xrm_service.move(s, case, "resolved", at=T0 + dt.timedelta(hours=1))
        run = xrm_service.send_surveys(s, delay=dt.timedelta(0))
        assert run.refused == {case.reference: "no_channel"}
        assert xrm_service.send_surveys(s, delay=dt.timedelta(0)).refused == {}  # not again
    assert utcnow() > T0
