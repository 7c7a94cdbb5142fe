"""A suppressed address is never a party's primary one, and never chosen for sending.

Whatever happens to a party's points (added, suppressed, unsuppressed, removed, made
primary, or suppressed because another party holding the address was erased), each kind
whose points are not all suppressed has exactly one primary point, and it is reachable;
a kind whose points are all suppressed has none.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xrm import XRM, ConsentRequired, Email, Party, Phone, ValidationError
from xrm.errors import XRMError


def assert_primaries_reachable(party: Party) -> None:
    for kind in {c.kind for c in party.contact_points}:
        points = [c for c in party.contact_points if c.kind == kind]
        primaries = [c for c in points if c.primary]
        assert all(not c.suppressed for c in primaries), f"a suppressed {kind} is primary"
        reachable = [c for c in points if not c.suppressed]
        assert len(primaries) == (1 if reachable else 0), (kind, points)


def test_suppressing_the_primary_email_makes_the_next_reachable_one_primary(app: XRM) -> None:
    with app.session() as s:
        p = s.parties.create(
            "person", "Marie", contact_points=[Email("a@example.com"), Email("b@example.com")]
        )
        first, _ = p.contact_points
        assert first.primary
        s.consents.suppress(p, first, reason="bounced")
        after = s.parties.get(p)
        assert [c.primary for c in after.contact_points] == [False, True]
        assert after.primary("email") == after.contact_points[1]
        # a suppressed point cannot be made primary again by hand
        with pytest.raises(ValidationError, match="suppressed"):
            s.parties.set_primary(p, first)
        # unsuppressed, it is reachable again, but the primary stays where it is
        s.consents.unsuppress(p, first, reason="mailbox fixed")
        assert [c.primary for c in s.parties.get(p).contact_points] == [False, True]


def test_a_party_whose_only_phone_is_suppressed_has_no_primary_phone_and_gets_no_sms(
    app: XRM,
) -> None:
    with app.session() as s:
        p = s.parties.create("person", "Marie", contact_points=[Phone("06 12 34 56 78")])
        s.consents.grant(p, "marketing", source="web form")
        s.consents.suppress(p, p.contact_points[0], reason="reported as spam")
        assert s.parties.get(p).primary("phone") is None
        with pytest.raises(ConsentRequired, match="suppressed"):
            s.interactions.record(
                channel="sms", direction="outbound", purpose="marketing",
                participants=[(p, "recipient")],
            )  # fmt: skip


def test_an_address_suppressed_by_an_erasure_stops_being_primary_for_its_other_holders(
    app: XRM,
) -> None:
    with app.session() as s:
        shared = Email("family@example.com")
        erased = s.parties.create("person", "Paul", contact_points=[shared])
        other = s.parties.create(
            "person", "Anne", contact_points=[shared, Email("anne@example.com")]
        )
        s.gdpr.erase(erased, reason="asked by letter")
        anne = s.parties.get(other)
        assert [(c.value, c.suppressed, c.primary) for c in anne.contact_points] == [
            ("family@example.com", True, False),
            ("anne@example.com", False, True),
        ]


def test_an_imported_suppressed_address_is_not_made_primary(app: XRM) -> None:
    with app.session() as s:
        s.gdpr.erase(
            s.parties.create("person", "Old", contact_points=[Email("old@example.com")]),
            reason="asked",
        )
        rows = [{"kind": "person", "display_name": "New",
                 "emails": ["old@example.com", "new@example.com"]}]  # fmt: skip
        (result,) = s.imports.import_many(rows)
        new = s.parties.get(result.party_id or 0)
        assert [(c.value, c.primary) for c in new.contact_points] == [
            ("old@example.com", False),
            ("new@example.com", True),
        ]
        assert_primaries_reachable(new)


EMAILS = [f"p{i}@example.com" for i in range(4)]
OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "add_primary", "suppress", "unsuppress", "remove", "primary"]),
        st.integers(0, 3),
    ),
    max_size=12,
)


@given(ops=OPS)
def test_property_every_reachable_kind_has_one_reachable_primary(
    app: XRM, ops: list[tuple[str, int]]
) -> None:
    with app.session() as s:
        party = s.parties.create("person", "P", contact_points=[Email(EMAILS[0])])
        for op, i in ops:
            points = s.parties.get(party).contact_points
            point: Any = points[i % len(points)] if points else None
            try:
                with s.atomic():
                    if op in ("add", "add_primary"):
                        s.parties.add_contact_point(
                            party, Email(EMAILS[i], primary=op == "add_primary")
                        )
                    elif point is None:
                        continue
                    elif op == "suppress":
                        s.consents.suppress(party, point, reason="bounced")
                    elif op == "unsuppress":
                        s.consents.unsuppress(party, point, reason="fixed")
                    elif op == "remove":
                        s.parties.remove_contact_point(party, point)
                    else:
                        s.parties.set_primary(party, point)
            except XRMError:
                pass  # a refused step (a duplicate address, a suppressed primary) changes nothing
            assert_primaries_reachable(s.parties.get(party))
