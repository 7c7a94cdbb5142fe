"""Lifetime value: BG/NBD and Gamma-Gamma fitted on the CDNOW sample give the published
parameters, and the models fitted on the database rank customers as their history says."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xrm_commerce
from commerce_support import catalogue, commerce_app
from xrm_commerce import LineIn

from xrm import XRM, ValidationError

CDNOW = Path(__file__).parent / "data" / "cdnow_customers_summary_with_transactions.csv"


def _cdnow() -> dict[str, np.ndarray]:
    with CDNOW.open() as handle:
        rows = list(csv.DictReader(handle))
    return {k: np.array([float(r[k]) for r in rows]) for k in ("x", "t_x", "T", "zbar")}


def test_bgnbd_on_the_cdnow_sample_gives_the_published_parameters_within_one_percent() -> None:
    data = _cdnow()
    assert len(data["x"]) == 2357
    model = xrm_commerce.fit_bgnbd(data["x"], data["t_x"], data["T"])
    # Fader, Hardie & Lee (2005), "Counting your customers the easy way", table 1
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert getattr(model, name) == pytest.approx(value, rel=0.01), name
    assert model.log_likelihood == pytest.approx(-9582.4, abs=0.1)


def test_gamma_gamma_on_the_cdnow_repeat_buyers_gives_the_published_parameters() -> None:
    data = _cdnow()
    repeat = data["x"] > 0
    assert int(repeat.sum()) == 946
    model = xrm_commerce.fit_gamma_gamma(data["x"][repeat], data["zbar"][repeat])
    # Fader, Hardie & Lee (2005), "RFM and CLV", as in the lifetimes documentation
    for name, value in {"p": 6.25, "q": 3.74, "v": 15.45}.items():
        assert getattr(model, name) == pytest.approx(value, rel=0.01), name


def test_the_predictions_follow_the_published_formulas_limits() -> None:
    data = _cdnow()
    model = xrm_commerce.fit_bgnbd(data["x"], data["t_x"], data["T"])
    x, t_x, T = np.array([0.0, 2.0, 2.0]), np.array([0.0, 30.0, 5.0]), np.array([38.0] * 3)
    expected = xrm_commerce.expected_orders(model, 39.0, x, t_x, T)
    alive = xrm_commerce.probability_alive(model, x, t_x, T)
    # a customer with no repeat is alive for sure; a recent buyer outbuys a lapsed one
    assert alive[0] == 1.0 and alive[1] > alive[2]
    assert expected[1] > expected[2] > 0
    assert float(xrm_commerce.expected_orders(model, 0.0, x, t_x, T)[1]) == pytest.approx(0.0)
    spend = xrm_commerce.fit_gamma_gamma([1.0, 2.0, 5.0, 3.0], [10.0, 20.0, 30.0, 12.0])
    values = xrm_commerce.expected_average_value(spend, np.array([1.0, 50.0]), np.array([40.0] * 2))
    # the more orders, the closer the expectation to the customer's own mean
    assert abs(values[1] - 40.0) < abs(values[0] - 40.0)


def test_fitting_refuses_what_is_not_a_history() -> None:
    with pytest.raises(ValidationError):
        xrm_commerce.fit_bgnbd([1.0], [5.0], [2.0])  # t_x after T
    with pytest.raises(ValidationError):
        xrm_commerce.fit_gamma_gamma([1.0, 2.0], [10.0])


def test_lifetime_value_from_the_database(xrm_factory: Callable[..., XRM]) -> None:
    app = commerce_app(xrm_factory)
    rng = np.random.default_rng(7)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=364)
    with app.session() as s:
        catalogue(s)
        loyal = s.parties.create("person", "Loyal")
        lapsed = s.parties.create("person", "Lapsed")
        for i in range(10):  # a purchase a month, until the end
            at = start + dt.timedelta(days=30 * i + 60)
            xrm_commerce.place_order(s, loyal, [LineIn("KETTLE")], currency="EUR", ordered_at=at)
        for i in range(10):  # as many, all in the first months
            at = start + dt.timedelta(days=5 * i + 1)
            xrm_commerce.place_order(s, lapsed, [LineIn("KETTLE")], currency="EUR", ordered_at=at)
        for n in range(60):  # a crowd of ordinary customers
            who = s.parties.create("person", f"C{n}")
            first = int(rng.integers(0, 300))
            for k in range(int(rng.integers(1, 5))):
                at = start + dt.timedelta(days=min(363, first + int(rng.integers(0, 60)) * k))
                xrm_commerce.place_order(s, who, [LineIn("TOASTER")], currency="EUR", ordered_at=at)
        model = xrm_commerce.fit_clv(s, currency="EUR", at=end)
        assert model.customers == 62
        found = {v.party_id: v for v in xrm_commerce.lifetime_values(s, model, horizon_days=365)}
        assert found[loyal.id].p_alive > found[lapsed.id].p_alive
        assert found[loyal.id].value > found[lapsed.id].value > 0
        discounted = next(iter(xrm_commerce.lifetime_values(
            s, model, horizon_days=365, yearly_discount=0.2, parties=[loyal.id])))  # fmt: skip
        assert 0 < discounted.value < found[loyal.id].value
        with pytest.raises(ValidationError, match="currency"):
            xrm_commerce.fit_clv(s, currency="JPY", at=end)
