"""The plugin host, as an application sees it: the essential plugin ``xrm`` first, then
plugins in a documented order under the ``XRM_*_PLUGINS`` switches, each with one name
however it is loaded; a broken plugin never stops xrm; registrations fill the registry
through one check; and every error a hook raises names its plugin and hook.

Everything goes through real ``XRM`` applications and ``app.session()``. Plugins are
real: classes and modules with ``@hookimpl`` functions, and entry points of small
distributions written to a temporary directory on ``sys.path``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
import textwrap
import types
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from tests.conftest import CUSTOMER, WORKS_FOR
from xrm import (
    XRM,
    Channel,
    ConfigurationError,
    ContactKind,
    ExactRule,
    FuzzyRule,
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
    Session,
    Touchpoint,
    ValidationError,
)
from xrm.core.identity.dedupe import DEFAULT_RULES, MatchRule
from xrm.core.registry import Registered, Registry
from xrm.hookspecs import hookspec
from xrm.plugin import PluginHost, PluginInfo, XRMPluginWarning, hookimpl

Factory = Callable[..., XRM]

SUPPLIER = RoleType(
    "supplier", states=["candidate", "approved"], transitions={"candidate": ["approved"]}
)
#: what the essential plugin ``xrm`` implements
ESSENTIAL_HOOKS = (
    "xrm_channels",
    "xrm_contact_kinds",
    "xrm_event_types",
    "xrm_match_rules",
    "xrm_party_kinds",
    "xrm_purposes",
    "xrm_touchpoints",
)
SWITCHES = ("XRM_LOAD_PLUGINS", "XRM_DISABLE_PLUGINS", "XRM_TRACE_PLUGINS", "XRM_STRICT_PLUGINS")


@pytest.fixture(autouse=True)
def no_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ``XRM_*_PLUGINS`` switch from the environment the tests run in."""
    for name in SWITCHES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def start(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., XRM]]:
    """``start(*plugins, discover=False, builtins=False, **switches)``: an application on
    an in-memory database (not migrated: for what happens at start), with the given
    ``XRM_*_PLUGINS`` switches (``load="pigeon"`` sets ``XRM_LOAD_PLUGINS``)."""
    made: list[XRM] = []

    def factory(
        *plugins: object, discover: bool = False, builtins: bool = False, **switches: str
    ) -> XRM:
        with monkeypatch.context() as env:
            for key, value in switches.items():
                env.setenv(f"XRM_{key.upper()}_PLUGINS", value)
            app = XRM("sqlite://", plugins=plugins, discover=discover, builtins=builtins)
        made.append(app)
        return app

    yield factory
    for app in made:
        app.dispose()


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
    """Three installed distributions, each ``xrm-<name>`` importing as ``xrm_<name>``:
    ``pigeon`` (good), ``telegraph`` (good) and ``broken`` (raises when imported)."""
    site.module("xrm_pigeon", CARRIER_PIGEON)
    site.module(
        "xrm_telegraph",
        """
        from xrm.core.registry import Channel
        from xrm.plugin import hookimpl

        @hookimpl
        def xrm_channels():
            return [Channel("telegraph")]
        """,
    )
    site.module("xrm_broken", BROKEN_AT_IMPORT)
    site.distribution("xrm-pigeon", "1.2.3", {"pigeon": "xrm_pigeon"})
    site.distribution("xrm-telegraph", "0.9", {"telegraph": "xrm_telegraph"})
    site.distribution("xrm-broken", "0.1", {"broken": "xrm_broken"})
    return site


def statuses(app: XRM, among: set[str] | None = None) -> dict[str, str]:
    """Plugin name -> status (only the plugins ``among``, when given)."""
    return {i.name: i.status for i in app.plugin_info() if among is None or i.name in among}


# -- load order and names ----------------------------------------------------------------


class Explicit:
    @hookimpl
    def xrm_role_types(self) -> list[RoleType]:
        return [SUPPLIER]

    @hookimpl
    def xrm_party_kinds(self) -> list[PartyKind]:
        return [PartyKind("trust")]


#: the built-in customers plugin's hooks: its types, and the customer number's uniqueness
CUSTOMERS_HOOKS = (
    "xrm_relationship_types",
    "xrm_role_types",
    "xrm_validate_role_transition",
    "xrm_validate_role_update",
)


