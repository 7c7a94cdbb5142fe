"""XRM: one organisation is customer, supplier and partner at once, each role with its
own lifecycle, and its timeline shows all three (with the plugin packages installed)."""

from __future__ import annotations

from typing import Any

import pytest

xrm_partners = pytest.importorskip("xrm_partners")
xrm_suppliers = pytest.importorskip("xrm_suppliers")
xrm_employees = pytest.importorskip("xrm_employees")


def test_one_organisation_holds_three_roles_each_with_its_lifecycle(xrm_factory: Any) -> None:
    app = xrm_factory(plugins=[xrm_partners, xrm_suppliers, xrm_employees], discover=False)
    with app.session(actor="test") as s:
        acme = s.parties.create("organization", "ACME Industries")
        customer = s.roles.assign(acme, "customer")
        supplier = s.roles.assign(acme, "supplier", attributes={"payment_terms": "net30"})
        partner = s.roles.assign(acme, "partner", attributes={"partner_type": "reseller"})
        customer = s.roles.transition(customer, "prospect")
        supplier = s.roles.transition(supplier, "qualified")
        partner = s.roles.transition(partner, "active")
        roles = {r.type: r.state for r in s.roles.of(acme)}
        events = [(e.type, e.data.get("type")) for e in s.timeline(acme)]
    assert roles == {"customer": "prospect", "supplier": "qualified", "partner": "active"}
    assert {t for kind, t in events if kind == "role.assigned"} == {
        "customer", "supplier", "partner"
    }  # fmt: skip
    assert {t for kind, t in events if kind == "role.transitioned"} == {
        "customer", "supplier", "partner"
    }  # fmt: skip


def test_every_plugin_is_found_through_its_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    from xrm import XRM

    monkeypatch.delenv("XRM_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("XRM_DISABLE_PLUGINS", raising=False)
    infos = {i.name: i.status for i in XRM("sqlite://").plugin_info()}
    assert {"customers", "partners", "suppliers", "employees"} <= {
        name for name, status in infos.items() if status == "loaded"
    }
