"""What the service tests share: an application with the plugins the rules read (the
employees plugin for assignees), the plugin's templates and a file transport."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import xrm_employees
import xrm_service

from xrm import XRM, Email, FileTransport, Party, Phone, Session

#: a Monday, 09:00 UTC: the default calendar opens then (Monday to Friday, 09:00-17:00 UTC)
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def service_app(
    xrm_factory: Callable[..., XRM], outbox: Path, *, inbound: bool = True,
    extra: Sequence[object] = (),
) -> XRM:  # fmt: skip
    """The application, opening cases from inbound interactions unless ``inbound`` is
    false (the plugin's default); ``extra``: more plugins."""
    app = xrm_factory(
        plugins=[xrm_service, xrm_employees, *extra],
        discover=False,
        templates=xrm_service.with_default_templates(),
        transports=[FileTransport(outbox, channels=("email", "sms"))],
    )
    if inbound:
        xrm_service.configure(app, open_on_inbound=True)
    return app


@attrs.frozen
class Cast:
    marie: Party  # a customer with an email and a mobile phone
    paul: Party  # her husband, a contact person
    agent: Party  # an employee


def cast(s: Session) -> Cast:
    marie = s.parties.create(
        "person", "Marie Dupont",
        contact_points=[Email("marie@example.com"), Phone("+33612345678")],
    )  # fmt: skip
    paul = s.parties.create("person", "Paul Dupont", contact_points=[Email("paul@example.com")])
    agent = s.parties.create("person", "Alice Agent", contact_points=[Email("alice@acme.example")])
    s.roles.assign(agent, "employee", state="active", attributes={"employee_number": "E1"})
    return Cast(marie, paul, agent)
