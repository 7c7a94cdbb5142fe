"""The unit of work: all or nothing."""

from __future__ import annotations

from typing import Any

import pytest

from xrm import XRM, Conflict, Email, ValidationError


def test_changes_are_committed_when_the_block_ends(app: XRM) -> None:
    with app.session() as s:
        s.parties.create("person", "Jo")
    with app.session() as s:
        assert s.parties.count() == 1


def test_an_error_anywhere_in_the_block_rolls_everything_back(app: XRM, unchanged: Any) -> None:
    with unchanged(), pytest.raises(RuntimeError), app.session() as s:
        p = s.parties.create("person", "Jo", contact_points=[Email("jo@example.com")])
        s.roles.assign(p, "customer")
        raise RuntimeError("the application failed after writing")


def test_a_caught_error_undoes_only_that_call(app: XRM) -> None:
    with app.session() as s:
        s.parties.create("organization", "ACME", identifiers={"fr.siren": "732829320"})
        with pytest.raises(Conflict):
            s.parties.create("organization", "Copy", identifiers={"fr.siren": "732829320"})
        with pytest.raises(ValidationError):
            s.parties.create("person", "Bad", contact_points=[Email("bad")])
        s.parties.create("person", "Good")
    with app.session() as s:
        assert [p.display_name for p in s.parties.list()] == ["ACME", "Good"]


def test_records_stay_readable_after_the_session(app: XRM) -> None:
    with app.session() as s:
        p = s.parties.create("person", "Jo", contact_points=[Email("jo@example.com")])
    assert p.contact_points[0].key == "jo@example.com"
