"""Money as :class:`~decimal.Decimal` in an ISO 4217 currency, and the checks of the
inputs the plugin shares (texts, instants, parties)."""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision, is_currency

from xrm import Party, Session
from xrm.errors import FieldError, NotFound
from xrm.tables import utcnow

__all__ = [
    "THOUSAND",
    "amount",
    "currency",
    "from_milli",
    "in_units",
    "party",
    "text",
    "to_milli",
    "when",
]

THOUSAND = Decimal(1000)
_CURRENCY = re.compile(r"[A-Z]{3}")
_MAX_INTEGER_DIGITS = 15


def currency(value: object, errors: list[FieldError], field: str = "currency") -> str:
    """The ISO 4217 code, upper case; ``""`` (and an error) when it is not one."""
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value.strip().upper()):
        errors.append(FieldError(field, f"must be an ISO 4217 code such as 'EUR', got {value!r}"))
        return ""
    code = value.strip().upper()
    if not is_currency(code):
        errors.append(FieldError(field, f"{code!r} is not an ISO 4217 currency"))
        return ""
    return code


def amount(
    value: object,
    code: str,
    errors: list[FieldError],
    field: str,
    *,
    default: Decimal | None = None,
) -> Decimal | None:
    """A Decimal (an int or decimal text; never a float), zero or more, with no more
    decimals than the currency has."""
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        hint = " (a float is not exact: use Decimal or text)" if isinstance(value, float) else ""
        errors.append(FieldError(field, f"must be a Decimal, an int or decimal text{hint}"))
        return None
    try:
        found = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        errors.append(FieldError(field, f"{value!r} is not a number"))
        return None
    if not found.is_finite() or found < 0:
        errors.append(FieldError(field, f"must be zero or more, got {value!r}"))
        return None
    _sign, digits, exponent = found.as_tuple()
    assert isinstance(exponent, int)
    if len(digits) + exponent > _MAX_INTEGER_DIGITS:
        errors.append(
            FieldError(field, f"has more than {_MAX_INTEGER_DIGITS} digits before the point")
        )
        return None
    if not code:
        return found
    decimals = get_currency_precision(code)
    step = Decimal(1).scaleb(-decimals)
    if found != found.quantize(step):
        errors.append(FieldError(field, f"{code} has {decimals} decimals, got {value!r}"))
        return None
    return found.quantize(step)


def in_units(value: Decimal, code: str) -> Decimal:
    """``value`` with exactly the currency's decimals."""
    return value.quantize(Decimal(1).scaleb(-get_currency_precision(code)))


def to_milli(value: Decimal) -> int:
    """An amount in whole thousandths (amounts have at most three decimals)."""
    return int(value * THOUSAND)


@functools.cache
def _precision(code: str) -> int:
    return int(get_currency_precision(code))


def from_milli(value: int, code: str) -> Decimal:
    """Thousandths back to an amount with the currency's decimals (integer arithmetic:
    it runs once per party and currency in the value queries)."""
    decimals = _precision(code)
    whole, rest = divmod(int(value), 10 ** (3 - decimals))
    if rest == 0:
        return Decimal(whole).scaleb(-decimals)
    return in_units(Decimal(value) / THOUSAND, code)


def text(
    value: object, field: str, limit: int, errors: list[FieldError], *, required: bool = False
) -> str | None:
    """A text trimmed, ``None`` when blank (an error when ``required``)."""
    if value is None:
        if required:
            errors.append(FieldError(field, "is required"))
        return None
    if not isinstance(value, str):
        errors.append(FieldError(field, "must be text"))
        return None
    cleaned = value.strip()
    if "\x00" in cleaned:
        errors.append(FieldError(field, "must not hold a NUL character"))
        return None
    if len(cleaned) > limit:
        errors.append(FieldError(field, f"is longer than {limit} characters"))
        return None
    if required and not cleaned:
        errors.append(FieldError(field, "must not be blank"))
    return cleaned or None


def when(
    value: object, field: str, errors: list[FieldError], *, now: dt.datetime | None = None
) -> dt.datetime | None:
    """An aware instant, in UTC, not in the future."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        errors.append(FieldError(field, f"must be a datetime with a time zone, got {value!r}"))
        return None
    found = value.astimezone(dt.UTC)
    if found > (now or utcnow()) + dt.timedelta(seconds=1):
        errors.append(FieldError(field, f"{found.isoformat()} is in the future"))
        return None
    return found


def party(session: Session, ref: object, field: str, errors: list[FieldError]) -> Party | None:
    """The party ``ref`` names (a party or an id), live and not erased."""
    if not isinstance(ref, Party) and (isinstance(ref, bool) or not isinstance(ref, int)):
        errors.append(FieldError(field, f"must be a party or a party id, got {ref!r}"))
        return None
    try:
        found = session.parties.get(ref)
    except NotFound:
        errors.append(FieldError(field, f"no party {ref.id if isinstance(ref, Party) else ref}"))
        return None
    if session.gdpr.is_erased(found):
        errors.append(FieldError(field, f"party {found.id} was erased"))
        return None
    return found
