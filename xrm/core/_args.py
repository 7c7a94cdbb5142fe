"""Checking the arguments of every public service method, from its annotations.

``@checked_methods`` on a service class wraps each public method it defines: before the
method runs, each argument the caller gave is checked against what its annotation says
(``str``, ``int | None``, ``PartyRef``, ``Mapping[str, Any]``, ``dt.datetime | None``...),
and a wrong one raises :class:`~xrm.errors.ValidationError` naming the parameter. What is
checked is what no method should have to think about: the type, ids in the signed 64-bit
range every table uses, text without NUL or lone surrogates and of a bounded length,
mappings nested at most :data:`MAX_DEPTH` deep with at most :data:`MAX_NODES` values,
finite numbers, datetimes that can be converted to UTC. The method then checks what its
values mean (a known purpose, a valid email...).

An annotation this module does not know fails at import time, so a new public method
cannot skip its checks. Private to ``xrm.core``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import functools
import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import pydantic

from xrm.errors import ValidationError

#: the longest text any argument may be (a message body may be longer: see _LONG_TEXT)
MAX_TEXT = 10_000
#: parameters whose text may be as long as an email body
_LONG_TEXT = {"content": 1_000_000}
#: how deep a mapping or list argument may nest, and how many values it may hold in all
MAX_DEPTH = 32
MAX_NODES = 10_000
#: how many items a list of names, kinds or parties may hold
MAX_ITEMS = 1_000

_INT64 = range(-(2**63), 2**63)
#: the years a datetime argument may fall in: a margin from Python's limits, so that
#: converting to UTC and adding a day or a year cannot overflow
_YEARS = (1000, 9998)

Check = Callable[[Any, str], None]
F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)


def _fail(field: str, reason: str) -> ValidationError:
    return ValidationError.single(field, reason)


def _kind(value: Any) -> str:
    return type(value).__name__


def check_text(value: Any, field: str, limit: int = MAX_TEXT) -> None:
    """Text: a ``str`` (not bytes, not a number) of at most ``limit`` characters, with
    no NUL and no lone surrogate (neither can be stored as UTF-8)."""
    if not isinstance(value, str):
        raise _fail(field, f"expected text, got {_kind(value)}")
    if len(value) > limit:
        raise _fail(field, f"is {len(value):,} characters long (at most {limit:,})")
    if "\x00" in value:
        raise _fail(field, "contains a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _fail(field, "contains a lone surrogate (not valid Unicode text)") from None


def check_int(value: Any, field: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _fail(field, f"expected a whole number, got {_kind(value)}")
    if value not in _INT64:
        raise _fail(field, "is out of the 64-bit range")


def check_bool(value: Any, field: str) -> None:
    if not isinstance(value, bool):
        raise _fail(field, f"expected True or False, got {_kind(value)}")


def check_number(value: Any, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(field, f"expected a number, got {_kind(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(field, "must be a finite number")
    if isinstance(value, int) and value not in _INT64:
        raise _fail(field, "is out of the 64-bit range")


def check_ref(value: Any, field: str) -> None:
    """An id, or a record with an ``id`` (a party, role, contact point...)."""
    ident = value if isinstance(value, int) else getattr(value, "id", None)
    if isinstance(ident, bool) or not isinstance(ident, int):
        raise _fail(field, f"expected an id or a record with an id, got {_kind(value)}")
    if ident not in _INT64:
        raise _fail(field, "is not an id (out of the 64-bit range)")


def check_datetime(value: Any, field: str) -> None:
    """A date or datetime that converts to UTC (a naive one is taken as UTC)."""
    if not isinstance(value, dt.date):
        raise _fail(field, f"expected a date or datetime, got {_kind(value)}")
    if not _YEARS[0] <= value.year <= _YEARS[1]:
        raise _fail(field, f"is outside the years {_YEARS[0]} to {_YEARS[1]}")


def check_date(value: Any, field: str) -> None:
    if not isinstance(value, dt.date):
        raise _fail(field, f"expected a date, got {_kind(value)}")


def check_data(value: Any, field: str) -> None:
    """JSON-like data: text, numbers, booleans, None, dates, and lists and mappings (with
    text keys) of them, nested at most MAX_DEPTH deep and MAX_NODES values in all."""
    nodes = 0
    stack: list[tuple[Any, str, int]] = [(value, field, 0)]
    while stack:
        item, path, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise _fail(field, f"holds more than {MAX_NODES:,} values")
        if depth > MAX_DEPTH:
            raise _fail(field, f"is nested more than {MAX_DEPTH} levels deep")
        if item is None or isinstance(item, bool | dt.date | dt.time | enum.Enum):
            continue
        if isinstance(item, str):
            check_text(item, path, _LONG_TEXT.get(field, MAX_TEXT * 10))
        elif isinstance(item, int | float | decimal.Decimal):
            if isinstance(item, int) and item.bit_length() > 1024:
                raise _fail(path, "is too large a number")
            if isinstance(item, float | decimal.Decimal) and not math.isfinite(item):
                raise _fail(path, "must be a finite number")
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise _fail(path, f"keys must be text, got {_kind(key)}")
                check_text(key, path, 200)
                stack.append((child, f"{path}.{key}", depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{path}.{i}", depth + 1) for i, child in enumerate(item))
        elif isinstance(item, pydantic.BaseModel):
            stack.append((item.model_dump(), path, depth))
        else:
            raise _fail(path, f"{_kind(item)} is not text, a number, a date, a list or a mapping")


def check_mapping(value: Any, field: str) -> None:
    if not isinstance(value, Mapping):
        raise _fail(field, f"expected a mapping, got {_kind(value)}")
    check_data(value, field)


def check_model_or_mapping(value: Any, field: str) -> None:
    """A pydantic input model (``Email(...)``, ``ImportedParty(...)``) or a mapping."""
    if isinstance(value, pydantic.BaseModel):
        return
    check_mapping(value, field)


def check_segment_target(value: Any, field: str) -> None:
    """A saved segment's name, a criterion (a pydantic model) or a criterion's JSON form."""
    if isinstance(value, str):
        check_text(value, field)
    else:
        check_model_or_mapping(value, field)


def _items(value: Any, field: str) -> list[Any]:
    """A bounded list or tuple (not text, not a mapping, not a one-shot iterator)."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, list | tuple):
        raise _fail(field, f"expected a list, got {_kind(value)}")
    if len(value) > MAX_ITEMS:
        raise _fail(field, f"holds {len(value):,} items (at most {MAX_ITEMS:,})")
    return list(value)


