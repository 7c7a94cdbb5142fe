"""The built-in customers plugin: the customer role, the account manager, the reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from xrm import XRM, PluginError, ValidationError
from xrm.plugins import customers
from xrm.plugins.customers import contact_counts, last_interactions, not_contacted_since

T0 = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    return xrm_factory(discover=False)


def test_the_plugin_is_built_in(app: XRM) -> None:
    (info,) = [i for i in app.plugin_info() if i.name == "customers"]
    assert info.status == "loaded"
    assert "xrm_role_types" in info.hooks
    assert app.registry.source_of(customers.CUSTOMER) == "customers"


def test_builtins_can_be_left_out() -> None:
    assert "customer" not in XRM("sqlite://", builtins=False, discover=False).registry.role_types


def test_a_new_customer_gets_a_number_and_keeps_it_when_it_comes_back(app: XRM) -> None:
    with app.session() as s:
        acme = s.parties.create("organization", "ACME")
        role = s.roles.assign(acme, "customer", attributes={"segment": "smb"})
        assert role.attributes["customer_number"] == f"C{acme.id:07d}"
        assert role.attributes["segment"] == "smb"
        s.roles.end(role)
        again = s.roles.assign(acme, "customer", state="prospect")
    assert again.attributes["customer_number"] == role.attributes["customer_number"]


def test_the_customer_lifecycle(app: XRM) -> None:
    with app.session() as s:
        role = s.roles.assign(s.parties.create("person", "Jo"), "customer")
        for state in ("prospect", "customer", "inactive", "customer"):
            role = s.roles.transition(role, state)
        with pytest.raises(ValidationError, match="cannot go from 'customer' to 'lost'"):
            s.roles.transition(role, "lost")


def test_customer_attributes_are_validated(app: XRM) -> None:
    with app.session() as s, pytest.raises(ValidationError) as err:
        s.roles.assign(s.parties.create("person", "Jo"), "customer", attributes={"vip": True})
    assert err.value.fields == ["attributes.vip"]


def test_an_account_manager_is_a_person_and_one_at_a_time(app: XRM) -> None:
    with app.session() as s:
        acme = s.parties.create("organization", "ACME")
        ann = s.parties.create("person", "Ann")
        bob = s.parties.create("person", "Bob")
        with pytest.raises(ValidationError, match="must hold a role of customer"):
            s.relationships.create("account_manager", acme, ann)
        s.roles.assign(acme, "customer")
        s.relationships.create("account_manager", acme, ann)
        with pytest.raises(Exception, match="at most 1"):
            s.relationships.create("account_manager", acme, bob)
        (link,) = s.relationships.of(ann, type="account_manager")
    assert (link.label, link.other_id) == ("manages", acme.id)


def test_reports_are_set_based_and_right(app: XRM) -> None:
    with app.session() as s:
        ids = {}
        for name in ("quiet", "busy", "never", "gone"):
            ids[name] = s.parties.create("organization", name).id
            s.roles.assign(ids[name], "customer", at=T0 - dt.timedelta(days=400))
        s.roles.end(s.roles.current(ids["gone"], "customer"))  # type: ignore[arg-type]
        prospect = s.parties.create("person", "not a customer").id

        def call(party: int, days_ago: int, touchpoint: str) -> None:
            s.interactions.record(
                channel="phone", direction="inbound", touchpoint=touchpoint,
                occurred_at=T0 - dt.timedelta(days=days_ago), participants=[(party, "caller")],
            )  # fmt: skip

        call(ids["quiet"], 200, "sales")
        call(ids["busy"], 5, "support")
        call(ids["busy"], 2, "support")
        call(ids["busy"], 1, "sales")
        call(ids["gone"], 300, "sales")
        call(prospect, 300, "sales")

        stale = not_contacted_since(s, 90, at=T0)
        assert [(r.party_id, r.last_contact_at) for r in stale] == [
            (ids["never"], None),
            (ids["quiet"], T0 - dt.timedelta(days=200)),
        ]
        counts = {(c.party_id, c.touchpoint): c.interactions for c in contact_counts(s)}
        assert counts == {
            (ids["quiet"], "sales"): 1,
            (ids["busy"], "sales"): 1,
            (ids["busy"], "support"): 2,
        }
        last = {r.party_id: (r.occurred_at, r.touchpoint) for r in last_interactions(s)}
        assert last == {
            ids["quiet"]: (T0 - dt.timedelta(days=200), "sales"),
            ids["busy"]: (T0 - dt.timedelta(days=1), "sales"),
        }


class Veto:
    """A throwaway plugin that refuses parties named 'Forbidden'."""

    __name__ = "veto-plugin"

    from xrm import hookimpl

    @hookimpl
    def xrm_validate_party(self, party: object, action: str) -> None:
        if getattr(party, "display_name", "") == "Forbidden":
            raise ValueError(f"no {action} of that name")


def test_a_veto_hook_leaves_the_database_as_before_and_names_the_plugin(
    xrm_factory: Callable[..., XRM],
) -> None:
    app = xrm_factory(plugins=[Veto()], discover=False)
    with app.session() as s:
        s.parties.create("person", "Allowed")
    with pytest.raises(PluginError) as err, app.session() as s:
        s.parties.create("person", "Also allowed")
        s.parties.create(
            "person", "Forbidden", contact_points=[{"kind": "email", "value": "f@example.com"}]
        )
    assert (err.value.plugin, err.value.hook) == ("veto-plugin", "xrm_validate_party")
    assert isinstance(err.value.__cause__, ValueError)
    with app.session() as s:
        assert [p.display_name for p in s.parties.list()] == ["Allowed"]
        assert s.parties.find(email="f@example.com") == []


def test_a_customer_number_names_one_party(app: XRM) -> None:
    """Given by hand, on assignment or by an update, a number another party's customer
    role holds (even an ended one) is refused; a party coming back keeps its own."""
    with app.session() as s:
        ann = s.parties.create("person", "Ann")
        bob = s.parties.create("person", "Bob")
        first = s.roles.assign(ann, "customer", attributes={"customer_number": "C-1"})
        s.roles.end(first)
    taken = "customer number 'C-1' already belongs to party"
    with pytest.raises(PluginError, match=taken), app.session() as s:
        s.roles.assign(bob, "customer", attributes={"customer_number": "C-1"})
    with app.session() as s:
        role = s.roles.assign(bob, "customer", attributes={"customer_number": "C-2"})
        again = s.roles.assign(ann, "customer", attributes={"customer_number": "C-1"})
        assert again.attributes["customer_number"] == "C-1"
    with pytest.raises(PluginError, match=r"attributes\.customer_number"), app.session() as s:
        s.roles.update(role, {"customer_number": "C-1"})
    theirs = f"C{ann.id:07d}"  # the form of the default numbers: ann's own
    given = f"is the number party {ann.id} is given"
    with pytest.raises(PluginError, match=given), app.session() as s:
        s.roles.update(role, {"customer_number": theirs})
    with app.session() as s:
        (imported,) = s.imports.import_many(
            [
                {
                    "name": "Cy",
                    "roles": [{"type": "customer", "attributes": {"customer_number": "C-2"}}],
                }
            ]
        )
    assert imported.error is not None and "C-2" in str(imported.error)
