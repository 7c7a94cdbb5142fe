"""Segments: a declarative criterion over the parties, compiled to one SQL query; saved
under a name, dynamic (read when asked) or frozen (a dated member list); counted,
previewed, streamed; extended by plugins; exported and erased with the party."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel
from sqlalchemy import ColumnElement, exists, select

from xrm import (
    XRM,
    ConfigurationError,
    Conflict,
    Email,
    NotFound,
    RoleType,
    ValidationError,
    hookimpl,
)
from xrm import segments as seg
from xrm.tables import JournalEventRow, PartyTagRow, SegmentMemberRow

from .conftest import TEST_TYPES, make_app

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


def base(app: XRM) -> dict[str, int]:
    """Marie (customer, vip, French), Paul (prospect), ACME (organisation, customer) and
    Zoe (no role), with a few interactions."""
    with app.session() as s:
        marie = s.parties.create(
            "person", "Marie Curie", tags=["vip"], contact_points=[Email("marie@example.com")]
        )
        paul = s.parties.create("person", "Paul Martin", contact_points=[Email("paul@example.com")])
        acme = s.parties.create("organization", "ACME", attributes={"employees": 250})
        zoe = s.parties.create("person", "Zoe", attributes={"employees": "many"})
        for party, path, days in [
            (marie, ["prospect", "customer"], 400),
            (paul, ["prospect"], 10),
            (acme, ["prospect", "customer"], 50),
        ]:
            start = NOW - dt.timedelta(days=days)
            role = s.roles.assign(party, "customer", at=start)  # a lead
            for i, state in enumerate(path, 1):  # a step every 100 days, or every day
                step = dt.timedelta(days=100 if days > 100 else 1)
                role = s.roles.transition(role, state, at=start + i * step)
        s.relationships.create("works_for", marie, acme, valid_from=dt.date(2020, 1, 1))
        s.preferences.set(marie, language="fr-FR")
        s.consents.grant(
            marie, "marketing", source="web form", channel="email",
            effective_from=NOW - dt.timedelta(days=30),
        )  # fmt: skip
        for days in (3, 20, 100):
            s.interactions.record(
                channel="phone", direction="inbound", touchpoint="support",
                participants=[(marie, "caller")], occurred_at=NOW - dt.timedelta(days=days),
            )  # fmt: skip
        s.interactions.record(
            channel="email", direction="inbound", participants=[(paul, "sender")],
            occurred_at=NOW - dt.timedelta(days=5),
        )  # fmt: skip
    return {"marie": marie.id, "paul": paul.id, "acme": acme.id, "zoe": zoe.id}


def members(app: XRM, target: seg.Target) -> set[int]:
    with app.session() as s:
        return set(s.segments.stream(target, at=NOW))


# -- the criteria ----------------------------------------------------------------------------
def test_each_criterion_selects_the_parties_it_names(app: XRM) -> None:
    p = base(app)
    assert members(app, seg.Kind(kind="organization")) == {p["acme"]}
    assert members(app, seg.Tagged(tag="VIP")) == {p["marie"]}
    assert members(app, seg.HasRole(role="customer")) == {p["marie"], p["paul"], p["acme"]}
    assert members(app, seg.HasRole(role="customer", states=["customer"])) == {
        p["marie"],
        p["acme"],
    }
    # as of a year ago only Marie held the role, and she was a prospect then... not yet
    a_year_ago = NOW - dt.timedelta(days=365)
    assert members(app, seg.HasRole(role="customer", as_of=a_year_ago)) == {p["marie"]}
    assert members(app, seg.HasRole(role="customer", states=["lead"], as_of=a_year_ago)) == {
        p["marie"]
    }
    assert members(app, seg.Attribute(name="employees", op="ge", value=100)) == {p["acme"]}
    assert members(app, seg.Related(relationship="works_for")) == {p["marie"]}
    assert members(app, seg.Related(relationship="works_for", direction="in")) == {p["acme"]}
    assert members(app, seg.Prefers(language="fr")) == {p["marie"]}
    assert members(app, seg.Contactable(purpose="marketing", channel="email")) == {p["marie"]}
    assert members(app, seg.Contactable(purpose="marketing")) == {p["marie"]}


def test_interactions_are_counted_in_a_window_by_channel_and_touchpoint(app: XRM) -> None:
    p = base(app)
    assert members(app, seg.Interacted(within_days=30)) == {p["marie"], p["paul"]}
    assert members(app, seg.Interacted(within_days=30, at_least=2)) == {p["marie"]}
    assert members(app, seg.Interacted(channel="phone", touchpoint="support", at_least=3)) == {
        p["marie"]
    }
    assert members(app, seg.Interacted(channel="email", direction="inbound")) == {p["paul"]}
    # at_most=0: nobody heard from in 30 days
    assert members(app, seg.Interacted(within_days=30, at_most=0)) == {p["acme"], p["zoe"]}
    since = seg.Interacted(since=NOW - dt.timedelta(days=150), until=NOW - dt.timedelta(days=10))
    assert members(app, since) == {p["marie"]}


def test_combinations_read_as_they_are_written(app: XRM) -> None:
    p = base(app)
    person = seg.Kind(kind="person")
    customer = seg.HasRole(role="customer", states=["customer"])
    assert members(app, person & customer) == {p["marie"]}
    assert members(app, seg.Tagged(tag="vip") | seg.Kind(kind="organization")) == {
        p["marie"],
        p["acme"],
    }
    assert members(app, person & ~seg.HasRole(role="customer")) == {p["zoe"]}
    assert ~~customer == customer
    assert members(app, seg.All()) == set(p.values())
    assert members(app, seg.Any()) == set()
    # employees of customers in state "customer"
    employees = seg.Related(
        relationship="works_for", other=customer & seg.Kind(kind="organization")
    )
    assert members(app, employees) == {p["marie"]}


def test_a_missing_attribute_meets_only_ne_and_not_is_the_complement(app: XRM) -> None:
    p = base(app)
    big = seg.Attribute(name="employees", op="gt", value=100)
    # Zoe's "many" is no number: it compares as missing rather than failing the query
    assert members(app, big) == {p["acme"]}
    assert members(app, ~big) == {p["marie"], p["paul"], p["zoe"]}
    assert members(app, seg.Attribute(name="employees", op="ne", value=250)) == {
        p["marie"],
        p["paul"],
        p["zoe"],
    }
    assert members(app, seg.Attribute(name="employees", op="exists")) == {p["acme"], p["zoe"]}
    assert members(app, seg.Attribute(name="employees", op="contains", value="MAN")) == {p["zoe"]}


class Contract(BaseModel):
    renewal: dt.date | None = None
    value: Decimal | None = None
    auto_renew: bool = False


def test_a_role_attribute_compares_by_the_type_its_schema_declares(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    app = make_app(request, backend, tmp_path, builtins=False)
    app.register(
        *TEST_TYPES,
        RoleType(
            "subscriber",
            states=["active", "ended"],
            transitions={"active": ["ended"]},
            schema=Contract,
        ),
    )
    with app.session() as s:
        ids = []
        for renewal, value, auto in [
            (dt.date(2027, 1, 15), Decimal("9.90"), True),
            (dt.date(2026, 12, 20), Decimal("120.00"), False),
            (None, None, False),
        ]:
            party = s.parties.create("person", f"Subscriber {len(ids)}")
            attrs = {"renewal": renewal, "value": value, "auto_renew": auto}
            s.roles.assign(party, "subscriber", attributes=attrs)
            ids.append(party.id)
        renews_soon = seg.Attribute(role="subscriber", name="renewal", op="lt", value="2027-01-01")
        assert set(s.segments.stream(renews_soon)) == {ids[1]}
        # 9.90 < 100 numerically (as text "9.90" > "100")
        cheap = seg.Attribute(role="subscriber", name="value", op="lt", value=Decimal("100"))
        assert set(s.segments.stream(cheap)) == {ids[0]}
        automatic = seg.Attribute(role="subscriber", name="auto_renew", value=True)
        assert set(s.segments.stream(automatic)) == {ids[0]}
        with pytest.raises(ValidationError) as caught:
            s.segments.count(seg.Attribute(role="subscriber", name="colour", value="red"))
        assert caught.value.fields == ["target.name"]
        with pytest.raises(ValidationError, match="true or false"):
            s.segments.count(seg.Attribute(role="subscriber", name="auto_renew", op="gt", value=1))
    app.dispose()


def test_a_bad_criterion_is_refused_naming_the_field_and_writes_nothing(
    app: XRM, unchanged: object
) -> None:
    base(app)
    bad = {
        "type": "all",
        "of": [
            {"type": "kind", "kind": "person"},
            {"type": "role", "role": "customer", "states": ["gold"]},
        ],
    }
    with unchanged(), app.session() as s:  # type: ignore[operator]
        with pytest.raises(ValidationError) as caught:
            s.segments.define("golden", bad)
        assert caught.value.fields == ["criterion.of.1.states.0"]
        with pytest.raises(ValidationError) as caught:
            s.segments.define("x", {"type": "colour", "colour": "red"})
        assert caught.value.fields == ["criterion.type"]
        with pytest.raises(ValidationError) as caught:
            s.segments.count({"type": "interacted", "within_days": -1})
        assert caught.value.fields == ["target.within_days"]
        with pytest.raises(ValidationError, match="unknown purpose"):
            s.segments.count(seg.Contactable(purpose="spam"))


# -- saved segments --------------------------------------------------------------------------
def test_a_saved_segment_is_evaluated_when_read(app: XRM) -> None:
    p = base(app)
    with app.session(actor="ann") as s:
        saved = s.segments.define(
            "vip customers", seg.Tagged(tag="vip") & seg.HasRole(role="customer"),
            description="our best",
        )  # fmt: skip
        assert (saved.name, saved.description, saved.frozen, saved.members) == (
            "vip customers", "our best", False, None,
        )  # fmt: skip
        assert s.segments.count("vip customers") == 1
        assert [x.name for x in s.segments.list()] == ["vip customers"]
        assert s.segments.get("vip customers").criterion == saved.criterion
    with app.session() as s:
        s.parties.tag(p["paul"], "vip")
    with app.session() as s:
        assert set(s.segments.stream("vip customers")) == {p["marie"], p["paul"]}
        assert s.segments.contains("vip customers", p["paul"])
        assert not s.segments.contains("vip customers", p["acme"])
        assert [x.id for x in s.segments.preview("vip customers", limit=1)] == [p["marie"]]
        # s.parties.list and count take a segment too
        assert [x.id for x in s.parties.list(segment="vip customers").items] == sorted(
            [p["marie"], p["paul"]]
        )
        assert s.parties.count(segment=seg.Kind(kind="organization")) == 1


def test_names_are_unique_and_a_change_is_journaled(app: XRM) -> None:
    base(app)
    with app.session() as s:
        first = s.segments.define("people", seg.Kind(kind="person"))
        with pytest.raises(Conflict):
            s.segments.define("people", seg.Kind(kind="organization"))
        changed = s.segments.update("people", criterion=seg.Kind(kind="organization"))
        assert changed.version == first.version + 1
        assert s.segments.count("people") == 1
        with pytest.raises(Conflict):
            s.segments.update("people", description="stale", version=first.version)
        with pytest.raises(NotFound):
            s.segments.get("nobody")
        with pytest.raises(ValidationError):
            s.segments.define("  ", seg.Kind(kind="person"))
        query = select(JournalEventRow.type).where(JournalEventRow.entity == "segment")
        types = list(s.db.scalars(query.order_by(JournalEventRow.id)))
    assert types == ["segment.defined", "segment.changed"]


def test_a_segment_may_use_another_but_not_itself(app: XRM) -> None:
    p = base(app)
    with app.session() as s:
        s.segments.define("customers", seg.HasRole(role="customer"))
        s.segments.define(
            "french customers", seg.InSegment(name="customers") & seg.Prefers(language="fr")
        )
        assert set(s.segments.stream("french customers")) == {p["marie"]}
        with pytest.raises(ValidationError, match="refers to itself"):
            s.segments.update("customers", criterion=seg.InSegment(name="french customers"))
        with pytest.raises(Conflict, match="used by"):
            s.segments.delete("customers")
        s.segments.delete("french customers")
        s.segments.delete("customers")
        assert s.segments.list() == []


def test_a_frozen_segment_keeps_its_members_of_that_day(app: XRM) -> None:
    p = base(app)
    with app.session() as s:
        s.segments.define("customers", seg.HasRole(role="customer", states=["customer"]))
        frozen = s.segments.freeze("customers", as_name="customers in december")
        assert frozen.frozen and frozen.members == 2
        assert frozen.criterion == s.segments.get("customers").criterion
    with app.session() as s:
        role = s.roles.current(p["paul"], "customer")
        assert role is not None
        s.roles.transition(role, "customer")
    with app.session() as s:
        assert s.segments.count("customers") == 3  # dynamic: read now
        assert set(s.segments.stream("customers in december")) == {p["marie"], p["acme"]}
        with pytest.raises(Conflict, match="frozen"):
            s.segments.update("customers in december", criterion=seg.All())
        renamed = s.segments.update("customers in december", description="for the mailing")
        assert renamed.description == "for the mailing" and renamed.members == 2


def test_an_erased_party_leaves_every_segment_and_its_export_lists_them(app: XRM) -> None:
    p = base(app)
    with app.session() as s:
        s.segments.define("vips", seg.Tagged(tag="vip"))
        s.segments.freeze("vips", as_name="vips 2026")
        export = s.gdpr.export(p["marie"])
        assert [m["segment"] for m in export["segments"]] == ["vips 2026"]
        report = s.gdpr.erase(p["marie"], reason="asked by the customer")
        assert report.segments == 1
    with app.session() as s:
        assert s.segments.count("vips 2026") == 0
        assert s.segments.count(seg.All()) == 3
        held = s.db.scalars(exists().where(SegmentMemberRow.party_id == p["marie"]).select())
        assert held.one() is False


def test_a_merged_party_is_no_member_and_comes_back_with_an_unmerge(app: XRM) -> None:
    p = base(app)
    with app.session() as s:
        s.segments.define("people", seg.Kind(kind="person"))
        s.segments.freeze("people", as_name="people then")
        s.identity.merge(p["marie"], p["zoe"])
        assert p["zoe"] not in set(s.segments.stream("people then"))
        assert p["zoe"] not in set(s.segments.stream("people"))
        s.identity.unmerge(p["zoe"])
        assert p["zoe"] in set(s.segments.stream("people then"))


def test_streaming_reads_in_batches_whatever_the_size(app: XRM) -> None:
    with app.session() as s:
        ids = [s.parties.create("person", f"P{i}").id for i in range(25)]
        assert list(s.segments.stream(seg.Kind(kind="person"), batch=4)) == ids
        with pytest.raises(ValidationError):
            s.segments.stream(seg.All(), batch=0)


def test_the_json_form_is_what_is_stored_and_reads_back(app: XRM) -> None:
    criterion = seg.HasRole(role="customer", states=["customer"]) & ~seg.Related(
        relationship="works_for", other=seg.Tagged(tag="press")
    )
    data = criterion.model_dump(mode="json")
    assert data == {
        "type": "all",
        "of": [
            {"type": "role", "role": "customer", "states": ["customer"], "as_of": None},
            {
                "type": "not",
                "of": {
                    "type": "related", "relationship": "works_for", "direction": "out",
                    "other": {"type": "tag", "tag": "press"}, "as_of": None,
                },
            },
        ],
    }  # fmt: skip
    with app.session() as s:
        assert s.segments.parse(data) == criterion
        assert s.segments.define("c", data).criterion == criterion
    with pytest.raises(Exception, match="abstract"):
        seg.Criterion(type="x")


# -- plugins' criteria -----------------------------------------------------------------------
class Press(seg.Criterion):
    """Parties tagged by the press office: a plugin's criterion."""

    type: Literal["press.tagged"] = "press.tagged"
    tag: str = "press"

    def where(self, ctx: seg.Context, party_id: seg.PartyId) -> ColumnElement[bool]:
        t = PartyTagRow
        return exists().where(t.party_id == party_id, t.tag == f"press:{self.tag}")


