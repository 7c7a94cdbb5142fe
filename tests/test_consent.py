"""Consent: an evidence ledger the data layer enforces.

The rule table of docs/consent.md, row by row; then properties: ``check`` equals a plain
reference implementation of the table, ``contactable`` returns exactly what ``check``
allows, and no random sequence of grants, withdrawals, objections and expiries lets an
outbound contact through that the rules deny.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule
from sqlalchemy import func, select

from xrm import XRM, ConsentRequired, Email, Phone, Purpose, RoleType, ValidationError

T0 = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def days(n: float) -> dt.datetime:
    return T0 + n * DAY


@pytest.fixture
def app_c(app: XRM) -> XRM:
    app.register(
        Purpose("newsletter", "consent", "Newsletter", double_opt_in=True),
        Purpose("orders", "contract", "Order notices", requires_role="customer"),
        source="tests",
    )
    return app


@pytest.fixture
def marie(app_c: XRM) -> int:
    with app_c.session() as s:
        return s.parties.create(
            "person",
            "Marie",
            contact_points=[
                Email("marie@example.com"),
                Email("marie@work.example"),
                Phone("06 12 34 56 78"),
            ],
        ).id


# -- the rule table -----------------------------------------------------------------------
# (ledger: list of (decision, scope, day, extra), purpose, channel, contact point, at day,
#  allowed, rule)
HOME, WORK = "marie@example.com", "marie@work.example"
TABLE: list[
    tuple[str, list[tuple[str, str, float, dict[str, Any]]], str, str, str | None, float, bool, str]
] = [
    (
        "deny by default for consent purposes",
        [],
        "marketing",
        "email",
        HOME,
        1,
        False,
        "no_consent",
    ),
    (
        "legitimate interest allows until an objection",
        [],
        "surveys",
        "email",
        HOME,
        1,
        True,
        "legitimate_interest",
    ),
    (
        "contract purposes are always allowed",
        [("withdrawn", "all", 0, {})],
        "service",
        "email",
        HOME,
        1,
        True,
        "contract",
    ),
    (
        "legal obligation is always allowed",
        [("objected", "all", 0, {})],
        "legal",
        "email",
        HOME,
        1,
        True,
        "legal_obligation",
    ),
    (
        "a grant for all channels allows",
        [("granted", "all", 0, {})],
        "marketing",
        "email",
        HOME,
        1,
        True,
        "granted",
    ),
    (
        "the latest record of a scope decides",
        [("granted", "all", 0, {}), ("withdrawn", "all", 1, {})],
        "marketing",
        "email",
        HOME,
        2,
        False,
        "withdrawn",
    ),
    (
        "a grant after a withdrawal allows again",
        [("withdrawn", "all", 0, {}), ("granted", "all", 1, {})],
        "marketing",
        "email",
        HOME,
        2,
        True,
        "granted",
    ),
    (
        "a record not yet effective does not count",
        [("granted", "all", 5, {})],
        "marketing",
        "email",
        HOME,
        1,
        False,
        "no_consent",
    ),
    (
        "the most specific scope decides: channel over all",
        [("granted", "all", 1, {}), ("refused", "channel", 0, {"channel": "email"})],
        "marketing",
        "email",
        HOME,
        2,
        False,
        "refused",
    ),
    (
        "a grant on another channel does not count",
        [("granted", "channel", 0, {"channel": "sms"})],
        "marketing",
        "email",
        HOME,
        1,
        False,
        "no_consent",
    ),
    (
        "the most specific scope decides: contact point over all",
        [("refused", "contact_point", 0, {"contact_point": HOME}), ("granted", "all", 1, {})],
        "marketing",
        "email",
        HOME,
        2,
        False,
        "refused",
    ),
    (
        "... and the other address follows the broader grant",
        [("refused", "contact_point", 0, {"contact_point": HOME}), ("granted", "all", 1, {})],
        "marketing",
        "email",
        WORK,
        2,
        True,
        "granted",
    ),
    (
        "a withdrawal beats any earlier grant, even a more specific one",
        [("granted", "contact_point", 0, {"contact_point": HOME}), ("withdrawn", "all", 1, {})],
        "marketing",
        "email",
        HOME,
        2,
        False,
        "withdrawn",
    ),
    (
        "a specific grant after a broad withdrawal allows",
        [("withdrawn", "all", 0, {}), ("granted", "contact_point", 1, {"contact_point": HOME})],
        "marketing",
        "email",
        HOME,
        2,
        True,
        "granted",
    ),
    (
        "an expired grant is no grant",
        [("granted", "all", 0, {"expires_at": days(2)})],
        "marketing",
        "email",
        HOME,
        3,
        False,
        "expired",
    ),
    (
        "... until it expires",
        [("granted", "all", 0, {"expires_at": days(2)})],
        "marketing",
        "email",
        HOME,
        1,
        True,
        "granted",
    ),
    (
        "double opt-in: an unconfirmed grant is no grant",
        [("granted", "all", 0, {})],
        "newsletter",
        "email",
        HOME,
        1,
        False,
        "unconfirmed",
    ),
    (
        "double opt-in: a confirmed grant allows",
        [("granted", "all", 0, {"confirmed_at": days(0.5)})],
        "newsletter",
        "email",
        HOME,
        1,
        True,
        "granted",
    ),
    (
        "an objection ends legitimate interest",
        [("objected", "channel", 0, {"channel": "email"})],
        "surveys",
        "email",
        HOME,
        1,
        False,
        "objected",
    ),
    ("a contract basis needs its role", [], "orders", "email", HOME, 1, False, "basis_ended"),
]


@pytest.mark.parametrize(
    ("ledger", "purpose", "channel", "point", "at", "allowed", "rule"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_the_rule_table(
    app_c: XRM,
    marie: int,
    ledger: list[tuple[str, str, float, dict[str, Any]]],
    purpose: str,
    channel: str,
    point: str | None,
    at: float,
    allowed: bool,
    rule: str,
) -> None:
    with app_c.session() as s:
        for decision, _scope, day, extra in ledger:
            s.consents.record(
                marie, purpose, decision, source="test", captured_at=days(day), **extra
            )
        decision_ = s.consents.check(marie, purpose, channel, point, at=days(at))
        audience = {m.value for m in s.consents.audience(purpose, channel, at=days(at))}
    assert (decision_.allowed, decision_.rule) == (allowed, rule), decision_.reason
    assert (point in audience) == allowed
    if decision_.record is not None:
        assert decision_.record.purpose == purpose


def test_a_suppressed_contact_point_is_never_contactable(app_c: XRM, marie: int) -> None:
    with app_c.session() as s:
        s.consents.grant(marie, "marketing", source="web_form")
        s.consents.suppress(marie, HOME, reason="hard bounce")
        assert s.consents.check(marie, "service", "email", HOME).rule == "suppressed"
        assert s.consents.check(marie, "marketing", "email", WORK).allowed
        assert {m.value for m in s.consents.audience("service", "email")} == {WORK}


def test_a_contract_basis_holds_while_the_role_does(app_c: XRM, marie: int) -> None:
    with app_c.session() as s:
        role = s.roles.assign(marie, "customer")
        assert s.consents.check(marie, "orders", "email", HOME).allowed
        s.roles.end(role)
        assert not s.consents.check(marie, "orders", "email", HOME).allowed


# -- enforcement --------------------------------------------------------------------------
def test_a_withdrawal_one_second_ago_blocks_the_next_marketing_email_but_not_service(
    app_c: XRM, marie: int, unchanged: Any
) -> None:
    now = dt.datetime.now(dt.UTC)
    with app_c.session() as s:
        s.consents.grant(
            marie,
            "marketing",
            source="web_form",
            captured_at=now - 30 * DAY,
            evidence="signup form v3, ip 192.0.2.1",
        )
        s.interactions.record(
            channel="email",
            direction="outbound",
            purpose="marketing",
            participants=[(marie, "recipient")],
        )
        s.consents.withdraw(
            marie, "marketing", source="unsubscribe_link", captured_at=now - dt.timedelta(seconds=1)
        )
    with unchanged(), pytest.raises(ConsentRequired) as err, app_c.session() as s:
        s.interactions.record(
            channel="email",
            direction="outbound",
            purpose="marketing",
            participants=[(marie, "recipient")],
        )
    assert (err.value.party_id, err.value.purpose, err.value.channel) == (
        marie,
        "marketing",
        "email",
    )
    assert "withdrawn" in err.value.reason and "all channels" in str(err.value)
    with app_c.session() as s:
        sent = s.interactions.record(
            channel="email",
            direction="outbound",
            purpose="service",
            subject="Your order shipped",
            participants=[(marie, "recipient")],
        )
    assert sent.participants[0].contact_point_id is not None  # the primary email


def test_inbound_interactions_are_always_recorded(app_c: XRM, marie: int) -> None:
    with app_c.session() as s:
        s.consents.object(marie, "surveys", source="call")
        heard = s.interactions.record(
            channel="email",
            direction="inbound",
            purpose="surveys",
            participants=[(marie, "sender")],
        )
    with app_c.session() as s:
        assert [i.id for i in s.interactions.of(marie).items] == [heard.id]
        assert not s.consents.check(marie, "surveys", "email").allowed  # yet it was kept


def test_one_refused_recipient_refuses_the_whole_interaction(app_c: XRM, marie: int) -> None:
    with app_c.session() as s:
        paul = s.parties.create("person", "Paul", contact_points=[Email("paul@example.com")])
        s.consents.grant(paul, "marketing", source="web_form")
        with pytest.raises(ConsentRequired, match=f"party {marie}"):
            s.interactions.record(
                channel="email",
                direction="outbound",
                purpose="marketing",
                participants=[(paul, "recipient"), (marie, "recipient")],
            )


STAFF = RoleType(
    "staff",
    states=["active", "gone"],
    transitions={"active": ["gone"]},
    internal_states=["active"],
)


def test_the_company_side_is_not_checked(app_c: XRM, marie: int) -> None:
    app_c.register(STAFF, source="tests")
    with app_c.session() as s:
        agent = s.parties.create("person", "Agent")
        s.roles.assign(agent, "staff")
        s.consents.grant(marie, "marketing", source="call")
        call = s.interactions.record(
            channel="phone",
            direction="outbound",
            purpose="marketing",
            participants=[(agent, "agent"), (marie, "recipient")],
        )
    with app_c.session() as s:
        assert not s.consents.check(agent, "marketing", "phone").allowed  # never agreed
        assert [i.id for i in s.interactions.of(agent).items] == [call.id]
        assert [i.id for i in s.interactions.of(marie).items] == [call.id]


# -- the ledger ---------------------------------------------------------------------------
def test_the_ledger_keeps_evidence_and_appears_in_the_timeline(app_c: XRM, marie: int) -> None:
    with app_c.session(actor="web") as s:
        rec = s.consents.grant(
            marie,
            "newsletter",
            source="web_form",
            contact_point=HOME,
            evidence="form 7, notice v2",
            captured_at=days(0),
        )
        confirmed = s.consents.confirm(rec, at=days(0.1))
        history = s.consents.history(marie)
        timeline = [
            (e.type, e.data.get("evidence")) for e in s.timeline(marie, types=["consent.granted"])
        ]
    assert [r.id for r in history] == [rec.id, confirmed.id]
    assert (rec.scope, rec.contact_key, rec.recorded_by, rec.evidence) == (
        "contact_point",
        HOME,
        "web",
        "form 7, notice v2",
    )
    assert confirmed.confirmed_at == days(0.1)
    assert timeline == [
        ("consent.granted", f"confirms record {rec.id}"),
        ("consent.granted", "form 7, notice v2"),
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"purpose": "spam"}, "purpose"),
        ({"decision": "maybe"}, "decision"),
        ({"channel": "carrier_pigeon"}, "channel"),
        ({"source": " "}, "source"),
        ({"contact_point": "nobody@example.com"}, "contact_point"),
        ({"contact_point": HOME, "channel": "sms"}, "contact_point"),
        ({"expires_at": T0 - DAY, "captured_at": T0}, "expires_at"),
        ({"decision": "withdrawn", "expires_at": T0 + DAY}, "expires_at"),
        ({"captured_at": dt.datetime.now(dt.UTC) + 30 * DAY}, "captured_at"),
    ],
)
def test_bad_consent_records_are_refused_and_write_nothing(
    app_c: XRM, marie: int, unchanged: Any, kwargs: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {"purpose": "marketing", "decision": "granted", "source": "test"}
    args.update(kwargs)
    with unchanged(), pytest.raises(ValidationError) as err, app_c.session() as s:
        s.consents.record(marie, args.pop("purpose"), args.pop("decision"), **args)
    assert err.value.fields == [field]


# -- a plain reference implementation of the table ---------------------------------------
@dataclass
class Rec:
    id: int
    decision: str
    scope: str
    channel: str | None
    key: str | None
    eff: dt.datetime
    expires: dt.datetime | None
    confirmed: dt.datetime | None


BASIS = {"marketing": "consent", "newsletter": "consent", "surveys": "li", "service": "contract"}


def reference(
    purpose: str,
    channel: str,
    key: str | None,
    suppressed: bool,
    ledger: list[Rec],
    at: dt.datetime,
) -> bool:
    if suppressed:
        return False
    basis = BASIS[purpose]
    if basis == "contract":
        return True

    def covers(r: Rec) -> bool:
        return (
            r.scope == "all"
            or (r.scope == "channel" and r.channel == channel)
            or (r.scope == "contact_point" and key is not None and r.key == key)
        )

    mine = [r for r in ledger if r.eff <= at and covers(r)]
    last = {}
    for scope in ("contact_point", "channel", "all"):
        of_scope = sorted((r for r in mine if r.scope == scope), key=lambda r: (r.eff, r.id))
        last[scope] = of_scope[-1] if of_scope else None
    order = [s for s in ("contact_point", "channel", "all") if last[s] is not None]
    if not order:
        return basis == "li"
    deciding = last[order[0]]
    assert deciding is not None
    if deciding.decision != "granted":
        return False
    for broader in order[1:]:
        b = last[broader]
        assert b is not None
        if b.decision != "granted" and (b.eff, b.id) > (deciding.eff, deciding.id):
            return False
    if basis == "li":
        return True
    if deciding.expires is not None and deciding.expires <= at:
        return False
    unconfirmed = deciding.confirmed is None or deciding.confirmed > at
    return not (purpose == "newsletter" and unconfirmed)


SCOPE_CHOICES = [
    ("all", None, None),
    ("channel", "email", None),
    ("channel", "sms", None),
    ("contact_point", None, HOME),
    ("contact_point", None, WORK),
]
records = st.tuples(
    st.sampled_from(["granted", "refused", "withdrawn", "objected"]),
    st.sampled_from(SCOPE_CHOICES),
    st.integers(0, 10),
    st.one_of(st.none(), st.integers(1, 6)),
    st.one_of(st.none(), st.integers(0, 4)),
)


@given(
    purpose=st.sampled_from(sorted(BASIS)),
    ledger=st.lists(records, max_size=8),
    at=st.integers(0, 14),
    suppress_home=st.booleans(),
)
def test_check_equals_the_reference_and_contactable_equals_check(
    app_c: XRM, purpose: str, ledger: list[Any], at: int, suppress_home: bool
) -> None:
    when = days(at)
    with app_c.session() as s:
        party = s.parties.create("person", "P", contact_points=[Email(HOME), Email(WORK)])
        stored: list[Rec] = []
        for decision, (scope, channel, point), day, expiry, confirm in ledger:
            granted = decision == "granted"
            extra: dict[str, Any] = {}
            if granted and expiry is not None:
                extra["expires_at"] = days(day + expiry)
            if granted and confirm is not None:
                extra["confirmed_at"] = days(day + confirm)
            rec = s.consents.record(
                party,
                purpose,
                decision,
                source="test",
                channel=channel,
                contact_point=point,
                captured_at=days(day),
                **extra,
            )
            stored.append(
                Rec(
                    rec.id,
                    decision,
                    scope,
                    channel,
                    point,
                    rec.effective_from,
                    rec.expires_at,
                    rec.confirmed_at,
                )
            )
        if suppress_home:
            s.consents.suppress(party, HOME, reason="bounce")
        expected = {
            key
            for key in (HOME, WORK)
            if reference(purpose, "email", key, suppress_home and key == HOME, stored, when)
        }
        checked = {
            key
            for key in (HOME, WORK)
            if s.consents.check(party, purpose, "email", key, at=when).allowed
        }
        query = s.consents.contactable(purpose, "email", at=when).subquery()
        listed = set(s.db.scalars(select(query.c.value).where(query.c.party_id == party.id)))
        assert checked == expected
        assert listed == checked
        # channel level, and a channel with no address
        for channel in ("email", "sms", "web"):
            allowed = s.consents.check(party, purpose, channel, at=when).allowed
            assert allowed == reference(purpose, channel, None, False, stored, when)
        web = s.consents.contactable(purpose, "web", at=when).subquery()
        in_web = s.db.scalar(select(func.count()).where(web.c.party_id == party.id))
        assert bool(in_web) == s.consents.check(party, purpose, "web", at=when).allowed


# -- a state machine: nothing the rules deny ever goes out --------------------------------
class ConsentMachine(RuleBasedStateMachine):
    app: XRM

    @initialize()
    def start(self) -> None:
        with self.app.session() as s:
            self.party = s.parties.create(
                "person", "M", contact_points=[Email(HOME), Email(WORK)]
            ).id
        self.clock = T0
        self.ledger: list[Rec] = []
        self.sent = 0

    def _append(
        self,
        decision: str,
        scope: tuple[str, str | None, str | None],
        expires_in: int | None = None,
    ) -> None:
        self.clock += dt.timedelta(hours=1)
        kind, channel, point = scope
        extra = {"expires_at": self.clock + expires_in * DAY} if expires_in else {}
        with self.app.session() as s:
            rec = s.consents.record(
                self.party,
                "marketing",
                decision,
                source="machine",
                channel=channel,
                contact_point=point,
                captured_at=self.clock,
                **extra,
            )
        self.ledger.append(
            Rec(rec.id, decision, kind, channel, point, rec.effective_from, rec.expires_at, None)
        )

    @rule(scope=st.sampled_from(SCOPE_CHOICES), expires_in=st.one_of(st.none(), st.integers(1, 3)))
    def grant(self, scope: Any, expires_in: int | None) -> None:
        self._append("granted", scope, expires_in)

    @rule(scope=st.sampled_from(SCOPE_CHOICES))
    def withdraw(self, scope: Any) -> None:
        self._append("withdrawn", scope)

    @rule(scope=st.sampled_from(SCOPE_CHOICES))
    def object(self, scope: Any) -> None:
        self._append("objected", scope)

    @rule(hours=st.integers(1, 72))
    def time_passes(self, hours: int) -> None:
        self.clock += dt.timedelta(hours=hours)

    @rule(address=st.sampled_from([HOME, WORK]))
    def send_marketing_email(self, address: str) -> None:
        self.clock += dt.timedelta(minutes=1)
        # the machine's clock is in the past: as the ledger stood then (a record of history)
        allowed = reference("marketing", "email", address, False, self.ledger, self.clock)
        try:
            with self.app.session() as s:
                s.interactions.record(
                    channel="email",
                    direction="outbound",
                    purpose="marketing",
                    occurred_at=self.clock,
                    participants=[(self.party, "recipient", address)],
                    historical=True,
                )
        except ConsentRequired:
            assert not allowed
        else:
            assert allowed, "an outbound email went out that the rules deny"
            self.sent += 1
        with self.app.session() as s:
            assert len(s.interactions.of(self.party, limit=1000)) == self.sent


def test_no_outbound_contact_gets_through_that_the_rules_deny(app_c: XRM) -> None:
    from hypothesis import settings

    ConsentMachine.app = app_c
    ConsentMachine.TestCase.settings = settings(
        settings.default, max_examples=15, stateful_step_count=15
    )
    ConsentMachine.TestCase().runTest()


def test_a_contract_basis_reads_the_roles_held_at_the_time_checked(app: XRM) -> None:
    app.register(
        Purpose("orders", "contract", "Order notices", requires_role="customer"),
        Purpose("offers", "contract", "Offers", requires_role="customer",
                requires_states=["customer"]),
        source="tests",
    )  # fmt: skip
    with app.session() as s:
        p = s.parties.create("person", "P", contact_points=[Email(HOME)])
        role = s.roles.assign(p, "customer", at=days(10))  # a lead from day 10
        s.roles.transition(role.id, "prospect", at=days(20))
        s.roles.transition(role.id, "customer", at=days(30))
        s.roles.end(role.id, at=days(40))

        def allowed(purpose: str, day: int) -> bool:
            return s.consents.check(p, purpose, "email", HOME, at=days(day)).allowed

        def listed(purpose: str, day: int) -> bool:
            members = s.consents.audience(purpose, "email", at=days(day))
            return any(m.party_id == p.id for m in members)

        assert [allowed("orders", d) for d in (5, 15, 35, 45)] == [False, True, True, False]
        assert [allowed("offers", d) for d in (15, 25, 35, 45)] == [False, False, True, False]
        for purpose in ("orders", "offers"):  # the audience agrees, day by day
            for day in (5, 15, 25, 35, 45):
                assert listed(purpose, day) == allowed(purpose, day)
    with pytest.raises(ValueError, match="requires_states needs requires_role"):
        Purpose("x", "contract", requires_states=["approved"])


# -- consent by construction -----------------------------------------------------------
def test_no_way_of_building_the_services_records_a_contact_without_the_consent_decision(
    app_c: XRM, marie: int
) -> None:
    """The interaction service is given the consent service it must ask: it cannot be
    built without it, and a unit of work built by hand asks it as ``app.session()`` does."""
    from sqlalchemy.orm import Session as OrmSession

    from xrm import Session
    from xrm.core.nouns.interactions import InteractionService
    from xrm.core.uow import UnitOfWork

    with OrmSession(app_c.engine) as db, db.begin():
        uow = UnitOfWork(db, app_c.registry, app_c.settings, "tests")
        with pytest.raises(TypeError):
            InteractionService(uow)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="consent service"):
            InteractionService(uow, None)  # type: ignore[arg-type]
        by_hand = Session(db, app_c.registry, app_c.settings, actor="tests")
        with pytest.raises(ConsentRequired):
            by_hand.interactions.record(
                channel="email",
                direction="outbound",
                purpose="marketing",
                participants=[(marie, "recipient")],
            )
        db.rollback()


def test_a_company_side_part_given_to_an_outside_party_is_refused(
    app_c: XRM, marie: int, unchanged: Any
) -> None:
    """The consent check skips the company's own parties only: an outside party made the
    ``sender`` or ``agent`` of a marketing email is refused, and a former member of staff is
    an outside party."""
    app_c.register(STAFF, source="tests")
    with app_c.session() as s:
        ex = s.parties.create("person", "Former", contact_points=[Email("ex@example.com")])
        role = s.roles.assign(ex, "staff")
        s.roles.transition(role.id, "gone")
    email = {"channel": "email", "direction": "outbound", "purpose": "marketing"}
    refused = r"participants\.0\.role"
    for part in ("sender", "agent", "organizer", "author"):
        with unchanged(), pytest.raises(ValidationError, match=refused), app_c.session() as s:
            s.interactions.record(**email, participants=[(marie, part)])
    own = "not one of the company's own"
    with unchanged(), pytest.raises(ValidationError, match=own), app_c.session() as s:
        s.interactions.record(**email, participants=[(ex, "sender"), (marie, "recipient")])


def test_every_outside_participant_is_checked_whatever_their_part(
    app_c: XRM, marie: int, unchanged: Any
) -> None:
    with unchanged(), pytest.raises(ConsentRequired), app_c.session() as s:
        s.interactions.record(
            channel="email",
            direction="outbound",
            purpose="marketing",
            participants=[(marie, "cc")],
        )


def test_a_back_dated_contact_is_checked_then_and_now_unless_it_is_history(
    app_c: XRM, marie: int, unchanged: Any
) -> None:
    now = dt.datetime.now(dt.UTC)
    with app_c.session() as s:
        s.consents.grant(marie, "marketing", source="web_form", captured_at=now - 30 * DAY)
        s.consents.withdraw(marie, "marketing", source="unsubscribe_link")
    last_week = now - 7 * DAY  # allowed as the ledger stood then, refused as it stands
    email = {"channel": "email", "direction": "outbound", "purpose": "marketing"}
    with unchanged(), pytest.raises(ConsentRequired, match="withdrawn"), app_c.session() as s:
        s.interactions.record(**email, occurred_at=last_week, participants=[(marie, "recipient")])
    with app_c.session() as s:
        past = s.interactions.record(
            **email, occurred_at=last_week, participants=[(marie, "recipient")], historical=True
        )
        (entry,) = s.timeline(marie, types=["interaction.recorded"]).items
    assert entry.entity_id == past.id and entry.data["historical"] is True
