"""Merge a duplicate into the party that survives, losslessly, and undo it:
``s.identity.merge`` and ``s.identity.unmerge``."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from xrm import (
    XRM,
    Conflict,
    Email,
    Phone,
    PluginError,
    Purpose,
    RelationshipType,
    ValidationError,
    hookimpl,
)
from xrm.tables import ConsentRecordRow
from xrm.testing import snapshot

T0 = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)
JOURNAL = ("journal_event", "journal_party", "journal_outbox")


def days(n: float) -> dt.datetime:
    return T0 + dt.timedelta(days=n)


@pytest.fixture
def app_m(app: XRM) -> XRM:
    app.register(Purpose("surveys_li", "legitimate_interest", "Surveys"), source="tests")
    return app


def without_journal(app: XRM) -> dict[str, list[tuple[Any, ...]]]:
    return {t: rows for t, rows in snapshot(app).items() if t not in JOURNAL}


def test_the_marie_dupont_written_two_ways_are_merged_and_both_ids_resolve(app: XRM) -> None:
    with app.session() as s:
        _, first = s.imports.import_one(
            {"name": "DUPONT Marie", "emails": ["MARIE.DUPONT@example.com"],
                "phones": ["+33612345678"]},
        )  # fmt: skip
        other = s.parties.create(
            "person", "Marie Dupont", given_name="Marie",
            contact_points=[Email("marie@perso.example"), Phone("06 12 34 56 78")],
        )  # fmt: skip
        plan = s.identity.merge(first, other)
        assert plan.fields == {"given_name": "Marie"}  # an empty field is filled
        marie = s.parties.get(first)
        assert s.parties.get(other.id) == marie  # the duplicate's id resolves
        assert s.identity.resolve(email="marie@perso.example") == marie
        assert s.identity.resolve(phone="+33 6 12 34 56 78") == marie
        assert sorted(c.key for c in marie.contact_points) == [
            "+33612345678", "marie.dupont@example.com", "marie@perso.example",
        ]  # fmt: skip
        assert s.parties.count() == 1
        # the duplicate holds nothing any more: a later import finds the survivor alone
        assert s.parties.get(other.id, follow_merges=False).contact_points == ()
        again = {"name": "Marie Dupont", "emails": ["marie@perso.example"], "region": "FR",
                 "phones": ["06 12 34 56 78"]}  # fmt: skip
        assert s.imports.import_one(again) == ("unchanged", first)
        # writing to the merged party is refused, with the survivor named
        with pytest.raises(Conflict, match=f"merged into party {first}"):
            s.parties.update(other.id, display_name="Someone")


def test_a_merge_moves_identifiers_tags_roles_interactions_and_the_timeline(app: XRM) -> None:
    with app.session() as s:
        keep = s.parties.create("person", "Keep", tags=["vip"])
        dup = s.parties.create(
            "person", "Dup", tags=["vip", "newsletter"], identifiers={"crm.legacy": "A-1"}
        )
        agent = s.parties.create("person", "Agent")
        s.roles.assign(dup, "customer", state="lead")
        call = s.interactions.record(
            channel="phone", direction="inbound", participants=[(dup, "caller"), (agent, "agent")]
        )
        plan = s.identity.merge(keep, dup)
        assert plan.tags_added == ("newsletter",)
        assert len(plan.identifiers_moved) == 1 and len(plan.roles_moved) == 1
        assert len(plan.participations_moved) == 1 and plan.event_id is not None
        kept = s.parties.get(keep)
        assert kept.tags == ("newsletter", "vip")
        assert s.identity.resolve(identifier=("crm.legacy", "A-1")) == kept
        assert [r.type for r in s.roles.of(keep, include_ended=True)] == ["customer"]
        assert s.interactions.get(call.id).participants[0].party_id == keep.id
        types = [e.type for e in s.timeline(keep).items]
        assert "party.created" in types and "party.merged" in types
        # the duplicate's own creation is now in the survivor's timeline too
        assert sum(t == "party.created" for t in types) == 2


@pytest.mark.parametrize("prefer", ["survivor", "duplicate"])
def test_two_current_roles_of_a_type_leave_one_current(app: XRM, prefer: str) -> None:
    with app.session() as s:
        keep, dup = s.parties.create("person", "Keep"), s.parties.create("person", "Dup")
        mine = s.roles.assign(keep, "customer", state="lead")
        theirs = s.roles.transition(s.roles.assign(dup, "customer"), "prospect")
        plan = s.identity.merge(keep, dup, prefer={"roles": prefer})  # type: ignore[dict-item]
        loser = theirs if prefer == "survivor" else mine
        assert plan.roles_ended == (loser.id,)
        current = [r for r in s.roles.of(keep, include_ended=True) if r.ended_at is None]
        assert [r.id for r in current] == [(mine if prefer == "survivor" else theirs).id]


def test_relationships_never_become_self_links_duplicates_or_exceed_a_cap(app: XRM) -> None:
    with app.session() as s:
        keep, dup = s.parties.create("person", "Keep"), s.parties.create("person", "Dup")
        acme = s.parties.create("organization", "Acme")
        globex = s.parties.create("organization", "Globex")
        friend = s.parties.create("person", "Friend")
        s.relationships.create("works_for", keep, acme, valid_from=dt.date(2024, 1, 1))
        capped = s.relationships.create("works_for", dup, globex, valid_from=dt.date(2024, 1, 1))
        self_link = s.relationships.create("knows", keep, dup)
        twice = s.relationships.create("knows", friend, dup)
        s.relationships.create("knows", keep, friend)
        past = s.relationships.create(
            "works_for", dup, globex, valid_from=dt.date(2020, 1, 1), valid_to=dt.date(2021, 1, 1)
        )
        plan = s.identity.merge(keep, dup)
        kept = dict(plan.relationships_kept)
        assert set(kept) == {capped.id, self_link.id, twice.id}
        assert "at most 1" in kept[capped.id] and "already related" in kept[twice.id]
        assert plan.relationships_moved == (past.id,)
        assert s.relationships.get(past.id).from_party_id == keep.id


def test_a_capped_relationship_moves_the_cap_does_not_count_the_link_being_moved(
    app: XRM,
) -> None:
    # one account manager per customer: the duplicate employee's link is the customer's one
    app.register(
        RelationshipType("account_manager", "manages", "is managed by", max_per_to=1),
        source="tests",
    )
    with app.session() as s:
        keep, dup = s.parties.create("person", "Keep"), s.parties.create("person", "Dup")
        customer = s.parties.create("organization", "Customer")
        link = s.relationships.create("account_manager", dup, customer)
        plan = s.identity.merge(keep, dup)
        assert plan.relationships_moved == (link.id,) and plan.relationships_kept == ()
        assert s.relationships.get(link.id).from_party_id == keep.id
        # unmerge gives it back
        s.identity.unmerge(dup)
        assert s.relationships.get(link.id).from_party_id == dup.id


def test_a_dry_run_returns_the_plan_and_changes_nothing(app: XRM, unchanged: Any) -> None:
    with app.session() as s:
        keep = s.parties.create("person", "Keep", contact_points=[Email("k@example.com")])
        dup = s.parties.create("person", "Dup", contact_points=[Email("d@example.com")])
    with unchanged(), app.session() as s:
        plan = s.identity.merge(keep, dup, dry_run=True)
        assert plan.dry_run and plan.event_id is None and len(plan.contact_points_moved) == 1
    with app.session() as s:
        done = s.identity.merge(keep, dup)
        assert done.contact_points_moved == plan.contact_points_moved


def test_what_cannot_be_merged_or_unmerged_is_refused_with_the_reason(
    app: XRM, unchanged: Any
) -> None:
    with app.session() as s:
        a, b, c = (s.parties.create("person", n) for n in "ABC")
        s.identity.merge(a, b)
        erased = s.parties.create("person", "E")
        s.gdpr.erase(erased, reason="asked")
    with unchanged(), app.session() as s:
        with pytest.raises(ValidationError) as bad:
            s.identity.merge(a, a)
        assert bad.value.errors[0].path == "duplicate"
        with pytest.raises(Conflict, match="merged into party"):
            s.identity.merge(c, b)
        with pytest.raises(Conflict, match="erased"):
            s.identity.merge(a, erased)
        with pytest.raises(ValidationError) as bad:
            s.identity.merge(a, c, prefer={"colour": "survivor"})  # type: ignore[dict-item]
        assert bad.value.errors[0].path == "prefer.colour"
        with pytest.raises(ValidationError):
            s.identity.merge(a, c, prefer="both")  # type: ignore[arg-type]
        with pytest.raises(Conflict, match="not merged"):
            s.identity.unmerge(c)
    with app.session() as s:
        s.identity.merge(c, a)  # a (holding b) goes into c
    with app.session() as s, pytest.raises(Conflict, match=f"unmerge party {a.id} first"):
        s.identity.unmerge(b)


def test_a_withdrawal_recorded_after_the_merge_reaches_the_moved_points(app: XRM) -> None:
    with app.session() as s:
        keep = s.parties.create("person", "Keep", contact_points=[Email("k@example.com")])
        dup = s.parties.create("person", "Dup", contact_points=[Email("d@example.com")])
        s.consents.grant(dup, "marketing", source="web", captured_at=days(1))
        s.identity.merge(keep, dup)
        # the survivor's own earlier silence does not touch the point it received...
        assert s.consents.check(keep, "marketing", "email", "d@example.com").allowed
        assert not s.consents.check(keep, "marketing", "email", "k@example.com").allowed
        # ...but what the person says from now on, to the survivor, does
        s.consents.withdraw(keep, "marketing", source="call")
        assert not s.consents.check(keep, "marketing", "email", "d@example.com").allowed
        assert list(s.consents.audience("marketing", "email")) == []


def test_one_person_said_no_a_refusal_on_either_record_covers_every_address(app: XRM) -> None:
    with app.session() as s:
        keep = s.parties.create("person", "Keep", contact_points=[Email("k@example.com")])
        dup = s.parties.create("person", "Dup", contact_points=[Email("d@example.com")])
        s.consents.grant(keep, "marketing", source="web", captured_at=days(1))
        s.consents.grant(dup, "marketing", source="web", captured_at=days(1))
        s.consents.withdraw(dup, "marketing", source="call", captured_at=days(3))
        s.consents.object(keep, "surveys", channel="email", source="web", captured_at=days(2))
        assert s.consents.check(dup, "surveys", "email", "d@example.com").allowed
        assert s.consents.check(keep, "marketing", "email", "k@example.com").allowed
        plan = s.identity.merge(keep, dup)
        assert len(plan.consent_carried) == 2  # the dup's withdrawal, the keep's objection
        # the withdrawal the person gave on the duplicate's record reaches the survivor's
        # own address, and the survivor's objection to surveys by email the duplicate's
        for address in ("k@example.com", "d@example.com"):
            decision = s.consents.check(keep, "marketing", "email", address)
            assert (decision.allowed, decision.rule) == (False, "withdrawn")
            assert "carried by the merge" in (decision.record.evidence or "")
            assert not s.consents.check(keep, "surveys", "email", address).allowed
        assert list(s.consents.audience("marketing", "email")) == []
        # a later grant is the person's later word: it counts, on the address it was given
        s.consents.grant(keep, "marketing", source="web", captured_at=days(4))
        assert s.consents.check(keep, "marketing", "email", "k@example.com").allowed
        s.identity.unmerge(dup)
        assert s.consents.check(dup, "surveys", "email", "d@example.com").allowed
        carried = s.db.scalars(
            select(ConsentRecordRow).where(ConsentRecordRow.id.in_(plan.consent_carried))
        ).all()
        assert carried == []  # the unmerge took the carried records away


def test_erasing_the_survivor_clears_the_evidence_of_the_refusals_a_merge_carried(
    app: XRM,
) -> None:
    with app.session() as s:
        keep = s.parties.create("person", "Keep", contact_points=[Email("k@example.com")])
        dup = s.parties.create("person", "Dup", contact_points=[Email("d@example.com")])
        s.consents.withdraw(dup, "marketing", source="call", evidence="call 42, Marie D.")
        plan = s.identity.merge(keep, dup)
        assert plan.consent_carried
        s.gdpr.erase(keep, reason="request 7")
        rows = s.db.scalars(
            select(ConsentRecordRow).where(ConsentRecordRow.party_id.in_([keep.id, dup.id]))
        ).all()
        assert rows and all(r.evidence is None for r in rows)


def test_the_history_of_a_survivor_shows_the_records_that_decide_for_its_points(
    app: XRM,
) -> None:
    with app.session() as s:
        keep = s.parties.create("person", "Keep", contact_points=[Email("k@example.com")])
        dup = s.parties.create("person", "Dup", contact_points=[Email("d@example.com")])
        other = s.parties.create("person", "Other", contact_points=[Email("o@example.com")])
        s.consents.grant(keep, "marketing", source="web", captured_at=days(1))
        s.consents.grant(dup, "marketing", source="call", captured_at=days(2))
        s.consents.refuse(other, "marketing", source="web", captured_at=days(3))
        s.identity.merge(keep, dup)
        s.consents.withdraw(keep, "surveys", source="mail", captured_at=days(4))
        history = s.consents.history(keep)
        assert [(r.party_id, r.purpose, r.decision) for r in history] == [
            (keep.id, "marketing", "granted"),
            (dup.id, "marketing", "granted"),
            (keep.id, "surveys", "withdrawn"),
        ]
        assert [r.party_id for r in s.consents.history(keep, merged=False)] == [keep.id] * 2
        assert [r.purpose for r in s.consents.history(keep, purpose="surveys")] == ["surveys"]
        s.identity.unmerge(dup)
        assert [r.party_id for r in s.consents.history(keep)] == [keep.id] * 2


class Loyalty:
    """A plugin that keeps points per party in the party's attributes... of its own."""

    __xrm_name__ = "loyalty"

    def __init__(self, veto: bool = False) -> None:
        self.veto = veto
        self.given_back: list[Any] = []

    @hookimpl
    def xrm_parties_merged(self, session: Any, survivor: Any, duplicate: Any) -> Any:
        if self.veto:
            raise Conflict("open loyalty claims")
        return {"points": 40, "from": duplicate.id}

    @hookimpl
    def xrm_parties_unmerged(self, session: Any, survivor: Any, duplicate: Any, moved: Any) -> None:
        self.given_back.append(moved)


