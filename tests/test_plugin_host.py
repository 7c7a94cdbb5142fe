"""The plugin host: plugins load in a documented order under the ``XRM_*_PLUGINS`` switches,
a broken plugin never stops xrm, registrations fill the registries, and every error a hook
raises names its plugin and hook.

Plugins here are real: classes and modules with ``@hookimpl`` functions, and entry points
of small distributions written to a temporary directory on ``sys.path``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
import textwrap
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from sqlalchemy.orm import sessionmaker

from xrm import (
    XRM,
    Channel,
    ConfigurationError,
    ContactKind,
    IdentifierScheme,
    Interaction,
    LawfulBasis,
    Party,
    PartyKind,
    PluginError,
    Purpose,
    Relationship,
    RelationshipType,
    Role,
    RoleType,
    Touchpoint,
)
from xrm.app import Session
from xrm.core.registry import Registered, Registry
from xrm.core.uow import Context, HookCaller
from xrm.plugin import PluginHost, PluginInfo, XRMPluginWarning, hookimpl

SUPPLIER = RoleType(
    "supplier", states=["candidate", "approved"], transitions={"candidate": ["approved"]}
)


def make_host(*plugins: object, **kwargs: Any) -> PluginHost:
    """A host with the given explicit plugins, no entry points, and no switches set."""
    kwargs.setdefault("load_entry_points", False)
    kwargs.setdefault("environ", {})
    return PluginHost(plugins, **kwargs)


class Site:
    """A directory on ``sys.path`` holding plugin modules and the distributions that
    declare them as ``xrm`` entry points."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules: list[str] = []

    def module(self, name: str, source: str) -> None:
        """Write ``name.py``; it is imported only when loaded, as an entry point would be."""
        (self.root / f"{name}.py").write_text(textwrap.dedent(source))
        self.modules.append(name)
        importlib.invalidate_caches()

    def load(self, name: str) -> types.ModuleType:
        return importlib.import_module(name)

    def distribution(self, name: str, version: str, entry_points: Mapping[str, str]) -> None:
        info = self.root / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = ["[xrm]", *(f"{ep} = {target}" for ep, target in entry_points.items())]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    created = Site(root)
    yield created
    for name in created.modules:
        sys.modules.pop(name, None)


CARRIER_PIGEON = """
    from xrm.core.registry import Channel
    from xrm.plugin import hookimpl

    @hookimpl
    def xrm_channels():
        return [Channel("carrier_pigeon", "Carrier pigeon")]
"""

BROKEN_AT_IMPORT = """
    raise RuntimeError("the plugin's configuration file is missing")
"""


@pytest.fixture
def installed(site: Site) -> Site:
    """Three installed distributions: ``pigeon`` (good), ``telegraph`` (good) and
    ``broken`` (raises when imported)."""
    site.module("xrmtest_pigeon", CARRIER_PIGEON)
    site.module(
        "xrmtest_telegraph",
        """
        from xrm.core.registry import Channel
        from xrm.plugin import hookimpl

        @hookimpl
        def xrm_channels():
            return [Channel("telegraph")]
        """,
    )
    site.module("xrmtest_broken", BROKEN_AT_IMPORT)
    site.distribution("xrm-pigeon", "1.2.3", {"pigeon": "xrmtest_pigeon"})
    site.distribution("xrm-telegraph", "0.9", {"telegraph": "xrmtest_telegraph"})
    site.distribution("xrm-broken", "0.1", {"broken": "xrmtest_broken"})
    return site


def statuses(host: PluginHost) -> dict[str, str]:
    return {info.name: info.status for info in host.info()}


# -- load order and names ----------------------------------------------------------------


class Builtin:
    @hookimpl
    def xrm_touchpoints(self) -> list[Touchpoint]:
        return [Touchpoint("trade_fair")]


class Explicit:
    @hookimpl
    def xrm_role_types(self) -> list[RoleType]:
        return [SUPPLIER]

    @hookimpl
    def xrm_party_kinds(self) -> list[PartyKind]:
        return [PartyKind("trust")]


