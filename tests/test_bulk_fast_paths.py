"""The bulk import's fast paths give exactly what the ordinary paths give.

Each fast path in :mod:`xrm.core.normalize` (ordinary ASCII emails without
email-validator, one phone parse for key and country, ASCII text without Unicode
decomposition) is compared with a reference written the slow way: same key, or refused
alike, on generated input near the edges of what each fast path accepts and on explicit
tricky cases."""

from __future__ import annotations

import datetime as dt
import enum
import re
import string
import unicodedata

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st

from xrm import EmailRules
from xrm.core.normalize import (
    address_key,
    email_key,
    phone_key,
    phone_key_and_country,
    text_key,
)

# -- references: the code before its fast paths -----------------------------------------


def slow_email_key(raw: str, rules: EmailRules | None = None) -> str:
    rules = rules or EmailRules()
    value = raw.strip()
    if not value:
        raise ValueError("an email address is required")
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


def slow_phone(raw: str, region: str | None) -> tuple[str, str | None]:
    """phone_key as it was, then the country as xrm.core.nouns.parties read it: a second parse."""
    value = raw.strip()
    if not value:
        raise ValueError("a phone number is required")
    region_code = region.strip().upper() if region else None
    try:
        number = phonenumbers.parse(value, region_code)
    except phonenumbers.NumberParseException as exc:
        hint = "" if region_code else " (write it with +country code or set a default region)"
        raise ValueError(f"{value!r} is not a phone number: {exc._msg}{hint}") from None
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number) or region_code or "any country"
        raise ValueError(f"{value!r} is not a valid phone number for {where}")
    key = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    found = phonenumbers.region_code_for_number(phonenumbers.parse(key))
    return key, found if found and len(found) == 2 and found != "ZZ" else None


def slow_text_key(raw: str) -> str:
    # compatibility caseless matching, as Unicode's D146 states it
    folded = unicodedata.normalize("NFKD", raw.casefold()).casefold()
    decomposed = unicodedata.normalize("NFKD", folded)
    kept = "".join(
        ch if ch.isalnum() else " " for ch in decomposed if not unicodedata.combining(ch)
    )
    return re.sub(r"\s+", " ", kept).strip()


def outcome(f: object, *args: object) -> tuple[str, object]:
    try:
        return "ok", f(*args)  # type: ignore[operator]
    except ValueError as exc:
        return "refused", str(exc)


# -- email --------------------------------------------------------------------------------

ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
label = st.one_of(
    st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=8),
    st.text(string.ascii_lowercase, min_size=60, max_size=66),
    st.sampled_from(["xn--p1ai", "ab--cd", "xn--", "-a", "a-", "a_b", "123", "é", "ÉCOLE"]),
)
tld = st.one_of(
    st.text(string.ascii_letters, min_size=1, max_size=4),
    st.sampled_from(["local", "localhost", "test", "invalid", "arpa", "onion", "com1", "1"]),
)
locals_ = st.one_of(
    st.text(ATEXT + ".", min_size=1, max_size=12),
    st.text(ATEXT, min_size=60, max_size=70),
    st.text(ATEXT + '."(),:;<>@[\\] é\t', min_size=0, max_size=12),
)


@st.composite
def addresses(draw: st.DrawFn) -> str:
    labels = draw(st.lists(label, min_size=0, max_size=4))
    domain = ".".join([*labels, draw(tld)])
    if draw(st.booleans()):
        domain = domain + "." * draw(st.integers(0, 2))
    local = draw(locals_)
    pad = draw(st.sampled_from(["", " ", "\t", "\n", "\u00a0"]))
    return pad + local + draw(st.sampled_from(["@", "@", "@@", ""])) + domain + pad


@st.composite
def near_plain(draw: st.DrawFn) -> str:
    """Mostly what the fast path accepts, sometimes just past its edges."""
    atoms = st.text(ATEXT, min_size=1, max_size=draw(st.sampled_from([6, 6, 6, 70])))
    local = ".".join(draw(st.lists(atoms, min_size=1, max_size=3)))
    hostname = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,6}[A-Za-z0-9])?", fullmatch=True)
    labels = draw(st.lists(st.one_of(hostname, label), min_size=1, max_size=3))
    top = draw(st.one_of(st.text(string.ascii_letters, min_size=2, max_size=6), tld))
    return f"{local}@{'.'.join([*labels, top])}"


