"""Every hook a plugin may implement, grouped by when it fires.

A plugin implements a hook by defining a function of the same name decorated with
``xrm.hookimpl``; it may accept any subset of the parameters listed here, by name. The host
(:class:`xrm.plugin.PluginHost`) calls the implementations **one at a time** so that an
error names the plugin that raised it: any exception (except a :class:`~xrm.PluginError`)
becomes ``PluginError(plugin, hook)`` whose ``__cause__`` is the original error. Hook
wrappers (``wrapper=True``, ``hookwrapper=True``) are therefore refused at start.

Implementations run in pluggy's order: ``tryfirst`` ones first, ``trylast`` ones last, and
otherwise the plugin registered last runs first (explicit plugins, then entry-point plugins,
then built-ins). None of these hooks is ``firstresult``: every implementation is called.

The phases, in the order an application meets them:

1. **Start-up** (registration): called once while an ``XRM`` application starts. Each
   returns declarative objects the host validates into the registries; a duplicate name
   stops the start, naming both plugins.
2. **Validation** (veto): inside the unit of work, after the row is written and flushed but
   before the journal event and before commit. Raising vetoes the change.
3. **Notification**: inside the unit of work, after the journal event. Raising still
   undoes the change.
4. **Contribution**: the identity and GDPR services (export, erasure, merge, duplicate
   detection) ask every plugin for its part.

In phases 2-4 raising undoes the service call (its savepoint) and the ``PluginError``
propagates; left uncaught it rolls back the whole unit of work.
"""

# Hook specifications are signatures: pluggy reads their parameters and never runs their
# bodies, so a docstring is the whole body even when the return type is not None.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import click
import pluggy

from xrm.core.events import JournalEvent
from xrm.core.identity.dedupe import MatchRule
from xrm.core.messaging.transports import Transport
from xrm.core.records import ConsentRecord, Interaction, Panel, Party, Relationship, Role
from xrm.core.registry import (
    Channel,
    ContactKind,
    IdentifierScheme,
    PartyKind,
    Purpose,
    RelationshipType,
    RoleType,
    Touchpoint,
)
from xrm.core.segments.criteria import Criterion

if TYPE_CHECKING:
    from fastapi import APIRouter

    from xrm.app import Session
    from xrm.core.access import AccessRequest

__all__ = [
    "hookspec",
    "xrm_authorize",
    "xrm_channels",
    "xrm_cli_commands",
    "xrm_consent_changed",
    "xrm_contact_kinds",
    "xrm_event_types",
    "xrm_hookspecs",
    "xrm_identifier_schemes",
    "xrm_interaction_recorded",
    "xrm_match_rules",
    "xrm_migration_locations",
    "xrm_parties_merged",
    "xrm_parties_unmerged",
    "xrm_party_created",
    "xrm_party_erase",
    "xrm_party_export",
    "xrm_party_kinds",
    "xrm_party_panels",
    "xrm_purposes",
    "xrm_relationship_types",
    "xrm_role_changed",
    "xrm_role_types",
    "xrm_segment_criteria",
    "xrm_touchpoints",
    "xrm_transports",
    "xrm_validate_interaction",
    "xrm_validate_party",
    "xrm_validate_relationship",
    "xrm_validate_role_transition",
    "xrm_validate_role_update",
    "xrm_web_routers",
]

#: Marks the hook specifications below; ``xrm`` is both the project name and the
#: entry-point group.
hookspec = pluggy.HookspecMarker("xrm")


# ---------------------------------------------------------------------------------------
# 1. Start-up: registration
# ---------------------------------------------------------------------------------------


@hookspec
def xrm_party_kinds() -> Iterable[PartyKind]:
    """Declare the kinds of party the plugin adds (``person``, ``organization`` and
    ``household`` are built in).

    **Called** once when an ``XRM`` application starts, before any unit of work.

    :returns: An iterable (a list, a tuple, or a generator) of :class:`xrm.PartyKind`.

    **Results** are collected from every plugin and each item is added to the registry
    under the plugin's name. A name already registered (by the core or another plugin)
    stops the start with :class:`~xrm.ConfigurationError` naming both.

    **Raising** stops the start with ``PluginError(plugin, "xrm_party_kinds")``.
    """


