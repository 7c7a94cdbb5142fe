"""xrm.tables: the core's rows and predicates as SQL, reading what the services read."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import aliased

import xrm.tables
from xrm import XRM, Conflict, Email, Purpose, Session, ValidationError
from xrm.tables import (
    PartyRow,
    RelationshipRow,
    RoleRow,
    contactable,
    live_party,
    relationship_valid,
    role_current,
    role_held,
    unmerged_party,
)

D = dt.date
T0 = dt.datetime(2025, 3, 10, 9, 30, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
DOCS = Path(__file__).parent.parent / "docs" / "tables.md"


def party_ids(s: Session, *where: ColumnElement[bool]) -> list[int]:
    return list(s.db.scalars(select(PartyRow.id).where(*where).order_by(PartyRow.id)))


def role_ids(s: Session, *where: ColumnElement[bool]) -> list[int]:
    return list(s.db.scalars(select(RoleRow.id).where(*where).order_by(RoleRow.id)))


# -- live parties ---------------------------------------------------------------------------
def test_a_merged_party_and_an_erased_party_are_not_live(app: XRM) -> None:
    with app.session() as s:
        kept = s.parties.create("person", "Marie Curie").id
        duplicate = s.parties.create("person", "M. Curie").id
        erased = s.parties.create("person", "Pierre Curie").id
        s.identity.merge(kept, duplicate)
        s.gdpr.erase(erased, reason="request DSR-1")
        assert party_ids(s, live_party()) == [kept]
        # an erased party stays a party (``erased party 3``): only a merge hides it
        assert party_ids(s, unmerged_party()) == [kept, erased]


def test_unmerged_party_keeps_the_parties_that_parties_list_lists(app: XRM) -> None:
    with app.session() as s:
        ids = [s.parties.create("organization", f"Org {n}").id for n in range(4)]
        s.identity.merge(ids[0], ids[2])
        listed = [p.id for p in s.parties.list(limit=10).items]
        assert party_ids(s, unmerged_party()) == listed == [ids[0], ids[1], ids[3]]
        assert s.parties.count() == len(listed)


def test_the_party_predicates_read_an_aliased_party_table(app: XRM) -> None:
    with app.session() as s:
        kept = s.parties.create("person", "Marie").id
        duplicate = s.parties.create("person", "Marie D.").id
        s.identity.merge(kept, duplicate)
        survivor = aliased(PartyRow)
        query = (
            select(PartyRow.id, survivor.id)
            .join(survivor, survivor.id == PartyRow.merged_into_id)
            .where(live_party(survivor))
        )
        assert s.db.execute(query).all() == [(duplicate, kept)]


# -- current roles --------------------------------------------------------------------------
def test_a_role_that_ended_yesterday_is_not_current(app: XRM) -> None:
    now = dt.datetime.now(dt.UTC)
    with app.session() as s:
        party = s.parties.create("organization", "ACME")
        role = s.roles.assign(party, "customer", at=now - 10 * DAY)
        s.roles.end(role, at=now - DAY)
        assert role_ids(s, role_current()) == []
        assert role_ids(s, role_current(now)) == []
        assert role_ids(s, role_current(now - 2 * DAY)) == [role.id]
        assert role_ids(s, role_current(now - 11 * DAY)) == []  # not started yet


def test_role_current_keeps_the_roles_the_services_call_current(app: XRM) -> None:
    with app.session() as s:
        acme = s.parties.create("organization", "ACME")
        ended = s.roles.assign(acme, "customer", at=T0)
        s.roles.end(ended, at=T0 + DAY)
        again = s.roles.assign(acme, "customer", at=T0 + 2 * DAY)
        supplier = s.roles.assign(acme, "supplier", at=T0)
        # a role that starts next month is not current yet, for the services as for SQL;
        # roles.of lists it (it has not ended), and it is the one role of its type Paul holds
        paul = s.parties.create("person", "Paul")
        future = s.roles.assign(paul, "customer", at=dt.datetime.now(dt.UTC) + 30 * DAY)
        assert s.roles.current(acme, "customer") == again
        assert s.roles.current(paul, "customer") is None
        assert [r.id for r in s.roles.of(paul)] == [future.id]
        assert [p.id for p in s.parties.list(role="customer").items] == [acme.id]
        with pytest.raises(Conflict, match="already holds role 'customer' from"):
            s.roles.assign(paul, "customer")
        assert [r.id for r in s.roles.of(acme)] == [supplier.id, again.id]
        assert role_ids(s, role_current()) == sorted([again.id, supplier.id])


def test_a_role_is_current_from_its_start_until_its_end_excluded(app: XRM) -> None:
    with app.session() as s:
        role = s.roles.assign(s.parties.create("person", "Marie"), "customer", at=T0)
        s.roles.end(role, at=T0 + 5 * DAY)
        current = {
            when: role_ids(s, role_current(when)) == [role.id]
            for when in (T0 - dt.timedelta(microseconds=1), T0, T0 + 5 * DAY - DAY / 2,
                         T0 + 5 * DAY)
        }  # fmt: skip
        assert list(current.values()) == [False, True, True, False]


def test_a_date_means_its_first_instant_in_utc(app: XRM) -> None:
    with app.session() as s:
        role = s.roles.assign(s.parties.create("person", "Marie"), "customer", at=D(2025, 1, 1))
        s.roles.end(role, at=D(2025, 2, 1))
        assert role_ids(s, role_current(D(2025, 1, 1))) == [role.id]
        assert role_ids(s, role_current(D(2025, 1, 31))) == [role.id]
        assert role_ids(s, role_current(D(2025, 2, 1))) == []  # ended on that day
        paris = dt.timezone(dt.timedelta(hours=1))
        # 00:30 in Paris on 1 February is still 31 January in UTC
        assert role_ids(s, role_current(dt.datetime(2025, 2, 1, 0, 30, tzinfo=paris))) == [role.id]


def test_role_current_refuses_what_is_not_a_time() -> None:
    with pytest.raises(ValidationError, match="as_of"):
        role_current("2025-01-01")  # type: ignore[arg-type]


# -- roles held -------------------------------------------------------------------------------
def test_role_held_keeps_the_parties_that_parties_list_finds_by_role(app: XRM) -> None:
    with app.session() as s:
        acme = s.parties.create("organization", "ACME").id
        globex = s.parties.create("organization", "Globex").id
        initech = s.parties.create("organization", "Initech").id
        s.roles.assign(acme, "customer")
        s.roles.end(s.roles.assign(globex, "customer", at=T0), at=T0 + DAY)
        s.roles.assign(initech, "supplier")
        listed = [p.id for p in s.parties.list(role="customer").items]
        assert party_ids(s, role_held("customer")) == listed == [acme]
        assert party_ids(s, role_held(["customer", "supplier"])) == [acme, initech]
        assert party_ids(s, role_held("customer", as_of=T0 + DAY / 2)) == [globex]


def test_role_held_in_a_state_now_or_then(app: XRM) -> None:
    with app.session() as s:
        acme = s.parties.create("organization", "ACME").id
        role = s.roles.assign(acme, "supplier", at=T0)
        s.roles.transition(role, "approved", at=T0 + 10 * DAY)
        approved = role_held("supplier", states=["approved"], as_of=T0 + 10 * DAY)
        assert party_ids(s, role_held("supplier", states=["approved"])) == [acme]
        assert party_ids(s, role_held("supplier", states=["candidate"])) == []
        assert party_ids(s, role_held("supplier", states=["candidate"], as_of=T0 + DAY)) == [acme]
        assert party_ids(s, approved) == [acme]
        assert party_ids(s, role_held("supplier", states=["approved"], as_of=T0 + DAY)) == []
        assert party_ids(s, role_held("supplier", states=[], as_of=T0 + DAY)) == [acme]  # any


def test_role_held_stays_right_in_a_query_over_roles(app: XRM) -> None:
    """The customers that are suppliers too: the condition reads its own copy of the role
    table, so it does not mistake the outer query's customer role for a supplier role."""
    with app.session() as s:
        both = s.parties.create("organization", "ACME").id
        customer_only = s.parties.create("organization", "Globex").id
        s.roles.assign(both, "customer")
        s.roles.assign(both, "supplier")
        s.roles.assign(customer_only, "customer")
        query = select(RoleRow.party_id).where(
            RoleRow.type == "customer", role_held("supplier", party_id=RoleRow.party_id)
        )
        assert list(s.db.scalars(query)) == [both]
        assert party_ids(s, role_held("customer", party_id=customer_only)) == [
            both,
            customer_only,
        ]  # a fixed id: true for every row, as an EXISTS is


