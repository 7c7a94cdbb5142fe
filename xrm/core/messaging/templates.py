"""Message templates: one per name, channel and language, rendered for a party in a Jinja2
sandbox, with dates, numbers and currencies formatted for the language by Babel.

A :class:`TemplateSet` finds the template of a name and channel for a language, falling
back from ``fr-CA`` to ``fr`` and then to a default language; :func:`render` renders it
with the party's fields, its preferences and the caller's data; :func:`sms_length` counts
what an SMS costs (GSM-7 or UCS-2, and how many segments).

A template is compiled when it is created, so a syntax error or an unknown filter is
reported at once, naming the template, the part and the line. Rendering refuses an
undefined variable and anything the sandbox forbids with a :class:`ValidationError` of
the same form: ``template.<name>.<channel>.<language>.<part>: line N: why``.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import jinja2
from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

from xrm.errors import ConfigurationError, FieldError, NotFound, ValidationError

__all__ = [
    "Rendered",
    "SmsLength",
    "Template",
    "TemplateNotFound",
    "TemplateSet",
    "language_tag",
    "render",
    "sms_length",
]

#: the channels whose text is sent as SMS, so :class:`Rendered` counts its length
SMS_CHANNELS = frozenset({"sms", "mms"})
# no-break space, figure space, narrow no-break space: plain spaces in an SMS
_NO_BREAK_SPACES = str.maketrans("\u00a0\u2007\u202f", "   ")

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
# BCP 47 as far as Babel has data: language[-Script][-REGION] (no variants, no extensions)
_LANGUAGE_TAG = re.compile(
    r"(?P<language>[A-Za-z]{2,3})(?:-(?P<script>[A-Za-z]{4}))?(?:-(?P<region>[A-Za-z]{2}|\d{3}))?"
)


# -- languages ----------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _locale(tag: str) -> Locale:
    return Locale.parse(tag, sep="-")


@functools.lru_cache(maxsize=1024)
def _known_tag(value: str) -> str:
    return _canonical_tag(value)


def language_tag(value: object) -> str:
    """``value`` as a canonical tag (``fr``, ``fr-CA``, ``zh-Hant-TW``), refused
    (``ValueError``) unless Babel has data for that very language: Babel's own parser
    quietly reads ``fr-ZZ`` as ``fr-FR`` and ``und`` as ``en-US``, which a language must
    not become. Preferences and templates both spell languages this way."""
    if isinstance(value, str):
        return _known_tag(value)  # a few languages, asked for again and again: remembered
    raise ValueError(f"{value!r} is not a language tag such as 'fr' or 'fr-CA' (BCP 47)")


def _canonical_tag(value: str) -> str:
    match = _LANGUAGE_TAG.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a language tag such as 'fr' or 'fr-CA' (BCP 47)")
    language = match["language"].lower()
    script = match["script"].title() if match["script"] else None
    region = match["region"].upper() if match["region"] else None
    tag = "-".join(part for part in (language, script, region) if part)
    try:
        locale = _locale(tag)
    except (ValueError, UnknownLocaleError) as error:
        raise ValueError(f"unknown language {value!r}") from error
    if (
        locale.language != language
        or (script and locale.script != script)
        or (region and locale.territory != region)
    ):
        raise ValueError(f"unknown language {value!r}")
    return tag


def _language_tag(value: object, path: str) -> str:
    try:
        return language_tag(value)
    except ValueError as error:
        raise ValidationError.single(path, str(error)) from None


def _with_parents(tag: str) -> list[str]:
    """``zh-Hant-TW`` -> ``zh-Hant-TW``, ``zh-Hant``, ``zh`` (RFC 4647 lookup)."""
    subtags = tag.split("-")
    return ["-".join(subtags[:n]) for n in range(len(subtags), 0, -1)]


# -- what a template sees -----------------------------------------------------------------
class _Namespace(dict[str, Any]):
    """A copy of ``party``, ``data`` or ``preferences`` (or of a mapping inside one) that
    knows its dotted path, so a missing key is reported as ``data.order_number``."""

    __slots__ = ("_xrm_path",)

    def __init__(self, path: str, values: Mapping[str, Any]) -> None:
        super().__init__(values)
        self._xrm_path = path

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        if isinstance(value, Mapping) and not isinstance(value, _Namespace):
            return _Namespace(f"{self._xrm_path}.{key}", value)
        return value


class _Undefined(jinja2.StrictUndefined):
    """Strict (every use of an undefined value is an error) and saying which one."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        owner = self._undefined_obj
        if not self._undefined_hint and isinstance(owner, _Namespace):
            return f"{owner._xrm_path}.{self._undefined_name} is undefined"
        if not self._undefined_hint and owner is missing:
            return (
                f"{self._undefined_name!r} is undefined "
                "(a template sees party, data and preferences)"
            )
        return super()._undefined_message


