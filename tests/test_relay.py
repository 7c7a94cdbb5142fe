"""Events out (docs/events-out.md): the relay publishes every journal event from the
outbox to NATS JetStream and to signed webhooks, at least once, in order per party, with an
idempotency key; a sink that fails delays but loses nothing; an erasure before publication
leaves nothing personal to publish; a relay killed at random points loses no event.

Against the real NATS JetStream server on 127.0.0.1:4222 (skipped when it does not answer,
unless CI is set) and a real HTTP receiver in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import nats
import pytest
from click.testing import CliRunner
from sqlalchemy import func, insert, select

from xrm import XRM, ConfigurationError, Email
from xrm.relay import NatsSink, OutboundEvent, Relay, Sink, WebhookSink, sign, verify_signature
from xrm.tables import JournalEventRow, JournalPartyRow, OutboxRow

NATS_URL = os.environ.get("XRM_TEST_NATS_URL", "nats://127.0.0.1:4222")
SECRET = "s3cret-for-tests"


def _nats_answers() -> bool:
    host, _, port = NATS_URL.removeprefix("nats://").partition(":")
    try:
        with socket.create_connection((host, int(port or 4222)), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def nats_url() -> str:
    if not _nats_answers():
        if os.environ.get("CI"):
            pytest.fail(f"NATS JetStream is not running at {NATS_URL} (CI starts it)")
        pytest.skip(f"NATS JetStream is not running at {NATS_URL}")
    return NATS_URL


@dataclass
class Stream:
    """A JetStream stream of its own for one test, deleted after it."""

    url: str
    name: str
    prefix: str

    def sink(self, **kw: Any) -> NatsSink:
        return NatsSink(self.url, stream=self.name, subject_prefix=self.prefix, **kw)

    def messages(self) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        """Every message in the stream, in stream order: (subject, headers, body)."""
        return asyncio.run(self._read())

    async def _read(self) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        nc = await nats.connect(self.url)
        try:
            js = nc.jetstream()
            try:
                total = (await js.stream_info(self.name)).state.messages
            except nats.js.errors.NotFoundError:
                return []
            sub = await js.pull_subscribe(f"{self.prefix}.>", stream=self.name)
            got: list[tuple[str, dict[str, str], dict[str, Any]]] = []
            while len(got) < total:
                for msg in await sub.fetch(min(1000, total - len(got)), timeout=5):
                    got.append((msg.subject, dict(msg.headers or {}), json.loads(msg.data)))
                    await msg.ack()
            await sub.unsubscribe()
            return got
        finally:
            await nc.close()

    async def _delete(self) -> None:
        nc = await nats.connect(self.url)
        try:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await nc.jetstream().delete_stream(self.name)
        finally:
            await nc.close()


@pytest.fixture
def stream(nats_url: str) -> Iterator[Stream]:
    tag = uuid.uuid4().hex[:12]
    made = Stream(nats_url, f"TEST_RELAY_{tag}", f"test{tag}.events")
    yield made
    asyncio.run(made._delete())


@dataclass
class Receiver:
    """A webhook receiver on a local port that checks each signature; ``answers`` are the
    statuses of the next requests (then 200)."""

    secret: str = SECRET
    answers: list[int] = field(default_factory=list)
    #: (status answered, headers, raw body, signature valid) per request, in order
    requests: list[tuple[int, dict[str, str], bytes, bool]] = field(default_factory=list)
    url: str = ""

    def accepted(self) -> list[dict[str, Any]]:
        return [json.loads(body) for status, _, body, _ in self.requests if status == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            valid = verify_signature(
                got.secret, headers.get("x-xrm-timestamp"), body, headers.get("x-xrm-signature")
            )
            with lock:
                status = got.answers.pop(0) if got.answers else (200 if valid else 401)
                got.requests.append((status, headers, body, valid))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    got.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield got
    server.shutdown()
    server.server_close()
    thread.join(5)


def write_history(app: XRM, parties: int = 4, rounds: int = 3) -> list[int]:
    """Parties created, then changed in interleaved rounds (each change an event)."""
    with app.session(actor="tests") as s:
        ids = [s.parties.create("person", f"Person {i}").id for i in range(parties)]
    for r in range(rounds):
        for n, pid in enumerate(ids):
            with app.session(actor="tests") as s:
                s.parties.update(pid, display_name=f"Person {n} v{r}")
    return ids


def journal(app: XRM) -> tuple[list[int], dict[int, list[int]]]:
    """Every event id, and each party's event ids, in id order."""
    with app.engine.connect() as conn:
        ids = list(conn.scalars(select(JournalEventRow.id).order_by(JournalEventRow.id)))
        per_party: dict[int, list[int]] = {}
        for party, event in conn.execute(
            select(JournalPartyRow.party_id, JournalPartyRow.event_id).order_by(
                JournalPartyRow.event_id
            )
        ):
            per_party.setdefault(party, []).append(event)
    return ids, per_party


