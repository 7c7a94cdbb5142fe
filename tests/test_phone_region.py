"""A local phone number is read in the country of the party's postal address.

A Spanish customer writes ``666 666 666``: with an address in Spain the number is
``+34 666 666 666``, whatever the application's default region (``FR`` here). A number
with a region of its own, or an import row's ``region``, still comes first; without an
address, the default region reads it.
"""

from __future__ import annotations

from xrm import XRM, Phone, PostalAddress

MADRID = PostalAddress(lines=["Calle Mayor 1"], postcode="28013", city="Madrid", country="es")


def keys(party: object) -> list[str]:
    return [c.key for c in party.contact_points if c.kind == "phone"]  # type: ignore[attr-defined]


def test_create_reads_a_local_number_in_the_country_of_the_address(app: XRM) -> None:
    with app.session() as s:
        ana = s.parties.create("person", "Ana", contact_points=[Phone("666 666 666"), MADRID])
        assert keys(ana) == ["+34666666666"]
        assert ana.contact_points[0].country == "ES"
        # an explicit region still wins; no address: the default region (FR)
        own = s.parties.create(
            "person", "B", contact_points=[Phone("06 12 34 56 78", region="FR"), MADRID]
        )
        assert keys(own) == ["+33612345678"]
        assert keys(s.parties.create("person", "C", contact_points=[Phone("06 12 34 56 78")])) == [
            "+33612345678"
        ]


def test_a_number_added_later_is_read_in_the_country_of_the_stored_address(app: XRM) -> None:
    with app.session() as s:
        ana = s.parties.create("person", "Ana", contact_points=[MADRID])
        s.parties.add_contact_point(ana, Phone("666 666 666"))
        assert keys(s.parties.get(ana)) == ["+34666666666"]
        # and the number is found however it is written
        assert s.parties.find(phone="+34 666 666 666")[0].id == ana.id


def test_import_reads_it_so_on_both_paths_and_recognises_the_party_again(app: XRM) -> None:
    row = {
        "kind": "person", "display_name": "Ana", "phones": ["666 666 666"],
        "contact_points": [MADRID.model_dump()],
    }  # fmt: skip
    with app.session() as s:
        (one,) = s.imports.import_many([row])  # the bulk path
        assert keys(s.parties.get(one.party_id or 0)) == ["+34666666666"]
        outcome, again = s.imports.import_one(row)  # the row-by-row path recognises her
        assert (outcome, again) == ("unchanged", one.party_id)
        with_region = {**row, "display_name": "Other", "phones": ["06 11 22 33 44"], "region": "FR"}
        (other,) = s.imports.import_many([with_region])
        assert keys(s.parties.get(other.party_id or 0)) == ["+33611223344"]