def test_plugins_move_their_data_and_get_it_back_or_veto(
    request: pytest.FixtureRequest, xrm_factory: Any
) -> None:
    plugin = Loyalty()
    app = xrm_factory(plugins=[plugin], builtins=False, discover=False)
    with app.session() as s:
        a, b = s.parties.create("person", "A"), s.parties.create("person", "B")
        s.identity.merge(a, b)
        s.identity.unmerge(b)
    assert plugin.given_back == [{"points": 40, "from": b.id}]
    plugin.veto = True
    before = snapshot(app)
    with app.session() as s, pytest.raises(PluginError) as vetoed:
        s.identity.merge(a, b)
    assert vetoed.value.plugin == "loyalty" and vetoed.value.hook == "xrm_parties_merged"
    assert snapshot(app) == before


def test_after_an_erasure_of_a_merged_party_the_scan_finds_nothing(app: XRM) -> None:
    from tests.test_gdpr import scan

    with app.session() as s:
        keep = s.parties.create("person", "Keep Xylo", contact_points=[Email("kx@example.com")])
        dup = s.parties.create(
            "person", "Dup Xylo", given_name="Zebulon",
            contact_points=[Email("dx@example.com"), Email("kx@example.com")],
        )  # fmt: skip
        s.consents.grant(dup, "marketing", source="web", contact_point="dx@example.com")
        s.identity.merge(keep, dup)
        s.gdpr.erase(keep, reason="asked")
        with pytest.raises(Conflict, match="erased"):
            s.identity.unmerge(dup)
    assert scan(app, ["kx@example.com", "dx@example.com", "Keep Xylo", "Dup Xylo", "Zebulon"]) == []


