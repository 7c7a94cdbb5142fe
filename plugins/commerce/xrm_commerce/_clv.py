"""Customer lifetime value: BG/NBD for how many orders a customer will still place, and
Gamma-Gamma for how much each will be worth.

The two published log-likelihoods are maximised with :func:`scipy.optimize.minimize`
(rather than with the ``lifetimes`` package, unmaintained and pinned to old pandas):

- BG/NBD: P. S. Fader, B. G. S. Hardie and K. L. Lee, "Counting your customers the easy
  way: an alternative to the Pareto/NBD model", *Marketing Science* 24(2), 2005, eq. (6);
  the conditional expectation is their eq. (10);
- Gamma-Gamma: Fader, Hardie and Lee, "RFM and CLV: using iso-value curves for customer
  base analysis", *Journal of Marketing Research* 42(4), 2005, and Fader and Hardie's note
  "The Gamma-Gamma model of monetary value" (2013), eq. (1) and (5).

Per customer the models read ``x`` the repeat orders (orders - 1), ``t_x`` the time from
the first order to the last, ``T`` the time from the first order to the end of the
observation, in ``unit_days`` (default weeks); and for Gamma-Gamma the number of orders
and their mean revenue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import attrs
import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special  # type: ignore[import-untyped]  # no stubs shipped
from sqlalchemy import func, select

from xrm import Session
from xrm.errors import ValidationError
from xrm.tables import PartyRow, live_party, utcnow
from xrm_commerce import _money
from xrm_commerce._models import OrderRow

__all__ = [
    "BgNbd",
    "ClvModel",
    "GammaGamma",
    "Lifetime",
    "Summary",
    "expected_average_value",
    "expected_orders",
    "fit_bgnbd",
    "fit_clv",
    "fit_gamma_gamma",
    "lifetime_values",
    "probability_alive",
    "summaries",
]

Floats = NDArray[np.float64]


@attrs.frozen
class BgNbd:
    """The fitted BG/NBD parameters: purchase rate ~ Gamma(r, alpha), dropout
    probability ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    #: the maximised log-likelihood (summed over the customers)
    log_likelihood: float


@attrs.frozen
class GammaGamma:
    """The fitted Gamma-Gamma parameters of the spend per order."""

    p: float
    q: float
    v: float
    log_likelihood: float


def _arrays(*values: Sequence[float] | Floats) -> list[Floats]:
    arrays = [np.asarray(v, dtype=np.float64) for v in values]
    if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
        raise ValidationError.single("data", "give one-dimensional arrays of the same length")
    return arrays


def _bgnbd_log_likelihood(params: Floats, x: Floats, t_x: Floats, T: Floats) -> Floats:
    r, alpha, a, b = params
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = (special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b)
          - special.gammaln(a + b + x))  # fmt: skip
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    a4 = np.full_like(x, -np.inf)
    xs = x[repeat]
    a4[repeat] = np.log(a) - np.log(b + xs - 1) - (r + xs) * np.log(alpha + t_x[repeat])
    result: Floats = a1 + a2 + np.logaddexp(a3, a4)
    return result


def _maximise(log_likelihood: Any, start: Sequence[float], *args: Floats) -> tuple[Floats, float]:
    """The parameters (all positive, searched on their logarithm) of greatest likelihood."""

    def negative(log_params: Floats) -> float:
        with np.errstate(all="ignore"):
            total = float(np.sum(log_likelihood(np.exp(log_params), *args)))
        return -total if np.isfinite(total) else np.inf

    best = optimize.minimize(
        negative, np.log(np.asarray(start)), method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 20_000, "maxfev": 40_000},
    )  # fmt: skip
    polished = optimize.minimize(negative, best.x, method="BFGS", options={"gtol": 1e-8})
    chosen = polished if polished.fun <= best.fun else best
    return np.exp(chosen.x), -float(chosen.fun)


