"""The next expected order: P(an order within t) and the median wait, BG/NBD and Pareto/NBD.

The probabilities are checked against an independent computation on the CDNOW 1/10 sample
(Fader, Hardie & Lee 2005; data: ../shared/datasets/cdnow/README.md): direct numerical
integration of the likelihood over the gamma (and beta) mixing distributions, with no closed-form
posterior. For a customer with rates lambda (and dropout p or mu), the joint likelihood of
(x, t_x, T) is, for BG/NBD (FHL 2005, eq. 3),
``L = (1-p)^x lambda^x e^(-lambda T) + [x>0] p (1-p)^(x-1) lambda^x e^(-lambda t_x)``, of which
only the first branch is alive at T; and for Pareto/NBD (Fader & Hardie 2005, note 009, eq. 3)
``L = lambda^x e^(-(lambda+mu) T) + lambda^x mu/(lambda+mu) (e^(-(lambda+mu) t_x)
- e^(-(lambda+mu) T))``, alive branch first. Given alive and the rates, an order falls in
``(T, T+t]`` with probability ``1 - e^(-lambda t)`` (BG/NBD: no dropout before the next
purchase) or ``lambda/(lambda+mu) (1 - e^(-(lambda+mu) t))`` (Pareto/NBD: the next purchase
comes before death).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize
from scipy.special import betaln

import retain.warehouse as wh
from retain.config import Settings
from retain.models.clv import BetaGeoModel, ParetoNBDModel, fit_clv, score_clv
from retain.models.clv.next_order import UNLIKELY_BELOW, next_order
from retain.schema import get_table

DATASETS = Path(__file__).resolve().parents[3].parent / "shared" / "datasets"
"""The shared datasets folder, as in tests/conftest.py (a module-scoped fixture cannot use its
function-scoped ``datasets``)."""

FIRST_ARGS = {"x": 2, "tx": 30.43, "T": 38.86}
"""CDNOW customer 1 (weeks), the worked example of FHL (2005) and lifetimes' docs."""


def _log_gamma_pdf(v: float, shape: float, rate: float) -> float:
    return shape * math.log(rate) - math.lgamma(shape) + (shape - 1) * math.log(v) - rate * v


def _bgnbd_direct(params: dict[str, float], x: int, tx: float, T: float, t: float) -> float:
    """P(order in (T, T+t]) by quadrature over lambda; the p integrals are beta functions."""
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]

    def lam_moment(age: float, extra: float = 0.0) -> float:
        # Integral of g(lambda) lambda^x e^(-lambda age), times (1 - e^(-lambda extra)) if extra
        def f(log_lam: float) -> float:
            lam = math.exp(log_lam)
            base = math.exp(_log_gamma_pdf(lam, r, alpha) + log_lam + x * log_lam - lam * age)
            return base * (-math.expm1(-lam * extra)) if extra else base

        return float(integrate.quad(f, -400, 6, epsabs=0, epsrel=1e-11, limit=400)[0])

    alive_p = math.exp(betaln(a, b + x) - betaln(a, b))
    dead_p = math.exp(betaln(a + 1, b + x - 1) - betaln(a, b)) if x > 0 else 0.0
    numerator = alive_p * lam_moment(T, t)
    denominator = alive_p * lam_moment(T) + dead_p * (lam_moment(tx) if x > 0 else 0.0)
    return numerator / denominator


def _pareto_direct(params: dict[str, float], x: int, tx: float, T: float, t: float) -> float:
    """P(order in (T, T+t]) by two-dimensional quadrature over log lambda and log mu."""
    r, alpha, s, beta = params["r"], params["alpha"], params["s"], params["beta"]

    def parts(log_mu: float, log_lam: float) -> tuple[float, float, float]:
        lam, mu = math.exp(log_lam), math.exp(log_mu)
        log_weight = (
            _log_gamma_pdf(lam, r, alpha)
            + _log_gamma_pdf(mu, s, beta)
            + log_lam
            + log_mu
            + x * log_lam
        )
        return log_weight, lam, mu

    def numerator(log_mu: float, log_lam: float) -> float:
        lw, lam, mu = parts(log_mu, log_lam)
        k = lam + mu
        return math.exp(lw - k * T) * lam / k * (-math.expm1(-k * t))

    def denominator(log_mu: float, log_lam: float) -> float:
        lw, lam, mu = parts(log_mu, log_lam)
        k = lam + mu
        dead = mu / k * (math.exp(lw - k * tx) - math.exp(lw - k * T))
        return math.exp(lw - k * T) + dead

    opts = {"epsabs": 0, "epsrel": 1e-9}
    top = integrate.dblquad(numerator, -200, 3, -200, 3, **opts)[0]
    bottom = integrate.dblquad(denominator, -200, 3, -200, 3, **opts)[0]
    return float(top / bottom)


