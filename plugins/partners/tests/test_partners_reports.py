"""Partner reports: right on a handful of partners, one SQL query each, and equal to a plain
Python filter over random populations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import xrm_partners
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from partners_support import partner
from sqlalchemy import event
from xrm_partners import (
    PARTNER_TYPES,
    TIERS,
    PartnerSummary,
    ReferralCount,
    agreements_ending,
    partners,
    referral_counts,
)

from xrm import XRM, Session, ValidationError

TODAY = dt.date(2025, 6, 7)
db_settings = settings(
    deadline=None, max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    return xrm_factory(plugins=[xrm_partners], discover=False)


@pytest.fixture
def programme(app: XRM) -> dict[str, int]:
    """Six partners, one of them former, a customer, and four referrals."""
    ids: dict[str, int] = {}
    with app.session() as s:

        def add(
            name: str, partner_type: str, tier: str, state: str, *dates: str, **kw: Any
        ) -> None:
            agreement: dict[str, Any] = dict(
                zip(("agreement_start", "agreement_end"), dates, strict=False)
            )
            party, _ = partner(
                s, name, partner_type=partner_type, tier=tier, state=state, **agreement, **kw
            )
            ids[name] = party.id

        add("Alpha", "reseller", "gold", "active", "2025-01-01", "2025-06-30")
        add("Beta", "distributor", "platinum", "active", "2025-01-01", "2025-06-10")
        add("Gamma", "referral", "registered", "applicant", kind="person")
        add("Delta", "technology", "silver", "suspended", "2024-06-01", "2025-06-05")
        add("Epsilon", "service", "gold", "active", "2025-01-01", "2025-06-15")
        add("Zeta", "reseller", "silver", "active", "2025-01-01", "2025-09-30")
        customer = s.parties.create("organization", "Omega")
        s.roles.assign(customer, "customer")

        referred = [s.parties.create("person", f"Lead {i}").id for i in range(4)]
        s.relationships.create(
            "referred", ids["Alpha"], referred[0], valid_from=dt.date(2025, 3, 1)
        )
        s.relationships.create(
            "referred",
            ids["Alpha"],
            referred[1],
            valid_from=dt.date(2025, 5, 1),
            valid_to=dt.date(2025, 5, 20),
        )
        s.relationships.create(
            "referred", ids["Beta"], referred[2], valid_from=dt.date(2025, 4, 15)
        )
        s.relationships.create(
            "referred", ids["Epsilon"], referred[3], valid_from=dt.date(2025, 2, 1)
        )
        epsilon = s.roles.current(ids["Epsilon"], "partner")
        assert epsilon is not None
        s.roles.transition(epsilon, "ended", at=dt.datetime(2025, 6, 1, 10, tzinfo=dt.UTC))
    return ids


def names(rows: list[PartnerSummary]) -> list[str]:
    return [row.display_name for row in rows]


# -- partners --------------------------------------------------------------------------


def test_partners_lists_current_partners_highest_tier_first(
    app: XRM, programme: dict[str, int]
) -> None:
    with app.session() as s:
        rows = partners(s)
    assert names(rows) == ["Beta", "Alpha", "Delta", "Zeta", "Gamma"]
    assert rows[1] == PartnerSummary(
        party_id=programme["Alpha"],
        display_name="Alpha",
        role_id=rows[1].role_id,
        state="active",
        partner_type="reseller",
        tier="gold",
        programme=None,
        agreement_start=dt.date(2025, 1, 1),
        agreement_end=dt.date(2025, 6, 30),
    )
    assert rows[-1].agreement_start is None


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"tier": "gold"}, ["Alpha"]),  # Epsilon, gold too, is no longer a partner
        ({"tier": ["silver", "platinum"]}, ["Beta", "Delta", "Zeta"]),
        ({"partner_type": "reseller"}, ["Alpha", "Zeta"]),
        ({"state": "suspended"}, ["Delta"]),
        ({"state": ["applicant", "suspended"]}, ["Delta", "Gamma"]),
        ({"tier": "silver", "partner_type": "reseller", "state": "active"}, ["Zeta"]),
        ({"state": "ended"}, []),
        ({"tier": []}, ["Beta", "Alpha", "Delta", "Zeta", "Gamma"]),
    ],
)
def test_partners_by_tier_type_and_state(
    app: XRM, programme: dict[str, int], filters: dict[str, Any], expected: list[str]
) -> None:
    with app.session() as s:
        assert names(partners(s, **filters)) == expected


@pytest.mark.parametrize(
    ("filters", "field"),
    [({"tier": "diamond"}, "tier"), ({"partner_type": ["reseller", "oem"]}, "partner_type")],
)
def test_an_unknown_filter_value_is_refused_naming_the_filter(
    app: XRM, filters: dict[str, Any], field: str
) -> None:
    with app.session() as s, pytest.raises(ValidationError) as err:
        partners(s, **filters)
    assert err.value.fields == [field]


# -- agreements_ending -----------------------------------------------------------------


def test_agreements_ending_within_n_days_soonest_first(app: XRM, programme: dict[str, int]) -> None:
    with app.session() as s:
        assert names(agreements_ending(s, 30, today=TODAY)) == ["Beta", "Alpha"]
        assert names(agreements_ending(s, 30, today=TODAY, include_lapsed=True)) == [
            "Delta",
            "Beta",
            "Alpha",
        ]
        # both ends of the window count
        assert names(agreements_ending(s, 0, today=dt.date(2025, 6, 10))) == ["Beta"]
        assert names(agreements_ending(s, 2, today=dt.date(2025, 6, 8))) == ["Beta"]
        assert names(agreements_ending(s, 200, today=TODAY)) == ["Beta", "Alpha", "Zeta"]
        assert agreements_ending(s, 30, today=dt.date(2025, 10, 1)) == []


@pytest.mark.parametrize("days", [-1, True, 1.5])
def test_agreements_ending_needs_a_number_of_days(app: XRM, days: Any) -> None:
    with app.session() as s, pytest.raises(ValidationError) as err:
        agreements_ending(s, days, today=TODAY)
    assert err.value.fields == ["within_days"]


# -- referral_counts -------------------------------------------------------------------


def test_referrals_per_partner_as_of_a_day(app: XRM, programme: dict[str, int]) -> None:
    ids = programme

    def counts(s: Session, day: dt.date) -> list[tuple[str, int]]:
        return [(row.display_name, row.referrals) for row in referral_counts(s, as_of=day)]

    with app.session() as s:
        assert counts(s, dt.date(2024, 12, 31)) == []  # no one was a partner yet
        assert counts(s, dt.date(2025, 2, 15)) == [
            ("Epsilon", 1),
            ("Alpha", 0),
            ("Beta", 0),
            ("Gamma", 0),
            ("Delta", 0),
            ("Zeta", 0),
        ]
        assert counts(s, dt.date(2025, 5, 10))[:3] == [("Alpha", 2), ("Beta", 1), ("Epsilon", 1)]
        # the second referral of Alpha ended on 20 May; Epsilon's role ended on 1 June
        assert counts(s, dt.date(2025, 5, 31))[:3] == [("Alpha", 1), ("Beta", 1), ("Epsilon", 1)]
        june = referral_counts(s, as_of=dt.date(2025, 6, 1))
    assert june[:2] == [
        ReferralCount(ids["Alpha"], "Alpha", 1),
        ReferralCount(ids["Beta"], "Beta", 1),
    ]
    assert "Epsilon" not in [row.display_name for row in june]


# -- one query each --------------------------------------------------------------------


@contextmanager
def statements(app: XRM) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(app.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(app.engine, "before_cursor_execute", count)


def test_each_report_is_one_sql_query(app: XRM, programme: dict[str, int]) -> None:
    with app.session() as s:
        s.parties.count()  # the unit of work holds its connection from here on
        for report in (
            lambda: partners(s, tier=["gold", "silver"], partner_type="reseller"),
            lambda: agreements_ending(s, 30, today=TODAY, include_lapsed=True),
            lambda: referral_counts(s, as_of=TODAY),
        ):
            with statements(app) as seen:
                assert report()
            assert len(seen) == 1, seen


# -- properties ------------------------------------------------------------------------

some = st.none() | st.lists(st.sampled_from(TIERS), min_size=1, max_size=3, unique=True)


@db_settings
@given(
    population=st.lists(
        st.tuples(
            st.sampled_from(TIERS),
            st.sampled_from(PARTNER_TYPES),
            st.sampled_from(["applicant", "active", "suspended", "ended"]),
            st.integers(min_value=-40, max_value=40) | st.none(),
        ),
        max_size=6,
    ),
    tier=some,
    partner_type=st.none() | st.lists(st.sampled_from(PARTNER_TYPES), min_size=1, unique=True),
    state=st.none() | st.sampled_from(["applicant", "active", "suspended"]),
    within=st.integers(min_value=0, max_value=30),
)
def test_the_reports_agree_with_a_plain_filter_of_the_partners(
    app: XRM,
    population: list[tuple[str, str, str, int | None]],
    tier: list[str] | None,
    partner_type: list[str] | None,
    state: str | None,
    within: int,
) -> None:
    expected_partners, expected_ending = set(), set()
    made = set()
    with app.session() as s:
        for i, (tier_i, type_i, state_i, end_in) in enumerate(population):
            dates: dict[str, Any] = {}
            if end_in is not None:
                dates = {
                    "agreement_start": TODAY - dt.timedelta(days=400),
                    "agreement_end": TODAY + dt.timedelta(days=end_in),
                }
            party, _ = partner(s, f"P{i}", tier=tier_i, partner_type=type_i, state=state_i, **dates)
            made.add(party.id)
            if state_i == "ended":
                continue
            if (
                (tier is None or tier_i in tier)
                and (partner_type is None or type_i in partner_type)
                and (state is None or state_i == state)
            ):
                expected_partners.add(party.id)
            if end_in is not None and 0 <= end_in <= within:
                expected_ending.add(party.id)
        found = partners(s, tier=tier, partner_type=partner_type, state=state)  # type: ignore[arg-type]
        ending = agreements_ending(s, within, today=TODAY)
    assert {row.party_id for row in found if row.party_id in made} == expected_partners
    assert {row.party_id for row in ending if row.party_id in made} == expected_ending
    ends = [row.agreement_end for row in ending]
    assert ends == sorted(ends)  # type: ignore[type-var]