def test_plugins_load_built_ins_then_entry_points_then_explicit_plugins(installed: Site) -> None:
    host = PluginHost(
        [Explicit()],
        builtins=[("core_extra", Builtin())],
        environ={"XRM_LOAD_PLUGINS": "pigeon"},
    )
    loaded = [info for info in host.info() if info.status == "loaded"]
    assert loaded == [
        PluginInfo("core_extra", None, ("xrm_touchpoints",), "loaded"),
        PluginInfo("pigeon", "1.2.3", ("xrm_channels",), "loaded"),
        PluginInfo("Explicit", None, ("xrm_party_kinds", "xrm_role_types"), "loaded"),
    ]


def test_an_explicit_plugin_is_named_by_its_name_or_else_its_class() -> None:
    module = types.ModuleType("xrm_gardening")

    class ClassPlugin:
        @staticmethod
        @hookimpl
        def xrm_touchpoints() -> list[Touchpoint]:
            return []

    host = make_host(module, ClassPlugin, Explicit())
    assert [info.name for info in host.info()] == ["xrm_gardening", "ClassPlugin", "Explicit"]


def test_two_plugins_with_one_name_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="two plugins are named 'Explicit'"):
        make_host(Explicit(), Explicit())


def test_a_misspelled_hook_is_refused_with_the_likely_name() -> None:
    class Typo:
        @hookimpl
        def xrm_role_type(self) -> list[RoleType]:
            return []

    with pytest.raises(ConfigurationError) as err:
        make_host(Typo())
    assert str(err.value) == (
        "plugin 'Typo': unknown hook 'xrm_role_type'; did you mean 'xrm_role_types'?"
    )


def test_an_optional_hook_of_another_version_of_xrm_is_accepted() -> None:
    class Future:
        @hookimpl(optionalhook=True)
        def xrm_party_teleported(self) -> None: ...

    assert statuses(make_host(Future())) == {"Future": "loaded"}


def test_an_argument_the_hook_does_not_have_is_refused_naming_the_plugin() -> None:
    class Greedy:
        @hookimpl
        def xrm_validate_party(self, party: Party, mood: str) -> None: ...

    with pytest.raises(ConfigurationError, match=r"plugin 'Greedy'.*\{'mood'\}"):
        make_host(Greedy())


def test_hook_wrappers_are_refused_because_each_implementation_is_called_alone() -> None:
    class Wrapper:
        @hookimpl(wrapper=True)
        def xrm_validate_party(self) -> Iterator[None]:
            yield

    with pytest.raises(ConfigurationError, match="plugin 'Wrapper': xrm_validate_party is a hook"):
        make_host(Wrapper())


# -- entry points and switches -----------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("xrmtest_broken", "RuntimeError: the plugin's configuration file is missing"),
        ("xrmtest_pigeon:nowhere", "AttributeError: module 'xrmtest_pigeon' has no attribute"),
        ("xrmtest_typo", "ConfigurationError: plugin 'faulty': unknown hook 'xrm_channel'"),
    ],
    ids=["raises-on-import", "missing-object", "unknown-hook"],
)
def test_a_broken_entry_point_is_skipped_with_a_warning_and_listed_as_broken(
    installed: Site, target: str, error: str
) -> None:
    installed.module(
        "xrmtest_typo",
        """
        from xrm.plugin import hookimpl

        @hookimpl
        def xrm_channel():
            return []
        """,
    )
    installed.distribution("xrm-faulty", "2.0", {"faulty": target})
    with pytest.warns(XRMPluginWarning) as warned:
        host = PluginHost(environ={"XRM_LOAD_PLUGINS": "faulty,telegraph"})
    assert len(warned) == 1
    assert str(warned[0].message).startswith(f"xrm plugin 'faulty' ({target}) failed to load")
    assert error in str(warned[0].message)
    faulty = next(info for info in host.info() if info.name == "faulty")
    assert (faulty.status, faulty.version, faulty.hooks) == ("broken", "2.0", ())
    assert faulty.error is not None and faulty.error.startswith(error)
    registry = Registry.with_builtins()
    host.register_into(registry)  # the plugins loaded beside it work
    assert registry.source_of(registry.channels["telegraph"]) == "telegraph"


