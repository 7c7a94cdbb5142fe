"""End to end: s.messages.send puts an SMS in the outbox, app.deliver hands it to the
gateway, and the gateway's reply decides the message's status."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import xrm_sms_gateway
from sms_gateway_support import FakeGateway, Reply
from xrm_sms_gateway import GatewaySmsTransport

from xrm import XRM, Phone, Template, TemplateSet

TEMPLATES = TemplateSet([Template("code", "sms", "en", body="Code {{ data.code }}")])


def person(app: XRM) -> int:
    with app.session() as s:
        party = s.parties.create("person", "Marie Dupont", contact_points=[Phone("+33612345678")])
        return party.id


def send_code(app: XRM, party: int) -> int:
    with app.session() as s:
        message = s.messages.send(party, "code", purpose="service", data={"code": 42})
    assert (message.channel, message.address, message.status) == ("sms", "+33612345678", "queued")
    return message.id


@pytest.fixture
def app(xrm_factory: Callable[..., XRM], gateway: FakeGateway) -> XRM:
    transport = GatewaySmsTransport(gateway.url, token="s3cret", sender="ACME", timeout=2)
    return xrm_factory(templates=TEMPLATES, transports=[transport], discover=False)


def test_a_message_is_delivered_to_the_gateway(app: XRM, gateway: FakeGateway) -> None:
    message = send_code(app, person(app))
    assert gateway.received == []  # nothing leaves before the worker runs
    assert app.deliver() == {"sent": 1}
    [request] = gateway.received
    with app.session() as s:
        sent = s.messages.get(message)
    key = request.headers["Idempotency-Key"]
    assert request.json() == {"to": "+33612345678", "from": "ACME", "text": "Code 42",
                              "reference": key}  # fmt: skip
    assert len(key) >= 16
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert (sent.status, sent.external_id, sent.attempts) == ("sent", "sms-1", 1)
    assert app.deliver() == {}  # never twice
    assert len(gateway.received) == 1


def test_a_500_is_retried_with_the_same_idempotency_key(app: XRM, gateway: FakeGateway) -> None:
    message = send_code(app, person(app))
    gateway.answer(Reply(500, {"error": "upstream carrier down"}))
    assert app.deliver() == {"retry": 1}
    with app.session() as s:
        waiting = s.messages.get(message)
    assert waiting.status == "queued"
    assert waiting.last_error == (
        f'sms_gateway: HTTP 500 from {gateway.url}: {{"error": "upstream carrier down"}}'
    )
    assert waiting.not_before is not None
    assert app.deliver(now=waiting.not_before) == {"sent": 1}
    first, second = gateway.received
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.json() == second.json()


def test_a_400_fails_the_message(app: XRM, gateway: FakeGateway) -> None:
    message = send_code(app, person(app))
    gateway.answer(Reply(400, {"error": "invalid number"}))
    assert app.deliver() == {"failed": 1}
    with app.session() as s:
        failed = s.messages.get(message)
    assert failed.status == "failed"
    assert "HTTP 400" in (failed.last_error or "")


def test_the_plugin_configured_by_the_environment_delivers(
    xrm_factory: Callable[..., XRM], gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XRM_SMS_GATEWAY_URL", gateway.url)
    monkeypatch.setenv("XRM_SMS_GATEWAY_TOKEN", "from-the-env")
    app = xrm_factory(templates=TEMPLATES, plugins=[xrm_sms_gateway], discover=False)
    send_code(app, person(app))
    assert app.deliver() == {"sent": 1}
    [request] = gateway.received
    assert request.headers["Authorization"] == "Bearer from-the-env"
    assert request.json()["text"] == "Code 42"
    assert "from" not in request.json()
