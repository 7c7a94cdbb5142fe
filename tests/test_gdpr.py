"""GDPR: the export validates against the published schema and holds everything; erasure
leaves no trace of the person in any table (a scan of every cell proves it), keeps the
facts, obeys a plugin's veto, and leaves suppression entries that a later create or import
of the same address meets."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, delete, inspect, select

from xrm import (
    XRM,
    Conflict,
    ConsentRequired,
    Email,
    ImportedParty,
    Party,
    Phone,
    PluginError,
    PostalAddress,
    Session,
    ValidationError,
    hookimpl,
)
from xrm.core.gdpr.export import export_party
from xrm.core.gdpr.service import (
    ERASED,
    EXPORT_FORMAT,
    SCHEMA_ID,
    ErasureReport,
    GdprService,
    party_export_schema,
    published_schema,
    schema_text,
)
from xrm.core.models import PartyRow

ROOT = Path(__file__).resolve().parent.parent
T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)


def gdpr(s: Session) -> GdprService:
    return s.gdpr


# -- the scan and the snapshot: every row of every table present ---------------------------
def _cells(app: XRM) -> Iterator[tuple[str, str, str]]:
    """(table, column, text) of every cell of every table in the database: the core's, the
    plugins', Alembic's; JSON as its text."""
    with app.engine.connect() as conn:
        for name in sorted(inspect(conn).get_table_names()):
            table = Table(name, MetaData(), autoload_with=conn)
            for row in conn.execute(select(table)):
                for column, cell in zip(table.c, row, strict=True):
                    if cell is None:
                        continue
                    if isinstance(cell, dict | list):
                        text = json.dumps(cell, ensure_ascii=False)
                    elif isinstance(cell, bytes):
                        text = cell.decode("utf-8", "replace")
                    else:
                        text = str(cell)
                    yield name, column.name, text


def scan(app: XRM, values: Iterable[str]) -> list[tuple[str, str, str]]:
    """Where any of ``values`` still appears, case-insensitively, as (table, column, value)."""
    return scan_each(app, [values])[0]


def scan_each(app: XRM, groups: list[Iterable[str]]) -> list[list[tuple[str, str, str]]]:
    """:func:`scan` for several groups of values, reading the database once."""
    needles = [{v.casefold() for v in values if v and v.strip()} for values in groups]
    hits: list[set[tuple[str, str, str]]] = [set() for _ in groups]
    for table, column, text in _cells(app):
        folded = text.casefold()
        for found, group in zip(hits, needles, strict=True):
            found.update((table, column, n) for n in group if n in folded)
    return [sorted(found) for found in hits]


def snapshot(app: XRM) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table present, sorted: equal snapshots, equal databases."""
    result: dict[str, list[tuple[Any, ...]]] = {}
    with app.engine.connect() as conn:
        for name in sorted(inspect(conn).get_table_names()):
            table = Table(name, MetaData(), autoload_with=conn)
            rows = conn.execute(select(table)).all()
            result[name] = sorted((tuple(r) for r in rows), key=repr)
    return result


@contextmanager
def unchanged(app: XRM) -> Iterator[None]:
    before = snapshot(app)
    yield
    assert snapshot(app) == before


def phone_forms(national: str) -> list[str]:
    """A French mobile number in the ways people write it."""
    digits = re.sub(r"\D", "", national)
    e164 = "+33" + digits[1:]
    spaced = " ".join(digits[i : i + 2] for i in range(0, 10, 2))
    return [national, digits, e164, spaced, f"+33 {digits[1]} {spaced[3:]}"]


# -- a party with something everywhere ------------------------------------------------------
MARIE_VALUES = [
    "Marie Dupont",
    "Marie",
    "Dupont",
    "Marie Martin-Dupont",
    "marie.dupont@example.com",
    "old.marie@example.org",
    *phone_forms("06 12 34 56 78"),
    "33612345678",
    "12 rue des Lilas",
    "FIDELITE-778899",
    "1984-03-07",
    "allergic to peanuts",
    "Printer jams again",
    "Marie says the paper tray 2 jams after ten pages",
    "PBX-991-MARIE",
    "signed the paper form 2025-01",
    "prefers-mornings",
    "customer since the Lyon fair",
    "met at the Lyon fair",
]


