"""Declarative types that the core and plugins register: kinds, roles, relationships...

Each is an immutable attrs value checked when it is built. A :class:`Registry` holds them
by name and refuses a second registration of a name, naming both sources. The core's own
defaults (``DEFAULT_*`` below) reach an application's registry the way every plugin's types
do: through the hooks of the essential plugin ``xrm`` (``xrm.plugins.core``).
"""

from __future__ import annotations

import enum
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
from pydantic import BaseModel

from xrm.core.events import CORE_EVENTS, JournalEvent, check_event_type
from xrm.errors import ConfigurationError

if TYPE_CHECKING:
    from xrm.core.identity.dedupe import MatchRule
    from xrm.core.segments.criteria import Criterion

__all__ = [
    "BUILTIN_SOURCE",
    "DEFAULTS",
    "DEFAULT_CHANNELS",
    "DEFAULT_CONTACT_KINDS",
    "DEFAULT_PARTY_KINDS",
    "DEFAULT_PURPOSES",
    "DEFAULT_TOUCHPOINTS",
    "Channel",
    "ContactKind",
    "IdentifierScheme",
    "LawfulBasis",
    "PartyKind",
    "Purpose",
    "Registry",
    "RelationshipType",
    "RoleType",
    "Touchpoint",
]

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_DOTTED = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")