#: the largest number (in bits, about 30,000 digits) and the longest repetition
#: (``'x' * n``) a template may compute
_MAX_BITS = 100_000
_MAX_REPEAT = 100_000


def _bits(value: object) -> int:
    return value.bit_length() if isinstance(value, int) else 0


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's sandbox (no private attributes, no mutation of the caller's data), which
    also refuses the arithmetic that would exhaust memory: ``9 ** 99999``, ``'x' * 10**9``."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and _bits(left) * right > _MAX_BITS:
            raise SecurityError(f"a number of more than {_MAX_BITS} bits is refused")
        if operator == "*":
            if _bits(left) + _bits(right) > _MAX_BITS:
                raise SecurityError(f"a number of more than {_MAX_BITS} bits is refused")
            for sequence, times in ((left, right), (right, left)):
                if (
                    isinstance(sequence, str | list | tuple)
                    and isinstance(times, int)
                    and len(sequence) * times > _MAX_REPEAT
                ):
                    raise SecurityError(f"a repetition longer than {_MAX_REPEAT} is refused")
        return super().call_binop(context, operator, left, right)


# -- Babel filters ------------------------------------------------------------------------
class _FilterError(ValueError):
    """A filter refused its argument; the message names the filter and says why."""


@attrs.frozen
class _Formatting:
    locale: Locale
    zone: dt.tzinfo


# set by render() for the time of one rendering: the filters format for that language and
# time zone without the template being able to read or change them
_FORMATTING: contextvars.ContextVar[_Formatting] = contextvars.ContextVar("xrm_formatting")

_STYLES = ("short", "medium", "long", "full")


def _style(filter_name: str, style: object) -> str:
    if style not in _STYLES:
        raise _FilterError(f"{filter_name}: format {style!r} is not one of {', '.join(_STYLES)}")
    return str(style)