def test_plugins_load_essential_then_built_ins_then_entry_points_then_explicit(
    installed: Site, start: Callable[..., XRM]
) -> None:
    app = start(Explicit(), discover=True, builtins=True, load="pigeon")
    loaded = [info for info in app.plugin_info() if info.status == "loaded"]
    assert loaded == [
        PluginInfo("xrm", None, ESSENTIAL_HOOKS, "loaded", essential=True),
        PluginInfo("customers", None, CUSTOMERS_HOOKS, "loaded"),
        PluginInfo("pigeon", "1.2.3", ("xrm_channels",), "loaded"),
        PluginInfo("Explicit", None, ("xrm_party_kinds", "xrm_role_types"), "loaded"),
    ]


def test_an_explicit_plugin_is_named_by_its_own_name_or_else_its_class(
    start: Callable[..., XRM],
) -> None:
    distribution = types.ModuleType("xrm_gardening")  # distribution xrm-gardening
    other = types.ModuleType("garden_tools")
    named = types.ModuleType("xrm_greenhouse")
    named.__dict__["__xrm_name__"] = "glasshouse"

    class ClassPlugin:
        @staticmethod
        @hookimpl
        def xrm_touchpoints() -> list[Touchpoint]:
            return []

    class Tagged:
        __xrm_name__ = "tagged"

    app = start(distribution, other, named, ClassPlugin, Explicit(), Tagged())
    assert [info.name for info in app.plugin_info()] == [
        "xrm",
        "gardening",  # xrm_<name> is <name>, its entry-point name
        "garden_tools",
        "glasshouse",  # __xrm_name__ wins
        "ClassPlugin",
        "Explicit",
        "tagged",
    ]


def test_two_plugins_with_one_name_are_refused(start: Callable[..., XRM]) -> None:
    with pytest.raises(ConfigurationError, match="two plugins are named 'Explicit'"):
        start(Explicit(), Explicit())
    with pytest.raises(ConfigurationError, match="two plugins are named 'xrm'"):
        start(types.ModuleType("xrm"))  # the essential plugin's name is taken


def test_a_misspelled_hook_is_refused_with_the_likely_name(start: Callable[..., XRM]) -> None:
    class Typo:
        @hookimpl
        def xrm_role_type(self) -> list[RoleType]:
            return []

    with pytest.raises(ConfigurationError) as err:
        start(Typo())
    assert str(err.value) == (
        "plugin 'Typo': unknown hook 'xrm_role_type'; did you mean 'xrm_role_types'?"
    )


def test_an_optional_hook_of_another_version_of_xrm_is_accepted(
    start: Callable[..., XRM],
) -> None:
    class Future:
        @hookimpl(optionalhook=True)
        def xrm_party_teleported(self) -> None: ...

    assert statuses(start(Future())) == {"xrm": "loaded", "Future": "loaded"}


def test_an_argument_the_hook_does_not_have_is_refused_naming_the_plugin(
    start: Callable[..., XRM],
) -> None:
    class Greedy:
        @hookimpl
        def xrm_validate_party(self, party: Party, mood: str) -> None: ...

    with pytest.raises(ConfigurationError, match=r"plugin 'Greedy'.*\{'mood'\}"):
        start(Greedy())


def test_hook_wrappers_are_refused_because_each_implementation_is_called_alone(
    start: Callable[..., XRM],
) -> None:
    class Wrapper:
        @hookimpl(wrapper=True)
        def xrm_validate_party(self) -> Iterator[None]:
            yield

    with pytest.raises(ConfigurationError, match="plugin 'Wrapper': xrm_validate_party is a hook"):
        start(Wrapper())


# -- the essential plugin ----------------------------------------------------------------


def defaults_of(registry: Registry) -> dict[str, set[str]]:
    """What the registry holds from the essential plugin ``xrm``, by table."""
    tables: dict[str, Mapping[str, Any]] = {
        "party kinds": registry.party_kinds,
        "contact kinds": registry.contact_kinds,
        "channels": registry.channels,
        "touchpoints": registry.touchpoints,
        "purposes": registry.purposes,
        "identifier schemes": registry.identifier_schemes,
    }
    return {
        what: {name for name, item in table.items() if registry.source_of(item) == "xrm"}
        for what, table in tables.items()
    }