class PressPlugin:
    __xrm_name__ = "press"

    @hookimpl
    def xrm_segment_criteria(self) -> list[type[seg.Criterion]]:
        return [Press]


def test_a_plugin_adds_a_criterion_that_combines_with_the_core_s(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    app = make_app(request, backend, tmp_path, plugins=[PressPlugin()], builtins=False)
    app.register(*TEST_TYPES)
    with app.session() as s:
        a = s.parties.create("person", "Ann", tags=["press:tv"])
        s.parties.create("organization", "Paper", tags=["press:tv"])
        both = Press(tag="tv") & seg.Kind(kind="person")
        s.segments.define("tv people", both)
        assert list(s.segments.stream("tv people")) == [a.id]
        assert s.segments.parse(both.model_dump(mode="json")) == both
        assert app.registry.segment_criteria == {"press.tagged": Press}
    app.dispose()


def test_a_criterion_of_a_plugin_not_loaded_is_refused(app: XRM) -> None:
    with app.session() as s, pytest.raises(ValidationError, match="not registered"):
        s.segments.count(Press(tag="tv"))
    with app.session() as s, pytest.raises(ValidationError, match="unknown criterion type"):
        s.segments.parse(Press(tag="tv").model_dump(mode="json"))


class Thief:
    __xrm_name__ = "thief"

    @hookimpl
    def xrm_segment_criteria(self) -> list[type[seg.Criterion]]:
        return [Press]


def test_a_criterion_must_carry_its_plugin_s_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"'thief\.<name>'"):
        XRM(f"sqlite:///{tmp_path / 'x.db'}", plugins=[Thief()], builtins=False, discover=False)