# -- the properties ---------------------------------------------------------------------
SERIAL = itertools.count()
POINTS = {"e1@example.com": "email", "e2@example.com": "email", "+33612345678": "phone"}
PURPOSES = ("marketing", "surveys_li")
SCOPES: list[tuple[str, str | None]] = [("all", None), ("channel", "email"), ("channel", "sms")]
record_st = st.tuples(
    st.sampled_from(["granted", "refused", "withdrawn", "objected"]),
    st.sampled_from(PURPOSES),
    st.one_of(st.sampled_from(SCOPES), st.sampled_from(sorted(POINTS)).map(lambda k: ("point", k))),
    st.integers(0, 10),
)
party_st = st.tuples(
    st.sets(st.sampled_from(sorted(POINTS)), max_size=3),
    st.lists(record_st, max_size=6),
    st.sampled_from([None, "lead", "lost"]),
    st.booleans(),
    st.sets(st.sampled_from(sorted(POINTS)), max_size=1),  # suppressed (a bounce)
)


def _build(s: Any, name: str, spec: Any, other: int | None) -> int:
    points, ledger, role, relate, suppressed = spec
    party = s.parties.create(
        "person",
        name,
        contact_points=[Email(k) if POINTS[k] == "email" else Phone(k) for k in sorted(points)],
        identifiers={"crm.legacy": f"{name}-{next(SERIAL)}"},
        tags=[name.lower(), "shared"],
    )
    for decision, purpose, (scope, value), day in ledger:
        where: dict[str, Any] = {}
        if scope == "channel":
            where["channel"] = value
        elif scope == "point":
            if value not in points:
                continue
            where["contact_point"] = value
        s.consents.record(party, purpose, decision, source="test", captured_at=days(day), **where)
    if role is not None:
        held = s.roles.assign(party, "customer")
        if role == "lost":
            s.roles.transition(held, "lost")
    if relate and other is not None:
        s.relationships.create("knows", party, other)
    for key in suppressed & points:
        s.consents.suppress(party, key, reason="bounce")
    return int(party.id)


