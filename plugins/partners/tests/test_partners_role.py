"""The partner role: its lifecycle and its attributes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pydantic
import pytest
import xrm_partners
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from partners_support import T0, partner
from xrm_partners import PARTNER_STATES, PartnerAttributes

from xrm import XRM, ValidationError
from xrm.errors import FieldError
from xrm.testing import unchanged

DAY = dt.timedelta(days=1)
RESELLER = {"partner_type": "reseller"}
#: every move the lifecycle allows, and nothing else
LEGAL = {
    ("applicant", "active"),
    ("applicant", "ended"),
    ("active", "suspended"),
    ("active", "ended"),
    ("suspended", "active"),
    ("suspended", "ended"),
}
db_settings = settings(
    deadline=None, max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    return xrm_factory(plugins=[xrm_partners], discover=False)


# -- lifecycle -------------------------------------------------------------------------


def test_an_applicant_becomes_active_is_suspended_comes_back_and_ends(app: XRM) -> None:
    with app.session() as s:
        acme = s.parties.create("organization", "ACME")
        role = s.roles.assign(acme, "partner", attributes=RESELLER, at=T0)
        assert role.state == "applicant"
        for days, state in enumerate(("active", "suspended", "active"), start=1):
            role = s.roles.transition(role, state, at=T0 + days * DAY)
            assert role.current
        role = s.roles.transition(role, "ended", at=T0 + 9 * DAY, note="agreement not renewed")
        assert s.roles.current(acme, "partner") is None
        events = [e.type for e in s.timeline(acme, types=["role.transitioned", "role.ended"])]
    assert [(t.from_state, t.to_state) for t in role.transitions] == [
        (None, "applicant"),
        ("applicant", "active"),
        ("active", "suspended"),
        ("suspended", "active"),
        ("active", "ended"),
    ]
    # entering "ended" ends the role on the same date: the party is no longer a partner
    assert (role.state, role.ended_at) == ("ended", T0 + 9 * DAY)
    assert events[:2] == ["role.ended", "role.transitioned"]


@pytest.mark.parametrize("start", ["applicant", "active"])
def test_a_partner_may_be_ended_from_any_state_but_ended(app: XRM, start: str) -> None:
    with app.session() as s:
        _, role = partner(s, "ACME", state=start)
        role = s.roles.transition(role, "ended", at=T0 + DAY)  # declined, or ended
    assert role.ended_at == T0 + DAY


def test_a_partner_taken_on_from_elsewhere_may_start_active_but_not_suspended(app: XRM) -> None:
    with app.session() as s:
        acme = s.parties.create("organization", "ACME")
        assert (
            s.roles.assign(acme, "partner", state="active", attributes=RESELLER).state == "active"
        )
        other = s.parties.create("organization", "Other")
    for state in ("suspended", "ended"):
        with unchanged(app), pytest.raises(ValidationError) as err, app.session() as s:
            s.roles.assign(other, "partner", state=state, attributes=RESELLER)
        assert err.value.fields == ["state"]
        assert f"role 'partner' cannot start in {state!r}" in str(err.value)


@pytest.mark.parametrize(
    ("start", "to", "allowed"),
    [
        ("applicant", "suspended", "active, ended"),
        ("applicant", "applicant", "active, ended"),
        ("active", "applicant", "ended, suspended"),
        ("suspended", "applicant", "active, ended"),
        ("suspended", "suspended", "active, ended"),
    ],
)
def test_an_illegal_move_is_refused_naming_the_allowed_ones_and_writes_nothing(
    app: XRM, start: str, to: str, allowed: str
) -> None:
    with app.session() as s:
        _, role = partner(s, "ACME", state=start)
    with unchanged(app), pytest.raises(ValidationError) as err, app.session() as s:
        s.roles.transition(role, to, at=T0 + DAY)
    assert err.value.fields == ["to"]
    assert f"cannot go from {start!r} to {to!r} (allowed: {allowed})" in str(err.value)


def test_an_ended_partnership_cannot_move_again_but_the_party_may_apply_again(app: XRM) -> None:
    with app.session() as s:
        acme, role = partner(s, "ACME")
        role = s.roles.transition(role, "ended", at=T0 + DAY)
    with (
        unchanged(app),
        pytest.raises(ValidationError, match="ended; assign it again"),
        app.session() as s,
    ):
        s.roles.transition(role, "active", at=T0 + 2 * DAY)
    with app.session() as s:
        again = s.roles.assign(acme, "partner", attributes=RESELLER, at=T0 + 3 * DAY)
        history = s.roles.of(acme, type="partner", include_ended=True)
    assert again.state == "applicant"
    assert [r.id for r in history] == [role.id, again.id]


def test_ending_the_role_directly_keeps_its_last_state(app: XRM) -> None:
    with app.session() as s:
        acme, role = partner(s, "ACME", state="suspended")
        role = s.roles.end(role, at=T0 + DAY)
        assert s.roles.current(acme, "partner") is None
    assert (role.state, role.ended_at) == ("suspended", T0 + DAY)


def test_any_kind_of_party_may_be_a_partner(app: XRM) -> None:
    with app.session() as s:
        _, jo = partner(s, "Jo", kind="person", partner_type="referral")
        _, family = partner(s, "The Smiths", kind="household", partner_type="referral")
    assert (jo.state, family.state) == ("active", "active")


@db_settings
@given(moves=st.lists(st.sampled_from(PARTNER_STATES), max_size=8))
def test_the_role_follows_the_lifecycle_table_whatever_the_moves(
    app: XRM, moves: list[str]
) -> None:
    with app.session() as s:
        _, role = partner(s, "Walker", state="applicant")
    state, ended = "applicant", False
    for step, to in enumerate(moves, start=1):
        legal = not ended and (state, to) in LEGAL
        with app.session() as s:
            if legal:
                role = s.roles.transition(role, to, at=T0 + step * DAY)
                state, ended = to, to == "ended"
            else:
                with pytest.raises(ValidationError) as err:
                    s.roles.transition(role, to, at=T0 + step * DAY)
                assert err.value.fields == (["role"] if ended else ["to"])
            current = s.roles.get(role.id)
        assert (current.state, current.current) == (state, not ended)


# -- attributes ------------------------------------------------------------------------


def test_the_attributes_are_kept_with_their_defaults(app: XRM) -> None:
    with app.session() as s:
        _, role = partner(
            s,
            "ACME",
            partner_type="distributor",
            programme="  EMEA Distribution 2025 ",
            agreement_start=dt.date(2025, 1, 1),
            agreement_end="2025-12-31",
        )
        _, plain = partner(s, "Plain", partner_type="technology")
    assert role.attributes == {
        "partner_type": "distributor",
        "tier": "registered",
        "programme": "EMEA Distribution 2025",
        "agreement_start": "2025-01-01",
        "agreement_end": "2025-12-31",
    }
    assert plain.attributes["agreement_start"] is None


@pytest.mark.parametrize(
    ("start", "end", "reason"),
    [
        ("2025-06-01", "2025-05-31", "must be after agreement_start (2025-06-01)"),
        ("2025-06-01", "2025-06-01", "must be after agreement_start (2025-06-01)"),
        (None, "2025-06-01", "an agreement end needs an agreement_start"),
    ],
)
def test_an_agreement_that_does_not_end_after_it_starts_is_refused_and_nothing_is_written(
    app: XRM, start: str | None, end: str, reason: str
) -> None:
    with app.session() as s:
        acme = s.parties.create("organization", "ACME")
    attributes = {"partner_type": "reseller", "agreement_start": start, "agreement_end": end}
    with unchanged(app), pytest.raises(ValidationError) as err, app.session() as s:
        s.roles.assign(acme, "partner", attributes=attributes)
    assert err.value.errors == (FieldError("attributes.agreement_end", reason),)


def test_a_bad_agreement_is_refused_on_update_too_and_the_role_is_unchanged(app: XRM) -> None:
    with app.session() as s:
        _, role = partner(s, "ACME", agreement_start="2025-01-01", agreement_end="2025-12-31")
    with unchanged(app), pytest.raises(ValidationError) as err, app.session() as s:
        s.roles.update(role, {**role.attributes, "agreement_end": "2024-12-31"})
    assert err.value.fields == ["attributes.agreement_end"]
    with app.session() as s:
        assert s.roles.get(role.id).attributes["agreement_end"] == "2025-12-31"


@pytest.mark.parametrize(
    ("attributes", "field"),
    [
        ({}, "attributes.partner_type"),
        ({"partner_type": "affiliate"}, "attributes.partner_type"),
        ({"partner_type": "reseller", "tier": "diamond"}, "attributes.tier"),
        ({"partner_type": "reseller", "programme": "   "}, "attributes.programme"),
        ({"partner_type": "reseller", "agreement_start": "soon"}, "attributes.agreement_start"),
        ({"partner_type": "reseller", "discount": 0.3}, "attributes.discount"),
    ],
)
def test_other_bad_attributes_are_refused_with_their_field(
    app: XRM, attributes: dict[str, Any], field: str
) -> None:
    with app.session() as s:
        acme = s.parties.create("organization", "ACME")
    with unchanged(app), pytest.raises(ValidationError) as err, app.session() as s:
        s.roles.assign(acme, "partner", attributes=attributes)
    assert err.value.fields == [field]


@given(
    start=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2040, 1, 1)),
    end=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2040, 1, 1)),
)
def test_the_schema_accepts_an_agreement_exactly_when_it_ends_after_it_starts(
    start: dt.date, end: dt.date
) -> None:
    data = {"partner_type": "service", "agreement_start": start, "agreement_end": end}
    if end > start:
        model = PartnerAttributes.model_validate(data)
        assert (model.agreement_start, model.agreement_end) == (start, end)
    else:
        with pytest.raises(pydantic.ValidationError, match="must be after agreement_start") as err:
            PartnerAttributes.model_validate(data)
        assert [e["loc"] for e in err.value.errors()] == [("agreement_end",)]


def test_erasing_a_partner_leaves_none_of_its_personal_data(app: XRM) -> None:
    from xrm.testing import erasure_leftovers

    with app.session() as s:
        acme, _ = partner(s, "ACME")
    assert erasure_leftovers(app, acme.id) == []