def _iterable_of(check: Check) -> Check:
    def check_all(value: Any, field: str) -> None:
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
            raise _fail(field, f"expected a list, got {_kind(value)}")
        if isinstance(value, list | tuple | set | frozenset):
            if len(value) > MAX_ITEMS:
                raise _fail(field, f"holds {len(value):,} items (at most {MAX_ITEMS:,})")
            for i, item in enumerate(value):
                check(item, f"{field}.{i}")

    return check_all


def _sequence_of(check: Check) -> Check:
    def check_all(value: Any, field: str) -> None:
        for i, item in enumerate(_items(value, field)):
            check(item, f"{field}.{i}")

    return check_all


def check_stream(value: Any, field: str) -> None:
    """Records to import: any iterable but text or a mapping (each record is checked as
    it is read)."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise _fail(field, f"expected an iterable of records, got {_kind(value)}")


def check_pair(value: Any, field: str) -> None:
    """``(scheme, value)``."""
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise _fail(field, "expected a (scheme, value) pair")
    check_text(value[0], f"{field}.0", 100)
    check_text(value[1], f"{field}.1", 200)


def check_record_ref(value: Any, field: str) -> None:
    """``(record type, id)``: ``("sales.opportunity", 42)``."""
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise _fail(field, "expected a (record type, id) pair, such as ('sales.opportunity', 42)")
    check_text(value[0], f"{field}.0", 60)
    check_int(value[1], f"{field}.1")


def check_ref_or_text(value: Any, field: str) -> None:
    """A party (an id or a record with one) or a name given as text."""
    if isinstance(value, str):
        check_text(value, field, 200)
    else:
        check_ref(value, field)


def check_identifiers(value: Any, field: str) -> None:
    if isinstance(value, Mapping):
        for i, (scheme, ident) in enumerate(value.items()):
            check_pair((scheme, ident), f"{field}.{i}")
        return
    for i, pair in enumerate(_items(value, field)):
        check_pair(pair, f"{field}.{i}")


def check_participant(value: Any, field: str) -> None:
    if isinstance(value, pydantic.BaseModel):
        return
    if isinstance(value, Mapping):
        check_data(value, field)
        return
    if not isinstance(value, tuple | list) or len(value) not in (2, 3):
        raise _fail(field, "expected (party, role), (party, role, contact point) or a mapping")
    check_ref(value[0], f"{field}.0")
    check_text(value[1], f"{field}.1", 100)
    if len(value) == 3 and value[2] is not None:
        check_contact_point(value[2], f"{field}.2")


def check_contact_point(value: Any, field: str) -> None:
    """A contact point named by id, record, written value, input model or mapping."""
    if isinstance(value, str):
        check_text(value, field, 1_000)
    elif isinstance(value, Mapping | pydantic.BaseModel):
        check_model_or_mapping(value, field)
    else:
        check_ref(value, field)


def check_writable(value: Any, field: str) -> None:
    if not callable(getattr(value, "write", None)):
        raise _fail(field, f"expected a text file (with write), got {_kind(value)}")


def _instance_of(name: str, kind: type | tuple[type, ...]) -> Check:
    def check(value: Any, field: str) -> None:
        if not isinstance(value, kind):
            raise _fail(field, f"expected a {name}, got {_kind(value)}")

    return check


def _optional(check: Check) -> Check:
    def check_optional(value: Any, field: str) -> None:
        if value is not None:
            check(value, field)

    return check_optional


def _one_of_or_mapping(check: Check) -> Check:
    def check_either(value: Any, field: str) -> None:
        if isinstance(value, Mapping):
            check_data(value, field)
            for key, side in value.items():
                check(side, f"{field}.{key}")
        else:
            check(value, field)

    return check_either


def _checkers() -> dict[str, Check]:
    # imported here: these modules import this one
    from xrm.core.events import JournalEvent
    from xrm.core.identity.dedupe import BlockingRule, ExactRule, FuzzyRule
    from xrm.core.registry import RelationshipType, RoleType

    text = check_text
    known: dict[str, Check] = {
        "str": text,
        "int": check_int,
        "bool": check_bool,
        "float": check_number,
        "PartyRef": check_ref,
        "RoleRef": check_ref,
        "int | ContactPoint": check_ref,
        "int | ConsentRecord": check_ref,
        "int | Interaction": check_ref,
        "int | Activity": check_ref,
        "PartyRef | str": check_ref_or_text,
        "int | Relationship": check_ref,
        "Any": check_contact_point,
        "Direction": text,
        "Side | Mapping[str, Side]": _one_of_or_mapping(text),
        "Mapping[str, Any]": check_mapping,
        "AnyContactPoint | Mapping[str, Any]": check_model_or_mapping,
        "ImportedParty | Mapping[str, Any]": check_model_or_mapping,
        "Criterion | Mapping[str, Any]": check_model_or_mapping,
        "Target": check_segment_target,
        "Iterable[ImportedParty | Mapping[str, Any]]": check_stream,
        "Iterable[str]": _iterable_of(text),
        # parties to message in bulk: any iterable, each id checked as it is read
        "Iterable[PartyRef]": check_stream,
        "Iterable[MatchRule]": _iterable_of(
            _instance_of("MatchRule", (ExactRule, FuzzyRule, BlockingRule))
        ),
        "Sequence[AnyContactPoint | Mapping[str, Any]]": _sequence_of(check_model_or_mapping),
        "Sequence[ParticipantLike | Mapping[str, Any]]": _sequence_of(check_participant),
        "Sequence[PartyRef]": _sequence_of(check_ref),
        "Mapping[str, str] | Sequence[tuple[str, str]]": check_identifiers,
        "tuple[str, str]": check_pair,
        "tuple[str, int]": check_record_ref,
        "dt.datetime": check_datetime,
        "dt.datetime | dt.date": check_datetime,
        "dt.date | dt.datetime": check_datetime,
        "dt.date": check_date,
        "JournalEvent": _instance_of("JournalEvent", JournalEvent),
        "RoleType": _instance_of("RoleType", RoleType),
        "RelationshipType": _instance_of("RelationshipType", RelationshipType),
        "TextIO": check_writable,
    }
    return known


@functools.cache
def _known() -> dict[str, Check]:
    return _checkers()


def _checker_for(annotation: Any, name: str, where: str) -> Check:
    if annotation is inspect.Parameter.empty:
        raise TypeError(f"{where}: parameter {name} has no annotation to check it by")
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    optional = text.endswith(" | None")
    base = text.removesuffix(" | None")
    check = _known().get(base)
    if check is None:
        raise TypeError(f"{where}: no argument check for {name}: {text}")
    if base == "str" and name in _LONG_TEXT:
        limit = _LONG_TEXT[name]
        check = functools.partial(check_text, limit=limit)
    return _optional(check) if optional or base == "Any" else check


class _Plan:
    """What to check of each argument of one method, worked out at its first call (the
    annotations name classes of modules that import this one)."""

    __slots__ = ("by_name", "party_positions", "positional", "rest", "rest_name")

    def __init__(self, fn: Callable[..., Any]) -> None:
        where = fn.__qualname__
        self.positional: list[tuple[str, Check]] = []
        self.by_name: dict[str, Check] = {}
        self.rest: Check | None = None
        self.rest_name = ""
        #: (position or -1 when keyword-only, name) of each parameter naming a party
        self.party_positions: list[tuple[int, str]] = []
        for p in list(inspect.signature(fn).parameters.values())[1:]:  # not self
            if p.name in PARTY_PARAMETERS:
                keyword_only = p.kind is p.KEYWORD_ONLY
                self.party_positions.append((-1 if keyword_only else len(self.positional), p.name))
            if p.kind is p.VAR_KEYWORD:
                continue  # the method names and checks each key itself
            check = _checker_for(p.annotation, p.name, where)
            if p.kind is p.VAR_POSITIONAL:
                self.rest, self.rest_name = check, p.name
            elif p.kind is p.POSITIONAL_OR_KEYWORD:
                self.positional.append((p.name, check))
                self.by_name[p.name] = check
            else:
                self.by_name[p.name] = check

    def parties(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[int, ...]:
        """The ids of the parties a call names (its ``party``, ``survivor``... arguments)."""
        found: list[int] = []
        for position, name in self.party_positions:
            value = args[position] if 0 <= position < len(args) else kwargs.get(name)
            ident = _party_id(value)
            if ident is not None:
                found.append(ident)
        return tuple(dict.fromkeys(found))

    def check(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        for (name, check), value in zip(self.positional, args, strict=False):
            check(value, name)
        if self.rest is not None:
            for i, value in enumerate(args[len(self.positional) :]):
                self.rest(value, f"{self.rest_name}.{i}")
        for name, value in kwargs.items():
            named = self.by_name.get(name)
            if named is not None:
                named(value, name)


#: the parameters that name a party, read into an access request's ``parties``
PARTY_PARAMETERS = frozenset({"party", "from_party", "to_party", "survivor", "duplicate"})


def _party_id(value: Any) -> int | None:
    ident = value if isinstance(value, int) else getattr(value, "id", None)
    return ident if isinstance(ident, int) and not isinstance(ident, bool) else None


def checked(fn: F, operation: str | None = None, action: str | None = None) -> F:
    """Wrap ``fn`` (a method) so that each argument a caller gives is checked first and,
    when it has an ``action``, the unit of work asks whether the call is allowed
    (:mod:`xrm.core.access`) before it runs."""
    plans: list[_Plan] = []

    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not plans:
            plans.append(_Plan(fn))
        plan = plans[0]
        plan.check(args, kwargs)
        if action is None:
            return fn(self, *args, **kwargs)
        unit = _unit(self)
        if not unit.guarded:  # no policy, no plugin asked: the embedded default
            return fn(self, *args, **kwargs)
        with unit.authorized(operation or fn.__qualname__, action, plan.parties(args, kwargs)):
            return fn(self, *args, **kwargs)

    wrapper.__xrm_checked__ = fn  # type: ignore[attr-defined]
    wrapper.__xrm_action__ = action  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _unit(service: Any) -> Any:
    """The unit of work a service holds (``_ctx``, ``_uow`` or ``uow``)."""
    held = vars(service)
    found = held.get("_ctx") or held.get("_uow") or held.get("uow")
    if found is None:  # pragma: no cover - a service built without one is a bug here
        raise TypeError(f"{type(service).__name__} holds no unit of work")
    return found


def plan_of(method: Callable[..., Any]) -> None:
    """Work out a checked method's plan now (tests call it on every public method, so an
    annotation without a check fails there rather than at a user's first call)."""
    _Plan(method.__xrm_checked__)  # type: ignore[attr-defined]


def checked_methods(area: str, access: Mapping[str, str | None]) -> Callable[[C], C]:
    """Apply :func:`checked` to every public method the class defines, each with its
    action from ``access`` (``None``: it touches no personal data) and the operation
    ``<area>.<method>``. A public method missing from ``access``, or an ``access`` entry
    naming no method, fails here, when the class is defined."""

    def decorate(cls: C) -> C:
        public = {
            name: value
            for name, value in vars(cls).items()
            if not name.startswith("_") and inspect.isfunction(value)
        }
        missing = sorted(public.keys() - access.keys())
        extra = sorted(access.keys() - public.keys())
        if missing or extra:
            raise TypeError(
                f"{cls.__qualname__}: access lists no action for {missing} "
                f"and names no such method {extra}"
            )
        for name, value in public.items():
            setattr(cls, name, checked(value, f"{area}.{name}", access[name]))
        return cls

    return decorate