CORE_DEFAULTS = {
    "party kinds": {"person", "organization", "household"},
    "contact kinds": {"email", "phone", "postal", "url", "social"},
    "channels": {
        "email", "phone", "sms", "postal_mail", "web", "chat", "social", "face_to_face", "fax",
    },
    "touchpoints": {"marketing", "sales", "after_sales", "support"},
    "purposes": {"marketing", "service", "surveys", "legal"},
    "identifier schemes": set(),  # python-stdnum's schemes need no registration
}  # fmt: skip


@pytest.mark.parametrize(
    "switches",
    [
        {"disable": "broken"},  # every other entry point
        {"load": ""},  # set but empty: no entry point
        {"disable": "customers,pigeon,telegraph,broken"},
        {"load": "", "disable": "customers"},
    ],
    ids=["entry-points", "load-empty", "disable-others", "both"],
)
def test_the_core_defaults_come_from_the_essential_plugin_whatever_the_switches(
    installed: Site, start: Callable[..., XRM], switches: dict[str, str]
) -> None:
    # builtins=False leaves out customers, never the essential plugin
    app = start(discover=True, builtins=False, **switches)
    xrm, *others = app.plugin_info()
    assert (xrm.name, xrm.status, xrm.essential) == ("xrm", "loaded", True)
    assert not any(info.essential for info in others)
    assert "customers" not in statuses(app)
    assert defaults_of(app.registry) == CORE_DEFAULTS
    assert app.registry.match_rules == DEFAULT_RULES
    assert {app.registry.source_of(rule) for rule in app.registry.match_rules} == {"xrm"}