def _answers(s: Any, party: int) -> dict[tuple[str, str, str, int], bool]:
    """(key, purpose, channel, at) -> allowed, for every contact point of the party."""
    found = {}
    for point in s.parties.get(party).contact_points:
        channels = ["email"] if point.kind == "email" else ["phone", "sms"]
        for purpose in PURPOSES:
            for channel in channels:
                for at in (days(3), days(8), None):
                    decision = s.consents.check(party, purpose, channel, point.id, at=at)
                    found[(point.key, purpose, channel, 0 if at is None else at.day)] = (
                        decision.allowed
                    )
    return found


def _audience(s: Any, party: int) -> set[tuple[str, str, str]]:
    members = set()
    for purpose in PURPOSES:
        for channel in ("email", "sms", "phone"):
            for member in s.consents.audience(purpose, channel):
                if member.party_id == party:
                    members.add((str(member.value), purpose, channel))
    return members


def _expected_after(*before: dict[tuple[str, str, str, int], bool]) -> dict[Any, bool]:
    """A point both parties had is allowed only where both allowed it."""
    merged: dict[Any, bool] = {}
    for answers in before:
        for key, allowed in answers.items():
            merged[key] = merged.get(key, True) and allowed
    return merged


class _Undone(Exception):
    pass


def _expected_merge(app: XRM, keep: int, dup: int) -> dict[Any, bool]:
    """What ``check`` must answer for the survivor's points after merging ``dup`` into
    ``keep``, worked out with the public API alone: each party first hears every refusal,
    withdrawal and objection of a whole channel or of all channels that either holds (one
    person said no), recorded again through ``s.consents.record`` in the order of the
    originals; then a point both had is allowed only where both allowed it. The session
    is rolled back."""
    try:
        with app.session() as s:
            said = sorted(
                (
                    r for party in (keep, dup) for r in s.consents.history(party, merged=False)
                    if r.scope in ("all", "channel") and r.decision != "granted"
                ),
                key=lambda r: r.id,
            )  # fmt: skip
            for party in (keep, dup):
                for r in said:
                    s.consents.record(
                        party, r.purpose, r.decision, source=r.source, channel=r.channel,
                        captured_at=r.captured_at, effective_from=r.effective_from,
                    )  # fmt: skip
            raise _Undone(_expected_after(_answers(s, keep), _answers(s, dup)))
    except _Undone as done:
        return cast(dict[Any, bool], done.args[0])


