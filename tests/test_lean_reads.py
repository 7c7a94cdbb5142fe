"""The lean read paths (parties.get / find / list, identity.resolve, relationships.of,
the timeline) answer exactly what the ORM-built answers were: each is compared here with
the ORM reading of the same rows, over random data, on every backend."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import selectinload

from xrm import XRM, Email, NotFound, Phone, PostalAddress, Url
from xrm.core.models import (
    ContactPointRow,
    InteractionRow,
    JournalEventRow,
    JournalPartyRow,
    ParticipantRow,
    PartyRow,
    RelationshipRow,
)
from xrm.core.normalize import email_key, phone_key
from xrm.core.nouns.relationships import holds_on
from xrm.core.records import Link, Party, Relationship, TimelineEntry
from xrm.errors import Conflict, ValidationError

D = dt.date
_LOAD = (
    selectinload(PartyRow.contact_points),
    selectinload(PartyRow.identifiers),
    selectinload(PartyRow.tags),
)
_serial = itertools.count()


# -- the ORM readings the lean paths replaced ---------------------------------------------
def orm_get(s: Any, ident: int, follow_merges: bool = True) -> Party:
    row = s.db.get(PartyRow, ident, options=_LOAD)
    seen = {ident}
    while row is not None and follow_merges and row.merged_into_id is not None:
        if row.merged_into_id in seen:
            break
        seen.add(row.merged_into_id)
        row = s.db.get(PartyRow, row.merged_into_id, options=_LOAD)
    if row is None:
        raise NotFound("party", ident)
    return Party.of(row)


def orm_find_ids(s: Any, email: str | None = None, phone: str | None = None) -> list[int]:
    conds = []
    if email is not None:
        sub = select(ContactPointRow.party_id).where(
            ContactPointRow.kind == "email", ContactPointRow.key == email_key(email)
        )
        conds.append(PartyRow.id.in_(sub))
    if phone is not None:
        sub = select(ContactPointRow.party_id).where(
            ContactPointRow.kind == "phone", ContactPointRow.key == phone_key(phone, "FR")
        )
        conds.append(PartyRow.id.in_(sub))
    return list(s.db.scalars(select(PartyRow.id).where(or_(*conds)).order_by(PartyRow.id)))


def orm_survivor(s: Any, party_id: int) -> int:
    seen = {party_id}
    current = party_id
    while True:
        nxt = s.db.scalar(select(PartyRow.merged_into_id).where(PartyRow.id == current))
        if nxt is None or nxt in seen:
            return current
        seen.add(nxt)
        current = nxt


def orm_resolve(s: Any, **keys: str) -> Party | None:
    ids = set(orm_find_ids(s, **keys))
    survivors = {orm_survivor(s, i) for i in ids}
    if not survivors:
        return None
    if len(survivors) > 1:
        listed = ", ".join(map(str, sorted(survivors)))
        raise Conflict(f"these details belong to different parties ({listed}): merge them")
    return orm_get(s, survivors.pop())


def orm_links(
    s: Any, registry: Any, ident: int, day: dt.date, type: str | None, all_dates: bool
) -> list[Link]:
    query = select(RelationshipRow).where(
        or_(RelationshipRow.from_party_id == ident, RelationshipRow.to_party_id == ident)
    )
    if type is not None:
        query = query.where(RelationshipRow.type == type)
    if not all_dates:
        query = query.where(holds_on(day))
    types = registry.relationship_types
    links = []
    for row in s.db.scalars(query):
        outgoing = row.from_party_id == ident
        rel_type = types[row.type]
        label = rel_type.forward_label if outgoing else rel_type.inverse_label
        other = row.to_party_id if outgoing else row.from_party_id
        links.append(Link(Relationship.of(row), ident, other, label))
    links.sort(key=lambda link: (link.relationship.valid_from, link.relationship.id))
    return links


def orm_timeline(s: Any, ident: int, types: list[str] | None) -> list[TimelineEntry]:
    query = (
        select(JournalEventRow)
        .join(JournalPartyRow, JournalPartyRow.event_id == JournalEventRow.id)
        .where(JournalPartyRow.party_id == ident)
    )
    if types is not None:
        query = query.where(JournalEventRow.type.in_(types))
    query = query.order_by(JournalPartyRow.occurred_at.desc(), JournalPartyRow.event_id.desc())
    return [TimelineEntry.of(r) for r in s.db.scalars(query)]


def outcome(call: Any, *args: Any, **kwargs: Any) -> Any:
    """What a call returns, or the type and message of what it raises."""
    try:
        return call(*args, **kwargs)
    except Exception as exc:
        return (type(exc).__name__, str(exc))


# -- random parties ------------------------------------------------------------------------
# no NUL: PostgreSQL refuses it in text and JSON (a DataError, not a ValidationError)
_TEXT = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
names = st.text(_TEXT, min_size=1, max_size=20).filter(str.strip)
locals_ = st.sampled_from(["marie", "Paul.Dupont", "jo", "x_y", "Élodie"])
domains = st.sampled_from(["example.com", "Example.ORG", "ex.fr"])
phones = st.integers(10_000_000, 10_000_040).map(lambda n: f"06 {n}")
point = st.one_of(
    st.builds(lambda lp, d, lab: Email(f"{lp}@{d}", label=lab), locals_, domains,
              st.none() | st.just("work")),
    st.builds(lambda p: Phone(p), phones),
    st.builds(lambda n: Url(f"https://site{n}.example.com/"), st.integers(0, 3)),
    st.builds(lambda c: PostalAddress(lines=["1 rue de la Paix"], postcode="75002", city=c,
                                      country="fr"), st.sampled_from(["Paris", "Lyon"])),
)  # fmt: skip
party_spec = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["person", "organization"]),
        "name": names,
        "birth": st.none() | st.dates(D(1900, 1, 1), D(2020, 12, 31)),
        "attributes": st.dictionaries(st.sampled_from(["a", "b", "note"]),
                                      st.integers() | st.text(_TEXT, max_size=5), max_size=2),
        "points": st.lists(point, max_size=4),
        "tags": st.lists(st.sampled_from(["vip", "b2b", "newsletter", "x.y"]), max_size=3),
        "identifier": st.booleans(),
        "untag": st.booleans(),
        "drop_point": st.booleans(),
    }
)  # fmt: skip


def create(s: Any, spec: dict[str, Any]) -> int:
    idents = {"crm.legacy": f"L-{next(_serial)}"} if spec["identifier"] else {}
    party = s.parties.create(
        spec["kind"], spec["name"], birth_date=spec["birth"] if spec["kind"] == "person" else None,
        attributes=spec["attributes"], contact_points=spec["points"], identifiers=idents,
        tags=spec["tags"],
    )  # fmt: skip
    if spec["untag"] and party.tags:
        s.parties.untag(party, party.tags[0])
    if spec["drop_point"] and party.contact_points:
        s.parties.remove_contact_point(party, party.contact_points[0])
    return int(party.id)


@given(specs=st.lists(party_spec, min_size=1, max_size=6), merges=st.lists(st.integers(0, 5),
       max_size=3))  # fmt: skip
def test_parties_read_lean_as_the_orm_reads_them(
    app: XRM, specs: list[dict[str, Any]], merges: list[int]
) -> None:
    with app.session() as s:
        ids = [create(s, spec) for spec in specs]
        # merge some parties into the next one, as merges leave them
        for i in merges:
            if i + 1 < len(ids):
                s.db.execute(
                    update(PartyRow).where(PartyRow.id == ids[i]).values(merged_into_id=ids[i + 1])
                )
    with app.session() as s:
        for ident in [*ids, max(ids) + 1000]:
            for follow in (True, False):
                lean = outcome(s.parties.get, ident, follow_merges=follow)
                assert lean == outcome(orm_get, s, ident, follow)
        points = [(c.kind, c.value) for i in ids for c in s.parties.get(i).contact_points]
        emails = [v for k, v in points if k == "email"] + ["nobody@example.com"]
        phones_ = [v for k, v in points if k == "phone"] + ["06 99 99 99 99"]
        for email in emails:
            assert s.parties.find_ids(email=email) == orm_find_ids(s, email=email)
            assert outcome(s.identity.resolve, email=email) == outcome(orm_resolve, s, email=email)
            assert s.parties.find(email=email) == [
                Party.of(r) for r in s.db.scalars(
                    select(PartyRow).where(PartyRow.id.in_(orm_find_ids(s, email=email)))
                    .order_by(PartyRow.id).options(*_LOAD))
            ]  # fmt: skip
        for email, phone in itertools.product(emails[:3], phones_[:3]):
            assert outcome(s.identity.resolve, email=email, phone=phone) == outcome(
                orm_resolve, s, email=email, phone=phone
            )
        for phone in phones_:
            assert outcome(s.identity.resolve, phone=phone) == outcome(orm_resolve, s, phone=phone)
        page = s.parties.list(limit=2)
        listed = list(page)
        while page.next_cursor is not None:
            page = s.parties.list(limit=2, after=page.next_cursor)
            listed += list(page)
        live = s.db.scalars(
            select(PartyRow).where(PartyRow.merged_into_id.is_(None)).order_by(PartyRow.id)
            .options(*_LOAD)
        )  # fmt: skip
        assert listed == [Party.of(r) for r in live]


def test_a_party_resolved_by_an_interaction_reference_follows_merges(app: XRM) -> None:
    with app.session() as s:
        marie = s.parties.create("person", "Marie", contact_points=[Email("m@example.com")])
        again = s.parties.create("person", "Marie D.", contact_points=[Phone("0612345678")])
        s.interactions.record(channel="email", direction="inbound", external_ref="<m-1@x>",
                              participants=[(again, "sender")])  # fmt: skip
        s.db.execute(
            update(PartyRow).where(PartyRow.id == again.id).values(merged_into_id=marie.id)
        )
    with app.session() as s:
        expected = orm_get(s, marie.id)
        assert s.identity.resolve(external_ref="<m-1@x>") == expected
        assert s.identity.resolve(phone="06 12 34 56 78") == expected
        assert s.identity.resolve(external_ref="<m-1@x>", email="m@example.com") == expected
        refs = s.db.scalars(
            select(ParticipantRow.party_id)
            .join(InteractionRow, InteractionRow.id == ParticipantRow.interaction_id)
            .where(InteractionRow.external_ref == "<m-1@x>")
        )
        assert list(refs) == [again.id]


def test_changes_not_flushed_are_read_as_the_orm_sees_them(app: XRM) -> None:
    with app.session() as s:
        party = s.parties.create("person", "Jo", contact_points=[Email("jo@example.com")])
        other = s.parties.create("organization", "ACME")
        rel = s.relationships.create("works_for", party, other, valid_from=D(2024, 1, 1))
    with app.session() as s:
        row = s.db.get(PartyRow, party.id)
        assert row is not None
        row.display_name = "Joanna"  # through the SQLAlchemy session, not flushed
        assert s.parties.get(party.id).display_name == "Joanna"
        assert s.parties.find(email="jo@example.com")[0].display_name == "Joanna"
        assert s.identity.resolve(email="jo@example.com") == orm_get(s, party.id)
        stored = s.db.get(RelationshipRow, rel.id)
        assert stored is not None
        stored.attributes = {"title": "CEO"}
        (link,) = s.relationships.of(party, as_of=D(2024, 6, 1))
        assert link.relationship.attributes == {"title": "CEO"}
        assert [e.type for e in s.timeline(party)] == [
            e.type for e in orm_timeline(s, party.id, None)
        ]
        s.db.rollback()


def test_statements_watched_by_an_event_listener_go_through_sqlalchemy(app: XRM) -> None:
    with app.session() as s:
        party = s.parties.create("person", "Jo", contact_points=[Email("jo@example.com")])
    seen: list[str] = []

    def watch(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(app.engine, "before_cursor_execute", watch)
    try:
        with app.session() as s:
            assert s.identity.resolve(email="jo@example.com") == orm_get(s, party.id)
            assert len(s.timeline(party)) == 1
            assert s.relationships.of(party) == []
    finally:
        event.remove(app.engine, "before_cursor_execute", watch)
    assert sum("contact_point" in q for q in seen) >= 2  # the look-up and the party's points
    assert any("journal_party" in q for q in seen)
    assert any("relationship" in q for q in seen)


rel_spec = st.tuples(
    st.sampled_from(["works_for", "knows"]),
    st.integers(0, 4),
    st.integers(0, 4),
    st.dates(D(2020, 1, 1), D(2024, 12, 31)),
    st.none() | st.integers(1, 900),
)


@given(rels=st.lists(rel_spec, max_size=12), days=st.lists(st.dates(D(2019, 6, 1),
       D(2026, 6, 1)), min_size=1, max_size=3))  # fmt: skip
def test_relationships_read_lean_as_the_orm_reads_them(
    app: XRM, rels: list[tuple[str, int, int, dt.date, int | None]], days: list[dt.date]
) -> None:
    with app.session() as s:
        people = [s.parties.create("person", f"P{i}").id for i in range(3)]
        orgs = [s.parties.create("organization", f"O{i}").id for i in range(2)]
        everyone = people + orgs
        for type_, a, b, start, length in rels:
            source = people[a % 3] if type_ == "works_for" else everyone[a]
            target = orgs[b % 2] if type_ == "works_for" else everyone[b]
            end = None if length is None else start + dt.timedelta(days=length)
            with contextlib.suppress(Conflict, ValidationError):  # refused: skipped
                s.relationships.create(type_, source, target, valid_from=start, valid_to=end)
    with app.session() as s:
        for party, day, type_, direction, all_dates in itertools.product(
            everyone, days, (None, "works_for", "knows"), ("both", "outgoing", "incoming"),
            (False, True),
        ):  # fmt: skip
            lean = s.relationships.of(party, as_of=day, type=type_, direction=direction,
                                      all_dates=all_dates)  # fmt: skip
            expected = [
                link for link in orm_links(s, app.registry, party, day, type_, all_dates)
                if direction == "both" or link.type == "knows"
                or (link.relationship.from_party_id == party) == (direction == "outgoing")
            ]  # fmt: skip
            assert lean == expected


@pytest.mark.parametrize("types", [None, ["interaction.recorded"], ["party.created", "x.y"]])
def test_timeline_pages_read_lean_as_the_orm_reads_them(app: XRM, types: list[str] | None) -> None:
    with app.session() as s:
        jo = s.parties.create("person", "Jo")
        acme = s.parties.create("organization", "ACME")
        base = dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)
        for i in range(12):
            s.interactions.record(
                channel="phone", direction="inbound", participants=[(jo, "caller")],
                occurred_at=base + dt.timedelta(hours=i % 4), subject=f"call {i}",
            )  # fmt: skip
        s.record_event("tests.noted", parties=[jo, acme], data={"n": 1, "when": D(2024, 1, 2)})
    with app.session() as s:
        for limit in (1, 5, 50):
            entries: list[TimelineEntry] = []
            page = s.timeline(jo, limit=limit, types=types)
            entries += page.items
            while page.next_cursor is not None:
                page = s.timeline(jo, limit=limit, types=types, after=page.next_cursor)
                entries += page.items
            assert entries == orm_timeline(s, jo.id, types)
        assert list(s.timeline(acme)) == orm_timeline(s, acme.id, None)
        assert all(e.occurred_at.tzinfo is dt.UTC for e in s.timeline(jo))
        assert list(s.timeline(12345)) == []


def test_an_unknown_party_is_not_found_alike(app: XRM) -> None:
    with app.session() as s:
        p = s.parties.create("person", "Jo")
    with app.session() as s:
        for follow in (True, False):
            lean = outcome(s.parties.get, p.id + 1, follow_merges=follow)
            assert lean == outcome(orm_get, s, p.id + 1, follow)
            assert lean[0] == "NotFound"
