"""Creating a party some of whose keys a known party already holds.

``s.parties.create(..., if_exists=...)`` lets the caller choose: create all the same (the
default: two people may share a family mailbox), refuse, or get the known party back;
``s.parties.resolve_or_create(record)`` does for one party what an import does.
"""

from __future__ import annotations

from typing import Any

import pytest

from xrm import XRM, Conflict, Email, Phone, ValidationError


def test_the_default_creates_a_second_holder_of_a_shared_email(app: XRM) -> None:
    with app.session() as s:
        first = s.parties.create("person", "Marie", contact_points=[Email("home@example.com")])
        second = s.parties.create("person", "Paul", contact_points=[Email("HOME@example.com")])
        assert first.id != second.id
        assert sorted(s.parties.find_ids(email="home@example.com")) == [first.id, second.id]


def test_if_exists_error_refuses_and_names_the_holder(app: XRM, unchanged: Any) -> None:
    with app.session() as s:
        marie = s.parties.create("person", "Marie", contact_points=[Phone("06 12 34 56 78")])
    with (
        unchanged(),
        app.session() as s,
        pytest.raises(Conflict, match=f"party {marie.id} already holds"),
    ):
        s.parties.create(
            "person", "M. Dupont", contact_points=[Phone("+33 6 12 34 56 78")],
            if_exists="error",
        )  # fmt: skip


def test_if_exists_return_gives_the_known_party_back_unchanged(app: XRM) -> None:
    with app.session() as s:
        marie = s.parties.create("person", "Marie", identifiers={"fr.nir": "2 84 05 75 056 004 12"})
        again = s.parties.create(
            "person", "Someone else", identifiers={"fr.nir": "284057505600412"},
            if_exists="return",
        )  # fmt: skip
        assert again == s.parties.get(marie)
        # nothing known: it creates
        new = s.parties.create("person", "New", contact_points=[Email("n@example.com")],
                               if_exists="return")  # fmt: skip
        assert new.id != marie.id
        # keys leading to two parties: refused
        with pytest.raises(Conflict, match="several parties"):
            s.parties.create(
                "person", "X", contact_points=[Email("n@example.com")],
                identifiers={"fr.nir": "284057505600412"}, if_exists="return",
            )  # fmt: skip
        with pytest.raises(ValidationError, match="if_exists"):
            s.parties.create("person", "Y", if_exists="merge")


def test_resolve_or_create_finds_completes_or_creates_as_an_import_does(app: XRM) -> None:
    with app.session() as s:
        party, outcome = s.parties.resolve_or_create(
            {"kind": "person", "display_name": "Marie Dupont", "emails": ["marie@example.com"]}
        )
        assert outcome == "created"
        same, outcome = s.parties.resolve_or_create(
            {"kind": "person", "display_name": "Marie", "emails": [" Marie@Example.com "],
             "phones": ["06 12 34 56 78"], "tags": ["vip"]}
        )  # fmt: skip
        assert (same.id, outcome) == (party.id, "updated")
        assert same.display_name == "Marie Dupont"  # names are not overwritten
        assert {c.kind for c in same.contact_points} == {"email", "phone"} and same.tags == ("vip",)
        _, outcome = s.parties.resolve_or_create(
            {"kind": "person", "display_name": "Marie", "phones": ["+33612345678"]}
        )
        assert outcome == "unchanged"
