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


def test_a_party_created_then_undone_leaves_no_stale_object_behind(app: XRM) -> None:
    """SQLite gives an undone row's id again: the unit of work must not keep the undone
    object under that id (SQLAlchemy would warn, then replace it, at the next insert)."""
    import warnings

    rows: list[dict[str, Any]] = [
        {"name": "Ann", "emails": ["A@X.org"], "identifiers": {"legacy": "1"}, "tags": ["t2"]},
        {"name": "Bob", "emails": ["A@X.org", "A@X.org"], "roles": [{"type": "customer"}]},
        # created, then refused: it has no such contact point
        {"name": "Bob", "consents": [{"purpose": "marketing", "channel": "email",
                                      "contact_point": "A@X.ORG"}]},
        {"name": "Ann", "kind": "organization", "identifiers": {"legacy": "2"},
         "roles": [{"type": "customer"}],
         "consents": [{"purpose": "marketing"},
                      {"purpose": "surveys", "contact_point": "a@x.org"}]},
        {"name": "", "identifiers": {"legacy": "2"}, "emails": ["a@x.org", "A@X.org"],
         "tags": ["t1", "t1"],
         "consents": [{"purpose": "surveys", "decision": "withdrawn", "channel": "email"}]},
    ]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with app.session() as s:
            outcomes: list[Any] = []
            for row in rows:
                try:
                    outcomes.append(s.imports.import_one(row)[0])
                except ValidationError as exc:  # kept, as a report keeps it (with its frames)
                    outcomes.append(exc)
            assert [o if isinstance(o, str) else "refused" for o in outcomes] == [
                "created", "updated", "refused", "refused", "updated",
            ]  # fmt: skip


@pytest.mark.parametrize(
    ("write", "field"),
    [
        (lambda s, b: s.parties.create("person", "A\x00"), "display_name"),
        (lambda s, b: s.parties.update(b, attributes={"note": "x\x00"}), "attributes.note"),
        (lambda s, b: s.interactions.record(channel="phone", direction="inbound",
                                            subject="\x00", participants=[(b, "caller")]),
         "interaction.subject"),
    ],
)  # fmt: skip
def test_a_nul_character_is_refused_naming_the_field_on_every_database(
    app: XRM, unchanged: Any, write: Any, field: str
) -> None:
    with app.session() as s:
        b = s.parties.create("person", "B").id
    with unchanged(), app.session() as s, pytest.raises(ValidationError) as refused:
        write(s, b)
    assert [e.path for e in refused.value.errors] == [field]
    assert "NUL" in refused.value.errors[0].reason