@hookspec
def xrm_contact_kinds() -> Iterable[ContactKind]:
    """Declare the kinds of contact point the plugin adds (email, phone, postal, url and
    social are built in), each with its ``key`` function from raw value to match key.

    **Called** once when an ``XRM`` application starts, before any unit of work.

    :returns: An iterable of :class:`xrm.ContactKind`.

    **Results** are collected from every plugin; a duplicate name stops the start with
    :class:`~xrm.ConfigurationError` naming both plugins.

    **Raising** stops the start with ``PluginError(plugin, "xrm_contact_kinds")``.
    """


@hookspec
def xrm_role_types() -> Iterable[RoleType]:
    """Declare the roles a party may hold (customer, supplier, employee...), each with its
    lifecycle states, allowed transitions, allowed party kinds and attribute schema.

    **Called** once when an ``XRM`` application starts, after the kinds, channels,
    touchpoints and purposes hooks.

    :returns: An iterable of :class:`xrm.RoleType`.

    **Results** are collected from every plugin; a duplicate name stops the start with
    :class:`~xrm.ConfigurationError` naming both plugins.

    **Raising** stops the start with ``PluginError(plugin, "xrm_role_types")``.
    """


@hookspec
def xrm_relationship_types() -> Iterable[RelationshipType]:
    """Declare typed links between parties ("employs" / "works for"), with the kinds and
    roles allowed at each end and the caps per end.

    **Called** once when an ``XRM`` application starts, last of the registration hooks, so
    the roles it names are already registered.

    :returns: An iterable of :class:`xrm.RelationshipType`.

    **Results** are collected from every plugin; a duplicate name stops the start with
    :class:`~xrm.ConfigurationError` naming both plugins.

    **Raising** stops the start with ``PluginError(plugin, "xrm_relationship_types")``.
    """


@hookspec
def xrm_channels() -> Iterable[Channel]:
    """Declare media of contact the plugin adds (email, phone, sms, postal_mail, web,
    chat, social, face_to_face and fax are built in).

    **Called** once when an ``XRM`` application starts, before any unit of work.

    :returns: An iterable of :class:`xrm.Channel`.

    **Results** are collected from every plugin; a duplicate name stops the start with
    :class:`~xrm.ConfigurationError` naming both plugins.

    **Raising** stops the start with ``PluginError(plugin, "xrm_channels")``.
    """


@hookspec
def xrm_touchpoints() -> Iterable[Touchpoint]:
    """Declare where in the company contacts happen (marketing, sales, after_sales and
    support are built in).

    **Called** once when an ``XRM`` application starts, before any unit of work.

    :returns: An iterable of :class:`xrm.Touchpoint`.

    **Results** are collected from every plugin; a duplicate name stops the start with
    :class:`~xrm.ConfigurationError` naming both plugins.

    **Raising** stops the start with ``PluginError(plugin, "xrm_touchpoints")``.
    """


@hookspec
def xrm_purposes() -> Iterable[Purpose]:
    """Declare why the company contacts parties, each with its lawful basis (``marketing``
    by consent and ``service`` by contract are built in).

    **Called** once when an ``XRM`` application starts, before any unit of work.

    :returns: An iterable of :class:`xrm.Purpose`.

    **Results** are collected from every plugin; a duplicate name stops the start with
    :class:`~xrm.ConfigurationError` naming both plugins.

    **Raising** stops the start with ``PluginError(plugin, "xrm_purposes")``.
    """


