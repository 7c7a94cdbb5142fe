"""Messages (``s.messages``, ``app.deliver``): the channel and address chosen under the
consent ledger and the party's preferences, quiet hours and caps, the outbox and its
worker, delivery through a folder and through a real SMTP server, and erasure."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email
import email.policy
import itertools
import socket
import threading
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from hypothesis import given, settings
from hypothesis import strategies as st

from xrm import (
    XRM,
    Email,
    Envelope,
    FileTransport,
    NotFound,
    Phone,
    SmtpTransport,
    Template,
    TemplateSet,
    TransientFailure,
    Transport,
    Undeliverable,
)
from xrm.core.messaging.service import _after_quiet_hours
from xrm.core.nouns.preferences import Preferences, QuietHours
from xrm.testing import snapshot

from .conftest import make_app

TEMPLATES = TemplateSet([
    Template("repair_status", "email", "fr", subject="Réparation {{ data.ticket }}",
             body="Bonjour {{ party.name }}, votre réparation {{ data.ticket }} est prête "
                  "le {{ data.due | date }}.",
             html="<p>Bonjour {{ party.name }}, réparation {{ data.ticket }} prête.</p>"),
    Template("repair_status", "email", "en", subject="Repair {{ data.ticket }}",
             body="Hello {{ party.name }}, repair {{ data.ticket }} is ready."),
    Template("repair_status", "sms", "fr", body="Réparation {{ data.ticket }} prête."),
    Template("repair_status", "sms", "en", body="Repair {{ data.ticket }} ready."),
])  # fmt: skip
DATA = {"ticket": "R-42", "due": dt.date(2027, 3, 12)}
_PEOPLE = itertools.count()


class Recorder(Transport):
    """A transport that remembers what it was given and fails when told to."""

    def __init__(self, channels: tuple[str, ...] = ("email", "sms")) -> None:
        self.name = "recorder"
        self.channels = channels
        self.sent: list[Envelope] = []
        self.fail_next = 0

    def send(self, envelope: Envelope) -> str | None:
        if self.fail_next:
            self.fail_next -= 1
            raise TransientFailure("the server said 451, try later")
        self.sent.append(envelope)
        return f"id-{envelope.message_id}"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def mapp(request: pytest.FixtureRequest, backend: str, tmp_path: Path,
         recorder: Recorder) -> Iterator[XRM]:  # fmt: skip
    app = make_app(request, backend, tmp_path, templates=TEMPLATES, transports=[recorder])
    yield app
    app.dispose()


def marie(app: XRM, **prefs: Any) -> int:
    with app.session() as s:
        party = s.parties.create(
            "person", "Marie Dupont",
            contact_points=[Email("marie@example.com"), Phone("+33612345678")],
        )  # fmt: skip
        s.consents.grant(party.id, "marketing", source="web form")
        if prefs:
            s.preferences.set(party.id, **prefs)
        return party.id


def test_a_service_notice_goes_by_email_in_the_partys_language_and_leaves_with_the_worker(
    mapp: XRM, recorder: Recorder
) -> None:
    m = marie(mapp, language="fr")
    with mapp.session() as s:
        message = s.messages.send(m, "repair_status", purpose="service", data=DATA)
        assert recorder.sent == []  # never inside the caller's unit of work
        interaction = s.interactions.get(message.interaction_id)  # type: ignore[arg-type]
        events = [e.type for e in s.timeline(m).items]
    assert (message.channel, message.address, message.language) == (
        "email", "marie@example.com", "fr"
    )  # fmt: skip
    assert message.subject == "Réparation R-42" and "12 mars 2027" in message.text
    assert message.status == "queued" and interaction.direction == "outbound"
    assert {"message.queued", "interaction.recorded"} <= set(events)
    assert mapp.deliver() == {"sent": 1}
    (envelope,) = recorder.sent
    assert (envelope.to, envelope.subject) == ("marie@example.com", "Réparation R-42")
    with mapp.session() as s:
        done = s.messages.get(message.id)
    assert (done.status, done.external_id, done.attempts) == ("sent", f"id-{message.id}", 1)
    assert mapp.deliver() == {}  # nothing left: never twice


def test_the_preferred_channel_for_the_purpose_is_used_when_the_ledger_allows_it(
    mapp: XRM,
) -> None:
    m = marie(mapp, language="en", channels={"service": "sms", "marketing": "sms"})
    with mapp.session() as s:
        sms = s.messages.send(m, "repair_status", purpose="service", data=DATA)
        assert (sms.channel, sms.address, sms.text) == ("sms", "+33612345678", "Repair R-42 ready.")
        s.consents.withdraw(m, "marketing", source="sms STOP", channel="sms")
        # the preferred channel is refused for marketing: the next allowed one is used
        mail = s.messages.send(m, "repair_status", purpose="marketing", data=DATA)
    assert mail.channel == "email"


def test_no_allowed_channel_is_a_clear_error_naming_each_channels_reason_and_writes_nothing(
    mapp: XRM,
) -> None:
    with mapp.session() as s:
        m = s.parties.create("person", "Jean Martin",
                             contact_points=[Email("jean@example.com")]).id  # fmt: skip
    before = snapshot(mapp)
    with mapp.session() as s, pytest.raises(Undeliverable) as caught:
        s.messages.send(m, "repair_status", purpose="marketing", data=DATA)
    assert caught.value.code == "no_channel"
    assert set(caught.value.reasons) == {"email", "sms"}
    assert "no valid, unsuppressed phone" in caught.value.reasons["sms"]
    assert (
        "consent" in caught.value.reasons["email"] or "no record" in caught.value.reasons["email"]
    )
    assert snapshot(mapp) == before


def test_a_suppressed_address_is_never_chosen_even_when_primary(mapp: XRM) -> None:
    m = marie(mapp)
    with mapp.session() as s:
        point = s.parties.get(m).primary("email")
        assert point is not None
        s.consents.suppress(m, point.id, reason="bounced")
        message = s.messages.send(m, "repair_status", purpose="service", data=DATA)
    assert message.channel == "sms"


def test_quiet_hours_defer_the_message_to_their_end_in_the_partys_time_zone(
    mapp: XRM, recorder: Recorder
) -> None:
    now = dt.datetime.now(dt.UTC)
    start = (now - dt.timedelta(hours=1)).strftime("%H:%M")
    end = (now + dt.timedelta(hours=2)).replace(second=0, microsecond=0)
    m = marie(mapp, time_zone="UTC", quiet_hours=f"{start}-{end:%H:%M}")
    with mapp.session() as s:
        message = s.messages.send(m, "repair_status", purpose="service", data=DATA)
    assert message.not_before == end
    assert mapp.deliver() == {}  # not yet
    assert mapp.deliver(now=end + dt.timedelta(seconds=1)) == {"sent": 1}
    assert len(recorder.sent) == 1


def test_the_frequency_cap_refuses_the_message_past_it(mapp: XRM) -> None:
    m = marie(mapp, caps={"marketing": "2/7d"})
    with mapp.session() as s:
        for _ in range(2):
            s.messages.send(m, "repair_status", purpose="marketing", data=DATA)
        with pytest.raises(Undeliverable) as caught:
            s.messages.send(m, "repair_status", purpose="marketing", data=DATA)
        s.messages.send(m, "repair_status", purpose="service", data=DATA)  # another purpose
    assert caught.value.code == "capped" and "cap 2/7d" in str(caught.value)


def test_a_withdrawal_between_enqueue_and_delivery_stops_the_message(
    mapp: XRM, recorder: Recorder
) -> None:
    m = marie(mapp)
    with mapp.session() as s:
        message = s.messages.send(m, "repair_status", purpose="marketing", data=DATA)
    with mapp.session() as s:
        s.consents.withdraw(m, "marketing", source="unsubscribe link")
    assert mapp.deliver() == {"blocked": 1}
    assert recorder.sent == []
    with mapp.session() as s:
        blocked = s.messages.get(message.id)
        events = [e.data for e in s.timeline(m, types=["message.delivered"]).items]
    assert blocked.status == "blocked" and "the ledger" in (blocked.last_error or "")
    assert events[0]["status"] == "blocked"


def test_a_transient_failure_is_retried_with_backoff_then_given_up(
    mapp: XRM, recorder: Recorder
) -> None:
    m = marie(mapp)
    with mapp.session() as s:
        message = s.messages.send(m, "repair_status", purpose="service", data=DATA)
    recorder.fail_next = 1
    assert mapp.deliver() == {"retry": 1}
    with mapp.session() as s:
        waiting = s.messages.get(message.id)
    assert waiting.status == "queued" and "451" in (waiting.last_error or "")
    assert mapp.deliver() == {}  # backing off
    assert mapp.deliver(now=waiting.not_before) == {"sent": 1}
    recorder.fail_next = 99
    with mapp.session() as s:
        again = s.messages.send(m, "repair_status", purpose="service", data=DATA)
    later = dt.datetime.now(dt.UTC)
    outcomes: list[str] = []
    for _ in range(6):
        later += dt.timedelta(hours=1)
        outcomes += list(mapp.deliver(now=later).elements())
    assert outcomes == ["retry"] * 4 + ["failed"]
    with mapp.session() as s:
        assert s.messages.get(again.id).attempts == 5


def test_a_message_left_sending_by_a_dead_worker_is_never_handed_over_again(
    mapp: XRM, recorder: Recorder
) -> None:
    m = marie(mapp)
    with mapp.session() as s:
        message = s.messages.send(m, "repair_status", purpose="service", data=DATA)
        s.messages._claim(10, dt.datetime.now(dt.UTC), dt.timedelta(minutes=5))
    # the worker that claimed it died before it said what became of it
    assert mapp.deliver() == {}
    assert mapp.deliver(now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6)) == {}
    with mapp.session() as s:
        assert s.messages.get(message.id).status == "unknown"
    assert recorder.sent == []


def test_erasure_cancels_what_has_not_left_and_removes_every_message_text(mapp: XRM) -> None:
    m = marie(mapp)
    with mapp.session() as s:
        s.messages.send(m, "repair_status", purpose="service", data=DATA)
    mapp.deliver()
    with mapp.session() as s:
        queued = s.messages.send(m, "repair_status", purpose="service", data=DATA)
        exported = s.gdpr.export(m)["messages"]
        report = s.gdpr.erase(m, reason="asked by letter")
        after = s.messages.of(m)
    assert [e["status"] for e in exported] == ["sent", "queued"]
    assert report.messages == 2
    assert {x.status for x in after} == {"sent", "cancelled"}
    assert queued.id in {x.id for x in after}
    assert all(x.address == "[erased]" and x.subject is None for x in after)
    assert "marie@example.com" not in repr(snapshot(mapp)["message"])
    assert mapp.deliver() == {}


def test_the_file_transport_writes_an_email_with_its_text_and_html_parts(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    folder = tmp_path / "outbox"
    app = make_app(request, backend, tmp_path, templates=TEMPLATES,
                   transports=[FileTransport(folder, sender="service@acme.example")])  # fmt: skip
    try:
        m = marie(app, language="fr")
        with app.session() as s:
            message = s.messages.send(m, "repair_status", purpose="service", data=DATA)
        assert app.deliver() == {"sent": 1}
    finally:
        app.dispose()
    written = email.message_from_bytes(
        (folder / f"{message.id}.eml").read_bytes(), policy=email.policy.default
    )
    assert written["To"] == "marie@example.com" and written["Subject"] == "Réparation R-42"
    parts = {p.get_content_type(): p.get_payload(decode=True) for p in written.walk()}
    assert b"12 mars 2027" in parts["text/plain"]
    assert b"<p>Bonjour Marie Dupont" in parts["text/html"]


# -- a real SMTP server ---------------------------------------------------------------------
class _Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()
        #: seconds before the server accepts a message: a kill lands mid-conversation
        self.delay = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        with self.lock:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_the_smtp_transport_delivers_to_a_real_server_once(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path,
    smtp_server: tuple[_Inbox, int],
) -> None:  # fmt: skip
    inbox, port = smtp_server
    transport = SmtpTransport("127.0.0.1", port, sender="service@acme.example", timeout=5)
    app = make_app(request, backend, tmp_path, templates=TEMPLATES, transports=[transport])
    try:
        m = marie(app, language="en")
        with app.session() as s:
            message = s.messages.send(m, "repair_status", purpose="service", data=DATA)
        assert app.deliver() == {"sent": 1}
        assert app.deliver() == {}
        with app.session() as s:
            sent = s.messages.get(message.id)
    finally:
        app.dispose()
    ((sender, recipients, content),) = inbox.received
    assert (sender, recipients) == ("service@acme.example", ["marie@example.com"])
    parsed = email.message_from_bytes(content)
    assert parsed["Subject"] == "Repair R-42" and parsed["Message-ID"] == sent.external_id


def test_an_smtp_server_that_is_down_is_a_transient_failure() -> None:
    transport = SmtpTransport("127.0.0.1", _free_port(), sender="x@acme.example", timeout=2)
    envelope = Envelope(message_id=1, idempotency_key="k", channel="email",
                        to="a@example.com", language="en", subject="s", text="t")  # fmt: skip
    with pytest.raises(TransientFailure):
        transport.send(envelope)


@settings(max_examples=25, deadline=None)
@given(steps=st.lists(st.sampled_from(["send", "withdraw", "grant", "deliver"]), max_size=12))
def test_no_message_ever_leaves_without_the_ledgers_permission_at_that_moment(
    mapp: XRM, recorder: Recorder, steps: list[str]
) -> None:
    """Sends, withdrawals, grants and worker rounds in any order: every envelope the
    transport received was allowed by the ledger at the moment it left."""
    address = f"p{next(_PEOPLE)}@example.com"  # one party per example: the database stays
    with mapp.session() as s:
        m = s.parties.create("person", "P", contact_points=[Email(address)]).id
    allowed = False
    leaving_allowed: list[bool] = []
    for step in steps:
        with mapp.session() as s:
            if step == "send":
                try:
                    s.messages.send(m, "repair_status", purpose="marketing", data=DATA)
                except Undeliverable:
                    assert not allowed
            elif step == "withdraw":
                s.consents.withdraw(m, "marketing", source="t")
                allowed = False
            elif step == "grant":
                s.consents.grant(m, "marketing", source="t")
                allowed = True
        if step == "deliver":
            before = len(recorder.sent)
            mapp.deliver()
            mine = [e for e in recorder.sent[before:] if e.to == address]
            leaving_allowed += [allowed] * len(mine)
    assert all(leaving_allowed)
    keys = [e.idempotency_key for e in recorder.sent]
    assert len(keys) == len(set(keys))  # never two deliveries of one message


_WORKER = """
import sys
from xrm import XRM, SmtpTransport
url, port = sys.argv[1], int(sys.argv[2])
app = XRM(url, transports=[SmtpTransport("127.0.0.1", port, sender="s@acme.example")])
app.work(poll=0.01, limit=3)
"""


def test_a_worker_killed_at_random_moments_never_delivers_a_message_twice(
    mapp: XRM, smtp_server: tuple[_Inbox, int], tmp_path: Path
) -> None:
    """Workers are started and killed with SIGKILL at random moments while they send to a
    real SMTP server; whatever the moment, the server receives each message at most once,
    and every message ends sent (received) or unknown (maybe received, never resent)."""
    import random
    import subprocess
    import sys
    import time

    inbox, port = smtp_server
    inbox.delay = 0.1
    with mapp.session() as s:
        ids = []
        for i in range(40):
            party = s.parties.create("person", f"P{i}", contact_points=[Email(f"p{i}@example.com")])
            ids.append(s.messages.send(party, "repair_status", purpose="service", data=DATA).id)
    rng = random.Random(7)
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    for _ in range(30):
        worker = subprocess.Popen([sys.executable, str(script), mapp.url, str(port)])
        time.sleep(rng.uniform(0.6, 1.4))  # the interpreter starts in about half a second
        worker.kill()  # SIGKILL: no cleanup, no rollback handler runs
        worker.wait()
        with mapp.session() as s:
            if all(s.messages.get(i).status not in ("queued", "sending") for i in ids):
                break
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    smtp = SmtpTransport("127.0.0.1", port, sender="s@acme.example")
    last = XRM(mapp.url, transports=[smtp])
    try:
        while last.deliver(now=later, limit=100):  # what is left, and dead workers' messages
            pass
    finally:
        last.dispose()
    with mapp.session() as s:
        final = {i: s.messages.get(i) for i in ids}
    received = [email.message_from_bytes(content)["Message-ID"] for _, _, content in inbox.received]
    assert len(received) == len(set(received)), "a message was delivered twice"
    assert {m.status for m in final.values()} <= {"sent", "unknown"}
    sent = {m.external_id for m in final.values() if m.status == "sent"}
    assert sent <= set(received)  # sent means the server has it
    assert len(sent) + sum(m.status == "unknown" for m in final.values()) == len(ids)


def test_one_click_unsubscribe_withdraws_that_purpose_on_that_channel_with_the_token(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path, recorder: Recorder
) -> None:
    app = make_app(request, backend, tmp_path, templates=TEMPLATES, transports=[recorder],
                   unsubscribe_url="https://acme.example/unsubscribe")  # fmt: skip
    try:
        m = marie(app)
        with app.session() as s:
            s.messages.send(m, "repair_status", purpose="marketing", data=DATA)
            s.messages.send(m, "repair_status", purpose="service", data=DATA)
        assert app.deliver() == {"sent": 2}
        marketing, service = recorder.sent
        assert service.headers == {}  # a contract purpose: nothing to unsubscribe from
        assert marketing.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = marketing.headers["List-Unsubscribe"]
        assert link.startswith("<https://acme.example/unsubscribe?token=") and link.endswith(">")
        token = link.split("token=", 1)[1].rstrip(">")
        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        with app.session() as s:
            with pytest.raises(NotFound):
                s.messages.unsubscribe(forged)
            with pytest.raises(NotFound):
                s.messages.unsubscribe("12.not-a-token")
            record = s.messages.unsubscribe(token)
            assert (record.decision, record.purpose, record.channel) == (
                "withdrawn", "marketing", "email"
            )  # fmt: skip
            assert token in (record.evidence or "")
            assert not s.consents.check(m, "marketing", "email").allowed
            assert s.consents.check(m, "marketing", "sms").allowed  # that channel only
            again = s.messages.send(m, "repair_status", purpose="marketing", data=DATA)
        assert again.channel == "sms"
    finally:
        app.dispose()


_ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"]


@given(
    now=st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2035, 1, 1),
                     timezones=st.just(dt.UTC)),
    zone=st.sampled_from(_ZONES),
    start=st.integers(0, 1439), length=st.integers(1, 1439),
)  # fmt: skip
def test_a_message_never_leaves_in_quiet_hours_and_waits_no_longer_than_them(
    now: dt.datetime, zone: str, start: int, length: int
) -> None:
    """Whatever the window, the zone (summer time included) and the moment: the time a
    message may leave is now when outside the window, else the window's end, which is
    outside it, later than now, and less than a day away."""
    end = (start + length) % 1440
    window = QuietHours(dt.time(start // 60, start % 60), dt.time(end // 60, end % 60))
    prefs = Preferences(party_id=1, time_zone=zone, quiet_hours=window)
    leaves = _after_quiet_hours(prefs, now)
    local = now.astimezone(zoneinfo.ZoneInfo(zone))
    if local.time() not in window:
        assert leaves == now
    else:
        assert now < leaves < now + dt.timedelta(hours=25)
        assert leaves.astimezone(zoneinfo.ZoneInfo(zone)).time() not in window


@settings(max_examples=15, deadline=None)
@given(count=st.integers(1, 4), days=st.integers(1, 30), tries=st.integers(0, 7))
def test_a_frequency_cap_is_never_exceeded(mapp: XRM, count: int, days: int, tries: int) -> None:
    m = marie(mapp, caps={"marketing": f"{count}/{days}d"})
    codes: list[str] = []
    with mapp.session() as s:
        for _ in range(tries):
            try:
                s.messages.send(m, "repair_status", purpose="marketing", data=DATA)
                codes.append("sent")
            except Undeliverable as exc:
                codes.append(exc.code)
    assert codes == ["sent"] * min(tries, count) + ["capped"] * max(0, tries - count)


def test_units_of_work_sending_at_once_never_exceed_a_cap_together(
    mapp: XRM, recorder: Recorder
) -> None:
    """Each unit of work counts the party's messages after locking the party: four sending
    at once (each its own application, as four processes would) make two messages for a
    cap of two, one by one (``send``) or in bulk (``send_many``)."""
    m = marie(mapp, caps={"marketing": "2/7d"})
    apps = [
        XRM(mapp.url, templates=TEMPLATES, transports=[recorder], builtins=False,
            discover=False, default_region="FR")
        for _ in range(4)
    ]  # fmt: skip
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def send(i: int) -> None:
        start.wait(10)

        def work(s: Any) -> str:
            if i % 2:
                report = s.messages.send_many([m], "repair_status", purpose="marketing",
                                              data=DATA)  # fmt: skip
                return "sent" if report.sent else report.refused[m].code
            try:
                s.messages.send(m, "repair_status", purpose="marketing", data=DATA)
            except Undeliverable as exc:
                return exc.code
            return "sent"

        outcomes.append(apps[i].retrying(work, attempts=20))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for other in apps:
        other.dispose()
    assert sorted(outcomes) == ["capped", "capped", "sent", "sent"]
    with mapp.session() as s:
        assert len(s.messages.of(m)) == 2


_SETUPS = st.fixed_dictionaries({
    "email": st.booleans(), "phone": st.booleans(), "bounced": st.booleans(),
    "prefers": st.sampled_from([None, "email", "sms"]),
    "consent": st.sampled_from(["none", "all", "email", "sms", "all_but_sms"]),
    "capped": st.booleans(), "language": st.sampled_from([None, "fr", "en", "de"]),
})  # fmt: skip


@settings(max_examples=20, deadline=None)
@given(setups=st.lists(_SETUPS, min_size=1, max_size=6))
def test_send_many_makes_for_each_party_what_send_would(
    mapp: XRM, setups: list[dict[str, Any]]
) -> None:
    """The set-based path chooses, for every party, the channel, address and text the
    one-at-a-time path does, and refuses the same parties for the same reason."""
    ids = []
    with mapp.session() as s:
        for setup in setups:
            n = next(_PEOPLE)
            points: list[Any] = []
            if setup["email"]:
                points.append(Email(f"bulk{n}@example.com"))
            if setup["phone"]:
                points.append(Phone(f"+3361{n:07d}"))
            party = s.parties.create("person", f"Bulk {n}", contact_points=points)
            if setup["bounced"] and setup["email"]:
                s.consents.suppress(party.id, party.contact_points[0].id, reason="bounced")
            consent = setup["consent"]
            if consent != "none":
                channel = None if consent in ("all", "all_but_sms") else consent
                s.consents.grant(party.id, "marketing", source="t", channel=channel)
            if consent == "all_but_sms":
                s.consents.withdraw(party.id, "marketing", source="t", channel="sms")
            prefs: dict[str, Any] = {"language": setup["language"]}
            if setup["prefers"]:
                prefs["channels"] = {"marketing": setup["prefers"]}
            if setup["capped"]:
                prefs["caps"] = {"marketing": "1/7d"}
            s.preferences.set(party.id, **prefs)
            if setup["capped"] and consent != "none":
                with contextlib.suppress(Undeliverable):  # one message: the cap is reached
                    s.messages.send(party.id, "repair_status", purpose="marketing", data=DATA)
            ids.append(party.id)
    expected: dict[int, Any] = {}
    with mapp.session() as s:
        for ident in ids:
            try:
                found = s.messages.preview(ident, "repair_status", purpose="marketing", data=DATA)
                expected[ident] = (found.channel, found.address, found.rendered.text)
            except Undeliverable as exc:
                expected[ident] = (exc.code, sorted(exc.reasons))
    with mapp.session() as s:
        report = s.messages.send_many(ids, "repair_status", purpose="marketing", data=DATA)
        made = {m.party_id: (m.channel, m.address, m.text)
                for m in (s.messages.get(i) for i in report.sent)}  # fmt: skip
    got = {**made, **{i: (e.code, sorted(e.reasons)) for i, e in report.refused.items()}}
    assert got == expected
    assert len(report.sent) == len(made)  # one message per party
