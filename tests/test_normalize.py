"""Match keys: many ways of writing one email or phone number give one key."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xrm import EmailRules
from xrm.core.normalize import (
    address_key,
    country_code,
    email_key,
    identifier_value,
    phone_key,
    social_key,
    text_key,
    url_key,
)


class TestEmail:
    def test_is_trimmed_and_case_folded(self) -> None:
        assert email_key("  Marie.Dupont@Example.COM ") == "marie.dupont@example.com"

    @pytest.mark.parametrize("raw", ["", "   ", "marie", "marie@", "@example.com", "a b@c.fr"])
    def test_refuses_what_is_not_an_address(self, raw: str) -> None:
        with pytest.raises(ValueError, match="email"):
            email_key(raw)

    def test_provider_rules_are_off_by_default(self) -> None:
        assert email_key("m.dupont+news@gmail.com") == "m.dupont+news@gmail.com"

    def test_provider_rules_can_be_turned_on(self) -> None:
        rules = EmailRules(strip_plus_tags=True, dotless_domains=frozenset({"gmail.com"}))
        assert email_key("M.Dupont+news@GMail.com", rules) == "mdupont@gmail.com"
        assert email_key("m.dupont+news@example.com", rules) == "m.dupont@example.com"


class TestPhone:
    @pytest.mark.parametrize(
        "raw",
        [
            "06 12 34 56 78",
            "0612345678",
            "+33 6 12 34 56 78",
            "0033612345678",
            "+33 (0)6 12-34-56-78",
            "06.12.34.56.78",
        ],
    )
    def test_french_ways_of_writing_one_number_give_one_key(self, raw: str) -> None:
        assert phone_key(raw, "FR") == "+33612345678"

    def test_international_numbers_need_no_region(self) -> None:
        assert phone_key("+1 415 555 2671") == "+14155552671"

    def test_a_national_number_without_region_is_refused_with_a_hint(self) -> None:
        with pytest.raises(ValueError, match="default region"):
            phone_key("06 12 34 56 78")

    @pytest.mark.parametrize("raw", ["", "hello", "+33 1", "+33 6 12 34 56 78 99 99"])
    def test_refuses_impossible_numbers(self, raw: str) -> None:
        with pytest.raises(ValueError, match="phone"):
            phone_key(raw, "FR")


class TestOtherKeys:
    def test_country_codes_are_iso_alpha_2(self) -> None:
        assert country_code(" fr ") == "FR"
        with pytest.raises(ValueError, match="ISO 3166"):
            country_code("France")

    def test_addresses_ignore_case_accents_and_punctuation(self) -> None:
        a = address_key(["12, rue de l'Église"], "75 001", "Paris", "fr")
        b = address_key(["12 RUE DE L EGLISE"], "75001", "PARIS", "FR")
        assert a == b

    def test_urls_fold_scheme_and_host_only(self) -> None:
        assert url_key("HTTPS://Example.COM/Shop/") == "https://example.com/Shop"
        with pytest.raises(ValueError, match="URL"):
            url_key("example.com")

    def test_social_handles(self) -> None:
        assert social_key("@MarieD", "Mastodon") == "mastodon:maried"

    def test_text_key(self) -> None:
        assert text_key("  Ça  va, Müller!") == "ca va muller"


class TestIdentifiers:
    def test_schemes_known_to_stdnum_are_checked_and_compacted(self) -> None:
        assert identifier_value("fr.siren", "732 829 320") == "732829320"
        assert identifier_value("iban", "FR14 2004 1010 0505 0001 3M02 606") == (
            "FR1420041010050500013M02606"
        )

    def test_a_wrong_check_digit_is_refused(self) -> None:
        with pytest.raises(ValueError, match=r"fr\.siren"):
            identifier_value("fr.siren", "732 829 321")

    @pytest.mark.parametrize(
        ("scheme", "good", "bad"),
        [
            ("fr.vat", "FR 40 303 265 045", "FR00303265045"),
            ("es.vat", "ES12345678Z", "ES12345678A"),
            ("nl.vat", "NL004495445B01", "NL123"),
            ("it.vat", "IT00743110157", "IT00743110158"),
        ],
    )
    def test_a_country_vat_scheme_is_checked_like_its_national_scheme(
        self, scheme: str, good: str, bad: str
    ) -> None:
        """fr.vat is python-stdnum's fr.tva, es.vat its es.nif...: checked, not stored
        unchecked because the module has another name."""
        identifier_value(scheme, good)
        with pytest.raises(ValueError, match=f"not a valid {scheme}"):
            identifier_value(scheme, bad)

    def test_other_schemes_keep_the_trimmed_value(self) -> None:
        assert identifier_value("legacy_crm", "  A-17 ") == "A-17"


# -- properties ------------------------------------------------------------------------
local_parts = st.from_regex(r"[a-z][a-z0-9._]{0,10}[a-z0-9]", fullmatch=True).filter(
    lambda s: ".." not in s
)
domains = st.from_regex(r"[a-z]{2,10}\.(com|fr|org|de)", fullmatch=True)


def _recase(text: str, flips: list[bool]) -> str:
    return "".join(
        c.upper() if f else c for c, f in zip(text, flips + [False] * len(text), strict=False)
    )


@given(local_parts, domains, st.lists(st.booleans(), max_size=30), st.text(" \t", max_size=3))
def test_email_variants_map_to_one_key_and_the_key_is_stable(
    local: str, domain: str, flips: list[bool], pad: str
) -> None:
    canonical = f"{local}@{domain}"
    written = pad + _recase(canonical, flips) + pad
    key = email_key(written)
    assert key == canonical
    assert email_key(key) == key


def _valid_fr(digits: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse("+33" + digits))


french_mobiles = (
    st.integers(min_value=10_000_000, max_value=99_999_999).map(lambda n: f"6{n}").filter(_valid_fr)
)


@given(
    french_mobiles,
    st.sampled_from(["0{}", "+33{}", "0033{}", "+33 (0){}"]),
    st.sampled_from(["", " ", ".", "-"]),
)
def test_phone_variants_map_to_one_e164_key_and_the_key_is_stable(
    digits: str, template: str, sep: str
) -> None:
    grouped = digits[0] + sep.join(digits[i : i + 2] for i in range(1, 9, 2))
    key = phone_key(template.format(grouped), "FR")
    assert key == f"+33{digits}"
    assert phone_key(key) == key
    assert phone_key(key, "DE") == key


@given(st.text(max_size=40))
def test_text_key_is_idempotent(raw: str) -> None:
    assert text_key(text_key(raw)) == text_key(raw)
