"""Typed journal events: one class per type, the same event from every path, the docs'
list generated from the classes, and plugins' own types registered and checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest

from xrm import XRM, Email, JournalEvent, ValidationError, hookimpl, personal
from xrm.core.events import CORE_EVENTS, events_markdown, personal_keys

DOCS = Path(__file__).resolve().parent.parent / "docs" / "events.md"


def test_the_docs_list_every_event_type_as_the_classes_declare_it() -> None:
    text = DOCS.read_text(encoding="utf-8")
    fix = "regenerate it: see the command in docs/events.md"
    assert text.endswith(events_markdown()), fix
    for event_type in CORE_EVENTS:
        assert f"| `{event_type.TYPE}` |" in text


def test_every_core_type_is_named_once_with_a_docstring() -> None:
    names = [t.TYPE for t in CORE_EVENTS]
    assert len(names) == len(set(names))
    assert all((t.__doc__ or "").strip() for t in CORE_EVENTS)


def test_the_marks_say_where_personal_data_is() -> None:
    created = personal_keys(next(t for t in CORE_EVENTS if t.TYPE == "party.created"))
    assert created.whole == {"display_name", "value", "identifiers", "tags"}
    updated = personal_keys(next(t for t in CORE_EVENTS if t.TYPE == "role.updated"))
    assert updated.facts == {"from", "to"}  # the attributes before and after


def test_the_import_and_the_service_write_the_same_party_created(app: XRM) -> None:
    given = {"name": "Ann Lee", "emails": ["ann@example.com"], "tags": ["vip"]}
    with app.session() as s:
        by_service = s.parties.create(
            "person", "Ann Lee", contact_points=[Email("ann@example.com")], tags=["vip"]
        )
    other = XRM(app.url.replace(".db", "-2.db"), builtins=False, discover=False)
    if app.engine.dialect.name != "sqlite":
        pytest.skip("compares two SQLite files")
    other.upgrade()
    with other.session() as s:
        (result,) = s.imports.import_many([given])
        assert result.error is None
    events = []
    for each, pid in ((app, by_service.id), (other, result.party_id)):
        with each.session() as s:
            (entry,) = s.timeline(pid or 0, types=["party.created"]).items
            events.append(entry.data)
    other.dispose()
    assert events[0] == events[1]


@attrs.frozen(kw_only=True)
class CardIssued(JournalEvent):
    """A loyalty card was issued."""

    TYPE = "loyalty.card_issued"
    ENTITY = "role"
    number: str
    note: str | None = personal(default=None)


class Loyalty:
    @hookimpl
    def xrm_event_types(self) -> list[type[JournalEvent]]:
        return [CardIssued]


def test_a_plugin_registers_its_event_type_and_its_data_is_checked(xrm_factory: Any) -> None:
    app = xrm_factory(plugins=[Loyalty()], builtins=False, discover=False)
    assert app.registry.event_types["loyalty.card_issued"] is CardIssued
    with app.session() as s:
        ann = s.parties.create("person", "Ann")
        s.record_event("loyalty.card_issued", parties=[ann], data={"number": "L1"})
        s.journal(CardIssued(entity_id=None, parties=(ann.id,), number="L2", note="gold"))
        with pytest.raises(ValidationError, match="data"):
            s.record_event("loyalty.card_issued", parties=[ann], data={"numero": "L3"})
        entries = s.timeline(ann, types=["loyalty.card_issued"]).items
    assert [e.data for e in entries] == [
        {"number": "L2", "note": "gold"},
        {"number": "L1", "note": None},
    ]


def test_an_event_type_must_be_a_journal_event_with_a_dotted_name(xrm_factory: Any) -> None:
    from xrm import ConfigurationError

    @attrs.frozen(kw_only=True)
    class Nameless(JournalEvent):
        """No dotted name."""

        TYPE = "nameless"

    class Bad:
        @hookimpl
        def xrm_event_types(self) -> list[Any]:
            return [Nameless]

    with pytest.raises(ConfigurationError, match="dotted"):
        xrm_factory(plugins=[Bad()], builtins=False, discover=False)


def test_a_plugin_event_type_marks_drive_erasure(xrm_factory: Any) -> None:
    app = xrm_factory(plugins=[Loyalty()], builtins=False, discover=False)
    with app.session() as s:
        ann = s.parties.create("person", "Ann")
        s.record_event(
            "loyalty.card_issued", parties=[ann], data={"number": "L1", "note": "likes jazz"}
        )
        s.gdpr.erase(ann, reason="request 7")
        (entry,) = s.timeline(ann, types=["loyalty.card_issued"]).items
    assert entry.data == {"number": "L1", "note": "[erased]"}
