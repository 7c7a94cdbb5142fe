"""The quickstart of docs/quickstart.md, as one script (the test suite runs it).

python examples/quickstart.py [DATABASE_URL]
"""

from __future__ import annotations

import sys

from xrm import XRM, Email, Phone, RelationshipType

url = sys.argv[1] if len(sys.argv) > 1 else "sqlite:///quickstart.db"

# 1. An application on a database; upgrade() creates or migrates the schema.
app = XRM(url, default_region="FR")
app.upgrade()

# 2. Say how parties may be related (plugins bring many such types ready-made).
app.register(
    RelationshipType(
        "works_for",
        "works for",
        "employs",
        from_kinds=["person"],
        to_kinds=["organization"],
        max_per_from=1,
    )
)

# 3. One unit of work: everything inside commits together, or nothing does.
with app.session(actor="quickstart") as s:
    acme = s.parties.create(
        "organization", "ACME Industries", identifiers={"fr.siren": "732 829 320"}
    )
    marie = s.parties.create(
        "person",
        given_name="Marie",
        family_name="Dupont",
        contact_points=[Email("marie.dupont@example.com"), Phone("06 12 34 56 78")],
    )
    s.relationships.create("works_for", marie, acme)

    # 4. A phone call with both of them.
    s.interactions.record(
        channel="phone",
        direction="inbound",
        touchpoint="sales",
        subject="Asks for a quote",
        participants=[(marie, "caller"), (acme, "about")],
    )

# 5. Later, at another touchpoint: recognise Marie however her details are written.
with app.session() as s:
    (by_phone,) = s.parties.find(phone="+33 6 12 34 56 78")
    (by_email,) = s.parties.find(email="MARIE.DUPONT@EXAMPLE.COM")
    assert by_phone.id == by_email.id == marie.id
    for link in s.relationships.of(by_phone):
        print(f"{by_phone.display_name} {link.label} party {link.other_id}")

    # 6. The timeline: the single view of a party, newest first.
    for entry in s.timeline(marie):
        print(entry.occurred_at.strftime("%H:%M:%S"), entry.type, entry.data.get("subject", ""))

# 7. Many parties at once (a file, another system): known ones are completed, not copied.
records = [
    {"name": "Marie Dupont", "emails": ["marie.dupont@example.com"], "tags": ["newsletter"]},
    {"name": "Jean Martin", "phones": ["+33 6 98 76 54 32"], "roles": [{"type": "customer"}]},
    {"name": "Nobody", "emails": ["not-an-email"]},
]
with app.session() as s:
    for result in s.parties.import_many(records):
        print(result.line, result.outcome or f"refused: {result.error}")

app.dispose()
