"""Who may do what: the authorisation asked before every public service call.

Every public method of a service is classified by the **action** it takes on personal
data (:data:`ACTIONS`): ``read``, ``write``, ``consent`` (record or change a consent
decision or a suppression), ``message`` (send or preview a message), ``merge`` (merge and
unmerge parties), ``export`` (a GDPR export) or ``erase`` (a GDPR erasure). A method that
touches no personal data (``s.atomic()``, a registry look-up) is classified ``None`` and
never asked about. A public method without a classification fails when its class is
defined (``checked_methods(access=...)``), so a new method cannot skip the question.

Before such a method runs, the unit of work builds an :class:`AccessRequest` (the actor and
roles of the unit of work, the action, the operation such as ``parties.get`` and the ids
of the parties the call names) and asks, in this order:

1. the plugins' ``xrm_authorize`` hooks: any ``False`` (or a hook raising) refuses, any
   ``True`` allows;
2. the application's policy (``XRM(policy=...)``): :class:`RolePolicy`, or any object with
   an ``allows(request) -> bool`` method; without one (the default for an embedded
   library) the call is allowed.

Only the outermost call is asked: what a service calls in turn (an import creating
parties, a merge moving relationships) runs under the decision already taken.

A refusal raises :class:`~xrm.errors.Forbidden` before anything is read or written, and is
written to the journal as an ``access.refused`` event (on the timeline of each party the
call named) in a transaction of its own, so that it is kept even when the caller's unit of
work is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

import attrs

__all__ = [
    "ACTIONS",
    "DEFAULT_GRANTS",
    "AccessRequest",
    "Policy",
    "RolePolicy",
]

READ = "read"
WRITE = "write"
CONSENT = "consent"
MESSAGE = "message"
MERGE = "merge"
EXPORT = "export"
ERASE = "erase"
#: define and change segments (the campaigns plugin: campaigns and scenarios too)
TARGET = "target"

#: every action a service method may take, in the order the docs list them
ACTIONS: tuple[str, ...] = (READ, WRITE, CONSENT, MESSAGE, MERGE, EXPORT, ERASE, TARGET)

#: the built-in roles and what each may do (``RolePolicy()``)
DEFAULT_GRANTS: Mapping[str, frozenset[str]] = {
    # a front-line agent (sales, service, support): sees and updates the parties it
    # serves, records what they agree to on the phone, writes to them
    "agent": frozenset({READ, WRITE, CONSENT, MESSAGE}),
    # marketing: reads parties and audiences, defines segments, sends campaigns; changes
    # no party's record
    "marketer": frozenset({READ, MESSAGE, TARGET}),
    # a team's manager: an agent who may also merge duplicates, export a party's data and
    # define segments
    "manager": frozenset({READ, WRITE, CONSENT, MESSAGE, MERGE, EXPORT, TARGET}),
    # the data-protection officer: answers the data subject's requests
    "dpo": frozenset({READ, CONSENT, EXPORT, ERASE}),
    "admin": frozenset(ACTIONS),
}


@attrs.frozen
class AccessRequest:
    """One call to decide on: who (``actor``, ``roles``), does what (``action``), by which
    method (``operation``: ``"parties.get"``), to which parties (their ids as given; a
    call that names no party, such as a list or an import, has none)."""

    actor: str | None
    roles: frozenset[str]
    action: str
    operation: str
    parties: tuple[int, ...] = ()


@runtime_checkable
class Policy(Protocol):
    """An application's authorisation policy: ``XRM(policy=...)``."""

    def allows(self, request: AccessRequest) -> bool:
        """May ``request.actor`` holding ``request.roles`` do ``request.action``?"""


def _grants(value: Mapping[str, Iterable[str]]) -> Mapping[str, frozenset[str]]:
    grants: dict[str, frozenset[str]] = {}
    for role, actions in value.items():
        if not isinstance(role, str) or not role:
            raise ValueError(f"grants: a role is a non-empty name, got {role!r}")
        if isinstance(actions, str):
            raise ValueError(f"grants.{role}: a list of actions, got the text {actions!r}")
        unknown = sorted(set(actions) - set(ACTIONS))
        if unknown:
            raise ValueError(
                f"grants.{role}: unknown action(s) {', '.join(map(repr, unknown))}; "
                f"the actions are {', '.join(ACTIONS)}"
            )
        grants[role] = frozenset(actions)
    return grants


def _members(value: Mapping[str, Iterable[str]]) -> Mapping[str, frozenset[str]]:
    members: dict[str, frozenset[str]] = {}
    for actor, roles in value.items():
        if isinstance(roles, str):
            raise ValueError(f"members.{actor}: a list of roles, got the text {roles!r}")
        members[actor] = frozenset(roles)
    return members


@attrs.frozen
class RolePolicy:
    """Role-based access: a role is granted actions (``grants``, by default
    :data:`DEFAULT_GRANTS`: ``agent``, ``marketer``, ``manager``, ``dpo``, ``admin``);
    an actor holds the roles its unit of work was opened with
    (``app.session(actor=..., roles=[...])``) and those ``members`` lists for it. A call
    is allowed when one of the actor's roles grants its action. A unit of work without an
    actor, or with no role, may do nothing."""

    grants: Mapping[str, frozenset[str]] = attrs.field(
        factory=lambda: dict(DEFAULT_GRANTS), converter=_grants
    )
    members: Mapping[str, frozenset[str]] = attrs.field(factory=dict, converter=_members)

    def __attrs_post_init__(self) -> None:
        for actor, roles in self.members.items():
            unknown = sorted(roles - self.grants.keys())
            if unknown:
                raise ValueError(f"members.{actor}: unknown role(s) {', '.join(unknown)}")

    def roles_of(self, actor: str | None, roles: Iterable[str] = ()) -> frozenset[str]:
        """The roles ``actor`` holds: ``roles`` and its ``members`` entry."""
        return frozenset(roles) | self.members.get(actor or "", frozenset())

    def allows(self, request: AccessRequest) -> bool:
        if request.actor is None:
            return False
        return any(
            request.action in self.grants.get(role, frozenset())
            for role in self.roles_of(request.actor, request.roles)
        )
