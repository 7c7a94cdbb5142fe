"""Segment criteria: declarative conditions on a party, each compiled to one SQL condition.

A criterion is a pydantic model with a ``type`` discriminator, stored as JSON
(``criterion.model_dump(mode="json")``) and read back by ``s.segments.parse``. Its
:meth:`Criterion.where` returns a SQLAlchemy condition true for the parties it selects,
correlated on a party id column, so that a whole segment — however deep its ``All``,
``Any`` and ``Not`` — is one ``SELECT party.id FROM party WHERE ...``.

Plugins add criteria by subclassing :class:`Criterion` (``type`` named
``"<plugin>.<name>"``) and returning the classes from the ``xrm_segment_criteria`` hook.
"""

from __future__ import annotations

import builtins
import datetime as dt
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar, Literal, Union

import attrs
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, model_validator
from sqlalchemy import (
    ColumnElement,
    Numeric,
    String,
    and_,
    distinct,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    union,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute, aliased
from sqlalchemy.sql.functions import FunctionElement

from xrm.core.consent.audience import audience_query
from xrm.core.models import (
    InteractionRow,
    ParticipantRow,
    PartyRow,
    PartyTagRow,
    PreferenceRow,
    PurposePreferenceRow,
    RelationshipRow,
    RoleRow,
)
from xrm.core.predicates import live_party, relationship_valid, role_current, role_held
from xrm.errors import ValidationError

if TYPE_CHECKING:
    from xrm.core.registry import Registry

__all__ = [
    "BUILTIN_CRITERIA",
    "All",
    "Any",
    "Attribute",
    "Contactable",
    "Context",
    "Criterion",
    "HasRole",
    "InSegment",
    "Interacted",
    "Kind",
    "Not",
    "PartyId",
    "Prefers",
    "Related",
    "SavedSegment",
    "Tagged",
    "criterion_fields",
]

_Any = typing.Any
#: what :meth:`Criterion.where` gets: the column (or an alias's) holding the party's id
PartyId = ColumnElement[int] | QueryableAttribute[int]


@attrs.frozen(kw_only=True)
class SavedSegment:
    """What :class:`InSegment` needs of a saved segment: its id, its criterion (``None``
    for a frozen one, read from its member list) and whether it is frozen."""

    id: int
    name: str
    criterion: Criterion | None
    frozen: bool


@attrs.frozen(kw_only=True)
class Context:
    """What a criterion compiles against.

    ``now``: the instant the segment is evaluated at (aware, UTC) — "within 30 days" counts
    back from it, roles are current at it unless a criterion names its own ``as_of``.
    ``registry``: the application's registry (role types, purposes, channels...).
    ``session``: the xrm session the query runs in. ``party``: the party table (or an
    alias of it) whose ``id`` is the ``party_id`` given to :meth:`Criterion.where`, for
    criteria on the party's own columns. ``path``: where in the definition the criterion
    sits (``of.1.other``), for error messages: raise with :meth:`invalid`.
    """

    now: dt.datetime
    registry: Registry
    #: the :class:`xrm.Session` the segment is read in (typed loosely: the core knows
    #: nothing of the app)
    session: _Any = None
    party: _Any = PartyRow
    path: str = ""
    saved: Callable[[str], SavedSegment] | None = None
    seen: tuple[str, ...] = ()
    #: whether the segment is read at a past (or future) instant rather than now: roles
    #: are then read in the state their history says they were in at ``now``
    historical: bool = False
    #: pieces one compilation shares (the consent audiences, as CTEs), by key
    memo: dict[_Any, _Any] = attrs.field(factory=dict)

    def within(self, field: str, **changes: _Any) -> Context:
        """The context for a criterion nested under ``field``."""
        return attrs.evolve(self, path=_join(self.path, field), **changes)

    def invalid(self, field: str, reason: str) -> ValidationError:
        """A :class:`~xrm.ValidationError` naming ``field`` of the criterion being compiled."""
        return ValidationError.single(_join(self.path, field), reason)


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path and field else (path or field)


class Criterion(BaseModel):
    """A condition a party meets or not. Subclasses declare ``type`` as a ``Literal`` and
    implement :meth:`where`. Criteria combine with ``&`` (:class:`All`), ``|``
    (:class:`Any`) and ``~`` (:class:`Not`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str

    #: shown by ``xrm segment criteria`` and the docs
    summary: ClassVar[str] = ""

    @model_validator(mode="after")
    def _concrete(self) -> Criterion:
        if type(self) is Criterion:
            raise ValueError("Criterion is abstract: use a criterion class or s.segments.parse")
        return self

    def where(self, ctx: Context, party_id: PartyId) -> ColumnElement[bool]:
        """The SQL condition, true for the parties (``party_id``) this criterion selects."""
        raise NotImplementedError(f"{type(self).__name__}.where")

    def __and__(self, other: Criterion) -> All:
        return All(of=[*_flat(self, All), *_flat(other, All)])

    def __or__(self, other: Criterion) -> Any:
        return Any(of=[*_flat(self, Any), *_flat(other, Any)])

    def __invert__(self) -> Criterion:
        return self.of if isinstance(self, Not) else Not(of=self)


def _flat(c: Criterion, kind: type[All] | type[Any]) -> list[Criterion]:
    return list(c.of) if isinstance(c, kind) else [c]


# -- combinations --------------------------------------------------------------------------
class All(Criterion):
    """Every criterion of ``of`` holds (none given: every party)."""

    type: Literal["all"] = "all"
    of: list[SerializeAsAny[Criterion]] = Field(default_factory=list)
    summary: ClassVar[str] = "every criterion holds"

    def where(self, ctx: Context, party_id: PartyId) -> ColumnElement[bool]:
        parts = [c.where(ctx.within(f"of.{i}"), party_id) for i, c in enumerate(self.of)]
        return and_(true(), *parts)


class Any(Criterion):
    """At least one criterion of ``of`` holds (none given: no party)."""

    type: Literal["any"] = "any"
    of: list[SerializeAsAny[Criterion]] = Field(default_factory=list)
    summary: ClassVar[str] = "at least one criterion holds"

    def where(self, ctx: Context, party_id: PartyId) -> ColumnElement[bool]:
        parts = [c.where(ctx.within(f"of.{i}"), party_id) for i, c in enumerate(self.of)]
        return or_(false(), *parts)


class Not(Criterion):
    """The criterion ``of`` does not hold."""

    type: Literal["not"] = "not"
    of: SerializeAsAny[Criterion]
    summary: ClassVar[str] = "the criterion does not hold"

    def where(self, ctx: Context, party_id: PartyId) -> ColumnElement[bool]:
        return not_(self.of.where(ctx.within("of"), party_id))


class InSegment(Criterion):
    """The party is a member of the saved segment ``name``: its criterion for a dynamic
    segment (evaluated now), its member list for a frozen one."""

    type: Literal["segment"] = "segment"
    name: str = Field(min_length=1, max_length=100)
    summary: ClassVar[str] = "member of a saved segment"

    def where(self, ctx: Context, party_id: PartyId) -> ColumnElement[bool]:
        from xrm.core.models import SegmentMemberRow

        if ctx.saved is None:
            raise ctx.invalid("name", "saved segments cannot be read here")
        if self.name in ctx.seen:
            cycle = " -> ".join([*ctx.seen, self.name])
            raise ctx.invalid("name", f"segment refers to itself: {cycle}")
        saved = ctx.saved(self.name)
        if saved.frozen or saved.criterion is None:
            m = SegmentMemberRow
            return exists().where(m.segment_id == saved.id, m.party_id == party_id)
        inner = ctx.within("name", seen=(*ctx.seen, self.name))
        return saved.criterion.where(inner, party_id)


# -- the party itself ----------------------------------------------------------------------
class Kind(Criterion):
    """The party is of ``kind`` (``person``, ``organization``...)."""

    type: Literal["kind"] = "kind"
    kind: str
    summary: ClassVar[str] = "party kind"

    def where(self, ctx: Context, party_id: PartyId) -> ColumnElement[bool]:
        if self.kind not in ctx.registry.party_kinds:
            raise ctx.invalid("kind", f"unknown party kind {self.kind!r}")
        return ctx.party.kind == self.kind  # type: ignore[no-any-return]


class Tagged(Criterion):
    """The party carries the tag (tags are compared case-insensitively, as stored)."""

    type: Literal["tag"] = "tag"
    tag: str = Field(min_length=1, max_length=60)
    summary: ClassVar[str] = "tag"

    def where(self, ctx: Context, party_id: PartyId) -> ColumnElement[bool]:
        t = PartyTagRow
        return exists().where(t.party_id == party_id, t.tag == self.tag.strip().casefold())


class HasRole(Criterion):
    """The party holds a current ``role`` (at ``as_of``, default the evaluation instant),
    in one of ``states`` when given: the state it has, or when the segment is read at
    another instant or ``as_of`` is given, the state it was in then."""

    type: Literal["role"] = "role"
    role: str
    states: list[str] = Field(default_factory=list)
    as_of: dt.date | dt.datetime | None = None
    summary: ClassVar[str] = "current role, in some states, as of a date"

    def where(self, ctx: Context, party_id: PartyId) -> ColumnElement[bool]:
        role_type = ctx.registry.role_types.get(self.role)
        if role_type is None:
            raise ctx.invalid("role", f"unknown role type {self.role!r}")
        for i, state in enumerate(self.states):
            if state not in role_type.states:
                raise ctx.invalid(f"states.{i}", f"not a state of role {self.role!r}: {state!r}")
        # read now, a role's state is the one it has (its column, as s.parties.list reads
        # it); at another instant, the one its latest transition then gave it
        as_of = self.as_of or (ctx.now if ctx.historical else None)
        return role_held(self.role, party_id=party_id, as_of=as_of, states=self.states or None)


Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "contains", "exists"]
_NUMERIC = (int, float, Decimal)


class Attribute(Criterion):
    """An attribute of the party (``role`` unset) or of its current role ``role``
    compared with ``value``: ``eq``, ``ne``, ``lt``, ``le``, ``gt``, ``ge``, ``in`` (a
    list), ``contains`` (text, whatever the case) or ``exists`` (set and not null).

    The comparison follows the type the role's or party kind's schema gives the field —
    numbers numerically, dates and text as text (ISO dates order as text), booleans as
    booleans — or, without a schema, the type of ``value``. A field a schema does not
    declare is refused. A party lacking the attribute matches no comparison but ``ne``."""

    type: Literal["attribute"] = "attribute"
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    role: str | None = None
    op: Op = "eq"
    value: bool | int | Decimal | float | dt.date | str | list[_Any] | None = None
    summary: ClassVar[str] = "a party's or a role's attribute, typed by its schema"

    def where(self, ctx: Context, party_id: PartyId) -> ColumnElement[bool]:
        if self.role is not None:
            role_type = ctx.registry.role_types.get(self.role)
            if role_type is None:
                raise ctx.invalid("role", f"unknown role type {self.role!r}")
            kind = self._declared([role_type.schema], ctx)
            r = aliased(RoleRow, name="attr_role")
            return exists().where(
                r.party_id == party_id,
                r.type == self.role,
                role_current(ctx.now, r),
                self._compare(r.attributes, kind, ctx),
            )
        schemas = [k.schema for k in ctx.registry.party_kinds.values() if k.schema is not None]
        kind = self._declared(schemas, ctx) if schemas else self._kind_of_value(ctx)
        return self._compare(ctx.party.attributes, kind, ctx)

    def _declared(self, schemas: Sequence[builtins.type[BaseModel] | None], ctx: Context) -> str:
        declared = [s for s in schemas if s is not None]
        if not declared:
            return self._kind_of_value(ctx)
        for schema in declared:
            field = schema.model_fields.get(self.name)
            if field is not None:
                return _kind_of_annotation(field.annotation)
        where = f"role {self.role!r}" if self.role else "any party kind"
        raise ctx.invalid("name", f"{where} declares no attribute {self.name!r}")

    def _kind_of_value(self, ctx: Context) -> str:
        value = self.value[0] if isinstance(self.value, list) and self.value else self.value
        if isinstance(value, bool):
            return "bool"
        if isinstance(value, _NUMERIC):
            return "number"
        return "text"

    def _compare(self, column: _Any, kind: str, ctx: Context) -> ColumnElement[bool]:
        raw = column[self.name].as_string()
        if self.op == "exists":
            return raw.is_not(None)  # type: ignore[no-any-return]
        return self._compared(raw, column, kind, ctx)

    def _compared(self, raw: _Any, column: _Any, kind: str, ctx: Context) -> ColumnElement[bool]:
        if self.value is None:
            raise ctx.invalid("value", f"a value is needed for {self.op!r}")
        if self.op == "contains":
            if not isinstance(self.value, str):
                raise ctx.invalid("value", "'contains' needs text")
            needle = self.value.casefold().replace("\\", "\\\\")
            needle = needle.replace("%", "\\%").replace("_", "\\_")
            return and_(raw.is_not(None), func.lower(raw).like(f"%{needle}%", escape="\\"))
        values: list[_Any] = self.value if isinstance(self.value, list) else [self.value]
        if self.op == "in" and not (isinstance(self.value, list) and self.value):
            raise ctx.invalid("value", "'in' needs a list of at least one value")
        if self.op != "in" and isinstance(self.value, list):
            raise ctx.invalid("value", f"{self.op!r} needs one value, not a list")
        expr, typed = self._typed(raw, column, kind, values, ctx)
        value = typed[0]
        if self.op == "ne":
            return or_(expr.is_(None), expr != value)
        # never NULL, so that Not() of it is its complement: a party without the attribute
        # (or with a text where a number is compared) meets no comparison but ``ne``
        compared = {
            "in": lambda: expr.in_(typed),
            "eq": lambda: expr == value,
            "lt": lambda: expr < value,
            "le": lambda: expr <= value,
            "gt": lambda: expr > value,
            "ge": lambda: expr >= value,
        }[self.op]()
        return and_(expr.is_not(None), compared)

    def _typed(
        self, raw: _Any, column: _Any, kind: str, values: list[_Any], ctx: Context
    ) -> tuple[_Any, list[_Any]]:
        field = "value"
        if kind == "number":
            out: list[_Any] = []
            for i, v in enumerate(values):
                if isinstance(v, bool) or not isinstance(v, (*_NUMERIC, str)):
                    raise ctx.invalid(field, f"{self.name!r} is a number, got {v!r}")
                try:
                    out.append(Decimal(str(v)))
                except ArithmeticError:
                    raise ctx.invalid(field, f"not a number: {v!r}") from None
                if not out[-1].is_finite():
                    raise ctx.invalid(field, f"not a finite number: {v!r}")
                del i
            return _JsonValue(column, self.name, "number"), out
        if kind == "bool":
            if self.op not in ("eq", "ne", "in"):
                raise ctx.invalid("op", f"{self.name!r} is true or false: use eq or ne")
            if not all(isinstance(v, bool) for v in values):
                raise ctx.invalid(field, f"{self.name!r} is true or false")
            return _JsonValue(column, self.name, "bool"), ["true" if v else "false" for v in values]
        out = []
        for v in values:
            if isinstance(v, dt.date):
                out.append(v.isoformat())
            elif isinstance(v, (str, int, Decimal, float)) and not isinstance(v, bool):
                out.append(str(v))
            else:
                raise ctx.invalid(field, f"{self.name!r} is text, got {v!r}")
        return raw, out


class _JsonValue(FunctionElement[_Any]):
    """An attribute of a JSON column read as a number (``Numeric``) or as ``'true'`` /
    ``'false'``, NULL when it holds anything else: a text where a number was expected
    compares as missing instead of failing the query (PostgreSQL refuses the cast)."""

    inherit_cache = True

    def __init__(self, column: _Any, name: str, as_: str) -> None:
        self.name = name
        self.as_ = as_
        self.type = Numeric(38, 10) if as_ == "number" else String()
        super().__init__(column)


_NUMBER_RE = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"


@compiles(_JsonValue)
def _json_value_default(element: _JsonValue, compiler: _Any, **kw: _Any) -> str:
    (column,) = element.clauses
    col = compiler.process(column, **kw)
    path = compiler.process(literal(f'$."{element.name}"'), **kw)
    value = f"json_extract({col}, {path})"
    kind = f"json_type({col}, {path})"
    if element.as_ == "bool":
        return f"(CASE {kind} WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END)"
    return (
        f"(CASE WHEN {kind} IN ('integer', 'real') THEN CAST({value} AS NUMERIC) "
        f"WHEN {kind} = 'text' AND {value} GLOB '*[0-9]*' "
        f"AND {value} NOT GLOB '*[^0-9.eE+ -]*' THEN CAST({value} AS NUMERIC) END)"
    )


@compiles(_JsonValue, "postgresql")
def _json_value_postgresql(element: _JsonValue, compiler: _Any, **kw: _Any) -> str:
    (column,) = element.clauses
    col = compiler.process(column, **kw)
    key = compiler.process(literal(element.name), **kw)
    text = f"({col} ->> {key})"
    if element.as_ == "bool":
        return f"(CASE WHEN jsonb_typeof({col} -> {key}) = 'boolean' THEN {text} END)"
    pattern = compiler.process(literal(_NUMBER_RE), **kw)
    return f"(CASE WHEN {text} ~ {pattern} THEN CAST({text} AS NUMERIC) END)"


def _kind_of_annotation(annotation: _Any) -> str:
    """``number``, ``bool`` or ``text``: how an attribute of this type compares."""
    args = typing.get_args(annotation)
    origin: _Any = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        kinds = {_kind_of_annotation(a) for a in args if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 else "text"
    if origin is typing.Annotated:
        return _kind_of_annotation(args[0])
    if annotation is bool:
        return "bool"
    if isinstance(annotation, type) and issubclass(annotation, _NUMERIC):
        return "number"
    return "text"


# -- the party among others ----------------------------------------------------------------
class Related(Criterion):
    """The party has a ``relationship`` valid on ``as_of`` (default the evaluation day):
    ``direction="out"`` from it to another party (an employee ``employee_of`` an
    organisation), ``"in"`` from another party to it. ``other``, when given, is a
    criterion that other party meets (employees of customers in state ``active``)."""

    type: Literal["related"] = "related"
    relationship: str
    direction: Literal["out", "in"] = "out"
    other: SerializeAsAny[Criterion] | None = None
    as_of: dt.date | None = None
    summary: ClassVar[str] = "a relationship to a party meeting a criterion"

    def where(self, ctx: Context, party_id: PartyId) -> ColumnElement[bool]:
        if self.relationship not in ctx.registry.relationship_types:
            raise ctx.invalid("relationship", f"unknown relationship type {self.relationship!r}")
        r = aliased(RelationshipRow, name="seg_rel")
        mine, theirs = (
            (r.from_party_id, r.to_party_id)
            if self.direction == "out"
            else (r.to_party_id, r.from_party_id)
        )
        day = self.as_of or ctx.now.date()
        conds: list[ColumnElement[bool]] = [
            mine == party_id,
            r.type == self.relationship,
            relationship_valid(day, r),
        ]
        other = aliased(PartyRow, name="seg_other")
        inner = ctx.within("other", party=other)
        other_conds = [live_party(other)]
        if self.other is not None:
            other_conds.append(self.other.where(inner, other.id))
        conds.append(theirs.in_(select(other.id).where(*other_conds)))
        return exists().where(*conds)


class Interacted(Criterion):
    """The party took part in interactions — on ``channel``, at ``touchpoint``, for
    ``purpose``, ``inbound`` or ``outbound``, each when given — in a window: the last
    ``within_days`` days before the evaluation instant, or from ``since`` (included) to
    ``until`` (excluded). It holds when their number is at least ``at_least`` (default 1,
    or 0 with ``at_most=0``) and at most ``at_most`` (when given): ``at_most=0`` means
    none."""

    type: Literal["interacted"] = "interacted"
    channel: str | None = None
    touchpoint: str | None = None
    purpose: str | None = None
    direction: Literal["inbound", "outbound"] | None = None
    within_days: int | None = Field(default=None, ge=0, le=36600)
    since: dt.datetime | dt.date | None = None
    until: dt.datetime | dt.date | None = None
    at_least: int | None = Field(default=None, ge=0)
    at_most: int | None = Field(default=None, ge=0)
    summary: ClassVar[str] = "interactions: recency, frequency, channel, touchpoint, purpose"

    def where(self, ctx: Context, party_id: PartyId) -> ColumnElement[bool]:
        from xrm.core.uow import as_utc

        reg = ctx.registry
        for field, table in (
            ("channel", reg.channels),
            ("touchpoint", reg.touchpoints),
            ("purpose", reg.purposes),
        ):
            value = getattr(self, field)
            if value is not None and value not in table:
                raise ctx.invalid(field, f"unknown {field} {value!r}")
        if self.within_days is not None and (self.since or self.until):
            raise ctx.invalid("within_days", "give within_days or since/until, not both")
        low = self.at_least if self.at_least is not None else (0 if self.at_most == 0 else 1)
        if self.at_most is not None and self.at_most < low:
            raise ctx.invalid("at_most", "less than at_least")
        p = aliased(ParticipantRow, name="seg_part")
        conds: list[ColumnElement[bool]] = [p.party_id == party_id]
        if self.within_days is not None:
            conds.append(p.occurred_at >= ctx.now - dt.timedelta(days=self.within_days))
        if self.since is not None:
            conds.append(p.occurred_at >= as_utc(self.since, "since"))
        if self.until is not None:
            conds.append(p.occurred_at < as_utc(self.until, "until"))
        i = aliased(InteractionRow, name="seg_int")
        filters = [
            getattr(i, f) == getattr(self, f)
            for f in ("channel", "touchpoint", "purpose", "direction")
            if getattr(self, f) is not None
        ]
        if filters:
            conds.append(exists().where(i.id == p.interaction_id, *filters))
        if self.at_most is None and low <= 1:
            return exists().where(*conds) if low == 1 else true()
        if self.at_most == 0:
            return not_(exists().where(*conds))
        counted = select(func.count(distinct(p.interaction_id))).where(*conds).scalar_subquery()
        bounds = [counted >= low]
        if self.at_most is not None:
            bounds.append(counted <= self.at_most)
        return and_(*bounds)


class Contactable(Criterion):
    """The consent ledger allows contacting the party for ``purpose`` on ``channel`` at
    the evaluation instant — on at least one channel when none is given — by the rules of
    ``s.consents.check`` (the audience of ``s.consents.contactable``)."""

    type: Literal["contactable"] = "contactable"
    purpose: str
    channel: str | None = None
    summary: ClassVar[str] = "consent allows contact for a purpose (on a channel)"

    def where(self, ctx: Context, party_id: PartyId) -> ColumnElement[bool]:
        purpose = ctx.registry.purposes.get(self.purpose)
        if purpose is None:
            raise ctx.invalid("purpose", f"unknown purpose {self.purpose!r}")
        if self.channel is not None:
            channel = ctx.registry.channels.get(self.channel)
            if channel is None:
                raise ctx.invalid("channel", f"unknown channel {self.channel!r}")
            channels = [channel]
        else:
            channels = list(ctx.registry.channels.values())
        # each audience is a CTE, written once at the top of the statement however deep
        # the criterion sits (SQLite's parser has a bounded stack), and shared by every
        # criterion of the segment that reads it
        key = ("contactable", purpose.name, tuple(c.name for c in channels))
        if key not in ctx.memo:
            audiences = [audience_query(purpose, c, ctx.now) for c in channels]
            both = audiences[0] if len(audiences) == 1 else union(*audiences)
            ctx.memo[key] = both.cte(f"audience_{len(ctx.memo)}")
        cte = ctx.memo[key]
        return party_id.in_(select(cte.c.party_id))


class Prefers(Criterion):
    """The party's preferences: its ``language`` (``fr`` also matches ``fr-CA``), and the
    ``channel`` it prefers for ``purpose``."""

    type: Literal["prefers"] = "prefers"
    language: str | None = Field(default=None, min_length=2, max_length=35)
    purpose: str | None = None
    channel: str | None = None
    summary: ClassVar[str] = "preferred language, preferred channel for a purpose"

    def where(self, ctx: Context, party_id: PartyId) -> ColumnElement[bool]:
        if self.language is None and self.channel is None:
            raise ctx.invalid("language", "give a language, or a purpose and channel")
        if (self.purpose is None) != (self.channel is None):
            raise ctx.invalid("channel", "a preferred channel is per purpose: give both")
        conds: list[ColumnElement[bool]] = []
        if self.language is not None:
            pref = aliased(PreferenceRow, name="seg_pref")
            lang = self.language.lower()
            conds.append(
                exists().where(
                    pref.party_id == party_id,
                    or_(
                        func.lower(pref.language) == lang,
                        func.lower(pref.language).like(f"{lang}-%"),
                    ),
                )
            )
        if self.purpose is not None:
            if self.purpose not in ctx.registry.purposes:
                raise ctx.invalid("purpose", f"unknown purpose {self.purpose!r}")
            if self.channel not in ctx.registry.channels:
                raise ctx.invalid("channel", f"unknown channel {self.channel!r}")
            pp = aliased(PurposePreferenceRow, name="seg_pp")
            conds.append(
                exists().where(
                    pp.party_id == party_id, pp.purpose == self.purpose, pp.channel == self.channel
                )
            )
        return and_(*conds)


#: the core's criteria, by ``type``
BUILTIN_CRITERIA: dict[str, type[Criterion]] = {
    c.model_fields["type"].default: c
    for c in (All, Any, Not, InSegment, Kind, Tagged, HasRole, Attribute, Related, Interacted,
              Contactable, Prefers)
}  # fmt: skip


def criterion_fields(cls: type[BaseModel]) -> list[str]:
    """The fields of ``cls`` that hold criteria (``of``, ``other``): parsed recursively."""
    return [name for name, f in cls.model_fields.items() if _mentions_criterion(f.annotation)]


def _mentions_criterion(annotation: _Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, Criterion):
        return True
    return any(_mentions_criterion(a) for a in typing.get_args(annotation))


def parse(data: _Any, known: Callable[[str], type[Criterion] | None], path: str = "") -> Criterion:
    """A criterion from its JSON form, nested criteria included, the ``type`` of each
    looked up with ``known``. Errors become :class:`~xrm.ValidationError` with the path of
    the field."""
    from xrm.core.uow import validate_model

    if isinstance(data, Criterion):
        return data
    if not isinstance(data, dict):
        raise ValidationError.single(path, "a criterion is an object with a 'type'")
    kind = data.get("type")
    cls = known(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValidationError.single(_join(path, "type"), f"unknown criterion type {kind!r}")
    values = dict(data)
    for field in criterion_fields(cls):
        value = values.get(field)
        if isinstance(value, list):
            values[field] = [
                parse(v, known, _join(path, f"{field}.{i}")) for i, v in enumerate(value)
            ]
        elif value is not None:
            values[field] = parse(value, known, _join(path, field))
    return validate_model(cls, values, path)


def walk(criterion: Criterion) -> Iterable[Criterion]:
    """The criterion and every criterion nested in it."""
    yield criterion
    for field in criterion_fields(type(criterion)):
        value = getattr(criterion, field)
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, Criterion):
                yield from walk(child)