def test_a_broken_entry_point_stops_the_start_under_XRM_STRICT_PLUGINS(installed: Site) -> None:
    with pytest.raises(PluginError) as err:
        PluginHost(environ={"XRM_STRICT_PLUGINS": "1", "XRM_LOAD_PLUGINS": "broken"})
    assert (err.value.plugin, err.value.hook) == ("broken", "load")
    assert isinstance(err.value.__cause__, RuntimeError)


def test_XRM_LOAD_PLUGINS_loads_only_the_entry_points_it_names(installed: Site) -> None:
    host = PluginHost(environ={"XRM_LOAD_PLUGINS": " telegraph , "})
    found = {i.name: (i.status, i.version) for i in host.info()}
    assert found["telegraph"] == ("loaded", "0.9")
    assert found["pigeon"] == ("disabled", "1.2.3")
    assert found["broken"] == ("disabled", "0.1")  # never imported, so no warning


def test_XRM_LOAD_PLUGINS_set_but_empty_loads_no_entry_point(installed: Site) -> None:
    host = PluginHost(builtins=[("core_extra", Builtin())], environ={"XRM_LOAD_PLUGINS": ""})
    assert {i.name for i in host.info() if i.status == "loaded"} == {"core_extra"}


def test_XRM_LOAD_PLUGINS_warns_about_a_name_no_installed_plugin_has(installed: Site) -> None:
    with pytest.warns(XRMPluginWarning, match="XRM_LOAD_PLUGINS names 'pidgeon'"):
        PluginHost(environ={"XRM_LOAD_PLUGINS": "pidgeon"})


def test_without_XRM_LOAD_PLUGINS_every_entry_point_loads(installed: Site) -> None:
    with pytest.warns(XRMPluginWarning, match="'broken'"):
        host = PluginHost(environ={})
    assert {n: s for n, s in statuses(host).items() if n in {"pigeon", "telegraph", "broken"}} == {
        "pigeon": "loaded",
        "telegraph": "loaded",
        "broken": "broken",
    }


def test_XRM_DISABLE_PLUGINS_applies_to_built_ins_entry_points_and_explicit_plugins(
    installed: Site,
) -> None:
    host = PluginHost(
        [Explicit()],
        builtins=[("core_extra", Builtin())],
        environ={
            "XRM_DISABLE_PLUGINS": "core_extra,broken,Explicit",
            # only this test's entry points, whatever else is installed
            "XRM_LOAD_PLUGINS": "pigeon,telegraph,broken",
        },
    )
    mine = {
        n: s
        for n, s in statuses(host).items()
        if n in {"core_extra", "broken", "pigeon", "Explicit"}
    }
    assert mine == {
        "core_extra": "disabled",
        "broken": "disabled",  # a disabled plugin is not even imported
        "pigeon": "loaded",
        "Explicit": "disabled",
    }
    registry = Registry.with_builtins()
    host.register_into(registry)
    assert "trade_fair" not in registry.touchpoints
    assert "supplier" not in registry.role_types


def test_switches_come_from_the_process_environment_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XRM_DISABLE_PLUGINS", "core_extra")
    host = PluginHost(builtins=[("core_extra", Builtin())], load_entry_points=False)
    assert statuses(host) == {"core_extra": "disabled"}


def test_load_entry_points_false_leaves_installed_plugins_alone(installed: Site) -> None:
    host = PluginHost(load_entry_points=False, environ={})
    assert host.info() == []


def test_XRM_TRACE_PLUGINS_writes_each_hook_call_to_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    host = make_host(Recorder(), environ={"XRM_TRACE_PLUGINS": "1"})
    host.call("xrm_validate_party", FakeContext(), party=PARTY, action="create")
    assert "xrm_validate_party" in capsys.readouterr().err


