"""The plugin host: finds plugins, registers them with pluggy, and calls their hooks.

Nothing is loaded when this module is imported; an ``XRM`` application builds one
:class:`PluginHost`, in this order:

0. the **essential plugin** ``xrm`` (:mod:`xrm.plugins.core`: the core's kinds, channels,
   touchpoints, purposes and match rules), always, whatever the switches say;
1. **built-ins**, given as ``(name, module or object)`` pairs;
2. **entry points** of the group ``xrm``, in name order, each loaded on its own: one that
   fails to import or to register is skipped with an :class:`XRMPluginWarning` naming it
   and listed as ``broken`` by :meth:`PluginHost.info` (``XRM_STRICT_PLUGINS=1`` raises
   :class:`~xrm.PluginError` instead);
3. **explicit plugins**, passed as ``plugins=[...]``;
4. ``check_pending()``: every ``xrm_*`` implementation must match a hook specification.

A plugin has one name however it is loaded (:func:`plugin_name`): an entry point's name,
which a module ``xrm_<name>`` passed explicitly also gets (``xrm_partners`` is
``partners``); a plugin may set ``__xrm_name__`` instead.

Environment switches (read once, when the host is built):

``XRM_LOAD_PLUGINS``
    Comma-separated entry-point names to load; the others are listed as ``disabled``.
    Set but empty: no entry-point plugin at all.
``XRM_DISABLE_PLUGINS``
    Comma-separated plugin names never loaded (built-ins and explicit plugins included;
    the essential plugin ``xrm`` cannot be disabled: naming it gives a warning).
``XRM_TRACE_PLUGINS=1``
    pluggy's hook-call tracing, written to standard error.
``XRM_STRICT_PLUGINS=1``
    A plugin that fails to load stops the start instead of being skipped.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import inspect
import os
import re
import sys
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs
import click
import pluggy

from xrm import hookspecs
from xrm.core.identity.dedupe import MATCH_RULE_TYPES, MatchRule
from xrm.core.messaging.transports import Transport
from xrm.core.registry import (
    BUILTIN_SOURCE,
    Channel,
    ContactKind,
    IdentifierScheme,
    PartyKind,
    Purpose,
    Registered,
    Registry,
    RelationshipType,
    RoleType,
    Touchpoint,
)
from xrm.errors import ConfigurationError, PluginError

if TYPE_CHECKING:
    from xrm.app import Session

__all__ = [
    "ENTRY_POINT_GROUP",
    "ESSENTIAL_PLUGIN",
    "BoundHooks",
    "PluginHost",
    "PluginInfo",
    "PluginStatus",
    "XRMPluginWarning",
    "hookimpl",
    "plugin_name",
]

#: Marks a plugin's hook implementations (also exported as ``xrm.hookimpl``).
hookimpl = pluggy.HookimplMarker("xrm")

#: The entry-point group plugin distributions register under (``[project.entry-points.xrm]``).
ENTRY_POINT_GROUP = "xrm"

#: The name of the essential plugin (:mod:`xrm.plugins.core`), registered first by every
#: host and never disabled; the source of the core's defaults in the registry.
ESSENTIAL_PLUGIN = BUILTIN_SOURCE

#: A module named ``xrm_<name>`` (the import name of distribution ``xrm-<name>``) is the
#: plugin ``<name>``, the name its entry point has.
_MODULE_NAME = re.compile(r"xrm_([a-z0-9_]+)")

PluginStatus = Literal["loaded", "broken", "disabled"]

#: Registration hooks in the order they are called, each with the type its items must have:
#: kinds, channels and purposes first, so that roles and relationships may refer to them.
_REGISTRATION_HOOKS: tuple[tuple[str, type[Registered]], ...] = (
    ("xrm_party_kinds", PartyKind),
    ("xrm_contact_kinds", ContactKind),
    ("xrm_identifier_schemes", IdentifierScheme),
    ("xrm_channels", Channel),
    ("xrm_touchpoints", Touchpoint),
    ("xrm_purposes", Purpose),
    ("xrm_role_types", RoleType),
    ("xrm_relationship_types", RelationshipType),
)

_TRUE = frozenset({"1", "true", "yes", "on"})


class XRMPluginWarning(UserWarning):
    """A plugin was skipped (it failed to load) or a plugin switch names no plugin."""


@attrs.frozen
class PluginInfo:
    """One plugin as ``xrm plugins`` lists it."""

    name: str
    #: the distribution's version for an entry-point plugin, else ``None``
    version: str | None
    #: the hooks it implements, sorted
    hooks: tuple[str, ...]
    status: PluginStatus
    #: why it is broken (``"ImportError: ..."``), else ``None``
    error: str | None = None
    #: the essential plugin ``xrm`` (the core's defaults): always loaded, never disabled
    essential: bool = False


@attrs.frozen
class _Switches:
    load: frozenset[str] | None
    disable: frozenset[str]
    trace: bool
    strict: bool

    @classmethod
    def read(cls, environ: Mapping[str, str]) -> _Switches:
        load = environ.get("XRM_LOAD_PLUGINS")
        return cls(
            load=None if load is None else _names(load),
            disable=_names(environ.get("XRM_DISABLE_PLUGINS", "")),
            trace=environ.get("XRM_TRACE_PLUGINS", "").strip().lower() in _TRUE,
            strict=environ.get("XRM_STRICT_PLUGINS", "").strip().lower() in _TRUE,
        )


def _names(value: str) -> frozenset[str]:
    return frozenset(name.strip() for name in value.split(",") if name.strip())


def _write_stderr(text: str) -> None:
    # sys.stderr looked up at each write, so redirections made later are honoured
    sys.stderr.write(text)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def plugin_name(plugin: object) -> str:
    """The name an explicit plugin is registered under, chosen so that a plugin
    distribution is named the same however it is loaded (its entry-point name):

    1. its ``__xrm_name__``, if it sets one;
    2. for a module named ``xrm_<name>`` (distribution ``xrm-<name>``, entry point
       ``<name>``): ``<name>``, so ``xrm_partners`` is ``partners``;
    3. else its ``__name__`` (another module, a class), else its class name (an instance).
    """
    own = _own_name(plugin)
    if own is not None:
        return own
    name = getattr(plugin, "__name__", None)
    return name if isinstance(name, str) else type(plugin).__name__


def _own_name(plugin: object) -> str | None:
    """The name ``plugin`` gives itself (rules 1 and 2 of :func:`plugin_name`), if any."""
    declared = getattr(plugin, "__xrm_name__", None)
    if isinstance(declared, str) and declared:
        return declared
    if isinstance(plugin, types.ModuleType):
        match = _MODULE_NAME.fullmatch(plugin.__name__)
        if match is not None:
            return match[1]
    return None


@contextmanager
def _blame(plugin: str, hook: str) -> Iterator[None]:
    """Turn an error raised by plugin code into ``PluginError(plugin, hook)``."""
    try:
        yield
    except PluginError:
        raise
    except Exception as exc:
        raise PluginError(plugin, hook, exc) from exc


class PluginHost:
    """The plugins of one ``XRM`` application and the typed calls into their hooks.

    ``plugins`` are registered explicitly (modules, classes or instances with
    ``@hookimpl`` functions, named by :func:`plugin_name`), after the essential plugin
    ``xrm`` (always), ``builtins`` (``(name, plugin)`` pairs) and the entry points of the
    group ``xrm`` (skipped when ``load_entry_points`` is false).
    ``environ`` (default ``os.environ``) gives the ``XRM_*_PLUGINS`` switches.

    Built-in and explicit plugins that do not fit the hook specifications raise
    :class:`~xrm.ConfigurationError`; entry-point plugins that fail are skipped (see the
    module documentation).
    """

    def __init__(
        self,
        plugins: Sequence[object] = (),
        *,
        builtins: Sequence[tuple[str, object]] = (),
        load_entry_points: bool = True,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._switches = _Switches.read(os.environ if environ is None else environ)
        self._pm = pluggy.PluginManager("xrm")
        self._pm.add_hookspecs(hookspecs)
        #: (hook, plugin) -> a caller of that one implementation, built once (building one
        #: per call was a sixth of a bulk import's time); emptied when plugins change
        self._single: dict[tuple[str, int], Any] = {}
        #: hook -> what call() needs (see _plan); emptied when plugins change
        self._plans: dict[str, tuple[frozenset[str], list[tuple[str, Any]]]] = {}
        self._infos: list[PluginInfo] = []
        #: the plugins loaded from entry points (skipped, not fatal, when broken)
        self._entry_points: dict[str, tuple[importlib.metadata.EntryPoint, object]] = {}
        if self._switches.trace:
            self._pm.trace.root.setwriter(_write_stderr)
            self._pm.enable_tracing()
        self._add_essential()
        for name, plugin in builtins:
            self._add(name, plugin)
        if load_entry_points:
            self._load_entry_points()
        for plugin in plugins:
            self._add(plugin_name(plugin), plugin)
        self._check_declared_hooks_met()
        for ep, plugin in self._entry_points.values():
            if self._pm.is_registered(plugin):
                self._check_own_name(ep, plugin)
        try:
            self._pm.check_pending()
        except pluggy.PluginValidationError as exc:  # pragma: no cover - checked per plugin
            raise ConfigurationError(_one_line(exc)) from exc

    # -- start-up ----------------------------------------------------------------------
    def register_into(self, registry: Registry) -> None:
        """Add every plugin's kinds, channels, touchpoints, purposes, identifier schemes,
        role types, relationship types and match rules to ``registry``, each under its
        plugin's name: the essential plugin's (the core's defaults) first, then the other
        plugins' in pluggy's call order.

        This is the one way plugins' types reach a registry, and :meth:`Registry.add
        <xrm.core.registry.Registry.add>` the one check: a name already taken raises
        :class:`~xrm.ConfigurationError` naming both plugins (a rule name is taken per rule
        class). An item that is not of its hook's type raises ``ConfigurationError`` too,
        and a hook that raises becomes :class:`~xrm.PluginError`. Either way the
        application must not start: the registry may hold part of the plugins' types.

        The essential plugin's items that ``registry`` already holds under its name (a
        registry from :meth:`Registry.with_builtins
        <xrm.core.registry.Registry.with_builtins>`) are left as they are.
        """
        hooks: list[tuple[str, type[Any] | tuple[type[Any], ...], Callable[..., None]]] = [
            *((hook, kind, registry.add) for hook, kind in _REGISTRATION_HOOKS),
            ("xrm_match_rules", MATCH_RULE_TYPES, registry.add_match_rule),
            ("xrm_event_types", type, registry.add_event_type),
            ("xrm_segment_criteria", type, registry.add_segment_criterion),
        ]
        for hook, kind, add in hooks:
            for name, impl in self._registration_order(hook):
                for item in self._items(hook, name, impl, kind):
                    if name == ESSENTIAL_PLUGIN and registry.holds(item, name):
                        continue
                    add(item, name)

    def _registration_order(self, hook: str) -> list[tuple[str, pluggy.HookImpl]]:
        """The implementations of ``hook`` with the essential plugin's first, so the
        core's defaults are registered before any plugin may claim their names."""
        impls = self._implementations(hook)
        return sorted(impls, key=lambda pair: pair[0] != ESSENTIAL_PLUGIN)  # stable

    def migration_locations(self) -> list[str]:
        """Every plugin's Alembic version directory, absolute, in call order, each once.

        A relative path is resolved against the directory of the module defining the hook
        implementation; a path that is not an existing directory raises
        :class:`~xrm.ConfigurationError` naming the plugin.
        """
        hook = "xrm_migration_locations"
        found: list[str] = []
        for name, impl in self._implementations(hook):
            for entry in self._items(hook, name, impl, (str, os.PathLike)):
                path = Path(os.fspath(entry))
                if not path.is_absolute():
                    path = Path(inspect.getfile(impl.function)).resolve().parent / path
                resolved = path.resolve()
                if not resolved.is_dir():
                    raise ConfigurationError(
                        f"plugin {name!r}: migration location {str(resolved)!r} is not a directory"
                    )
                if str(resolved) not in found:
                    found.append(str(resolved))
        return found

    def match_rules(self) -> list[MatchRule]:
        """The duplicate-detection rules the plugins add to xrm's defaults (every
        ``xrm_match_rules`` but the essential plugin's), in call order.

        An application's whole rule set, defaults first, is ``app.registry.match_rules``,
        checked when the application starts; this reads the hooks again, through the same
        checks as :meth:`register_into`.
        """
        hook = "xrm_match_rules"
        registry = Registry()
        for name, impl in self._implementations(hook):
            if name != ESSENTIAL_PLUGIN:
                for rule in self._items(hook, name, impl, MATCH_RULE_TYPES):
                    registry.add_match_rule(rule, name)
        return list(registry.match_rules)

    def transports(self) -> list[tuple[str, Transport]]:
        """Every plugin's message transports (``xrm_transports``), with the plugin's name,
        in call order."""
        hook = "xrm_transports"
        return [
            (name, transport)
            for name, impl in self._implementations(hook)
            for transport in self._items(hook, name, impl, Transport)
        ]

    def web_routers(self) -> list[tuple[str, Any]]:
        """Every plugin's web routers (``xrm_web_routers``), with the plugin's name, in
        call order; the web layer (``xrm.web``) checks each is a ``fastapi.APIRouter``."""
        hook = "xrm_web_routers"
        return [
            (name, router)
            for name, impl in self._implementations(hook)
            for router in self._items(hook, name, impl, object)
        ]

    def cli_commands(self, cli: click.Group) -> None:
        """Let every plugin add its commands to the ``xrm`` click group."""
        hook = "xrm_cli_commands"
        for name, impl in self._implementations(hook):
            with _blame(name, hook):
                self._call_one(hook, impl, {"cli": cli})

    def implements(self, hook: str) -> bool:
        """Does any plugin implement ``hook``?"""
        return bool(self._implementations(hook))

    def declared(self, hook: str) -> bool:
        """Is ``hook`` one a plugin declared (``xrm_hookspecs``), not one of the core's?"""
        caller = getattr(self._pm.hook, hook, None)
        return caller is not None and caller.has_spec() and not hasattr(hookspecs, hook)

    # -- inside a unit of work ---------------------------------------------------------
    def bind(self, session: Session) -> BoundHooks:
        """The hooks as one unit of work calls them: each call hands ``session``."""
        return BoundHooks(self, session)

    def call(self, hook: str, session: Session, /, **kwargs: Any) -> None:
        """Call ``hook`` of every plugin, one implementation at a time, with
        ``session`` and ``kwargs`` (each implementation receives the subset of
        arguments it names).

        The first implementation that raises stops the call: its error is raised as
        ``PluginError(plugin, hook)`` from the original (a ``PluginError`` passes as is).
        ``kwargs`` must be exactly the hook's parameters other than ``session``
        (:class:`TypeError` otherwise: a mistake in the caller, not in a plugin).
        """
        expected, callers = self._plans.get(hook) or self._plan(hook)
        if "session" in kwargs or len(kwargs) + 1 != len(expected) or not expected >= kwargs.keys():
            self._arguments(hook, session, kwargs)  # raises TypeError naming what is wrong
        if not callers:
            return
        arguments = {"session": session, **kwargs}
        for name, caller in callers:
            try:  # _blame, inline: this runs several times for each imported party
                caller(**arguments)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(name, hook, exc) from exc

    def _plan(self, hook: str) -> tuple[frozenset[str], list[tuple[str, Any]]]:
        """What :meth:`call` needs of ``hook``, worked out once (until plugins change):
        its parameter names, and each implementation's plugin with a caller of it alone."""
        spec = self._caller(hook).spec
        assert spec is not None  # _caller refuses hooks without a specification
        callers = [
            (name, self._single_caller(hook, impl)) for name, impl in self._implementations(hook)
        ]
        plan = self._plans[hook] = (frozenset(spec.argnames), callers)
        return plan

    def collect(self, hook: str, session: Session, /, **kwargs: Any) -> dict[str, Any]:
        """Like :meth:`call`, returning each plugin's non-``None`` result by plugin name."""
        arguments = self._arguments(hook, session, kwargs)
        results: dict[str, Any] = {}
        for name, impl in self._implementations(hook):
            with _blame(name, hook):
                result = self._call_one(hook, impl, arguments)
            if result is not None:
                results[name] = result
        return results

    def call_each(
        self, hook: str, session: Session, arguments: Callable[[str], Mapping[str, Any]], /
    ) -> None:
        """Like :meth:`call`, with arguments made for each plugin by name (a hook that
        gives a plugin back what it returned earlier, such as ``xrm_parties_unmerged``)."""
        for name, impl in self._implementations(hook):
            given = self._arguments(hook, session, arguments(name))
            with _blame(name, hook):
                self._call_one(hook, impl, given)

    # -- reporting ---------------------------------------------------------------------
    def info(self) -> list[PluginInfo]:
        """Every plugin met while loading, in load order: loaded, broken or disabled."""
        return list(self._infos)

    # -- loading -----------------------------------------------------------------------
    def _add_essential(self) -> None:
        """Register the essential plugin: first, and whatever the switches say."""
        from xrm.plugins import core  # imports this module: loaded when a host is built

        if ESSENTIAL_PLUGIN in self._switches.disable:
            warnings.warn(
                f"XRM_DISABLE_PLUGINS names {ESSENTIAL_PLUGIN!r}, the essential plugin (xrm's "
                "own kinds, channels, purposes and match rules), which cannot be disabled",
                XRMPluginWarning,
                stacklevel=3,
            )
        self._register(ESSENTIAL_PLUGIN, core)
        self._infos.append(
            PluginInfo(ESSENTIAL_PLUGIN, None, self._hooks_of(core), "loaded", essential=True)
        )

    def _add(self, name: str, plugin: object, version: str | None = None) -> None:
        if name in self._switches.disable:
            self._note(name, version, "disabled")
            return
        self._register(name, plugin)
        self._note(name, version, "loaded", hooks=self._hooks_of(plugin))

    def _load_entry_points(self) -> None:
        wanted = self._switches.load
        found: set[str] = set()
        for ep in sorted(
            importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name
        ):
            found.add(ep.name)
            version = ep.dist.version if ep.dist is not None else None
            if (wanted is not None and ep.name not in wanted) or ep.name in self._switches.disable:
                self._note(ep.name, version, "disabled")
                continue
            try:
                plugin = ep.load()
                self._register(ep.name, plugin)
                self._entry_points[ep.name] = (ep, plugin)
            except Exception as exc:
                if self._switches.strict:
                    raise PluginError(ep.name, "load", exc) from exc
                warnings.warn(
                    f"xrm plugin {ep.name!r} ({ep.value}) failed to load and is skipped: "
                    f"{_one_line(exc)}",
                    XRMPluginWarning,
                    stacklevel=3,
                )
                self._note(ep.name, version, "broken", error=_one_line(exc))
                continue
            self._note(ep.name, version, "loaded", hooks=self._hooks_of(plugin))
        for missing in sorted((wanted or frozenset()) - found - {ESSENTIAL_PLUGIN}):
            warnings.warn(
                f"XRM_LOAD_PLUGINS names {missing!r}, but no installed plugin has that name",
                XRMPluginWarning,
                stacklevel=3,
            )

    @staticmethod
    def _check_own_name(ep: importlib.metadata.EntryPoint, plugin: object) -> None:
        """Warn when the plugin an entry point loads would be named otherwise if passed
        explicitly (``xrm_billing`` under the entry point ``invoices``): its export
        section, its registrations' source and its ``XRM_DISABLE_PLUGINS`` name would
        depend on how it is loaded."""
        own = _own_name(plugin)
        if own is not None and own != ep.name:
            warnings.warn(
                f"xrm plugin {ep.name!r} ({ep.value}) calls itself {own!r}: passed as "
                f"XRM(plugins=[...]) it would be named {own!r}; name the entry point {own!r} "
                f"or set __xrm_name__ = {ep.name!r}",
                XRMPluginWarning,
                stacklevel=4,
            )

    def _register(self, name: str, plugin: object) -> None:
        """Register ``plugin`` as ``name``, or raise ConfigurationError leaving no trace."""
        self._single.clear()
        self._plans.clear()
        if self._pm.has_plugin(name):
            raise ConfigurationError(f"two plugins are named {name!r}; plugin names must differ")
        if self._pm.is_registered(plugin):
            raise ConfigurationError(
                f"plugin {name!r} is already registered as {self._pm.get_name(plugin)!r}"
            )
        try:
            self._pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise ConfigurationError(f"plugin {name!r}: {_one_line(exc)}") from exc
        try:
            self._add_declared_hooks(name, plugin)
            self._check_implementations(name, plugin, final=False)
        except (ConfigurationError, PluginError):
            self._pm.unregister(plugin, name=name)
            raise

    def _check_declared_hooks_met(self) -> None:
        """Once every plugin is registered (so the hooks plugins declare are known): a
        hook nobody declared is refused, as at registration; an entry-point plugin that
        implements one is skipped with a warning (or stops the start in strict mode)."""
        for name, plugin in list(self._pm.list_name_plugin()):
            try:
                self._check_implementations(name, plugin)
            except ConfigurationError as exc:
                info = next((i for i in self._infos if i.name == name), None)
                if info is None or self._switches.strict or name not in self._entry_points:
                    raise
                self._pm.unregister(plugin, name=name)
                self._single.clear()
                self._plans.clear()
                ep = self._entry_points[name][0]
                warnings.warn(
                    f"xrm plugin {name!r} ({ep.value}) failed to load and is skipped: "
                    f"{_one_line(exc)}",
                    XRMPluginWarning,
                    stacklevel=4,
                )
                self._infos[self._infos.index(info)] = attrs.evolve(
                    info, hooks=(), status="broken", error=_one_line(exc)
                )

    def _add_declared_hooks(self, name: str, plugin: object) -> None:
        """The hooks ``plugin`` declares for other plugins (``xrm_hookspecs``): each
        specification's name must begin with ``xrm_<plugin name>_`` and be new."""
        impl = next(
            (i for i in self._pm.hook.xrm_hookspecs.get_hookimpls() if i.plugin is plugin), None
        )
        if impl is None:
            return
        prefix = f"xrm_{name.lower().replace('-', '_')}_"
        for holder in self._items("xrm_hookspecs", name, impl, object):
            declared = [
                n for n in dir(holder)
                if getattr(getattr(holder, n, None), "xrm_spec", None) is not None
            ]  # fmt: skip
            if not declared:
                raise ConfigurationError(
                    f"plugin {name!r}: xrm_hookspecs() gave {holder!r}, which declares no "
                    "function marked with @xrm.hookspec"
                )
            for hook in declared:
                if not hook.startswith(prefix):
                    raise ConfigurationError(
                        f"plugin {name!r}: the hook it declares, {hook!r}, must begin with "
                        f"{prefix!r}"
                    )
                caller = getattr(self._pm.hook, hook, None)
                if caller is not None and caller.has_spec():
                    raise ConfigurationError(f"plugin {name!r}: hook {hook!r} is declared twice")
            self._pm.add_hookspecs(holder)

    def _check_implementations(self, name: str, plugin: object, *, final: bool = True) -> None:
        """Refuse hook wrappers, a hook implemented twice, and (``final``: once every
        plugin is registered, so that a hook another plugin declares is known) an unknown
        hook."""
        for caller in self._pm.get_hookcallers(plugin) or []:
            impls = [i for i in caller.get_hookimpls() if i.plugin is plugin]
            if not caller.has_spec():
                if all(i.optionalhook for i in impls):
                    continue
                if not final:
                    continue  # perhaps a hook another plugin declares: checked at the end
                close = difflib.get_close_matches(caller.name, hookspecs.__all__, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigurationError(f"plugin {name!r}: unknown hook {caller.name!r}{hint}")
            if any(i.wrapper or i.hookwrapper for i in impls):
                raise ConfigurationError(
                    f"plugin {name!r}: {caller.name} is a hook wrapper; xrm calls each "
                    "implementation on its own, so wrappers are not supported"
                )
            if len(impls) > 1:
                raise ConfigurationError(
                    f"plugin {name!r} implements {caller.name} {len(impls)} times; "
                    "one implementation per hook"
                )

    def _hooks_of(self, plugin: object) -> tuple[str, ...]:
        callers = self._pm.get_hookcallers(plugin) or []
        return tuple(sorted(c.name for c in callers if c.has_spec()))

    def _note(
        self,
        name: str,
        version: str | None,
        status: PluginStatus,
        *,
        hooks: tuple[str, ...] = (),
        error: str | None = None,
    ) -> None:
        self._infos.append(PluginInfo(name, version, hooks, status, error))

    # -- calling -----------------------------------------------------------------------
    def _caller(self, hook: str) -> pluggy.HookCaller:
        caller: pluggy.HookCaller | None = getattr(self._pm.hook, hook, None)
        if caller is None or not caller.has_spec():
            raise ValueError(f"{hook!r} is not an xrm hook")
        return caller

    def _implementations(self, hook: str) -> list[tuple[str, pluggy.HookImpl]]:
        """(plugin name, implementation) in pluggy's call order."""
        impls = self._caller(hook).get_hookimpls()
        return [(impl.plugin_name, impl) for impl in reversed(impls)]

    def _call_one(self, hook: str, impl: pluggy.HookImpl, arguments: Mapping[str, Any]) -> Any:
        # Through pluggy rather than impl.function: it passes each implementation only the
        # arguments it names, and XRM_TRACE_PLUGINS sees the call.
        results: list[Any] = self._single_caller(hook, impl)(**arguments)
        return results[0] if results else None

    def _single_caller(self, hook: str, impl: pluggy.HookImpl) -> Any:
        key = (hook, id(impl.plugin))
        caller = self._single.get(key)
        if caller is None:
            others = [p for p in self._pm.get_plugins() if p is not impl.plugin]
            caller = self._single[key] = self._pm.subset_hook_caller(hook, others)
        return caller

    def _items(
        self,
        hook: str,
        name: str,
        impl: pluggy.HookImpl,
        kind: type[Any] | tuple[type[Any], ...],
    ) -> list[Any]:
        """The items an iterable-returning hook gave, each checked to be a ``kind``."""
        with _blame(name, hook):
            result = self._call_one(hook, impl, {})
        if result is None:
            return []
        if isinstance(result, str | bytes | Mapping) or not isinstance(result, Iterable):
            raise ConfigurationError(
                f"plugin {name!r}: {hook}() must return an iterable (a list), got {result!r}"
            )
        with _blame(name, hook):  # a generator runs the plugin's code while it is read
            items = list(result)
        expected = kind if isinstance(kind, tuple) else (kind,)
        for item in items:
            if not isinstance(item, expected):
                names = [k.__name__ for k in expected]
                wanted = " or ".join([", ".join(names[:-1]), names[-1]] if names[1:] else names)
                article = "an" if wanted[0] in "AEIOU" else "a"
                raise ConfigurationError(
                    f"plugin {name!r}: {hook}() gave {item!r}, which is not {article} {wanted}"
                )
        return items

    def _arguments(self, hook: str, session: Session, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        spec = self._caller(hook).spec
        assert spec is not None  # _caller refuses hooks without a specification
        if "session" in kwargs:
            raise TypeError(f"{hook}: session is given by the host from the unit of work")
        arguments = {"session": session, **kwargs}
        expected = set(spec.argnames)
        missing = sorted(expected - arguments.keys())
        unknown = sorted(arguments.keys() - expected)
        if missing or unknown:
            raise TypeError(
                f"{hook}({', '.join(spec.argnames)}) called with {sorted(arguments)}: "
                f"missing {missing}, unknown {unknown}"
            )
        return arguments


@attrs.frozen
class BoundHooks:
    """The plugin hooks of one unit of work (:class:`xrm.core.uow.Hooks`): every call
    hands the plugins the unit of work's public ``session``."""

    host: PluginHost
    session: Session

    def call(self, hook: str, /, **kwargs: Any) -> None:
        self.host.call(hook, self.session, **kwargs)

    def collect(self, hook: str, /, **kwargs: Any) -> dict[str, Any]:
        return self.host.collect(hook, self.session, **kwargs)

    def call_each(self, hook: str, arguments: Callable[[str], Mapping[str, Any]], /) -> None:
        self.host.call_each(hook, self.session, arguments)
