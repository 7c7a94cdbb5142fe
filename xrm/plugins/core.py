"""The essential plugin ``xrm``: the core's own defaults, given through the public hooks.

Every plugin host registers it first, before the built-in plugins, the entry points and
the explicit plugins; no switch leaves it out (``XRM_DISABLE_PLUGINS``, an empty
``XRM_LOAD_PLUGINS`` and ``XRM(builtins=False)`` all keep it), as pytest's
``essential_plugins`` are always there. So the defaults are validated on the same path as
every plugin's registrations: a plugin that registers a name taken here (a channel
``email``, a fuzzy rule ``given_name``) stops the start with an error naming ``'xrm'`` and
the plugin.

It registers the party kinds, contact kinds, channels, touchpoints and purposes of
:mod:`xrm.core.registry` (``DEFAULT_*``) and the default duplicate-detection rules
(:data:`xrm.core.identity.dedupe.DEFAULT_RULES`), and the core's journal event types
(:data:`xrm.core.events.CORE_EVENTS`). It gives no identifier scheme: the
schemes python-stdnum knows need no registration.
"""

from __future__ import annotations

from collections.abc import Iterable

from xrm.core.events import CORE_EVENTS, JournalEvent
from xrm.core.identity.dedupe import DEFAULT_RULES, MatchRule
from xrm.core.registry import (
    BUILTIN_SOURCE,
    DEFAULT_CHANNELS,
    DEFAULT_CONTACT_KINDS,
    DEFAULT_PARTY_KINDS,
    DEFAULT_PURPOSES,
    DEFAULT_TOUCHPOINTS,
    Channel,
    ContactKind,
    PartyKind,
    Purpose,
    Touchpoint,
)
from xrm.plugin import hookimpl

__all__ = [
    "xrm_channels",
    "xrm_contact_kinds",
    "xrm_event_types",
    "xrm_match_rules",
    "xrm_party_kinds",
    "xrm_purposes",
    "xrm_touchpoints",
]

#: the plugin's name, however it is registered (see xrm.plugin.plugin_name)
__xrm_name__ = BUILTIN_SOURCE


@hookimpl
def xrm_party_kinds() -> Iterable[PartyKind]:
    return DEFAULT_PARTY_KINDS


@hookimpl
def xrm_contact_kinds() -> Iterable[ContactKind]:
    return DEFAULT_CONTACT_KINDS


@hookimpl
def xrm_channels() -> Iterable[Channel]:
    return DEFAULT_CHANNELS


@hookimpl
def xrm_touchpoints() -> Iterable[Touchpoint]:
    return DEFAULT_TOUCHPOINTS


@hookimpl
def xrm_purposes() -> Iterable[Purpose]:
    return DEFAULT_PURPOSES


@hookimpl
def xrm_match_rules() -> Iterable[MatchRule]:
    return DEFAULT_RULES


@hookimpl
def xrm_event_types() -> Iterable[type[JournalEvent]]:
    return CORE_EVENTS
