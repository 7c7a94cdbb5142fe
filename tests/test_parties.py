"""Parties: one record per person, organisation or household, with contact points
stored as given and as match keys, identifiers, tags and optimistic locking."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from xrm import (
    XRM,
    Conflict,
    ContactPointIn,
    Email,
    NotFound,
    PartyKind,
    Phone,
    PostalAddress,
    Social,
    Url,
    ValidationError,
)


def test_a_person_is_created_with_names_contact_points_and_tags(app: XRM) -> None:
    with app.session() as s:
        marie = s.parties.create(
            "person",
            given_name="Marie",
            family_name="Dupont",
            birth_date=dt.date(1990, 5, 17),
            contact_points=[
                Email("Marie.Dupont@Example.com", label="work"),
                Phone("06 12 34 56 78"),
                PostalAddress(
                    lines=["12 rue de la Paix"], postcode="75002", city="Paris", country="fr"
                ),
                Url("https://marie.example.com/"),
                Social("@marie", network="mastodon"),
            ],
            tags=["VIP", "newsletter"],
        )
    with app.session() as s:
        again = s.parties.get(marie.id)
    assert again == marie
    assert marie.display_name == "Marie Dupont"
    assert marie.tags == ("newsletter", "vip")
    email = marie.primary("email")
    assert email is not None
    assert (email.value, email.key, email.label) == (
        "Marie.Dupont@Example.com",
        "marie.dupont@example.com",
        "work",
    )
    phone = marie.primary("phone")
    assert phone is not None and (phone.key, phone.country) == ("+33612345678", "FR")
    postal = marie.primary("postal")
    assert postal is not None
    assert postal.value == "12 rue de la Paix\n75002 Paris\nFR"
    assert postal.data["country"] == "FR"
    assert [c.kind for c in marie.contact_points] == ["email", "phone", "postal", "url", "social"]


def test_an_organization_needs_a_display_name(app: XRM, unchanged: Any) -> None:
    with unchanged(), pytest.raises(ValidationError) as err, app.session() as s:
        s.parties.create("organization", "   ")
    assert err.value.fields == ["display_name"]


def test_the_first_contact_point_of_a_kind_is_primary_unless_another_says_so(app: XRM) -> None:
    with app.session() as s:
        p = s.parties.create(
            "person",
            "Jo",
            contact_points=[Email("a@example.com"), Email("b@example.com", primary=True)],
        )
        added = s.parties.add_contact_point(p, Email("c@example.com"))
        assert not added.primary
        assert s.parties.get(p).primary("email").value == "b@example.com"  # type: ignore[union-attr]
        s.parties.set_primary(p, added)
        points = s.parties.get(p).contact_points
    assert [c.primary for c in points] == [False, False, True]


def test_the_same_address_written_twice_is_one_contact_point(app: XRM) -> None:
    with app.session() as s:
        p = s.parties.create(
            "person", "Jo", contact_points=[Email("jo@example.com"), Email(" JO@example.COM")]
        )
        assert len(p.contact_points) == 1
        with pytest.raises(Conflict, match="already has"):
            s.parties.add_contact_point(p, {"kind": "email", "value": "Jo@Example.com"})


def test_removing_the_primary_contact_point_promotes_the_next(app: XRM) -> None:
    with app.session() as s:
        p = s.parties.create(
            "person", "Jo", contact_points=[Email("a@example.com"), Email("b@example.com")]
        )
        s.parties.remove_contact_point(p, p.contact_points[0])
        left = s.parties.get(p).contact_points
    assert [(c.value, c.primary) for c in left] == [("b@example.com", True)]


def test_contact_points_of_plugin_kinds_use_their_key_function(app: XRM) -> None:
    from xrm import ContactKind

    app.register(ContactKind("matrix", "Matrix ID", key=lambda raw: raw.strip().lower()))
    with app.session() as s:
        p = s.parties.create(
            "person", "Jo", contact_points=[ContactPointIn(kind="matrix", value=" @Jo:Server ")]
        )
    assert p.contact_points[0].key == "@jo:server"


class TestFinding:
    def test_a_party_is_found_from_an_upper_cased_email_or_a_differently_written_phone(
        self, app: XRM
    ) -> None:
        with app.session() as s:
            marie = s.parties.create(
                "person",
                "Marie Dupont",
                contact_points=[Email("marie.dupont@example.com"), Phone("+33612345678")],
            )
            s.parties.create("person", "Someone Else", contact_points=[Email("x@example.com")])
        with app.session() as s:
            assert [p.id for p in s.parties.find(email="MARIE.DUPONT@EXAMPLE.COM")] == [marie.id]
            assert [p.id for p in s.parties.find(phone="06 12 34 56 78")] == [marie.id]
            assert s.parties.find_ids(phone="0033 6 12 34 56 78") == [marie.id]
            assert s.parties.find(email="nobody@example.com") == []

    def test_by_identifier(self, app: XRM) -> None:
        with app.session() as s:
            acme = s.parties.create("organization", "ACME", identifiers={"fr.siren": "732829320"})
            assert s.parties.find(identifier=("fr.siren", "732 829 320"))[0].id == acme.id

    def test_finding_needs_a_key(self, app: XRM) -> None:
        with app.session() as s, pytest.raises(ValidationError, match="give an email"):
            s.parties.find()

    def test_list_filters_by_kind_tag_role_and_name_and_pages(self, app: XRM) -> None:
        with app.session() as s:
            ids = [
                s.parties.create("person", f"Person {i}", tags=["a"] if i % 2 else []).id
                for i in range(5)
            ]
            s.parties.create("organization", "Élan Industries")
            s.roles.assign(ids[0], "customer")
            assert [p.id for p in s.parties.list(kind="person")] == ids
            assert [p.id for p in s.parties.list(tag="A")] == [ids[1], ids[3]]
            assert [p.id for p in s.parties.list(role="customer")] == [ids[0]]
            assert [p.display_name for p in s.parties.list(name="elan")] == ["Élan Industries"]
            first = s.parties.list(kind="person", limit=2)
            assert [p.id for p in first] == ids[:2] and first.next_cursor
            second = s.parties.list(kind="person", limit=2, after=first.next_cursor)
            third = s.parties.list(kind="person", limit=2, after=second.next_cursor)
            assert [p.id for p in second] + [p.id for p in third] == ids[2:]
            assert third.next_cursor is None
            assert s.parties.count(kind="person") == 5


class TestUpdating:
    def test_an_update_changes_the_fields_and_the_version(self, app: XRM) -> None:
        with app.session() as s:
            p = s.parties.create("person", "Jo Smith")
            updated = s.parties.update(
                p, display_name="Joanna Smith", birth_date=dt.date(2000, 1, 2)
            )
        assert updated.display_name == "Joanna Smith"
        assert updated.version == p.version + 1

    def test_a_stale_update_is_a_conflict_and_writes_nothing(
        self, app: XRM, unchanged: Any
    ) -> None:
        with app.session() as s:
            p = s.parties.create("person", "Jo Smith")
            s.parties.update(p, display_name="Jo Smyth")
        with (
            unchanged(),
            pytest.raises(Conflict, match="changed since it was read"),
            app.session() as s,
        ):
            s.parties.update(p, display_name="Stale write")  # p carries version 1

    def test_any_change_to_contact_points_or_tags_bumps_the_version(self, app: XRM) -> None:
        with app.session() as s:
            p = s.parties.create("person", "Jo")
            s.parties.tag(p.id, "x")
            s.parties.add_contact_point(p.id, Email("jo@example.com"))
            assert s.parties.get(p).version == p.version + 2

    def test_tags_are_added_and_removed_idempotently(self, app: XRM) -> None:
        with app.session() as s:
            p = s.parties.create("person", "Jo", tags=["a"])
            s.parties.tag(p.id, "A", "b")
            assert s.parties.untag(p.id, "a", "zzz").tags == ("b",)


class TestIdentifiers:
    def test_an_identifier_is_unique_per_scheme(self, app: XRM, unchanged: Any) -> None:
        with app.session() as s:
            s.parties.create("organization", "ACME", identifiers={"fr.siren": "732 829 320"})
            other = s.parties.create("organization", "Other")
        with unchanged(), pytest.raises(Conflict, match="already belongs"), app.session() as s:
            s.parties.add_identifier(other, "fr.siren", "732829320")

    def test_the_same_value_in_another_scheme_is_fine(self, app: XRM) -> None:
        with app.session() as s:
            s.parties.create("organization", "A", identifiers={"legacy": "42"})
            b = s.parties.create("organization", "B", identifiers={"other": "42"})
        assert b.identifier("other") == "42"


class TestBadInputIsRefusedAndWritesNothing:
    @pytest.mark.parametrize(
        ("kwargs", "field", "reason"),
        [
            ({"kind": "robot", "display_name": "R2"}, "kind", "unknown party kind"),
            (
                {"kind": "person", "display_name": "Jo", "contact_points": [Email("jo@")]},
                "contact_points.0.value",
                "not a valid email",
            ),
            (
                {"kind": "person", "display_name": "Jo", "contact_points": [Phone("12")]},
                "contact_points.0.value",
                "phone",
            ),
            (
                {
                    "kind": "person",
                    "display_name": "Jo",
                    "contact_points": [{"kind": "pigeon", "value": "x"}],
                },
                "contact_points.0.kind",
                "unknown contact kind",
            ),
            (
                {"kind": "person", "display_name": "Jo", "contact_points": [{"kind": "email"}]},
                "contact_points.0.value",
                "required",
            ),
            (
                {
                    "kind": "person",
                    "display_name": "Jo",
                    "contact_points": [
                        {"kind": "postal", "lines": ["1 rd"], "city": "X", "country": "ZZ"}
                    ],
                },
                "contact_points.0.country",
                "ISO 3166",
            ),
            (
                {
                    "kind": "organization",
                    "display_name": "ACME",
                    "identifiers": {"fr.siren": "732829321"},
                },
                "identifiers.fr.siren",
                "not a valid",
            ),
            ({"kind": "person", "display_name": "Jo", "tags": ["no\ttabs"]}, "tags.0", "not a tag"),
            ({"kind": "person"}, "display_name", "required"),
        ],
    )
    def test_each_bad_input_names_the_field_and_the_reason(
        self, app: XRM, unchanged: Any, kwargs: dict[str, Any], field: str, reason: str
    ) -> None:
        with unchanged(), pytest.raises(ValidationError) as err, app.session() as s:
            s.parties.create(**kwargs)
        assert field in err.value.fields
        assert reason in str(err.value)

    def test_every_error_is_reported_at_once(self, app: XRM) -> None:
        with pytest.raises(ValidationError) as err, app.session() as s:
            s.parties.create("person", "", contact_points=[Email("x"), Phone("y")])
        assert err.value.fields == [
            "display_name",
            "contact_points.0.value",
            "contact_points.1.value",
        ]

    def test_a_missing_party_is_not_found(self, app: XRM) -> None:
        with app.session() as s, pytest.raises(NotFound, match="party 999"):
            s.parties.get(999)

    def test_attributes_are_validated_by_the_kinds_schema(self, app: XRM, unchanged: Any) -> None:
        from pydantic import BaseModel

        class Household(BaseModel):
            size: int

        app.register(PartyKind("family", schema=Household))
        with unchanged(), pytest.raises(ValidationError) as err, app.session() as s:
            s.parties.create("family", "The Smiths", attributes={"size": "many"})
        assert err.value.fields == ["attributes.size"]
        with app.session() as s:
            assert s.parties.create(
                "family", "The Smiths", attributes={"size": "4"}
            ).attributes == {"size": 4}
