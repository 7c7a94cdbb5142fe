"""Who may do what: with a policy (``XRM(policy=...)``) or a plugin's ``xrm_authorize``,
every public service call that touches personal data is asked about first; a refusal
raises ``Forbidden`` before anything is read or written, and is kept in the journal even
when the unit of work rolls back. Without either (the embedded default), everything is
allowed."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import TEST_TYPES, make_app
from xrm import (
    ACTIONS,
    DEFAULT_GRANTS,
    XRM,
    AccessRequest,
    ConfigurationError,
    Forbidden,
    PluginError,
    RolePolicy,
    Session,
    ValidationError,
    hookimpl,
)


def guarded_app(request: pytest.FixtureRequest, backend: str, tmp_path: Path, **kw: Any) -> XRM:
    app = make_app(request, backend, tmp_path, builtins=False, discover=False, **kw)
    app.register(*TEST_TYPES, source="tests")
    return app


@pytest.fixture
def guarded(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[XRM]:
    """An application with the built-in role policy."""
    app = guarded_app(request, backend, tmp_path, policy=RolePolicy())
    yield app
    app.dispose()


def a_party(app: XRM, name: str = "Ada Lovelace") -> int:
    with app.session(actor="setup", roles=["admin"]) as s:
        return s.parties.create(
            "person", name, contact_points=[{"kind": "email", "value": "ada@example.org"}]
        ).id


def refusals(app: XRM, party: int) -> list[Any]:
    with app.session(actor="auditor", roles=["admin"]) as s:
        return [e for e in s.timeline(party).items if e.type == "access.refused"]


def test_without_a_policy_every_call_is_allowed(app: XRM) -> None:
    with app.session() as s:  # no actor, no role: the embedded default
        party = s.parties.create("person", "Ada")
        s.gdpr.erase(party, reason="asked")


def test_a_role_may_do_what_it_is_granted(guarded: XRM) -> None:
    party = a_party(guarded)
    with guarded.session(actor="mia", roles=["marketer"]) as s:
        assert s.parties.get(party).display_name == "Ada Lovelace"
        assert s.timeline(party).items


def test_a_refused_call_raises_before_writing_and_is_journaled_though_rolled_back(
    guarded: XRM,
) -> None:
    party = a_party(guarded)
    with pytest.raises(Forbidden) as refused, guarded.session(actor="mia", roles=["marketer"]) as s:
        s.parties.update(party, display_name="Changed")
    assert refused.value.action == "write" and refused.value.operation == "parties.update"
    assert refused.value.actor == "mia"
    assert "'mia' may not write" in str(refused.value)
    with guarded.session(actor="check", roles=["agent"]) as s:
        assert s.parties.get(party).display_name == "Ada Lovelace"
    [event] = refusals(guarded, party)
    assert event.actor == "mia"
    assert event.data == {
        "action": "write", "operation": "parties.update", "roles": ["marketer"], "by": None
    }  # fmt: skip


def test_a_caught_refusal_lets_the_unit_of_work_go_on_and_commit(guarded: XRM) -> None:
    party = a_party(guarded)
    with guarded.session(actor="ann", roles=["agent"]) as s:
        with pytest.raises(Forbidden):
            s.gdpr.erase(party, reason="not hers to erase")
        s.parties.update(party, display_name="Ada King")
    with guarded.session(actor="dpo", roles=["dpo"]) as s:
        assert s.parties.get(party).display_name == "Ada King"
        assert not s.gdpr.is_erased(party)
    [event] = refusals(guarded, party)
    assert event.data["operation"] == "gdpr.erase"


def test_a_read_only_unit_of_work_journals_its_refusals_too(guarded: XRM) -> None:
    party = a_party(guarded)
    with guarded.session(actor="eve", roles=["marketer"], readonly=True) as s:
        try:
            s.gdpr.export(party)
        except Forbidden:
            pass
        else:
            pytest.fail("a marketer exported a party")
    assert [e.data["operation"] for e in refusals(guarded, party)] == ["gdpr.export"]


def test_an_actor_without_a_role_or_a_unit_of_work_without_an_actor_may_do_nothing(
    guarded: XRM,
) -> None:
    party = a_party(guarded)
    with guarded.session(actor="nobody") as s, pytest.raises(Forbidden):
        s.parties.get(party)
    with guarded.session(roles=["admin"]) as s, pytest.raises(Forbidden) as refused:
        s.parties.get(party)
    assert "without an actor" in str(refused.value)


def test_only_the_outermost_call_is_asked(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path
) -> None:
    """A role granted only ``merge`` merges: the reads and writes the merge makes in turn
    run under the decision already taken."""
    policy = RolePolicy(grants={"merger": ["merge"], "admin": ACTIONS})
    app = guarded_app(request, backend, tmp_path, policy=policy)
    with app.session(actor="setup", roles=["admin"]) as s:
        a = s.parties.create("person", "Ada Lovelace").id
        b = s.parties.create("person", "Ada Lovelace").id
    with app.session(actor="max", roles=["merger"]) as s:
        s.identity.merge(a, b)
        with pytest.raises(Forbidden):
            s.parties.get(a)
    app.dispose()


def test_members_give_actors_roles_and_unknown_names_are_refused_at_start() -> None:
    policy = RolePolicy(members={"dora": ["dpo"]})
    erase = AccessRequest("dora", frozenset(), "erase", "gdpr.erase", (1,))
    assert policy.allows(erase)
    assert not policy.allows(AccessRequest("dan", frozenset(), "erase", "gdpr.erase"))
    with pytest.raises(ValueError, match="unknown action"):
        RolePolicy(grants={"clerk": ["read", "delete"]})
    with pytest.raises(ValueError, match="unknown role"):
        RolePolicy(members={"dora": ["dpoo"]})
    with pytest.raises(ValueError, match="a list of actions"):
        RolePolicy(grants={"clerk": "read"})
    with pytest.raises(ConfigurationError, match="policy"):
        XRM("sqlite://", policy=object(), builtins=False, discover=False)  # type: ignore[arg-type]


def test_roles_must_be_a_list_of_names(guarded: XRM) -> None:
    with pytest.raises(ValidationError, match="roles"), guarded.session(actor="x", roles="agent"):
        pass


def test_the_default_roles(guarded: XRM) -> None:
    assert DEFAULT_GRANTS["dpo"] >= {"export", "erase"}
    assert "erase" not in DEFAULT_GRANTS["manager"] and "merge" in DEFAULT_GRANTS["manager"]
    assert DEFAULT_GRANTS["marketer"] == {"read", "message", "target"}
    assert DEFAULT_GRANTS["admin"] == set(ACTIONS)
    party = a_party(guarded)
    with guarded.session(actor="dora", roles=["dpo"]) as s:
        assert s.gdpr.export(party)["party"]["id"] == party
        s.gdpr.erase(party, reason="asked")


class Office:
    """A plugin: agents of the Lyon office see only parties tagged "lyon"; the auditor is
    let through whatever the policy says; "crash" raises; "odd" answers nonsense."""

    @hookimpl
    def xrm_authorize(self, session: Session, request: AccessRequest) -> bool | None:
        if request.actor == "auditor":
            return True
        if request.actor == "crash":
            raise RuntimeError("directory unreachable")
        if request.actor == "odd":
            return "yes"  # type: ignore[return-value]
        if "lyon" in request.roles and request.parties:
            return all("lyon" in session.parties.get(p).tags for p in request.parties)
        return None


@pytest.fixture
def office(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[XRM]:
    app = guarded_app(request, backend, tmp_path, policy=RolePolicy(), plugins=[Office()])
    yield app
    app.dispose()


def test_a_plugin_may_refuse_what_the_policy_allows(office: XRM) -> None:
    party = a_party(office)
    with office.session(actor="leo", roles=["agent", "lyon"]) as s:
        with pytest.raises(Forbidden) as refused:
            s.parties.get(party)
        assert refused.value.by == "Office"
        s.parties.list()  # names no party: the plugin leaves it to the policy
    with office.session(actor="setup", roles=["admin"]) as s:
        s.parties.tag(party, "lyon")
    with office.session(actor="leo", roles=["agent", "lyon"]) as s:
        assert s.parties.get(party).display_name == "Ada Lovelace"
    assert [e.data["by"] for e in refusals(office, party)] == ["Office"]


def test_a_plugin_may_allow_what_the_policy_refuses(office: XRM) -> None:
    party = a_party(office)
    with office.session(actor="auditor") as s:  # no role at all
        assert s.parties.get(party).id == party


def test_a_plugin_that_raises_or_answers_nonsense_refuses(office: XRM) -> None:
    party = a_party(office)
    for actor in ("crash", "odd"):
        with (
            pytest.raises(PluginError) as failed,
            office.session(actor=actor, roles=["admin"]) as s,
        ):
            s.parties.get(party)
        assert failed.value.hook == "xrm_authorize"
    assert [e.actor for e in refusals(office, party)] == ["odd", "crash"]


def test_every_public_service_method_is_classified() -> None:
    """Each public method of every service says which action it takes (or ``None``), so
    no new method can slip past the policy."""
    with XRM("sqlite://", builtins=False, discover=False).session() as s:
        services = [s, *(getattr(s, n) for n in ("parties", "roles", "relationships"))]
        services += [getattr(s, n) for n in ("interactions", "consents", "identity", "gdpr")]
        services += [getattr(s, n) for n in ("imports", "messages", "preferences", "inbound")]
        for service in services:
            for name, method in inspect.getmembers(type(service), inspect.isfunction):
                if name.startswith("_") or name in {"actor", "closed", "db"}:
                    continue
                action = getattr(method, "__xrm_action__", "missing")
                assert action is None or action in ACTIONS, f"{type(service).__name__}.{name}"


@given(
    grants=st.dictionaries(
        st.sampled_from(["a", "b", "c"]), st.sets(st.sampled_from(ACTIONS)), min_size=1
    ),
    held=st.sets(st.sampled_from(["a", "b", "c"])),
    action=st.sampled_from(ACTIONS),
)
def test_a_role_policy_allows_exactly_what_one_held_role_grants(
    grants: dict[str, set[str]], held: set[str], action: str
) -> None:
    policy = RolePolicy(grants=grants)
    allowed = policy.allows(AccessRequest("someone", frozenset(held), action, "x.y"))
    assert allowed == any(action in grants.get(role, ()) for role in held)
