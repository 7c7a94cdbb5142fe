"""A phone number libphonenumber judges invalid no longer costs the whole row.

``xrm import`` (both paths) and ``Phone(..., keep_invalid=True)`` keep it as written, with
``valid=False`` and its digits as its key, and say so in a warning per line
(``tests/test_cli_import_files.py`` has the command's). Such a
number is never primary, never used to recognise the party (import, duplicate search) and
never contacted. Without ``keep_invalid``, the services refuse it as before; a local number
whose country is unknown is refused either way (it may be valid once its region is given).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from xrm import XRM, Phone, ValidationError


def test_the_services_refuse_an_invalid_number_unless_asked_to_keep_it(app: XRM) -> None:
    with app.session() as s:
        with pytest.raises(ValidationError, match=r"contact_points\.0\.value.*not a valid phone"):
            s.parties.create("person", "Ann", contact_points=[Phone("+33 1 23")])
        ann = s.parties.create(
            "person", "Ann", contact_points=[Phone("+33 1 23", keep_invalid=True, primary=True)]
        )
        (kept,) = ann.contact_points
        assert (kept.value, kept.key, kept.valid, kept.primary) == (
            "+33 1 23",
            "33123",
            False,
            False,
        )
        # a valid number given later is the primary one
        s.parties.add_contact_point(ann, Phone("06 12 34 56 78"))
        assert s.parties.get(ann).primary("phone").key == "+33612345678"  # type: ignore[union-attr]
        assert [c.valid for c in s.parties.get(ann).contact_points] == [False, True]


def test_a_local_number_of_unknown_country_is_refused_even_when_kept(
    xrm_factory: Callable[..., XRM],
) -> None:
    app = xrm_factory(default_region=None)
    with app.session() as s, pytest.raises(ValidationError, match="set a default region"):
        s.parties.create("person", "Ann", contact_points=[Phone("06 12 34", keep_invalid=True)])


def test_an_import_keeps_an_invalid_number_with_a_warning_on_both_paths(app: XRM) -> None:
    rows = [
        {"name": "Ann", "phones": ["06 12"], "emails": ["ann@example.com"]},
        {"name": "Bob", "phones": ["06 12 34 56 78"]},
    ]
    with app.session() as s:
        bulk = s.imports.import_many(rows)
        assert [r.outcome for r in bulk] == ["created", "created"]
        (warning,) = bulk[0].warnings
        assert warning.startswith("phones.0: '06 12' is not a valid phone number for FR")
        assert warning.endswith("kept as written, not used to recognise the party or contacted")
        assert bulk[1].warnings == ()
        ann = s.parties.get(bulk[0].party_id)  # type: ignore[arg-type]
        assert [(c.key, c.valid) for c in ann.contact_points if c.kind == "phone"] == [
            ("0612", False)
        ]
        # the one-at-a-time path: a row completing a known party
        outcome, same = s.imports.import_one(
            {"name": "Ann", "emails": ["ann@example.com"], "phones": ["+33 1"]}
        )
        assert (outcome, same) == ("updated", ann.id)


def test_an_invalid_number_recognises_no_one_and_pairs_no_one(app: XRM) -> None:
    with app.session() as s:
        first = s.imports.import_many([{"name": "Ann Leroy", "phones": ["12345"]}])
        second = s.imports.import_many([{"name": "Zoe Martin", "phones": ["12345"]}])
        _, third = s.imports.import_one({"name": "Max Petit", "phones": ["12345"]})
        ids = {first[0].party_id, second[0].party_id, third}
        assert len(ids) == 3  # three parties, not one recognised by the shared digits
        assert s.identity.duplicates() == []


def test_an_invalid_number_is_never_contacted(app: XRM) -> None:
    with app.session() as s:
        ann = s.parties.create(
            "person", "Ann", contact_points=[Phone("+33 1 23", keep_invalid=True)]
        )
        s.consents.grant(ann, "marketing", source="web")
        decision = s.consents.check(ann, "marketing", "sms", "+33 1 23")
        assert (decision.allowed, decision.rule) == (False, "invalid")
        assert list(s.consents.audience("marketing", "sms")) == []
        assert s.gdpr.export(ann)["party"]["contact_points"][0]["valid"] is False
