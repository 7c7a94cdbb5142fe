"""The unit of work: all or nothing."""

from __future__ import annotations

from typing import Any

import pytest

from xrm import XRM, Conflict, Email, SessionClosed, ValidationError, XRMError


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
         "subject"),
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


CLOSED = "this unit of work has ended: open a new one with app.session()"


@pytest.mark.parametrize("ending", ["committed", "rolled back"])
def test_a_session_used_after_its_block_refuses_at_once(app: XRM, ending: str) -> None:
    with app.session() as s:
        jo = s.parties.create("person", "Jo", contact_points=[Email("jo@example.com")])
    if ending == "committed":
        with app.session() as s:
            s.parties.get(jo)
    else:
        with pytest.raises(RuntimeError), app.session() as s:
            raise RuntimeError("the block failed")
    assert s.closed
    uses: list[Any] = [
        lambda: s.parties.create("person", "Lost"),
        lambda: s.parties.get(jo),
        lambda: s.parties.tag(jo, "vip"),
        lambda: s.parties.find(email="jo@example.com"),
        lambda: s.parties.list(),
        lambda: s.roles.assign(jo, "customer"),
        lambda: s.imports.import_many([{"name": "Lost", "emails": ["lost@example.com"]}]),
        lambda: s.timeline(jo),
        lambda: s.record_event("app.thing", parties=[jo]),
        lambda: s.db,
    ]
    for use in uses:
        with pytest.raises(SessionClosed) as refused:
            use()
        assert str(refused.value) == CLOSED
    # nothing was written, and the database is not held: the next writer gets in at once
    other = XRM(app.url, builtins=False, discover=False,
                engine_options={"connect_args": {"timeout": 0.5}}
                if app.engine.dialect.name == "sqlite" else {})  # fmt: skip
    try:
        with other.session() as fresh:
            assert [p.display_name for p in fresh.parties.list()] == ["Jo"]
            fresh.parties.tag(jo, "vip")
    finally:
        other.dispose()


#: writes refused by the database or by the flush, not by the input checks
REFUSED_LATE: list[Any] = [
    # the before-flush check: the error is raised inside the flush
    pytest.param(lambda s, b: s.parties.create("person", "A\x00"), id="NUL"),
    pytest.param(lambda s, b: s.parties.create("person", "A\ud800"), id="lone surrogate"),
    pytest.param(
        lambda s, b: s.parties.update(b, attributes={"n": "\udfff"}),
        id="lone surrogate in attributes",
    ),
    # refused by PostgreSQL (JSON has no NaN; a varchar(200) column); SQLite stores them
    pytest.param(lambda s, b: s.parties.update(b, attributes={"n": float("nan")}), id="NaN"),
    pytest.param(
        lambda s, b: s.parties.add_identifier(b, "legacy", "9" * 1000), id="value too long"
    ),
    pytest.param(
        lambda s, b: s.record_event("app.noted", parties=[b], data={"x": float("inf")}),
        id="infinity in an event",
    ),
    # a plugin's own write refused at flush, inside a call of the application's
    pytest.param(lambda s, b: _flush_a_duplicate_tag(s, b), id="constraint at flush"),
]


def _flush_a_duplicate_tag(s: Any, party: int) -> None:
    from xrm.core.models import PartyTagRow

    with s.atomic():
        s.db.add(PartyTagRow(party_id=party, tag="twice"))
        s.db.add(PartyTagRow(party_id=party, tag="twice"))
        s.db.flush()


@pytest.mark.parametrize("write", REFUSED_LATE)
def test_a_caught_error_leaves_the_unit_of_work_usable_on_every_database(
    app: XRM, write: Any
) -> None:
    with app.session() as s:
        b = s.parties.create("person", "B").id
    with app.session() as s:
        s.parties.tag(b, "before")
        try:
            write(s, b)
        except XRMError:
            refused = True
        else:
            refused = False
        # the unit of work goes on: reads, writes, and the commit at the end
        assert s.parties.get(b).tags == ("before",)
        s.parties.create("person", "After", contact_points=[Email("after@example.com")])
        s.parties.tag(b, "after")
    with app.session() as s:
        assert sorted(p.display_name for p in s.parties.list()) == ["After", "B"]
        assert s.parties.get(b).tags == ("after", "before")
    # PostgreSQL refuses every one of them; SQLite stores a NaN, an infinity, long text
    assert refused or app.engine.dialect.name == "sqlite"


def test_a_caught_error_inside_a_group_leaves_the_group_and_the_unit_of_work_usable(
    app: XRM,
) -> None:
    with app.session() as s:
        with s.atomic():
            kept = s.parties.create("person", "Kept").id
            with pytest.raises(ValidationError):
                s.parties.create("person", "Bad\ud800")
            s.parties.tag(kept, "inside")
        with pytest.raises(ValidationError), s.atomic():
            s.parties.create("person", "Undone with its group")
            s.parties.update(kept, attributes={"bad": "\x00"})
        s.parties.create("person", "Later")
    with app.session() as s:
        assert sorted(p.display_name for p in s.parties.list()) == ["Kept", "Later"]
        assert s.parties.get(kept).tags == ("inside",)


def test_the_bulk_import_refuses_a_nul_character_as_every_other_path(app: XRM) -> None:
    """The bulk statements go round the ORM's check: they look for NUL themselves, and the
    row-by-row path names the row's field; the other rows of the batch are imported."""
    rows: list[dict[str, Any]] = [
        {"name": "Ok", "emails": ["ok@example.com"]},
        {"name": "N\x00ul", "emails": ["nul@example.com"]},
        {"name": "In data", "contact_points": [
            {"kind": "postal", "lines": ["1 rue\x00"], "city": "Paris", "country": "FR"}]},
        {"name": "In a role", "emails": ["role@example.com"],
         "roles": [{"type": "customer", "attributes": {"note": "\x00"}}]},
        {"name": "In a consent", "emails": ["consent@example.com"],
         "consents": [{"purpose": "marketing", "source": "web\x00"}]},
        {"name": "Ok too", "emails": ["ok2@example.com"]},
    ]  # fmt: skip
    with app.session() as s:
        results = s.imports.import_many(rows)
    assert [r.outcome for r in results] == ["created", None, None, None, None, "created"]
    for result in results[1:5]:
        assert isinstance(result.error, ValidationError)
        assert all("NUL" in e.reason and e.path for e in result.error.errors), result.error
    with app.session() as s:
        assert sorted(p.display_name for p in s.parties.list()) == ["Ok", "Ok too"]
