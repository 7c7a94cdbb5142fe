"""Merging two supplier parties: evaluations follow the merge and come back on unmerge."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import xrm_suppliers
from xrm_suppliers import evaluate, evaluations

from xrm import XRM
from xrm.testing import snapshot


def test_evaluations_move_with_a_merge_and_come_back_with_the_unmerge(
    xrm_factory: Callable[..., XRM],
) -> None:
    app = xrm_factory(plugins=[xrm_suppliers], discover=False)
    with app.session() as s:
        acme = s.parties.create("organization", "Acme")
        twin = s.parties.create("organization", "ACME SAS")
        for party, rating in ((acme, 4), (twin, 2)):
            s.roles.assign(party, "supplier", state="approved")
            evaluate(s, party, rating, evaluated_on=dt.date(2026, 1, rating))
    before = {t: rows for t, rows in snapshot(app).items() if not t.startswith("journal")}
    with app.session() as s:
        plan = s.identity.merge(acme, twin)
        assert plan.roles_ended  # two current supplier roles: the survivor's stays
        assert sorted(e.rating for e in evaluations(s, acme)) == [2, 4]
    with app.session() as s:
        s.identity.unmerge(twin)
        assert [e.rating for e in evaluations(s, twin)] == [2]
    after = {t: rows for t, rows in snapshot(app).items() if not t.startswith("journal")}
    assert after == before
