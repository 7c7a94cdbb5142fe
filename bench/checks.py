"""The baselines answer the same questions as the library: asserted before anything is timed.

A baseline that returned less (or other rows) would make the library look slow for the
wrong reason, so each one is compared with xrm's answer on the benchmark's own data:
party ids follow the generated order, ``identity.resolve`` finds the same party with the
same contact points, ``relationships.of`` the same links with the same labels, the
audience the same set of (party, contact point) for every rule the data exercises, and the
timeline the same first page.
"""

from __future__ import annotations

import time
from typing import Any

from bench.build import TIMELINE_PARTY
from bench.data import AS_OF, AT, spec
from bench.plain import Plain, Target
from bench.queries import (
    _PARTY_BY_POINT,
    _party,
    relationship_labels,
    relationships_of,
    sample,
    stream_baseline,
    timeline_page,
)

__all__ = ["check"]

#: (purpose, channel, contact kind, lawful basis): consent with expiry and the three
#: scopes on email, a channel grant on sms, a legitimate interest with objections
AUDIENCES = (
    ("marketing", "email", "email", "consent"),
    ("marketing", "sms", "phone", "consent"),
    ("surveys", "email", "email", "legitimate_interest"),
)


def check(target: Target, size: int, budget: float, samples: int = 300) -> dict[str, Any]:
    """Assert the equalities; an audience that xrm takes longer than ``budget`` seconds
    to stream is reported as not checked at this size (``--quick`` checks it)."""
    from xrm import XRM

    app = XRM(target.url)
    db = Plain(target)
    db.begin()
    done: dict[str, Any] = {}
    indices = sorted(set(sample(size, samples, 9)) | {0, size - 1})
    with app.session() as s:
        # ids follow the generated order
        for index in indices:
            party = s.parties.get(index + 1)
            assert party.display_name == spec(index).name, (index, party.display_name)
        done["ids"] = len(indices)

        # W2: the same party, with the same contact points
        for index in indices:
            want = spec(index)
            mine = s.identity.resolve(email=want.email)
            assert mine is not None
            row = db.execute(_PARTY_BY_POINT, ("email", want.email_key)).fetchone()
            theirs = _party(db, row)
            assert mine.id == theirs[0]
            assert [(c.id, c.kind, c.key) for c in mine.contact_points] == [
                (p[0], p[1], p[3]) for p in theirs[-3]
            ]
            by_phone = s.identity.resolve(phone=want.phone)
            assert by_phone is not None
            assert by_phone.id == mine.id
        done["resolve"] = len(indices)

        # W3: the same links, read from the same end, with the same labels
        labels = relationship_labels()
        links = 0
        for index in indices:
            pid = index + 1
            mine_links = sorted((link.relationship.id, link.other_id, link.label)
                                for link in s.relationships.of(pid, as_of=AS_OF))  # fmt: skip
            theirs_links = sorted(relationships_of(db, labels, pid, db.day(AS_OF)))
            assert mine_links == theirs_links, (pid, mine_links, theirs_links)
            links += len(mine_links)
        done["relationships"] = {"parties": len(indices), "links": links}

        # W4: the same audience, row for row
        for purpose, channel, kind, basis in AUDIENCES:
            began = time.perf_counter()
            mine_rows: set[tuple[int, int | None]] = set()
            complete = False
            for n, m in enumerate(s.consents.audience(purpose, channel, at=AT)):
                mine_rows.add((m.party_id, m.contact_point_id))
                if n % 256 == 0 and time.perf_counter() - began > budget:
                    break
            else:
                complete = True
            if not complete:
                done[f"audience {purpose}/{channel}"] = f"not checked: over {budget:.0f} s"
                continue
            theirs_rows = {(r[0], r[1])
                           for r in stream_baseline(db, purpose, channel, kind, basis)}  # fmt: skip
            assert mine_rows == theirs_rows, (
                f"{purpose}/{channel}: {len(mine_rows - theirs_rows)} only in xrm, "
                f"{len(theirs_rows - mine_rows)} only in the baseline"
            )
            done[f"audience {purpose}/{channel}"] = len(mine_rows)

        # W5: the same first page
        page = s.timeline(TIMELINE_PARTY, limit=50)
        assert [e.event_id for e in page.items] == [r[0] for r in timeline_page(db, TIMELINE_PARTY)]
        done["timeline"] = len(page.items)
    db.close()
    app.dispose()
    return done