def _check_name(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    pattern = _DOTTED if isinstance(instance, IdentifierScheme) else _NAME
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(
            f"{type(instance).__name__}.{attribute.name} must be lower_snake_case, got {value!r}"
        )


def _frozenset(values: Iterable[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(values)


def _check_schema(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not (isinstance(value, type) and issubclass(value, BaseModel)):
        raise ValueError(f"{type(instance).__name__}.schema must be a pydantic model class")


@attrs.frozen
class PartyKind:
    """A kind of party. Built in: ``person``, ``organization``, ``household``."""

    name: str = attrs.field(validator=_check_name)
    label: str = ""
    #: pydantic model that validates the party's free ``attributes`` (optional)
    schema: type[BaseModel] | None = attrs.field(default=None, validator=_check_schema)


@attrs.frozen
class ContactKind:
    """A kind of contact point. Built in: email, phone, postal, url, social.

    A plugin kind gives ``key``, the function from the raw value to its match key; it raises
    :class:`ValueError` with a reason for a value it refuses.
    """

    name: str = attrs.field(validator=_check_name)
    label: str = ""
    key: Callable[[str], str] | None = None


@attrs.frozen
class Channel:
    """A medium of contact: email, phone, sms, postal_mail, web, chat, social, ...

    ``contact_kind`` names the kind of contact point a message on this channel goes to
    (email → ``email``; phone and sms → ``phone``), so that consent can be given for one
    specific address.
    """

    name: str = attrs.field(validator=_check_name)
    label: str = ""
    contact_kind: str | None = None


@attrs.frozen
class Touchpoint:
    """Where in the company the contact happens: marketing, sales, after_sales, support..."""

    name: str = attrs.field(validator=_check_name)
    label: str = ""


#: what two different values of a ``distinct`` identifier scheme weigh in a duplicate
#: search: as much as a whole address, so two records sharing a name and an address but
#: holding two company registry numbers are for review, never linked
DISTINCT_IDENTIFIER_WEIGHT = -12.0


@attrs.frozen
class IdentifierScheme:
    """An identifier scheme with its own validator (``validate(raw) -> canonical``).

    Schemes python-stdnum knows (``fr.siren``, ``iban``, ``eu.vat``...) need no registration:
    they are checked by stdnum. Other schemes are accepted as trimmed text.
    """

    name: str = attrs.field(validator=_check_name)
    label: str = ""
    validate: Callable[[str], str] | None = None
    #: a party holds one value of this scheme, so two parties holding two different
    #: values are two parties (a company registry or VAT number, a national id): the
    #: duplicate search counts it as evidence against (the rule ``other_<scheme>``,
    #: :data:`DISTINCT_IDENTIFIER_WEIGHT`). Not for a source system's own keys, which
    #: duplicates of one party carry in different values.
    distinct: bool = False


def _tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _states(values: Iterable[str]) -> frozenset[str]:
    return frozenset(values)


def _transitions(value: Mapping[str, Iterable[str]]) -> Mapping[str, frozenset[str]]:
    return {state: frozenset(targets) for state, targets in value.items()}


@attrs.frozen
class RoleType:
    """What a party is to us (customer, supplier, ...) with a lifecycle.

    ``states`` lists every state, the first being the default initial state;
    ``transitions`` maps a state to the states it may move to; ``party_kinds`` limits who
    may hold the role (``None``: any kind); ``schema`` validates the role's attributes;
    ``defaults(party_id)`` gives attributes computed when the role is assigned (a
    customer number), which the caller's attributes override. ``final_states`` are the
    states that end the role when it reaches them (``left`` for an employee, ``lost`` for a
    lead): the role is no longer current from then on (for ``s.roles.current``,
    ``s.parties.list(role=...)``, segments and consent alike), and the party may be given
    the role again. (``ending_states``, their first name, is still accepted, with a
    DeprecationWarning.) ``internal_states`` makes the role the
    company's own: a party holding it in one of those states (an ``employee`` who is
    ``active``) is one of the company's own parties, which alone may take a company-side
    part (``sender``, ``agent``, ``organizer``, ``author``) in an outbound interaction and
    whose consent is not asked.
    """

    name: str = attrs.field(validator=_check_name)
    states: tuple[str, ...] = attrs.field(converter=_tuple)
    transitions: Mapping[str, frozenset[str]] = attrs.field(converter=_transitions)
    label: str = ""
    schema: type[BaseModel] | None = attrs.field(default=None, validator=_check_schema)
    party_kinds: frozenset[str] | None = attrs.field(default=None, converter=_frozenset)
    initial_states: frozenset[str] | None = attrs.field(default=None, converter=_frozenset)
    defaults: Callable[[int], Mapping[str, Any]] | None = None
    final_states: frozenset[str] = attrs.field(factory=frozenset, converter=_states)
    internal_states: frozenset[str] | None = attrs.field(default=None, converter=_frozenset)
    #: deprecated: the first name of ``final_states``
    ending_states: frozenset[str] = attrs.field(factory=frozenset, converter=_states)

    def __attrs_post_init__(self) -> None:
        if self.ending_states:
            warnings.warn(
                f"role type {self.name!r}: ending_states is now final_states",
                DeprecationWarning,
                stacklevel=3,
            )
            object.__setattr__(self, "final_states", self.final_states | self.ending_states)
        object.__setattr__(self, "ending_states", self.final_states)
        if not self.states:
            raise ValueError(f"role type {self.name!r} needs at least one state")
        if len(set(self.states)) != len(self.states):
            raise ValueError(f"role type {self.name!r} lists a state twice")
        known = set(self.states)
        for source, targets in self.transitions.items():
            unknown = ({source} | set(targets)) - known
            if unknown:
                raise ValueError(
                    f"role type {self.name!r}: transition names unknown state(s) {sorted(unknown)}"
                )
        if self.initial_states is not None and not self.initial_states <= known:
            raise ValueError(f"role type {self.name!r}: initial_states must be known states")
        if not self.final_states <= known:
            raise ValueError(f"role type {self.name!r}: final_states must be known states")
        if self.internal_states is not None and not (
            self.internal_states and self.internal_states <= known
        ):
            raise ValueError(
                f"role type {self.name!r}: internal_states must be known states, at least one"
            )
        for state in self.final_states:
            if self.transitions.get(state) or self.may_start_in(state):
                raise ValueError(
                    f"role type {self.name!r}: final state {state!r} must lead nowhere and "
                    "not be an initial state"
                )

    @property
    def initial(self) -> str:
        return self.states[0]

    def may_start_in(self, state: str) -> bool:
        allowed = self.initial_states if self.initial_states is not None else {self.initial}
        return state in allowed

    def allowed_from(self, state: str) -> frozenset[str]:
        return self.transitions.get(state, frozenset())


@attrs.frozen
class RelationshipType:
    """A typed link between two parties, read ``from --forward--> to``.

    ``inverse_label`` is how it reads from the other end ("employs" / "works for").
    ``symmetric`` types read the same both ways (``spouse``), and are stored once.
    ``*_kinds`` and ``*_roles`` restrict each end (a role must be held, not ended, at the
    start date). ``max_per_from`` / ``max_per_to`` cap how many relationships of this type
    may be valid at the same time at each end ("at most one current employer").
    """

    name: str = attrs.field(validator=_check_name)
    forward_label: str
    inverse_label: str
    symmetric: bool = False
    from_kinds: frozenset[str] | None = attrs.field(default=None, converter=_frozenset)
    to_kinds: frozenset[str] | None = attrs.field(default=None, converter=_frozenset)
    from_roles: frozenset[str] | None = attrs.field(default=None, converter=_frozenset)
    to_roles: frozenset[str] | None = attrs.field(default=None, converter=_frozenset)
    max_per_from: int | None = None
    max_per_to: int | None = None
    schema: type[BaseModel] | None = attrs.field(default=None, validator=_check_schema)

    def __attrs_post_init__(self) -> None:
        for cap in (self.max_per_from, self.max_per_to):
            if cap is not None and cap < 1:
                raise ValueError(f"relationship type {self.name!r}: a cap must be at least 1")
        if self.symmetric and (
            self.from_kinds != self.to_kinds or self.from_roles != self.to_roles
        ):
            raise ValueError(
                f"relationship type {self.name!r}: a symmetric type has the same rules at both ends"
            )


class LawfulBasis(enum.StrEnum):
    """Why the company may contact a party for a purpose (GDPR art. 6)."""

    CONSENT = "consent"
    LEGITIMATE_INTEREST = "legitimate_interest"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"


@attrs.frozen
class Purpose:
    """Why the company contacts a party, with its lawful basis.

    ``double_opt_in``: a grant counts only once confirmed (``confirmed_at`` set).
    ``requires_role``: for a ``contract`` or ``legal_obligation`` basis, the basis holds
    only while the party holds a role of this type (``customer`` for order notices) — at
    the time the contact is checked for, so a check "as of" last year reads last year's
    roles; ``None``: it always holds. ``requires_states``: and only while that role is in
    one of these states at that time (``("approved",)`` for a supplier; empty: any state).
    """

    name: str = attrs.field(validator=_check_name)
    basis: LawfulBasis = attrs.field(converter=LawfulBasis)
    label: str = ""
    double_opt_in: bool = False
    requires_role: str | None = None
    requires_states: tuple[str, ...] = attrs.field(default=(), converter=tuple)

    def __attrs_post_init__(self) -> None:
        if self.requires_states and self.requires_role is None:
            raise ValueError(f"purpose {self.name!r}: requires_states needs requires_role")


Registered = (
    PartyKind
    | ContactKind
    | Channel
    | Touchpoint
    | IdentifierScheme
    | RoleType
    | RelationshipType
    | Purpose
)
_T = TypeVar("_T")

#: the source of the core's own defaults: the name of the essential plugin that registers
#: them (``xrm.plugins.core``)
BUILTIN_SOURCE = "xrm"


class _Table(dict[str, _T]):
    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what
        self.sources: dict[str, str] = {}


class Registry:
    """Every registered type, by name, with the source (core or plugin) that registered it,
    and the duplicate-detection rules in registration order.

    An application's registry is filled by its plugin host, the essential plugin ``xrm``
    (the core's defaults) first, then by ``XRM.register``. Every registration goes through
    :meth:`add` or :meth:`add_match_rule`: the one place a name already taken is refused,
    naming both sources.
    """

    def __init__(self) -> None:
        self.party_kinds: _Table[PartyKind] = _Table("party kind")
        self.contact_kinds: _Table[ContactKind] = _Table("contact kind")
        self.channels: _Table[Channel] = _Table("channel")
        self.touchpoints: _Table[Touchpoint] = _Table("touchpoint")
        self.identifier_schemes: _Table[IdentifierScheme] = _Table("identifier scheme")
        self.role_types: _Table[RoleType] = _Table("role type")
        self.relationship_types: _Table[RelationshipType] = _Table("relationship type")
        self.purposes: _Table[Purpose] = _Table("purpose")
        self._tables: dict[type, _Table[Any]] = {
            PartyKind: self.party_kinds,
            ContactKind: self.contact_kinds,
            Channel: self.channels,
            Touchpoint: self.touchpoints,
            IdentifierScheme: self.identifier_schemes,
            RoleType: self.role_types,
            RelationshipType: self.relationship_types,
            Purpose: self.purposes,
        }
        #: the journal event types, by ``TYPE``: the core's and the plugins'
        self.event_types: dict[str, type[JournalEvent]] = {}
        self._event_sources: dict[str, str] = {}
        self._rules: list[MatchRule] = []
        #: the plugins' segment criteria, by ``type`` (the core's are always known)
        self.segment_criteria: dict[str, type[Criterion]] = {}
        self._criterion_sources: dict[str, str] = {}
        #: (rule class name, rule name) -> source: two rules of one class may not share a
        #: name, a fuzzy and a blocking rule may (``birth_date``)
        self._rule_sources: dict[tuple[str, str], str] = {}

    def add(self, item: Registered, source: str = BUILTIN_SOURCE) -> None:
        """Register ``item``; a name already taken raises :class:`ConfigurationError`."""
        table = self._tables.get(type(item))
        if table is None:
            raise ConfigurationError(f"{source}: cannot register {item!r}")
        if item.name in table:
            raise ConfigurationError(
                f"duplicate {table.what} name {item.name!r}: registered by "
                f"{table.sources[item.name]!r} and again by {source!r}"
            )
        table[item.name] = item
        table.sources[item.name] = source

    @property
    def match_rules(self) -> tuple[MatchRule, ...]:
        """The duplicate-detection rules, in registration order: xrm's defaults
        (:data:`~xrm.core.identity.dedupe.DEFAULT_RULES`) first, then each plugin's
        ``xrm_match_rules``, then for each identifier scheme registered ``distinct``
        the rule ``other_<scheme>`` (two values of it: evidence against), unless a rule
        of that name is registered. What the duplicate search uses unless given
        ``rules=``."""
        from xrm.core.identity.dedupe import FuzzyRule

        taken = {name for _, name in self._rule_sources}
        extra = []
        for scheme in self.identifier_schemes.values():
            name = "other_" + re.sub(r"[^a-z0-9_]", "_", scheme.name.lower())
            if scheme.distinct and name not in taken:
                extra.append(
                    FuzzyRule(name, f"identifier:{scheme.name}", "exact", 0.0,
                              DISTINCT_IDENTIFIER_WEIGHT)
                )  # fmt: skip
        return (*self._rules, *extra)

    def add_match_rule(self, rule: MatchRule, source: str = BUILTIN_SOURCE) -> None:
        """Register a duplicate-detection rule (checked to be one by the plugin host); a
        rule of the same class already registered under that name raises
        :class:`ConfigurationError` naming both sources."""
        key = (type(rule).__name__, rule.name)
        if key in self._rule_sources:
            raise ConfigurationError(
                f"duplicate {key[0]} name {rule.name!r}: registered by "
                f"{self._rule_sources[key]!r} and again by {source!r}"
            )
        self._rules.append(rule)
        self._rule_sources[key] = source

    def add_event_type(self, event_type: type[JournalEvent], source: str = BUILTIN_SOURCE) -> None:
        """Register a journal event type (a :class:`~xrm.JournalEvent` subclass with a
        dotted ``TYPE`` and a docstring); a ``TYPE`` already registered raises
        :class:`ConfigurationError` naming both sources."""
        checked = check_event_type(event_type, source)
        if checked.TYPE in self._event_sources:
            raise ConfigurationError(
                f"duplicate event type {checked.TYPE!r}: registered by "
                f"{self._event_sources[checked.TYPE]!r} and again by {source!r}"
            )
        self.event_types[checked.TYPE] = checked
        self._event_sources[checked.TYPE] = source

    def add_segment_criterion(
        self, criterion: type[Criterion], source: str = BUILTIN_SOURCE
    ) -> None:
        """Register a plugin's segment criterion: a :class:`xrm.segments.Criterion`
        subclass whose ``type`` is ``"<plugin>.<name>"``. A ``type`` taken (by the core or
        another plugin) raises :class:`ConfigurationError` naming both sources."""
        from xrm.core.segments.criteria import BUILTIN_CRITERIA, Criterion

        if not (isinstance(criterion, type) and issubclass(criterion, Criterion)):
            raise ConfigurationError(f"{source}: {criterion!r} is not a segment Criterion class")
        field = criterion.model_fields.get("type")
        kind = field.default if field is not None else None
        if not isinstance(kind, str) or not kind.startswith(f"{source}."):
            raise ConfigurationError(
                f"{source}: segment criterion {criterion.__name__} must default its type to "
                f"'{source}.<name>', not {kind!r}"
            )
        if kind in BUILTIN_CRITERIA or kind in self._criterion_sources:
            raise ConfigurationError(
                f"duplicate segment criterion {kind!r}: registered by "
                f"{self._criterion_sources.get(kind, BUILTIN_SOURCE)!r} and again by {source!r}"
            )
        self.segment_criteria[kind] = criterion
        self._criterion_sources[kind] = source

    def source_of(self, item: Registered | MatchRule) -> str:
        """The name of the plugin (or ``app``, ``xrm``...) that registered ``item``."""
        table = self._tables.get(type(item))
        if table is not None:
            return table.sources[item.name]
        return self._rule_sources[(type(item).__name__, item.name)]

    def holds(self, item: Registered | MatchRule | type[JournalEvent], source: str) -> bool:
        """Whether ``source`` registered ``item`` (or an equal one) here."""
        if isinstance(item, type):
            known = self.event_types.get(item.TYPE)
            return known is item and self._event_sources[item.TYPE] == source
        table = self._tables.get(type(item))
        if table is not None:
            return table.get(item.name) == item and table.sources[item.name] == source
        key = (type(item).__name__, item.name)
        return self._rule_sources.get(key) == source and item in self._rules

    @classmethod
    def with_builtins(cls) -> Registry:
        """A registry holding what the essential plugin ``xrm`` registers (the defaults
        below and the default match rules), under its name, without a plugin host.

        An application does not need it: its plugin host registers the essential plugin
        first. Registering a host into it leaves these in place (see
        :meth:`xrm.plugin.PluginHost.register_into`).
        """
        from xrm.core.identity.dedupe import DEFAULT_RULES  # dedupe imports this module

        registry = cls()
        for item in DEFAULTS:
            registry.add(item, BUILTIN_SOURCE)
        for rule in DEFAULT_RULES:
            registry.add_match_rule(rule, BUILTIN_SOURCE)
        for event_type in CORE_EVENTS:
            registry.add_event_type(event_type, BUILTIN_SOURCE)
        return registry


# -- the core's defaults: registered by the essential plugin xrm.plugins.core ------------
DEFAULT_PARTY_KINDS: tuple[PartyKind, ...] = (
    PartyKind("person", "Person"),
    PartyKind("organization", "Organization"),
    PartyKind("household", "Household"),
)
#: the kinds of contact point the core normalises by itself (no ``key`` needed)
DEFAULT_CONTACT_KINDS: tuple[ContactKind, ...] = (
    ContactKind("email", "Email address"),
    ContactKind("phone", "Phone number"),
    ContactKind("postal", "Postal address"),
    ContactKind("url", "Web address"),
    ContactKind("social", "Social network handle"),
)
DEFAULT_CHANNELS: tuple[Channel, ...] = (
    Channel("email", "Email", contact_kind="email"),
    Channel("phone", "Phone call", contact_kind="phone"),
    Channel("sms", "SMS", contact_kind="phone"),
    Channel("postal_mail", "Postal mail", contact_kind="postal"),
    Channel("web", "Web"),
    Channel("chat", "Chat"),
    Channel("social", "Social network", contact_kind="social"),
    Channel("face_to_face", "Face to face"),
    Channel("fax", "Fax", contact_kind="phone"),
)
DEFAULT_TOUCHPOINTS: tuple[Touchpoint, ...] = (
    Touchpoint("marketing", "Marketing"),
    Touchpoint("sales", "Sales"),
    Touchpoint("after_sales", "After-sales"),
    Touchpoint("support", "Technical support"),
)
DEFAULT_PURPOSES: tuple[Purpose, ...] = (
    Purpose("marketing", LawfulBasis.CONSENT, "Marketing communications"),
    Purpose("service", LawfulBasis.CONTRACT, "Order, billing, delivery and repair notices"),
    Purpose("surveys", LawfulBasis.LEGITIMATE_INTEREST, "Satisfaction surveys"),
    Purpose("legal", LawfulBasis.LEGAL_OBLIGATION, "Legal and regulatory notices"),
)
#: every default above, in registration order (no identifier scheme: the schemes
#: python-stdnum knows need no registration)
DEFAULTS: tuple[Registered, ...] = (
    *DEFAULT_PARTY_KINDS,
    *DEFAULT_CONTACT_KINDS,
    *DEFAULT_CHANNELS,
    *DEFAULT_TOUCHPOINTS,
    *DEFAULT_PURPOSES,
)
