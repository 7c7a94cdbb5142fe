"""Partner communications rest on the partner agreement: allowed while the party is a
current partner, refused once the partnership ended."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import xrm_partners
from partners_support import partner

from xrm import XRM, ConsentRequired, Email, Party, Session
from xrm.testing import unchanged

PURPOSE = "partner_communications"


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    return xrm_factory(plugins=[xrm_partners], discover=False)


def programme_news(s: Session, to: Party) -> None:
    s.interactions.record(
        channel="email",
        direction="outbound",
        purpose=PURPOSE,
        touchpoint="partner_management",
        subject="Your commission statement",
        participants=[(to, "recipient")],
    )


@pytest.mark.parametrize("state", ["applicant", "active", "suspended"])
def test_a_current_partner_may_be_sent_partner_communications_without_consent(
    app: XRM, state: str
) -> None:
    with app.session() as s:
        acme, _ = partner(s, "ACME", state=state)
        s.parties.add_contact_point(acme, Email("partners@acme.example"))
        decision = s.consents.check(acme, PURPOSE, "email")
        programme_news(s, acme)
        (sent,) = s.interactions.of(acme, touchpoint="partner_management")
    assert (decision.allowed, decision.rule) == (True, "contract")
    assert (sent.purpose, sent.direction) == (PURPOSE, "outbound")


def test_partner_communications_are_refused_once_the_partnership_ended(app: XRM) -> None:
    with app.session() as s:
        acme, role = partner(s, "ACME")
        s.parties.add_contact_point(acme, Email("partners@acme.example"))
        s.roles.transition(role, "ended")
    with app.session() as s:
        decision = s.consents.check(acme, PURPOSE, "email")
    assert (decision.allowed, decision.rule) == (False, "basis_ended")
    assert "needs a current 'partner' role" in decision.reason
    with unchanged(app), pytest.raises(ConsentRequired) as err, app.session() as s:
        programme_news(s, acme)
    assert (err.value.party_id, err.value.purpose, err.value.channel) == (acme.id, PURPOSE, "email")


def test_a_party_that_never_was_a_partner_gets_none(app: XRM) -> None:
    with app.session() as s:
        acme = s.parties.create("organization", "ACME")
        s.roles.assign(acme, "customer")
        assert s.consents.check(acme, PURPOSE, "email").rule == "basis_ended"


def test_the_audience_is_every_current_partner_and_no_one_else(app: XRM) -> None:
    with app.session() as s:
        ids = {}
        for name in ("current", "suspended", "ended", "customer"):
            party = s.parties.create(
                "organization", name, contact_points=[Email(f"{name}@example.com")]
            )
            ids[name] = party.id
        for name in ("current", "suspended", "ended"):
            role = s.roles.assign(
                ids[name], "partner", state="active", attributes={"partner_type": "service"}
            )
            if name != "current":
                s.roles.transition(role, name)
        s.roles.assign(ids["customer"], "customer")
        audience = {m.value for m in s.consents.audience(PURPOSE, "email")}
    assert audience == {"current@example.com", "suspended@example.com"}