def test_the_essential_plugin_cannot_be_disabled(
    start: Callable[..., XRM], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.warns(XRMPluginWarning, match="'xrm', the essential plugin .* cannot be disabled"):
        app = start(Explicit(), builtins=True, disable="xrm,customers,Explicit")
    assert statuses(app) == {"xrm": "loaded", "customers": "disabled", "Explicit": "disabled"}
    assert defaults_of(app.registry) == CORE_DEFAULTS
    # naming it in XRM_LOAD_PLUGINS is no mistake: it is always loaded
    assert statuses(start(load="xrm")) == {"xrm": "loaded"}


def test_a_plugin_reusing_a_default_name_is_refused_naming_xrm_and_the_plugin(
    start: Callable[..., XRM],
) -> None:
    class Email:
        @hookimpl
        def xrm_channels(self) -> list[Channel]:
            return [Channel("email")]

    with pytest.raises(ConfigurationError) as err:
        start(Email())
    assert str(err.value) == (
        "duplicate channel name 'email': registered by 'xrm' and again by 'Email'"
    )


class MemberNumbers:
    __xrm_name__ = "members"

    @hookimpl
    def xrm_match_rules(self) -> list[MatchRule]:
        return [
            ExactRule("same_member_number", "attribute:member"),
            FuzzyRule("member", "attribute:member", "damerau", 9.0),
        ]


def test_plugins_match_rules_are_registered_after_the_defaults(start: Callable[..., XRM]) -> None:
    class Copy(MemberNumbers):
        __xrm_name__ = "copy"

        @hookimpl
        def xrm_match_rules(self) -> list[MatchRule]:
            # a rule of another class may take a name: ExactRule('same_email') is a default
            return [FuzzyRule("same_email", "email", "exact", 1.0)]

    registry = start(MemberNumbers(), Copy()).registry
    assert registry.match_rules == (
        *DEFAULT_RULES,
        FuzzyRule("same_email", "email", "exact", 1.0),  # copy: registered last, called first
        *MemberNumbers().xrm_match_rules(),
    )
    assert [registry.source_of(r) for r in registry.match_rules[-3:]] == [
        "copy",
        "members",
        "members",
    ]


def test_a_match_rule_name_taken_twice_is_refused_at_start_naming_both_plugins(
    xrm_factory: Factory,
) -> None:
    class Clash:
        @hookimpl
        def xrm_match_rules(self) -> list[MatchRule]:
            return [FuzzyRule("given_name", "given_name", "exact", 1.0)]

    class Copy(MemberNumbers):
        __xrm_name__ = "copy"

    with pytest.raises(ConfigurationError) as err:
        xrm_factory(plugins=[Clash()], discover=False, builtins=False)
    assert str(err.value) == (
        "duplicate FuzzyRule name 'given_name': registered by 'xrm' and again by 'Clash'"
    )
    with pytest.raises(ConfigurationError) as err:
        xrm_factory(plugins=[MemberNumbers(), Copy()], discover=False, builtins=False)
    assert str(err.value) == (
        "duplicate ExactRule name 'same_member_number': registered by 'copy' and again by 'members'"
    )
    # once refused at start, never again: the search uses the registry's rules as they are
    app = xrm_factory(plugins=[MemberNumbers()], discover=False, builtins=False)
    with app.session() as s:
        a = s.parties.create("person", "Ann Lee", attributes={"member": "M-17"})
        b = s.parties.create("person", "Bo Chan", attributes={"member": "M-17"})
        (pair,) = s.identity.duplicates()
    assert ({pair.left, pair.right}, pair.exact) == ({a.id, b.id}, ("same_member_number",))


def test_a_registry_with_builtins_holds_what_the_essential_plugin_registers(
    start: Callable[..., XRM],
) -> None:
    app = start()
    with_builtins = Registry.with_builtins()
    assert defaults_of(with_builtins) == defaults_of(app.registry)
    assert with_builtins.channels == app.registry.channels
    assert with_builtins.purposes == app.registry.purposes
    assert with_builtins.match_rules == app.registry.match_rules
    # and a plugin host registers into it without registering the defaults twice
    app.plugins.register_into(with_builtins)
    assert with_builtins.match_rules == DEFAULT_RULES


def test_the_application_registers_types_of_its_own_through_the_same_check(
    start: Callable[..., XRM],
) -> None:
    app = start(Explicit())
    app.register(RoleType("member", states=["active"], transitions={}), source="shop")
    assert app.registry.source_of(app.registry.role_types["member"]) == "shop"
    with pytest.raises(ConfigurationError, match="registered by 'Explicit' and again by 'shop'"):
        app.register(SUPPLIER, source="shop")
    with pytest.raises(ConfigurationError, match="registered by 'xrm' and again by 'shop'"):
        app.register(PartyKind("person"), source="shop")


# -- one name per plugin, however it is loaded -------------------------------------------

BILLING = """
    from xrm.core.registry import Touchpoint
    from xrm.plugin import hookimpl

    @hookimpl
    def xrm_touchpoints():
        return [Touchpoint("billing_desk")]

    @hookimpl
    def xrm_party_export(party):
        return {"invoices": [f"INV-{party.id}"]}
"""


@pytest.fixture
def billing(site: Site) -> types.ModuleType:
    """Distribution ``xrm-billing``: module ``xrm_billing``, entry point ``billing``."""
    site.module("xrm_billing", BILLING)
    site.distribution("xrm-billing", "3.1", {"billing": "xrm_billing"})
    return site.load("xrm_billing")


@pytest.mark.parametrize("loaded_by", ["entry point", "XRM_LOAD_PLUGINS", "plugins=[module]"])
def test_a_plugin_has_one_name_however_it_is_loaded(
    billing: types.ModuleType, xrm_factory: Factory, loaded_by: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if loaded_by == "XRM_LOAD_PLUGINS":
        monkeypatch.setenv("XRM_LOAD_PLUGINS", "billing")
    options: dict[str, Any] = (
        {"plugins": [billing], "discover": False}
        if loaded_by == "plugins=[module]"
        else {"discover": True}
    )
    app = xrm_factory(builtins=False, **options)
    assert statuses(app, {"billing", "xrm_billing"}) == {"billing": "loaded"}
    touchpoint = app.registry.touchpoints["billing_desk"]
    assert app.registry.source_of(touchpoint) == "billing"
    with app.session() as s:
        party = s.parties.create("person", "Ann")
        # the GDPR export's section of the plugin is keyed by that name
        assert s.gdpr.export(party)["plugins"] == {"billing": {"invoices": [f"INV-{party.id}"]}}


@pytest.mark.parametrize("loaded_by", ["entry point", "plugins=[module]"])
def test_XRM_DISABLE_PLUGINS_takes_that_one_name(
    billing: types.ModuleType, start: Callable[..., XRM], loaded_by: str
) -> None:
    plugins = [billing] if loaded_by == "plugins=[module]" else []
    app = start(*plugins, discover=loaded_by == "entry point", disable="billing")
    assert statuses(app, {"billing", "xrm_billing"}) == {"billing": "disabled"}
    assert "billing_desk" not in app.registry.touchpoints


def test_an_entry_point_whose_plugin_names_itself_otherwise_is_loaded_with_a_warning(
    site: Site, start: Callable[..., XRM]
) -> None:
    site.module("xrm_invoicing", BILLING)
    site.distribution("xrm-invoicing", "1.0", {"invoices": "xrm_invoicing"})
    with pytest.warns(XRMPluginWarning) as warned:
        app = start(discover=True, load="invoices")
    assert [str(w.message) for w in warned] == [
        "xrm plugin 'invoices' (xrm_invoicing) calls itself 'invoicing': passed as "
        "XRM(plugins=[...]) it would be named 'invoicing'; name the entry point 'invoicing' "
        "or set __xrm_name__ = 'invoices'"
    ]
    assert statuses(app, {"invoices"}) == {"invoices": "loaded"}  # under its entry-point name


# -- entry points and switches -----------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("xrm_broken", "RuntimeError: the plugin's configuration file is missing"),
        ("xrm_pigeon:nowhere", "AttributeError: module 'xrm_pigeon' has no attribute"),
        ("xrm_typo", "ConfigurationError: plugin 'faulty': unknown hook 'xrm_channel'"),
    ],
    ids=["raises-on-import", "missing-object", "unknown-hook"],
)
def test_a_broken_entry_point_is_skipped_with_a_warning_and_listed_as_broken(
    installed: Site, start: Callable[..., XRM], target: str, error: str
) -> None:
    installed.module(
        "xrm_typo",
        """
        from xrm.plugin import hookimpl

        @hookimpl
        def xrm_channel():
            return []
        """,
    )
    installed.distribution("xrm-faulty", "2.0", {"faulty": target})
    with pytest.warns(XRMPluginWarning) as warned:
        app = start(discover=True, load="faulty,telegraph")
    assert len(warned) == 1, [str(w.message) for w in warned]
    assert str(warned[0].message).startswith(f"xrm plugin 'faulty' ({target}) failed to load")
    assert error in str(warned[0].message)
    faulty = next(info for info in app.plugin_info() if info.name == "faulty")
    assert (faulty.status, faulty.version, faulty.hooks) == ("broken", "2.0", ())
    assert faulty.error is not None and faulty.error.startswith(error)
    # the plugins loaded beside it work
    assert app.registry.source_of(app.registry.channels["telegraph"]) == "telegraph"