def fit_bgnbd(
    x: Sequence[float] | Floats, t_x: Sequence[float] | Floats, T: Sequence[float] | Floats
) -> BgNbd:
    """Fit BG/NBD by maximum likelihood on the customers' ``x``, ``t_x`` and ``T``."""
    x_, t_x_, T_ = _arrays(x, t_x, T)
    if len(x_) == 0:
        raise ValidationError.single("x", "there is no customer to fit the model on")
    if np.any(x_ < 0) or np.any(t_x_ < 0) or np.any(t_x_ > T_) or np.any(T_ <= 0):
        raise ValidationError.single("T", "needs 0 <= t_x <= T, 0 < T and x >= 0")
    params, ll = _maximise(_bgnbd_log_likelihood, (1.0, 1.0, 1.0, 1.0), x_, t_x_, T_)
    r, alpha, a, b = (float(p) for p in params)
    return BgNbd(r, alpha, a, b, ll)


def _gamma_gamma_log_likelihood(params: Floats, n: Floats, m: Floats) -> Floats:
    p, q, v = params
    px = p * n
    result: Floats = (
        special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(v)
        + (px - 1) * np.log(m) + px * np.log(n) - (px + q) * np.log(n * m + v)
    )  # fmt: skip
    return result


def fit_gamma_gamma(n: Sequence[float] | Floats, m: Sequence[float] | Floats) -> GammaGamma:
    """Fit Gamma-Gamma on the customers' number of orders ``n`` (1 or more) and their
    mean value ``m`` (more than 0)."""
    n_, m_ = _arrays(n, m)
    if len(n_) == 0:
        raise ValidationError.single("n", "there is no customer to fit the model on")
    if np.any(n_ < 1) or np.any(m_ <= 0):
        raise ValidationError.single("m", "needs n >= 1 and m > 0 for every customer")
    params, ll = _maximise(_gamma_gamma_log_likelihood, (1.0, 1.0, 1.0), n_, m_)
    p, q, v = (float(x) for x in params)
    return GammaGamma(p, q, v, ll)


