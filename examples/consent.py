"""The worked example of docs/consent.md (the test suite runs it)."""

# Kept line for line as in docs/consent.md, so the formatter leaves it alone:
# fmt: off
import datetime as dt
import sys

from xrm import XRM, ConsentRequired, Email

app = XRM(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///consent-example.db")
app.upgrade()
now = dt.datetime.now(dt.UTC)

with app.session(actor="web-signup") as s:
    marie = s.parties.create("person", "Marie Dupont",
                             contact_points=[Email("marie@example.com")])
    s.consents.grant(marie, "marketing", source="web_form",
                     evidence="signup form v3, notice 2025-01, ip 192.0.2.1",
                     captured_at=now - dt.timedelta(days=30))

with app.session(actor="campaigns") as s:
    print([m.value for m in s.consents.audience("marketing", "email")])  # ['marie@example.com']
    s.interactions.record(channel="email", direction="outbound", purpose="marketing",
                          subject="Spring offers", participants=[(marie, "recipient")])

with app.session(actor="unsubscribe") as s:  # she clicks "unsubscribe"
    s.consents.withdraw(marie, "marketing", source="unsubscribe_link")

with app.session(actor="campaigns") as s:
    decision = s.consents.check(marie, "marketing", "email", "marie@example.com")
    print(decision.allowed, decision.rule, decision.reason)   # False withdrawn withdrawn …
    try:
        s.interactions.record(channel="email", direction="outbound", purpose="marketing",
                              subject="Summer offers", participants=[(marie, "recipient")])
    except ConsentRequired as refused:
        print(refused)   # party 1 may not be contacted for 'marketing' by email: withdrawn …
    # order notices rest on the contract, not on consent: they still go out
    s.interactions.record(channel="email", direction="outbound", purpose="service",
                          subject="Your order has shipped", participants=[(marie, "recipient")])

app.dispose()
