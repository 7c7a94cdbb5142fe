"""The worked example of docs/identity.md, "Merge and unmerge" (the test suite runs it)."""

# Kept line for line as in docs/identity.md, so the formatter leaves it alone:
# fmt: off
import sys

from xrm import XRM, Email, Phone

app = XRM(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///merge-example.db",
          default_region="FR")
app.upgrade()

with app.session(actor="import") as s:   # the same person, arrived twice
    web = s.parties.create("person", "Marie Dupont",
                           contact_points=[Email("marie.dupont@example.com")])
    s.consents.grant(web, "marketing", source="web_form")          # she said yes on the web
    call = s.parties.create("person", "DUPONT Marie", given_name="Marie",
                            contact_points=[Email("marie.dupont@example.fr"),
                                            Phone("06 12 34 56 78")])
    s.consents.withdraw(call, "marketing", source="call", channel="email")  # no to emails

with app.session(actor="data-steward") as s:
    pair = s.identity.duplicates()[0]
    print(pair.left, pair.right, pair.verdict)            # 1 2 review: for a person to look at
    plan = s.identity.merge(web, call, dry_run=True)      # what would move; nothing changes
    print(len(plan.contact_points_moved), sorted(plan.fields))  # 2 ['given_name']
    s.identity.merge(web, call)

with app.session(actor="campaigns") as s:
    marie = s.identity.resolve(phone="+33 6 12 34 56 78")  # the duplicate's phone finds her
    print(marie.id == web.id, s.parties.get(call.id).id == web.id)  # True True
    for point in marie.contact_points:  # her "no" to emails covers every address
        if point.kind == "email":
            print(point.value, s.consents.check(marie, "marketing", "email", point.id).allowed)
    # marie.dupont@example.com False / marie.dupont@example.fr False

with app.session(actor="data-steward") as s:  # it was not the same Marie after all
    undone = s.identity.unmerge(call.id)
    print(undone.moved_back)  # {'contact_point': 2}
