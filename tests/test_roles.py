"""Roles: a party holds many roles at once, each moving through its own lifecycle, every
transition dated and kept."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from pydantic import BaseModel

from tests.conftest import CUSTOMER
from xrm import XRM, Conflict, PluginError, RoleType, ValidationError, hookimpl

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def test_a_role_starts_in_its_initial_state_and_keeps_every_transition(app: XRM) -> None:
    with app.session() as s:
        p = s.parties.create("organization", "ACME")
        role = s.roles.assign(p, "customer", at=T0)
        role = s.roles.transition(role, "prospect", at=T0 + dt.timedelta(days=3), note="demo")
        role = s.roles.transition(role, "customer", at=T0 + dt.timedelta(days=9))
    assert role.state == "customer"
    assert [(t.from_state, t.to_state, t.at.day) for t in role.transitions] == [
        (None, "lead", 1),
        ("lead", "prospect", 4),
        ("prospect", "customer", 10),
    ]
    assert role.transitions[1].note == "demo"


def test_one_organization_holds_several_roles_at_once(app: XRM) -> None:
    with app.session() as s:
        acme = s.parties.create("organization", "ACME")
        s.roles.assign(acme, "customer")
        s.roles.assign(acme, "supplier")
        assert sorted(r.type for r in s.roles.of(acme)) == ["customer", "supplier"]


def test_an_illegal_transition_is_refused_naming_the_allowed_ones(app: XRM, unchanged: Any) -> None:
    with app.session() as s:
        role = s.roles.assign(s.parties.create("person", "Jo"), "customer")
    with unchanged(), pytest.raises(ValidationError) as err, app.session() as s:
        s.roles.transition(role, "inactive")
    assert err.value.fields == ["to"]
    assert "cannot go from 'lead' to 'inactive' (allowed: lost, prospect)" in str(err.value)


def test_a_final_state_says_so(app: XRM) -> None:
    with app.session() as s:
        role = s.roles.assign(s.parties.create("person", "Jo"), "customer")
        role = s.roles.transition(role, "lost")
        with pytest.raises(ValidationError, match="final state"):
            s.roles.transition(role, "prospect")


def test_a_role_is_held_once_at_a_time_but_may_be_held_again_after_it_ended(app: XRM) -> None:
    with app.session() as s:
        p = s.parties.create("person", "Jo")
        first = s.roles.assign(p, "customer", at=T0)
        with pytest.raises(Conflict, match="already holds"):
            s.roles.assign(p, "customer")
        s.roles.end(first, at=T0 + dt.timedelta(days=1))
        again = s.roles.assign(p, "customer", at=T0 + dt.timedelta(days=2))
        assert s.roles.current(p, "customer") == again
        assert [r.id for r in s.roles.of(p, include_ended=True)] == [first.id, again.id]
        assert [r.id for r in s.roles.of(p)] == [again.id]


def test_an_ended_role_cannot_move(app: XRM) -> None:
    with app.session() as s:
        role = s.roles.end(s.roles.assign(s.parties.create("person", "Jo"), "customer"))
        with pytest.raises(ValidationError, match="ended"):
            s.roles.transition(role, "prospect")


@pytest.mark.parametrize(
    ("party_kind", "role_type", "kwargs", "field", "reason"),
    [
        ("person", "astronaut", {}, "type", "unknown role type"),
        ("person", "supplier", {}, "party", "a party of kind 'person' cannot hold role 'supplier'"),
        ("person", "customer", {"state": "customer"}, "state", "cannot start in"),
        ("person", "customer", {"state": "nope"}, "state", "is not a state"),
    ],
)
def test_bad_assignments_are_refused_and_write_nothing(
    app: XRM,
    unchanged: Any,
    party_kind: str,
    role_type: str,
    kwargs: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    with app.session() as s:
        p = s.parties.create(party_kind, "Someone")
    with unchanged(), pytest.raises(ValidationError) as err, app.session() as s:
        s.roles.assign(p, role_type, **kwargs)
    assert err.value.fields == [field]
    assert reason in str(err.value)


def test_a_transition_dated_before_the_last_one_is_refused(app: XRM) -> None:
    with app.session() as s:
        role = s.roles.assign(s.parties.create("person", "Jo"), "customer", at=T0)
        with pytest.raises(ValidationError, match="before the role's last change"):
            s.roles.transition(role, "prospect", at=T0 - dt.timedelta(seconds=1))


def test_role_attributes_are_validated_by_the_role_types_schema(app: XRM) -> None:
    class Terms(BaseModel):
        payment_days: int = 30
        categories: list[str] = []

    app.register(RoleType("vendor", ["active"], {}, schema=Terms))
    with app.session() as s:
        p = s.parties.create("organization", "ACME")
        with pytest.raises(ValidationError) as err:
            s.roles.assign(p, "vendor", attributes={"payment_days": "soon"})
        assert err.value.fields == ["attributes.payment_days"]
        role = s.roles.assign(p, "vendor", attributes={"categories": ["steel"]})
        assert role.attributes == {"payment_days": 30, "categories": ["steel"]}
        role = s.roles.update(role, {"payment_days": 60})
        assert role.attributes["payment_days"] == 60


def test_a_stale_role_is_a_conflict(app: XRM) -> None:
    with app.session() as s:
        role = s.roles.assign(s.parties.create("person", "Jo"), "customer")
        s.roles.transition(role, "prospect")
        with pytest.raises(Conflict, match="changed since"):
            s.roles.transition(role, "lost")  # the record still says version 1


def test_a_role_type_must_be_consistent() -> None:
    with pytest.raises(ValueError, match="unknown state"):
        RoleType("broken", ["a"], {"a": ["b"]})


# -- a state machine of role lifecycles -------------------------------------------------
class RoleLifecycle(RuleBasedStateMachine):
    """Random assignments, transitions and ends agree with a plain model of the rules."""

    app: XRM

    def __init__(self) -> None:
        super().__init__()
        with self.app.session() as s:
            self.party = s.parties.create("person", "Machine").id
        self.model_state: str | None = None  # None: not held
        self.history: list[str] = []
        self.clock = T0

    def _tick(self) -> dt.datetime:
        self.clock += dt.timedelta(minutes=1)
        return self.clock

    @precondition(lambda self: self.model_state is None)
    @rule()
    def assign(self) -> None:
        with self.app.session() as s:
            role = s.roles.assign(self.party, "customer", at=self._tick())
        self.model_state = CUSTOMER.initial
        self.history = [role.state]

    @precondition(lambda self: self.model_state is not None)
    @rule(state=st.sampled_from(CUSTOMER.states))
    def move(self, state: str) -> None:
        assert self.model_state is not None
        allowed = state in CUSTOMER.allowed_from(self.model_state)
        try:
            with self.app.session() as s:
                current = s.roles.current(self.party, "customer")
                assert current is not None
                s.roles.transition(current, state, at=self._tick())
        except ValidationError:
            assert not allowed
        else:
            assert allowed
            self.model_state = state
            self.history.append(state)

    @precondition(lambda self: self.model_state is not None)
    @rule()
    def end(self) -> None:
        with self.app.session() as s:
            current = s.roles.current(self.party, "customer")
            assert current is not None
            s.roles.end(current, at=self._tick())
        self.model_state = None

    @invariant()
    def stored_state_matches_the_model(self) -> None:
        with self.app.session() as s:
            current = s.roles.current(self.party, "customer")
        if self.model_state is None:
            assert current is None
        else:
            assert current is not None
            assert current.state == self.model_state
            assert [t.to_state for t in current.transitions] == self.history
            stamps = [t.at for t in current.transitions]
            assert stamps == sorted(stamps)


def test_role_lifecycles_follow_the_rules(app: XRM) -> None:
    from hypothesis import settings

    RoleLifecycle.app = app
    RoleLifecycle.TestCase.settings = settings(
        settings.default, max_examples=15, stateful_step_count=12
    )
    RoleLifecycle.TestCase().runTest()


LEAD = RoleType(
    "lead",
    states=["open", "qualified", "lost", "won"],
    transitions={"open": ["qualified", "lost"], "qualified": ["won", "lost"]},
    final_states=["lost", "won"],
)


def test_reaching_an_ending_state_ends_the_role_and_it_may_be_given_again(app: XRM) -> None:
    app.register(LEAD, source="tests")
    with app.session() as s:
        p = s.parties.create("person", "P")
        role = s.roles.assign(p, "lead", at=dt.date(2026, 1, 1))
        lost = s.roles.transition(role.id, "lost", at=dt.date(2026, 2, 1))
        assert lost.state == "lost" and lost.ended_at == dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
        assert s.roles.current(p, "lead") is None
        types = [e.type for e in s.timeline(p).items]
        assert types[1:3] == ["role.ended", "role.transitioned"]  # same day, newest first
        assert s.roles.assign(p, "lead").state == "open"  # a new lead, later


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"final_states": ["gone"]}, "final_states must be known states"),
        ({"final_states": ["open"]}, "must lead nowhere and not be an initial state"),
        ({"final_states": ["qualified"]}, "must lead nowhere"),
    ],
)
def test_final_states_are_known_final_states(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RoleType("x", states=["open", "qualified", "lost"],
                 transitions={"open": ["qualified"], "qualified": ["lost"]}, **options)  # fmt: skip


class NumberGuard:
    __xrm_name__ = "guard"

    def __init__(self) -> None:
        self.seen: list[tuple[dict[str, Any], dict[str, Any]]] = []

    @hookimpl
    def xrm_validate_role_update(
        self, role: Any, before: dict[str, Any], after: dict[str, Any]
    ) -> None:
        self.seen.append((dict(before), dict(after)))
        if "number" in before and before.get("number") != after.get("number"):
            raise ValidationError.single("attributes.number", "a customer number never changes")


def test_a_plugin_may_veto_a_change_of_role_attributes(xrm_factory: Any) -> None:
    guard = NumberGuard()
    app = xrm_factory(plugins=[guard], builtins=False, discover=False)
    app.register(CUSTOMER, source="tests")
    with app.session() as s:
        role = s.roles.assign(s.parties.create("person", "P"), "customer", attributes={"number": 1})
        s.roles.update(role.id, {"number": 1, "note": "gold"})
        with pytest.raises(PluginError) as vetoed:
            s.roles.update(role.id, {"number": 2})
        assert vetoed.value.hook == "xrm_validate_role_update"
        assert s.roles.get(role.id).attributes == {"number": 1, "note": "gold"}
        s.roles.update(role.id, {"number": 1, "note": "gold"})  # no change: no call
    assert guard.seen == [({"number": 1}, {"number": 1, "note": "gold"}),
                          ({"number": 1, "note": "gold"}, {"number": 2})]  # fmt: skip


def test_ending_states_is_the_deprecated_name_of_final_states() -> None:
    with pytest.warns(DeprecationWarning, match="ending_states is now final_states"):
        old = RoleType("x", states=["open", "lost"], transitions={"open": ["lost"]},
                       ending_states=["lost"])  # fmt: skip
    assert old.final_states == old.ending_states == frozenset({"lost"})