# -- registration ------------------------------------------------------------------------


class Everything:
    """One of each declarative type, from the eight registration hooks."""

    @hookimpl
    def xrm_party_kinds(self) -> list[PartyKind]:
        return [PartyKind("trust", "Trust")]

    @hookimpl
    def xrm_contact_kinds(self) -> list[ContactKind]:
        return [ContactKind("fediverse", key=str.casefold)]

    @hookimpl
    def xrm_identifier_schemes(self) -> list[IdentifierScheme]:
        return [IdentifierScheme("acme.customer_no")]

    @hookimpl
    def xrm_channels(self) -> Iterator[Channel]:
        yield Channel("carrier_pigeon")  # a generator is an iterable too

    @hookimpl
    def xrm_touchpoints(self) -> tuple[Touchpoint, ...]:
        return (Touchpoint("trade_fair"),)

    @hookimpl
    def xrm_purposes(self) -> list[Purpose]:
        return [Purpose("newsletter", LawfulBasis.CONSENT)]

    @hookimpl
    def xrm_role_types(self) -> list[RoleType]:
        return [SUPPLIER]

    @hookimpl
    def xrm_relationship_types(self) -> list[RelationshipType]:
        return [RelationshipType("mentors", "mentors", "is mentored by")]


def test_registration_adds_every_type_to_the_registry_under_the_plugin_name() -> None:
    registry = Registry.with_builtins()
    make_host(Everything()).register_into(registry)
    registered: list[Registered] = [
        registry.party_kinds["trust"],
        registry.contact_kinds["fediverse"],
        registry.identifier_schemes["acme.customer_no"],
        registry.channels["carrier_pigeon"],
        registry.touchpoints["trade_fair"],
        registry.purposes["newsletter"],
        registry.role_types["supplier"],
        registry.relationship_types["mentors"],
    ]
    assert {registry.source_of(item) for item in registered} == {"Everything"}
    assert registry.source_of(registry.channels["email"]) == "xrm"  # built-ins kept


def test_a_name_registered_by_two_plugins_stops_the_start_naming_both() -> None:
    class Other:
        @hookimpl
        def xrm_role_types(self) -> list[RoleType]:
            return [SUPPLIER]

    with pytest.raises(ConfigurationError) as err:
        make_host(Explicit(), Other()).register_into(Registry.with_builtins())
    message = str(err.value)
    assert message.startswith("duplicate role type name 'supplier'")
    assert "'Explicit'" in message and "'Other'" in message


def test_a_plugin_reusing_a_core_name_is_refused_naming_the_core_and_the_plugin() -> None:
    class Email:
        @hookimpl
        def xrm_channels(self) -> list[Channel]:
            return [Channel("email")]

    with pytest.raises(ConfigurationError, match="registered by 'xrm' and again by 'Email'"):
        make_host(Email()).register_into(Registry.with_builtins())


class RaisesAtOnce:
    @hookimpl
    def xrm_role_types(self) -> list[RoleType]:
        raise LookupError("no role file")


class RaisesWhileRead:
    @hookimpl
    def xrm_role_types(self) -> Iterator[RoleType]:
        yield SUPPLIER
        raise LookupError("no role file")


@pytest.mark.parametrize("plugin", [RaisesAtOnce(), RaisesWhileRead()], ids=type)
def test_a_raising_registration_hook_becomes_PluginError_naming_plugin_and_hook(
    plugin: object,
) -> None:
    with pytest.raises(PluginError) as err:
        make_host(plugin).register_into(Registry.with_builtins())
    assert (err.value.plugin, err.value.hook) == (type(plugin).__name__, "xrm_role_types")
    assert isinstance(err.value.__cause__, LookupError)
    assert str(err.value) == (
        f"plugin {type(plugin).__name__!r} failed in xrm_role_types: no role file"
    )


