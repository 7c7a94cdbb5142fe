"""The distribution is found through its entry point, and registers a transport only when
the environment configures one."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import xrm_sms_gateway
from xrm_sms_gateway import GatewaySmsTransport

from xrm import XRM, ConfigurationError, FileTransport, PluginError

URL = "https://sms.example/v1/messages"


def xrm_plugins_json(tmp_path: Path, **env: str) -> list[dict[str, object]]:
    """``xrm plugins --json``, run as a user runs it, in the environment of the test."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("XRM_LOAD_PLUGINS", "XRM_DISABLE_PLUGINS", "XRM_OUTBOX", "XRM_SMTP")
    }
    done = subprocess.run(
        [sys.executable, "-m", "xrm.cli", "--database", f"sqlite:///{tmp_path / 'x.db'}",
         "plugins", "--json"],
        env={**clean, "XRM_STRICT_PLUGINS": "1", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    infos: list[dict[str, object]] = json.loads(done.stdout)
    return infos


@pytest.mark.parametrize("configured", [False, True], ids=["unconfigured", "configured"])
def test_xrm_plugins_lists_the_installed_distribution(tmp_path: Path, configured: bool) -> None:
    env = {"XRM_SMS_GATEWAY_URL": URL} if configured else {}
    infos = {i["name"]: i for i in xrm_plugins_json(tmp_path, **env)}
    info = infos["sms_gateway"]
    assert info["status"] == "loaded"
    assert info["error"] is None
    assert info["version"] == importlib.metadata.version("xrm-sms-gateway")
    assert info["hooks"] == ["xrm_transports"]


def test_the_installed_distribution_is_discovered_and_loaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("XRM_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("XRM_DISABLE_PLUGINS", raising=False)
    monkeypatch.setenv("XRM_SMS_GATEWAY_URL", URL)
    app = XRM("sqlite://", discover=True)
    try:
        plugins = {p.name: p for p in app.plugin_info()}
        assert plugins["sms_gateway"].status == "loaded"
        assert plugins["sms_gateway"].hooks == ("xrm_transports",)
        transport = app.settings.transports["sms"]
        assert isinstance(transport, GatewaySmsTransport)
        assert (transport.name, transport.url) == ("sms_gateway", URL)
    finally:
        app.dispose()


def test_unconfigured_the_hook_gives_nothing() -> None:
    assert list(xrm_sms_gateway.xrm_transports()) == []
    assert xrm_sms_gateway.from_environment() is None


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_url_is_no_url(monkeypatch: pytest.MonkeyPatch, blank: str) -> None:
    monkeypatch.setenv("XRM_SMS_GATEWAY_URL", blank)
    monkeypatch.setenv("XRM_SMS_GATEWAY_TOKEN", "s3cret")
    assert list(xrm_sms_gateway.xrm_transports()) == []


def test_configured_the_hook_gives_one_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XRM_SMS_GATEWAY_URL", f" {URL} ")
    monkeypatch.setenv("XRM_SMS_GATEWAY_TOKEN", "s3cret")
    monkeypatch.setenv("XRM_SMS_GATEWAY_SENDER", "ACME")
    [transport] = xrm_sms_gateway.xrm_transports()
    assert isinstance(transport, GatewaySmsTransport)
    assert (transport.name, transport.channels) == ("sms_gateway", ("sms",))
    assert (transport.url, transport.token, transport.sender) == (URL, "s3cret", "ACME")
    assert transport.timeout == 10.0


def test_configured_without_token_nor_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XRM_SMS_GATEWAY_URL", URL)
    monkeypatch.setenv("XRM_SMS_GATEWAY_TOKEN", "")
    [transport] = xrm_sms_gateway.xrm_transports()
    assert isinstance(transport, GatewaySmsTransport)
    assert (transport.token, transport.sender) == (None, None)


def test_unconfigured_an_app_keeps_its_own_sms_transport(tmp_path: Path) -> None:
    own = FileTransport(tmp_path, channels=["sms"])
    app = XRM("sqlite://", plugins=[xrm_sms_gateway], discover=False, transports=[own])
    try:
        assert app.settings.transports["sms"] is own
    finally:
        app.dispose()


def test_configured_a_second_sms_transport_is_refused_naming_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XRM_SMS_GATEWAY_URL", URL)
    own = FileTransport(tmp_path, channels=["sms"])
    with pytest.raises(ConfigurationError, match="two transports for channel 'sms'") as err:
        XRM("sqlite://", plugins=[xrm_sms_gateway], discover=False, transports=[own])
    assert "'sms_gateway' of 'sms_gateway'" in str(err.value)
    assert "'file' of 'app'" in str(err.value)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("XRM_SMS_GATEWAY_URL", "ftp://sms.example/send", "http:// or https://"),
        ("XRM_SMS_GATEWAY_URL", "sms.example/send", "http:// or https://"),
        ("XRM_SMS_GATEWAY_URL", "https://sms.example:port/send", "Port"),
        ("XRM_SMS_GATEWAY_TOKEN", "two words", "token"),
    ],
)
def test_a_bad_configuration_stops_the_start_naming_the_plugin(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv("XRM_SMS_GATEWAY_URL", URL)
    monkeypatch.setenv(variable, value)
    with pytest.raises(PluginError) as err:
        XRM("sqlite://", plugins=[xrm_sms_gateway], discover=False)
    assert (err.value.plugin, err.value.hook) == ("sms_gateway", "xrm_transports")
    assert isinstance(err.value.__cause__, ValueError)
    assert says in str(err.value)
    assert "two words" not in str(err.value)
