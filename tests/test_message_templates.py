"""Message templates: one per name, channel and language, found with a fallback, rendered
in a sandbox with the party, its preferences and the caller's data, dates and amounts
formatted for the language; an SMS counted in GSM-7 or UCS-2 segments."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xrm.core.messaging.templates import (
    Rendered,
    SmsLength,
    Template,
    TemplateNotFound,
    TemplateSet,
    render,
    sms_length,
)
from xrm.errors import ConfigurationError, NotFound, ValidationError

NNBSP = "\u202f"  # narrow no-break space: French thousands separator in Babel (CLDR)
NBSP = "\u00a0"  # no-break space: before the currency sign and the percent sign in French


def sms(body: str, language: str = "fr") -> Template:
    return Template("note", "sms", language, body)


def fails(template: Template, **kw: object) -> ValidationError:
    with pytest.raises(ValidationError) as err:
        render(template, party=kw.pop("party", {}), **kw)  # type: ignore[arg-type]
    return err.value


class TestTemplate:
    def test_name_and_channel_are_lowercase_identifiers(self) -> None:
        with pytest.raises(ValidationError, match=r"template\.name: 'Repair status'"):
            Template("Repair status", "sms", "fr", "x")
        with pytest.raises(ValidationError, match=r"template\.channel: 'SMS'"):
            Template("repair_status", "SMS", "fr", "x")

    @pytest.mark.parametrize("language", ["xx", "fr-ZZ", "und", "fr_FR", "", "en-US-x-private"])
    def test_an_unknown_language_is_refused(self, language: str) -> None:
        """Babel alone reads ``fr-ZZ`` as ``fr-FR`` and ``und`` as ``en-US``: refused too."""
        with pytest.raises(ValidationError, match=r"template\.language: .*language"):
            Template("repair_status", "sms", language, "x")

    def test_a_language_is_stored_in_its_canonical_case(self) -> None:
        assert Template("repair_status", "sms", "FR-ca", "x").language == "fr-CA"
        assert Template("repair_status", "sms", "zh-hant-tw", "x").language == "zh-Hant-TW"

    def test_an_email_needs_a_subject_and_only_an_email_has_a_subject_or_html(self) -> None:
        with pytest.raises(ValidationError, match=r"email\.fr\.subject: an email needs a subject"):
            Template("repair_status", "email", "fr", "Bonjour")
        with pytest.raises(ValidationError, match=r"sms\.fr\.html: only an email has a html"):
            Template("repair_status", "sms", "fr", "Bonjour", html="<p>Bonjour</p>")

    @pytest.mark.parametrize(
        ("part", "source", "line"),
        [
            ("body", "Bonjour,\n\nVotre commande {{ data.order }\n", 3),
            ("html", "<p>\n<b>{{ party.name }</b>\n</p>", 2),
            ("subject", "Commande {{ data.order | }}", 1),
        ],
    )
    def test_a_syntax_error_is_refused_at_creation_naming_template_part_and_line(
        self, part: str, source: str, line: int
    ) -> None:
        parts = {"body": "Bonjour", "subject": "Commande", "html": None} | {part: source}
        with pytest.raises(ValidationError) as err:
            Template("repair_status", "email", "fr", **parts)  # type: ignore[arg-type]
        assert err.value.fields == [f"template.repair_status.email.fr.{part}"]
        assert f": line {line}: " in str(err.value)

    def test_an_unknown_filter_is_refused_at_creation_even_in_a_branch(self) -> None:
        with pytest.raises(ValidationError, match=r"body: line 2: no filter 'dat'"):
            sms("Bonjour\n{% if data.due %}{{ data.due | dat }}{% endif %}")

    def test_templates_are_values(self) -> None:
        assert sms("Bonjour") == sms("Bonjour")
        assert len({sms("Bonjour"), sms("Bonjour"), sms("Salut")}) == 2


class TestTemplateSet:
    @pytest.fixture
    def templates(self) -> TemplateSet:
        return TemplateSet(
            Template("repair_status", "sms", language, f"in {language}")
            for language in ("fr", "fr-CA", "en", "de-CH")
        )

    @pytest.mark.parametrize(
        ("asked", "default", "found"),
        [
            ("fr-CA", "en", "fr-CA"),
            ("fr-BE", "en", "fr"),  # fr-BE -> fr
            ("FR", "en", "fr"),
            ("it", "en", "en"),  # it -> the default
            ("it", "en-GB", "en"),  # it -> en-GB -> its parent
            ("de", "fr-CA", "fr-CA"),  # de-CH is no parent of de
        ],
    )
    def test_find_falls_back_to_the_parent_then_to_the_default_language(
        self, templates: TemplateSet, asked: str, default: str, found: str
    ) -> None:
        template = templates.find("repair_status", "sms", asked, default_language=default)
        assert template.language == found

    def test_nothing_found_names_the_template_channel_and_languages_tried(
        self, templates: TemplateSet
    ) -> None:
        with pytest.raises(TemplateNotFound) as err:
            templates.find("repair_status", "email", "fr-CA")
        assert isinstance(err.value, NotFound)
        assert str(err.value) == (
            "template 'repair_status' for channel 'email' not found in any of the "
            "languages tried: fr-CA, fr, en"
        )
        assert err.value.tried == ("fr-CA", "fr", "en")

    def test_find_refuses_an_unknown_language(self, templates: TemplateSet) -> None:
        with pytest.raises(ValidationError, match="language: unknown language 'xx'"):
            templates.find("repair_status", "sms", "xx")
        with pytest.raises(ValidationError, match="default_language: unknown language 'zz'"):
            templates.find("repair_status", "sms", "fr", default_language="zz")

    def test_a_second_template_of_one_name_channel_and_language_is_refused_naming_it(
        self, templates: TemplateSet
    ) -> None:
        with pytest.raises(ConfigurationError) as err:
            templates.add(Template("repair_status", "sms", "FR-ca", "encore"))
        assert str(err.value) == (
            "template 'repair_status' for channel 'sms' in 'fr-CA' is defined twice"
        )
        assert templates.find("repair_status", "sms", "fr-CA").body == "in fr-CA"

    def test_languages_and_names_are_listed_sorted(self, templates: TemplateSet) -> None:
        templates.add(Template("appointment", "sms", "fr", "x"))
        assert templates.languages("repair_status", "sms") == ("de-CH", "en", "fr", "fr-CA")
        assert templates.languages("repair_status", "email") == ()
        assert templates.names() == ("appointment", "repair_status")
        assert len(templates) == 5
        assert next(iter(templates)).name == "appointment"

    def test_from_directory_reads_the_documented_layout(self, tmp_path: Path) -> None:
        files = {
            "repair_status/email.fr.txt": "Bonjour {{ party.name }},\n",
            "repair_status/email.fr.html": "<p>Bonjour {{ party.name }},</p>\n",
            "repair_status/email.fr.subject": "Votre réparation {{ data.ticket }}\n",
            "repair_status/sms.fr.txt": "Réparation {{ data.ticket }} prête.\n",
            "repair_status/sms.en.txt": "Repair {{ data.ticket }} ready.\n",
            "repair_status/.email.fr.txt.swp": "an editor's file: ignored",
            "README.md": "the templates of the repair shop: ignored",
        }
        for name, text in files.items():
            (tmp_path / name).parent.mkdir(exist_ok=True)
            (tmp_path / name).write_text(text, encoding="utf-8")
        templates = TemplateSet.from_directory(tmp_path)
        assert len(templates) == 3
        assert templates.languages("repair_status", "sms") == ("en", "fr")
        email = templates.find("repair_status", "email", "fr")
        assert email.subject == "Votre réparation {{ data.ticket }}\n"
        assert email.html == "<p>Bonjour {{ party.name }},</p>\n"
        assert templates.find("repair_status", "sms", "fr").html is None
        assert templates.find("repair_status", "sms", "fr-CA").language == "fr"

    def test_from_directory_names_the_file_at_fault(self, tmp_path: Path) -> None:
        (tmp_path / "repair_status").mkdir()
        body = tmp_path / "repair_status" / "email.fr.txt"
        body.write_text("Bonjour", encoding="utf-8")
        (tmp_path / "repair_status" / "email.fr.subject").write_text("{% if %}", "utf-8")
        with pytest.raises(ValidationError, match=r"^repair_status/email\.fr\.subject: line 1"):
            TemplateSet.from_directory(tmp_path)
        (tmp_path / "repair_status" / "email.fr.subject").write_text("Réparation", "utf-8")
        (tmp_path / "repair_status" / "email.fr.htm").write_text("<p>", "utf-8")
        with pytest.raises(ValidationError, match=r"^repair_status/email\.fr\.htm: not a"):
            TemplateSet.from_directory(tmp_path)
        (tmp_path / "repair_status" / "email.fr.htm").unlink()
        body.unlink()
        with pytest.raises(ValidationError, match=r"email\.fr\.txt: missing: every template"):
            TemplateSet.from_directory(tmp_path)
        with pytest.raises(NotFound, match="template directory"):
            TemplateSet.from_directory(tmp_path / "nowhere")


REPAIR_STATUS = Template(
    "repair_status",
    "email",
    "fr",
    subject="Votre réparation\n{{ data.ticket }}\n",
    body=(
        "Bonjour {{ party.name }},\n\n"
        "Votre imprimante sera prête le {{ data.due | date }}.\n"
        "Montant : {{ data.amount | currency('EUR') }}.\n"
    ),
    html="<p>Bonjour {{ party.name }},</p>\n<p>Prête le {{ data.due | date }}.</p>\n",
)
DATA = {"ticket": "R-42", "due": dt.date(2027, 3, 12), "amount": Decimal("1234.50")}


class TestRender:
    def test_an_email_has_a_subject_on_one_line_a_text_part_and_an_html_part(self) -> None:
        rendered = render(REPAIR_STATUS, party={"name": "Marie Dupont"}, data=DATA)
        assert rendered == Rendered(
            name="repair_status",
            channel="email",
            language="fr",
            subject="Votre réparation R-42",
            text=(
                "Bonjour Marie Dupont,\n\n"
                "Votre imprimante sera prête le 12 mars 2027.\n"
                f"Montant : 1{NNBSP}234,50{NBSP}€."
            ),
            html="<p>Bonjour Marie Dupont,</p>\n<p>Prête le 12 mars 2027.</p>",
            sms=None,
        )

    def test_the_html_part_is_autoescaped_and_the_text_part_is_not(self) -> None:
        rendered = render(REPAIR_STATUS, party={"name": "<script>alert(1)</script>"}, data=DATA)
        assert rendered.text.startswith("Bonjour <script>alert(1)</script>,")
        assert rendered.html is not None
        assert rendered.html.startswith("<p>Bonjour &lt;script&gt;alert(1)&lt;/script&gt;,</p>")
        assert "<script>" not in rendered.html

    def test_an_email_without_html_has_a_text_part_only(self) -> None:
        template = Template("welcome", "email", "en", "Hello {{ party.name }}", subject="Hi")
        assert render(template, party={"name": "Ann"}).html is None

    @pytest.mark.parametrize(
        ("language", "date", "amount"),
        [
            ("fr", "12 mars 2027", f"1{NNBSP}234,50{NBSP}€"),
            ("en", "March 12, 2027", "€1,234.50"),
            ("de", "12. März 2027", f"1.234,50{NBSP}€"),
        ],
    )
    def test_dates_and_currencies_are_formatted_for_the_language(
        self, language: str, date: str, amount: str
    ) -> None:
        source = "{{ data.due | date }} / {{ data.amount | currency('EUR') }}"
        template = Template("r", "chat", language, source)
        assert render(template, party={}, data=DATA).text == f"{date} / {amount}"

    def test_a_more_specific_language_asked_gives_its_formats_another_one_does_not(
        self,
    ) -> None:
        template = Template("r", "chat", "fr", "{{ data.amount | currency('CAD') }}")
        assert render(template, party={}, data=DATA).text == f"1{NNBSP}234,50{NBSP}$CA"
        canadian = render(template, party={}, data=DATA, language="fr-CA")
        assert canadian.text == f"1{NBSP}234,50{NBSP}$"
        assert canadian.language == "fr"  # the language of the text
        # a German asker given the French fallback: French text, French numbers
        assert render(template, party={}, data=DATA, language="de").text.endswith("$CA")

    @pytest.mark.parametrize(
        ("source", "expected"),
        [
            ("{{ data.due | date('short') }}", "12/03/2027"),
            ("{{ data.due | date('full') }}", "vendredi 12 mars 2027"),
            ("{{ '2027-03-12' | date }}", "12 mars 2027"),
            ("{{ data.at | date }}", "13 mars 2027"),  # 23:30 UTC is the 13th in Paris
            ("{{ data.at | datetime }}", "13 mars 2027, 00:30:00"),
            ("{{ data.at | time }}", "00:30"),
            ("{{ '2027-03-12T23:30:00+00:00' | time }}", "00:30"),
            ("{{ data.wall | time }}", "09:05"),  # a time of day is shown as it is
            ("{{ data.count | number }}", f"1{NNBSP}234{NNBSP}567,891"),
            ("{{ '1234.5' | number }}", f"1{NNBSP}234,5"),
            ("{{ 0.255 | percent }}", f"26{NBSP}%"),
            ("{{ 12 | currency('usd') }}", f"12,00{NBSP}$US"),
        ],
    )
    def test_the_filters_in_french_in_paris(self, source: str, expected: str) -> None:
        template = Template("r", "chat", "fr", source)
        data = {
            "due": dt.date(2027, 3, 12),
            "at": dt.datetime(2027, 3, 12, 23, 30),  # naive: UTC
            "wall": dt.time(9, 5),
            "count": 1234567.891,
        }
        assert render(template, party={}, data=data, time_zone="Europe/Paris").text == expected

    def test_an_aware_datetime_is_converted_to_the_time_zone(self) -> None:
        at = dt.datetime(2027, 7, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
        template = Template("r", "chat", "fr", "{{ data.at | time }}")
        assert render(template, party={}, data={"at": at}, time_zone="Europe/Paris").text == "18:00"
        assert render(template, party={}, data={"at": at}).text == "16:00"  # UTC

    @pytest.mark.parametrize(
        ("source", "reason"),
        [
            ("{{ 1 | currency('XYZ') }}", "currency: 'XYZ' is not an ISO 4217 currency code"),
            ("{{ 'douze' | number }}", "number: 'douze' is not a number"),
            ("{{ true | number }}", "number: expects a number or a numeric string, got bool"),
            ("{{ 'NaN' | percent }}", "percent: 'NaN' is not a finite number"),
            ("{{ 20270312 | date }}", "date: expects a date, a datetime or an ISO 8601"),
            ("{{ '12/03/2027' | date }}", "date: '12/03/2027' is not an ISO 8601 date"),
            ("{{ data.due | date('lon') }}", "date: format 'lon' is not one of short, medium,"),
        ],
    )
    def test_a_filter_refuses_what_it_cannot_format(self, source: str, reason: str) -> None:
        error = fails(Template("r", "chat", "fr", source), data=DATA)
        assert str(error).startswith(f"template.r.chat.fr.body: line 1: {reason}")

    @pytest.mark.parametrize(
        ("source", "missing"),
        [
            ("Commande {{ data.order_number }}", "data.order_number is undefined"),
            ("{{ party.address.city }}", "party.address.city is undefined"),
            ("{% if preferences.newsletter %}x{% endif %}", "preferences.newsletter is undefined"),
            ("{{ ticket }}", "'ticket' is undefined (a template sees party, data and"),
        ],
    )
    def test_an_undefined_variable_is_an_error_naming_it(self, source: str, missing: str) -> None:
        """The caller's data is under ``data`` only: it is not spread at the top level."""
        error = fails(Template("r", "chat", "fr", f"Bonjour\n\n{source}"), party={"address": {}})
        assert error.fields == ["template.r.chat.fr.body"]
        assert str(error).startswith(f"template.r.chat.fr.body: line 3: {missing}")

    def test_an_optional_variable_is_tested_or_given_a_default(self) -> None:
        template = sms("{{ data.ticket | default('?') }}{% if data.due is defined %}!{% endif %}")
        assert render(template, party={}).text == "?"

    @pytest.mark.parametrize(
        "source",
        [
            "{{ party.__class__.__mro__ }}",
            "{{ ''.__class__ }}",
            "{{ ''.__class__.__base__.__subclasses__() }}",
            "{{ party.items.__self__ }}",
            "{{ data.lines.append('hacked') }}",
            "{{ data.__init__.__globals__ }}",
            "{{ 9 ** 999999 }}",
            "{{ 'x' * 1000000000 }}",
        ],
    )
    def test_the_sandbox_refuses_and_never_executes(self, source: str) -> None:
        lines = ["ordered"]
        error = fails(Template("r", "chat", "fr", source), data={"lines": lines})
        assert str(error).startswith("template.r.chat.fr.body: line 1: refused by the sandbox")
        assert lines == ["ordered"]

    def test_an_unknown_time_zone_is_refused(self) -> None:
        for zone in ("Mars/Olympus_Mons", "", "../../etc/passwd"):
            error = fails(REPAIR_STATUS, data=DATA, time_zone=zone)
            assert error.fields == ["time_zone"]

    def test_an_unknown_language_asked_is_refused(self) -> None:
        assert fails(REPAIR_STATUS, data=DATA, language="klingon").fields == ["language"]

    def test_an_empty_subject_is_refused(self) -> None:
        template = Template("r", "email", "fr", "x", subject="{{ data.title }}")
        error = fails(template, data={"title": "\n \n"})
        assert str(error) == "template.r.email.fr.subject: the subject is empty"

    def test_party_data_and_preferences_are_mappings(self) -> None:
        with pytest.raises(ValidationError, match="data: a mapping is expected, not list"):
            render(REPAIR_STATUS, party={}, data=[1, 2])  # type: ignore[arg-type]

    def test_preferences_are_seen_by_the_template(self) -> None:
        template = sms("{% if preferences.formal %}Madame{% else %}Marie{% endif %}")
        assert render(template, party={}, preferences={"formal": True}).text == "Madame"

    def test_an_sms_is_counted_and_keeps_babels_numbers_in_gsm_7(self) -> None:
        rendered = render(sms("Total : {{ data.amount | currency('EUR') }}"), party={}, data=DATA)
        assert rendered.text == "Total : 1 234,50 €"
        assert rendered.sms == SmsLength("GSM-7", units=19, segments=1)


