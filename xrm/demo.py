"""The xrm demo: a day at a small company, on an embedded SQLite file.

Run it with ``python -m xrm.demo [--database URL]`` (``make demo`` does). It can run again
on the same file: parties already known are recognised, not created twice.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from collections.abc import Callable
from pathlib import Path

from xrm import (
    XRM,
    ConsentRequired,
    Email,
    FileTransport,
    Phone,
    PostalAddress,
    RelationshipType,
    Session,
    Template,
    TemplateSet,
)
from xrm import segments as seg

#: The demo's message templates (an application keeps them in a folder:
#: ``TemplateSet.from_directory``).
TEMPLATES = TemplateSet([
    Template("repair_done", "email", "fr", subject="Votre réparation {{ data.ticket }}",
             body="Bonjour {{ party.given_name or party.name }},\n\nVotre imprimante "
                  "(dossier {{ data.ticket }}) est réparée. Montant : "
                  "{{ data.amount | currency('EUR') }}, à retirer avant le "
                  "{{ data.until | date }}."),
    Template("repair_done", "sms", "fr",
             body="ACME : réparation {{ data.ticket }} terminée, "
                  "{{ data.amount | currency('EUR') }}, à retirer avant le "
                  "{{ data.until | date('short') }}."),
    Template("repair_done", "email", "en", subject="Your repair {{ data.ticket }}",
             body="Hello {{ party.name }}, your printer ({{ data.ticket }}) is repaired."),
])  # fmt: skip

#: The demo's own relationship type (plugins such as xrm-employees bring richer ones).
WORKS_FOR = RelationshipType(
    "works_for",
    "works for",
    "employs",
    from_kinds=["person"],
    to_kinds=["organization"],
)


def _known_or_new(
    s: Session, say: Callable[[str], None], email: str, create: Callable[[], int]
) -> int:
    found = s.parties.find_ids(email=email)
    if found:
        say(f"  recognised {email!r} as party {found[0]}")
        return found[0]
    ident = create()
    say(f"  created party {ident} for {email!r}")
    return ident


def _beside(url: str, suffix: str) -> Path | None:
    """A path beside an SQLite file (``xrm-demo`` + ``suffix``), else ``None``."""
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        db = Path(url.removeprefix("sqlite:///"))
        return db.with_name(db.stem + suffix)
    return None


def _outbox(url: str) -> Path:
    """Where the demo's file transport writes: beside an SQLite file, else a temporary
    folder."""
    return _beside(url, "-outbox") or Path(tempfile.mkdtemp(prefix="xrm-demo-outbox-"))


def _templates() -> TemplateSet:
    """The demo's templates, with the service plugin's notices and the campaigns plugin's
    welcome when they are installed."""
    templates = TEMPLATES
    try:
        import xrm_service
    except ImportError:
        pass
    else:
        templates = xrm_service.with_default_templates(templates)
    try:
        import xrm_campaigns
    except ImportError:
        return templates
    return xrm_campaigns.with_default_templates(templates)


def _follow_the_repair(app: XRM, marie: int, call: int, say: Callable[[str], None]) -> None:
    import xrm_service  # the xrm-service distribution (make demo installs it)

    with app.session(actor="after-sales") as s:
        if xrm_service.cases(s, party=marie, external_ref="R-1042"):
            return  # a second run: the repair was followed already
        case = xrm_service.open_case(
            s, marie, "Printer jams on tray 2", category="repair", priority="high",
            channel="phone", external_ref="R-1042", interaction=call,
        )  # fmt: skip
        xrm_service.move(s, case, "open")
        notice = xrm_service.notify(s, marie, "repair", "R-1042", "repaired, ready for pickup")
        xrm_service.move(s, case, "resolved")
        closed = xrm_service.move(s, case, "closed")
        say(f"  case {closed.reference} opened from the call; status sent by "
            f"{notice.message.channel}; case {closed.status}")  # fmt: skip


def _win_a_deal(app: XRM, acme: int, marie: int, say: Callable[[str], None]) -> None:
    import xrm_sales  # the xrm-sales distribution (make demo installs it)

    with app.session(actor="sales") as s:
        if xrm_sales.opportunities(s, account=acme, status=None):
            return  # a second run: the deal is already won
        deal = xrm_sales.open_opportunity(
            s, acme, "ACME: 12 printers", amount="8400.00", currency="EUR",
            owner_user="sam", contacts=[xrm_sales.ContactIn(marie, "decision_maker")],
        )  # fmt: skip
        call = s.activities.plan(
            "call", "Walk Marie through the quote", due=dt.datetime.now(dt.UTC),
            parties=[marie], user="sam", about=(xrm_sales.ABOUT, deal.id),
        )  # fmt: skip
        say(f"  opportunity {deal.id} opened for ACME ({deal.amount} {deal.currency}), "
            f"call {call.id} planned for sam")  # fmt: skip
        s.activities.complete(call, outcome="order confirmed", record=True,
                              purpose="service", touchpoint="sales")  # fmt: skip
        won = xrm_sales.move(s, deal, "won")
        role = s.roles.current(acme, "customer")
        say(f"  call made and recorded; opportunity {won.stage}: ACME is now a "
            f"{role.state if role else '?'}")  # fmt: skip


def _welcome_scenario(app: XRM, say: Callable[[str], None]) -> None:
    """A small welcome scenario (the xrm-campaigns plugin): a party that becomes a customer
    is sent a welcome email, and a welcome call is planned two days later."""
    import xrm_campaigns  # the xrm-campaigns distribution (make demo installs it)

    with app.session(actor="marketing") as s:
        if any(x.name == "welcome" for x in xrm_campaigns.scenarios(s)):
            return  # a second run: the scenario is there
        xrm_campaigns.create_scenario(s, {
            "name": "welcome",
            "trigger": {"type": "event", "event": "role.transitioned", "role": "customer",
                        "to_state": "customer"},
            "steps": [
                {"type": "send", "template": xrm_campaigns.WELCOME_TEMPLATE,
                 "purpose": "service", "channel": "email"},
                {"type": "wait", "days": 2},
                {"type": "activity", "kind": "call", "subject": "Welcome call", "user": "sam"},
            ],
        })  # fmt: skip
        say("  scenario 'welcome': a new customer gets a welcome email, a call two days later")


def _run_welcome(app: XRM, say: Callable[[str], None]) -> None:
    import xrm_campaigns

    ran = xrm_campaigns.work(app)  # the email, then the wait
    later = xrm_campaigns.work(app, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=2, hours=1))
    with app.session() as s:
        report = xrm_campaigns.scenario_report(s, "welcome")
    say(f"  scenario worker: {dict(ran)} now, {dict(later)} two days later; "
        f"enrolments {report['enrolments']}")  # fmt: skip


def _serve_hint(url: str, party: int, say: Callable[[str], None]) -> None:
    """How to look at the party in a browser: a fresh API key in a keys file beside the
    database (the demo's only: replaced at each run), the command and the page's URL."""
    try:
        from xrm.web import ApiKeys  # the xrm[web] extra
    except ImportError:
        say("to browse it: pip install 'xrm[web]', then `xrm serve` (docs/http.md)")
        return
    path = _beside(url, "-keys.json") or Path(tempfile.mkdtemp(prefix="xrm-demo-")) / "keys.json"
    path.unlink(missing_ok=True)
    key = ApiKeys(path).create("demo-admin", ["admin"])
    say("browse the single view (the page logs in with this key):")
    say(f"  xrm --database {url} --region FR serve --keys {path}")
    say(f"  http://127.0.0.1:8000/ui/parties/{party}   key: {key}")


def run(url: str = "sqlite:///xrm-demo.db", say: Callable[[str], None] = print) -> int:
    """Run the demo against ``url`` and return the id of the person it follows."""
    outbox = _outbox(url)
    app = XRM(url, default_region="FR", templates=_templates(),
              transports=[FileTransport(outbox, sender="service@acme.example")])  # fmt: skip
    say(f"xrm demo on {url}")
    app.upgrade()
    say("  schema is at the latest revision")
    app.register(WORKS_FOR, source="demo")

    with app.session(actor="demo") as s:
        acme = _known_or_new(
            s,
            say,
            "contact@acme.example",
            lambda: (
                s.parties.create(
                    "organization",
                    "ACME Industries",
                    contact_points=[
                        Email("contact@acme.example"),
                        Phone("+33 1 42 68 53 00"),
                        PostalAddress(
                            lines=["12 rue de la Paix"],
                            postcode="75002",
                            city="Paris",
                            country="FR",
                        ),
                    ],
                    identifiers={"fr.siren": "732 829 320"},
                    tags=["key-account"],
                ).id
            ),
        )
        marie = _known_or_new(
            s,
            say,
            "marie.dupont@example.com",
            lambda: (
                s.parties.create(
                    "person",
                    given_name="Marie",
                    family_name="Dupont",
                    contact_points=[Email("Marie.Dupont@Example.com"), Phone("06 12 34 56 78")],
                ).id
            ),
        )
        if not s.relationships.of(marie, type="works_for"):
            s.relationships.create("works_for", marie, acme)
            say("  Marie Dupont now works for ACME Industries")
        # XRM: the same organisation is also a supplier and a partner, when the
        # xrm-suppliers and xrm-partners plugins are installed (make demo installs them)
        for extra, attributes in (("supplier", {"payment_terms": "net30"}),
                                  ("partner", {"partner_type": "reseller"})):  # fmt: skip
            if extra in app.registry.role_types and s.roles.current(acme, extra) is None:
                s.roles.assign(acme, extra, attributes=attributes)
                say(f"  ACME Industries is now a {extra} too")
        role = s.roles.current(acme, "customer") or s.roles.assign(acme, "customer")
        if role.state == "lead":
            role = s.roles.transition(role, "prospect", note="asked for a quote")
            say(
                "  ACME Industries moved from lead to prospect, customer number "
                f"{role.attributes['customer_number']}"
            )

    # The phone rings: the number is written another way, the caller is recognised.
    with app.session(actor="support-desk") as s:
        caller = s.parties.find(phone="+33 6 12 34 56 78")[0]
        employer = s.relationships.of(caller, type="works_for")[0]
        say(
            f"  incoming call from {caller.display_name} ({employer.label} party "
            f"{employer.other_id})"
        )
        support_call = s.interactions.record(
            channel="phone",
            direction="inbound",
            touchpoint="support",
            subject="Printer jams on tray 2",
            outcome="ticket opened",
            participants=[(caller, "caller", "+33612345678"), (employer.other_id, "about")],
        )
        say("  call recorded with Marie and ACME as participants")

    # Sales: ACME asked for a quote; a call about it is planned, made (and recorded), and
    # the deal is won, which makes ACME a customer (when xrm-sales is installed).
    # Marketing set up a welcome scenario beforehand (when xrm-campaigns is installed): the
    # won deal makes ACME a customer, which enrols it.
    if "campaigns.enrolled" in app.registry.event_types:
        _welcome_scenario(app, say)
    if "sales.opportunity_opened" in app.registry.event_types:
        _win_a_deal(app, acme, marie, say)
    if "campaigns.enrolled" in app.registry.event_types:
        _run_welcome(app, say)

    # Marketing asks first: consent is evidence, and the data layer enforces it.
    with app.session(actor="marketing") as s:
        s.consents.grant(marie, "marketing", source="web_form", evidence="newsletter signup v2")
        audience = list(s.consents.audience("marketing", "email"))
        say(f"  Marie opted in; the marketing audience by email has {len(audience)} address(es)")
        readers = seg.Kind(kind="person") & seg.Contactable(purpose="marketing", channel="email")
        if not any(x.name == "newsletter readers" for x in s.segments.list()):
            s.segments.define("newsletter readers", readers)
        say(f"  segment 'newsletter readers': {s.segments.count('newsletter readers')} party")
        s.interactions.record(
            channel="email",
            direction="outbound",
            purpose="marketing",
            touchpoint="marketing",
            subject="Spring offers",
            participants=[(marie, "recipient")],
        )
        s.consents.withdraw(marie, "marketing", source="unsubscribe_link")
        say("  Marie unsubscribed")
    try:
        with app.session(actor="marketing") as s:
            s.interactions.record(
                channel="email",
                direction="outbound",
                purpose="marketing",
                subject="Summer offers",
                participants=[(marie, "recipient")],
            )
    except ConsentRequired as refused:
        say(f"  refused: {refused}")
    # After-sales tells Marie her repair is done, in her language, on the channel she
    # prefers for service notices: a contract purpose needs no opt-in.
    with app.session(actor="after-sales") as s:
        s.preferences.set(marie, language="fr", time_zone="Europe/Paris",
                          channels={"service": "sms"})  # fmt: skip
        notice = s.messages.send(
            marie, "repair_done", purpose="service",
            data={"ticket": "R-1042", "amount": "89.90",
                  "until": dt.date.today() + dt.timedelta(days=14)},
        )  # fmt: skip
        say(f"  repair notice queued for Marie by {notice.channel} to {notice.address}")
    # After-sales follows the repair as a case, when xrm-service is installed: opened from
    # the support call, its status sent by Marie's preferred channel, then closed.
    if "service.case_opened" in app.registry.event_types:
        _follow_the_repair(app, marie, support_call.id, say)
    delivered = app.deliver()
    say(f"  the outbox worker delivered: {dict(delivered)} (files in {outbox})")
    say(f"    {notice.text}")
    with app.session() as s:
        say("timeline of Marie Dupont (newest first):")
        for entry in s.timeline(marie, limit=10):
            when = entry.occurred_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
            say(f"  {when}  {entry.type:<26} by {entry.actor or '-'}")
        held = ", ".join(f"{r.type} ({r.state})" for r in s.roles.of(acme))
        say(f"ACME Industries holds: {held}")
        say(
            f"parties: {s.parties.count()}, interactions with Marie: "
            f"{len(s.interactions.of(marie, limit=1000))}"
        )
    app.dispose()
    _serve_hint(url, marie, say)
    return marie


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m xrm.demo", description=__doc__)
    parser.add_argument("--database", default="sqlite:///xrm-demo.db", help="database URL")
    args = parser.parse_args(argv)
    run(args.database)


if __name__ == "__main__":
    main()