@hookspec
def xrm_identifier_schemes() -> Iterable[IdentifierScheme]:
    """Declare identifier schemes with their own validators (schemes python-stdnum knows,
    such as ``fr.siren`` or ``iban``, need no registration).

    **Called** once when an ``XRM`` application starts, before any unit of work.

    :returns: An iterable of :class:`xrm.IdentifierScheme`.

    **Results** are collected from every plugin; a duplicate name stops the start with
    :class:`~xrm.ConfigurationError` naming both plugins.

    **Raising** stops the start with ``PluginError(plugin, "xrm_identifier_schemes")``.
    """


@hookspec
def xrm_migration_locations() -> Iterable[str | os.PathLike[str]]:
    """Name the plugin's Alembic version directories.

    **Called** once when an ``XRM`` application starts; the locations are added to the
    core's when the database is upgraded (to ``heads``) or checked.

    :returns: An iterable of paths. Each is an Alembic version directory whose first
        revision has a ``branch_labels`` entry (the plugin name) and ``depends_on`` the core
        revision it needs (``"0001_core"``). A relative path is resolved against the
        directory of the module that defines the hook implementation.

    **Results** are collected from every plugin, made absolute, and de-duplicated in order.
    A path that is not an existing directory stops the start with
    :class:`~xrm.ConfigurationError` naming the plugin.

    **Raising** stops the start with ``PluginError(plugin, "xrm_migration_locations")``.
    """


@hookspec
def xrm_cli_commands(cli: click.Group) -> None:
    """Add commands to the ``xrm`` command line.

    **Called** once when the ``xrm`` command line starts, before it parses its arguments.

    :param cli: The top-level click group; call ``cli.add_command(...)`` or decorate with
        ``@cli.command()``. Prefer one group named after the plugin.

    :returns: Nothing; the return value is ignored.

    **Raising** stops the command line with ``PluginError(plugin, "xrm_cli_commands")``.
    """


@hookspec
def xrm_hookspecs() -> Iterable[object]:
    """Declare hooks of the plugin's own, for other plugins to implement (a veto on a
    stage move of the sales plugin, an escalation of the service plugin).

    **Called** once, when the plugin is registered, before any implementation is checked.

    :returns: Modules or classes holding functions marked ``@hookspec`` (``from
        xrm.hookspecs import hookspec``), whose names begin with ``xrm_<plugin name>_``
        (``xrm_sales_validate_stage_move``). The plugin
        calls them inside a unit of work with :meth:`xrm.Session.hook`, which hands every
        implementation the ``session`` and blames the plugin that raised.

    A name without the prefix, or declared twice, stops the start with
    :class:`~xrm.ConfigurationError`. An implementation of a hook no plugin declares is
    refused once every plugin is registered, as for the core's hooks.

    **Raising** stops the start with ``PluginError(plugin, "xrm_hookspecs")``.
    """


@hookspec
def xrm_web_routers() -> Iterable[APIRouter]:
    """Add a plugin's endpoints to ``xrm serve`` (the ``xrm[web]`` extra).

    **Called** once, when the web application is built (:func:`xrm.web.create_app`).

    :returns: An iterable of ``fastapi.APIRouter`` objects. Each is mounted under
        ``/plugins/<plugin name>``; its endpoints take the caller's unit of work with the
        dependency :func:`xrm.web.session` (so the caller's API key, actor and roles, and
        the authorisation policy, apply to them as to the core's endpoints) and appear in
        the OpenAPI document.

    **Raising** stops the web application's start with ``PluginError(plugin,
    "xrm_web_routers")``.
    """


# ---------------------------------------------------------------------------------------
# 2. Inside the unit of work: validation (raising vetoes)
# ---------------------------------------------------------------------------------------


