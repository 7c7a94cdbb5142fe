"""What identifies erased parties, and how texts holding it are scrubbed or redacted."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import phonenumbers

from xrm.core.events import JournalEvent, PersonalKeys, all_personal_keys, personal_keys
from xrm.errors import ValidationError

#: what replaces an erased text
ERASED = "[erased]"


# -- what identifies the erased parties ----------------------------------------------------
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")
_NAME_KEYS = frozenset({"display_name", "given_name", "family_name"})
#: below these keys, every text is the party's (``changes.display_name.from``...)
_STICKY_KEYS = _NAME_KEYS | {"birth_date", "identifiers"}
#: what an event of a type no one declared keeps back besides the declared types' marks:
#: the free texts applications and plugins write about a party
_UNDECLARED_TEXTS = frozenset({"content", "external_ref", "comment"})


def marks_by_type(event_types: Iterable[type[JournalEvent]]) -> Callable[[str], PersonalKeys]:
    """Where each event type holds personal data (its marks, :mod:`xrm.core.events`); an
    event of a type nobody declared is read with every declared mark, and free texts."""
    known = {t.TYPE: personal_keys(t) for t in event_types}
    union = all_personal_keys(t for t in event_types)
    fallback = PersonalKeys(union.whole | _UNDECLARED_TEXTS, union.facts)
    return lambda name: known.get(name, fallback)


_DROP = object()


@attrs.define
class _Traces:
    """The values that identify the erased parties, to find and remove anywhere near them."""

    texts: set[str] = attrs.field(factory=set)
    #: what may have been written as a journal actor: addresses, identifiers, full names
    actors: set[str] = attrs.field(factory=set)
    birth_dates: set[str] = attrs.field(factory=set)
    #: the match keys of every email and phone, current or past, by kind
    addresses: dict[str, set[str]] = attrs.field(factory=dict)
    _pattern: re.Pattern[str] | None = None

    def add(self, value: Any, *, actor: bool = False) -> None:
        if isinstance(value, str) and value.strip():
            self.texts.add(value.strip())
            if actor:
                self.actors.add(value.strip().lower())
            self._pattern = None

    def add_address(self, kind: str, keys: Iterable[str]) -> None:
        self.addresses.setdefault(kind, set()).update(keys)

    def add_phone(self, key: str) -> None:
        """A phone number in the forms people write it in."""
        self.add(key, actor=True)
        self.add(key.lstrip("+"))
        try:
            number = phonenumbers.parse(key)
        except phonenumbers.NumberParseException:
            return
        for fmt in (
            phonenumbers.PhoneNumberFormat.NATIONAL,
            phonenumbers.PhoneNumberFormat.INTERNATIONAL,
        ):
            written = phonenumbers.format_number(number, fmt)
            self.add(written)
            self.add(re.sub(r"[^\d+]", "", written))

    @property
    def pattern(self) -> re.Pattern[str]:
        if self._pattern is None:
            parts = []
            for text in sorted(self.texts, key=lambda t: (-len(t), t)):
                escaped = re.escape(text)
                # short values (a given name) only as whole words: "Ann" is not "Annual"
                parts.append(escaped if len(text) >= 6 else rf"(?<!\w){escaped}(?!\w)")
            self._pattern = re.compile("|".join(parts) or r"(?!x)x", re.IGNORECASE)
        return self._pattern

    def matches(self, text: str) -> bool:
        return self.pattern.search(text) is not None

    def redact(self, text: str) -> str:
        return self.pattern.sub(ERASED, text)


def _keep_facts(value: Any, traces: _Traces) -> Any:
    """What attributes keep: numbers, booleans and dates (the birth date excepted), which
    describe without naming; text is removed, since it may name or describe the person."""
    if isinstance(value, Mapping):
        kept = {}
        for k, v in value.items():
            inner = _keep_facts(v, traces)
            if inner is not _DROP and not traces.matches(str(k)):
                kept[str(k)] = inner
        return kept
    if isinstance(value, list):
        return [inner for v in value if (inner := _keep_facts(v, traces)) is not _DROP]
    if isinstance(value, str):
        is_date = _ISO_DATE.fullmatch(value) is not None
        if is_date and value[:10] not in traces.birth_dates and not traces.matches(value):
            return value
        return _DROP
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _DROP if traces.matches(str(value)) else value  # a phone kept as a number
    return value


def _scrub(value: Any, traces: _Traces, marks: PersonalKeys, *, personal: bool = False) -> Any:
    """Journal data of an erased party's event: text under a key its type marks personal,
    or holding one of the erased values, becomes ``[erased]``; attributes (and what the
    marks call facts) keep only their facts."""
    if isinstance(value, Mapping):
        result = {}
        for k, v in value.items():
            key = str(k)
            if traces.matches(key):
                continue
            if key == "attributes" or key in marks.facts:
                kept = _keep_facts(v, traces)
                result[key] = {} if kept is _DROP else kept
            else:
                result[key] = _scrub(v, traces, marks, personal=personal or key in marks.whole)
        return result
    if isinstance(value, list):
        return [_scrub(v, traces, marks, personal=personal) for v in value]
    if isinstance(value, str):
        return ERASED if personal or traces.matches(value) else value
    return value


def _redact(value: Any, traces: _Traces) -> Any:
    """Text kept for others (an interaction the party handled as an agent): only the
    erased values themselves are replaced."""
    if isinstance(value, Mapping):
        return {traces.redact(str(k)): _redact(v, traces) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, traces) for v in value]
    if isinstance(value, str):
        return traces.redact(value)
    return value


def _company_side(direction: str, role: str) -> bool:
    """Is this participation the company's (an agent, the sender of what it sends)?"""
    if role in ("agent", "author", "organizer"):
        return True
    return (direction, role) in (("outbound", "sender"), ("inbound", "recipient"))


def _check_reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError.single("reason", "say why (a request reference, not personal data)")
    cleaned = " ".join(reason.split())
    if len(cleaned) > 300:
        raise ValidationError.single("reason", "is longer than 300 characters")
    return cleaned