@given(survivor=party_st, duplicate=party_st, prefer=st.sampled_from(["survivor", "duplicate"]))
def test_merge_never_changes_a_consent_answer_and_unmerge_restores_the_database(
    app_m: XRM, survivor: Any, duplicate: Any, prefer: Any
) -> None:
    with app_m.session() as s:
        friend = s.parties.create("person", "Friend").id
        keep = _build(s, "Keep", survivor, friend)
        dup = _build(s, "Dup", duplicate, friend)
    before = without_journal(app_m)
    expected = _expected_merge(app_m, keep, dup)
    with app_m.session() as s:
        answered = _expected_after(_answers(s, keep), _answers(s, dup))
        s.identity.merge(keep, dup, prefer=prefer, force=True)  # two legacy ids
    with app_m.session() as s:
        after = _answers(s, keep)
        assert after == expected
        # never more permissive than either party's own answer
        assert all(answered[key] or not ok for key, ok in after.items())
        # the set-based audience agrees with check, point by point
        listed = _audience(s, keep)
        now_allowed = {(key, p, ch) for (key, p, ch, at), ok in after.items() if ok and at == 0}
        values = {c.key: c.value for c in s.parties.get(keep).contact_points}
        assert listed == {(values[k], p, ch) for k, p, ch in now_allowed}
        s.identity.unmerge(dup)
    assert without_journal(app_m) == before
    with app_m.session() as s:  # the journal only gained the merge and the unmerge
        types = [e.type for e in s.timeline(dup).items]
        assert types[:2] == ["party.unmerged", "party.merged"]


