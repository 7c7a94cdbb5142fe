"""What an application configures: the status workflow, the business-hours calendars, the
service-level policies, the escalation listeners and the inbound rules.

The configuration is the plugin's own, per application (keyed by its engine, as xrm-sales
keys its pipelines): :func:`configure` replaces the shipped defaults for one ``XRM``.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs
from sqlalchemy import Connection, Engine

from xrm import XRM, Party, Session
from xrm.errors import ConfigurationError
from xrm_service._calendar import DEFAULT_CALENDAR, Calendar

if TYPE_CHECKING:
    from xrm_service._cases import SlaItem

__all__ = [
    "DEFAULT_POLICIES",
    "DEFAULT_WORKFLOW",
    "PRIORITIES",
    "EscalationListener",
    "Policy",
    "ServiceConfig",
    "Workflow",
    "config_of",
    "configure",
]

PRIORITIES = ("low", "normal", "high", "urgent")


@attrs.frozen
class Workflow:
    """The statuses of a case and the moves between them.

    ``initial`` is a new case's status; in ``paused`` statuses (waiting on the customer)
    the resolution clock stops; ``resolved`` stops it for good and asks for a survey;
    ``closed`` is final unless reopened. A resolved or closed case may be moved back to
    ``reopen_to`` within ``reopen_days`` of its resolution, and only then."""

    statuses: tuple[str, ...]
    transitions: Mapping[str, tuple[str, ...]]
    initial: str = "new"
    paused: frozenset[str] = frozenset({"waiting_on_customer"})
    resolved: str = "resolved"
    closed: str = "closed"
    reopen_to: str = "open"
    reopen_days: int = 7

    def __attrs_post_init__(self) -> None:
        known = set(self.statuses)
        named = {self.initial, self.resolved, self.closed, self.reopen_to, *self.paused}
        for source, targets in self.transitions.items():
            named |= {source, *targets}
        if unknown := sorted(named - known):
            raise ConfigurationError(f"workflow: unknown statuses {', '.join(unknown)}")
        if self.reopen_days < 0:
            raise ConfigurationError("workflow reopen_days: must be 0 or more")
        if self.initial in {self.resolved, self.closed} or self.initial in self.paused:
            raise ConfigurationError("workflow initial: must be an open, running status")

    @property
    def done(self) -> frozenset[str]:
        """The statuses of a case no longer open: resolved and closed."""
        return frozenset({self.resolved, self.closed})

    def is_reopening(self, from_status: str, to_status: str) -> bool:
        return from_status in self.done and to_status not in self.done

    def allowed(self, from_status: str, to_status: str) -> bool:
        """Is the move in the workflow (reopening: see :meth:`reopen_allowed`)?"""
        if self.is_reopening(from_status, to_status):
            return to_status == self.reopen_to
        return to_status in self.transitions.get(from_status, ())

    def reopen_allowed(self, resolved_at: dt.datetime | None, at: dt.datetime) -> bool:
        return resolved_at is not None and at - resolved_at <= dt.timedelta(self.reopen_days)


DEFAULT_WORKFLOW = Workflow(
    statuses=("new", "open", "waiting_on_customer", "resolved", "closed"),
    transitions={
        "new": ("open", "waiting_on_customer", "resolved", "closed"),
        "open": ("waiting_on_customer", "resolved"),
        "waiting_on_customer": ("open", "resolved"),
        "resolved": ("closed",),
        "closed": (),
    },
)


@attrs.frozen
class Policy:
    """A service level: the first-response and resolution targets, in business minutes of
    ``calendar``, for the cases it matches. A criterion left ``None`` matches any value;
    the policy with the most criteria matched wins, the first declared on a tie."""

    name: str
    response_minutes: int
    resolution_minutes: int
    priority: str | None = None
    category: str | None = None
    tier: str | None = None
    calendar: str = "default"

    def __attrs_post_init__(self) -> None:
        if self.response_minutes <= 0 or self.resolution_minutes <= 0:
            raise ConfigurationError(f"policy {self.name!r}: targets must be positive minutes")

    def matches(self, priority: str, category: str, tier: str | None) -> int | None:
        """How specific a match (the number of criteria), or None when it does not match."""
        score = 0
        for wanted, value in ((self.priority, priority), (self.category, category)):
            if wanted is not None:
                if wanted != value:
                    return None
                score += 1
        if self.tier is not None:
            if self.tier != tier:
                return None
            score += 1
        return score


DEFAULT_POLICIES = (
    Policy("urgent", 60, 8 * 60, priority="urgent"),
    Policy("high", 4 * 60, 2 * 8 * 60, priority="high"),
    Policy("normal", 8 * 60, 5 * 8 * 60, priority="normal"),
    Policy("low", 2 * 8 * 60, 10 * 8 * 60, priority="low"),
)

#: called, in the escalating unit of work, for each case whose target falls due soon
EscalationListener = Callable[[Session, "SlaItem"], None]
#: the customer tier of a party, when the caller gives none (e.g. read from a role)
TierOf = Callable[[Session, Party], "str | None"]


@attrs.frozen
class ServiceConfig:
    workflow: Workflow = DEFAULT_WORKFLOW
    calendars: Mapping[str, Calendar] = attrs.field(factory=lambda: {"default": DEFAULT_CALENDAR})
    policies: tuple[Policy, ...] = DEFAULT_POLICIES
    categories: tuple[str, ...] | None = None
    escalate_within: dt.timedelta = dt.timedelta(hours=1)
    listeners: tuple[EscalationListener, ...] = ()
    tier_of: TierOf | None = None
    #: inbound interactions at these touchpoints (or with none) open a case
    inbound_touchpoints: frozenset[str] = frozenset({"support", "after_sales"})
    #: inbound interactions on these channels, with no touchpoint, open a case: what
    #: s.inbound records (a call opens one at a service touchpoint)
    inbound_channels: frozenset[str] = frozenset({"email", "sms", "social"})
    #: off until the application turns it on: installing the plugin does not change what
    #: recording an interaction does (threading onto a named case is always on)
    open_on_inbound: bool = False
    #: the category of a case opened from an inbound interaction
    inbound_category: str = "general"

    def calendar(self, name: str) -> Calendar:
        found = self.calendars.get(name)
        if found is None:
            raise ConfigurationError(f"unknown calendar {name!r}")
        return found

    def policy_for(self, priority: str, category: str, tier: str | None) -> Policy | None:
        best: tuple[int, Policy] | None = None
        for policy in self.policies:
            score = policy.matches(priority, category, tier)
            if score is not None and (best is None or score > best[0]):
                best = (score, policy)
        return None if best is None else best[1]


_CONFIGS: weakref.WeakKeyDictionary[Engine, ServiceConfig] = weakref.WeakKeyDictionary()
_SHIPPED = ServiceConfig()


def configure(
    app: XRM,
    *,
    workflow: Workflow | None = None,
    calendars: Iterable[Calendar] = (),
    policies: Sequence[Policy] | None = None,
    categories: Sequence[str] | None = None,
    escalate_within: dt.timedelta | None = None,
    on_breach_near: Sequence[EscalationListener] = (),
    tier_of: TierOf | None = None,
    open_on_inbound: bool | None = None,
    inbound_touchpoints: Iterable[str] | None = None,
    inbound_category: str | None = None,
) -> ServiceConfig:
    """Configure the service plugin for ``app`` (each argument given replaces that part;
    calendars are added, by name; listeners are added). Returns the configuration.
    Inconsistencies (a policy naming an unknown calendar) are a
    :class:`~xrm.ConfigurationError`."""
    current = _CONFIGS.get(app.engine, _SHIPPED)
    cals = dict(current.calendars)
    for cal in calendars:
        if not isinstance(cal, Calendar):
            raise ConfigurationError(f"{cal!r} is not an xrm_service.Calendar")
        cals[cal.name] = cal
    pols = tuple(policies) if policies is not None else current.policies
    for policy in pols:
        if not isinstance(policy, Policy):
            raise ConfigurationError(f"{policy!r} is not an xrm_service.Policy")
        if policy.calendar not in cals:
            raise ConfigurationError(
                f"policy {policy.name!r}: unknown calendar {policy.calendar!r}"
            )
    for listener in on_breach_near:
        if not callable(listener):
            raise ConfigurationError(f"on_breach_near: {listener!r} is not callable")
    if escalate_within is not None and escalate_within <= dt.timedelta():
        raise ConfigurationError("escalate_within: must be a positive duration")
    config = attrs.evolve(
        current,
        workflow=workflow or current.workflow,
        calendars=cals,
        policies=pols,
        categories=tuple(categories) if categories is not None else current.categories,
        escalate_within=escalate_within or current.escalate_within,
        listeners=(*current.listeners, *on_breach_near),
        tier_of=tier_of or current.tier_of,
        open_on_inbound=current.open_on_inbound if open_on_inbound is None else open_on_inbound,
        inbound_touchpoints=(
            frozenset(inbound_touchpoints)
            if inbound_touchpoints is not None
            else current.inbound_touchpoints
        ),
        inbound_category=inbound_category or current.inbound_category,
    )
    _CONFIGS[app.engine] = config
    return config


def config_of(session: Session) -> ServiceConfig:
    """The configuration of the session's application (the shipped one if not configured)."""
    bind = session.db.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    return _CONFIGS.get(engine, _SHIPPED)