TRICKY_EMAILS = [
    "a@b.c", "a..b@x.com", ".a@x.com", "a.@x.com", "a@-x.com", "a@x-.com", "a@x..com",
    "a@xn--p1ai.com", "a@xn--80ak6aa92e.com", "a@ab--cd.com", "a@a-b.com", "a@x.local",
    "a@x.localhost", "a@localhost", "a@x.test", "a@x.invalid", "a@x.arpa", "a@x.onion",
    "a@x.com.", "a@123.com", "a@x.123", "a@x.c1", "é@x.org", "a@é.org", "A@X.ORG",
    "a+b@x.org", "a_b@x.org", "a@x_y.org", "Ab{|}~@x.org", "a@x.org\n", " A@X.org ",
    "x" * 64 + "@x.org", "x" * 65 + "@x.org", "a@" + "b" * 63 + ".org", "a@" + "b" * 64 + ".org",
    "a@" + ".".join(["b" * 63] * 3) + "." + "c" * 60,
    "a" * 64 + "@" + ".".join(["b" * 63] * 2) + "." + "c" * 58 + ".org",
    "a" * 64 + "@" + ".".join(["b" * 63] * 2) + "." + "c" * 59 + ".org",
    '"a b"@x.org', "a@[127.0.0.1]", "Marie <a@x.org>", "a@x.org.", "a@.x.org", "@x.org",
    "a@", "a", "", "   ", "a@x.COM", "a@X.Co", "ﬁ@x.org", "a@x.org\u200b",
]  # fmt: skip


@pytest.mark.parametrize("raw", TRICKY_EMAILS)
def test_tricky_emails_give_what_email_validator_gives(raw: str) -> None:
    assert outcome(email_key, raw) == outcome(slow_email_key, raw)


@settings(max_examples=1500)
@given(st.one_of(near_plain(), addresses()))
@example("Helene.Richmont0@Sfr.fr")
def test_email_key_equals_email_validator(raw: str) -> None:
    assert outcome(email_key, raw) == outcome(slow_email_key, raw)


@settings(max_examples=300)
@given(st.text(max_size=30))
def test_email_key_equals_email_validator_on_any_text(raw: str) -> None:
    assert outcome(email_key, raw) == outcome(slow_email_key, raw)


@given(st.one_of(near_plain(), addresses()))
def test_provider_rules_apply_alike(raw: str) -> None:
    rules = EmailRules(strip_plus_tags=True, dotless_domains=frozenset({"gmail.com", "x.org"}))
    assert outcome(email_key, raw, rules) == outcome(slow_email_key, raw, rules)


# -- phone --------------------------------------------------------------------------------

TRICKY_PHONES = [
    ("+33 6 12 34 56 78", None), ("06 12 34 56 78", "FR"), ("+330612345678", None),
    ("+39 06 1234 5678", None), ("+39 312 000 000 4", None), ("+44 740 000 000 5", None),
    ("+1 415 555 2671", None), ("+1 800 555 0100", None), ("+800 1234 5678", None),
    ("+882 1234 5678", None), ("+7 912 345 67 89", None), ("+7 700 123 4567", None),
    ("+599 9 123 4567", None), ("+47 79 12 34 56", None), ("+262 269 61 23 45", None),
    ("+33 6 12 34 56 78 ext. 12", None), ("06 12 34 56 78", None), ("+33 1", "FR"),
    ("hello", "FR"), ("", "FR"), ("+999 1234", None), ("0612345678", "DE"),
    ("+44 (0) 20 7946 0958", "GB"), ("+33 (0)6 12-34-56-78", "FR"), ("tel:+33612345678", None),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "region"), TRICKY_PHONES)
def test_tricky_phones_give_the_old_key_and_country(raw: str, region: str | None) -> None:
    assert outcome(phone_key_and_country, raw, region) == outcome(slow_phone, raw, region)
    expected = outcome(slow_phone, raw, region)
    key = (expected[0], expected[1][0]) if expected[0] == "ok" else expected  # type: ignore[index]
    assert outcome(phone_key, raw, region) == key


country_codes = st.sampled_from(
    sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)  # every calling code, non-geographic too
)


@settings(max_examples=1500)
@given(
    country_codes,
    st.text("0123456789", min_size=1, max_size=13),
    st.sampled_from(["+{} {}", "+{}{}", "00{} {}", "+{} (0){}", "{1}"]),
    st.sampled_from([None, "FR", "GB", "US", "IT", "DE"]),
)
def test_phone_key_and_country_equal_two_parses(
    code: int, digits: str, template: str, region: str | None
) -> None:
    raw = template.format(code, digits)
    assert outcome(phone_key_and_country, raw, region) == outcome(slow_phone, raw, region)


