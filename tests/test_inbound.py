"""Hearing back (``s.inbound``): replies threaded to the message they answer, bounces that
suppress the address, SMS and direct messages, unknown senders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from xrm import XRM, Email, Phone, Social, ValidationError
from xrm.testing import snapshot

from .conftest import make_app
from .test_messages import TEMPLATES, Recorder

DATA = {"ticket": "R-7", "due": dt.date(2027, 1, 5)}


@pytest.fixture
def iapp(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[XRM]:
    app = make_app(request, backend, tmp_path, templates=TEMPLATES, transports=[Recorder()])
    yield app
    app.dispose()


def _marie_and_a_sent_message(app: XRM) -> tuple[int, int, str]:
    with app.session() as s:
        marie = s.parties.create("person", "Marie Dupont", contact_points=[
            Email("marie@example.com"), Phone("+33612345678"),
            Social("@marie", network="mastodon"),
        ]).id  # fmt: skip
        message = s.messages.send(marie, "repair_status", purpose="service", data=DATA)
    assert app.deliver() == {"sent": 1}
    return marie, message.id, message.reference


def test_a_reply_is_recorded_from_the_sender_and_threaded_to_the_message(iapp: XRM) -> None:
    marie, message, ref = _marie_and_a_sent_message(iapp)
    raw = (
        "From: Marie Dupont <MARIE@example.com>\r\nTo: service@acme.example\r\n"
        "Subject: Re: Repair R-7\r\nMessage-ID: <reply-1@example.com>\r\n"
        f"In-Reply-To: <{ref}@acme.example>\r\n\r\nThank you, I will come on Monday.\r\n"
    )
    with iapp.session() as s:
        got = s.inbound.email(raw)
        interaction = s.interactions.get(got.interaction_id)  # type: ignore[arg-type]
    assert (got.kind, got.party_id, got.message_id) == ("reply", marie, message)
    assert interaction.direction == "inbound" and interaction.channel == "email"
    assert interaction.content == "Thank you, I will come on Monday."
    assert interaction.attributes["in_reply_to_message"] == message
    assert interaction.external_ref == "<reply-1@example.com>"


def test_an_unknown_sender_writes_nothing_unless_the_caller_asks(iapp: XRM) -> None:
    raw = "From: Paul <paul@example.org>\r\nSubject: Hello\r\n\r\nDo you repair scanners?\r\n"
    before = snapshot(iapp)
    with iapp.session() as s:
        got = s.inbound.email(raw)
    assert (got.kind, got.party_id, got.address) == ("unknown_sender", None, "paul@example.org")
    assert snapshot(iapp) == before
    with iapp.session() as s:
        made = s.inbound.email(raw, create_unknown=True)
        paul = s.parties.get(made.party_id)  # type: ignore[arg-type]
    assert made.kind == "message" and paul.display_name == "Paul"
    assert paul.primary("email").value == "paul@example.org"  # type: ignore[union-attr]


def _dsn(recipient: str, status: str, ref: str) -> str:
    action = "failed" if status.startswith("5") else "delayed"
    return (
        "From: MAILER-DAEMON@mx.example.com\r\nTo: service@acme.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: <{ref}@acme.example>\r\nSubject: Repair R-7\r\n\r\n--B--\r\n"
    )


def test_a_bounce_suppresses_the_address_and_the_next_message_goes_another_way(
    iapp: XRM,
) -> None:
    marie, message, ref = _marie_and_a_sent_message(iapp)
    with iapp.session() as s:
        delay = s.inbound.email(_dsn("marie@example.com", "4.4.1", ref))
        assert delay.kind == "delay"
        assert not s.parties.get(marie).primary("email").suppressed  # type: ignore[union-attr]
        got = s.inbound.email(_dsn("marie@example.com", "5.1.1", ref))
        bounced = s.messages.get(message)
        point = next(p for p in s.parties.get(marie).contact_points if p.kind == "email")
        again = s.messages.send(marie, "repair_status", purpose="service", data=DATA)
    assert (got.kind, got.party_id, got.message_id) == ("bounce", marie, message)
    assert bounced.status == "bounced" and "5.1.1" in (bounced.last_error or "")
    assert point.suppressed
    assert again.channel == "sms"


def test_an_sms_reply_and_a_direct_message_are_recorded_from_their_holders(iapp: XRM) -> None:
    marie, message, ref = _marie_and_a_sent_message(iapp)
    with iapp.session() as s:
        sms = s.inbound.sms({"from": "+33 6 12 34 56 78", "text": "OK merci", "id": "g-1",
                             "in_reply_to": ref})  # fmt: skip
        dm = s.inbound.social({"network": "mastodon", "from": "@Marie", "text": "Ready?"})
        with pytest.raises(ValidationError, match="from"):
            s.inbound.sms({"from": "not a number", "text": "x"})
        channels = [s.interactions.get(i.interaction_id).channel for i in (sms, dm)]  # type: ignore[arg-type]
    assert (sms.kind, sms.party_id, sms.message_id) == ("reply", marie, message)
    assert (dm.kind, dm.party_id) == ("message", marie)
    assert channels == ["sms", "social"]


def test_a_transports_bounce_callback_suppresses_the_number(iapp: XRM) -> None:
    marie, _, _ = _marie_and_a_sent_message(iapp)
    with iapp.session() as s:
        s.preferences.set(marie, channels={"service": "sms"})
        sms = s.messages.send(marie, "repair_status", purpose="service", data=DATA)
    assert iapp.deliver() == {"sent": 1}
    with iapp.session() as s:
        bounced = s.messages.bounced(sms.id, reason="gateway status 30003: unreachable")
        phone = next(p for p in s.parties.get(marie).contact_points if p.kind == "phone")
        again = s.messages.send(marie, "repair_status", purpose="service", data=DATA)
    assert bounced.status == "bounced" and phone.suppressed and not phone.primary
    assert again.channel == "email"