# -- relationships as of a day ------------------------------------------------------------------
def test_a_relationship_is_valid_from_its_first_day_until_its_end_day_excluded(
    app: XRM,
) -> None:
    with app.session() as s:
        marie = s.parties.create("person", "Marie").id
        acme = s.parties.create("organization", "ACME").id
        rel = s.relationships.create("works_for", marie, acme, valid_from=D(2024, 1, 1))
        s.relationships.end(rel, on=D(2024, 7, 1))
        for day in (D(2023, 12, 31), D(2024, 1, 1), D(2024, 6, 30), D(2024, 7, 1)):
            by_service = [link.relationship.id for link in s.relationships.of(marie, as_of=day)]
            by_predicate = list(
                s.db.scalars(select(RelationshipRow.id).where(relationship_valid(day)))
            )
            assert by_predicate == by_service, day
        assert list(s.db.scalars(select(RelationshipRow.id).where(relationship_valid()))) == []


def test_relationship_valid_reads_a_datetime_as_its_utc_day(app: XRM) -> None:
    with app.session() as s:
        marie = s.parties.create("person", "Marie").id
        acme = s.parties.create("organization", "ACME").id
        rel = s.relationships.create("works_for", marie, acme, valid_from=D(2024, 1, 1))
        new_york = dt.timezone(dt.timedelta(hours=-5))
        late_evening = dt.datetime(2023, 12, 31, 20, 0, tzinfo=new_york)  # 1 Jan in UTC
        query = select(RelationshipRow.id).where(relationship_valid(late_evening))
        assert list(s.db.scalars(query)) == [rel.id]
        assert len(s.relationships.of(marie, as_of=late_evening)) == 1
    with pytest.raises(ValidationError, match="as_of"):
        relationship_valid("2024-01-01")  # type: ignore[arg-type]


