"""Recognise the party at every touchpoint: ``s.identity.resolve``."""

from __future__ import annotations

import pytest

from xrm import XRM, Conflict, Email, Phone, ValidationError


def test_the_same_person_written_two_ways_is_recognised_on_import(app: XRM) -> None:
    with app.session() as s:
        first, known = s.imports.import_one(
            {"name": "DUPONT Marie", "emails": ["MARIE.DUPONT@example.com"],
                "phones": ["+33612345678"]},
        )  # fmt: skip
        again, same = s.imports.import_one(
            {"name": "Marie Dupont", "emails": ["marie.dupont@Example.com"],
                "phones": ["06 12 34 56 78"], "region": "FR"},
        )  # fmt: skip
        assert (first, again, same) == ("created", "unchanged", known)
        assert s.parties.count() == 1


def test_resolve_by_email_phone_identifier_or_interaction_reference(app: XRM) -> None:
    with app.session() as s:
        marie = s.parties.create("person", "Marie", contact_points=[Email("m@example.com"),
                                                                      Phone("+33612345678")],
                                 identifiers={"crm.legacy": "A-17"})  # fmt: skip
        agent = s.parties.create("person", "Agent")
        s.interactions.record(channel="email", direction="inbound", external_ref="<msg-1@x>",
                              participants=[(marie, "sender"), (agent, "agent")])  # fmt: skip
        resolve = s.identity.resolve
        assert resolve(email=" M@EXAMPLE.com") == resolve(phone="06 12 34 56 78") == marie
        assert resolve(identifier=("crm.legacy", "A-17")) == marie
        assert resolve(external_ref="<msg-1@x>") == marie
        assert resolve(email="m@example.com", phone="+33 6 12 34 56 78") == marie
        assert resolve(email="nobody@example.com") is None
        with pytest.raises(ValidationError):
            resolve()


def test_details_of_two_different_parties_are_a_conflict(app: XRM) -> None:
    with app.session() as s:
        s.parties.create("person", "A", contact_points=[Email("a@example.com")])
        s.parties.create("person", "B", contact_points=[Phone("+33612345678")])
        with pytest.raises(Conflict, match="different parties"):
            s.identity.resolve(email="a@example.com", phone="+33612345678")
