"""What the campaigns tests share: an application with the plugin (and the sales plugin
for attribution), the plugin's templates plus a ``promo`` template on email and SMS, a
recording transport, and a few parties."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
import xrm_campaigns
import xrm_employees
import xrm_sales

from xrm import XRM, Email, Envelope, Party, Phone, Session, Template, TemplateSet, Transport
from xrm import segments as seg

PROMO = [
    Template("promo", "email", "en", subject="Spring offers, {{ party.name }}",
             body="Hello {{ party.name }}, {{ data.offer }}"),
    Template("promo", "sms", "en", body="{{ data.offer }}"),
    Template("promo_b", "email", "en", subject="Only for you, {{ party.name }}",
             body="Dear {{ party.name }}, {{ data.offer }}"),
]  # fmt: skip

PEOPLE = seg.Kind(kind="person")


class Recorder(Transport):
    """A transport that remembers what it was given."""

    def __init__(self, channels: tuple[str, ...] = ("email", "sms")) -> None:
        self.name = "recorder"
        self.channels = channels
        self.sent: list[Envelope] = []

    def send(self, envelope: Envelope) -> str | None:
        self.sent.append(envelope)
        return f"id-{envelope.message_id}"


def campaigns_app(
    xrm_factory: Callable[..., XRM], recorder: Recorder | None = None,
    extra: Sequence[object] = (),
) -> XRM:  # fmt: skip
    return xrm_factory(
        plugins=[xrm_campaigns, xrm_sales, xrm_employees, *extra],
        discover=False,
        templates=xrm_campaigns.with_default_templates(TemplateSet(PROMO)),
        transports=[recorder or Recorder()],
    )


@attrs.frozen
class Cast:
    ann: Party  # email + mobile, marketing granted, prefers SMS for marketing
    bob: Party  # email only, marketing granted
    cid: Party  # email only, no consent
    dan: Party  # email suppressed, marketing granted


def cast(s: Session) -> Cast:
    ann = s.parties.create("person", "Ann", contact_points=[Email("ann@example.com"),
                                                            Phone("+33612345678")])  # fmt: skip
    bob = s.parties.create("person", "Bob", contact_points=[Email("bob@example.com")])
    cid = s.parties.create("person", "Cid", contact_points=[Email("cid@example.com")])
    dan = s.parties.create("person", "Dan", contact_points=[Email("dan@example.com")])
    for party in (ann, bob, dan):
        s.consents.grant(party, "marketing", source="web form")
    s.preferences.set(ann, channels={"marketing": "sms"})
    s.consents.suppress(dan, dan.contact_points[0].id, reason="bounced")
    return Cast(ann, bob, cid, dan)


def promo(name: str = "spring", **changes: object) -> dict[str, object]:
    """A campaign definition: people, marketing, email then SMS."""
    spec: dict[str, object] = {
        "name": name, "purpose": "marketing", "segment": PEOPLE.model_dump(mode="json"),
        "channels": {"email": "promo", "sms": "promo"}, "data": {"offer": "-20% on bikes"},
    }  # fmt: skip
    spec.update(changes)
    return spec
