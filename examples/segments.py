"""The worked example of docs/segments.md (the test suite runs it)."""

# Kept line for line as in docs/segments.md, so the formatter leaves it alone:
# fmt: off
import datetime as dt
import sys

from xrm import XRM, Email
from xrm import segments as seg

app = XRM(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///segments-example.db")
app.upgrade()
ago = lambda days: dt.datetime.now(dt.UTC) - dt.timedelta(days=days)  # noqa: E731

with app.session(actor="setup") as s:
    acme = s.parties.create("organization", "ACME", attributes={"employees": 250})
    marie = s.parties.create("person", "Marie Dupont", tags=["vip"],
                             contact_points=[Email("marie@example.com")])
    jean = s.parties.create("person", "Jean Martin", contact_points=[Email("jean@example.com")])
    s.roles.assign(acme, "customer", state="customer")
    s.relationships.create("employed_by", marie, acme)
    s.relationships.create("employed_by", jean, acme)
    s.consents.grant(marie, "marketing", source="web_form", captured_at=ago(10))
    for days in (3, 40):
        s.interactions.record(channel="phone", direction="inbound", touchpoint="support",
                              participants=[(marie, "caller")], occurred_at=ago(days))

# employees of customers, heard from in the last 30 days, who said yes to marketing
engaged = (
    seg.Related(relationship="employed_by",
                other=seg.HasRole(role="customer", states=["customer"]))
    & seg.Interacted(within_days=30)
    & seg.Contactable(purpose="marketing", channel="email")
)

with app.session(actor="mia") as s:
    s.segments.define("engaged contacts", engaged, description="for the spring newsletter")
    print(s.segments.count("engaged contacts"))                        # 1
    print([p.display_name for p in s.segments.preview("engaged contacts")])  # ['Marie Dupont']
    print(list(s.segments.stream(~seg.Tagged(tag="vip") & seg.Kind(kind="person"))) == [jean.id])
    frozen = s.segments.freeze("engaged contacts", as_name="newsletter 2026-03")
    print(frozen.members)                                                # 1
    print(engaged.model_dump_json()[:60])   # {"type":"all","of":[{"type":"related",...
