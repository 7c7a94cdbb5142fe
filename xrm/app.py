"""The ``XRM`` facade: a database and its registries, and the unit of work on top."""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import attrs
import click
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from xrm import db as _db
from xrm.core._args import checked_methods
from xrm.core.access import READ, WRITE, Policy
from xrm.core.consent.service import ConsentService
from xrm.core.events import JournalEvent
from xrm.core.gdpr import GdprService, Suppressions
from xrm.core.gdpr.service import CHECKPOINT_AFTER, checkpoint
from xrm.core.identity.service import IdentityService
from xrm.core.imports.service import ImportService
from xrm.core.messaging.inbound import InboundService
from xrm.core.messaging.service import DEFAULT_LEASE, MessageService
from xrm.core.messaging.templates import TemplateSet, language_tag
from xrm.core.messaging.transports import Transport
from xrm.core.models import PartyRow, utcnow
from xrm.core.normalize import DEFAULT_EMAIL_RULES, EmailRules, country_code
from xrm.core.nouns.activities import ActivityService
from xrm.core.nouns.interactions import InteractionService
from xrm.core.nouns.journal import timeline as _timeline
from xrm.core.nouns.parties import PartyService
from xrm.core.nouns.preferences import PreferenceService
from xrm.core.nouns.relationships import RelationshipService
from xrm.core.nouns.roles import RoleService
from xrm.core.records import Page, Panel, TimelineEntry
from xrm.core.registry import Registered, Registry
from xrm.core.segments.service import SegmentService
from xrm.core.uow import (
    NO_HOOKS,
    Event,
    PartyRef,
    Settings,
    UnitOfWork,
    as_utc,
    contention,
    read_only,
    ref_id,
)
from xrm.errors import ConfigurationError, Conflict, PluginError, ReadOnly, ValidationError
from xrm.plugin import PluginHost, PluginInfo

__all__ = ["XRM", "Session"]

T = TypeVar("T")