def first_copies(bodies: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a subscriber keeps: each event's first copy, in arrival order."""
    seen: set[int] = set()
    kept = []
    for body in bodies:
        if body["id"] not in seen:
            seen.add(body["id"])
            kept.append(body)
    return kept


def assert_in_order_per_party(bodies: Sequence[dict[str, Any]], app: XRM) -> None:
    arrived: dict[int, list[int]] = {}
    for body in first_copies(bodies):
        for party in body["parties"]:
            arrived.setdefault(party, []).append(body["id"])
    _, expected = journal(app)
    assert arrived == expected


def drain(relay: Relay, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while relay.pending():
        relay.run_once()
        assert time.monotonic() < deadline, f"{relay.pending()} events still pending"


# -- publication --------------------------------------------------------------------------
def test_every_event_is_published_once_to_each_sink_in_order(
    app: XRM, stream: Stream, receiver: Receiver
) -> None:
    write_history(app)
    ids, _ = journal(app)
    with Relay(app, [stream.sink(), WebhookSink(receiver.url, SECRET)], batch=5) as relay:
        assert relay.pending() == len(ids)
        drain(relay)
        key = f"xrm-{relay.source}-"
    messages = stream.messages()
    assert [body["id"] for _, _, body in messages] == ids
    for subject, headers, body in messages:
        assert subject == f"{stream.prefix}.{body['type']}"
        assert headers["Nats-Msg-Id"] == f"{key}{body['id']}"
    assert_in_order_per_party([body for _, _, body in messages], app)
    assert [body["id"] for body in receiver.accepted()] == ids
    assert all(valid for _, _, _, valid in receiver.requests)
    _, headers, raw, _ = receiver.requests[0]
    assert headers["x-xrm-event-id"] == str(ids[0])
    assert headers["idempotency-key"] == f"{key}{ids[0]}"
    assert json.loads(raw) == messages[0][2]


def test_the_message_is_the_journal_event_with_its_parties(app: XRM, stream: Stream) -> None:
    with app.session(actor="agent-7") as s:
        ada = s.parties.create("person", "Ada")
        acme = s.parties.create("organization", "ACME")
        s.relationships.create("works_for", ada.id, acme.id)
    with Relay(app, [stream.sink()]) as relay:
        assert relay.run_once() == 3
    *_, (_, _, body) = stream.messages()
    assert set(body) == {
        "id", "type", "entity", "entity_id", "occurred_at", "recorded_at", "actor",
        "parties", "data",
    }  # fmt: skip
    assert body["type"] == "relationship.created"
    assert body["actor"] == "agent-7"
    assert body["parties"] == sorted([ada.id, acme.id])
    assert body["recorded_at"].endswith("+00:00")


def test_the_bulk_paths_put_their_events_in_the_outbox_too(app: XRM, stream: Stream) -> None:
    """Every journal event is published, whichever path wrote it (import_many included)."""
    with app.session(actor="tests") as s:
        s.imports.import_many([{"name": f"Imported {i}", "kind": "person"} for i in range(3)])
        s.parties.create("person", "One at a time")
    ids, _ = journal(app)
    with Relay(app, [stream.sink()]) as relay:
        drain(relay)
    assert [body["id"] for _, _, body in stream.messages()] == ids


def test_a_copy_published_again_is_dropped_by_jetstream_and_keeps_its_key(
    app: XRM, stream: Stream, receiver: Receiver
) -> None:
    """At least once: a relay that died between publishing and deleting publishes again;
    the stream's duplicate window drops the copy, a webhook receiver sees the same key."""
    write_history(app, parties=2, rounds=1)
    ids, _ = journal(app)
    with Relay(app, [stream.sink(), WebhookSink(receiver.url, SECRET)]) as relay:
        drain(relay)
        with app.engine.begin() as conn:  # as if the deletion had never happened
            conn.execute(insert(OutboxRow), [{"event_id": i} for i in ids])
        drain(relay)
    assert [body["id"] for _, _, body in stream.messages()] == ids
    keys = [headers["idempotency-key"] for _, headers, _, _ in receiver.requests]
    assert len(keys) == 2 * len(ids)
    assert keys[: len(ids)] == keys[len(ids) :]


def test_an_erasure_before_publication_publishes_the_erased_data_only(
    app: XRM, stream: Stream
) -> None:
    with app.session(actor="tests") as s:
        ada = s.parties.create(
            "person", "Ada Lovelace", contact_points=[Email("ada.lovelace@example.com")]
        )
        s.parties.update(ada.id, display_name="Ada King")
        s.gdpr.erase(ada.id, reason="her request")
    with Relay(app, [stream.sink()]) as relay:
        drain(relay)
    bodies = [body for _, _, body in stream.messages()]
    assert "party.erased" in [b["type"] for b in bodies]
    published = json.dumps(bodies)
    for trace in ("Ada", "Lovelace", "King", "ada.lovelace"):
        assert trace not in published


def test_nothing_is_published_twice_by_two_relays_at_once(app: XRM, stream: Stream) -> None:
    """While one relay publishes (its sink blocked), another finds the lock taken."""
    write_history(app, parties=1, rounds=1)
    inside, go = threading.Event(), threading.Event()

    class Held:
        name = "held"
        published: list[int] = []

        def publish(self, events: Sequence[OutboundEvent]) -> None:
            inside.set()
            assert go.wait(10)
            self.published.extend(e.id for e in events)

        def close(self) -> None:
            pass

    first = Relay(app, [Held()])
    worker = threading.Thread(target=first.run_once)
    worker.start()
    try:
        assert inside.wait(10)
        with Relay(app, [stream.sink()]) as second:
            assert second.run_once() == 0
            assert stream.messages() == []
    finally:
        go.set()
        worker.join(10)
    assert Held.published == journal(app)[0]
    with Relay(app, [stream.sink()]) as second:
        assert second.pending() == 0


# -- failures -----------------------------------------------------------------------------
def test_a_webhook_down_then_up_delays_but_loses_nothing_and_keeps_order(
    app: XRM, stream: Stream, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    write_history(app)
    ids, _ = journal(app)
    receiver.answers = [503, 503, 503, 429, 400]  # then 200
    stop = threading.Event()
    sinks: list[Sink] = [stream.sink(), WebhookSink(receiver.url, SECRET)]
    with Relay(app, sinks, batch=4, poll=0.02, backoff=0.02, max_backoff=0.2) as relay:
        runner = threading.Thread(target=relay.run, args=(stop,))
        with caplog.at_level(logging.WARNING, logger="xrm.relay"):
            runner.start()
            try:
                deadline = time.monotonic() + 30
                while relay.pending() and time.monotonic() < deadline:
                    time.sleep(0.02)
            finally:
                stop.set()
                runner.join(10)
        assert relay.pending() == 0
    statuses = [status for status, *_ in receiver.requests]
    assert statuses[:5] == [503, 503, 503, 429, 400]
    assert [body["id"] for body in receiver.accepted()] == ids
    assert [body["id"] for _, _, body in stream.messages()] == ids  # NATS: no duplicates
    assert any("refuses event" in r.message and r.levelname == "ERROR" for r in caplog.records)
    assert sum("failed at event" in r.message for r in caplog.records) >= 5


def test_nats_unreachable_keeps_every_event_pending(app: XRM) -> None:
    write_history(app, parties=1, rounds=1)
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    sink = NatsSink(f"nats://127.0.0.1:{port}", stream="NOWHERE", timeout=1)
    with Relay(app, [sink]) as relay:
        before = relay.pending()
        assert relay.run_once() == 0
        assert relay.pending() == before > 0


# -- signatures ---------------------------------------------------------------------------
def test_a_signature_verifies_and_a_tampered_body_or_old_timestamp_fails(
    app: XRM, receiver: Receiver
) -> None:
    write_history(app, parties=1, rounds=0)
    with Relay(app, [WebhookSink(receiver.url, SECRET)]) as relay:
        drain(relay)
    (_, headers, body, valid), *_ = receiver.requests
    stamp, signature = headers["x-xrm-timestamp"], headers["x-xrm-signature"]
    assert valid
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify_signature(SECRET, stamp, body, signature)
    tampered = body.replace(b'"actor":"tests"', b'"actor":"admin"')
    assert tampered != body
    assert not verify_signature(SECRET, stamp, tampered, signature)
    assert not verify_signature("another secret", stamp, body, signature)
    assert not verify_signature(SECRET, str(int(stamp) + 1), body, signature)
    later = int(stamp) + 301
    assert not verify_signature(SECRET, stamp, body, signature, now=later)
    assert verify_signature(SECRET, stamp, body, signature, tolerance=600, now=later)
    assert not verify_signature(SECRET, "yesterday", body, signature)
    assert not verify_signature(SECRET, stamp, body, None)
    assert sign(SECRET, 1700000000, b"{}") == sign(SECRET.encode(), "1700000000", "{}")


def test_a_receiver_with_the_wrong_secret_never_acknowledges(app: XRM, receiver: Receiver) -> None:
    write_history(app, parties=1, rounds=0)
    with Relay(app, [WebhookSink(receiver.url, "not the secret")]) as relay:
        pending = relay.pending()
        assert relay.run_once() == 0
        assert relay.pending() == pending
    assert [(status, valid) for status, _, _, valid in receiver.requests] == [(401, False)]


# -- configuration ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("make", "field_name"),
    [
        (lambda app: Relay(app, []), "sinks"),
        (lambda app: Relay(app, [WebhookSink("http://x/", "s")], batch=0), "batch"),
        (lambda app: Relay(app, [WebhookSink("http://x/", "s")], source="a b"), "source"),
        (lambda app: Relay(app, [WebhookSink("http://x/", "s")], backoff=-1), "backoff"),
        (lambda app: WebhookSink("ftp://x/", "s"), "url"),
        (lambda app: WebhookSink("http://x/", ""), "secret"),
        (lambda app: NatsSink(stream="a.b"), "stream"),
        (lambda app: NatsSink(subject_prefix="a.>"), "subject_prefix"),
    ],
)
def test_bad_configuration_names_the_field(
    app: XRM, make: Callable[[XRM], object], field_name: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"^{field_name}: "):
        made = make(app)
        if isinstance(made, Relay):  # pragma: no cover - the call raises first
            made.close()


# -- the command --------------------------------------------------------------------------
#: the database of the ``app`` fixture has no plugin's tables: the command loads none
PLAIN = {**os.environ, "XRM_LOAD_PLUGINS": ""}
RELAY_CLI = (
    "import sys; from xrm.cli import cli; from xrm.cli.relay import relay; "
    "cli.add_command(relay); cli(sys.argv[1:], prog_name='xrm')"
)


def relay_command(app: XRM, stream: Stream, *extra: str) -> list[str]:
    return [
        sys.executable, "-c", RELAY_CLI, "--database", app.url, "relay", "--nats", stream.url,
        "--stream", stream.name, "--subject-prefix", stream.prefix, "--source", "killtest",
        *extra,
    ]  # fmt: skip


def test_the_command_publishes_once_and_refuses_a_webhook_without_secret(
    app: XRM, stream: Stream, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xrm.cli import cli
    from xrm.cli.relay import relay

    cli.add_command(relay)
    write_history(app, parties=2, rounds=1)
    runner = CliRunner()
    base = ["--database", app.url, "relay"]
    monkeypatch.delenv("XRM_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("XRM_LOAD_PLUGINS", "")  # the database has no plugin's tables
    result = runner.invoke(cli, [*base, "--webhook", "http://127.0.0.1:9/"])
    assert result.exit_code == 2 and "--secret" in result.output
    result = runner.invoke(cli, base)
    assert result.exit_code == 2 and "--nats URL or --webhook URL" in result.output
    result = runner.invoke(
        cli, [*base, "--nats", stream.url, "--stream", stream.name, "--subject-prefix",
              stream.prefix, "--once"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == "4 published, 0 pending\n"
    assert len(stream.messages()) == 4


def test_killing_the_relay_at_random_points_loses_no_event(app: XRM, stream: Stream) -> None:
    """A relay process killed with SIGKILL five times while events are written, then run
    until the outbox is empty: the subscriber has every event, each party's in order."""
    rng = random.Random(16)
    writing = threading.Event()
    writing.set()
    rounds: list[int] = []
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            with app.session(actor="tests") as s:
                ids = [s.parties.create("person", f"P{i}").id for i in range(20)]
            while writing.is_set():  # until the last relay is killed
                with app.session(actor="tests") as s:
                    for pid in rng.sample(ids, 3):
                        s.parties.update(pid, display_name=f"P{pid} r{len(rounds)}")
                rounds.append(3)
                time.sleep(0.01)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    def published() -> int:
        """Events written so far that the relay published (and deleted)."""
        gone = ~JournalEventRow.id.in_(select(OutboxRow.event_id))
        with app.engine.connect() as conn:
            return int(conn.execute(select(func.count()).where(gone)).scalar_one())

    relay = Relay(app, [stream.sink()])
    command = relay_command(app, stream, "--batch", "7", "--poll", "0.02")
    #: how many events each killed relay had published when it was killed
    progress: list[int] = []
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(progress) < 5:
            before = published()
            process = subprocess.Popen(command, stderr=subprocess.PIPE, env=PLAIN)
            deadline = time.monotonic() + 30
            while published() == before and time.monotonic() < deadline:
                time.sleep(0.005)  # until it publishes, then kill it at a random point
            time.sleep(rng.uniform(0, 0.3))
            assert process.poll() is None, process.communicate()[1].decode()
            process.send_signal(signal.SIGKILL)
            process.communicate()
            progress.append(published() - before)
    finally:
        writing.clear()
        thread.join(60)
    assert not failures, failures
    assert all(n > 0 for n in progress), progress  # each killed while publishing
    last = subprocess.Popen(command, stderr=subprocess.PIPE, env=PLAIN)
    try:
        deadline = time.monotonic() + 60
        while relay.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        last.send_signal(signal.SIGTERM)
        _, errors = last.communicate(timeout=30)
    assert last.returncode == 0, errors.decode()
    assert relay.pending() == 0
    relay.close()
    bodies = [body for _, _, body in stream.messages()]
    ids, _ = journal(app)
    assert len(ids) == 20 + sum(rounds)
    assert {b["id"] for b in bodies} == set(ids)  # none missing, none invented
    assert_in_order_per_party(bodies, app)