def _in_zone(value: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """``value`` in ``zone``; a naive datetime is taken as UTC."""
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(zone)


def _iso(filter_name: str, value: str, *parsers: Any) -> Any:
    for parse in parsers:
        try:
            return parse(value.strip())
        except ValueError:
            continue
    raise _FilterError(f"{filter_name}: {value!r} is not an ISO 8601 {filter_name}")


def _refused(filter_name: str, value: object, expected: str) -> _FilterError:
    return _FilterError(f"{filter_name}: expects {expected}, got {type(value).__name__}")


def _date(value: object, format: str = "long") -> str:
    """``{{ data.due | date }}`` -> ``12 mars 2027``; ``date("short")`` -> ``12/03/2027``."""
    formatting = _FORMATTING.get()
    if isinstance(value, str):
        value = _iso("date", value, dt.date.fromisoformat, dt.datetime.fromisoformat)
    if isinstance(value, dt.datetime):
        value = _in_zone(value, formatting.zone).date()
    if not isinstance(value, dt.date):
        raise _refused("date", value, "a date, a datetime or an ISO 8601 string")
    return babel_dates.format_date(value, _style("date", format), locale=formatting.locale)


def _datetime(value: object, format: str = "medium") -> str:
    """``{{ data.at | datetime }}`` -> ``12 mars 2027, 15:30:00`` (in the time zone)."""
    formatting = _FORMATTING.get()
    if isinstance(value, str):
        value = _iso("datetime", value, dt.datetime.fromisoformat)
    if not isinstance(value, dt.datetime):
        raise _refused("datetime", value, "a datetime or an ISO 8601 string")
    return babel_dates.format_datetime(
        _in_zone(value, formatting.zone),
        _style("datetime", format),
        tzinfo=formatting.zone,
        locale=formatting.locale,
    )


def _time(value: object, format: str = "short") -> str:
    """``{{ data.at | time }}`` -> ``15:30``; a ``datetime.time`` is shown as it is."""
    formatting = _FORMATTING.get()
    if isinstance(value, str):
        value = _iso("time", value, dt.datetime.fromisoformat, dt.time.fromisoformat)
    style = _style("time", format)
    if isinstance(value, dt.datetime):
        value = _in_zone(value, formatting.zone)
        return babel_dates.format_time(
            value, style, tzinfo=formatting.zone, locale=formatting.locale
        )
    if not isinstance(value, dt.time):
        raise _refused("time", value, "a time, a datetime or an ISO 8601 string")
    return babel_dates.format_time(value, style, locale=formatting.locale)


def _number_value(filter_name: str, value: object) -> Decimal | int:
    """An int as it is; a float, Decimal or numeric string as a finite Decimal."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float):
        number = Decimal(repr(value))  # 0.1 stays 0.1, not its binary neighbour
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise _FilterError(f"{filter_name}: {value!r} is not a number") from None
    else:
        raise _refused(filter_name, value, "a number or a numeric string")
    if not number.is_finite():
        raise _FilterError(f"{filter_name}: {value!r} is not a finite number")
    return number


def _number(value: object) -> str:
    """``{{ data.count | number }}`` -> ``1 234 567,891`` (at most three decimals)."""
    locale = _FORMATTING.get().locale
    return babel_numbers.format_decimal(_number_value("number", value), locale=locale)


def _currency(value: object, code: object) -> str:
    """``{{ data.amount | currency("EUR") }}`` -> ``1 234,50 €``."""
    if not isinstance(code, str) or not babel_numbers.is_currency(code.upper()):
        raise _FilterError(f"currency: {code!r} is not an ISO 4217 currency code")
    locale = _FORMATTING.get().locale
    number = _number_value("currency", value)
    return babel_numbers.format_currency(number, code.upper(), locale=locale)


def _percent(value: object) -> str:
    """``{{ data.rate | percent }}`` -> ``26 %`` for 0.255."""
    locale = _FORMATTING.get().locale
    return babel_numbers.format_percent(_number_value("percent", value), locale=locale)


def _environment(*, autoescape: bool) -> _Sandbox:
    environment = _Sandbox(
        undefined=_Undefined,
        autoescape=autoescape,
        # a {% if %} or {% for %} on its own line leaves no blank line in a text message
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        date=_date,
        datetime=_datetime,
        time=_time,
        number=_number,
        currency=_currency,
        percent=_percent,
    )
    return environment


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)

Part = Literal["subject", "body", "html"]
_PARTS: tuple[Part, ...] = ("subject", "body", "html")


def _compile(environment: _Sandbox, source: str, label: str, path: str) -> jinja2.Template:
    """``source`` compiled, or a ValidationError at ``path`` naming the line: a syntax
    error, or a filter or test that does not exist (Jinja only finds those at rendering
    when they sit in a branch)."""
    try:
        tree = environment.parse(source, name=label, filename=label)
        for node in tree.find_all((nodes.Filter, nodes.Test)):
            known = environment.filters if isinstance(node, nodes.Filter) else environment.tests
            if node.name not in known:
                kind = "filter" if isinstance(node, nodes.Filter) else "test"
                raise ValidationError.single(path, f"line {node.lineno}: no {kind} {node.name!r}")
        code = environment.compile(tree, name=label, filename=label)
    except jinja2.TemplateSyntaxError as error:
        raise ValidationError.single(path, f"line {error.lineno}: {error.message}") from error
    return environment.template_class.from_code(
        environment, code, environment.make_globals(None), None
    )


# -- templates ----------------------------------------------------------------------------
def _identifier(path: str) -> Any:
    def check(_: object, __: attrs.Attribute[str], value: object) -> None:
        if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
            raise ValidationError.single(
                path, f"{value!r} is not a lowercase identifier (letters, digits, _)"
            )

    return check


def _template_language(value: object) -> str:
    return _language_tag(value, "template.language")


@attrs.frozen
class Template:
    """One message: ``name`` (``repair_status``) on ``channel`` (``email``, ``sms``…) in
    ``language`` (BCP 47: ``fr``, ``fr-CA``; ``FR-ca`` is stored as ``fr-CA``).

    ``body`` is the text (for an email, its plain-text part); ``subject`` is required for
    an email and ``html`` optional (without it the email has a text part only); neither is
    allowed on another channel. The three are Jinja2 templates, compiled here: a syntax
    error is a :class:`ValidationError` naming the template, the part and the line.
    """

    name: str = attrs.field(validator=_identifier("template.name"))
    channel: str = attrs.field(validator=_identifier("template.channel"))
    language: str = attrs.field(converter=_template_language)
    body: str
    subject: str | None = None
    html: str | None = None
    _compiled: dict[str, jinja2.Template] = attrs.field(
        init=False, factory=dict, repr=False, eq=False
    )

    def __attrs_post_init__(self) -> None:
        email = self.channel == "email"
        for part in _PARTS:
            source = getattr(self, part)
            if source is not None and not isinstance(source, str):
                raise ValidationError.single(self._where(part), "a template is a string")
            if part != "body" and source is not None and not email:
                raise ValidationError.single(
                    self._where(part),
                    f"only an email has a {part} (this is a {self.channel!r} template)",
                )
        if email and not (self.subject or "").strip():
            raise ValidationError.single(self._where("subject"), "an email needs a subject")
        for part in _PARTS:
            source = getattr(self, part)
            if source is not None:
                environment = _HTML if part == "html" else _TEXT
                self._compiled[part] = _compile(
                    environment, source, self._label(part), self._where(part)
                )

    def _where(self, part: Part) -> str:
        """Where an error in ``part`` is reported: ``template.repair_status.email.fr.body``."""
        return f"template.{self.name}.{self.channel}.{self.language}.{part}"

    def _label(self, part: str) -> str:
        # the file name Jinja gives the compiled code: it finds the line of a rendering error
        return f"<xrm template {self.name}/{self.channel}.{self.language}.{part}>"


class TemplateNotFound(NotFound):
    """No template of ``name`` and ``channel`` in any of the languages tried."""

    def __init__(self, name: str, channel: str, tried: Sequence[str]) -> None:
        super().__init__("template", f"{name}/{channel}")
        self.name = name
        self.channel = channel
        self.tried = tuple(tried)
        self.args = (
            f"template {name!r} for channel {channel!r} not found in any of the languages "
            f"tried: {', '.join(self.tried)}",
        )


_FILE = re.compile(r"(?P<channel>[^.]+)\.(?P<language>[^.]+)\.(?P<kind>txt|html|subject)")
_PART_OF_KIND: dict[str, Part] = {"txt": "body", "html": "html", "subject": "subject"}


class TemplateSet:
    """The templates of an application, by name, channel and language."""

    def __init__(self, templates: Iterable[Template] = ()) -> None:
        self._templates: dict[tuple[str, str, str], Template] = {}
        for template in templates:
            self.add(template)

    def add(self, template: Template) -> None:
        """Add ``template``; a second one of the same name, channel and language is a
        :class:`ConfigurationError` naming it."""
        if not isinstance(template, Template):
            raise TypeError(f"a TemplateSet holds Template objects, not {template!r}")
        key = (template.name, template.channel, template.language)
        if key in self._templates:
            raise ConfigurationError(
                f"template {template.name!r} for channel {template.channel!r} in "
                f"{template.language!r} is defined twice"
            )
        self._templates[key] = template

    def find(
        self, name: str, channel: str, language: str, default_language: str = "en"
    ) -> Template:
        """The template of ``name`` for ``channel`` in ``language`` or the nearest one:
        ``fr-CA``, then ``fr``, then ``default_language`` and its parent. None of them is a
        :class:`TemplateNotFound` naming the languages tried; a language that is not a
        known BCP 47 tag is a :class:`ValidationError`."""
        asked = _language_tag(language, "language")
        default = _language_tag(default_language, "default_language")
        tried = list(dict.fromkeys([*_with_parents(asked), *_with_parents(default)]))
        for tag in tried:
            template = self._templates.get((name, channel, tag))
            if template is not None:
                return template
        raise TemplateNotFound(name, channel, tried)

    def languages(self, name: str, channel: str) -> tuple[str, ...]:
        """The languages ``name`` has a template in for ``channel``, sorted."""
        return tuple(sorted(lang for (n, c, lang) in self._templates if (n, c) == (name, channel)))

    def names(self) -> tuple[str, ...]:
        """Every template name, sorted."""
        return tuple(sorted({name for (name, _, _) in self._templates}))

    def with_defaults(self, defaults: Iterable[Template]) -> TemplateSet:
        """A new set: these templates, plus those of ``defaults`` (a plugin's) whose name
        this set lacks — an application's own version of a template wins whole, in every
        channel and language."""
        result = TemplateSet(self)
        have = set(self.names())
        for template in defaults:
            if template.name not in have:
                result.add(template)
        return result

    def __len__(self) -> int:
        return len(self._templates)

    def __iter__(self) -> Iterator[Template]:
        return iter([self._templates[key] for key in sorted(self._templates)])

    @classmethod
    def from_directory(cls, path: str | os.PathLike[str]) -> TemplateSet:
        """The templates of a folder laid out as ``<path>/<name>/<channel>.<language>.txt``
        (the body), ``.html`` (an email's HTML part) and ``.subject`` (an email's subject),
        read as UTF-8. Files at the top of ``path`` (a README) and hidden files are
        ignored; any other file in a template's folder is refused, naming it, and so is a
        template that fails to compile."""
        root = Path(path)
        if not root.is_dir():
            raise NotFound("template directory", str(root))
        sources: dict[tuple[str, str, str], dict[Part, tuple[str, str]]] = {}
        for folder in sorted(root.iterdir()):
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            for file in sorted(folder.iterdir()):
                if file.name.startswith("."):
                    continue
                where = f"{folder.name}/{file.name}"
                match = _FILE.fullmatch(file.name)
                if match is None or not file.is_file():
                    raise ValidationError.single(
                        where, "not a template file: <channel>.<language>.txt, .html or .subject"
                    )
                try:
                    text = file.read_text(encoding="utf-8")
                except UnicodeDecodeError as error:
                    raise ValidationError.single(where, f"not UTF-8: {error}") from error
                key = (folder.name, match["channel"], match["language"])
                sources.setdefault(key, {})[_PART_OF_KIND[match["kind"]]] = (where, text)
        templates = cls()
        for (name, channel, language), parts in sources.items():
            if "body" not in parts:
                raise ValidationError.single(
                    f"{name}/{channel}.{language}.txt", "missing: every template has a body"
                )
            try:
                template = Template(
                    name,
                    channel,
                    language,
                    parts["body"][1],
                    subject=parts["subject"][1] if "subject" in parts else None,
                    html=parts["html"][1] if "html" in parts else None,
                )
            except ValidationError as error:
                raise ValidationError(
                    _in_file(e, parts, f"{name}/{channel}.{language}.*") for e in error.errors
                ) from error
            templates.add(template)
        return templates


def _in_file(error: FieldError, parts: Mapping[Part, tuple[str, str]], group: str) -> FieldError:
    """``error`` of a template read from files, located at the file of its part."""
    part = error.path.rpartition(".")[2]
    where = next((file for kind, (file, _) in parts.items() if kind == part), group)
    return FieldError(where, error.reason)


# -- rendering ----------------------------------------------------------------------------
@attrs.frozen
class SmsLength:
    """What an SMS costs: its ``encoding``, its length in ``units`` (GSM-7 septets, or
    UTF-16 code units for UCS-2) and the number of ``segments`` it is sent in."""

    encoding: Literal["GSM-7", "UCS-2"]
    units: int
    segments: int


@attrs.frozen
class Rendered:
    """A rendered message. ``language`` is the template's (after fallback); ``subject``
    and ``html`` are set for an email (``html`` when its template has one); ``sms`` for
    the channels ``sms`` and ``mms``."""

    name: str
    channel: str
    language: str
    subject: str | None
    text: str
    html: str | None
    sms: SmsLength | None


def render(
    template: Template,
    *,
    party: Mapping[str, Any],
    data: Mapping[str, Any] | None = None,
    preferences: Mapping[str, Any] | None = None,
    language: str | None = None,
    time_zone: str | None = None,
) -> Rendered:
    """``template`` rendered for ``party``.

    The template sees three variables, and nothing else: ``party`` (its fields),
    ``data`` (what the caller passes: ``data.order_number``) and ``preferences``. Dates,
    numbers and currencies are formatted in ``language`` when it is the template's
    language or a more specific one (``fr-CA`` asked, ``fr`` found: Canadian formats),
    otherwise in the template's; times in ``time_zone`` (IANA, default UTC).

    An undefined variable, a refused filter argument and whatever the sandbox forbids
    are a :class:`ValidationError` naming the template, the part and the line. The text
    parts are stripped; the subject is put on one line and refused if empty. In an SMS,
    the no-break spaces Babel puts in numbers (``1 234,50 €``) become plain spaces, which
    keeps French text in GSM-7.
    """
    zone = _time_zone(time_zone)
    formatting_language = template.language
    if language is not None:
        asked = _language_tag(language, "language")
        if template.language in _with_parents(asked):
            formatting_language = asked
    variables = {
        "party": _Namespace("party", _mapping(party, "party")),
        "data": _Namespace("data", _mapping(data or {}, "data")),
        "preferences": _Namespace("preferences", _mapping(preferences or {}, "preferences")),
    }
    token = _FORMATTING.set(_Formatting(_locale(formatting_language), zone))
    try:
        subject = _render_part(template, "subject", variables)
        text = _render_part(template, "body", variables)
        html = _render_part(template, "html", variables)
    finally:
        _FORMATTING.reset(token)
    if subject is not None:
        subject = re.sub(r"[ \t]*[\r\n]+[ \t]*", " ", subject).strip()
        if not subject:
            raise ValidationError.single(template._where("subject"), "the subject is empty")
    assert text is not None  # every template has a body
    sms = template.channel in SMS_CHANNELS
    if sms:  # Babel's no-break spaces (1 234,50 €) would make a French SMS UCS-2
        text = text.translate(_NO_BREAK_SPACES)
    return Rendered(
        name=template.name,
        channel=template.channel,
        language=template.language,
        subject=subject,
        text=text,
        html=html,
        sms=sms_length(text) if sms else None,
    )


def _time_zone(name: str | None) -> dt.tzinfo:
    if name is None:
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
        raise ValidationError.single(
            "time_zone", f"unknown time zone {name!r} (an IANA name such as 'Europe/Paris')"
        ) from error


def _mapping(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError.single(path, f"a mapping is expected, not {type(value).__name__}")
    return value


def _render_part(template: Template, part: Part, variables: Mapping[str, Any]) -> str | None:
    compiled = template._compiled.get(part)
    if compiled is None:
        return None
    try:
        return compiled.render(variables).strip()
    except Exception as error:  # the template or its data failed: say where, never crash
        raise ValidationError.single(
            template._where(part), _why(error, template._label(part))
        ) from error


def _why(error: Exception, label: str) -> str:
    line = None
    trace = error.__traceback__
    while trace is not None:  # Jinja rewrites the trace: template lines in their own frames
        if trace.tb_frame.f_code.co_filename == label:
            line = trace.tb_lineno
        trace = trace.tb_next
    if isinstance(error, SecurityError):
        why = f"refused by the sandbox: {error}"
    elif isinstance(error, jinja2.TemplateError | _FilterError):
        why = str(error)
    else:
        why = f"{type(error).__name__}: {error}"
    return f"line {line}: {why}" if line else why


# -- SMS length ---------------------------------------------------------------------------
# GSM 03.38, the default alphabet, row by row (0x00-0x7F); 0x1B is the escape to the
# extension table, not a character
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039eÆæßÉ"  # Δ_ΦΓΛΩΠΨΣΘΞ
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# the extension table: each is sent as escape + character, two septets
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")


def sms_length(text: str) -> SmsLength:
    """How ``text`` is sent as SMS. In GSM-7 when every character is in the GSM 03.38
    alphabet (those of its extension table, ``^{}\\[~]|€`` and form feed, count two
    septets): one segment up to 160 septets, else 153 a segment. Otherwise UCS-2, counted
    in UTF-16 code units (an emoji is two): one segment up to 70, else 67 a segment. An
    empty text is no segment."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in text):
        units = len(text) + sum(c in _GSM_EXTENSION for c in text)
        return SmsLength("GSM-7", units, _segments(units, single=160, each=153))
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    return SmsLength("UCS-2", units, _segments(units, single=70, each=67))


def _segments(units: int, *, single: int, each: int) -> int:
    if units == 0:
        return 0
    return 1 if units <= single else math.ceil(units / each)