@hookspec
def xrm_authorize(session: Session, request: AccessRequest) -> bool | None:
    """Allow or refuse one call of a public service method (the policy's say).

    **Called** before every public service method that reads or writes personal data
    runs, once per outermost call (what that method calls in turn is not asked again),
    whether or not the application set a policy (``XRM(policy=...)``).

    :param session: The unit of work the call is made in; a plugin may read through it
        (its reads are not asked again).
    :param request: An :class:`xrm.AccessRequest`: the ``actor`` and ``roles`` of the unit
        of work, the ``action`` (``read``, ``write``, ``consent``, ``message``, ``merge``,
        ``export``, ``erase``), the ``operation`` (``"parties.get"``) and the ids of the
        ``parties`` it names.

    :returns: ``False`` to refuse, ``True`` to allow, ``None`` to leave the decision to
        the others. Any ``False`` refuses; otherwise any ``True`` allows; otherwise the
        application's policy decides (with no policy, the call is allowed).

    **Raising** refuses the call too, as ``PluginError(plugin, "xrm_authorize")``.
    A refusal raises :class:`xrm.Forbidden` and writes an ``access.refused`` event, kept
    even when the unit of work is rolled back.
    """


@hookspec
def xrm_validate_party(session: Session, party: Party, action: str) -> None:
    """Accept or veto a party as it is created or changed.

    **Called** inside the unit of work after the party row is written and flushed (so
    ``party.id`` is set and queries through ``session`` see it) and before commit: by
    ``parties.create`` (``action="create"``), and by ``parties.update`` and
    ``parties.add_contact_point`` (``action="update"``).

    :param session: The unit of work; ``session.db`` reaches the plugin's own tables in the
        same transaction.
    :param party: The party as it will be committed (an immutable snapshot).
    :param action: ``"create"`` or ``"update"``.

    :returns: Nothing; the return value is ignored.

    **Raising** vetoes: the service call writes nothing and raises
    ``PluginError(plugin, "xrm_validate_party")`` whose ``__cause__`` is the error raised
    (a :class:`~xrm.ValidationError` with field paths reads best). Every plugin's
    implementation is called until one raises.
    """


@hookspec
def xrm_validate_role_transition(
    session: Session, role: Role, from_state: str | None, to_state: str | None
) -> None:
    """Accept or veto a role being assigned, moved to another state, or ended.

    **Called** inside the unit of work after the role row is written and flushed and before
    the journal event, by ``roles.assign``, ``roles.transition`` and ``roles.end``. The
    role type's own transition rules have already been checked.

    :param session: The unit of work.
    :param role: The role as it will be committed (already in ``to_state``; for an ending,
        ``role.ended_at`` is set and ``role.state`` is unchanged).
    :param from_state: The state before; ``None`` when the role is being assigned.
    :param to_state: The state after; ``None`` when the role is being ended.

    :returns: Nothing; the return value is ignored.

    **Raising** vetoes: the service call writes nothing and raises
    ``PluginError(plugin, "xrm_validate_role_transition")`` chained to the error.
    """


@hookspec
def xrm_validate_role_update(
    session: Session, role: Role, before: Mapping[str, Any], after: Mapping[str, Any]
) -> None:
    """Accept or veto a change of a role's attributes.

    **Called** inside the unit of work by ``roles.update`` after the new attributes are
    written and flushed and before the journal event; the role type's schema has already
    validated them. Not called when nothing changes.

    :param session: The unit of work.
    :param role: The role as it will be committed (``role.attributes`` is ``after``).
    :param before: The attributes before the change.
    :param after: The attributes after the change.

    :returns: Nothing; the return value is ignored.

    **Raising** vetoes: the service call writes nothing and raises
    ``PluginError(plugin, "xrm_validate_role_update")`` chained to the error.
    """


@hookspec
def xrm_validate_relationship(session: Session, relationship: Relationship, action: str) -> None:
    """Accept or veto a relationship as it is created or ended.

    **Called** inside the unit of work after the relationship row is written and flushed
    and before the journal event, by ``relationships.create`` (``action="create"``) and
    ``relationships.end`` (``action="end"``, ``relationship.valid_to`` is the new end). The
    relationship type's kind, role and cap rules have already been checked.

    :param session: The unit of work.
    :param relationship: The relationship as it will be committed.
    :param action: ``"create"`` or ``"end"``.

    :returns: Nothing; the return value is ignored.

    **Raising** vetoes: the service call writes nothing and raises
    ``PluginError(plugin, "xrm_validate_relationship")`` chained to the error.
    """