def test_a_registration_hook_gives_an_iterable_of_its_own_type() -> None:
    class WrongType:
        @hookimpl
        def xrm_role_types(self) -> list[Channel]:
            return [Channel("telegraph")]

    class NotAList:
        @hookimpl
        def xrm_role_types(self) -> RoleType:
            return SUPPLIER

    with pytest.raises(ConfigurationError, match=r"'WrongType': xrm_role_types\(\) gave Channel"):
        make_host(WrongType()).register_into(Registry.with_builtins())
    with pytest.raises(ConfigurationError, match=r"'NotAList': xrm_role_types\(\) must return"):
        make_host(NotAList()).register_into(Registry.with_builtins())


def test_migration_locations_are_absolute_existing_directories_relative_to_the_plugin(
    site: Site, tmp_path: Path
) -> None:
    (site.root / "xrmtest_billing_migrations").mkdir()
    elsewhere = tmp_path / "shared_versions"
    elsewhere.mkdir()
    site.module(
        "xrmtest_billing",
        f"""
        from pathlib import Path
        from xrm.plugin import hookimpl

        @hookimpl
        def xrm_migration_locations():
            relative = "xrmtest_billing_migrations"
            return [relative, Path({str(elsewhere)!r}), "./" + relative]
        """,
    )
    host = make_host(site.load("xrmtest_billing"))
    assert host.migration_locations() == [
        str((site.root / "xrmtest_billing_migrations").resolve()),
        str(elsewhere.resolve()),
    ]


def test_a_migration_location_that_is_not_a_directory_is_refused_naming_the_plugin() -> None:
    class Lost:
        @hookimpl
        def xrm_migration_locations(self) -> list[str]:
            return ["no/such/versions"]

    with pytest.raises(
        ConfigurationError,
        match=r"plugin 'Lost': migration location '.*versions' is not a directory",
    ):
        make_host(Lost()).migration_locations()


def test_plugins_add_commands_to_the_cli_and_a_raising_one_is_named() -> None:
    class Billing:
        @hookimpl
        def xrm_cli_commands(self, cli: click.Group) -> None:
            @cli.command()
            def invoices() -> None:
                click.echo("3 open invoices")

    class Clumsy:
        @hookimpl
        def xrm_cli_commands(self) -> None:
            raise ImportError("rich is not installed")

    cli = click.Group("xrm")
    make_host(Billing()).cli_commands(cli)
    assert CliRunner().invoke(cli, ["invoices"]).output == "3 open invoices\n"
    with pytest.raises(PluginError, match="plugin 'Clumsy' failed in xrm_cli_commands"):
        make_host(Clumsy()).cli_commands(click.Group("xrm"))


# -- hooks inside the unit of work -------------------------------------------------------

NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
PARTY = Party(
    id=7,
    kind="person",
    display_name="Marie Dupont",
    given_name="Marie",
    family_name="Dupont",
    birth_date=None,
    attributes={},
    tags=(),
    contact_points=(),
    identifiers=(),
    version=1,
    merged_into=None,
    created_at=NOW,
    updated_at=NOW,
)


class FakeContext:
    """What ``call`` reads from the core's Context: its public session."""

    session: Any = "the session"


