"""The HTTP endpoints under /plugins/service, through xrm serve's application."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from service_support import cast, service_app

from xrm import XRM
from xrm.web import ApiKeys, create_app


def test_cases_are_opened_moved_read_and_notified_over_http(
    xrm_factory: Callable[..., XRM], tmp_path: Path
) -> None:
    app = service_app(xrm_factory, tmp_path / "outbox")
    with app.session() as s:
        marie = cast(s).marie.id
    keys = ApiKeys()
    auth = {"Authorization": f"Bearer {keys.create('alice', ['admin'])}"}
    with TestClient(create_app(app, keys)) as http:
        base = "/plugins/service"
        body = {"party_id": marie, "subject": "Oven", "external_ref": "R-1"}
        made = http.post(f"{base}/cases", headers=auth, json=body)
        assert made.status_code == 201, made.text
        ref = made.json()["reference"]
        moved = http.post(f"{base}/cases/{ref}/move", headers=auth, json={"status": "open"})
        assert moved.json()["status"] == "open"
        wrong = http.post(f"{base}/cases/{ref}/move", headers=auth, json={"status": "new"})
        assert wrong.status_code == 409
        bad = http.post(f"{base}/cases", headers=auth, json={"party_id": marie, "subject": ""})
        assert bad.status_code == 422
        notice = {"party_id": marie, "kind": "repair", "reference": "R-1", "status": "repaired"}
        told = http.post(f"{base}/notify", headers=auth, json=notice)
        assert told.status_code == 201 and told.json()["case_reference"] == ref
        panel = http.get(f"{base}/parties/{marie}/panel", headers=auth).json()
        assert [line["case"]["reference"] for line in panel] == [ref]
        assert panel[0]["sla"]["target"] == "resolution"
        missing = http.get(f"{base}/cases/C-999999", headers=auth)
        assert missing.status_code == 404
