"""The relationships of a partner programme: referrals, resale, distribution, management."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import xrm_partners
from partners_support import partner

from xrm import XRM, Conflict, PluginError, ValidationError
from xrm.testing import unchanged

D0 = dt.date(2025, 3, 1)


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    return xrm_factory(plugins=[xrm_partners], discover=False)


def refused_by_the_plugin(err: pytest.ExceptionInfo[PluginError], field: str, text: str) -> None:
    assert (err.value.plugin, err.value.hook) == ("partners", "xrm_validate_relationship")
    cause = err.value.__cause__
    assert isinstance(cause, ValidationError)
    assert cause.fields == [field]
    assert text in str(cause)


# -- referred --------------------------------------------------------------------------


def test_a_partner_referred_a_party_which_reads_back_from_both_ends(app: XRM) -> None:
    with app.session() as s:
        jo, _ = partner(s, "Jo", kind="person", partner_type="referral")
        acme = s.parties.create("organization", "ACME")
        s.relationships.create("referred", jo, acme, valid_from=D0)
        (forward,) = s.relationships.of(jo, type="referred", as_of=D0)
        (inverse,) = s.relationships.of(acme, type="referred", as_of=D0)
    assert (forward.label, forward.other_id) == ("referred", acme.id)
    assert (inverse.label, inverse.other_id) == ("was referred by", jo.id)


def test_referred_is_refused_from_a_party_that_is_not_a_partner(app: XRM) -> None:
    with app.session() as s:
        jo = s.parties.create("person", "Jo")
        acme = s.parties.create("organization", "ACME")
        s.roles.assign(jo, "customer")
    with unchanged(app), pytest.raises(ValidationError) as err, app.session() as s:
        s.relationships.create("referred", jo, acme, valid_from=D0)
    assert err.value.fields == ["from_party"]
    assert "must hold a role of partner" in str(err.value)


def test_referred_is_refused_from_a_former_partner(app: XRM) -> None:
    with app.session() as s:
        jo, role = partner(s, "Jo", kind="person", partner_type="referral")
        s.roles.transition(role, "ended")
        acme = s.parties.create("organization", "ACME")
    with (
        unchanged(app),
        pytest.raises(ValidationError, match="must hold a role of partner"),
        app.session() as s,
    ):
        s.relationships.create("referred", jo, acme, valid_from=D0)


@pytest.mark.parametrize("state", ["applicant", "suspended"])
def test_only_an_active_partner_may_refer(app: XRM, state: str) -> None:
    with app.session() as s:
        jo, _ = partner(s, "Jo", kind="person", partner_type="referral", state=state)
        acme = s.parties.create("organization", "ACME")
    with unchanged(app), pytest.raises(PluginError) as err, app.session() as s:
        s.relationships.create("referred", jo, acme, valid_from=D0)
    refused_by_the_plugin(err, "from_party", f"partner {jo.id} is {state}: only an active")


def test_a_party_is_credited_to_one_referring_partner_at_a_time(app: XRM) -> None:
    with app.session() as s:
        jo, _ = partner(s, "Jo", kind="person", partner_type="referral")
        ann, _ = partner(s, "Ann", kind="person", partner_type="referral")
        acme = s.parties.create("organization", "ACME")
        first = s.relationships.create("referred", jo, acme, valid_from=D0)
    with unchanged(app), pytest.raises(Conflict, match="allows at most 1"), app.session() as s:
        s.relationships.create("referred", ann, acme, valid_from=D0 + dt.timedelta(days=5))
    with app.session() as s:  # credit moved: end the first referral, then record the other
        s.relationships.end(first, on=D0 + dt.timedelta(days=5))
        s.relationships.create("referred", ann, acme, valid_from=D0 + dt.timedelta(days=5))
        (link,) = s.relationships.of(acme, type="referred", as_of=D0 + dt.timedelta(days=6))
    assert link.other_id == ann.id


def test_a_referral_may_be_ended_after_its_partner_was_suspended(app: XRM) -> None:
    with app.session() as s:
        jo, role = partner(s, "Jo", kind="person", partner_type="referral")
        referral = s.relationships.create(
            "referred", jo, s.parties.create("person", "Al"), valid_from=D0
        )
        s.roles.transition(role, "suspended")
        ended = s.relationships.end(referral, on=D0 + dt.timedelta(days=1))
    assert ended.valid_to == D0 + dt.timedelta(days=1)


# -- resells_for -----------------------------------------------------------------------


def test_resellers_resell_for_several_organizations_and_each_has_several(app: XRM) -> None:
    with app.session() as s:
        north, _ = partner(s, "North Reseller")
        south, _ = partner(s, "South Distribution", partner_type="distributor")
        brand_a = s.parties.create("organization", "Brand A")
        brand_b = s.parties.create("organization", "Brand B")
        for reseller in (north, south):
            for brand in (brand_a, brand_b):
                s.relationships.create("resells_for", reseller, brand, valid_from=D0)
        resold = s.relationships.of(brand_a, type="resells_for", as_of=D0)
        carried = s.relationships.of(north, type="resells_for", as_of=D0)
    assert {(link.label, link.other_id) for link in resold} == {
        ("is resold by", north.id),
        ("is resold by", south.id),
    }
    assert {link.other_id for link in carried} == {brand_a.id, brand_b.id}


def test_the_same_reseller_and_organization_are_linked_once_at_a_time(app: XRM) -> None:
    with app.session() as s:
        north, _ = partner(s, "North Reseller")
        brand = s.parties.create("organization", "Brand")
        s.relationships.create("resells_for", north, brand, valid_from=D0)
    with unchanged(app), pytest.raises(Conflict, match="already related"), app.session() as s:
        s.relationships.create("resells_for", north, brand, valid_from=D0 + dt.timedelta(days=1))


def test_resells_for_needs_an_organization_at_the_to_end(app: XRM) -> None:
    with app.session() as s:
        north, _ = partner(s, "North Reseller")
        jo = s.parties.create("person", "Jo")
    with unchanged(app), pytest.raises(ValidationError) as err, app.session() as s:
        s.relationships.create("resells_for", north, jo, valid_from=D0)
    assert err.value.fields == ["to_party"]


@pytest.mark.parametrize("partner_type", ["referral", "technology", "service"])
def test_only_reseller_and_distributor_partners_resell(app: XRM, partner_type: str) -> None:
    with app.session() as s:
        other, _ = partner(s, "Other", partner_type=partner_type)
        brand = s.parties.create("organization", "Brand")
    with unchanged(app), pytest.raises(PluginError) as err, app.session() as s:
        s.relationships.create("resells_for", other, brand, valid_from=D0)
    refused_by_the_plugin(
        err, "from_party", f"is a {partner_type} partner; the 'from' end of 'resells_for' must be"
    )


def test_a_suspended_reseller_may_not_start_reselling(app: XRM) -> None:
    with app.session() as s:
        north, _ = partner(s, "North Reseller", state="suspended")
        brand = s.parties.create("organization", "Brand")
    with unchanged(app), pytest.raises(PluginError) as err, app.session() as s:
        s.relationships.create("resells_for", north, brand, valid_from=D0)
    refused_by_the_plugin(err, "from_party", "is suspended")


# -- distributes_to --------------------------------------------------------------------


def test_a_distributor_supplies_resellers_each_buying_through_one_at_a_time(app: XRM) -> None:
    with app.session() as s:
        big, _ = partner(s, "Big Distribution", partner_type="distributor")
        other, _ = partner(s, "Other Distribution", partner_type="distributor")
        north, _ = partner(s, "North Reseller")
        south, _ = partner(s, "South Reseller", state="applicant")
        s.relationships.create("distributes_to", big, north, valid_from=D0)
        s.relationships.create("distributes_to", big, south, valid_from=D0)
        (link,) = s.relationships.of(north, type="distributes_to", as_of=D0)
    assert (link.label, link.other_id) == ("buys through", big.id)
    with unchanged(app), pytest.raises(Conflict, match="allows at most 1"), app.session() as s:
        s.relationships.create("distributes_to", other, north, valid_from=D0)


def test_distributes_to_is_from_a_distributor_to_a_reseller(app: XRM) -> None:
    with app.session() as s:
        big, _ = partner(s, "Big Distribution", partner_type="distributor")
        north, _ = partner(s, "North Reseller")
        jo, _ = partner(s, "Jo", kind="person", partner_type="referral")
        acme = s.parties.create("organization", "ACME")
    with unchanged(app):
        with pytest.raises(PluginError) as wrong_from, app.session() as s:
            s.relationships.create("distributes_to", north, big, valid_from=D0)
        with pytest.raises(PluginError) as wrong_to, app.session() as s:
            s.relationships.create("distributes_to", big, jo, valid_from=D0)
        with pytest.raises(ValidationError) as not_a_partner, app.session() as s:
            s.relationships.create("distributes_to", big, acme, valid_from=D0)
    refused_by_the_plugin(wrong_from, "from_party", "must be a distributor partner")
    assert not_a_partner.value.fields == ["to_party"]
    refused_by_the_plugin(
        wrong_to, "to_party", "the 'to' end of 'distributes_to' must be a reseller"
    )


# -- partner_manager -------------------------------------------------------------------


def test_a_partner_has_one_partner_manager_at_a_time_and_it_is_a_person(app: XRM) -> None:
    with app.session() as s:
        north, _ = partner(s, "North Reseller", state="applicant")
        ann = s.parties.create("person", "Ann")
        bob = s.parties.create("person", "Bob")
        acme = s.parties.create("organization", "ACME")
        s.relationships.create("partner_manager", north, ann, valid_from=D0)
        (link,) = s.relationships.of(ann, type="partner_manager", as_of=D0)
    assert (link.label, link.other_id) == ("is partner manager of", north.id)
    with unchanged(app):
        with pytest.raises(Conflict, match="allows at most 1"), app.session() as s:
            s.relationships.create("partner_manager", north, bob, valid_from=D0)
        with pytest.raises(ValidationError) as not_a_person, app.session() as s:
            s.relationships.create("partner_manager", north, acme, valid_from=D0)
        with pytest.raises(ValidationError) as not_a_partner, app.session() as s:
            s.relationships.create("partner_manager", acme, bob, valid_from=D0)
    assert not_a_person.value.fields == ["to_party"]
    assert "kind 'organization' cannot be at the 'to' end" in str(not_a_person.value)
    assert not_a_partner.value.fields == ["from_party"]