def test_a_broken_entry_point_stops_the_start_under_XRM_STRICT_PLUGINS(
    installed: Site, start: Callable[..., XRM]
) -> None:
    with pytest.raises(PluginError) as err:
        start(discover=True, strict="1", load="broken")
    assert (err.value.plugin, err.value.hook) == ("broken", "load")
    assert isinstance(err.value.__cause__, RuntimeError)


def test_XRM_LOAD_PLUGINS_loads_only_the_entry_points_it_names(
    installed: Site, start: Callable[..., XRM]
) -> None:
    app = start(discover=True, load=" telegraph , ")
    found = {i.name: (i.status, i.version) for i in app.plugin_info()}
    assert found["telegraph"] == ("loaded", "0.9")
    assert found["pigeon"] == ("disabled", "1.2.3")
    assert found["broken"] == ("disabled", "0.1")  # never imported, so no warning


def test_XRM_LOAD_PLUGINS_set_but_empty_loads_no_entry_point(
    installed: Site, start: Callable[..., XRM]
) -> None:
    app = start(discover=True, builtins=True, load="")
    assert {i.name for i in app.plugin_info() if i.status == "loaded"} == {"xrm", "customers"}


def test_XRM_LOAD_PLUGINS_warns_about_a_name_no_installed_plugin_has(
    installed: Site, start: Callable[..., XRM]
) -> None:
    with pytest.warns(XRMPluginWarning, match="XRM_LOAD_PLUGINS names 'pidgeon'"):
        start(discover=True, load="pidgeon")


def test_without_XRM_LOAD_PLUGINS_every_entry_point_loads(
    installed: Site, start: Callable[..., XRM]
) -> None:
    with pytest.warns(XRMPluginWarning, match="'broken'"):
        app = start(discover=True)
    assert statuses(app, {"pigeon", "telegraph", "broken"}) == {
        "pigeon": "loaded",
        "telegraph": "loaded",
        "broken": "broken",
    }


