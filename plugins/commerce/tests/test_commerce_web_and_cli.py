"""The HTTP endpoints under /plugins/commerce, the panels of the party page, and the value
commands."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import xrm_commerce
from click.testing import CliRunner
from commerce_support import T0, Root, cast, catalogue, commerce_app
from fastapi.testclient import TestClient
from xrm_commerce import LineIn

from xrm import XRM
from xrm.web import ApiKeys, create_app


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    app = commerce_app(xrm_factory)
    with app.session() as s:
        catalogue(s)
        people = cast(s)
        xrm_commerce.place_order(s, people.marie, [LineIn("OVEN"), LineIn("KETTLE")],
                                 currency="EUR", reference="W-1", ordered_at=T0)  # fmt: skip
        xrm_commerce.place_order(s, people.paul, [LineIn("OVEN"), LineIn("TOASTER")],
                                 currency="EUR", reference="W-2", ordered_at=T0)  # fmt: skip
        xrm_commerce.review(s, people.paul, "TOASTER", 5, text="Great")
        xrm_commerce.build_model(s)
    return app


def test_orders_value_recommendations_and_top_over_http(app: XRM) -> None:
    keys = ApiKeys()
    auth = {"Authorization": f"Bearer {keys.create('alice', ['admin'])}"}
    with app.session() as s:
        marie = s.parties.find(email="marie@example.com")[0].id
    with TestClient(create_app(app, keys)) as http:
        base = "/plugins/commerce"
        orders = http.get(f"{base}/parties/{marie}/orders", headers=auth)
        assert orders.status_code == 200, orders.text
        assert [(o["reference"], o["total"]) for o in orders.json()] == [("W-1", "538.90")]
        assert [line["sku"] for line in orders.json()[0]["lines"]] == ["OVEN", "KETTLE"]
        worth = http.get(f"{base}/parties/{marie}/value", headers=auth).json()
        assert (worth[0]["currency"], worth[0]["margin"], worth[0]["orders"]) == (
            "EUR", "206.40", 1,
        )  # fmt: skip
        assert worth[0]["segment"] in xrm_commerce.SEGMENTS
        suggested = http.get(f"{base}/parties/{marie}/recommendations", headers=auth).json()
        assert [(p["sku"], p["rating"], p["reviews"][0]["text"]) for p in suggested] == [
            ("TOASTER", 5.0, "Great"),
        ]  # fmt: skip
        best = http.get(f"{base}/value/top", params={"currency": "EUR"}, headers=auth).json()
        assert [line["margin"] for line in best] == ["217.00", "206.40"]
        wrong = http.get(f"{base}/value/top", params={"currency": "EURO"}, headers=auth)
        assert wrong.status_code == 422
        assert http.get(f"{base}/parties/999999/orders", headers=auth).status_code == 404
        page = http.get(f"/ui/parties/{marie}", headers=auth)
        assert page.status_code == 200
        assert "Last orders" in page.text and "W-1" in page.text


def test_the_panels_show_value_segment_and_last_orders(
    app: XRM, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app.session() as s:
        marie = s.parties.find(email="marie@example.com")[0]
        value, last = [p for p in s.panels(marie) if p.plugin == "commerce"]
        assert value.rows[0][:4] == ("EUR", 1, "538.90", "206.40")
        assert value.rows[0][6] in xrm_commerce.SEGMENTS
        assert [row[0] for row in last.rows] == ["W-1"]
        # beyond RFM_ON_PAGE_ORDERS orders the page does not rank every buyer
        monkeypatch.setattr(xrm_commerce, "RFM_ON_PAGE_ORDERS", 1)
        value, _ = [p for p in s.panels(marie) if p.plugin == "commerce"]
        assert value.rows[0][6] == "-"


def test_the_value_commands(app: XRM) -> None:
    from xrm_commerce._cli import value_group

    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(value_group, list(args), obj=Root(app))
        assert result.exit_code == 0, result.output
        return result.output

    top = run("top", "--currency", "EUR")
    assert top.splitlines()[1].split()[1:3] == ["Paul", "Martin"]
    assert json.loads(run("top", "--currency", "EUR", "--by", "revenue", "--json"))[0]["name"] == (
        "Paul Martin"
    )
    assert "EUR" in run("show", "1")
    counts = json.loads(run("rfm", "--currency", "EUR", "--json"))
    assert sum(counts.values()) == 2
    assert run("top", "--currency", "EUR", "--since", "2030-01-01") == "(none)\n"


def test_the_xrm_command_line_has_the_commands_and_errors_are_one_line(
    xrm_factory: Callable[..., XRM],
) -> None:
    from xrm.cli import cli

    app = commerce_app(xrm_factory)
    if app.engine.dialect.name != "sqlite":
        pytest.skip("the command line names a database by URL; PostgreSQL tests use a schema")
    XRM.add_plugin_commands(cli)
    runner = CliRunner(env={"XRM_LOAD_PLUGINS": "commerce"})
    result = runner.invoke(cli, ["--database", app.url, "value", "show", "7"])
    assert (result.exit_code, result.output) == (1, "Error: party 7 not found\n")
    result = runner.invoke(cli, ["--database", app.url, "value", "top", "--currency", "EURO"])
    assert result.exit_code == 1 and "currency" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(cli, ["--database", app.url, "recommend", "--build", "--json"])
    assert result.exit_code == 0, result.output