@pytest.fixture(scope="module")
def fitted() -> dict[str, Any]:
    """BG/NBD and Pareto/NBD fitted once on the 2,357-customer CDNOW calibration summary."""
    path = DATASETS / "cdnow" / "cdnow_customers_summary.csv"
    if not path.is_file():
        pytest.skip(f"shared datasets not found at {DATASETS}")
    summary = pd.read_csv(path)
    return {
        "summary": summary,
        "bgnbd": BetaGeoModel().fit(summary),
        "pareto": ParetoNBDModel().fit(summary),
    }


def _one(x: int, tx: float, T: float) -> pd.DataFrame:
    return pd.DataFrame({"frequency": [x], "recency": [tx], "T": [T]})


@pytest.mark.parametrize("weeks", [30 / 7, 60 / 7, 90 / 7])
def test_bgnbd_probability_matches_direct_integration(fitted: dict[str, Any], weeks: float) -> None:
    model = fitted["bgnbd"]
    customers = [(2, 30.43, 38.86), (1, 1.71, 38.86), (0, 0.0, 38.86), (14, 37.0, 38.0)]
    for x, tx, T in customers:
        got = float(model.probability_of_purchase(weeks, _one(x, tx, T)).iloc[0])
        assert got == pytest.approx(_bgnbd_direct(model.params_, x, tx, T, weeks), rel=1e-8)


def test_bgnbd_pinned_values(fitted: dict[str, Any]) -> None:
    """Customer 1 at the paper's estimates, 30/60/90 days; same values from _bgnbd_direct."""
    got = fitted["bgnbd"].probability_of_purchase(90 / 7, _one(**FIRST_ARGS)).iloc[0]
    assert got == pytest.approx(0.321159, abs=2e-6)


def test_pareto_probability_matches_direct_integration(fitted: dict[str, Any]) -> None:
    model = fitted["pareto"]
    for x, tx, T in [(2, 30.43, 38.86), (0, 0.0, 38.86), (9, 20.0, 38.0)]:
        got = float(model.probability_of_purchase(90 / 7, _one(x, tx, T)).iloc[0])
        assert got == pytest.approx(_pareto_direct(model.params_, x, tx, T, 90 / 7), rel=1e-7)
    first = model.probability_of_purchase(90 / 7, _one(**FIRST_ARGS)).iloc[0]
    assert first == pytest.approx(0.364462, abs=2e-6)


@pytest.mark.parametrize("kind", ["bgnbd", "pareto"])
def test_probabilities_are_bounded_and_grow_with_the_window(
    fitted: dict[str, Any], kind: str
) -> None:
    model, summary = fitted[kind], fitted["summary"]
    alive = model.probability_alive(summary).to_numpy()
    previous = np.zeros(len(summary))
    for weeks in (0.0, 1.0, 30 / 7, 60 / 7, 90 / 7, 52.0, 520.0):
        p = model.probability_of_purchase(weeks, summary).to_numpy()
        assert np.all(np.isfinite(p))
        assert np.all(p >= previous - 1e-12)
        assert np.all(p <= alive + 1e-12)  # nobody orders more surely than they are alive
        previous = p
    assert np.all(model.probability_of_purchase(0.0, summary).to_numpy() == 0.0)


