"""The party's data (export, erasure, merge), the migration, the command line and the HTTP
endpoints."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import xrm_campaigns as xc
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from campaigns_support import Cast, Recorder, campaigns_app, cast, promo
from click.testing import CliRunner
from fastapi.testclient import TestClient

from xrm import XRM, Email
from xrm.tables import Base
from xrm.testing import erasure_leftovers
from xrm.web import ApiKeys, create_app

WELCOME = {
    "name": "welcome",
    "trigger": {"type": "event", "event": "role.assigned", "role": "customer"},
    "steps": [
        {"type": "send", "template": "campaigns_welcome", "purpose": "marketing"},
        {"type": "wait", "days": 2},
        {"type": "tag", "tag": "welcomed"},
    ],
}


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    return campaigns_app(xrm_factory, Recorder())


@pytest.fixture
def people(app: XRM) -> Cast:
    with app.session() as s:
        return cast(s)


def test_the_export_holds_the_campaigns_and_scenarios_of_the_party(app: XRM, people: Cast) -> None:
    with app.session() as s:
        xc.create(s, promo())
        xc.launch(s, "spring")
        xc.drain(s, "spring")
        xc.create_scenario(s, WELCOME)
        s.roles.assign(people.bob, "customer")
    xc.work(app)
    with app.session() as s:
        mine = s.gdpr.export(people.bob)["plugins"]["campaigns"]
        nothing = s.gdpr.export(s.parties.create("person", "New"))["plugins"]
    assert [(c["campaign"], c["status"], c["channel"]) for c in mine["campaigns"]] == [
        ("spring", "sent", "email")
    ]
    (went,) = mine["scenarios"]
    assert (went["scenario"], went["status"]) == ("welcome", "active")
    assert [step["kind"] for step in went["steps"]] == ["send", "wait"]
    assert "campaigns" not in nothing


def test_erasure_stops_the_party_s_scenarios_and_pending_sends_and_leaves_nothing(
    app: XRM, people: Cast
) -> None:
    with app.session() as s:
        xc.create_scenario(s, WELCOME)
        s.roles.assign(people.bob, "customer")
        xc.create(s, promo())
        xc.launch(s, "spring")
    assert erasure_leftovers(app, people.bob.id) == []
    with app.session() as s:
        (enrolment,) = xc.enrolments(s, party=people.bob.id)
        report = xc.drain(s, "spring")
        results = xc.results(s, "spring")
    assert enrolment.status == "cancelled"
    assert results.total["excluded"]["erased"] == 1
    assert report.sent == 1  # Ann only


def test_a_merge_moves_the_duplicate_s_enrolments_and_an_unmerge_gives_them_back(
    app: XRM, people: Cast
) -> None:
    with app.session() as s:
        xc.create_scenario(s, WELCOME)
        twin = s.parties.create("person", "Bob B.", contact_points=[Email("bob2@example.com")])
        s.roles.assign(twin, "customer")
        s.identity.merge(people.bob, twin)
        assert [e.party_id for e in xc.enrolments(s)] == [people.bob.id]
        s.identity.unmerge(twin)
        assert [e.party_id for e in xc.enrolments(s)] == [twin.id]


def test_the_migrated_tables_match_the_models(app: XRM) -> None:
    def ours(name: str | None, type_: str, parent: Any) -> bool:
        return type_ != "table" or (name or "").startswith("campaigns_")

    def our_objects(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        return ours(name, type_, None)

    with app.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": True, "include_name": ours, "include_object": our_objects},
        )
        assert compare_metadata(context, Base.metadata) == []
        heads = set(context.get_current_heads())
    assert "campaigns_0001" in heads


class _Root:
    """What the ``xrm`` root command leaves in the click context: ``app()``."""

    def __init__(self, app: XRM) -> None:
        self._app = app

    def app(self) -> XRM:
        return self._app


def test_the_campaign_and_scenario_commands(app: XRM, people: Cast, tmp_path: Path) -> None:
    from xrm_campaigns._cli import campaign, scenario

    runner = CliRunner()

    def run(group: Any, *args: str) -> str:
        result = runner.invoke(group, list(args), obj=_Root(app))
        assert result.exit_code == 0, result.output
        return result.output

    spec = tmp_path / "spring.json"
    spec.write_text(json.dumps(promo()))
    assert run(campaign, "create", str(spec)) == "created campaign spring (draft)\n"
    assert "spring" in run(campaign, "list")
    assert run(campaign, "launch", "spring") == (
        "campaign spring running: 4 targeted, 2 to send, 2 excluded\n"
    )
    assert run(campaign, "run", "--once") == "2 sent, 0 excluded\n"
    results = json.loads(run(campaign, "results", "spring", "--json"))
    assert results["total"]["sent"] == 2
    assert "excluded: 1 no_consent, 1 suppressed" in run(campaign, "results", "spring")
    assert "done" in run(campaign, "status", "spring")
    flow = tmp_path / "welcome.json"
    flow.write_text(json.dumps(WELCOME))
    assert "created scenario welcome" in run(scenario, "create", str(flow))
    with app.session() as s:
        s.roles.assign(people.bob, "customer")
    assert run(scenario, "run", "--once") == "2 done\n"
    assert "1 active" in run(scenario, "status", "welcome")
    assert "send > wait > tag" in run(scenario, "list")
    assert run(scenario, "pause", "welcome") == "scenario welcome paused\n"


def test_the_xrm_command_line_has_the_commands_and_errors_are_one_line(
    xrm_factory: Callable[..., XRM],
) -> None:
    from xrm.cli import cli

    app = campaigns_app(xrm_factory)
    if app.engine.dialect.name != "sqlite":
        pytest.skip("the command line names a database by URL; PostgreSQL tests use a schema")
    XRM.add_plugin_commands(cli)
    runner = CliRunner(env={"XRM_LOAD_PLUGINS": "campaigns"})
    result = runner.invoke(cli, ["--database", app.url, "campaign", "launch", "nope"])
    assert (result.exit_code, "Traceback" in result.output) == (1, False)
    assert "campaign" in result.output and "nope" in result.output
    listed = runner.invoke(cli, ["--database", app.url, "plugins", "--json"])
    assert "campaigns" in {p["name"] for p in json.loads(listed.output)}


def test_campaigns_and_scenarios_over_http(app: XRM, people: Cast) -> None:
    keys = ApiKeys()
    auth = {"Authorization": f"Bearer {keys.create('alice', ['admin'])}"}
    with TestClient(create_app(app, keys)) as http:
        base = "/plugins/campaigns"
        made = http.post(f"{base}/campaigns", headers=auth, json=promo())
        assert made.status_code == 201, made.text
        bad = http.post(f"{base}/campaigns", headers=auth, json=promo("x", purpose="bowling"))
        assert bad.status_code == 422
        launched = http.post(f"{base}/campaigns/spring/launch", headers=auth)
        assert launched.json()["status"] == "running"
        again = http.post(f"{base}/campaigns/spring/launch", headers=auth)
        assert again.status_code == 409
        results = http.get(f"{base}/campaigns/spring/results", headers=auth).json()
        assert results["total"]["targeted"] == 4
        assert [c["name"] for c in http.get(f"{base}/campaigns", headers=auth).json()] == ["spring"]
        assert http.get(f"{base}/campaigns/nope", headers=auth).status_code == 404
        flow = http.post(f"{base}/scenarios", headers=auth, json=WELCOME)
        assert flow.status_code == 201, flow.text
        assert http.get(f"{base}/scenarios/welcome", headers=auth).json()["status"] == "active"
        mine = http.get(f"{base}/parties/{people.bob.id}", headers=auth).json()
        assert [c["status"] for c in mine["campaigns"]] == ["pending"]


def test_the_party_page_shows_its_campaigns_and_scenarios(app: XRM, people: Cast) -> None:
    with app.session() as s:
        xc.create(s, promo())
        xc.launch(s, "spring")
        xc.create_scenario(s, WELCOME)
        s.roles.assign(people.cid, "customer")
        panels = {p.title: p for p in s.panels(people.cid)}
        empty = {p.title: p for p in s.panels(people.ann) if p.plugin == "campaigns"}
    assert panels["Campaigns"].rows == (("spring", "main", "-", "excluded: no_consent"),)
    assert [row[:3] for row in panels["Scenarios"].rows] == [("welcome", "active", 0)]
    assert empty["Scenarios"].rows == ()
