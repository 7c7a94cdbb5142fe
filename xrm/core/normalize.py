"""Normalisation of contact points and identifiers into *match keys*.

xrm keeps the value a party gave (to send to, and to show) and, beside it, a key used only
to recognise the party again: two ways of writing one email or one phone number map to the
same key. Every function here is pure, idempotent on its own output, and raises
:class:`ValueError` with a reason a person can act on.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from types import ModuleType
from typing import Any

import attrs
import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from stdnum.util import get_cc_module

__all__ = [
    "COUNTRY_CODES",
    "CountryUnknown",
    "EmailRules",
    "address_key",
    "country_code",
    "email_key",
    "identifier_value",
    "phone_key",
    "phone_key_and_country",
    "social_key",
    "text_key",
    "url_key",
]

#: ISO 3166-1 alpha-2 codes that libphonenumber knows (every inhabited country).
COUNTRY_CODES: frozenset[str] = frozenset(phonenumbers.SUPPORTED_REGIONS) | {"XK"}

_SPACES = re.compile(r"\s+")

# An ordinary address: an ASCII dot-atom local part and a host name whose labels neither
# start nor end with a hyphen, under a top-level domain of letters. For these
# email-validator gives back the local part as written and the domain lower-cased; any
# other address goes through email-validator itself.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_EMAIL = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_SPECIAL_DOMAINS = tuple(SPECIAL_USE_DOMAIN_NAMES)
#: ASCII characters that text_key turns into spaces
_ASCII_NOT_ALNUM = {i: " " for i in range(128) if not chr(i).isalnum()}


@attrs.frozen
class EmailRules:
    """Opt-in, provider-specific email matching rules.

    They are off by default because they are not true for every domain: ``a+b@x`` and
    ``a@x`` are two mailboxes on many servers.
    """

    #: drop ``+tag`` from the local part on every domain
    strip_plus_tags: bool = False
    #: domains whose local part ignores dots (``{"gmail.com", "googlemail.com"}``)
    dotless_domains: frozenset[str] = frozenset()


DEFAULT_EMAIL_RULES = EmailRules()


def email_key(raw: str, rules: EmailRules = DEFAULT_EMAIL_RULES) -> str:
    """The match key of an email address: trimmed, syntax-checked, case-folded.

    >>> email_key("  Marie.Dupont@Example.COM ")
    'marie.dupont@example.com'
    """
    _require_text(raw)
    value = raw.strip()
    if not value:
        raise ValueError("an email address is required")
    plain = _plain_email(value)
    if plain is not None:
        local, domain = plain
    else:
        try:
            checked = validate_email(value, check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValueError(f"{value!r} is not a valid email address: {exc}") from None
        local = checked.local_part.casefold()
        domain = checked.domain.casefold()
    if rules.strip_plus_tags and "+" in local:
        local = local.split("+", 1)[0] or local
    if domain in rules.dotless_domains:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def _require_text(raw: object) -> None:
    # a non-text value is refused before any str method is called on it (CPython 3.11's
    # specialised method calls crash on ``str.strip`` given the type ``str`` itself)
    if not isinstance(raw, str):
        raise ValueError(f"expected text, got {type(raw).__name__}")


def _plain_email(value: str) -> tuple[str, str] | None:
    """The case-folded local part and domain of an ordinary ASCII address, exactly as
    email-validator would give them; ``None`` for anything it must look at itself."""
    if len(value) > 254 or not value.isascii():
        return None
    match = _PLAIN_EMAIL.fullmatch(value)
    if match is None:
        return None
    local, domain = match.groups()
    domain = domain.lower()
    if len(local) > 64 or len(domain) > 253 or "--" in domain:
        return None  # lengths at the limit, and labels that may be IDNA, are its to judge
    for special in _SPECIAL_DOMAINS:
        if domain == special or domain.endswith("." + special):
            return None
    return local.lower(), domain


class CountryUnknown(ValueError):
    """A phone number that names no country (a local number read without a region):
    it may well be valid, once its country is known."""


def phone_key(raw: str, region: str | None = None) -> str:
    """The E.164 form of a phone number (``+33612345678``).

    ``region`` (ISO 3166 alpha-2) reads numbers written without a country code, such as
    ``06 12 34 56 78`` for ``FR``. Numbers that libphonenumber knows cannot exist are refused.
    """
    return phone_key_and_country(raw, region)[0]


def phone_key_and_country(raw: str, region: str | None = None) -> tuple[str, str | None]:
    """:func:`phone_key` and the ISO 3166 alpha-2 country of the number (``None`` for
    non-geographic numbers), from one parse."""
    _require_text(raw)
    value = raw.strip()
    if not value:
        raise ValueError("a phone number is required")
    region_code = country_code(region) if region else None
    try:
        number = phonenumbers.parse(value, region_code)
    except phonenumbers.NumberParseException as exc:
        hint = "" if region_code else " (write it with +country code or set a default region)"
        message = f"{value!r} is not a phone number: {exc._msg}{hint}"
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise CountryUnknown(message) from None
        raise ValueError(message) from None
    # phonenumbers.is_valid_number, with the region it looks up kept for the answer
    found = phonenumbers.region_code_for_number(number)
    if found is None or not phonenumbers.is_valid_number_for_region(number, found):
        where = found or region_code or "any country"
        raise ValueError(f"{value!r} is not a valid phone number for {where}")
    key = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return key, found if found and len(found) == 2 and found != "ZZ" else None


def country_code(raw: str) -> str:
    """An ISO 3166-1 alpha-2 country code, upper-cased; anything else is refused."""
    _require_text(raw)
    code = raw.strip().upper()
    if code not in COUNTRY_CODES:
        raise ValueError(f"{raw!r} is not an ISO 3166 alpha-2 country code (such as FR, DE, US)")
    return code


def text_key(raw: str) -> str:
    """Case-folded, accent-free, punctuation-free, single-spaced text (for names, addresses)."""
    if raw.isascii():  # the same, without Unicode decomposition: ASCII has nothing to strip
        return " ".join(raw.lower().translate(_ASCII_NOT_ALNUM).split())
    # compatibility caseless matching (Unicode D146): folding again after the
    # decomposition, which can uncover capitals (U+1D756, a bold alpha, gives U+0391)
    decomposed = unicodedata.normalize(
        "NFKD", unicodedata.normalize("NFKD", raw.casefold()).casefold()
    )
    kept = "".join(
        ch if ch.isalnum() else " " for ch in decomposed if not unicodedata.combining(ch)
    )
    return _SPACES.sub(" ", kept).strip()


def address_key(lines: list[str], postcode: str, city: str, country: str) -> str:
    """The match key of a postal address: its parts as :func:`text_key`, country first."""
    parts = [country_code(country), text_key(postcode).replace(" ", ""), text_key(city)]
    parts += [key for key in map(text_key, lines) if key]
    return "|".join(parts)


def url_key(raw: str) -> str:
    """A URL with scheme and host case-folded and without its trailing slash."""
    _require_text(raw)
    value = raw.strip()
    match = re.fullmatch(r"(?i)(https?)://([^/?#\s]+)([^\s]*)", value)
    if not match:
        raise ValueError(f"{value!r} is not an http(s) URL")
    scheme, host, rest = match.groups()
    rest = rest.rstrip("/")
    return f"{scheme.lower()}://{host.lower()}{rest}"


def social_key(raw: str, network: str) -> str:
    """``network:handle``, case-folded, without a leading ``@``."""
    _require_text(raw)
    net = network.strip().casefold()
    handle = raw.strip().lstrip("@").casefold()
    if not net or not re.fullmatch(r"[a-z0-9_.-]+", net):
        raise ValueError(f"{network!r} is not a social network name")
    if not handle or _SPACES.search(handle):
        raise ValueError(f"{raw!r} is not a social handle")
    return f"{net}:{handle}"


@lru_cache(maxsize=256)
def _stdnum_module(scheme: str) -> ModuleType | None:
    if not re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*", scheme):
        return None
    try:
        module = importlib.import_module(f"stdnum.{scheme}")
    except ImportError:
        # "<country>.vat" (or another generic name) for a country whose module has a
        # national name (fr.tva, es.nif, nl.btw): python-stdnum's own aliases find it
        country, _, name = scheme.partition(".")
        if len(country) != 2 or not name or "." in name:
            return None
        try:
            national: Any = get_cc_module(country, name)
        except ImportError:
            return None
        if not isinstance(national, ModuleType):
            return None
        module = national
    return module if callable(getattr(module, "validate", None)) else None


def identifier_value(scheme: str, raw: str, validator: Callable[[str], str] | None = None) -> str:
    """The canonical value of an identifier in ``scheme``.

    A scheme registered with a ``validator`` uses it. Otherwise, when python-stdnum knows the
    scheme (``fr.siren``, ``iban``, ``eu.vat``, ``de.vat``, ``isbn``, ...), the check digits
    are verified and the value compacted. Any other scheme keeps the trimmed value.
    """
    _require_text(raw)
    value = raw.strip()
    if not value:
        raise ValueError("an identifier value is required")
    if validator is not None:
        return validator(value)
    module = _stdnum_module(scheme)
    if module is None:
        return value
    try:
        return str(module.validate(value))
    except Exception as exc:  # stdnum raises its own ValidationError subclasses
        name = getattr(module, "__doc__", None) or scheme
        title = name.strip().splitlines()[0].rstrip(".")
        raise ValueError(f"{value!r} is not a valid {scheme} ({title}): {exc}") from None