@pytest.mark.parametrize("kind", ["bgnbd", "pareto"])
def test_median_wait_halves_the_posterior_survival(fitted: dict[str, Any], kind: str) -> None:
    """At the median, half of the alive-at-T posterior mass of lambda has bought (quadrature)."""
    model = fitted[kind]
    r, alpha = model.params_["r"], model.params_["alpha"]
    x, T = FIRST_ARGS["x"], FIRST_ARGS["T"]

    def not_yet(m: float) -> float:
        def f(log_lam: float, wait: float) -> float:
            lam = math.exp(log_lam)
            return math.exp(_log_gamma_pdf(lam, r, alpha) + (x + 1) * log_lam - lam * (T + wait))

        opts = {"epsabs": 0, "epsrel": 1e-11, "limit": 200}
        return (
            integrate.quad(f, -60, 6, args=(m,), **opts)[0]
            / integrate.quad(f, -60, 6, args=(0.0,), **opts)[0]
        )

    direct = optimize.brentq(lambda m: not_yet(m) - 0.5, 1e-6, 1e4, xtol=1e-10)
    got = float(model.median_time_to_next_purchase(_one(**FIRST_ARGS)).iloc[0])
    assert got == pytest.approx(direct, rel=1e-7)
    # More repeat purchases, a shorter wait; a longer silence, a longer wait.
    frame = pd.DataFrame({"frequency": [1, 5, 5], "recency": [10.0, 10.0, 10.0], "T": [20.0] * 3})
    waits = model.median_time_to_next_purchase(frame).to_numpy()
    assert waits[1] < waits[0]
    assert waits[2] == waits[1]


def test_next_order_columns_and_unlikely(fitted: dict[str, Any]) -> None:
    model, summary = fitted["bgnbd"], fitted["summary"]
    out = next_order(model, summary, as_of=pd.Timestamp("1997-09-30"), time_unit="week")
    assert len(out) == len(summary)
    p30, p60, p90 = (out[f"probability_order_{d}d"].to_numpy() for d in (30, 60, 90))
    assert np.all((p30 <= p60) & (p60 <= p90) & (p90 <= 1) & (p30 >= 0))
    alive = model.probability_alive(summary).to_numpy()
    assert out["next_order_at"].isna().to_numpy().tolist() == (alive < UNLIKELY_BELOW).tolist()
    # Customer 1: median wait 15.67 weeks = 109.7 days, so 110 days after 1997-09-30.
    assert out["next_order_at"].iloc[0] == pd.Timestamp("1998-01-18")
    assert p90[0] == pytest.approx(0.321159, abs=2e-6)


def test_score_clv_writes_next_order_and_widens_an_old_table(
    warehouse: Any, cdnow_sample_orders: pd.DataFrame, put_orders: Any, tmp_path: Path
) -> None:
    """A clv_scores table from before the next-order columns gets them on the next write."""
    put_orders(warehouse, cdnow_sample_orders)
    conf = Settings(models_dir=tmp_path / "models", currency="USD")
    old_columns = [c for c in get_table("clv_scores").ibis_schema().names if "order" not in c]
    schema = get_table("clv_scores").ibis_schema()
    wh.drop_table(warehouse, "clv_scores")
    old = ibis.memtable(
        {
            "customer_id": ["old"],
            "as_of": [pd.Timestamp("1997-01-01")],
            "model_version": ["v0"],
        }
    )
    warehouse.create_table(
        "clv_scores",
        old.select(
            *[
                old[c] if c in old.columns else ibis.null().cast(schema[c]).name(c)
                for c in old_columns
            ]
        ).to_pyarrow(),
    )
    fit_clv(warehouse, settings=conf, as_of="1997-09-30")
    scores = score_clv(warehouse, settings=conf)
    stored = wh.read_table(warehouse, "clv_scores").to_pandas()
    assert len(stored) == len(scores) + 1
    assert set(schema.names) <= set(stored.columns)
    assert stored.loc[stored.customer_id == "old", "probability_order_30d"].isna().all()
    one = stored[stored.customer_id == "0001"].iloc[0]  # customer 1 of the summary
    assert one["probability_order_90d"] == pytest.approx(0.3212, abs=5e-4)
    assert pd.Timestamp(one["next_order_at"]) == pd.Timestamp("1998-01-18")
