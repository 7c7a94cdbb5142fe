"""The ``supplier`` role: who may hold it, its attributes, its lifecycle; ``supplies``;
the ``purchasing`` purpose."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import xrm_suppliers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticError
from xrm_suppliers import FIXED_PAYMENT_TERMS, MAX_NET_DAYS, SupplierAttributes

from xrm import XRM, ConsentRequired, Email, ValidationError

STATES = ("candidate", "qualified", "approved", "suspended", "blocked")
#: the lifecycle as the README draws it, written out independently of the RoleType
ALLOWED = {
    ("candidate", "qualified"),
    ("qualified", "approved"),
    ("approved", "suspended"),
    ("suspended", "approved"),
    ("candidate", "blocked"),
    ("qualified", "blocked"),
    ("approved", "blocked"),
    ("suspended", "blocked"),
}
CANONICAL_TERMS = [*FIXED_PAYMENT_TERMS, *(f"net{n}" for n in range(1, MAX_NET_DAYS + 1))]

db_settings = settings(
    deadline=None, max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    return xrm_factory(plugins=[xrm_suppliers], discover=False)


# -- who may hold it ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["organization", "person"])
def test_organizations_and_persons_such_as_freelancers_may_be_suppliers(
    app: XRM, kind: str
) -> None:
    with app.session() as s:
        party = s.parties.create(kind, "Jo Freelance")
        role = s.roles.assign(party, "supplier")
    assert (role.state, dict(role.attributes)) == (
        "candidate",
        {"categories": [], "payment_terms": None, "rating": None},
    )


def test_a_household_cannot_be_a_supplier(app: XRM) -> None:
    with app.session() as s:
        home = s.parties.create("household", "The Smiths")
        with pytest.raises(ValidationError, match="only organization, person"):
            s.roles.assign(home, "supplier")
        assert s.roles.of(home, include_ended=True) == []


# -- attributes --------------------------------------------------------------------------


def test_attributes_are_tidied_and_stored_in_canonical_form(app: XRM) -> None:
    with app.session() as s:
        acme = s.parties.create("organization", "Acme")
        role = s.roles.assign(
            acme,
            "supplier",
            attributes={
                "categories": ["  packaging ", "IT   services", "Packaging", "pallets"],
                "payment_terms": " Net-60 ",
                "rating": 4,
            },
        )
    assert dict(role.attributes) == {
        "categories": ["packaging", "IT services", "pallets"],
        "payment_terms": "net60",
        "rating": 4,
    }


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        ({"payment_terms": "net0"}, "attributes.payment_terms"),
        ({"payment_terms": f"net{MAX_NET_DAYS + 1}"}, "attributes.payment_terms"),
        ({"payment_terms": "net 30 days"}, "attributes.payment_terms"),
        ({"payment_terms": "2/10 net 30"}, "attributes.payment_terms"),
        ({"payment_terms": 30}, "attributes.payment_terms"),
        ({"rating": 0}, "attributes.rating"),
        ({"rating": 6}, "attributes.rating"),
        ({"rating": True}, "attributes.rating"),
        ({"rating": "3"}, "attributes.rating"),
        ({"rating": 3.5}, "attributes.rating"),
        ({"categories": [""]}, "attributes.categories.0"),
        ({"categories": ["x" * 41]}, "attributes.categories.0"),
        ({"categories": "packaging"}, "attributes.categories"),
        ({"categories": [f"c{i}" for i in range(21)]}, "attributes.categories"),
        ({"discount": 5}, "attributes.discount"),
    ],
)
def test_invalid_attributes_are_refused_with_their_field_and_nothing_is_written(
    app: XRM, attributes: dict[str, Any], field: str
) -> None:
    with app.session() as s:
        acme = s.parties.create("organization", "Acme")
        with pytest.raises(ValidationError) as err:
            s.roles.assign(acme, "supplier", attributes=attributes)
        assert field in err.value.fields
        assert s.roles.of(acme, include_ended=True) == []


def test_the_payment_terms_error_says_what_is_accepted() -> None:
    accepted = r"'on_receipt' or 'prepaid' or 'netN' \(N days, 1 to 365\)"
    with pytest.raises(ValueError, match=accepted):
        xrm_suppliers.normalize_payment_terms("whenever")


@given(st.sampled_from(CANONICAL_TERMS))
def test_canonical_payment_terms_are_kept_as_they_are(terms: str) -> None:
    assert SupplierAttributes(payment_terms=terms).payment_terms == terms


@given(
    st.integers(min_value=1, max_value=MAX_NET_DAYS),
    st.sampled_from(["net", "NET", "Net", " net", "net ", "net-", "net_", "Net - "]),
    st.sampled_from(["", " ", "\t"]),
)
def test_net_days_are_read_in_any_spelling(days: int, prefix: str, trailing: str) -> None:
    assert normalize(f"{prefix}{days}{trailing}") == f"net{days}"


@given(st.integers(min_value=0).filter(lambda n: n > MAX_NET_DAYS or n == 0))
def test_net_days_outside_one_to_a_year_are_refused(days: int) -> None:
    with pytest.raises(ValueError, match="payment terms are"):
        xrm_suppliers.normalize_payment_terms(f"net{days}")


@given(st.text(max_size=12))
def test_any_text_is_either_refused_or_stored_canonical(text: str) -> None:
    try:
        terms = normalize(text)
    except PydanticError:
        return
    assert terms in CANONICAL_TERMS
    assert normalize(terms) == terms


@given(st.lists(st.text(max_size=45), max_size=25))
def test_stored_categories_are_short_distinct_labels_in_their_first_order(
    labels: list[str],
) -> None:
    try:
        categories = SupplierAttributes(categories=labels).categories
    except PydanticError:
        assert len(labels) > 20 or any(
            not 1 <= len(" ".join(label.split())) <= 40 for label in labels
        )
        return
    folded = [c.casefold() for c in categories]
    assert len(set(folded)) == len(folded)
    assert all(c and c == " ".join(c.split()) and len(c) <= 40 for c in categories)
    expected = list(dict.fromkeys(" ".join(label.split()).casefold() for label in labels))
    assert folded == expected


@given(st.one_of(st.integers(), st.none(), st.booleans()))
def test_a_rating_is_one_to_five_or_none(rating: int | None) -> None:
    valid = rating is None or (not isinstance(rating, bool) and 1 <= rating <= 5)
    try:
        assert SupplierAttributes(rating=rating).rating == rating
    except PydanticError:
        assert not valid
    else:
        assert valid


def normalize(terms: str) -> str:
    result = SupplierAttributes(payment_terms=terms).payment_terms
    assert result is not None
    return result


# -- lifecycle -------------------------------------------------------------------------


def test_a_supplier_is_qualified_approved_suspended_and_reinstated(app: XRM) -> None:
    with app.session() as s:
        acme = s.parties.create("organization", "Acme")
        role = s.roles.assign(acme, "supplier")
        for state in ("qualified", "approved", "suspended", "approved"):
            role = s.roles.transition(role, state)
    assert role.state == "approved"
    assert [t.to_state for t in role.transitions] == [
        "candidate",
        "qualified",
        "approved",
        "suspended",
        "approved",
    ]


@pytest.mark.parametrize("start", ["candidate", "qualified", "approved", "suspended"])
def test_every_state_but_blocked_may_go_to_blocked(app: XRM, start: str) -> None:
    path = {
        "candidate": [],
        "qualified": ["qualified"],
        "approved": ["qualified", "approved"],
        "suspended": ["qualified", "approved", "suspended"],
    }[start]
    with app.session() as s:
        role = s.roles.assign(s.parties.create("organization", "Acme"), "supplier")
        for state in path:
            role = s.roles.transition(role, state)
        role = s.roles.transition(role, "blocked", note="forged certificates")
    assert (role.state, role.transitions[-1].note) == ("blocked", "forged certificates")


@pytest.mark.parametrize("target", STATES)
def test_blocked_is_final(app: XRM, target: str) -> None:
    with app.session() as s:
        role = s.roles.assign(s.parties.create("organization", "Acme"), "supplier")
        role = s.roles.transition(role, "blocked")
        with pytest.raises(ValidationError, match="none: it is a final state"):
            s.roles.transition(role, target)
        assert s.roles.get(role.id) == role


def test_a_blocked_supplier_starts_over_as_a_candidate_and_keeps_its_history(app: XRM) -> None:
    with app.session() as s:
        acme = s.parties.create("organization", "Acme")
        blocked = s.roles.transition(s.roles.assign(acme, "supplier"), "blocked")
        s.roles.end(blocked, note="new management")
        again = s.roles.assign(acme, "supplier")
        history = s.roles.of(acme, type="supplier", include_ended=True)
    assert again.state == "candidate"
    assert [(r.state, r.current) for r in history] == [("blocked", False), ("candidate", True)]


@pytest.mark.parametrize("start", ["qualified", "approved"])
def test_an_existing_supplier_base_may_be_imported_qualified_or_approved(
    app: XRM, start: str
) -> None:
    with app.session() as s:
        role = s.roles.assign(s.parties.create("organization", "Acme"), "supplier", state=start)
    assert role.state == start


@pytest.mark.parametrize("start", ["suspended", "blocked"])
def test_a_supplier_cannot_start_suspended_or_blocked(app: XRM, start: str) -> None:
    with app.session() as s:
        acme = s.parties.create("organization", "Acme")
        with pytest.raises(ValidationError, match=f"cannot start in '{start}'"):
            s.roles.assign(acme, "supplier", state=start)
        assert s.roles.of(acme, include_ended=True) == []


@db_settings
@given(st.lists(st.sampled_from(STATES), max_size=8))
def test_a_supplier_moves_only_along_the_documented_lifecycle(app: XRM, targets: list[str]) -> None:
    with app.session() as s:
        role = s.roles.assign(s.parties.create("organization", "Walk Ltd"), "supplier")
        path = ["candidate"]
        for target in targets:
            if (path[-1], target) in ALLOWED:
                role = s.roles.transition(role, target)
                path.append(target)
            else:
                with pytest.raises(ValidationError):
                    s.roles.transition(role, target)
            assert s.roles.get(role.id).state == path[-1]
        assert [t.to_state for t in s.roles.get(role.id).transitions] == path


# -- supplies ----------------------------------------------------------------------------


def test_a_supplier_supplies_a_party_that_is_supplied_by_it(app: XRM) -> None:
    with app.session() as s:
        us = s.parties.create("organization", "Us Ltd")
        acme = s.parties.create("organization", "Acme")
        s.roles.assign(acme, "supplier", state="approved")
        s.relationships.create("supplies", acme, us)
        [forward] = s.relationships.of(acme, type="supplies")
        [inverse] = s.relationships.of(us, type="supplies")
    assert (forward.label, forward.other_id) == ("supplies", us.id)
    assert (inverse.label, inverse.other_id) == ("is supplied by", acme.id)


def test_only_a_current_supplier_supplies(app: XRM) -> None:
    with app.session() as s:
        us = s.parties.create("organization", "Us Ltd")
        stranger = s.parties.create("organization", "Stranger")
        former = s.parties.create("organization", "Former")
        s.roles.end(s.roles.assign(former, "supplier"))
        for party in (stranger, former):
            with pytest.raises(ValidationError, match="supplier"):
                s.relationships.create("supplies", party, us)
            assert s.relationships.of(party, all_dates=True) == []


# -- purchasing --------------------------------------------------------------------------


def test_purchasing_contacts_need_a_current_supplier_role(app: XRM) -> None:
    today = dt.datetime.now(dt.UTC)
    with app.session() as s:
        acme = s.parties.create(
            "organization", "Acme", contact_points=[Email("sales@acme.example")]
        )
        assert s.consents.check(acme, "purchasing", "email", at=today).rule == "basis_ended"
        with pytest.raises(ConsentRequired, match="needs a current 'supplier' role"):
            s.interactions.record(
                channel="email",
                direction="outbound",
                purpose="purchasing",
                participants=[(acme, "recipient")],
            )
        s.roles.assign(acme, "supplier")
        # roles are read as of the time checked: now, the role is held
        assert s.consents.check(acme, "purchasing", "email").rule == "contract"
        assert s.consents.check(acme, "purchasing", "email", at=today).rule == "basis_ended"
        s.interactions.record(
            channel="email",
            direction="outbound",
            purpose="purchasing",
            participants=[(acme, "recipient")],
        )
        assert len(s.interactions.of(acme)) == 1
