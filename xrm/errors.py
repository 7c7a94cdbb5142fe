"""The one hierarchy of errors that xrm raises.

Every error a user can cause derives from :class:`XRMError`, so an application can catch
them all in one place and show ``str(error)``: the message names what was wrong and why,
never a database traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import attrs

__all__ = [
    "ConfigurationError",
    "Conflict",
    "ConsentRequired",
    "FieldError",
    "Forbidden",
    "NotFound",
    "PluginError",
    "SessionClosed",
    "Undeliverable",
    "ValidationError",
    "XRMError",
]


class XRMError(Exception):
    """Base of every error xrm raises on purpose."""


#: the most of a value a message quotes
QUOTE_LIMIT = 80
_QUOTED = re.compile(f"'[^']{{{QUOTE_LIMIT},}}'|\"[^\"]{{{QUOTE_LIMIT},}}\"")


def _clip_quotes(text: str) -> str:
    """``text`` with every quoted value longer than QUOTE_LIMIT cut short: a message names
    what was wrong without echoing a megabyte of input back."""
    text = str(text)
    if len(text) <= QUOTE_LIMIT:
        return text
    clipped = _QUOTED.sub(lambda m: m.group()[: QUOTE_LIMIT - 4] + "..." + m.group()[0], text)
    return clipped if len(clipped) <= 4 * QUOTE_LIMIT else clipped[: 4 * QUOTE_LIMIT - 3] + "..."


def _clip(text: str) -> str:
    text = str(text)
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 3] + "..."


@attrs.frozen
class FieldError:
    """One reason a field was refused: ``path`` is dotted (``contact_points.1.value``).
    A value the reason quotes is cut to about 80 characters."""

    path: str = attrs.field(converter=_clip)
    reason: str = attrs.field(converter=_clip_quotes)

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}" if self.path else self.reason


class ValidationError(XRMError):
    """Input refused before anything was written; ``errors`` lists each field and reason."""

    def __init__(self, errors: Iterable[FieldError] | str, *, field: str = "") -> None:
        if isinstance(errors, str):
            errors = [FieldError(field, errors)]
        self.errors: tuple[FieldError, ...] = tuple(errors)
        super().__init__("; ".join(str(e) for e in self.errors) or "invalid input")

    @classmethod
    def single(cls, path: str, reason: str) -> ValidationError:
        return cls([FieldError(path, reason)])

    def prefixed(self, prefix: str) -> ValidationError:
        """The same errors with ``prefix.`` before every path (for nested input)."""
        return ValidationError(
            FieldError(f"{prefix}.{e.path}" if e.path else prefix, e.reason) for e in self.errors
        )

    @property
    def fields(self) -> Sequence[str]:
        return [e.path for e in self.errors]


class NotFound(XRMError):
    """The entity named by ``entity`` and ``key`` does not exist."""

    def __init__(self, entity: str, key: object) -> None:
        self.entity = entity
        self.key = key
        super().__init__(f"{entity} {key!r} not found")


class Conflict(XRMError):
    """The write contradicts what is stored: a stale version, a taken identifier, a limit."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class ReadOnly(XRMError):
    """A write in a read-only unit of work (``app.session(readonly=True)``): nothing of
    the unit of work is written."""

    def __init__(self) -> None:
        super().__init__(
            "this unit of work is read-only (app.session(readonly=True)): it cannot write; "
            "open one with app.session() to change anything"
        )


class Forbidden(XRMError):
    """The authorisation policy (``XRM(policy=...)``, a plugin's ``xrm_authorize``)
    refused the call: nothing was read or written, and the refusal is in the journal
    (``access.refused``)."""

    def __init__(
        self, *, actor: str | None, action: str, operation: str, by: str | None = None
    ) -> None:
        self.actor = actor
        self.action = action
        self.operation = operation
        #: the plugin that refused, or ``None`` for the application's policy
        self.by = by
        who = repr(actor) if actor is not None else "a unit of work without an actor"
        source = f" (refused by plugin {by!r})" if by else ""
        super().__init__(f"{who} may not {action}: {operation} is refused{source}")


class SessionClosed(XRMError):
    """A unit of work (``with app.session() as s``) was used after its block ended: it
    can neither read nor write any more; open a new one."""

    def __init__(self) -> None:
        super().__init__("this unit of work has ended: open a new one with app.session()")


class ConsentRequired(XRMError):
    """An outbound contact that the consent ledger does not allow; nothing was written."""

    def __init__(self, *, party_id: int, purpose: str, channel: str, reason: str) -> None:
        self.party_id = party_id
        self.purpose = purpose
        self.channel = channel
        self.reason = reason
        super().__init__(
            f"party {party_id} may not be contacted for {purpose!r} by {channel}: {reason}"
        )


class Undeliverable(XRMError):
    """A message that cannot be sent to the party: ``code`` is ``no_channel`` (no channel
    has a template, a transport, a valid unsuppressed address and the ledger's permission:
    ``reasons`` says why per channel) or ``capped`` (the party's frequency cap for the
    purpose is reached); nothing was written."""

    def __init__(
        self, *, party_id: int, purpose: str, code: str, reasons: Mapping[str, str]
    ) -> None:
        self.party_id = party_id
        self.purpose = purpose
        self.code = code
        self.reasons = dict(reasons)
        why = "; ".join(f"{k}: {v}" for k, v in self.reasons.items())
        super().__init__(
            _clip_quotes(f"party {party_id} cannot be sent a {purpose!r} message: {why}")
        )


class ConfigurationError(XRMError):
    """The registries or plugins are inconsistent (a duplicate name, an unknown reference)."""


class PluginError(XRMError):
    """A plugin hook raised; the unit of work was rolled back. ``__cause__`` is the error."""

    def __init__(self, plugin: str, hook: str, cause: BaseException) -> None:
        self.plugin = plugin
        self.hook = hook
        super().__init__(f"plugin {plugin!r} failed in {hook}: {cause}")