@hookspec
def xrm_validate_interaction(session: Session, interaction: Interaction) -> None:
    """Accept or veto an interaction as it is recorded.

    **Called** inside the unit of work by ``interactions.record`` after the interaction and
    its participants are written and flushed, and before the journal event. For an
    outbound interaction the consent ledger has already allowed it.

    :param session: The unit of work.
    :param interaction: The interaction as it will be committed, with its participants.

    :returns: Nothing; the return value is ignored.

    **Raising** vetoes: the service call writes nothing and raises
    ``PluginError(plugin, "xrm_validate_interaction")`` chained to the error.
    """


# ---------------------------------------------------------------------------------------
# 3. Inside the unit of work: notification (after the change; raising still undoes it)
# ---------------------------------------------------------------------------------------


@hookspec
def xrm_party_created(session: Session, party: Party) -> None:
    """React to a new party: create the plugin's own rows for it, assign a default role...

    **Called** inside the unit of work by ``parties.create``, after
    :func:`xrm_validate_party` accepted the party and the ``party.created`` journal event
    is written. Work done through ``session`` joins the same transaction.

    :param session: The unit of work.
    :param party: The new party.

    :returns: Nothing; the return value is ignored.

    **Raising** undoes the whole ``parties.create`` call and raises
    ``PluginError(plugin, "xrm_party_created")`` chained to the error.
    """


@hookspec
def xrm_role_changed(session: Session, role: Role, from_state: str | None) -> None:
    """React to a role that was assigned, moved to another state, or ended.

    **Called** inside the unit of work by ``roles.assign``, ``roles.transition`` and
    ``roles.end``, after :func:`xrm_validate_role_transition` accepted the change and its
    journal event is written.

    :param session: The unit of work.
    :param role: The role after the change (``role.ended_at`` is set when it was ended).
    :param from_state: The state before; ``None`` when the role was just assigned. For an
        ending it equals ``role.state``.

    :returns: Nothing; the return value is ignored.

    **Raising** undoes the service call and raises
    ``PluginError(plugin, "xrm_role_changed")`` chained to the error.
    """


@hookspec
def xrm_interaction_recorded(session: Session, interaction: Interaction) -> None:
    """React to a recorded interaction: open a ticket, update a score...

    **Called** inside the unit of work by ``interactions.record``, after
    :func:`xrm_validate_interaction` accepted it and the ``interaction.recorded`` journal
    event is written.

    :param session: The unit of work.
    :param interaction: The interaction, with its participants.

    :returns: Nothing; the return value is ignored.

    **Raising** undoes the service call and raises
    ``PluginError(plugin, "xrm_interaction_recorded")`` chained to the error.
    """


@hookspec
def xrm_consent_changed(session: Session, record: ConsentRecord) -> None:
    """React to a new entry of the consent ledger (a grant, refusal, withdrawal or
    objection), e.g. to update a mailing list.

    **Called** inside the unit of work each time the consent service appends a record to
    the ledger (``consents.grant``, ``refuse``, ``withdraw``, ``object``, ``record``), after
    the record and its journal event are written.

    :param session: The unit of work.
    :param record: The ledger entry just appended (records are never changed).

    :returns: Nothing; the return value is ignored.

    **Raising** undoes the service call and raises
    ``PluginError(plugin, "xrm_consent_changed")`` chained to the error.
    """


# ---------------------------------------------------------------------------------------
# 4. Contribution: identity and GDPR (called by the identity and erasure services)
# ---------------------------------------------------------------------------------------