def test_an_open_relationship_is_valid_today(app: XRM) -> None:
    with app.session() as s:
        marie = s.parties.create("person", "Marie").id
        acme = s.parties.create("organization", "ACME").id
        rel = s.relationships.create("works_for", marie, acme)
        tomorrow = s.relationships.create(
            "knows", marie, acme, valid_from=dt.date.today() + dt.timedelta(days=1)
        )
        assert list(s.db.scalars(select(RelationshipRow.id).where(relationship_valid()))) == [
            rel.id
        ]
        valid_tomorrow = relationship_valid(dt.date.today() + dt.timedelta(days=1))
        query = select(RelationshipRow.id).where(valid_tomorrow).order_by(RelationshipRow.id)
        assert list(s.db.scalars(query)) == [rel.id, tomorrow.id]


# -- contactable ---------------------------------------------------------------------------------
def test_contactable_is_the_consent_services_audience(app: XRM) -> None:
    app.register(Purpose("newsletter", "consent", "Newsletter"), source="tests")
    with app.session() as s:
        yes = s.parties.create("person", "Marie", contact_points=[Email("marie@example.com")])
        s.parties.create("person", "Paul", contact_points=[Email("paul@example.com")])
        s.consents.grant(yes, "newsletter", source="web_form", effective_from=T0)
        query = contactable(s, "newsletter", "email", at=T0 + DAY)
        assert s.db.execute(query).all() == [
            (yes.id, yes.contact_points[0].id, "marie@example.com")
        ]
        assert [tuple(m) for m in s.consents.audience("newsletter", "email", T0 + DAY)] == [
            (yes.id, yes.contact_points[0].id, "marie@example.com")
        ]
        audience = query.subquery()
        names = select(PartyRow.display_name).join(audience, audience.c.party_id == PartyRow.id)
        assert list(s.db.scalars(names)) == ["Marie"]


# -- the public surface ----------------------------------------------------------------------------
def test_the_public_names_are_sorted_and_each_is_documented() -> None:
    names = xrm.tables.__all__

    def style(name: str) -> tuple[int, str]:  # isort-style, as ruff's RUF022 keeps it
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert names == sorted(names, key=style)
    assert all(hasattr(xrm.tables, name) for name in names)
    documented = set(re.findall(r"`([A-Za-z_]+)", DOCS.read_text()))
    assert sorted(set(names) - documented) == []


def test_the_examples_of_the_docs_run(app: XRM) -> None:
    """Every Python block of docs/tables.md runs, in order, on a session with data; the
    block declaring a model is only compiled (it would add a table to ``Base``)."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 6
    with app.session() as s:
        acme = s.parties.create("organization", "ACME", contact_points=[Email("a@acme.example")])
        marie = s.parties.create("person", "Marie")
        s.roles.assign(acme, "customer", at=D(2024, 6, 1))
        s.roles.assign(acme, "supplier")
        s.relationships.create("works_for", marie, acme, valid_from=D(2024, 1, 1))
        s.consents.grant(acme, "marketing", source="web_form")
        namespace: dict[str, object] = {"session": s}
        for number, block in enumerate(blocks):
            code = compile(block, f"docs/tables.md block {number}", "exec")
            if "(Base)" not in block:
                exec(code, namespace)
        assert namespace["rows"] == [(acme.id, "ACME", "lead")]
        to_mail, staff = namespace["customers_to_mail"], namespace["staff_on_new_year"]
        assert isinstance(to_mail, Select) and isinstance(staff, Select)
        assert s.db.execute(to_mail).all() == [(acme.id, "a@acme.example")]
        assert s.db.scalars(staff).all() == [marie.id]
