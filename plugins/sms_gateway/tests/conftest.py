"""Fixtures: the fake gateway (sms_gateway_support.FakeGateway), and an environment where
the plugin's entry point adds no transport and no proxy stands between the test and the
gateway."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sms_gateway_support import FakeGateway


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    fake = FakeGateway()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(autouse=True)
def _no_proxy_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake gateway is reached directly whatever proxy the machine sets, and the
    plugin's entry point adds no transport unless a test configures it."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    for name in ("XRM_SMS_GATEWAY_URL", "XRM_SMS_GATEWAY_TOKEN", "XRM_SMS_GATEWAY_SENDER"):
        monkeypatch.delenv(name, raising=False)
