"""Preferences (``s.preferences``): a party's language, time zone and quiet hours, and per
purpose its preferred channel and frequency cap; on the timeline when changed, in the
export, gone with erasure, carried by a merge and given back by its undoing."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xrm import XRM, Email, Preferences, ValidationError
from xrm.core.nouns.preferences import (
    FrequencyCap,
    QuietHours,
    parse_cap,
    parse_language,
    parse_quiet_hours,
)
from xrm.testing import snapshot


def test_a_party_without_preferences_has_none_and_the_defaults_apply(app: XRM) -> None:
    with app.session() as s:
        marie = s.parties.create("person", "Marie Dupont")
        prefs = s.preferences.get(marie)
    assert (prefs.language, prefs.time_zone, prefs.quiet_hours) == (None, None, None)
    assert prefs.channels == {} and prefs.caps == {}


def test_preferences_set_are_read_back_and_what_is_not_given_is_kept(app: XRM) -> None:
    with app.session() as s:
        marie = s.parties.create("person", "Marie Dupont")
        s.preferences.set(marie, language="fr-fr", time_zone="Europe/Paris",
                          quiet_hours="21:00-08:00", channels={"service": "sms"},
                          caps={"marketing": "2/7d"})  # fmt: skip
        s.preferences.set(marie, channels={"marketing": "email"})
    with app.session() as s:
        prefs = s.preferences.get(marie)
    assert prefs.language == "fr-FR"  # Babel's spelling of the tag
    assert prefs.time_zone == "Europe/Paris"
    assert prefs.quiet_hours == QuietHours(dt.time(21), dt.time(8))
    assert prefs.channels == {"service": "sms", "marketing": "email"}
    assert prefs.caps == {"marketing": FrequencyCap(2, 7)}


def test_none_clears_a_preference_and_a_party_with_none_left_keeps_no_row(app: XRM) -> None:
    with app.session() as s:
        marie = s.parties.create("person", "Marie Dupont")
    empty = snapshot(app)
    with app.session() as s:
        s.preferences.set(marie, language="fr", quiet_hours="22:00-07:30",
                          channels={"service": "sms"}, caps={"service": (3, 1)})  # fmt: skip
        s.preferences.set(marie, language=None, quiet_hours=None,
                          channels={"service": None}, caps={"service": None})  # fmt: skip
        assert s.preferences.get(marie).as_json() == {
            "language": None, "time_zone": None, "quiet_hours": None, "channels": {}, "caps": {},
        }  # fmt: skip
    after = snapshot(app)
    assert after["party_preference"] == empty["party_preference"] == []
    assert after["party_purpose_preference"] == []


def test_each_change_is_one_event_on_the_timeline_naming_what_changed(app: XRM) -> None:
    with app.session() as s:
        marie = s.parties.create("person", "Marie Dupont")
        s.preferences.set(marie, language="fr", channels={"marketing": "sms"})
        s.preferences.set(marie, language="fr")  # no change: no event
        s.preferences.set(marie, language="en", caps={"marketing": "1/30"})
        events = s.timeline(marie, types=["party.preferences_changed"]).items
    assert [e.data["changes"] for e in reversed(events)] == [
        {"language": {"from": None, "to": "fr"},
         "channels.marketing": {"from": None, "to": "sms"}},
        {"language": {"from": "fr", "to": "en"},
         "caps.marketing": {"from": None, "to": {"count": 1, "days": 30}}},
    ]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "path", "reason"), [
    ({"language": "klingon-xx"}, "language", "not a language tag"),
    ({"language": "fr-ZZ"}, "language", "unknown language"),
    ({"time_zone": "Europe/Atlantis"}, "time_zone", "not an IANA time zone"),
    ({"quiet_hours": "21h-8h"}, "quiet_hours", "HH:MM-HH:MM"),
    ({"quiet_hours": "08:00-08:00"}, "quiet_hours", "same time"),
    ({"channels": {"gossip": "sms"}}, "channels.gossip", "unknown purpose"),
    ({"channels": {"marketing": "pigeon"}}, "channels.marketing", "unknown channel"),
    ({"caps": {"marketing": "0/7"}}, "caps.marketing", "1 to 1000"),
    ({"caps": {"marketing": "often"}}, "caps.marketing", "COUNT/DAYS"),
])  # fmt: skip
def test_bad_preferences_are_refused_naming_the_field_and_nothing_is_written(
    app: XRM, kwargs: dict[str, object], path: str, reason: str
) -> None:
    with app.session() as s:
        marie = s.parties.create("person", "Marie Dupont")
        s.preferences.set(marie, language="fr")
    before = snapshot(app)
    with app.session() as s, pytest.raises(ValidationError) as caught:
        s.preferences.set(marie, **{"language": "en", **kwargs})  # type: ignore[arg-type]
    assert [e.path for e in caught.value.errors] == [path]
    assert reason in str(caught.value)
    assert snapshot(app) == before


def test_the_export_holds_the_preferences_and_erasure_removes_them(app: XRM) -> None:
    with app.session() as s:
        marie = s.parties.create("person", "Marie Dupont")
        s.preferences.set(marie, language="fr", time_zone="Europe/Paris",
                          channels={"service": "sms"}, caps={"marketing": "2/7"})  # fmt: skip
        exported = s.gdpr.export(marie)["preferences"]
        report = s.gdpr.erase(marie, reason="the party asked")
        assert s.gdpr.export(marie)["preferences"]["language"] is None
    assert exported == {
        "language": "fr", "time_zone": "Europe/Paris", "quiet_hours": None,
        "channels": {"service": "sms"}, "caps": {"marketing": {"count": 2, "days": 7}},
    }  # fmt: skip
    assert report.preferences == 3
    left = snapshot(app)
    assert left["party_preference"] == left["party_purpose_preference"] == []
    assert "Europe/Paris" not in repr(left)  # not in the scrubbed journal either


def test_a_merge_fills_what_the_survivor_did_not_state_and_unmerge_takes_it_back(
    app: XRM,
) -> None:
    with app.session() as s:
        a = s.parties.create("person", "Marie Dupont", contact_points=[Email("m@example.com")])
        b = s.parties.create("person", "Marie Dupont", contact_points=[Email("m@example.fr")])
        s.preferences.set(a, language="fr", channels={"service": "email"})
        s.preferences.set(b, language="en", time_zone="Europe/Paris", quiet_hours="21:00-08:00",
                          channels={"service": "sms", "marketing": "sms"},
                          caps={"marketing": "1/7"})  # fmt: skip
    before = snapshot(app)
    with app.session() as s:
        s.identity.merge(a, b)
        merged = s.preferences.get(a)
        assert s.preferences.get(b) == merged  # read through the merge
    assert merged.language == "fr"  # the survivor's own statement wins
    assert merged.time_zone == "Europe/Paris" and str(merged.quiet_hours) == "21:00-08:00"
    assert merged.channels == {"service": "email", "marketing": "sms"}
    assert merged.caps == {"marketing": FrequencyCap(1, 7)}
    with app.session() as s:
        s.identity.unmerge(b)
        assert s.preferences.get(a).as_json() == {
            "language": "fr", "time_zone": None, "quiet_hours": None,
            "channels": {"service": "email"}, "caps": {},
        }  # fmt: skip
    after = snapshot(app)
    for table in ("party_preference", "party_purpose_preference"):
        assert sorted(map(repr, after[table])) == sorted(map(repr, before[table]))


@given(
    start=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    end=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    moment=st.times(),
)
def test_quiet_hours_hold_a_moment_as_a_minute_by_minute_clock_says(
    start: dt.time, end: dt.time, moment: dt.time
) -> None:
    if start == end:
        return
    window = parse_quiet_hours(f"{start:%H:%M}-{end:%H:%M}")
    minute = moment.hour * 60 + moment.minute
    quiet = set()
    m = start.hour * 60 + start.minute
    while m != end.hour * 60 + end.minute:
        quiet.add(m)
        m = (m + 1) % 1440
    assert (moment in window) == (minute in quiet)


def test_caps_and_languages_read_the_usual_spellings() -> None:
    assert parse_cap("2/7d") == parse_cap("2 / 7") == parse_cap((2, 7)) == FrequencyCap(2, 7)
    assert str(FrequencyCap(2, 7)) == "2/7d"
    assert parse_language("pt_BR") == "pt-BR"
    assert parse_language("zh-Hant-TW") == "zh-Hant-TW"


def test_the_examples_in_docs_messaging_run_as_written(app: XRM) -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "messaging.md").read_text()
    prefs_block, templates_block = re.findall(r"```python\n(.*?)```", text, re.S)[:2]
    with app.session() as s:
        marie = s.parties.create("person", "Marie Dupont")
    scope: dict[str, object] = {"app": app, "marie": marie}
    exec(prefs_block, scope)
    prefs = scope["prefs"]
    assert isinstance(prefs, Preferences)
    assert (prefs.language, str(prefs.quiet_hours), prefs.caps) == (
        "fr-FR",
        "21:00-08:00",
        {"marketing": FrequencyCap(2, 7)},
    )
    with app.session() as s:
        assert s.preferences.get(marie).quiet_hours is None  # the last line cleared it
    exec(templates_block, {})  # its own asserts


def test_an_import_sets_the_preferences_of_a_new_party_and_completes_a_known_one(
    app: XRM,
) -> None:
    with app.session() as s:
        known = s.parties.create(
            "person", "Marie Dupont", contact_points=[Email("m@example.com")]
        ).id
        s.preferences.set(known, language="fr")
    rows = [
        {"name": "Jean Martin", "emails": ["j@example.com"],
         "preferences": {"language": "en", "time_zone": "Europe/London",
                         "channels": {"service": "email"}, "caps": {"marketing": "1/30d"}}},
        {"name": "Marie Dupont", "emails": ["M@Example.com"],
         "preferences": {"language": "en", "time_zone": "Europe/Paris"}},
        {"name": "Bad Row", "emails": ["b@example.com"],
         "preferences": {"quiet_hours": "soon"}},
    ]  # fmt: skip
    with app.session() as s:
        new, completed, bad = s.imports.import_many(rows)
        assert (new.outcome, completed.outcome, completed.party_id) == ("created", "updated", known)
        assert bad.error is not None and bad.error.fields == ["preferences.quiet_hours"]
        jean = s.preferences.get(new.party_id)  # type: ignore[arg-type]
        marie = s.preferences.get(known)
        assert s.parties.find_ids(email="b@example.com") == []  # the bad row wrote nothing
    assert (jean.language, jean.time_zone, jean.channels) == (
        "en", "Europe/London", {"service": "email"}
    )  # fmt: skip
    assert jean.caps == {"marketing": FrequencyCap(1, 30)}
    assert (marie.language, marie.time_zone) == ("fr", "Europe/Paris")  # her word stands


def test_clearing_what_a_party_never_stated_writes_nothing(app: XRM) -> None:
    with app.session() as s:
        marie = s.parties.create("person", "Marie Dupont")
    before = snapshot(app)
    with app.session() as s:
        prefs = s.preferences.set(marie, language=None, quiet_hours=None,
                                  channels={"service": None}, caps={"marketing": None})  # fmt: skip
    assert prefs == Preferences(party_id=marie.id)
    assert snapshot(app) == before
