"""No outbound procurement contact with a blocked supplier.

These tests load the plugin as an installed distribution (``XRM_LOAD_PLUGINS=suppliers``),
so errors name it by its entry-point name, ``suppliers``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from xrm import XRM, Email, Party, PluginError, ValidationError
from xrm.testing import snapshot

HOOK = "xrm_validate_interaction"


@pytest.fixture
def app(xrm_factory: Callable[..., XRM], monkeypatch: pytest.MonkeyPatch) -> XRM:
    monkeypatch.setenv("XRM_LOAD_PLUGINS", "suppliers")
    monkeypatch.delenv("XRM_DISABLE_PLUGINS", raising=False)
    return xrm_factory(discover=True)


def supplier(app: XRM, name: str, *path: str, note: str | None = None) -> Party:
    """A supplier organization with an email address, moved along ``path``."""
    with app.session() as s:
        party = s.parties.create(
            "organization", name, contact_points=[Email(f"sales@{name.lower()}.example")]
        )
        role = s.roles.assign(party, "supplier")
        for state in path:
            role = s.roles.transition(role, state, note=note)
    return party


def outbound(app: XRM, party: Party, **kw: Any) -> None:
    with app.session() as s:
        s.interactions.record(
            channel="email",
            direction="outbound",
            subject="Request for quotation",
            participants=[(party, "recipient")],
            **kw,
        )


PROCUREMENT_CONTACTS = [
    pytest.param({"touchpoint": "procurement", "purpose": "purchasing"}, id="both"),
    pytest.param({"touchpoint": "procurement", "purpose": "service"}, id="touchpoint"),
    pytest.param({"purpose": "purchasing"}, id="purpose"),
    pytest.param({"touchpoint": "sales", "purpose": "purchasing"}, id="purpose-elsewhere"),
]


@pytest.mark.parametrize("contact", PROCUREMENT_CONTACTS)
def test_a_blocked_supplier_is_refused_outbound_procurement_contact(
    app: XRM, contact: dict[str, str]
) -> None:
    acme = supplier(app, "Acme", "blocked", note="forged ISO certificates")
    before = snapshot(app)
    with pytest.raises(PluginError) as err:
        outbound(app, acme, **contact)
    assert (err.value.plugin, err.value.hook) == ("suppliers", HOOK)
    cause = err.value.__cause__
    assert isinstance(cause, ValidationError)
    assert cause.fields == ["participants.0.party"]
    assert f"supplier 'Acme' (party {acme.id}) is blocked since" in str(cause)
    assert "(forged ISO certificates)" in str(cause)
    assert "no outbound procurement contact with a blocked supplier" in str(err.value)
    assert snapshot(app) == before


def test_the_refusal_rolls_back_the_whole_unit_of_work(app: XRM) -> None:
    acme = supplier(app, "Acme", "qualified", "approved", "blocked")
    before = snapshot(app)
    with pytest.raises(PluginError), app.session() as s:
        s.parties.create("organization", "Written in the same unit of work")
        s.interactions.record(
            channel="phone",
            direction="outbound",
            touchpoint="procurement",
            purpose="purchasing",
            participants=[(acme, "recipient")],
        )
    assert snapshot(app) == before


def test_a_caught_refusal_undoes_only_the_refused_interaction(app: XRM) -> None:
    acme = supplier(app, "Acme", "blocked")
    with app.session() as s:
        kept = s.parties.create("organization", "Kept")
        with pytest.raises(PluginError):
            s.interactions.record(
                channel="email",
                direction="outbound",
                purpose="purchasing",
                participants=[(acme, "recipient")],
            )
    with app.session() as s:
        assert s.parties.get(kept.id).display_name == "Kept"
        assert len(s.interactions.of(acme)) == 0
        assert s.timeline(acme).items[0].type == "role.transitioned"


def test_every_blocked_participant_is_named(app: XRM) -> None:
    good = supplier(app, "Good", "qualified", "approved")
    bad = supplier(app, "Bad", "blocked")
    worse = supplier(app, "Worse", "qualified", "blocked")
    before = snapshot(app)
    with pytest.raises(PluginError) as err, app.session() as s:
        s.interactions.record(
            channel="email",
            direction="outbound",
            touchpoint="procurement",
            purpose="purchasing",
            participants=[(good, "recipient"), (bad, "cc"), (worse, "cc")],
        )
    cause = err.value.__cause__
    assert isinstance(cause, ValidationError)
    assert cause.fields == ["participants.1.party", "participants.2.party"]
    assert "'Bad'" in str(cause) and "'Worse'" in str(cause) and "'Good'" not in str(cause)
    assert snapshot(app) == before


@pytest.mark.parametrize(
    "path",
    [[], ["qualified"], ["qualified", "approved"], ["qualified", "approved", "suspended"]],
    ids=["candidate", "qualified", "approved", "suspended"],
)
def test_suppliers_that_are_not_blocked_are_contacted(app: XRM, path: list[str]) -> None:
    acme = supplier(app, "Acme", *path)
    outbound(app, acme, touchpoint="procurement", purpose="purchasing")
    with app.session() as s:
        [interaction] = s.interactions.of(acme)
    assert (interaction.touchpoint, interaction.purpose) == ("procurement", "purchasing")


@pytest.mark.parametrize("direction", ["inbound", "internal"])
def test_what_comes_from_a_blocked_supplier_is_still_recorded(app: XRM, direction: str) -> None:
    acme = supplier(app, "Acme", "blocked")
    with app.session() as s:
        s.interactions.record(
            channel="email",
            direction=direction,
            touchpoint="procurement",
            purpose="purchasing",
            subject="About our invoice",
            participants=[(acme, "sender" if direction == "inbound" else "attendee")],
        )
    with app.session() as s:
        [interaction] = s.interactions.of(acme)
        assert interaction.direction == direction
        assert s.timeline(acme, types=["interaction.recorded"]).items[0].entity_id == (
            interaction.id
        )


def test_a_blocked_supplier_that_is_a_customer_still_gets_its_order_notices(app: XRM) -> None:
    acme = supplier(app, "Acme", "blocked")
    with app.session() as s:
        s.roles.assign(acme, "customer", state="customer")
        s.interactions.record(
            channel="email",
            direction="outbound",
            touchpoint="after_sales",
            purpose="service",
            subject="Your order has shipped",
            participants=[(acme, "recipient")],
        )
        assert len(s.interactions.of(acme)) == 1