@hookspec
def xrm_party_export(session: Session, party: Party) -> Mapping[str, Any] | None:
    """Give the personal data the plugin holds about a party (GDPR right of access).

    **Called** inside a unit of work when the party's data is exported; read only.

    :param session: The unit of work.
    :param party: The party being exported.

    :returns: A JSON-serialisable mapping of what the plugin stores about the party, or
        ``None`` when it stores nothing.

    **Results** are collected from every plugin into one mapping from plugin name to its
    non-``None`` result.

    **Raising** aborts the export with ``PluginError(plugin, "xrm_party_export")``.
    """


@hookspec
def xrm_party_panels(session: Session, party: Party) -> Iterable[Panel] | None:
    """Add sections to a party's single view: the party page of ``xrm serve``, and any
    application that shows :meth:`xrm.Session.panels` (a sales plugin's open
    opportunities, a service plugin's open cases).

    **Called** inside a unit of work, when the single view is built; read only.

    :param session: The unit of work.
    :param party: The party shown.

    :returns: :class:`xrm.Panel` objects (a title, columns, rows), or ``None``. Keep each
        to one or two queries: it runs at every view of a party.

    **Raising** aborts the view with ``PluginError(plugin, "xrm_party_panels")``.
    """


@hookspec
def xrm_party_erase(session: Session, party: Party, reason: str) -> None:
    """Anonymise or delete the plugin's personal data about a party (GDPR erasure).

    **Called** inside the unit of work that erases the party, before the core anonymises
    its own rows; every plugin is called until one raises.

    :param session: The unit of work; erase through ``session.db`` so the erasure commits
        or rolls back with the core's.
    :param party: The party being erased.
    :param reason: Why, as the operator gave it (kept in the journal).

    :returns: Nothing; the return value is ignored.

    **Raising** vetoes the erasure for every plugin: raise :class:`~xrm.Conflict` with the
    reason (``"2 open contracts"``). Nothing is erased and the caller gets
    ``PluginError(plugin, "xrm_party_erase")`` whose ``__cause__`` is that Conflict.
    """


@hookspec
def xrm_parties_merged(session: Session, survivor: Party, duplicate: Party) -> Any:
    """Move the plugin's data from a duplicate party to the one it is merged into.

    **Called** inside the unit of work that merges the two parties, after the core moved
    its own rows and set ``duplicate.merged_into`` (on a dry run too: everything is rolled
    back afterwards).

    :param session: The unit of work; write through ``session.db``.
    :param survivor: The party that remains, as it is after the merge.
    :param duplicate: The party merged into ``survivor``; its id keeps resolving to it.

    :returns: What :func:`xrm_parties_unmerged` needs to put the plugin's data back — the
        ids of the rows moved, say — as JSON-ready data (dicts, lists, strings, numbers);
        ``None`` when the plugin moved nothing. It is kept in the ``party.merged`` journal
        event.

    **Raising** vetoes the merge: nothing is merged and the caller gets
    ``PluginError(plugin, "xrm_parties_merged")`` chained to the error.
    """


@hookspec
def xrm_parties_unmerged(session: Session, survivor: Party, duplicate: Party, moved: Any) -> None:
    """Put the plugin's data back on a party that is being unmerged.

    **Called** inside the unit of work of ``s.identity.unmerge``, after the core moved its
    own rows back and cleared ``duplicate.merged_into``.

    :param session: The unit of work; write through ``session.db``.
    :param survivor: The party the duplicate had been merged into.
    :param duplicate: The party restored.
    :param moved: What this plugin's :func:`xrm_parties_merged` returned for that merge
        (``None`` if it returned nothing or was not installed then).

    :returns: Nothing; the return value is ignored.

    **Raising** vetoes the unmerge: nothing changes and the caller gets
    ``PluginError(plugin, "xrm_parties_unmerged")`` chained to the error.
    """