def make_marie(s: Session) -> dict[str, int]:
    """Marie, her employer, a colleague, an agent, and a history touching every table."""
    acme = s.parties.create("organization", "ACME Industries").id
    bob = s.parties.create("person", "Bob Colleague").id
    agent = s.parties.create("person", "Agent Smith").id
    marie = s.parties.create(
        "person",
        given_name="Marie",
        family_name="Dupont",
        birth_date=dt.date(1984, 3, 7),
        attributes={"diet": "allergic to peanuts", "children": 2},
        contact_points=[
            Email("MARIE.DUPONT@example.com", label="home"),
            Email("old.marie@example.org"),
            Phone("06 12 34 56 78"),
            PostalAddress(lines=["12 rue des Lilas"], postcode="69003", city="Lyon", country="FR"),
        ],
        identifiers={"shop.loyalty": "FIDELITE-778899"},
        tags=["prefers-mornings"],
    ).id
    s.parties.update(marie, display_name="Marie Martin-Dupont")
    s.parties.update(marie, display_name="Marie Dupont")
    old = next(c for c in s.parties.get(marie).contact_points if c.value == "old.marie@example.org")
    s.parties.remove_contact_point(marie, old)
    role = s.roles.assign(
        marie,
        "customer",
        attributes={
            "since": "2024-05-02",
            "lifetime_value": 1250.5,
            "origin": "Lyon fair",
            "callback": 33612345678,
        },
        note="customer since the Lyon fair",
        at=T0 - dt.timedelta(days=300),
    )
    role = s.roles.transition(role, "prospect", at=T0 - dt.timedelta(days=250))
    role = s.roles.transition(role, "customer", at=T0 - dt.timedelta(days=200))
    s.roles.end(role, at=T0 - dt.timedelta(days=10))
    s.relationships.create(
        "works_for", marie, acme, valid_from=dt.date(2020, 1, 1), valid_to=dt.date(2024, 1, 1)
    )
    s.relationships.create(
        "knows",
        marie,
        bob,
        valid_from=dt.date(2021, 6, 1),
        attributes={"how": "met at the Lyon fair"},
    )
    s.interactions.record(
        channel="phone",
        direction="inbound",
        touchpoint="support",
        occurred_at=T0,
        subject="Printer jams again",
        content="Marie says the paper tray 2 jams after ten pages",
        outcome="ticket opened",
        external_ref="PBX-991-MARIE",
        attributes={"duration_s": 312, "callback_on": "2025-03-04", "mood": "cross"},
        participants=[(marie, "caller", "06 12 34 56 78"), (agent, "agent")],
    )
    s.consents.grant(
        marie,
        "marketing",
        source="web_form",
        contact_point="marie.dupont@example.com",
        evidence="signed the paper form 2025-01",
        captured_at=T0 + dt.timedelta(days=1),
    )
    s.interactions.record(
        channel="email",
        direction="outbound",
        purpose="marketing",
        touchpoint="marketing",
        occurred_at=T0 + dt.timedelta(days=2),
        subject="Spring offers",
        participants=[(marie, "recipient")],
    )
    s.consents.withdraw(
        marie, "marketing", source="unsubscribe_link", captured_at=T0 + dt.timedelta(days=3)
    )
    return {"marie": marie, "acme": acme, "bob": bob, "agent": agent}


@pytest.fixture
def people(app: XRM) -> dict[str, int]:
    with app.session(actor="desk") as s:
        return make_marie(s)


def validator() -> jsonschema.protocols.Validator:
    schema = published_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


# -- export -------------------------------------------------------------------------------
def test_the_export_validates_against_the_published_schema_and_holds_everything(
    app: XRM, people: dict[str, int]
) -> None:
    with app.session() as s:
        doc = gdpr(s).export(people["marie"])
    validator().validate(doc)
    assert doc["format"] == EXPORT_FORMAT == "xrm.party-export/1"
    party = doc["party"]
    assert (party["display_name"], party["birth_date"]) == ("Marie Dupont", "1984-03-07")
    assert party["attributes"] == {"diet": "allergic to peanuts", "children": 2}
    assert {c["value"] for c in party["contact_points"] if c["kind"] == "email"} == {
        "MARIE.DUPONT@example.com"
    }
    assert party["identifiers"] == [{"scheme": "shop.loyalty", "value": "FIDELITE-778899"}]
    assert party["tags"] == ["prefers-mornings"]
    (role,) = doc["roles"]
    assert (role["type"], role["current"], role["ended_at"] is not None) == (
        "customer", False, True
    )  # fmt: skip
    assert [t["to_state"] for t in role["transitions"]] == ["lead", "prospect", "customer"]
    links = {r["type"]: r for r in doc["relationships"]}
    assert links["works_for"]["label"] == "works for"
    assert links["works_for"]["valid_to"] == "2024-01-01"  # ended, still exported
    assert links["works_for"]["other"] == {
        "id": people["acme"], "kind": "organization", "display_name": "ACME Industries"
    }  # fmt: skip
    # another person's name is that person's data (art. 15(4)): id and kind only
    assert links["knows"]["other"] == {"id": people["bob"], "kind": "person", "display_name": None}
    calls = [i for i in doc["interactions"] if i["channel"] == "phone"]
    assert calls[0]["content"] == "Marie says the paper tray 2 jams after ten pages"
    assert len(doc["interactions"]) == 2
    assert [c["decision"] for c in doc["consents"]] == ["granted", "withdrawn"]
    assert doc["consents"][0]["evidence"] == "signed the paper form 2025-01"
    types = [e["type"] for e in doc["timeline"]]
    assert types[0] == "party.created" and "contact_point.removed" in types
    assert types.count("interaction.recorded") == 2
    assert doc["plugins"] == {}
    assert doc["merged_parties"] == []


def test_the_export_reads_in_pages_and_streams_the_same_document(
    app: XRM, people: dict[str, int]
) -> None:
    with app.session() as s:
        for i in range(7):
            s.interactions.record(
                channel="chat", direction="inbound", occurred_at=T0 + dt.timedelta(hours=i),
                participants=[(people["marie"], "sender")], subject=f"question {i}",
            )  # fmt: skip
        whole = s.gdpr.export(people["marie"])
        paged = s.gdpr.paged(2).export(people["marie"])
        out = io.StringIO()
        s.gdpr.paged(3).write_export(people["marie"], out)
        cli = export_party(s, people["marie"], page=4)  # what `xrm export` writes
    streamed = json.loads(out.getvalue())
    for doc in (paged, streamed, cli):
        validator().validate(doc)
        assert {**doc, "exported_at": None} == {**whole, "exported_at": None}
    assert len(whole["interactions"]) == 9
    assert len({i["id"] for i in whole["interactions"]}) == 9