# -- SMS length ---------------------------------------------------------------------------
GSM = (  # GSM 03.38, row by row, less the escape to the extension table
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
EXTENSION = "\f^{}\\[~]|€"


class TestSmsLength:
    @pytest.mark.parametrize(
        ("length", "segments"), [(0, 0), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3)]
    )
    def test_gsm_7_is_one_segment_to_160_septets_then_153_each(
        self, length: int, segments: int
    ) -> None:
        assert sms_length("a" * length) == SmsLength("GSM-7", length, segments)

    def test_the_extension_characters_count_two_septets(self) -> None:
        assert sms_length(EXTENSION) == SmsLength("GSM-7", 20, 1)
        assert sms_length("€" * 80).segments == 1
        assert sms_length("€" * 80 + "a").segments == 2

    @pytest.mark.parametrize(("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3)])
    def test_one_e_circumflex_makes_it_ucs_2_of_70_then_67_a_segment(
        self, length: int, segments: int
    ) -> None:
        assert sms_length("ê" + "a" * (length - 1)) == SmsLength("UCS-2", length, segments)

    def test_an_emoji_is_two_ucs_2_units(self) -> None:
        assert sms_length("Merci 🙂") == SmsLength("UCS-2", 8, 1)

    def test_french_accents_are_gsm_7_except_c_cedilla_circumflexes_and_more(self) -> None:
        assert sms_length("Réparation terminée à 15h, où ? Ç").encoding == "GSM-7"
        for letter in "çêâîôûëïœ«»\u2019":
            assert sms_length(f"Re{letter}u").encoding == "UCS-2", letter

    def test_the_whole_gsm_table_is_gsm_7(self) -> None:
        assert len(GSM) == 127  # 128 positions less the escape to the extension table
        assert sms_length(GSM) == SmsLength("GSM-7", 127, 1)
        assert sms_length("\x1b").encoding == "UCS-2"


def reference_segments(text: str) -> int:
    """The rule, written plainly."""
    if all(c in GSM or c in EXTENSION for c in text):
        septets = sum(2 if c in EXTENSION else 1 for c in text)
        single, each, units = 160, 153, septets
    else:
        single, each, units = 70, 67, sum(2 if ord(c) > 0xFFFF else 1 for c in text)
    if units == 0:
        return 0
    return 1 if units <= single else math.ceil(units / each)


# mostly GSM, sometimes not: long texts in both encodings, near the boundaries
SMS_CHARACTERS = st.one_of(
    st.sampled_from(GSM),
    st.sampled_from(GSM),
    st.sampled_from(GSM),
    st.sampled_from(EXTENSION),
    st.sampled_from("êçâ中€🙂👍🏽"),
    st.characters(codec="utf-8"),
)
SMS_TEXTS = st.text(SMS_CHARACTERS, max_size=400)


@given(SMS_TEXTS)
def test_segments_follow_the_rule(text: str) -> None:
    assert sms_length(text).segments == reference_segments(text)


@given(SMS_TEXTS, SMS_CHARACTERS)
def test_appending_a_character_never_lowers_the_segments(text: str, char: str) -> None:
    assert sms_length(text + char).segments >= sms_length(text).segments


def test_a_plugins_default_templates_fill_only_the_names_an_application_lacks() -> None:
    mine = TemplateSet([Template("welcome", "email", "en", body="Hi from us", subject="Hi")])
    plugin = [
        Template("welcome", "sms", "fr", body="Bienvenue"),
        Template("survey", "email", "en", body="How was it?", subject="Survey"),
    ]
    merged = mine.with_defaults(plugin)
    assert merged.names() == ("survey", "welcome")
    # the application's "welcome" wins whole: the plugin's SMS version is not added
    assert [(t.name, t.channel) for t in merged] == [("survey", "email"), ("welcome", "email")]
    assert len(mine) == 1  # a new set; the application's is unchanged