@hookspec
def xrm_event_types() -> Iterable[type[JournalEvent]]:
    """Declare the plugin's journal event types: one :class:`xrm.JournalEvent` subclass
    per type, with a dotted ``TYPE`` prefixed by the plugin (``loyalty.card_issued``), an
    ``ENTITY``, a docstring saying when it is written, and its fields, those holding
    personal data marked with :func:`xrm.personal` (see docs/events.md).

    **Called** once, when the application starts: the types go into
    ``app.registry.event_types``. ``s.record_event(type, data=...)`` then checks ``data``
    against the class, ``s.journal(event)`` writes an instance, and erasure scrubs what
    the marks call personal.

    :returns: An iterable of ``JournalEvent`` subclasses.

    **Results** are collected from every plugin, after the core's types (which the
    essential plugin ``xrm`` gives through this hook). A ``TYPE`` already registered, a
    class that is not a ``JournalEvent`` subclass, an undotted ``TYPE`` or a missing
    docstring stops the start with :class:`~xrm.ConfigurationError` naming the plugin.

    **Raising** stops the start with ``PluginError(plugin, "xrm_event_types")``.
    """


@hookspec
def xrm_segment_criteria() -> Iterable[type[Criterion]]:
    """Declare segment criteria: :class:`xrm.segments.Criterion` subclasses whose ``type``
    defaults to ``"<plugin>.<name>"`` (``"commerce.rfm"``) and whose ``where(ctx,
    party_id)`` returns the SQL condition true for the parties they select (see
    docs/segments.md). A segment saved with one stores its JSON form; ``s.segments.parse``
    reads it back.

    **Called** once, when the application starts: the classes go into
    ``app.registry.segment_criteria``.

    :returns: An iterable of ``Criterion`` subclasses.

    **Results** are collected from every plugin. A class that is not a ``Criterion``
    subclass, a ``type`` without the plugin's name as its prefix, or one already taken
    stops the start with :class:`~xrm.ConfigurationError` naming the plugin.

    **Raising** stops the start with ``PluginError(plugin, "xrm_segment_criteria")``.
    """


@hookspec
def xrm_match_rules() -> Iterable[MatchRule]:
    """Declare duplicate-detection rules: exact keys that make two parties one (a VAT
    number), fields to compare with their weights, and blocking passes over them.

    **Called** once, when the application starts, after the other registration hooks:
    the rules go into ``app.registry.match_rules``, the rule set the duplicate search uses
    when it is not given ``rules=``.

    :returns: An iterable of :class:`xrm.ExactRule` (a shared value makes the
        pair ``definite``), :class:`xrm.FuzzyRule` (a weight added to the
        pair's score) and :class:`xrm.BlockingRule` (which parties are compared
        at all). A rule may name any match field, ``attribute:NAME`` and
        ``identifier:SCHEME`` included (see docs/identity.md).

    **Results** are collected from every plugin and registered after xrm's default rules
    (which the essential plugin ``xrm`` gives through this hook). A rule named like
    another rule of the same class (a default one or another plugin's) stops the start
    with :class:`~xrm.ConfigurationError` naming both plugins.

    **Raising** stops the start with ``PluginError(plugin, "xrm_match_rules")``.
    """


@hookspec
def xrm_transports() -> Iterable[Transport]:
    """Add message transports: what carries a message of a channel out of xrm (an SMS
    gateway, a social network's API, a mail house).

    **Called** once, when the application starts.

    :returns: An iterable of :class:`xrm.Transport` objects, each with a ``name``, the
        ``channels`` it carries and a ``send(envelope)`` method that delivers one
        :class:`xrm.Envelope` to the next hop and returns the provider's id (or ``None``),
        or raises :class:`xrm.TransientFailure` (tried again later, with backoff) or
        :class:`xrm.PermanentFailure` (the message fails).

    **Results** are collected from every plugin, then the application's own
    (``XRM(transports=...)``) are added. One transport per channel: a second one for a
    channel stops the start with :class:`~xrm.ConfigurationError` naming both.

    **Raising** stops the start with ``PluginError(plugin, "xrm_transports")``.
    """