def test_a_document_missing_a_section_or_with_a_foreign_field_is_refused(
    app: XRM, people: dict[str, int]
) -> None:
    with app.session() as s:
        doc = gdpr(s).export(people["marie"])
    check = validator()
    for broken in (
        {k: v for k, v in doc.items() if k != "consents"},
        {**doc, "format": "xrm.party-export/2"},
        {**doc, "party": {**doc["party"], "shoe_size": 38}},
        {**doc, "roles": [{**doc["roles"][0], "transitions": "none"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            check.validate(broken)


def test_the_published_schema_is_the_models_and_is_in_the_docs() -> None:
    fix = '.venv/bin/python -c "import xrm.core.gdpr as g; g.write_schema()"'
    assert published_schema() == party_export_schema(), f"regenerate it: {fix}"
    path = ROOT / "xrm" / "schemas" / "party-export.schema.json"
    assert path.read_text(encoding="utf-8") == schema_text(), f"regenerate it: {fix}"
    assert published_schema()["$id"] == SCHEMA_ID
    docs = (ROOT / "docs" / "gdpr.md").read_text(encoding="utf-8")
    embedded = docs.split("<!-- schema:start -->\n```json\n", 1)[1].split("```\n<!-- schema:end")[0]
    assert embedded == schema_text(), "docs/gdpr.md: paste xrm/schemas/party-export.schema.json"


def test_a_party_merged_into_another_is_exported_with_it(app: XRM) -> None:
    with app.session() as s:
        kept = s.parties.create("person", "Ann Keeper", contact_points=[Email("ann@keep.example")])
        old = s.parties.create("person", "Ann Olddup", contact_points=[Email("ann@old.example")])
        s.db.get_one(PartyRow, old.id).merged_into_id = kept.id
        s.db.flush()
        doc = gdpr(s).export(kept)
        with pytest.raises(Conflict, match=f"merged into party {kept.id}"):
            gdpr(s).export(old)
    validator().validate(doc)
    assert [p["display_name"] for p in doc["merged_parties"]] == ["Ann Olddup"]


# -- erasure ------------------------------------------------------------------------------
def test_erasure_anonymises_everything_and_the_scan_finds_nothing(
    app: XRM, people: dict[str, int]
) -> None:
    marie = people["marie"]
    # the scan sees every one of them before (but two ways of writing the phone)
    missing = {v.casefold() for v in MARIE_VALUES} - {n for *_, n in scan(app, MARIE_VALUES)}
    assert missing == {"0612345678", "+33 6 12 34 56 78"}
    with app.session(actor="dpo") as s:
        before = gdpr(s).export(marie)
        report = gdpr(s).erase(marie, reason="request DSR-2025-0042")
    assert scan(app, MARIE_VALUES) == []
    assert isinstance(report, ErasureReport)
    assert (report.party_id, report.parties, report.reason) == (
        marie, (marie,), "request DSR-2025-0042"
    )  # fmt: skip
    assert (report.contact_points, report.identifiers, report.tags) == (3, 1, 1)
    assert (report.roles, report.relationships, report.consent_records) == (1, 2, 2)
    assert (report.interactions_cleared, report.interactions_redacted) == (2, 0)
    assert report.suppressions >= 2 and report.also_held_by == ()

    with app.session() as s:
        after = gdpr(s).export(marie)
        party = s.parties.get(marie)
        bob_view = s.interactions.of(people["agent"]).items[0]
        assert gdpr(s).is_erased(marie) and not gdpr(s).is_erased(people["bob"])
    validator().validate(after)
    # the record stays, anonymous: kind, dates, counts, states, amounts
    assert (party.kind, party.display_name, party.given_name, party.birth_date) == (
        "person", f"erased party {marie}", None, None
    )  # fmt: skip
    assert party.attributes == {"erased": True}
    assert after["party"]["created_at"] == before["party"]["created_at"]
    assert (party.identifiers, party.tags) == ((), ())
    assert len(party.contact_points) == 3
    assert all(c.suppressed and c.value == ERASED for c in party.contact_points)
    assert [c.country for c in party.contact_points] == [None, "FR", "FR"]
    (role,) = after["roles"]
    kept = ("state", "started_at", "ended_at")
    assert [role[k] for k in kept] == [before["roles"][0][k] for k in kept]
    # numbers and dates describe without naming; text is gone
    assert role["attributes"] == {"since": "2024-05-02", "lifetime_value": 1250.5}
    assert all(t["note"] is None for t in role["transitions"])
    assert [(r["type"], r["valid_from"], r["valid_to"]) for r in after["relationships"]] == [
        (r["type"], r["valid_from"], r["valid_to"]) for r in before["relationships"]
    ]
    call = next(i for i in after["interactions"] if i["channel"] == "phone")
    assert (call["occurred_at"], call["direction"], call["touchpoint"], call["outcome"]) == (
        "2025-03-01T09:00:00Z", "inbound", "support", None
    )  # fmt: skip
    assert (call["subject"], call["content"], call["external_ref"]) == (None, None, None)
    assert call["attributes"] == {"duration_s": 312, "callback_on": "2025-03-04"}
    assert len(call["participants"]) == 2
    # the agent still sees that the call happened, without its content
    assert (bob_view.id, bob_view.subject, bob_view.content) == (call["id"], None, None)
    assert [(c["decision"], c["effective_from"]) for c in after["consents"]] == [
        (c["decision"], c["effective_from"]) for c in before["consents"]
    ]
    assert all(c["evidence"] is None for c in after["consents"])
    assert re.fullmatch(r"[0-9a-f]{64}", after["consents"][0]["contact_key"])
    assert len(after["timeline"]) == len(before["timeline"]) + 1
    erased = after["timeline"][-1]
    assert (erased["type"], erased["actor"]) == ("party.erased", "dpo")
    assert erased["data"]["reason"] == "request DSR-2025-0042"
    assert erased["data"]["counts"]["contact_points"] == 3


def test_a_plugin_contributes_to_the_export_and_erases_its_own_table(
    xrm_factory: Callable[..., XRM],
) -> None:
    plugin = Loyalty()
    app = xrm_factory(plugins=[plugin], discover=False)
    values = ["CARD-55501", "Marie Dupont", "m@ex.example"]
    with plugin.installed(app):
        with app.session() as s:
            marie = s.parties.create(
                "person", "Marie Dupont", contact_points=[Email("m@ex.example")]
            )
            plugin.add_card(s, marie, "CARD-55501")
            doc = gdpr(s).export(marie)
        validator().validate(doc)
        assert doc["plugins"] == {
            "loyalty": {"cards": [{"number": "CARD-55501", "holder": "Marie Dupont"}]}
        }
        assert ("gdprtest_loyalty_card", "number", "card-55501") in scan(app, values)
        with app.session() as s:
            gdpr(s).erase(marie, reason="request 7")
        # the plugin saw the party as it was, before the core erased it
        assert plugin.erased == [(marie.id, "Marie Dupont", "request 7")]
        assert scan(app, values) == []


def test_a_plugin_export_that_is_not_a_mapping_names_the_plugin(
    xrm_factory: Callable[..., XRM],
) -> None:
    class Broken:
        __name__ = "broken"

        @hookimpl
        def xrm_party_export(self) -> list[str]:
            return ["not", "a", "mapping"]

    app = xrm_factory(plugins=[Broken()], discover=False)
    with app.session() as s:
        party = s.parties.create("person", "Someone")
        with pytest.raises(PluginError, match="'broken' failed in xrm_party_export: returned list"):
            gdpr(s).export(party)


def test_the_scan_sees_a_plugin_table_that_was_not_erased(
    xrm_factory: Callable[..., XRM],
) -> None:
    plugin = Loyalty(erases=False)
    app = xrm_factory(plugins=[plugin], discover=False)
    with plugin.installed(app):
        with app.session() as s:
            marie = s.parties.create("person", "Marie Dupont")
            plugin.add_card(s, marie, "CARD-55502")
            gdpr(s).erase(marie, reason="request 8")
        assert scan(app, ["CARD-55502", "Marie Dupont"]) == [
            ("gdprtest_loyalty_card", "holder", "marie dupont"),
            ("gdprtest_loyalty_card", "number", "card-55502"),
        ]


def test_a_plugin_veto_leaves_the_database_exactly_as_it_was(
    xrm_factory: Callable[..., XRM],
) -> None:
    plugin = Loyalty(veto="2 open contracts")
    app = xrm_factory(plugins=[plugin, Loyalty(name="quiet")], discover=False)
    with plugin.installed(app):
        with app.session() as s:
            marie = s.parties.create(
                "person", "Marie Dupont", contact_points=[Email("marie.dupont@example.com")]
            )
            plugin.add_card(s, marie, "CARD-55503")
        with unchanged(app):
            with app.session() as s:
                with pytest.raises(PluginError) as err:
                    gdpr(s).erase(marie, reason="request 9")
                # the unit of work goes on: the veto undid the erasure only
                assert s.parties.get(marie).display_name == "Marie Dupont"
            assert err.value.plugin == "loyalty" and err.value.hook == "xrm_party_erase"
            assert isinstance(err.value.__cause__, Conflict)
            assert "'loyalty'" in str(err.value) and "2 open contracts" in str(err.value)
            with pytest.raises(PluginError, match="2 open contracts"), app.session() as s:
                gdpr(s).erase(marie, reason="request 9")


def test_erasing_twice_is_refused_and_changes_nothing(app: XRM, people: dict[str, int]) -> None:
    with app.session() as s:
        gdpr(s).erase(people["marie"], reason="request 10")
    with unchanged(app), app.session() as s, pytest.raises(Conflict, match="already erased"):
        gdpr(s).erase(people["marie"], reason="request 10 again")


def test_a_reason_holding_the_erased_data_is_refused(app: XRM, people: dict[str, int]) -> None:
    with unchanged(app), app.session() as s:
        for reason in ("asked by marie.dupont@example.com", "Marie Dupont called", "  ", "x" * 301):
            with pytest.raises(ValidationError, match="reason"):
                gdpr(s).erase(people["marie"], reason=reason)


def test_the_parties_merged_into_the_erased_one_are_erased_with_it(app: XRM) -> None:
    with app.session() as s:
        kept = s.parties.create("person", "Ann Keeper", contact_points=[Email("ann@keep.example")])
        old = s.parties.create(
            "person", "Ann Olddup", contact_points=[Phone("06 98 76 54 32")], tags=["vip-ann"]
        )
        s.db.get_one(PartyRow, old.id).merged_into_id = kept.id
        s.db.flush()
        with pytest.raises(Conflict, match=f"merged into party {kept.id}"):
            gdpr(s).erase(old, reason="request 11")
        report = gdpr(s).erase(kept, reason="request 11")
    assert report.parties == (kept.id, old.id)
    values = ["Ann Keeper", "Ann Olddup", "ann@keep.example", "vip-ann", *phone_forms("0698765432")]
    assert scan(app, values) == []
    with app.session() as s:
        assert gdpr(s).suppressed(phone="06 98 76 54 32")
        assert s.parties.get(old, follow_merges=False).display_name == f"erased party {old.id}"


def test_an_agent_is_erased_from_the_texts_that_other_parties_keep(app: XRM) -> None:
    with app.session(actor="Zed Agentson") as s:
        zed = s.parties.create(
            "person", given_name="Zed", family_name="Agentson",
            contact_points=[Email("zed.agentson@corp.example"), Phone("+33698765432")],
        )  # fmt: skip
        carol = s.parties.create("person", "Carol Client")
        call = s.interactions.record(
            channel="phone", direction="inbound", occurred_at=T0,
            subject="Refund promised by Zed",
            content="Zed Agentson (zed.agentson@corp.example, 06 98 76 54 32) promised Carol "
            "a refund of 40 EUR; Carol's number is 06 11 22 33 44",
            participants=[(carol, "caller"), (zed, "agent")],
        )  # fmt: skip
        meeting = s.interactions.record(
            channel="face_to_face", direction="internal", occurred_at=T0,
            content="Zed's yearly review", participants=[(zed, "attendee")],
        )  # fmt: skip
        report = gdpr(s).erase(zed, reason="left the company, asked for erasure")
    assert (report.interactions_redacted, report.interactions_cleared) == (1, 1)
    assert (
        scan(app, ["Zed", "Agentson", "zed.agentson@corp.example", *phone_forms("0698765432")])
        == []
    )
    with app.session() as s:
        kept = s.interactions.get(call)
        assert kept.subject == f"Refund promised by {ERASED}"
        assert kept.content == (
            f"{ERASED} ({ERASED}, {ERASED}) promised Carol a refund of 40 EUR; "
            "Carol's number is 06 11 22 33 44"
        )
        assert s.interactions.get(meeting).content is None
        recorded = s.timeline(carol, types=["interaction.recorded"]).items[0]
        assert recorded.data["subject"] == f"Refund promised by {ERASED}"
        assert recorded.actor == ERASED  # it acted under its own name


def test_other_holders_of_an_erased_address_are_suppressed_and_reported(app: XRM) -> None:
    with app.session() as s:
        marie = s.parties.create(
            "person", "Marie Dupont", contact_points=[Email("family@home.example")]
        )
        paul = s.parties.create(
            "person", "Paul Dupont", contact_points=[Email("Family@Home.example")]
        )
        report = gdpr(s).erase(marie, reason="request 12")
        point = s.parties.get(paul).contact_points[0]
        decision = s.consents.check(paul, "marketing", "email", contact_point=point)
        event = s.timeline(paul).items[0]
    assert report.also_held_by == (paul.id,)
    assert point.suppressed and point.value == "Family@Home.example"
    assert (decision.allowed, decision.rule) == (False, "suppressed")
    assert (event.type, event.data) == (
        "contact_point.suppressed", {"kind": "email", "reason": "the address of an erased party"}
    )  # fmt: skip


# -- suppression --------------------------------------------------------------------------
def test_an_erased_address_created_or_imported_again_is_suppressed(
    app: XRM, people: dict[str, int]
) -> None:
    with app.session() as s:
        gdpr(s).erase(people["marie"], reason="request 13")
    with app.session() as s:
        # an import, one row at a time and in bulk, written another way
        _, one = s.imports.import_one({"name": "Imported One", "phones": ["06.12.34.56.78"]})
        assert [c.suppressed for c in s.parties.get(one).contact_points] == [True]
        rows = [
            ImportedParty(name="Bulk Two", emails=["marie.DUPONT@example.com"]),
            ImportedParty(name="Bulk Three", emails=["fresh@example.com"]),
        ]
        imported = s.imports.import_many(rows, first_line=2)
        made = {r.line: s.parties.get(r.party_id or 0) for r in imported}
        assert [c.suppressed for c in made[2].contact_points] == [True]
        assert [c.suppressed for c in made[3].contact_points] == [False]
        # a create, and a contact point added later
        again = s.parties.create(
            "person", "M. D.",
            contact_points=[Email(" Marie.Dupont@EXAMPLE.com "), Phone("+33 6 12 34 56 78"),
                            Email("someone.else@example.com")],
        )  # fmt: skip
        flags = {c.value: c.suppressed for c in again.contact_points}
        assert flags == {
            "Marie.Dupont@EXAMPLE.com": True, "+33 6 12 34 56 78": True,
            "someone.else@example.com": False,
        }  # fmt: skip
        added = s.parties.add_contact_point(made[3], Email("OLD.marie@example.org"))
        assert added.suppressed  # removed before the erasure, suppressed all the same
        # never contactable for marketing, whatever the ledger says
        s.consents.grant(again, "marketing", source="web_form")
        # a suppressed address is never primary: the reachable one is
        assert again.primary("email").value == "someone.else@example.com"  # type: ignore[union-attr]
        assert again.primary("phone") is None
        email = next(c for c in again.contact_points if c.suppressed and c.kind == "email")
        decision = s.consents.check(again, "marketing", "email", contact_point=email)
        assert (decision.allowed, decision.rule) == (False, "suppressed")
        audience = {m.contact_point_id for m in s.consents.audience("marketing", "email")}
        assert email.id not in audience
        assert {c.id for c in again.contact_points if c.kind == "email" and not c.suppressed} <= (
            audience
        )
        with pytest.raises(ConsentRequired, match="suppressed"):
            s.interactions.record(
                channel="sms", direction="outbound", purpose="marketing",
                participants=[(again, "recipient")],
            )  # fmt: skip
        assert gdpr(s).suppressed(email="marie.dupont@example.COM")
        assert gdpr(s).suppressed(phone="06 12 34 56 78", region="FR")
        assert not gdpr(s).suppressed(email="marie.durand@example.com")
        with pytest.raises(ValidationError, match="email"):
            gdpr(s).suppressed(email="not an email")
    # the suppression list holds keyed hashes, never an address
    with app.engine.connect() as conn:
        hashes = conn.exec_driver_sql("SELECT kind, keyed_hash, reason FROM suppression").all()
    assert {k for k, _, _ in hashes} == {"email", "phone"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) and r == "erasure" for _, h, r in hashes)


def test_nothing_is_suppressed_in_a_database_that_never_erased(app: XRM) -> None:
    with app.session() as s:
        party = s.parties.create("person", "Nobody Erased", contact_points=[Email("n@e.example")])
        assert not party.contact_points[0].suppressed
        assert not gdpr(s).suppressed(email="n@e.example")
    with app.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM suppression_key").scalar() == 0


def test_the_hashing_key_is_made_once_per_database(app: XRM) -> None:
    with app.session() as s:
        for i in range(2):
            party = s.parties.create("person", f"P{i}", contact_points=[Email(f"p{i}@k.example")])
            gdpr(s).erase(party, reason=f"request {i}")
    with app.engine.connect() as conn:
        keys = conn.exec_driver_sql("SELECT id, secret FROM suppression_key").all()
    assert len(keys) == 1 and re.fullmatch(r"[0-9a-f]{64}", keys[0][1])


# -- the property: whatever the history, nothing of the erased party remains ---------------
_example = itertools.count()
ROLES = ["sender", "recipient", "agent", "attendee", "caller"]
word = st.sampled_from(["alpha", "delta", "echo", "kilo", "lima", "oscar", "tango", "zulu"])


@st.composite
def histories(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(2, 4))
    people = [
        {
            "emails": draw(st.integers(0, 2)),
            "phone": draw(st.booleans()),
            "ident": draw(st.booleans()),
            "renamed": draw(st.booleans()),
            "note": draw(word),
        }
        for _ in range(n)
    ]
    interactions = draw(
        st.lists(
            st.tuples(
                st.lists(st.tuples(st.integers(0, n - 1), st.sampled_from(ROLES)), min_size=1,
                         max_size=3, unique_by=lambda p: p[0]),
                st.sampled_from(["inbound", "internal"]),
                st.lists(word, max_size=3),
            ),
            max_size=5,
        )
    )  # fmt: skip
    links = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3))
    return {"people": people, "interactions": interactions, "links": links}


def test_property_nothing_of_an_erased_party_remains_anywhere(app: XRM) -> None:
    @settings(max_examples=25)
    @given(history=histories())
    def check(history: dict[str, Any]) -> None:
        tag = f"{next(_example):05d}"
        parties: list[Party] = []
        values: list[list[str]] = []
        with app.session(actor="desk") as s:
            for i, spec in enumerate(history["people"]):
                given_name, family = f"Gq{tag}n{i}", f"Fq{tag}n{i}"
                emails = [f"e{j}.{given_name}@q{tag}.example" for j in range(spec["emails"])]
                phone = f"06{int(tag) * 10 + i:08d}"
                points: list[Any] = [Email(e) for e in emails]
                points += [Phone(phone)] if spec["phone"] else []
                party = s.parties.create(
                    "person", given_name=given_name, family_name=family, contact_points=points,
                    identifiers={"test.member": f"M-{tag}-{i}"} if spec["ident"] else {},
                    attributes={"note": f"{spec['note']} {given_name}"},
                )  # fmt: skip
                mine = [given_name, family, *emails, f"{spec['note']} {given_name}"]
                mine += phone_forms(phone) if spec["phone"] else []
                mine += [f"M-{tag}-{i}"] if spec["ident"] else []
                if spec["renamed"]:
                    s.parties.update(party, display_name=f"Rq{tag}n{i}")
                    mine.append(f"Rq{tag}n{i}")
                s.roles.assign(party, "customer", attributes={"memo": f"memo of {given_name}"})
                s.consents.grant(
                    party, "marketing", source="web_form", evidence=f"form {given_name}"
                )
                parties.append(party)
                values.append(mine)
            for a, b in {tuple(sorted(pair)) for pair in history["links"]}:
                if a != b:
                    s.relationships.create(
                        "knows", parties[a], parties[b],
                        attributes={"how": f"{parties[a].given_name} met {parties[b].given_name}"},
                    )  # fmt: skip
            for who, direction, words in history["interactions"]:
                names = " and ".join(str(parties[i].given_name) for i, _ in who)
                s.interactions.record(
                    channel="face_to_face", direction=direction, occurred_at=T0,
                    subject=f"{names} {' '.join(words)}", content=f"notes: {names} talked",
                    participants=[(parties[i], role) for i, role in who],
                )  # fmt: skip
            taking_part = len(s.interactions.of(parties[0], limit=1000))
            gdpr(s).erase(parties[0], reason=f"request {tag}")
        erased, *others = scan_each(app, [values[0], *(v[:3] for v in values[1:])])
        assert erased == []
        assert all(others)  # the others keep their names and addresses
        with app.session() as s:
            assert len(s.interactions.of(parties[0], limit=1000)) == taking_part

    check()


# -- a throwaway plugin with a table of its own -------------------------------------------
class Loyalty:
    """A plugin that keeps loyalty cards in its own table, exports them, erases them, and
    may veto an erasure."""

    def __init__(self, *, name: str = "loyalty", veto: str | None = None, erases: bool = True):
        self.__name__ = name
        self.veto = veto
        self.erases = erases
        self.erased: list[tuple[int, str, str]] = []
        self.table = Table(
            "gdprtest_loyalty_card",
            MetaData(),
            Column("id", Integer, primary_key=True),
            Column("party_id", Integer, ForeignKey("party.id"), nullable=False),
            Column("number", String(40), nullable=False),
            Column("holder", String(300), nullable=False),
        )

    @contextmanager
    def installed(self, app: XRM) -> Iterator[None]:
        """The plugin's table for the test's life (a real plugin ships a migration)."""
        with app.engine.begin() as conn:
            self.table.metadata.drop_all(conn)
            party = Table("party", self.table.metadata, autoload_with=conn)
            assert party is not None
            self.table.create(conn)
        try:
            yield
        finally:
            with app.engine.begin() as conn:
                self.table.drop(conn)

    def add_card(self, s: Session, party: Party | int, number: str) -> None:
        owner = s.parties.get(party)
        s.db.execute(
            self.table.insert().values(party_id=owner.id, number=number, holder=owner.display_name)
        )

    @hookimpl
    def xrm_party_export(self, session: Session, party: Party) -> dict[str, Any] | None:
        if self.__name__ != "loyalty":
            return None
        rows = session.db.execute(
            select(self.table.c.number, self.table.c.holder).where(
                self.table.c.party_id == party.id
            )
        ).all()
        return {"cards": [{"number": n, "holder": h} for n, h in rows]} if rows else None

    @hookimpl
    def xrm_party_erase(self, session: Session, party: Party, reason: str) -> None:
        if self.__name__ != "loyalty":
            return
        if self.veto is not None:
            raise Conflict(self.veto)
        self.erased.append((party.id, party.display_name, reason))
        if self.erases:
            session.db.execute(delete(self.table).where(self.table.c.party_id == party.id))


def test_an_erased_party_is_frozen_but_still_readable(app: XRM, people: dict[str, int]) -> None:
    marie = people["marie"]
    with app.session() as s:
        s.gdpr.erase(marie, reason="request 9")
    with app.session() as s:
        for write in (
            lambda: s.parties.update(marie, display_name="Marie Dupont"),
            lambda: s.parties.add_contact_point(marie, Email("back@example.com")),
            lambda: s.consents.grant(marie, "marketing", source="web"),
            lambda: s.roles.assign(marie, "supplier"),
        ):
            with pytest.raises(Conflict, match=f"party {marie} was erased"):
                write()
        assert s.parties.get(marie).display_name == f"erased party {marie}"
        assert not s.consents.check(marie, "marketing", "email").allowed
        assert s.gdpr.export(marie)["party"]["id"] == marie


def test_parties_erased_before_the_erased_at_column_are_frozen_after_the_upgrade(
    tmp_path: Path,
) -> None:
    from xrm import db as xrm_db

    app = XRM(f"sqlite:///{tmp_path / 'old.db'}", builtins=False, discover=False)
    xrm_db.upgrade(app.engine, (), "0004_consent_ledger")
    with app.engine.begin() as conn:  # what an erasure left before 0005
        conn.exec_driver_sql(
            "INSERT INTO party (id, kind, display_name, name_key, attributes, created_at,"
            " updated_at, version) VALUES (1, 'person', 'erased party 1', 'erased party 1',"
            " '{}', '2026-01-01', '2026-01-01', 1), (2, 'person', 'Bob', 'bob', '{}',"
            " '2026-01-01', '2026-01-01', 1)"
        )
        conn.exec_driver_sql(
            "INSERT INTO journal_event (id, type, entity, entity_id, occurred_at, recorded_at,"
            " data) VALUES (1, 'party.erased', 'party', 1, '2026-02-03 04:05:06',"
            " '2026-02-03 04:05:06', '{}')"
        )
        conn.exec_driver_sql(
            "INSERT INTO journal_party (party_id, event_id, occurred_at)"
            " VALUES (1, 1, '2026-02-03 04:05:06')"
        )
    app.upgrade()
    with app.session() as s:
        assert s.gdpr.is_erased(1) and not s.gdpr.is_erased(2)
        with pytest.raises(Conflict, match="was erased"):
            s.parties.update(1, display_name="Back")
    app.dispose()


def test_an_erased_gmail_address_is_suppressed_however_its_mailbox_is_written(
    app: XRM,
) -> None:
    """Gmail delivers m.a.r.i.e+promo@googlemail.com to marie@gmail.com, and every
    provider a +tag to the address without it: the match-key rules (off by default) do not
    decide what erasure suppresses."""
    with app.session() as s:
        marie = s.parties.create(
            "person", "Marie", contact_points=[Email("marie.dupont@gmail.com"), Email("jo@x.org")]
        )
        s.gdpr.erase(marie, reason="request 21")
    written = [
        "mariedupont@gmail.com",
        "Marie.Dupont+promo@gmail.com",
        "m.a.r.i.e.d.u.p.o.n.t@googlemail.com",
        "jo+news@x.org",
    ]
    with app.session() as s:
        rows = [{"name": f"Again {i}", "emails": [e]} for i, e in enumerate(written)]
        rows.append({"name": "Other", "emails": ["mariedupont@example.org"]})
        results = s.imports.import_many(rows)
        flags = [s.parties.get(r.party_id or 0).contact_points[0].suppressed for r in results]
        assert flags == [True, True, True, True, False]
        again = s.parties.create("person", "X", contact_points=[Email("MarieDupont+x@gmail.com")])
        assert again.contact_points[0].suppressed
        assert s.gdpr.suppressed(email="marie.dupont+y@googlemail.com")


def test_the_core_declares_its_personal_data_and_erasure_leaves_none(
    app: XRM, people: dict[str, int]
) -> None:
    """xrm.testing.erasure_leftovers, the check plugin authors run, on the core's own
    tables: every text column naming a party is marked, and what is marked personal is
    gone after erasure, whatever was written there."""
    from xrm.testing import erasure_leftovers

    assert erasure_leftovers(app, people["marie"]) == []


def test_the_erasure_check_reports_a_text_column_with_no_mark(app: XRM) -> None:
    from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, insert

    from xrm.core.gdpr import _declared
    from xrm.testing import erasure_leftovers

    with app.session() as s:
        ann = s.parties.create("person", "Ann").id
    # a table the erasure knows nothing of, as a plugin with no marks would have
    meta = MetaData()
    Table("party", meta, Column("id", Integer, primary_key=True))
    notes = Table(
        "careless_note",
        meta,
        Column("id", Integer, primary_key=True),
        Column("party_id", Integer, ForeignKey("party.id")),
        Column("text", String(200)),
    )
    meta.create_all(app.engine, tables=[notes])
    with app.engine.begin() as conn:
        conn.execute(insert(notes).values(id=1, party_id=ann, text="Ann likes jazz"))
    real = _declared.party_tables

    def with_notes() -> Iterator[Any]:
        yield from real()
        yield from (t for t in real(meta) if t.table.name == "careless_note")

    _declared.party_tables = with_notes  # type: ignore[assignment]
    try:
        problems = erasure_leftovers(app, ann)
    finally:
        _declared.party_tables = real  # type: ignore[assignment]
        notes.drop(app.engine)
    assert problems == ["careless_note.text: no personal-data mark (info=PERSONAL or NOT_PERSONAL)"]


def test_an_erased_partys_values_are_not_in_the_sqlite_files_even_while_open(
    tmp_path: Path,
) -> None:
    """The bytes on disk, not just the rows: free space zeroed (secure_delete) and the
    write-ahead log, which holds pages as they were, checkpointed and emptied at commit."""
    app = XRM(f"sqlite:///{tmp_path / 'erase.db'}", builtins=True, discover=False)
    app.upgrade()
    values = ["Zebulon Quixotic", "zebulon.quixotic@example.org", "+33687654321", "xylophonist"]
    with app.session() as s:
        z = s.parties.create(
            "person",
            "Zebulon Quixotic",
            contact_points=[Email("Zebulon.Quixotic@example.org"), Phone("+33 6 87 65 43 21")],
            tags=["xylophonist"],
        )
        s.roles.assign(z, "customer", attributes={"segment": "xylophonist"})
        s.interactions.record(
            channel="phone",
            direction="inbound",
            participants=[(z, "caller")],
            subject="Zebulon Quixotic asks about xylophonist lessons",
        )
    with app.session() as s:
        s.gdpr.erase(z, reason="request 99")
    files = [p for p in tmp_path.iterdir() if p.name.startswith("erase.db")]
    assert files  # the database, and its -wal / -shm while connections are open
    found = {
        (p.name, v)
        for p in files
        for v in values
        for form in {v, v.lower(), v.casefold()}
        if form.encode() in p.read_bytes()
    }
    app.dispose()
    assert found == set()
