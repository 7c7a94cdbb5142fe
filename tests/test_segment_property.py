"""A random segment's SQL selects exactly the parties a plain Python reading of the same
rules selects, on random parties, tags, roles with dated states, attributes,
relationships, interactions, consent records and preferences (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from xrm import XRM
from xrm import segments as seg
from xrm.tables import (
    ContactPointRow,
    InteractionRow,
    ParticipantRow,
    PartyRow,
    PartyTagRow,
    PreferenceRow,
    RelationshipRow,
    RoleRow,
    RoleTransitionRow,
)

#: addresses never used twice: an erased party's addresses are suppressed for good
NUMBERS = itertools.count(10_000_000)
AT = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
TAGS = ["vip", "press", "b2b"]
CHANNELS = ["email", "sms", "web", "phone"]
PURPOSES = ["marketing", "surveys"]
STATES = ["lead", "prospect", "customer", "inactive"]
PATHS = {"lead": [], "prospect": ["lead"], "customer": ["lead", "prospect"],
         "inactive": ["lead", "prospect", "customer"]}  # fmt: skip


# -- random data -----------------------------------------------------------------------------
party_st = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["person", "organization"]),
        "tags": st.lists(st.sampled_from(TAGS), unique=True, max_size=2),
        "size": st.none() | st.integers(-5, 50),
        "role": st.none()
        | st.fixed_dictionaries(
            {
                "state": st.sampled_from(STATES),
                "days_ago": st.integers(-10, 400),
                "step_days": st.integers(1, 60),
                "score": st.none() | st.integers(0, 100),
                "tier": st.none() | st.sampled_from(["gold", "silver", "Gold plus"]),
                "ended_days_ago": st.none() | st.integers(-10, 200),
            }
        ),
        "email": st.booleans(),
        "phone": st.booleans(),
        "consents": st.lists(
            st.tuples(
                st.sampled_from(PURPOSES),
                st.sampled_from([None, "email", "sms"]),
                st.sampled_from(["granted", "refused", "withdrawn"]),
                st.integers(1, 300),
            ),
            max_size=3,
        ),
        "interactions": st.lists(
            st.tuples(
                st.sampled_from(CHANNELS),
                st.sampled_from(["inbound", "outbound"]),
                st.sampled_from([None, "sales", "support"]),
                st.sampled_from([None, "marketing", "service"]),
                st.integers(-5, 200),
            ),
            max_size=4,
        ),
        "language": st.none() | st.sampled_from(["fr", "fr-CA", "en", "de"]),
        "erased": st.integers(0, 9).map(lambda n: n == 0),
    }
)
links_st = st.lists(
    st.tuples(
        st.integers(0, 5), st.integers(0, 5), st.sampled_from(["works_for", "knows"]),
        st.integers(-30, 300), st.none() | st.integers(-30, 300),
    ),
    max_size=5,
)  # fmt: skip


def leaf() -> st.SearchStrategy[seg.Criterion]:
    return st.one_of(
        st.builds(seg.Kind, kind=st.sampled_from(["person", "organization"])),
        st.builds(seg.Tagged, tag=st.sampled_from([*TAGS, "VIP"])),
        st.builds(
            seg.HasRole,
            role=st.just("customer"),
            states=st.lists(st.sampled_from(STATES), unique=True, max_size=2),
            as_of=st.none() | st.integers(0, 300).map(lambda d: AT - dt.timedelta(days=d)),
        ),
        st.builds(
            seg.Attribute,
            role=st.just("customer"),
            name=st.just("score"),
            op=st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge", "exists"]),
            value=st.integers(0, 100),
        ),
        st.builds(
            seg.Attribute,
            role=st.just("customer"),
            name=st.just("tier"),
            op=st.sampled_from(["eq", "ne", "contains", "exists"]),
            value=st.sampled_from(["gold", "silver", "GOLD", "plus"]),
        ),
        st.builds(
            seg.Attribute,
            name=st.just("size"),
            op=st.sampled_from(["in", "gt", "le", "ne"]),
            value=st.integers(-5, 50),
        ).map(lambda a: a.model_copy(update={"value": [a.value, 7]}) if a.op == "in" else a),
        st.builds(
            seg.Interacted,
            channel=st.none() | st.sampled_from(CHANNELS),
            direction=st.none() | st.sampled_from(["inbound", "outbound"]),
            touchpoint=st.none() | st.sampled_from(["sales", "support"]),
            purpose=st.none() | st.sampled_from(["marketing", "service"]),
            within_days=st.none() | st.integers(0, 120),
            at_least=st.none() | st.integers(0, 3),
            at_most=st.none() | st.integers(0, 3),
        ).filter(_bounds_ok),
        st.builds(
            seg.Contactable,
            purpose=st.sampled_from(PURPOSES),
            channel=st.none() | st.sampled_from(["email", "sms", "web"]),
        ),
        st.builds(seg.Prefers, language=st.sampled_from(["fr", "en", "FR"])),
    )


def _bounds_ok(c: seg.Interacted) -> bool:
    low = c.at_least if c.at_least is not None else (0 if c.at_most == 0 else 1)
    return c.at_most is None or c.at_most >= low


def related(inner: st.SearchStrategy[seg.Criterion]) -> st.SearchStrategy[seg.Criterion]:
    return st.builds(
        seg.Related,
        relationship=st.sampled_from(["works_for", "knows"]),
        direction=st.sampled_from(["out", "in"]),
        other=st.none() | inner,
        as_of=st.none() | st.integers(-20, 300).map(lambda d: (AT - dt.timedelta(days=d)).date()),
    )


criteria = st.recursive(
    leaf(),
    lambda inner: st.one_of(
        st.builds(seg.All, of=st.lists(inner, max_size=3)),
        st.builds(seg.Any, of=st.lists(inner, max_size=3)),
        st.builds(seg.Not, of=inner),
        related(inner),
    ),
    max_leaves=6,
)


def build(s: Any, parties: list[dict[str, Any]], links: list[tuple[Any, ...]]) -> list[int]:
    ids = []
    for i, p in enumerate(parties):
        points = []
        if p["email"]:
            points.append({"kind": "email", "value": f"p{next(NUMBERS)}@example.com"})
        if p["phone"]:
            points.append({"kind": "phone", "value": f"+336{next(NUMBERS):08d}"})
        attributes = {} if p["size"] is None else {"size": p["size"]}
        party = s.parties.create(
            p["kind"], f"Party {i}", tags=p["tags"], contact_points=points, attributes=attributes
        )
        ids.append(party.id)
        r = p["role"]
        if r is not None:
            start = AT - dt.timedelta(days=r["days_ago"])
            attrs = {k: r[k] for k in ("score", "tier") if r[k] is not None}
            role = s.roles.assign(party, "customer", state="lead", at=start, attributes=attrs)
            when = start
            for state in [*PATHS[r["state"]][1:], r["state"]][: len(PATHS[r["state"]])]:
                when = when + dt.timedelta(days=r["step_days"])
                role = s.roles.transition(role, state, at=when)
            if r["ended_days_ago"] is not None:
                end = max(when, AT - dt.timedelta(days=r["ended_days_ago"]))
                s.roles.end(role, at=end + dt.timedelta(seconds=1))
        for purpose, channel, decision, days in p["consents"]:
            s.consents.record(
                party, purpose, decision, source="test", channel=channel,
                effective_from=AT - dt.timedelta(days=days),
            )  # fmt: skip
        for channel, direction, touchpoint, purpose, days in p["interactions"]:
            if direction == "outbound":  # a contract purpose: no consent to ask
                purpose = "service"
            s.interactions.record(
                channel=channel, direction=direction, touchpoint=touchpoint, purpose=purpose,
                participants=[{"party": party.id, "role": "customer"}],
                occurred_at=AT - dt.timedelta(days=days), historical=True,
            )  # fmt: skip
        if p["language"]:
            s.preferences.set(party, language=p["language"])
    for a, b, kind, start, end in links:
        if a >= len(ids) or b >= len(ids) or a == b:
            continue
        if kind == "works_for" and (parties[a]["kind"], parties[b]["kind"]) != (
            "person",
            "organization",
        ):
            continue
        valid_from = (AT - dt.timedelta(days=start)).date()
        valid_to = None if end is None else (AT - dt.timedelta(days=end)).date()
        if valid_to is not None and valid_to <= valid_from:
            continue
        try:
            s.relationships.create(kind, ids[a], ids[b], valid_from=valid_from, valid_to=valid_to)
        except Exception:
            continue
    for party_id, p in zip(ids, parties, strict=True):
        if p["erased"]:
            s.gdpr.erase(party_id, reason="test")
    return ids


# -- the reference -------------------------------------------------------------------------
class World:
    """The rows of the parties, read with plain SELECTs, and the rules in Python."""

    def __init__(self, s: Any, ids: list[int], channels: dict[str, str | None]) -> None:
        db = s.db
        self.channels = channels
        self.s = s
        self.ids = ids
        self.party = {r.id: r for r in db.scalars(select(PartyRow).where(PartyRow.id.in_(ids)))}
        self.tags: dict[int, set[str]] = defaultdict(set)
        for t in db.scalars(select(PartyTagRow).where(PartyTagRow.party_id.in_(ids))):
            self.tags[t.party_id].add(t.tag)
        self.roles = list(db.scalars(select(RoleRow).where(RoleRow.party_id.in_(ids))))
        self.transitions: dict[int, list[Any]] = defaultdict(list)
        for t in db.scalars(select(RoleTransitionRow).order_by(RoleTransitionRow.id)):
            self.transitions[t.role_id].append(t)
        self.rels = list(db.scalars(select(RelationshipRow)))
        self.parts: dict[int, list[tuple[Any, Any]]] = defaultdict(list)
        rows = db.execute(
            select(ParticipantRow, InteractionRow).join(
                InteractionRow, InteractionRow.id == ParticipantRow.interaction_id
            )
        )
        for p, i in rows:
            self.parts[p.party_id].append((p, i))
        self.lang = {r.party_id: r.language for r in db.scalars(select(PreferenceRow))}
        self.audiences: dict[tuple[str, str], set[int]] = {}

    def live(self, pid: int) -> bool:
        row = self.party[pid]
        return row.merged_into_id is None and row.erased_at is None

    def members(self, c: seg.Criterion) -> set[int]:
        return {p for p in self.ids if self.live(p) and self.holds(c, p)}

    def holds(self, c: seg.Criterion, pid: int) -> bool:
        if isinstance(c, seg.All):
            return all(self.holds(x, pid) for x in c.of)
        if isinstance(c, seg.Any):
            return any(self.holds(x, pid) for x in c.of)
        if isinstance(c, seg.Not):
            return not self.holds(c.of, pid)
        if isinstance(c, seg.Kind):
            return self.party[pid].kind == c.kind
        if isinstance(c, seg.Tagged):
            return c.tag.casefold() in self.tags[pid]
        if isinstance(c, seg.HasRole):
            when = _utc(c.as_of) if c.as_of else AT
            return any(
                r.party_id == pid
                and r.type == c.role
                and _current(r, when)
                and (not c.states or self.state_at(r, when) in c.states)
                for r in self.roles
            )
        if isinstance(c, seg.Attribute):
            if c.role is None:
                return _compare(c, self.party[pid].attributes)
            return any(
                r.party_id == pid and r.type == c.role and _current(r, AT)
                and _compare(c, r.attributes)
                for r in self.roles
            )  # fmt: skip
        if isinstance(c, seg.Related):
            day = c.as_of or AT.date()
            for r in self.rels:
                mine, theirs = (
                    (r.from_party_id, r.to_party_id)
                    if c.direction == "out"
                    else (r.to_party_id, r.from_party_id)
                )
                if mine != pid or r.type != c.relationship:
                    continue
                if not (r.valid_from <= day and (r.valid_to is None or r.valid_to > day)):
                    continue
                alive = theirs in self.party and self.live(theirs)
                if alive and (c.other is None or self.holds(c.other, theirs)):
                    return True
            return False
        if isinstance(c, seg.Interacted):
            seen = set()
            for p, i in self.parts[pid]:
                at = _utc(p.occurred_at)
                if c.within_days is not None and at < AT - dt.timedelta(days=c.within_days):
                    continue
                if any(
                    getattr(c, f) is not None and getattr(i, f) != getattr(c, f)
                    for f in ("channel", "direction", "touchpoint", "purpose")
                ):
                    continue
                seen.add(i.id)
            low = c.at_least if c.at_least is not None else (0 if c.at_most == 0 else 1)
            return len(seen) >= low and (c.at_most is None or len(seen) <= c.at_most)
        if isinstance(c, seg.Contactable):
            channels = [c.channel] if c.channel else list(self.channels)
            return any(pid in self.audience(c.purpose, ch) for ch in channels)
        if isinstance(c, seg.Prefers):
            lang = self.lang.get(pid)
            want = (c.language or "").lower()
            return lang is not None and (
                lang.lower() == want or lang.lower().startswith(want + "-")
            )
        raise AssertionError(c)

    def state_at(self, role: Any, when: dt.datetime) -> str | None:
        state = None
        for t in sorted(self.transitions[role.id], key=lambda t: (_utc(t.at), t.id)):
            if _utc(t.at) <= when:
                state = t.to_state
        return state

    def audience(self, purpose: str, channel: str) -> set[int]:
        """Who ``s.consents.check`` allows, one party and contact point at a time."""
        key = (purpose, channel)
        if key not in self.audiences:
            kind = self.channels[channel]
            found = set()
            for pid in self.ids:
                if self.party[pid].merged_into_id is not None:
                    continue
                if kind is None:
                    if self.s.consents.check(pid, purpose, channel, at=AT).allowed:
                        found.add(pid)
                    continue
                points = self.s.db.scalars(
                    select(ContactPointRow).where(
                        ContactPointRow.party_id == pid, ContactPointRow.kind == kind
                    )
                )
                for point in points:
                    if point.suppressed or not point.valid:
                        continue
                    if self.s.consents.check(
                        pid, purpose, channel, contact_point=point.id, at=AT
                    ).allowed:
                        found.add(pid)
            self.audiences[key] = found
        return self.audiences[key]


def _utc(value: dt.datetime | dt.date) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time(), dt.UTC)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _current(role: Any, when: dt.datetime) -> bool:
    return _utc(role.started_at) <= when and (role.ended_at is None or _utc(role.ended_at) > when)


def _compare(c: seg.Attribute, attributes: dict[str, Any]) -> bool:
    value = attributes.get(c.name)
    if c.op == "exists":
        return value is not None
    if value is None:
        return c.op == "ne"
    if c.op == "contains":
        return str(c.value).casefold() in str(value).casefold()
    numeric = isinstance(c.value, int | Decimal) or (
        isinstance(c.value, list) and isinstance(c.value[0], int)
    )
    have = Decimal(str(value)) if numeric else str(value)
    wanted = [
        Decimal(str(v)) if numeric else str(v) for v in (c.value if c.op == "in" else [c.value])
    ]
    if c.op == "in":
        return have in wanted
    want = wanted[0]
    return {
        "eq": have == want, "ne": have != want, "lt": have < want,
        "le": have <= want, "gt": have > want, "ge": have >= want,
    }[c.op]  # fmt: skip


@settings(max_examples=120)
@given(parties=st.lists(party_st, min_size=1, max_size=6), links=links_st, criterion=criteria)
def test_a_random_segment_selects_what_the_python_reference_selects(
    app: XRM, parties: list[dict[str, Any]], links: list[tuple[Any, ...]], criterion: seg.Criterion
) -> None:
    with app.session() as s:
        ids = build(s, parties, links)
    with app.session() as s:
        channels = {name: c.contact_kind for name, c in app.registry.channels.items()}
        expected = World(s, ids, channels).members(criterion)
        query = s.segments.select(criterion, at=AT).where(PartyRow.id.in_(ids))
        found = set(s.db.scalars(query))
        assert found == expected, criterion.model_dump(mode="json")
        # the JSON form reads back as the same criterion, with the same members
        again = s.segments.parse(criterion.model_dump(mode="json"))
        assert again == criterion
        assert s.segments.count(again, at=AT) >= len(found)