class Recorder:
    """Records every call it receives, each hook taking a different subset of arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    @hookimpl
    def xrm_validate_party(self, session: Session, party: Party, action: str) -> None:
        self.calls.append(("xrm_validate_party", (session, party.id, action)))

    @hookimpl
    def xrm_party_created(self, party: Party) -> None:  # no session: a subset is enough
        self.calls.append(("xrm_party_created", (party.id,)))

    @hookimpl
    def xrm_validate_role_transition(
        self, role: Role, to_state: str | None, from_state: str | None
    ) -> None:  # any order: arguments go by name
        self.calls.append(("xrm_validate_role_transition", (role.type, from_state, to_state)))

    @hookimpl
    def xrm_role_changed(self, role: Role, from_state: str | None) -> None:
        self.calls.append(("xrm_role_changed", (role.type, from_state, role.state)))

    @hookimpl
    def xrm_validate_relationship(self, relationship: Relationship, action: str) -> None:
        self.calls.append(("xrm_validate_relationship", (relationship.type, action)))

    @hookimpl
    def xrm_validate_interaction(self, interaction: Interaction) -> None:
        self.calls.append(("xrm_validate_interaction", (interaction.channel,)))

    @hookimpl
    def xrm_interaction_recorded(self) -> None:  # no argument at all
        self.calls.append(("xrm_interaction_recorded", ()))


class Veto:
    def __init__(self, reason: str = "no parties on Sundays") -> None:
        self.reason = reason

    @hookimpl
    def xrm_validate_party(self, party: Party) -> None:
        raise ValueError(self.reason)


def test_call_passes_the_session_and_each_implementation_takes_the_arguments_it_names() -> None:
    recorder = Recorder()
    host = make_host(recorder)
    host.call("xrm_validate_party", FakeContext(), party=PARTY, action="create")
    host.call("xrm_party_created", FakeContext(), party=PARTY)
    assert recorder.calls == [
        ("xrm_validate_party", ("the session", 7, "create")),
        ("xrm_party_created", (7,)),
    ]


def test_a_raising_implementation_becomes_PluginError_with_plugin_hook_and_cause() -> None:
    recorder = Recorder()
    host = make_host(recorder, Veto())  # Veto registered last: called first
    with pytest.raises(PluginError) as err:
        host.call("xrm_validate_party", FakeContext(), party=PARTY, action="update")
    assert (err.value.plugin, err.value.hook) == ("Veto", "xrm_validate_party")
    assert isinstance(err.value.__cause__, ValueError)
    assert str(err.value) == "plugin 'Veto' failed in xrm_validate_party: no parties on Sundays"
    assert recorder.calls == []  # the veto stopped the call


def test_a_PluginError_raised_by_an_implementation_passes_unchanged() -> None:
    inner = PluginError("billing", "xrm_party_created", KeyError("ledger"))

    class Relay:
        @hookimpl
        def xrm_party_created(self) -> None:
            raise inner

    with pytest.raises(PluginError) as err:
        make_host(Relay()).call("xrm_party_created", FakeContext(), party=PARTY)
    assert err.value is inner


def test_implementations_run_in_pluggy_order_last_registered_first_unless_tryfirst() -> None:
    order: list[str] = []

    def plugin(name: str, *, tryfirst: bool = False, trylast: bool = False) -> object:
        @hookimpl(tryfirst=tryfirst, trylast=trylast)
        def xrm_party_created() -> None:
            order.append(name)

        module = types.ModuleType(name)
        module.__dict__["xrm_party_created"] = xrm_party_created
        return module

    host = make_host(
        plugin("first", tryfirst=True),
        plugin("middle"),
        plugin("last"),
        plugin("end", trylast=True),
    )
    host.call("xrm_party_created", FakeContext(), party=PARTY)
    assert order == ["first", "last", "middle", "end"]


def test_call_refuses_a_hook_that_does_not_exist_and_arguments_that_do_not_fit() -> None:
    host = make_host(Recorder())
    with pytest.raises(ValueError, match="'xrm_party_deleted' is not an xrm hook"):
        host.call("xrm_party_deleted", FakeContext(), party=PARTY)
    with pytest.raises(TypeError, match=r"missing \['action'\], unknown \['kind'\]"):
        host.call("xrm_validate_party", FakeContext(), party=PARTY, kind="person")
    with pytest.raises(TypeError, match="session is given by the host"):
        host.call("xrm_party_created", FakeContext(), session=None, party=PARTY)
    # after a good call (the hook's parameters are then kept), a bad one is still refused
    host.call("xrm_validate_party", FakeContext(), party=PARTY, action="create")
    with pytest.raises(TypeError, match=r"missing \['action'\], unknown \[\]"):
        host.call("xrm_validate_party", FakeContext(), party=PARTY)
    with pytest.raises(TypeError, match=r"missing \[\], unknown \['extra'\]"):
        host.call("xrm_validate_party", FakeContext(), party=PARTY, action="create", extra=1)
    # and so is a bad call of a hook that no plugin implements
    with pytest.raises(TypeError, match=r"missing \['record'\]"):
        host.call("xrm_consent_changed", FakeContext(), party=PARTY)


def test_collect_gives_each_plugin_result_by_name_skipping_none() -> None:
    class Billing:
        @hookimpl
        def xrm_party_export(self, party: Party) -> dict[str, Any]:
            return {"invoices": [f"INV-{party.id}"]}

    class Newsletter:
        @hookimpl
        def xrm_party_export(self) -> None:
            return None  # holds nothing about this party

    class Unreachable:
        @hookimpl
        def xrm_party_export(self) -> None:
            raise ConnectionError("archive offline")

    host = make_host(Billing(), Newsletter())
    assert host.collect("xrm_party_export", FakeContext(), party=PARTY) == {
        "Billing": {"invoices": ["INV-7"]}
    }
    with pytest.raises(PluginError, match="'Unreachable' failed in xrm_party_export"):
        make_host(Billing(), Unreachable()).collect("xrm_party_export", FakeContext(), party=PARTY)


# -- the core calls the hooks through its Context ----------------------------------------


@contextmanager
def unit_of_work(app: XRM, host: PluginHost) -> Iterator[Session]:
    """``app.session()`` with ``host`` as the context's plugins (what ``XRM`` will do)."""
    with sessionmaker(app.engine, expire_on_commit=False, autoflush=False)() as db:
        db.begin()
        plugins: HookCaller = host  # the protocol the core's Context expects
        ctx = Context(db, app.registry, app.settings, "tests", plugins=plugins)
        try:
            yield Session(ctx)
        except BaseException:
            db.rollback()
            raise
        db.commit()


