"""Value, RFM and the most profitable customers equal a plain-Python reference computed
from the orders as they were given (lines, discounts, costs, refunds, returns), on random
data; and the RFM segments work as segment criteria."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import pytest
import xrm_commerce
from commerce_support import T0, catalogue, commerce_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from xrm_commerce import LineIn, RfmSegment, ValueAtLeast, segment_of

from xrm import XRM
from xrm import segments as seg

PRICES = {"OVEN": (Decimal("499.00"), Decimal("320.00")),
          "KETTLE": (Decimal("39.90"), Decimal("12.50")),
          "TOASTER": (Decimal("59.00"), Decimal("21.00")),
          "DRILL": (Decimal("89.00"), Decimal("40.00"))}  # fmt: skip
PARTIES = 7


@attrs.frozen
class Line:
    sku: str
    quantity: int
    discount: Decimal
    #: units that came back, each refunded at its unit price
    returned: int


@attrs.frozen
class Spec:
    party: int  # an index into the parties
    day: int
    status: str
    lines: tuple[Line, ...]
    #: a refund without a return, in cents
    gesture: int


@st.composite
def lines(draw: st.DrawFn) -> Line:
    sku = draw(st.sampled_from(sorted(PRICES)))
    quantity = draw(st.integers(1, 3))
    discount = Decimal(draw(st.sampled_from([0, 0, 100, 990]))) / 100
    returned = draw(st.integers(0, quantity))
    return Line(sku, quantity, discount, returned)


specs = st.lists(
    st.builds(
        Spec,
        party=st.integers(0, PARTIES - 1),
        day=st.integers(0, 6),  # few days: ties in recency
        status=st.sampled_from(["delivered", "delivered", "paid", "cancelled"]),
        lines=st.lists(lines(), min_size=1, max_size=3).map(tuple),
        gesture=st.sampled_from([0, 0, 50, 199]),
    ),
    max_size=25,
)


def _reference(
    specs: list[Spec], parties: list[int], since: int | None, until: int | None
) -> dict[int, dict[str, Any]]:
    """Per party: orders, revenue, margin, first and last order, from the specification."""
    found: dict[int, dict[str, Any]] = {}
    for spec in specs:
        if spec.status == "cancelled":
            continue
        if (since is not None and spec.day < since) or (until is not None and spec.day >= until):
            continue
        revenue = Decimal(0)
        cost = Decimal(0)
        for line in spec.lines:
            price, unit_cost = PRICES[line.sku]
            revenue += line.quantity * price - line.discount
            cost += line.quantity * unit_cost
            revenue -= line.returned * price  # the refund of the units that came back
            cost -= line.returned * unit_cost
        revenue -= Decimal(spec.gesture) / 100
        at = T0 + dt.timedelta(days=spec.day)
        empty = {"orders": 0, "revenue": Decimal(0), "margin": Decimal(0), "first": at, "last": at}
        party = found.setdefault(parties[spec.party], empty)
        party["orders"] += 1
        party["revenue"] += revenue
        party["margin"] += revenue - cost
        party["first"], party["last"] = min(party["first"], at), max(party["last"], at)
    return found


def _scores(keys: dict[int, Any]) -> dict[int, int]:
    """1 + floor(5 x (parties strictly worse) / parties): ties share the lowest score."""
    n = len(keys)
    return {p: 1 + 5 * sum(1 for other in keys.values() if other < key) // n
            for p, key in keys.items()}  # fmt: skip


def _record(s: Any, specs: list[Spec], parties: list[int]) -> None:
    for spec in specs:
        placed = xrm_commerce.place_order(
            s, parties[spec.party],
            [LineIn(line.sku, line.quantity, discount=line.discount) for line in spec.lines],
            currency="EUR", status=spec.status, ordered_at=T0 + dt.timedelta(days=spec.day),
        )  # fmt: skip
        if spec.status == "cancelled":
            continue
        for line in spec.lines:
            if line.returned:
                price = PRICES[line.sku][0]
                xrm_commerce.refund(s, placed, line.returned * price, sku=line.sku,
                                    quantity=line.returned)  # fmt: skip
        if spec.gesture:
            xrm_commerce.refund(s, placed, Decimal(spec.gesture) / 100)


@pytest.fixture
def app(xrm_factory: Callable[..., XRM]) -> XRM:
    app = commerce_app(xrm_factory)
    with app.session() as s:
        catalogue(s)
    return app


def _refunds_fit(specs: list[Spec]) -> bool:
    """Refunds never exceed an order: keep the examples where returns and the gesture fit."""
    for spec in specs:
        total = sum((line.quantity * PRICES[line.sku][0] - line.discount for line in spec.lines),
                    Decimal(0))  # fmt: skip
        back = sum((line.returned * PRICES[line.sku][0] for line in spec.lines), Decimal(0))
        if back + Decimal(spec.gesture) / 100 > total:
            return False
    return True


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(
    data=specs.filter(_refunds_fit),
    since=st.none() | st.integers(0, 3),
    until=st.none() | st.integers(3, 7),
)
def test_value_and_rfm_equal_the_reference(
    app: XRM, data: list[Spec], since: int | None, until: int | None
) -> None:
    with app.session() as s:
        s.db.execute(delete(xrm_commerce.OrderRow))
        parties = [s.parties.create("person", f"P{i}").id for i in range(PARTIES)]
        _record(s, data, parties)
    expected = _reference(data, parties, since, until)
    period = {"since": None if since is None else T0 + dt.timedelta(days=since),
              "until": None if until is None else T0 + dt.timedelta(days=until)}  # fmt: skip
    with app.session() as s:
        got = {v.party_id: v for v in xrm_commerce.values(s, currency="EUR", **period)}
        assert set(got) == set(expected)
        for party, want in expected.items():
            v = got[party]
            assert (v.orders, v.revenue, v.margin, v.first_order, v.last_order) == (
                want["orders"], want["revenue"], want["margin"], want["first"], want["last"]
            )  # fmt: skip
        scored = {r.party_id: r for r in xrm_commerce.rfm(s, currency="EUR", **period)}
        r = _scores({p: w["last"] for p, w in expected.items()})
        f = _scores({p: w["orders"] for p, w in expected.items()})
        m = _scores({p: w["revenue"] for p, w in expected.items()})
        assert {p: (x.recency, x.frequency, x.monetary, x.segment) for p, x in scored.items()} == {
            p: (r[p], f[p], m[p], segment_of(r[p], f[p])) for p in expected
        }
        best = sorted(expected, key=lambda p: (-expected[p]["margin"], p))[:3]
        assert [v.party_id for v in xrm_commerce.top(s, currency="EUR", limit=3, **period)] == best
        if since is None and until is None:
            for name in ("champions", "hibernating", "lost"):
                members = list(s.segments.stream(RfmSegment(segments=[name], currency="EUR")))
                assert members == sorted(p for p in expected if scored[p].segment == name)


def test_every_recency_and_frequency_score_has_one_named_segment() -> None:
    names = {segment_of(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert names == set(xrm_commerce.SEGMENTS)
    assert (segment_of(5, 5), segment_of(1, 1), segment_of(1, 5), segment_of(5, 1)) == (
        "champions", "lost", "cannot_lose", "new",
    )  # fmt: skip


def test_value_is_per_currency_and_top_takes_a_period(app: XRM) -> None:
    with app.session() as s:
        ann = s.parties.create("person", "Ann")
        bob = s.parties.create("person", "Bob")
        xrm_commerce.place_order(s, ann, [LineIn("OVEN")], currency="EUR", ordered_at=T0)
        xrm_commerce.place_order(s, ann, [LineIn("TEA", 2)], currency="GBP", ordered_at=T0)
        later = T0 + dt.timedelta(days=30)
        xrm_commerce.place_order(s, bob, [LineIn("KETTLE")], currency="EUR", ordered_at=later)
        worth = xrm_commerce.value(s, ann)
        assert [(v.currency, v.revenue, v.margin) for v in worth] == [
            ("EUR", Decimal("499.00"), Decimal("179.00")),
            ("GBP", Decimal("9.00"), Decimal("6.80")),
        ]  # fmt: skip
        assert [v.party_id for v in xrm_commerce.top(s, currency="EUR")] == [ann.id, bob.id]
        assert [v.party_id for v in xrm_commerce.top(s, currency="EUR", since=later)] == [bob.id]
        assert [v.party_id for v in xrm_commerce.top(s, currency="EUR", by="orders")] == [
            ann.id, bob.id,
        ]  # fmt: skip
        counts = xrm_commerce.rfm_counts(s, currency="EUR")
        assert sum(counts.values()) == 2 and set(counts) == set(xrm_commerce.SEGMENTS)


def test_value_and_rfm_criteria_are_saved_and_combined_as_segments(app: XRM) -> None:
    with app.session() as s:
        big = s.parties.create("person", "Big")
        small = s.parties.create("person", "Small")
        s.parties.create("person", "Never bought")
        xrm_commerce.place_order(s, big, [LineIn("OVEN", 2)], currency="EUR", ordered_at=T0)
        xrm_commerce.place_order(s, small, [LineIn("KETTLE")], currency="EUR", ordered_at=T0)
        rich = ValueAtLeast(measure="margin", currency="EUR", at_least=Decimal("100"))
        s.segments.define("rich", rich & seg.Kind(kind="person"))
        assert list(s.segments.stream("rich")) == [big.id]
        parsed = s.segments.parse(rich.model_dump(mode="json"))
        assert parsed == rich
        recent = ValueAtLeast(measure="orders", currency="EUR", at_least=Decimal(1),
                              within_days=7)  # fmt: skip
        assert s.segments.count(recent) == 0  # T0 is long past
        assert s.segments.count(ValueAtLeast(currency="EUR", at_most=Decimal("50"))) == 1
        both = RfmSegment(segments=list(xrm_commerce.SEGMENTS), currency="EUR")
        assert s.segments.count(both) == 2
        assert s.segments.count(~both) == 1