def expected_orders(model: BgNbd, t: float, x: Floats, t_x: Floats, T: Floats) -> Floats:
    """E[orders in the next ``t``] for each customer (Fader, Hardie & Lee 2005, eq. 10)."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    x, t_x, T = _arrays(x, t_x, T)
    with np.errstate(all="ignore"):
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        first = (a + b + x - 1) / (a - 1)
        second = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
        odds = np.where(x > 0, a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
        result: Floats = first * second / (1 + odds)
    return result


def probability_alive(model: BgNbd, x: Floats, t_x: Floats, T: Floats) -> Floats:
    """P(the customer has not dropped out) given their history (eq. 12 of the same)."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    x, t_x, T = _arrays(x, t_x, T)
    with np.errstate(all="ignore"):
        odds = np.where(x > 0, a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
        result: Floats = 1 / (1 + odds)
    return result


def expected_average_value(model: GammaGamma, n: Floats, m: Floats) -> Floats:
    """E[value of an order] for each customer of ``n`` orders of mean ``m``: the
    population mean weighed against the customer's own."""
    n, m = _arrays(n, m)
    result: Floats = model.p * (model.v + n * m) / (model.p * n + model.q - 1)
    return result


# -- over the database -----------------------------------------------------------------------


@attrs.frozen
class ClvModel:
    """Both fitted models, with what they were fitted on."""

    currency: str
    #: the end of the observation the model was fitted at
    at: dt.datetime
    #: the time unit of ``t_x`` and ``T``, in days
    unit_days: float
    bgnbd: BgNbd
    gamma_gamma: GammaGamma
    customers: int


class Summary(NamedTuple):
    """A party's history as the models read it."""

    party_id: int
    #: repeat orders: orders - 1
    x: int
    t_x: float
    T: float
    #: the mean revenue of its orders, in the currency
    mean_value: float


class Lifetime(NamedTuple):
    party_id: int
    p_alive: float
    expected_orders: float
    expected_order_value: float
    #: expected orders x expected order value, discounted
    value: float


def summaries(
    session: Session,
    *,
    currency: str,
    at: dt.datetime | None = None,
    unit_days: float = 7.0,
    batch: int = 10_000,
) -> Iterator[Summary]:
    """Each live party's history in ``currency`` up to ``at`` (default now), by party id:
    one query, ``batch`` rows at a time."""
    errors: list[Any] = []
    code = _money.currency(currency, errors)
    if errors:
        raise ValidationError(errors)
    end = at or utcnow()
    Od = OrderRow
    query = (
        select(
            Od.party_id,
            func.count(),
            func.min(Od.ordered_at),
            func.max(Od.ordered_at),
            func.sum(Od.net_milli - Od.refunded_milli),
        )
        .join(PartyRow, PartyRow.id == Od.party_id)
        .where(Od.status != "cancelled", Od.currency == code, Od.ordered_at <= end, live_party())
        .group_by(Od.party_id)
        .order_by(Od.party_id)
    )
    unit = dt.timedelta(days=unit_days)
    for party_id, count, first, last, revenue in session.db.connection().execute(
        query, execution_options={"yield_per": batch}
    ):
        first_ = _utc(first)
        yield Summary(
            party_id, count - 1, (_utc(last) - first_) / unit, (end - first_) / unit,
            revenue / 1000 / count,
        )  # fmt: skip


def _utc(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _columns(rows: Sequence[Summary]) -> tuple[Floats, Floats, Floats, Floats]:
    data = np.array([(s.x, s.t_x, s.T, s.mean_value) for s in rows], dtype=np.float64)
    data = data.reshape(-1, 4)
    return data[:, 0], data[:, 1], data[:, 2], data[:, 3]


def fit_clv(
    session: Session, *, currency: str, at: dt.datetime | None = None, unit_days: float = 7.0
) -> ClvModel:
    """Fit both models on every live party's orders in ``currency`` up to ``at``; Gamma-
    Gamma on the parties with a repeat order and a positive mean revenue."""
    end = at or utcnow()
    rows = [s for s in summaries(session, currency=currency, at=end, unit_days=unit_days)
            if s.T > 0]  # fmt: skip
    if not rows:
        raise ValidationError.single("currency", f"no order in {currency} to fit the model on")
    x, t_x, T, m = _columns(rows)
    bgnbd = fit_bgnbd(x, t_x, T)
    repeat = (x > 0) & (m > 0)
    if not np.any(repeat):
        raise ValidationError.single("currency", "no customer ordered twice: no spend model")
    gamma_gamma = fit_gamma_gamma(x[repeat] + 1, m[repeat])
    return ClvModel(currency.strip().upper(), end, unit_days, bgnbd, gamma_gamma, len(rows))


def lifetime_values(
    session: Session,
    model: ClvModel,
    *,
    horizon_days: int = 365,
    yearly_discount: float = 0.0,
    parties: Sequence[int] | None = None,
    batch: int = 10_000,
) -> Iterator[Lifetime]:
    """Each party's expected value over the next ``horizon_days`` after the model's
    ``at``: per month of the horizon, the orders BG/NBD expects that month times the order
    value Gamma-Gamma expects, discounted at ``yearly_discount`` (0.1 = 10 % a year); by
    party id, ``batch`` parties at a time."""
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 1:
        raise ValidationError.single("horizon_days", "must be a whole number of days, 1 or more")
    wanted = None if parties is None else set(parties)
    months = max(1, round(horizon_days / 30))
    step = horizon_days / months / model.unit_days
    monthly = (1 + yearly_discount) ** (1 / 12) - 1
    chunk: list[Summary] = []
    stream = summaries(session, currency=model.currency, at=model.at, unit_days=model.unit_days)
    for row in stream:
        if wanted is not None and row.party_id not in wanted:
            continue
        chunk.append(row)
        if len(chunk) >= batch:
            yield from _predict(model, chunk, months, step, monthly)
            chunk = []
    if chunk:
        yield from _predict(model, chunk, months, step, monthly)


def _predict(
    model: ClvModel, rows: Sequence[Summary], months: int, step: float, monthly: float
) -> Iterator[Lifetime]:
    x, t_x, T, m = _columns(rows)
    T = np.maximum(T, 1e-9)
    spend = expected_average_value(model.gamma_gamma, x + 1, np.maximum(m, 1e-9))
    previous = np.zeros_like(x)
    total = np.zeros_like(x)
    for month in range(1, months + 1):
        cumulative = expected_orders(model.bgnbd, month * step, x, t_x, T)
        total += (cumulative - previous) * spend / (1 + monthly) ** month
        previous = cumulative
    alive = probability_alive(model.bgnbd, x, t_x, T)
    for i, row in enumerate(rows):
        yield Lifetime(row.party_id, float(alive[i]), float(previous[i]), float(spend[i]),
                       float(total[i]))  # fmt: skip