@checked_methods(
    "session",
    {
        "timeline": READ,
        "atomic": None,
        "record_event": WRITE,
        "journal": WRITE,
        "hook": None,
        "panels": READ,
    },
)
class Session:
    """One unit of work: every change made through it is committed together when the
    ``with app.session()`` block ends, or none is if an exception leaves the block.

    Each service call is atomic on its own too: when a call raises and the caller catches
    the error, what that call did is undone and the session can go on.

    The unit of work ends with its block: any use after raises
    :class:`~xrm.errors.SessionClosed`.

    The services are wired here, each given the collaborators it uses: the interaction
    service holds the consent service it must ask before any outbound contact, so that no
    way of building them records a contact without the consent decision.
    """

    def __init__(
        self,
        db: OrmSession,
        registry: Registry,
        settings: Settings,
        *,
        actor: str | None = None,
        roles: frozenset[str] = frozenset(),
        plugins: PluginHost | None = None,
    ) -> None:
        uow = UnitOfWork(
            db,
            registry,
            settings,
            actor,
            hooks=plugins.bind(self) if plugins else NO_HOOKS,
            roles=roles,
            policy=settings.policy,
            ask_plugins=plugins.implements("xrm_authorize") if plugins else False,
        )
        self._uow = uow
        self._plugins = plugins
        self.consents = ConsentService(uow)
        self.roles = RoleService(uow)
        self.relationships = RelationshipService(uow)
        self.parties = PartyService(
            uow,
            suppressions=Suppressions(uow),
            importer=lambda: self.imports,
            segments=lambda: self.segments,
        )
        self.preferences = PreferenceService(uow)
        self.imports = ImportService(uow, self.parties, self.roles, self.consents, self.preferences)
        self.interactions = InteractionService(uow, self.consents)
        self.activities = ActivityService(uow, self.interactions)
        self.messages = MessageService(uow, self.consents, self.interactions, self.preferences)
        self.identity = IdentityService(uow, self.parties, self.relationships)
        self.gdpr = GdprService(uow)
        self.segments = SegmentService(uow, self.parties, session=self)
        self.inbound = InboundService(
            uow, self.parties, self.interactions, self.consents, self.messages
        )

    @property
    def actor(self) -> str | None:
        """Who the journal says made the changes of this unit of work."""
        return self._uow.actor

    @property
    def registry(self) -> Registry:
        """The application's registry (party kinds, channels, purposes, role types...), to
        read: what the plugins and the application registered at start-up."""
        return self._uow.registry

    @property
    def actor_roles(self) -> frozenset[str]:
        """The roles the actor holds in this unit of work (``app.session(roles=...)``)."""
        return self._uow.roles

    @property
    def closed(self) -> bool:
        """Has the unit of work ended (its ``with`` block left)? It then refuses any use."""
        return self._uow.closed

    def timeline(
        self,
        party: PartyRef,
        *,
        limit: int = 50,
        after: str | None = None,
        types: Iterable[str] | None = None,
    ) -> Page[TimelineEntry]:
        """The party's whole history, newest first: the single view of a party."""
        return _timeline(self._uow, party, limit=limit, after=after, types=types)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Group several calls so that they all happen or none does, without ending the
        unit of work: an error inside undoes the group only (a savepoint)."""
        with self._uow.atomic():
            yield

    def record_event(
        self,
        type: str,
        *,
        parties: Sequence[PartyRef],
        data: Mapping[str, Any] | None = None,
        entity: str = "event",
        entity_id: int | None = None,
        occurred_at: dt.datetime | None = None,
    ) -> int:
        """Write an event of an application's or plugin's own to the journal, in this unit
        of work; it appears in the timeline of every party in ``parties``.

        ``type`` is dotted and prefixed with its owner (``employees.left``); ``data`` must be
        JSON-serialisable (dates are written as ISO text). When a plugin registered the
        type (``xrm_event_types``), ``data`` must have exactly its fields, and the event is
        written as :meth:`journal` writes it (with the class's ``ENTITY``). Returns the
        event id.
        """
        if not isinstance(type, str) or not _EVENT_TYPE.fullmatch(type):
            raise ValidationError.single("type", "a dotted lower-case name, such as 'shop.order'")
        ids = tuple(ref_id(p, "parties") for p in parties)
        when = as_utc(occurred_at, "occurred_at")
        declared = self._uow.registry.event_types.get(type)
        if declared is not None:
            try:
                typed = declared.from_data(
                    dict(data or {}), entity_id=entity_id, parties=ids, occurred_at=when
                )
            except TypeError as exc:
                raise ValidationError.single("data", f"not the fields of {type}: {exc}") from None
            return self.journal(typed)
        with self._uow.atomic():  # a value the database refuses undoes this call only
            self._uow.require_existing(ids, "parties")
            return self._uow.record(Event(type, entity, entity_id, ids, dict(data or {}), when))

    def journal(self, event: JournalEvent) -> int:
        """Write a typed event (a :class:`~xrm.JournalEvent` of a registered type) to the
        journal, in this unit of work; it appears in the timeline of each of its
        ``parties``. Returns the event id."""
        if not isinstance(event, JournalEvent):
            raise ValidationError.single("event", "must be a JournalEvent")
        if self._uow.registry.event_types.get(event.TYPE) is not type(event):
            raise ValidationError.single(
                "event", f"{event.TYPE} is not registered (xrm_event_types) as this class"
            )
        with self._uow.atomic():
            self._uow.require_existing(event.parties, "parties")
            return self._uow.record(event)

    def panels(self, party: PartyRef) -> list[Panel]:
        """The plugins' sections of the party's single view (``xrm_party_panels``), in
        the plugins' call order, each marked with its plugin."""
        shown = self.parties.get(party)
        found: list[Panel] = []
        for plugin, given in self._uow.hooks.collect("xrm_party_panels", party=shown).items():
            items = [given] if isinstance(given, Panel) else list(given)
            for item in items:
                if not isinstance(item, Panel):
                    raise PluginError(
                        plugin, "xrm_party_panels", TypeError(f"{item!r} is not an xrm.Panel")
                    )
                found.append(attrs.evolve(item, plugin=plugin))
        return found

    def hook(self, name: str, **arguments: Any) -> dict[str, Any]:
        """Call, in this unit of work, a hook a plugin declared (``xrm_hookspecs``): every
        implementation in turn, with this session and ``arguments`` (each takes those it
        names). Returns each plugin's non-``None`` answer by plugin name; the first that
        raises stops the call as ``PluginError(plugin, name)``, undoing what the hook did
        (a savepoint). The core's own hooks are called by the core, not through here."""
        if self._plugins is None or not self._plugins.declared(name):
            raise ValidationError.single("name", f"no plugin declares a hook {name!r}")
        with self._uow.atomic():
            try:
                return self._uow.hooks.collect(name, **arguments)
            except TypeError as exc:
                raise ValidationError.single("arguments", str(exc)) from None

    @property
    def db(self) -> OrmSession:
        """The SQLAlchemy session underneath, for plugins' own tables (same transaction)."""
        return self._uow.db


_EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")


@contextmanager
def _contention_as_conflict() -> Iterator[None]:
    """Beginning or committing a unit of work: contention (:func:`contention`) and a
    constraint checked at commit become :class:`Conflict`."""
    try:
        yield
    except IntegrityError:
        raise Conflict(
            "the change contradicts what another unit of work stored meanwhile"
        ) from None
    except (StaleDataError, DBAPIError) as exc:
        if read_only(exc):
            raise ReadOnly from None
        message = contention(exc)
        if message is None:
            raise
        raise Conflict(message) from None


def _roles(roles: Iterable[str]) -> frozenset[str]:
    if isinstance(roles, str | bytes) or not isinstance(roles, Iterable):
        raise ValidationError.single("roles", "a list of role names")
    names = tuple(roles)
    if not all(isinstance(r, str) and 0 < len(r) <= 100 for r in names):
        raise ValidationError.single("roles", "each role is a name of 1 to 100 characters")
    return frozenset(names)


#: the actor the outbox worker writes its events as
WORKER = "xrm worker"


def _templates(value: TemplateSet | str | os.PathLike[str] | None) -> TemplateSet | None:
    if value is None or isinstance(value, TemplateSet):
        return value
    return TemplateSet.from_directory(value)


def _language(value: str) -> str:
    try:
        return language_tag(value)
    except ValueError as exc:
        raise ConfigurationError(f"default_language: {exc}") from None


def _transports(found: Sequence[tuple[str, Transport]], registry: Registry) -> dict[str, Transport]:
    """channel -> transport; one per channel, each channel registered."""
    by_channel: dict[str, tuple[str, Transport]] = {}
    for source, transport in found:
        if not isinstance(transport, Transport):
            raise ConfigurationError(f"{source}: {transport!r} is not an xrm.Transport")
        try:
            transport.check()
        except ValueError as exc:
            raise ConfigurationError(f"{source}: {exc}") from None
        for channel in transport.channels:
            if channel not in registry.channels:
                raise ConfigurationError(
                    f"{source}: transport {transport.name!r} carries unknown channel {channel!r}"
                )
            if channel in by_channel:
                other, first = by_channel[channel]
                raise ConfigurationError(
                    f"two transports for channel {channel!r}: {first.name!r} of {other!r} "
                    f"and {transport.name!r} of {source!r}"
                )
            by_channel[channel] = (source, transport)
    return {channel: transport for channel, (_, transport) in by_channel.items()}


def _builtin_plugins() -> list[tuple[str, object]]:
    from xrm.plugins import customers

    return [("customers", customers)]


class XRM:
    """An xrm application: a database plus the registered kinds, roles and relationships.

    ``url`` defaults to ``XRM_DATABASE_URL`` then to the embedded ``sqlite:///xrm.db``.
    ``default_region`` (or ``XRM_DEFAULT_REGION``) reads phone numbers written without
    a country code. Call :meth:`upgrade` once to create or migrate the schema.

    Messaging (docs/messaging.md): ``templates`` (a :class:`~xrm.TemplateSet` or its
    folder), ``transports`` (with the plugins' ``xrm_transports``; one per channel),
    ``default_language`` for parties that stated none, and ``unsubscribe_url`` for the
    one-click unsubscribe headers of email.

    Plugins, in this order: the essential plugin ``xrm`` (the core's defaults, always
    there), xrm's built-in ones (``builtins=False`` leaves them out), the installed
    distributions registered under the ``xrm`` entry-point group (``discover=False``
    leaves them out), then ``plugins`` given here. See docs/plugins.md for the
    ``XRM_*_PLUGINS`` switches.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        plugins: Sequence[object] = (),
        discover: bool = True,
        builtins: bool = True,
        default_region: str | None = None,
        email_rules: EmailRules = DEFAULT_EMAIL_RULES,
        engine_options: dict[str, Any] | None = None,
        templates: TemplateSet | str | os.PathLike[str] | None = None,
        transports: Sequence[Transport] = (),
        default_language: str = "en",
        unsubscribe_url: str | None = None,
        policy: Policy | None = None,
    ) -> None:
        self.url = _db.resolve_url(url)
        if policy is not None and not isinstance(policy, Policy):
            raise ConfigurationError(
                f"policy: {policy!r} has no allows(request) method (see xrm.RolePolicy)"
            )
        region = default_region or os.environ.get("XRM_DEFAULT_REGION") or None
        if region is not None:
            try:
                region = country_code(region)
            except ValueError as exc:
                raise ConfigurationError(f"default_region: {exc}") from None
        # filled by the plugin host alone, the essential plugin's defaults first: one check
        self.registry = Registry()
        self.plugins = PluginHost(
            plugins,
            builtins=_builtin_plugins() if builtins else (),
            load_entry_points=discover,
        )
        self.plugins.register_into(self.registry)
        self.settings = Settings(
            default_region=region, email_rules=email_rules,
            templates=_templates(templates), default_language=_language(default_language),
            unsubscribe_url=unsubscribe_url, policy=policy,
            transports=_transports(
                [*self.plugins.transports(), *(("app", t) for t in transports)], self.registry
            ),
        )  # fmt: skip
        self._migration_locations = self.plugins.migration_locations()
        self.engine: Engine = _db.create_xrm_engine(self.url, **(engine_options or {}))
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)

    def register(self, *items: Registered, source: str = "app") -> None:
        """Register role types, relationship types, kinds, channels, touchpoints, purposes
        or identifier schemes; a name already registered raises ConfigurationError."""
        for item in items:
            self.registry.add(item, source)

    @contextmanager
    def session(
        self,
        *,
        actor: str | None = None,
        roles: Iterable[str] = (),
        readonly: bool = False,
    ) -> Iterator[Session]:
        """A unit of work: commits when the block ends, rolls back everything on error.

        ``actor`` (a user name, a job name) is written on every journal event. ``roles``
        are the roles the actor holds, for the authorisation policy (``XRM(policy=...)``,
        docs/access.md): with a policy, each service call the actor's roles do not allow
        raises :class:`~xrm.Forbidden`, and the refusal is journaled (``access.refused``)
        even when the unit of work is then rolled back.

        ``readonly=True`` for a unit of work that only reads (a duplicate search, a
        report): it reads one consistent snapshot and never takes SQLite's writer lock,
        so however long it runs no writer waits for it; any write in it raises
        :class:`~xrm.errors.ReadOnly` (on PostgreSQL the transaction is ``READ ONLY``).

        Another unit of work in the way raises :class:`~xrm.Conflict` and writes nothing:
        on SQLite, the database's writer lock (taken when the unit of work begins) not
        obtained within the timeout; on PostgreSQL, a deadlock, a lock or statement
        timeout, or a row changed since it was read. :meth:`retrying` runs a unit of work
        again when that happens. The session refuses any use once the block has ended
        (:class:`~xrm.errors.SessionClosed`).
        """
        with self._sessions() as db:
            session: Session | None = None
            try:
                with _contention_as_conflict():
                    db.begin()
                    # on SQLite, the writer lock: waited for here (BEGIN IMMEDIATE)
                    options = _db.READ_ONLY if readonly else _db.WRITER_LOCK
                    conn = db.connection(execution_options=options)
                    if readonly and conn.dialect.name == "postgresql":
                        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                session = Session(
                    db, self.registry, self.settings, actor=actor,
                    roles=_roles(roles), plugins=self.plugins,
                )  # fmt: skip
                try:
                    yield session
                except BaseException as exc:
                    db.rollback()
                    message = contention(exc)
                    if message is not None:  # met outside a service call (plugin SQL)
                        raise Conflict(message) from None
                    raise
                with _contention_as_conflict():
                    db.commit()
            finally:
                if session is not None:
                    session._uow.close()
                    if session._uow.refusals:
                        self._journal_refusals(actor, session._uow.refusals)
        if db.info.get(CHECKPOINT_AFTER):  # an erasure on SQLite: empty the write-ahead log
            checkpoint(self.engine)

    def _journal_refusals(self, actor: str | None, refusals: Sequence[JournalEvent]) -> None:
        """Write the access refusals of a unit of work that has ended, committed or rolled
        back, in a transaction of their own (the refused parties that exist only)."""
        with self._sessions() as db, _contention_as_conflict():
            db.begin()
            db.connection(execution_options=_db.WRITER_LOCK)
            uow = UnitOfWork(db, self.registry, self.settings, actor)
            named = {p for event in refusals for p in event.parties}
            known = set(db.scalars(select(PartyRow.id).where(PartyRow.id.in_(named))))
            for event in refusals:
                kept = tuple(p for p in event.parties if p in known)
                uow.record(attrs.evolve(event, parties=kept))
            db.commit()

    def retrying(
        self,
        work: Callable[[Session], T],
        *,
        attempts: int = 5,
        actor: str | None = None,
        backoff: float = 0.05,
    ) -> T:
        """Run ``work(s)`` in a unit of work of its own and commit; when another unit of
        work was in the way (:class:`~xrm.Conflict`: a stale version, a lock not obtained,
        a deadlock, a uniqueness race), everything is rolled back and ``work`` runs again
        in a new unit of work, after a short random pause (``backoff`` seconds, doubled at
        each attempt, one second at most), up to ``attempts`` runs in all. Returns what
        ``work`` returned; the last Conflict is raised when every attempt met one.

        ``work`` must read what it changes through ``s`` (a version read in an earlier
        unit of work would be stale again), and do nothing it would be wrong to do twice
        outside the database::

            def rename(s: Session) -> Party:
                party = s.parties.get(party_id)
                return s.parties.update(party, display_name="ACME SA")

            app.retrying(rename)
        """
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ValidationError.single("attempts", "must be a positive integer")
        pause = backoff
        for attempt in range(1, attempts + 1):
            try:
                with self.session(actor=actor) as s:
                    return work(s)
            except Conflict:
                if attempt == attempts:
                    raise
            time.sleep(min(pause, 1.0) * random.uniform(0.5, 1.5))  # apart from the others
            pause *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def deliver(
        self,
        *,
        limit: int = 100,
        now: dt.datetime | None = None,
        lease: dt.timedelta = DEFAULT_LEASE,
    ) -> Counter[str]:
        """One round of the outbox worker: claim up to ``limit`` due messages, then hand
        each to its transport in a unit of work of its own, after checking the ledger and
        the address as they stand (a withdrawal or a suppression since the message was
        made blocks it). Returns how many messages ended in each status (``sent``,
        ``retry``, ``failed``, ``blocked``, ``unknown``).

        Never two deliveries of one message: a claimed message is ``sending`` before its
        transport is called, and one left ``sending`` for longer than ``lease`` (its worker
        died) becomes ``unknown`` and is not handed over again. Several workers may run at
        once: on PostgreSQL each claims its own messages (``FOR UPDATE SKIP LOCKED``); on
        SQLite the writer lock takes turns."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise ValidationError.single("limit", "must be between 1 and 10000")
        when = as_utc(now, "now") if now is not None else None
        counts: Counter[str] = Counter()
        with self.session(actor=WORKER) as s:
            claimed = s.messages._claim(limit, when or utcnow(), lease)
        for message_id in claimed:
            with self.session(actor=WORKER) as s:
                counts[s.messages._deliver(message_id, when or utcnow())] += 1
        return counts

    def work(
        self, *, poll: float = 1.0, limit: int = 100, rounds: int | None = None
    ) -> Counter[str]:
        """Run :meth:`deliver` again and again (``xrm worker``), waiting ``poll`` seconds
        after a round that found nothing, ``rounds`` times (``None``: until interrupted).
        Returns the counts of every round."""
        total: Counter[str] = Counter()
        done = 0
        while rounds is None or done < rounds:
            counts = self.deliver(limit=limit)
            total.update(counts)
            done += 1
            if not counts and (rounds is None or done < rounds):
                time.sleep(poll)
        return total

    @property
    def migration_locations(self) -> list[str]:
        """The plugins' Alembic version directories, upgraded with the core's."""
        return list(self._migration_locations)

    def upgrade(self) -> None:
        """Create or migrate the schema to the latest revision of the core (and plugins)."""
        _db.upgrade(self.engine, self._migration_locations)

    def vacuum(self) -> None:
        """The database's part after erasures (docs/gdpr.md): ``VACUUM`` rewrites an
        SQLite file without its free pages (where deleted values may linger from before
        ``secure_delete``) and empties its write-ahead log; on PostgreSQL it reclaims the
        dead row versions an erasure left, so they are overwritten. Run it when no other
        unit of work is open (SQLite needs the file to itself)."""
        # outside any transaction, which VACUUM needs: the driver's own connection (the
        # engine's "begin" listener would open one on SQLite)
        raw = self.engine.raw_connection()
        try:
            driver: Any = raw.driver_connection
            if self.engine.dialect.name == "postgresql":
                driver.autocommit = True
                try:
                    driver.execute("VACUUM")
                finally:
                    driver.autocommit = False
            else:
                driver.execute("VACUUM")
                driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()

    def current_revisions(self) -> set[str]:
        """The schema revisions the database is at (empty for a new database)."""
        return set(_db.current_heads(self.engine, self._migration_locations))

    def head_revisions(self) -> set[str]:
        """The latest revisions known: the core's and each plugin's branch head."""
        return set(_db.head_revisions(self.engine, self._migration_locations))

    @staticmethod
    def add_plugin_commands(group: click.Group) -> None:
        """Let every installed plugin add its commands to ``group`` (the ``xrm`` command
        line does this at start, before any database is opened)."""
        PluginHost().cli_commands(group)

    def schema_is_current(self) -> bool:
        """True when the database is at every head revision."""
        return self.current_revisions() == self.head_revisions()

    def plugin_info(self) -> list[PluginInfo]:
        """Every plugin met at start: name, version, hooks, loaded / broken / disabled."""
        return self.plugins.info()

    def dispose(self) -> None:
        """Close the connection pool."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"XRM({self.engine.url.render_as_string(hide_password=True)!r})"
