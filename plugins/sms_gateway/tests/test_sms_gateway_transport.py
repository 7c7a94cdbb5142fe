"""GatewaySmsTransport against the fake gateway: what is posted, and how each reply maps to
a provider id, a TransientFailure or a PermanentFailure."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
from sms_gateway_support import FakeGateway, Reply
from xrm_sms_gateway import GatewaySmsTransport

from xrm import Envelope, PermanentFailure, TransientFailure


def envelope(**changes: Any) -> Envelope:
    fields: dict[str, Any] = {
        "message_id": 7,
        "idempotency_key": "9f1c0c7e-msg-7",
        "channel": "sms",
        "to": "+33612345678",
        "language": "fr",
        "subject": None,
        "text": "Votre code : 42 — à bientôt 🙂",
        **changes,
    }
    return Envelope(**fields)


def test_each_envelope_is_posted_as_json_with_its_headers(gateway: FakeGateway) -> None:
    transport = GatewaySmsTransport(gateway.url, token="s3cret-t0ken", sender="ACME")
    assert transport.send(envelope()) == "sms-1"
    assert transport.send(envelope(message_id=8, idempotency_key="k-8", text="Bye")) == "sms-2"
    first, second = gateway.received
    assert (first.method, first.path) == ("POST", "/v1/messages")
    assert first.json() == {
        "to": "+33612345678",
        "from": "ACME",
        "text": "Votre code : 42 — à bientôt 🙂",
        "reference": "9f1c0c7e-msg-7",
    }
    assert list(first.json()) == ["to", "from", "text", "reference"]
    assert first.headers["Authorization"] == "Bearer s3cret-t0ken"
    assert first.headers["Idempotency-Key"] == "9f1c0c7e-msg-7"
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["Accept"] == "application/json"
    assert (second.json()["reference"], second.headers["Idempotency-Key"]) == ("k-8", "k-8")
    assert second.json()["text"] == "Bye"


def test_without_token_nor_sender_neither_is_sent(gateway: FakeGateway) -> None:
    GatewaySmsTransport(gateway.url).send(envelope())
    [request] = gateway.received
    assert "Authorization" not in request.headers
    assert request.json() == {
        "to": "+33612345678",
        "text": "Votre code : 42 — à bientôt 🙂",
        "reference": "9f1c0c7e-msg-7",
    }


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        pytest.param(Reply(200, {"id": "abc-123"}), "abc-123", id="200"),
        pytest.param(Reply(201, {"id": 98765, "cost": 0.05}), "98765", id="201-number"),
        pytest.param(Reply(202, {"id": "  q-1 "}), "q-1", id="202-blanks"),
        pytest.param(Reply(204), None, id="204-empty"),
        pytest.param(Reply(200, b"OK"), None, id="not-json"),
        pytest.param(Reply(200, {"status": "queued"}), None, id="no-id"),
        pytest.param(Reply(200, {"id": ""}), None, id="empty-id"),
        pytest.param(Reply(200, {"id": True}), None, id="boolean-id"),
        pytest.param(Reply(200, {"id": ["a"]}), None, id="list-id"),
        pytest.param(Reply(200, ["abc"]), None, id="list"),
        pytest.param(Reply(200, {"id": "x" * 201}), None, id="id-too-long"),
        pytest.param(Reply(200, {"id": "x" * 200}), "x" * 200, id="id-longest"),
        pytest.param(Reply(200, b"[" * 60_000), None, id="deep-json"),
    ],
)
def test_a_2xx_reply_is_a_success_with_the_gateways_id_if_usable(
    gateway: FakeGateway, reply: Reply, expected: str | None
) -> None:
    gateway.answer(reply)
    assert GatewaySmsTransport(gateway.url).send(envelope()) == expected


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_429_and_5xx_are_transient(gateway: FakeGateway, status: int) -> None:
    gateway.answer(Reply(status, {"error": "busy, try later"}))
    with pytest.raises(TransientFailure) as err:
        GatewaySmsTransport(gateway.url, token="s3cret").send(envelope())
    assert str(err.value) == (
        f'sms_gateway: HTTP {status} from {gateway.url}: {{"error": "busy, try later"}}'
    )
    assert "s3cret" not in str(err.value)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 413, 422])
def test_other_4xx_are_permanent(gateway: FakeGateway, status: int) -> None:
    gateway.answer(Reply(status, {"error": "invalid number"}))
    with pytest.raises(PermanentFailure) as err:
        GatewaySmsTransport(gateway.url, token="s3cret").send(envelope())
    assert str(err.value) == (
        f'sms_gateway: HTTP {status} from {gateway.url}: {{"error": "invalid number"}}'
    )
    assert "s3cret" not in str(err.value)


def test_retry_after_is_quoted(gateway: FakeGateway) -> None:
    gateway.answer(Reply(429, b"", headers={"Retry-After": "30"}))
    with pytest.raises(
        TransientFailure, match=r"^sms_gateway: HTTP 429 from .* \(retry after 30\)$"
    ):
        GatewaySmsTransport(gateway.url).send(envelope())


def test_a_long_refusal_is_clipped_on_one_line(gateway: FakeGateway) -> None:
    gateway.answer(Reply(400, ("bad\n\n  number " * 1000).encode() + b"\xff"))
    with pytest.raises(PermanentFailure) as err:
        GatewaySmsTransport(gateway.url).send(envelope())
    text = str(err.value)
    assert text.startswith(f"sms_gateway: HTTP 400 from {gateway.url}: bad number bad number")
    assert text.endswith("…") and "\n" not in text
    assert len(text) < 300  # the outbox keeps 300 characters of last_error


def test_a_redirect_is_not_followed(gateway: FakeGateway) -> None:
    gateway.answer(Reply(302, b"", headers={"Location": gateway.url + "/elsewhere"}))
    with pytest.raises(PermanentFailure, match=r"HTTP 302 .*redirects are not followed"):
        GatewaySmsTransport(gateway.url, token="s3cret").send(envelope())
    assert [r.path for r in gateway.received] == ["/v1/messages"]


def test_a_reply_slower_than_the_timeout_is_transient(gateway: FakeGateway) -> None:
    gateway.answer(Reply(200, {"id": "late"}, delay=5.0))
    started = time.monotonic()
    with pytest.raises(TransientFailure) as err:
        GatewaySmsTransport(gateway.url, timeout=0.2).send(envelope())
    assert time.monotonic() - started < 3.0
    assert str(err.value) == f"sms_gateway: {gateway.url}: timed out"
    assert len(gateway.received) == 1


def test_a_gateway_that_is_not_there_is_transient() -> None:
    with socket.socket() as probe:  # a free port, closed again: nobody listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1/messages"
    with pytest.raises(
        TransientFailure, match=r"^sms_gateway: http://127\.0\.0\.1:\d+/v1/messages"
    ):
        GatewaySmsTransport(url, timeout=2).send(envelope())


def test_the_url_in_failures_has_no_query(gateway: FakeGateway) -> None:
    gateway.answer(Reply(500))
    transport = GatewaySmsTransport(f"{gateway.url}?api_key=k3y")
    with pytest.raises(TransientFailure) as err:
        transport.send(envelope())
    assert str(err.value) == f"sms_gateway: HTTP 500 from {gateway.url}"
    assert "k3y" not in repr(transport)
    assert gateway.received[0].path == "/v1/messages?api_key=k3y"


def test_another_channel_is_refused_without_a_request(gateway: FakeGateway) -> None:
    with pytest.raises(PermanentFailure, match="carries sms, not 'email'"):
        GatewaySmsTransport(gateway.url).send(envelope(channel="email", to="a@example.com"))
    assert gateway.received == []


def test_payload_is_the_place_to_adapt_to_another_gateway(gateway: FakeGateway) -> None:
    class Renamed(GatewaySmsTransport):
        def payload(self, envelope: Envelope) -> dict[str, object]:
            return {"msisdn": envelope.to, "message": envelope.text}

    Renamed(gateway.url, name="renamed").send(envelope(text="Hi"))
    assert gateway.received[0].json() == {"msisdn": "+33612345678", "message": "Hi"}


def test_repr_never_shows_the_token() -> None:
    transport = GatewaySmsTransport("https://sms.example/send", token="s3cret")
    assert repr(transport) == "GatewaySmsTransport('https://sms.example/send', name='sms_gateway')"


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"url": "ftp://sms.example/send"}, "http:// or https://"),
        ({"url": "file:///etc/passwd"}, "http:// or https://"),
        ({"url": "https:///send"}, "with a host"),
        ({"url": 42}, "must be a string"),
        ({"url": "https://user:pa55@sms.example/send"}, "must not hold credentials"),
        ({"token": ""}, "token"),
        ({"token": "a b"}, "token"),
        ({"token": "line\nbreak"}, "token"),
        ({"token": "jéton"}, "token"),
        ({"sender": " "}, "sender"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1.0}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"name": "SMS Gateway"}, "lowercase identifier"),
    ],
)
def test_a_bad_argument_is_refused_at_once(arguments: dict[str, Any], says: str) -> None:
    given: dict[str, Any] = {"url": "https://sms.example/send", **arguments}
    with pytest.raises(ValueError, match=says) as err:
        GatewaySmsTransport(**given)
    assert "pa55" not in str(err.value)


def test_the_body_is_ascii_json() -> None:
    # what the gateway reads is JSON whatever it assumes of the charset
    body = json.dumps(GatewaySmsTransport("https://sms.example/send").payload(envelope()))
    assert body.isascii()