def test_the_core_calls_each_hook_with_the_documented_arguments(app: XRM) -> None:
    recorder = Recorder()
    host = make_host(recorder)
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    with unit_of_work(app, host) as s:
        acme = s.parties.create("organization", "ACME")
        marie = s.parties.create("person", "Marie Dupont")
        role = s.roles.assign(marie, "customer")
        role = s.roles.transition(role, "prospect")
        s.roles.end(role)
        link = s.relationships.create("works_for", marie, acme)
        s.relationships.end(link, on=tomorrow)
        s.interactions.record(
            channel="phone", direction="inbound", participants=[(marie, "caller")]
        )
    assert recorder.calls == [
        ("xrm_validate_party", (s, acme.id, "create")),
        ("xrm_party_created", (acme.id,)),
        ("xrm_validate_party", (s, marie.id, "create")),
        ("xrm_party_created", (marie.id,)),
        ("xrm_validate_role_transition", ("customer", None, "lead")),
        ("xrm_role_changed", ("customer", None, "lead")),
        ("xrm_validate_role_transition", ("customer", "lead", "prospect")),
        ("xrm_role_changed", ("customer", "lead", "prospect")),
        ("xrm_validate_role_transition", ("customer", "prospect", None)),
        ("xrm_role_changed", ("customer", "prospect", "prospect")),
        ("xrm_validate_relationship", ("works_for", "create")),
        ("xrm_validate_relationship", ("works_for", "end")),
        ("xrm_validate_interaction", ("phone",)),
        ("xrm_interaction_recorded", ()),
    ]


def test_a_vetoing_plugin_leaves_the_database_unchanged(app: XRM, unchanged: Any) -> None:
    host = make_host(Veto("ACME is blacklisted"))
    with unchanged(), pytest.raises(PluginError) as err, unit_of_work(app, host) as s:
        s.parties.create("organization", "ACME")
    assert str(err.value) == "plugin 'Veto' failed in xrm_validate_party: ACME is blacklisted"