@given(a=party_st, b=party_st, c=party_st)
def test_merges_chain_and_unmerge_in_reverse_order(app_m: XRM, a: Any, b: Any, c: Any) -> None:
    with app_m.session() as s:
        ids = [_build(s, name, spec, None) for name, spec in zip("ABC", (a, b, c), strict=True)]
    first, second, third = ids
    start = without_journal(app_m)
    expected = _expected_merge(app_m, first, second)
    with app_m.session() as s:
        s.identity.merge(first, second, force=True)  # each holds a legacy id of its own
    with app_m.session() as s:
        assert _answers(s, first) == expected
    expected = _expected_merge(app_m, third, first)
    with app_m.session() as s:
        s.identity.merge(third, first, force=True)
    with app_m.session() as s:
        assert _answers(s, third) == expected
        assert s.parties.get(second).id == third
        s.identity.unmerge(first)
        s.identity.unmerge(second)
    assert without_journal(app_m) == start


def test_two_values_of_one_identifier_scheme_need_force_and_the_plan_shows_why(
    app: XRM, unchanged: Any
) -> None:
    with app.session() as s:
        keep = s.parties.create("organization", "ACME", identifiers={"fr.siren": "732829320"})
        dup = s.parties.create("organization", "ACME SAS", identifiers={"fr.siren": "552100554"})
        other = s.parties.create("organization", "Globex")
    with unchanged(), app.session() as s:
        with pytest.raises(Conflict, match=r"two fr.siren identifiers .*force=True"):
            s.identity.merge(keep, dup)
        with pytest.raises(Conflict, match="organisations of different names"):
            s.identity.merge(keep, other)
        plan = s.identity.merge(keep, dup, dry_run=True)
        assert plan.conflicts == ("two fr.siren identifiers (732829320 and 552100554)",)
    with app.session() as s:
        forced = s.identity.merge(keep, dup, force=True)
        assert forced.conflicts and not forced.dry_run
        assert sorted(i.value for i in s.parties.get(keep).identifiers) == [
            "552100554",
            "732829320",
        ]
        # one name written two ways is no conflict
        acme2 = s.parties.create("organization", "Acme S.A.S.")
        assert s.identity.merge(keep, acme2).conflicts == ()


def test_unmerge_works_after_new_rows_reuse_the_ids_the_merge_freed(app: XRM) -> None:
    # SQLite gives a new row the highest id + 1: the duplicate's point folded into the
    # survivor's (deleted by the merge) leaves its id free for the next contact point
    with app.session() as s:
        keep = s.parties.create("person", "Keep", contact_points=[Email("same@example.com")])
        dup = s.parties.create("person", "Dup", contact_points=[Email("SAME@example.com")])
        folded = dup.contact_points[0].id
        s.consents.grant(dup, "marketing", source="web", contact_point=folded)
        s.identity.merge(keep, dup)
    with app.session() as s:
        other = s.parties.create("person", "Other", contact_points=[Email("o@example.com")])
        s.consents.grant(other, "marketing", source="web", contact_point=other.contact_points[0])
    with app.session() as s:
        undone = s.identity.unmerge(dup)
        assert undone.moved_back["contact_point"] == 1
        back = s.parties.get(dup, follow_merges=False)
        assert [c.key for c in back.contact_points] == ["same@example.com"]
        # the consent record that named the folded point names the point that came back
        (record,) = s.consents.history(dup)
        row = s.db.get(ConsentRecordRow, record.id)
        assert row is not None and row.contact_point_id == back.contact_points[0].id
        assert s.parties.get(other).contact_points[0].key == "o@example.com"
