"""The HTTP API (``xrm serve``): every endpoint family through a real ASGI client, API
keys, the role-based policy, and errors as RFC 9457 problem details."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

fastapi = pytest.importorskip("fastapi", reason="the web extra (xrm[web]) is not installed")

import warnings  # noqa: E402

from fastapi import APIRouter, Depends  # noqa: E402

with warnings.catch_warnings():  # starlette would rather have httpx2, not installed here
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from tests.conftest import TEST_TYPES  # noqa: E402
from xrm import (  # noqa: E402
    XRM,
    FileTransport,
    RolePolicy,
    Session,
    Template,
    TemplateSet,
    hookimpl,
)
from xrm.web import ApiKeys, create_app, session  # noqa: E402

PROBLEM = "application/problem+json"


class Client:
    """An HTTP client holding one API key."""

    def __init__(self, client: TestClient, key: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {key}"}

    def request(self, method: str, url: str, **kw: Any) -> Any:
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kw)

    def get(self, url: str, **kw: Any) -> Any:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self.request("POST", url, **kw)

    def patch(self, url: str, **kw: Any) -> Any:
        return self.request("PATCH", url, **kw)

    def delete(self, url: str, **kw: Any) -> Any:
        return self.request("DELETE", url, **kw)

    def ok(self, method: str, url: str, status: int = 200, **kw: Any) -> Any:
        response = self.request(method, url, **kw)
        assert response.status_code == status, response.text
        return response.json() if response.content else None


class Orders:
    """A plugin with an endpoint of its own."""

    __xrm_name__ = "orders"

    @hookimpl
    def xrm_web_routers(self) -> list[APIRouter]:
        router = APIRouter()

        @router.get("/count")
        def count(s: Session = Depends(session)) -> dict[str, Any]:  # noqa: B008
            return {"parties": s.parties.count(), "actor": s.actor}

        return [router]


@pytest.fixture
def served(app: XRM, tmp_path: Path) -> Iterator[tuple[XRM, TestClient, ApiKeys]]:
    """The test database served with the role-based policy, as ``xrm serve`` does, with
    one email template and the file transport."""
    welcome = Template("welcome", "email", "en", body="Hello {{ party.display_name }}",
                       subject="Welcome")  # fmt: skip
    policed = XRM(
        app.url,
        policy=RolePolicy(),
        templates=TemplateSet([welcome]),
        transports=[FileTransport(tmp_path / "outbox", channels=("email",))],
        default_region="FR",
        builtins=False,
        discover=False,
        plugins=[Orders()],
    )
    policed.register(*TEST_TYPES, source="tests")
    keys = ApiKeys()
    with TestClient(create_app(policed, keys)) as client:
        yield policed, client, keys
    assert policed.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    policed.dispose()


@pytest.fixture
def agent(served: tuple[XRM, TestClient, ApiKeys]) -> Client:
    _, client, keys = served
    return Client(client, keys.create("alice", ["agent"]))


@pytest.fixture
def admin(served: tuple[XRM, TestClient, ApiKeys]) -> Client:
    _, client, keys = served
    return Client(client, keys.create("root", ["admin"]))


def marie(c: Client, **extra: Any) -> dict[str, Any]:
    body = {
        "kind": "person",
        "given_name": "Marie",
        "family_name": "Curie",
        "contact_points": [
            {"kind": "email", "value": "marie@example.com"},
            {"kind": "phone", "value": "06 12 34 56 78"},
        ],
        **extra,
    }
    result: dict[str, Any] = c.ok("POST", "/parties", 201, json=body)
    return result


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:xrm:problem:")
    assert body["title"] and body["detail"]
    return body


# --- keys -------------------------------------------------------------------------------


def test_without_a_key_or_with_an_unknown_one_the_answer_is_401(
    served: tuple[XRM, TestClient, ApiKeys],
) -> None:
    _, client, _ = served
    assert_problem(client.get("/parties"), 401)
    assert_problem(client.get("/parties", headers={"Authorization": "Bearer nope"}), 401)
    assert_problem(client.get("/parties", headers={"X-API-Key": "nope"}), 401)
    assert client.get("/parties").headers["www-authenticate"].startswith("Bearer")


def test_a_key_is_taken_from_the_bearer_header_the_api_key_header_or_the_cookie(
    served: tuple[XRM, TestClient, ApiKeys],
) -> None:
    _, client, keys = served
    key = keys.create("alice", ["agent"])
    assert client.get("/parties", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert client.get("/parties", headers={"X-API-Key": key}).status_code == 200
    client.cookies.set("xrm_key", key)
    assert client.get("/parties").status_code == 200


def test_keys_are_stored_as_hashes_and_a_new_key_works_without_a_restart(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys.json"
    keys = ApiKeys(path)
    key = keys.create("alice", ["agent", "agent", "dpo"])
    stored = json.loads(path.read_text())
    assert key not in path.read_text()
    assert stored["keys"][0]["actor"] == "alice"
    assert stored["keys"][0]["roles"] == ["agent", "dpo"]
    assert ApiKeys(path).lookup(key) is not None
    other = ApiKeys(path).create("bob", ["admin"])  # another process adds a key
    found = keys.lookup(other)
    assert found is not None and found.actor == "bob" and found.roles == ("admin",)
    assert keys.lookup("xrm_unknown") is None


def test_a_key_is_refused_for_a_bad_actor_or_role() -> None:
    from xrm.errors import ValidationError

    with pytest.raises(ValidationError, match="actor"):
        ApiKeys().create("", ["agent"])
    with pytest.raises(ValidationError, match=r"roles\.0"):
        ApiKeys().create("alice", ["Agent!"])


# --- the policy -------------------------------------------------------------------------


def test_a_role_without_the_permission_gets_403_and_nothing_is_written(
    served: tuple[XRM, TestClient, ApiKeys], agent: Client
) -> None:
    _, client, keys = served
    party = marie(agent)
    marketer = Client(client, keys.create("mona", ["marketer"]))
    assert marketer.ok("GET", f"/parties/{party['id']}")["id"] == party["id"]
    body = assert_problem(marketer.patch(f"/parties/{party['id']}", json={"given_name": "X"}), 403)
    assert "mona" in body["detail"] or "write" in body["detail"]
    assert agent.ok("GET", f"/parties/{party['id']}")["given_name"] == "Marie"
    assert_problem(agent.post(f"/parties/{party['id']}/erase", json={"reason": "asked"}), 403)
    nobody = Client(client, keys.create("nobody", []))
    assert_problem(nobody.get(f"/parties/{party['id']}"), 403)


# --- parties ----------------------------------------------------------------------------


def test_parties_are_created_read_updated_listed_and_paged(agent: Client) -> None:
    party = marie(agent, tags=["VIP"], identifiers={"vat": "FR123"})
    assert party["display_name"] == "Marie Curie"
    assert party["tags"] == ["vip"]
    assert {c["kind"] for c in party["contact_points"]} == {"email", "phone"}
    assert party["identifiers"] == [{"scheme": "vat", "value": "FR123"}]

    got = agent.ok("GET", f"/parties/{party['id']}")
    assert got == party

    updated = agent.ok(
        "PATCH", f"/parties/{party['id']}", json={"version": got["version"], "given_name": "M."}
    )
    assert updated["given_name"] == "M." and updated["family_name"] == "Curie"
    stale = agent.patch(
        f"/parties/{party['id']}", json={"version": got["version"], "given_name": "Y"}
    )
    assert_problem(stale, 409)

    for name in ("Pierre Curie", "Irène Joliot-Curie"):
        agent.ok("POST", "/parties", 201, json={"kind": "person", "display_name": name})
    first = agent.ok("GET", "/parties", params={"limit": 2})
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = agent.ok("GET", "/parties", params={"limit": 2, "after": first["next_cursor"]})
    assert [p["display_name"] for p in second["items"]] == ["Irène Joliot-Curie"]
    found = agent.ok("GET", "/parties", params={"name": "irene"})
    assert [p["display_name"] for p in found["items"]] == ["Irène Joliot-Curie"]


def test_contact_points_identifiers_and_tags(agent: Client) -> None:
    party = marie(agent)
    pid = party["id"]
    point = agent.ok(
        "POST", f"/parties/{pid}/contact-points", 201,
        json={"kind": "email", "value": "m.curie@example.org"},
    )  # fmt: skip
    assert point["key"] == "m.curie@example.org" and point["primary"] is False
    assert agent.ok("POST", f"/parties/{pid}/contact-points/{point['id']}/primary")["primary"]
    again = agent.post(
        f"/parties/{pid}/contact-points", json={"kind": "email", "value": "M.Curie@example.org"}
    )
    assert_problem(again, 409)
    agent.ok("DELETE", f"/parties/{pid}/contact-points/{point['id']}", 204)
    emails = [
        c for c in agent.ok("GET", f"/parties/{pid}")["contact_points"] if c["kind"] == "email"
    ]
    assert [c["value"] for c in emails] == ["marie@example.com"]

    with_id = agent.ok("POST", f"/parties/{pid}/identifiers", json={"scheme": "crm", "value": "42"})
    assert {"scheme": "crm", "value": "42"} in with_id["identifiers"]
    assert agent.ok("POST", f"/parties/{pid}/tags", json={"tags": ["Gold", "nobel"]})["tags"] == [
        "gold",
        "nobel",
    ]
    assert agent.ok("DELETE", f"/parties/{pid}/tags/gold")["tags"] == ["nobel"]


# --- roles and relationships ------------------------------------------------------------


def test_roles_are_assigned_moved_listed_and_ended(agent: Client) -> None:
    pid = marie(agent)["id"]
    role = agent.ok("POST", f"/parties/{pid}/roles", 201, json={"type": "customer"})
    assert role["state"] == "lead"
    moved = agent.ok("POST", f"/roles/{role['id']}/transitions", json={"to": "prospect"})
    assert [t["to_state"] for t in moved["transitions"]] == ["lead", "prospect"]
    refused = agent.post(f"/roles/{role['id']}/transitions", json={"to": "inactive"})
    assert assert_problem(refused, 422)["errors"]
    assert [r["state"] for r in agent.ok("GET", f"/parties/{pid}/roles")] == ["prospect"]
    agent.ok("POST", f"/roles/{role['id']}/end", json={})
    assert agent.ok("GET", f"/parties/{pid}/roles") == []
    assert len(agent.ok("GET", f"/parties/{pid}/roles", params={"include_ended": True})) == 1


def test_relationships_are_seen_from_both_ends_as_of_a_date(agent: Client) -> None:
    pid = marie(agent)["id"]
    org = agent.ok(
        "POST", "/parties", 201, json={"kind": "organization", "display_name": "Sorbonne"}
    )
    rel = agent.ok(
        "POST", "/relationships", 201,
        json={"type": "works_for", "from_party": pid, "to_party": org["id"],
              "valid_from": "1906-01-01"},
    )  # fmt: skip
    from_marie = agent.ok("GET", f"/parties/{pid}/relationships")
    assert [(link["label"], link["other_id"]) for link in from_marie] == [("works for", org["id"])]
    from_org = agent.ok("GET", f"/parties/{org['id']}/relationships")
    assert [(link["label"], link["other_id"]) for link in from_org] == [("employs", pid)]
    agent.ok("POST", f"/relationships/{rel['id']}/end", json={"on": "1934-07-04"})
    assert agent.ok("GET", f"/parties/{pid}/relationships") == []
    then = agent.ok("GET", f"/parties/{pid}/relationships", params={"as_of": "1920-01-01"})
    assert [link["relationship"]["id"] for link in then] == [rel["id"]]


# --- interactions, consent, timeline -----------------------------------------------------


def test_consent_decides_an_outbound_interaction(agent: Client) -> None:
    pid = marie(agent)["id"]
    email = {
        "channel": "email", "direction": "outbound", "purpose": "marketing",
        "participants": [{"party": pid, "role": "recipient"}], "subject": "News",
    }  # fmt: skip
    refused = assert_problem(agent.post("/interactions", json=email), 409)
    assert refused["type"] == "urn:xrm:problem:consent-required"
    decision = agent.ok(
        "GET", f"/parties/{pid}/consent", params={"purpose": "marketing", "channel": "email"}
    )
    assert decision["allowed"] is False and decision["rule"]

    agent.ok(
        "POST", f"/parties/{pid}/consent", 201,
        json={"purpose": "marketing", "source": "web_form", "channel": "email"},
    )  # fmt: skip
    allowed = agent.ok(
        "GET", f"/parties/{pid}/consent", params={"purpose": "marketing", "channel": "email"}
    )
    assert allowed["allowed"] is True and allowed["record"]["decision"] == "granted"
    recorded = agent.ok("POST", "/interactions", 201, json=email)
    assert recorded["participants"][0]["party_id"] == pid
    page = agent.ok("GET", f"/parties/{pid}/interactions")
    assert [i["id"] for i in page["items"]] == [recorded["id"]]

    agent.ok(
        "POST", f"/parties/{pid}/consent", 201,
        json={"purpose": "marketing", "source": "call", "decision": "withdrawn"},
    )  # fmt: skip
    history = agent.ok("GET", f"/parties/{pid}/consent/history")
    assert [r["decision"] for r in history] == ["granted", "withdrawn"]


def test_the_audience_streams_one_json_object_a_line(agent: Client) -> None:
    ids = [marie(agent)["id"]]
    ids.append(
        agent.ok(
            "POST", "/parties", 201,
            json={"kind": "person", "display_name": "Paul",
                  "contact_points": [{"kind": "email", "value": "paul@example.com"}]},
        )["id"]
    )  # fmt: skip
    agent.ok("POST", f"/parties/{ids[1]}/consent", 201,
             json={"purpose": "marketing", "source": "web_form"})  # fmt: skip
    response = agent.get("/consent/audience", params={"purpose": "marketing", "channel": "email"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines == [
        {"party_id": ids[1], "contact_point_id": lines[0]["contact_point_id"],
         "value": "paul@example.com"}
    ]  # fmt: skip
    unknown = agent.get("/consent/audience", params={"purpose": "nope", "channel": "email"})
    assert assert_problem(unknown, 422)["errors"]


def test_the_timeline_comes_in_cursor_pages(agent: Client) -> None:
    pid = marie(agent)["id"]
    for tag in ("a", "b", "c"):
        agent.ok("POST", f"/parties/{pid}/tags", json={"tags": [tag]})
    first = agent.ok("GET", f"/parties/{pid}/timeline", params={"limit": 2})
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = agent.ok("GET", f"/parties/{pid}/timeline", params={"after": first["next_cursor"]})
    seen = [e["event_id"] for e in first["items"] + rest["items"]]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == len(seen) >= 4
    assert all(e["actor"] == "alice" for e in rest["items"] + first["items"])


# --- identity ---------------------------------------------------------------------------


def test_the_caller_id_lookup_finds_a_party_from_any_way_of_writing_its_phone(
    agent: Client,
) -> None:
    pid = marie(agent)["id"]
    for phone in ("+33612345678", "06 12 34 56 78", "0033 6 12 34 56 78"):
        assert agent.ok("GET", "/identity/resolve", params={"phone": phone})["id"] == pid
    assert agent.ok("GET", "/identity/resolve", params={"email": "MARIE@example.com"})["id"] == pid
    assert_problem(agent.get("/identity/resolve", params={"phone": "+33699999999"}), 404)
    assert_problem(agent.get("/identity/resolve"), 422)


def test_duplicates_with_their_evidence_merge_and_unmerge(agent: Client, admin: Client) -> None:
    first = marie(agent)["id"]
    second = agent.ok(
        "POST", "/parties", 201,
        json={"kind": "person", "given_name": "Marie", "family_name": "Curie",
              "contact_points": [{"kind": "email", "value": "marie@example.com "}]},
    )  # fmt: skip
    pairs = agent.ok("GET", "/identity/duplicates", params={"party_id": first})
    assert [(p["left"], p["right"]) for p in pairs] == [(first, second["id"])]
    assert pairs[0]["verdict"] in ("definite", "probable", "review") and pairs[0]["fields"]

    assert_problem(
        agent.post("/identity/merge", json={"survivor": first, "duplicate": second["id"]}), 403
    )
    plan = admin.ok("POST", "/identity/merge", json={"survivor": first, "duplicate": second["id"]})
    assert plan["survivor_id"] == first and plan["dry_run"] is False
    assert admin.ok("GET", f"/parties/{second['id']}")["id"] == first  # follows the merge
    undone = admin.ok("POST", "/identity/unmerge", json={"duplicate": second["id"]})
    assert undone["duplicate_id"] == second["id"]
    assert admin.ok("GET", f"/parties/{second['id']}")["id"] == second["id"]


# --- import, GDPR, preferences, messages ------------------------------------------------


def test_import_takes_json_lines_and_answers_per_line(agent: Client) -> None:
    body = "\n".join(
        [
            json.dumps({"name": "Ada Lovelace", "emails": ["ada@example.com"], "tags": ["x"]}),
            "not json",
            json.dumps({"name": "Ada L.", "emails": ["ADA@example.com"], "tags": ["y"]}),
            json.dumps({"name": "Bad", "emails": ["not an email"]}),
        ]
    )
    results = agent.ok(
        "POST", "/import", content=body, headers={"Content-Type": "application/x-ndjson"}
    )
    assert [(r["line"], r["outcome"]) for r in results] == [
        (1, "created"), (2, None), (3, "updated"), (4, None)
    ]  # fmt: skip
    assert "not JSON" in results[1]["error"] and results[3]["error"]
    assert results[0]["party_id"] == results[2]["party_id"]
    ada = agent.ok("GET", f"/parties/{results[0]['party_id']}")
    assert ada["tags"] == ["x", "y"]


def test_gdpr_export_and_erase(served: tuple[XRM, TestClient, ApiKeys], agent: Client) -> None:
    _, client, keys = served
    dpo = Client(client, keys.create("dora", ["dpo"]))
    pid = marie(agent)["id"]
    assert_problem(agent.get(f"/parties/{pid}/export"), 403)
    document = dpo.ok("GET", f"/parties/{pid}/export")
    assert document["party"]["id"] == pid
    assert "marie@example.com" in json.dumps(document)
    report = dpo.ok("POST", f"/parties/{pid}/erase", json={"reason": "art. 17 request"})
    assert report["party_id"] == pid and report["contact_points"] == 2
    assert "marie@example.com" not in json.dumps(dpo.ok("GET", f"/parties/{pid}/export"))
    assert_problem(dpo.post(f"/parties/{pid}/erase", json={}), 422)


def test_preferences_are_read_and_changed_field_by_field(agent: Client) -> None:
    pid = marie(agent)["id"]
    prefs = agent.ok(
        "PATCH", f"/parties/{pid}/preferences",
        json={"language": "fr", "quiet_hours": "21:00-08:00", "caps": {"marketing": "2/7d"}},
    )  # fmt: skip
    assert prefs["language"] == "fr" and prefs["caps"] == {"marketing": {"count": 2, "days": 7}}
    again = agent.ok("PATCH", f"/parties/{pid}/preferences", json={"language": None})
    assert again["language"] is None and again["quiet_hours"] == {
        "start": "21:00:00",
        "end": "08:00:00",
    }
    assert agent.ok("GET", f"/parties/{pid}/preferences") == again
    bad = agent.patch(f"/parties/{pid}/preferences", json={"quiet_hours": "late"})
    assert assert_problem(bad, 422)["errors"][0]["path"] == "quiet_hours"


def test_messages_are_previewed_sent_and_listed_with_the_ledgers_permission(
    agent: Client,
) -> None:
    pid = marie(agent)["id"]
    body = {"template": "welcome", "purpose": "marketing"}
    refused = assert_problem(agent.post(f"/parties/{pid}/messages", json=body), 409)
    assert refused["type"] == "urn:xrm:problem:undeliverable" and "email" in refused["detail"]
    agent.ok("POST", f"/parties/{pid}/consent", 201,
             json={"purpose": "marketing", "source": "web_form"})  # fmt: skip
    preview = agent.ok("POST", f"/parties/{pid}/messages/preview", json=body)
    assert preview["channel"] == "email" and preview["address"] == "marie@example.com"
    assert preview["rendered"]["text"] == "Hello Marie Curie"
    assert agent.ok("GET", f"/parties/{pid}/messages") == []
    sent = agent.ok("POST", f"/parties/{pid}/messages", 201, json=body)
    assert sent["subject"] == "Welcome" and sent["status"] in ("queued", "pending")
    assert [m["id"] for m in agent.ok("GET", f"/parties/{pid}/messages")] == [sent["id"]]
    unknown = agent.post(f"/parties/{pid}/messages", json={**body, "template": "nope"})
    assert unknown.status_code in (404, 409, 422) and unknown.headers["content-type"] == PROBLEM


# --- errors -----------------------------------------------------------------------------


def test_bad_input_is_a_problem_naming_each_field(agent: Client) -> None:
    body = assert_problem(agent.post("/parties", json={"kind": "person", "nickname": 3}), 422)
    assert {e["path"] for e in body["errors"]} >= {"nickname"}
    body = assert_problem(agent.post("/parties", json={"kind": "person", "display_name": ""}), 422)
    assert body["errors"] and all(e["path"] and e["reason"] for e in body["errors"])
    body = assert_problem(agent.get("/parties", params={"limit": 0}), 422)
    assert body["errors"][0]["path"] == "query.limit"
    assert_problem(agent.get("/parties/abc"), 422)
    assert_problem(agent.get(f"/parties/{2**63}"), 422)
    assert_problem(agent.get("/parties/999999"), 404)
    body = assert_problem(
        agent.post("/parties", content=b"{", headers={"Content-Type": "application/json"}), 422
    )
    point = {"kind": "email", "value": "nope"}
    bad = agent.post("/parties", json={"kind": "person", "display_name": "X",
                                       "contact_points": [point]})  # fmt: skip
    assert assert_problem(bad, 422)["errors"][0]["path"].startswith("contact_points.0")
    assert_problem(agent.get("/nowhere"), 404)


# --- plugins ----------------------------------------------------------------------------


def test_a_plugins_router_is_mounted_under_its_name_with_the_callers_session(
    served: tuple[XRM, TestClient, ApiKeys], agent: Client
) -> None:
    _, client, _ = served
    marie(agent)
    assert agent.ok("GET", "/plugins/orders/count") == {"parties": 1, "actor": "alice"}
    assert_problem(client.get("/plugins/orders/count"), 401)
    assert "/plugins/orders/count" in client.get("/openapi.json").json()["paths"]


# --- the command line -------------------------------------------------------------------


def test_xrm_keys_create_prints_a_key_once_and_stores_its_hash(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from xrm.cli import cli

    path = tmp_path / "keys.json"
    result = CliRunner().invoke(
        cli, ["keys", "create", "--actor", "alice", "--role", "agent", "--keys", str(path)]
    )
    assert result.exit_code == 0, result.output
    key = result.output.strip()
    assert key.startswith("xrm_") and key not in path.read_text()
    found = ApiKeys(path).lookup(key)
    assert found is not None and found.actor == "alice" and found.roles == ("agent",)
    odd = CliRunner().invoke(
        cli, ["keys", "create", "--actor", "bob", "--role", "wizard", "--keys", str(path)]
    )
    assert odd.exit_code == 0 and "not a role of the built-in policy" in odd.output


# --- activities -------------------------------------------------------------------------


def test_activities_are_planned_rescheduled_listed_completed_and_cancelled(
    agent: Client,
) -> None:
    party = marie(agent)["id"]
    call = agent.ok("POST", "/activities", 201, json={
        "kind": "call", "subject": "Call back", "due": "2026-12-07T10:00:00",
        "time_zone": "Europe/Paris", "parties": [party], "user": "ann",
        "about_type": "sales.opportunity", "about_id": 7,
    })  # fmt: skip
    assert call["due_at"].startswith("2026-12-07T09:00") and call["status"] == "open"
    task = agent.ok("POST", "/activities", 201, json={
        "kind": "task", "subject": "Send the contract", "due": "2020-01-01T00:00:00Z",
        "parties": [party],
    })  # fmt: skip
    moved = agent.ok(
        "PATCH", f"/activities/{call['id']}", 200, json={"due": "2026-12-08T08:00:00Z"}
    )
    assert moved["due_at"].startswith("2026-12-08T08:00")
    listed = agent.ok("GET", f"/activities?party={party}&limit=1")
    assert [a["id"] for a in listed["items"]] == [task["id"]] and listed["next_cursor"]
    rest = agent.ok("GET", f"/activities?party={party}&after={listed['next_cursor']}")
    assert [a["id"] for a in rest["items"]] == [call["id"]]
    assert [a["id"] for a in agent.ok("GET", "/activities/overdue")["items"]] == [task["id"]]
    about = agent.ok("GET", "/activities?about_type=sales.opportunity&about_id=7")
    assert [a["id"] for a in about["items"]] == [call["id"]]
    done = agent.ok("POST", f"/activities/{call['id']}/complete", 200, json={"outcome": "ok"})
    assert done["status"] == "done"
    assert_problem(agent.post(f"/activities/{call['id']}/cancel", json={"reason": "x"}), 409)
    agent.ok("POST", f"/activities/{task['id']}/cancel", 200, json={"reason": "signed"})
    history = agent.ok("GET", f"/activities/{call['id']}/history")
    assert [e["type"] for e in history] == [
        "activity.planned", "activity.updated", "activity.completed"
    ]  # fmt: skip
    refused = assert_problem(agent.post("/activities", json={
        "kind": "call", "subject": "x", "due": "2026-12-07T10:00:00", "time_zone": "Mars/Base",
    }), 422)  # fmt: skip
    assert refused["errors"][0]["path"] == "time_zone"
    assert_problem(agent.get("/activities/999999"), 404)


# --- segments ---------------------------------------------------------------------------


def test_segments_are_saved_counted_streamed_and_frozen(
    served: tuple[XRM, TestClient, ApiKeys], agent: Client
) -> None:
    _, client, keys = served
    # a marketer defines segments (the "target" action); an agent reads them
    marketer = Client(client, keys.create("mia", ["marketer"]))
    marie(agent, tags=["vip"])
    agent.ok("POST", "/parties", 201, json={"kind": "organization", "display_name": "ACME"})
    vip = {"type": "all", "of": [{"type": "tag", "tag": "vip"}, {"type": "kind", "kind": "person"}]}
    assert_problem(agent.post("/segments", json={"name": "vips", "criterion": vip}), 403)
    made = marketer.ok("POST", "/segments", 201, json={"name": "vips", "criterion": vip})
    assert made["criterion"] == vip and made["frozen_at"] is None
    assert agent.ok("GET", "/segments/vips/count") == {"count": 1}
    assert [p["display_name"] for p in agent.ok("GET", "/segments/vips/preview")] == ["Marie Curie"]
    lines = agent.get("/segments/vips/members").text.splitlines()
    assert [json.loads(line) for line in lines] == [{"party_id": 1}]
    orgs = {"criterion": {"type": "kind", "kind": "organization"}}
    assert agent.ok("POST", "/segments/count", json=orgs) == {"count": 1}
    assert "contactable" in agent.ok("GET", "/segments/criteria")
    frozen = marketer.ok("POST", "/segments/vips/freeze", 201, json={"as_name": "vips dec"})
    assert frozen["members"] == 1 and frozen["frozen_at"]
    patch = {"description": "our best", "version": 1}
    changed = marketer.ok("PATCH", "/segments/vips", json=patch)
    assert changed["description"] == "our best" and changed["version"] == 2
    assert [x["name"] for x in agent.ok("GET", "/segments")] == ["vips", "vips dec"]
    # errors are problems naming the field
    bad = {"name": "x", "criterion": {"type": "role", "role": "nope"}}
    body = assert_problem(marketer.post("/segments", json=bad), 422)
    assert body["errors"][0]["path"] == "criterion.role"
    assert_problem(agent.get("/segments/nope/count"), 404)
    assert_problem(agent.get("/segments/nope/members"), 404)
    assert_problem(marketer.post("/segments", json={"name": "vips", "criterion": vip}), 409)
    stale = {"description": "x", "version": 1}
    assert_problem(marketer.patch("/segments/vips", json=stale), 409)
    assert marketer.delete("/segments/vips dec").status_code == 204
    assert_problem(agent.get("/segments/vips dec"), 404)