# -- text ---------------------------------------------------------------------------------


@settings(max_examples=1000)
@given(st.one_of(st.text(string.printable + "\x00\x1c\x1d\x1e\x1f\x7f", max_size=40),
                 st.text(max_size=40)))  # fmt: skip
@example("12, rue de l'Église")
@example("  Ça  va, Müller!")
@example("a\x1fb\x85c")
def test_text_key_equals_the_unicode_way(raw: str) -> None:
    assert text_key(raw) == slow_text_key(raw)


def test_address_key_is_unchanged() -> None:
    assert address_key(["12, rue de l'Église", " ", "Bât. B"], "75 001", "Paris", "fr") == (
        "FR|75001|paris|12 rue de l eglise|bat b"
    )


# -- a row's contact points ---------------------------------------------------------------

# (a blank email or phone never reaches this far: ImportedParty refuses it)
EMAILS = ["a@x.org", "A@X.org", " b@x.org", "é@x.org", "bad", "a@x.local", "c@d.fr\t"]
PHONES = ["+33612345678", "06 12 34 56 78", " 0698765432", "+1 415 555 2671", "12", "+٣٣٦١٢"]
POINTS: list[dict[str, object]] = [
    {"kind": "email", "value": "a@x.org", "primary": True},
    {"kind": "email", "value": "z@x.org", "primary": True},
    {"kind": "phone", "value": "0612345678", "region": "FR", "label": "work"},
    {"kind": "postal", "lines": ["1 rue de l'Église"], "city": "Paris", "country": "fr"},
    {"kind": "url", "value": "https://x.org/"},
    {"kind": "fax", "value": "1"},
]


def _points_both_ways(app: object, data: dict[str, object]) -> tuple[object, object]:
    from xrm import ImportedParty
    from xrm.core.imports.bulk import _normalize_points
    from xrm.core.inputs import Email, Phone

    row = ImportedParty.model_validate(data)

    def seen(points: list[object], errors: list[object]) -> object:
        return (
            [
                (p.kind, p.value, p.key, p.label, p.primary, p.country, p.data, p.problem)  # type: ignore[attr-defined]
                for p in points
            ],
            sorted((e.path, e.reason) for e in errors),  # type: ignore[attr-defined]
        )

    results = []
    with app.session() as s:  # type: ignore[attr-defined]
        for way in ("bulk", "services"):
            errors: list[object] = []
            try:
                if way == "bulk":
                    points = _normalize_points(s.imports, row, errors, [])
                else:
                    raw: list[object] = [Email(e) for e in row.emails]
                    # an import keeps an invalid number as written
                    raw += [Phone(p, region=row.region, keep_invalid=True) for p in row.phones]
                    raw += row.contact_points
                    points = s.parties._normalize_points(raw, "contact_points", errors)
            except Exception as exc:  # the input models refuse an empty value
                results.append(("raised", type(exc).__name__))
            else:
                results.append(seen(points, errors))
    return results[0], results[1]


@settings(max_examples=150)
@given(
    emails=st.lists(st.sampled_from(EMAILS), max_size=3),
    phones=st.lists(st.sampled_from(PHONES), max_size=2),
    points=st.lists(st.sampled_from(POINTS), max_size=3),
    region=st.sampled_from([None, "FR", "US"]),
)
def test_a_rows_points_are_normalised_as_the_services_do(
    app: object,
    emails: list[str],
    phones: list[str],
    points: list[dict[str, object]],
    region: str | None,
) -> None:
    data = {"name": "X", "emails": emails, "phones": phones, "contact_points": points}
    if region:
        data["region"] = region
    bulk, services = _points_both_ways(app, data)
    assert bulk == services


# -- journal data -------------------------------------------------------------------------


class Colour(enum.StrEnum):
    RED = "red"


json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5),
        st.datetimes(timezones=st.sampled_from([None, dt.UTC])), st.dates(),
        st.just(Colour.RED),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=8,
)  # fmt: skip


@given(st.dictionaries(st.one_of(st.text(max_size=4), st.integers()), json_values, max_size=6))
def test_journal_data_is_made_ready_as_jsonable_does(data: dict[object, object]) -> None:
    from xrm.core.imports.bulk import _json_ready
    from xrm.core.uow import jsonable

    assert _json_ready(data) == jsonable(data)  # type: ignore[arg-type]