def test_XRM_DISABLE_PLUGINS_applies_to_built_ins_entry_points_and_explicit_plugins(
    installed: Site, start: Callable[..., XRM]
) -> None:
    app = start(
        Explicit(),
        discover=True,
        builtins=True,
        disable="customers,broken,Explicit",
        load="pigeon,telegraph,broken",  # only this test's entry points
    )
    assert statuses(app, {"customers", "broken", "pigeon", "Explicit"}) == {
        "customers": "disabled",
        "broken": "disabled",  # a disabled plugin is not even imported
        "pigeon": "loaded",
        "Explicit": "disabled",
    }
    assert "customer" not in app.registry.role_types
    assert "supplier" not in app.registry.role_types


def test_discover_false_leaves_installed_plugins_alone(
    installed: Site, start: Callable[..., XRM]
) -> None:
    assert [i.name for i in start(builtins=True).plugin_info()] == ["xrm", "customers"]
    # and a host built without entry points holds the essential plugin alone
    assert [i.name for i in PluginHost(load_entry_points=False, environ={}).info()] == ["xrm"]


def test_XRM_TRACE_PLUGINS_writes_each_hook_call_to_stderr(
    xrm_factory: Factory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XRM_TRACE_PLUGINS", "1")
    app = xrm_factory(plugins=[Recorder()], discover=False, builtins=False)
    capsys.readouterr()
    with app.session() as s:
        s.parties.create("person", "Ann")
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


def test_registration_adds_every_type_to_the_registry_under_the_plugin_name(
    start: Callable[..., XRM],
) -> None:
    registry = start(Everything()).registry
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
    assert registry.source_of(registry.channels["email"]) == "xrm"  # the defaults kept


def test_a_name_registered_by_two_plugins_stops_the_start_naming_both(
    start: Callable[..., XRM],
) -> None:
    class Other:
        @hookimpl
        def xrm_role_types(self) -> list[RoleType]:
            return [SUPPLIER]

    with pytest.raises(ConfigurationError) as err:
        start(Explicit(), Other())
    message = str(err.value)
    assert message.startswith("duplicate role type name 'supplier'")
    assert "'Explicit'" in message and "'Other'" in message


class RaisesAtOnce:
    @hookimpl
    def xrm_role_types(self) -> list[RoleType]:
        raise LookupError("no role file")


class RaisesWhileRead:
    @hookimpl
    def xrm_role_types(self) -> Iterator[RoleType]:
        yield SUPPLIER
        raise LookupError("no role file")


class RulesRaise:
    @hookimpl
    def xrm_match_rules(self) -> list[MatchRule]:
        raise LookupError("no rule file")


@pytest.mark.parametrize(
    ("plugin", "hook"),
    [
        (RaisesAtOnce(), "xrm_role_types"),
        (RaisesWhileRead(), "xrm_role_types"),
        (RulesRaise(), "xrm_match_rules"),
    ],
    ids=["raises-at-once", "raises-while-read", "match-rules"],
)
def test_a_raising_registration_hook_becomes_PluginError_naming_plugin_and_hook(
    start: Callable[..., XRM], plugin: object, hook: str
) -> None:
    with pytest.raises(PluginError) as err:
        start(plugin)
    name = type(plugin).__name__
    assert (err.value.plugin, err.value.hook) == (name, hook)
    assert isinstance(err.value.__cause__, LookupError)
    assert str(err.value).startswith(f"plugin {name!r} failed in {hook}: no ")


def test_a_registration_hook_gives_an_iterable_of_its_own_type(
    start: Callable[..., XRM],
) -> None:
    class WrongType:
        @hookimpl
        def xrm_role_types(self) -> list[Channel]:
            return [Channel("telegraph")]

    class NotAList:
        @hookimpl
        def xrm_role_types(self) -> RoleType:
            return SUPPLIER

    class NotARule:
        @hookimpl
        def xrm_match_rules(self) -> list[object]:
            return ["same_email"]

    with pytest.raises(ConfigurationError, match=r"'WrongType': xrm_role_types\(\) gave Channel"):
        start(WrongType())
    with pytest.raises(ConfigurationError, match=r"'NotAList': xrm_role_types\(\) must return"):
        start(NotAList())
    with pytest.raises(
        ConfigurationError,
        match=r"'NotARule': xrm_match_rules\(\) gave 'same_email', which is not an ExactRule",
    ):
        start(NotARule())


def test_migration_locations_are_absolute_existing_directories_relative_to_the_plugin(
    site: Site, tmp_path: Path, start: Callable[..., XRM]
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
    app = start(site.load("xrmtest_billing"))
    assert app.migration_locations == [
        str((site.root / "xrmtest_billing_migrations").resolve()),
        str(elsewhere.resolve()),
    ]


def test_a_migration_location_that_is_not_a_directory_is_refused_naming_the_plugin(
    start: Callable[..., XRM],
) -> None:
    class Lost:
        @hookimpl
        def xrm_migration_locations(self) -> list[str]:
            return ["no/such/versions"]

    with pytest.raises(
        ConfigurationError,
        match=r"plugin 'Lost': migration location '.*versions' is not a directory",
    ):
        start(Lost())


def test_plugins_add_commands_to_the_cli_and_a_raising_one_is_named(
    start: Callable[..., XRM],
) -> None:
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
    start(Billing()).plugins.cli_commands(cli)
    assert CliRunner().invoke(cli, ["invoices"]).output == "3 open invoices\n"
    with pytest.raises(PluginError, match="plugin 'Clumsy' failed in xrm_cli_commands"):
        start(Clumsy()).plugins.cli_commands(click.Group("xrm"))


# -- hooks inside the unit of work -------------------------------------------------------


class Recorder:
    """Records every call it receives, each hook taking a different subset of arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    @hookimpl
    def xrm_validate_party(self, session: Session, party: Party, action: str) -> None:
        self.calls.append(("xrm_validate_party", (session, party.display_name, action)))

    @hookimpl
    def xrm_party_created(self, party: Party) -> None:  # no session: a subset is enough
        self.calls.append(("xrm_party_created", (party.display_name,)))

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


def test_the_core_calls_each_hook_with_the_session_and_the_arguments_it_names(
    xrm_factory: Factory,
) -> None:
    recorder = Recorder()
    app = xrm_factory(plugins=[recorder], discover=False, builtins=False)
    app.register(CUSTOMER, WORKS_FOR, source="tests")
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    with app.session() as s:
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
        ("xrm_validate_party", (s, "ACME", "create")),
        ("xrm_party_created", ("ACME",)),
        ("xrm_validate_party", (s, "Marie Dupont", "create")),
        ("xrm_party_created", ("Marie Dupont",)),
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
    assert isinstance(recorder.calls[0][1][0], Session)  # the public session itself


def test_a_vetoing_plugin_becomes_PluginError_and_leaves_the_database_unchanged(
    xrm_factory: Factory,
) -> None:
    from xrm.testing import unchanged

    recorder = Recorder()
    # Veto registered last: called first, and its veto stops the call
    app = xrm_factory(plugins=[recorder, Veto("ACME is blacklisted")], discover=False)
    with unchanged(app), pytest.raises(PluginError) as err, app.session() as s:
        s.parties.create("organization", "ACME")
    assert (err.value.plugin, err.value.hook) == ("Veto", "xrm_validate_party")
    assert isinstance(err.value.__cause__, ValueError)
    assert str(err.value) == "plugin 'Veto' failed in xrm_validate_party: ACME is blacklisted"
    assert recorder.calls == []


def test_a_PluginError_raised_by_an_implementation_passes_unchanged(
    xrm_factory: Factory,
) -> None:
    inner = PluginError("billing", "xrm_party_created", KeyError("ledger"))

    class Relay:
        @hookimpl
        def xrm_party_created(self) -> None:
            raise inner

    app = xrm_factory(plugins=[Relay()], discover=False, builtins=False)
    with pytest.raises(PluginError) as err, app.session() as s:
        s.parties.create("person", "Ann")
    assert err.value is inner


def test_implementations_run_in_pluggy_order_last_registered_first_unless_tryfirst(
    xrm_factory: Factory,
) -> None:
    order: list[str] = []

    def plugin(name: str, *, tryfirst: bool = False, trylast: bool = False) -> object:
        @hookimpl(tryfirst=tryfirst, trylast=trylast)
        def xrm_party_created() -> None:
            order.append(name)

        module = types.ModuleType(name)
        module.__dict__["xrm_party_created"] = xrm_party_created
        return module

    plugins = [
        plugin("first", tryfirst=True),
        plugin("middle"),
        plugin("last"),
        plugin("end", trylast=True),
    ]
    app = xrm_factory(plugins=plugins, discover=False, builtins=False)
    with app.session() as s:
        s.parties.create("person", "Ann")
    assert order == ["first", "last", "middle", "end"]


def test_call_refuses_a_hook_that_does_not_exist_and_arguments_that_do_not_fit(
    xrm_factory: Factory,
) -> None:
    app = xrm_factory(plugins=[Recorder()], discover=False, builtins=False)
    host = app.plugins
    with app.session() as s:
        party = s.parties.create("person", "Ann")
        with pytest.raises(ValueError, match="'xrm_party_deleted' is not an xrm hook"):
            host.call("xrm_party_deleted", s, party=party)
        with pytest.raises(TypeError, match=r"missing \['action'\], unknown \['kind'\]"):
            host.call("xrm_validate_party", s, party=party, kind="person")
        with pytest.raises(TypeError, match="session is given by the host"):
            host.call("xrm_party_created", s, session=None, party=party)
        # after a good call (the hook's parameters are then kept), a bad one is still refused
        host.call("xrm_validate_party", s, party=party, action="create")
        with pytest.raises(TypeError, match=r"missing \['action'\], unknown \[\]"):
            host.call("xrm_validate_party", s, party=party)
        with pytest.raises(TypeError, match=r"missing \[\], unknown \['extra'\]"):
            host.call("xrm_validate_party", s, party=party, action="create", extra=1)
        # and so is a bad call of a hook that no plugin implements
        with pytest.raises(TypeError, match=r"missing \['record'\]"):
            host.call("xrm_consent_changed", s, party=party)


def test_collected_results_are_keyed_by_plugin_name_skipping_none(xrm_factory: Factory) -> None:
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

    app = xrm_factory(plugins=[Billing(), Newsletter()], discover=False, builtins=False)
    with app.session() as s:
        party = s.parties.create("person", "Ann")
        assert s.gdpr.export(party)["plugins"] == {"Billing": {"invoices": [f"INV-{party.id}"]}}
    app = xrm_factory(plugins=[Billing(), Unreachable()], discover=False, builtins=False)
    with app.session() as s:
        party = s.parties.create("person", "Ann")
        with pytest.raises(PluginError, match="'Unreachable' failed in xrm_party_export"):
            s.gdpr.export(party)


# -- hooks a plugin declares for the others ------------------------------------------------
class LoyaltySpecs:
    @staticmethod
    @hookspec
    def xrm_loyalty_validate_points(session: Any, party: int, points: int) -> int | None:
        """Another plugin may veto (raise) or cap (return a number) the points given."""


class Loyalty:
    """Declares xrm_loyalty_validate_points and calls it through the session."""

    @hookimpl
    def xrm_hookspecs(self) -> list[object]:
        return [LoyaltySpecs]


class Capper:
    @hookimpl
    def xrm_loyalty_validate_points(self, points: int) -> int | None:
        if points < 0:
            raise ValueError("points cannot be negative")
        return min(points, 100)


def test_a_plugin_declares_a_hook_the_others_implement_whatever_their_order(
    start: Callable[..., XRM],
) -> None:
    app = start(Capper(), Loyalty())  # the implementation is registered first
    with app.session() as s:
        assert s.hook("xrm_loyalty_validate_points", party=1, points=250) == {"Capper": 100}
        with pytest.raises(PluginError) as failed:
            s.hook("xrm_loyalty_validate_points", party=1, points=-5)
        assert (
            failed.value.plugin == "Capper" and failed.value.hook == "xrm_loyalty_validate_points"
        )
        with pytest.raises(ValidationError, match="arguments"):
            s.hook("xrm_loyalty_validate_points", party=1)
        for name in ("xrm_party_created", "xrm_loyalty_nothing"):
            with pytest.raises(ValidationError, match="no plugin declares"):
                s.hook(name)


def test_a_declared_hook_needs_the_plugins_prefix_and_an_implementation_needs_a_declaration(
    start: Callable[..., XRM],
) -> None:
    class Squatter:
        @hookimpl
        def xrm_hookspecs(self) -> list[object]:
            return [LoyaltySpecs]

    with pytest.raises(ConfigurationError, match="must begin with 'xrm_squatter_'"):
        start(type("squatter", (Squatter,), {})())
    with pytest.raises(ConfigurationError, match="unknown hook 'xrm_loyalty_validate_points'"):
        start(Capper())  # nobody declares it
    with pytest.raises(ConfigurationError, match="declares no function"):

        class Empty:
            @hookimpl
            def xrm_hookspecs(self) -> list[object]:
                return [object]

        start(Empty())
