"""BG/NBD against Fader, Hardie & Lee (2005), on the CDNOW sample (see datasets/cdnow/README.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from retain.models.clv import BetaGeoModel, compress_summary


def test_cdnow_parameters_and_log_likelihood(cdnow_summary: pd.DataFrame) -> None:
    """FHL (2005), section 5: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4.

    The paper reports three decimals, so the tolerance is half a unit in the last place.
    """
    model = BetaGeoModel().fit(cdnow_summary)
    assert model.params_ == pytest.approx(
        {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, abs=6e-4
    )
    assert model.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    assert model.n_customers_ == 2357
    assert model.aic_ == pytest.approx(8 + 2 * 9582.43, abs=0.1)
    assert all(
        0 < se < v
        for se, v in zip(model.standard_errors_.values(), model.params_.values(), strict=True)
    )


def test_compressed_summary_gives_the_same_fit(cdnow_summary: pd.DataFrame) -> None:
    """Weights are counts of identical rows: the fit on unique rows equals the fit on all rows."""
    full = BetaGeoModel().fit(cdnow_summary)
    compressed = (
        cdnow_summary.groupby(["frequency", "recency", "T"]).size().rename("weight").reset_index()
    )
    assert len(compressed) < len(cdnow_summary)
    small = BetaGeoModel().fit(compressed)
    for name, value in full.params_.items():
        assert small.params_[name] == pytest.approx(value, rel=1e-6)
    assert small.log_likelihood_ == pytest.approx(full.log_likelihood_, rel=1e-10)


def test_ibis_input_is_compressed_in_the_engine(cdnow_summary: pd.DataFrame) -> None:
    import ibis

    con = ibis.duckdb.connect()
    table = con.create_table("rfm", cdnow_summary)
    assert "weight" in compress_summary(table).columns
    model = BetaGeoModel().fit(table)
    assert model.params_["r"] == pytest.approx(0.2426, abs=1e-4)


def test_predictions_match_the_papers_formulas(cdnow_summary: pd.DataFrame) -> None:
    """Spot values computed from FHL (2005) eqs. (7), (10) and note 021 (P(alive)).

    Customer 1 (x=2, t_x=30.43, T=38.86): the same numbers come out of lifetimes 0.11.3
    (``conditional_expected_number_of_purchases_up_to_time(39, ...)`` = 1.22591).
    """
    model = BetaGeoModel().fit(cdnow_summary)
    first = cdnow_summary.head(3)
    assert model.conditional_expected_purchases(39, first).to_numpy() == pytest.approx(
        [1.22591, 0.20325, 0.19478], abs=2e-5
    )
    assert model.probability_alive(first).to_numpy() == pytest.approx(
        [0.72661, 0.21223, 1.0], abs=2e-5
    )
    # E[X(t)] at t = 39 weeks, and the pmf: sums to 1 with the same mean.
    mean = model.expected_purchases(39.0)
    pmf = model.expected_purchases_distribution(39.0, max_purchases=400)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-9)
    assert float((pmf * pmf.index).sum()) == pytest.approx(mean, rel=1e-8)
    assert np.all(pmf.to_numpy() >= 0)


def test_index_is_customer_id_when_present(cdnow_spend: pd.DataFrame) -> None:
    model = BetaGeoModel().fit(cdnow_spend)
    alive = model.probability_alive(cdnow_spend.head(2))
    assert list(alive.index) == [1, 2]


def test_simulated_customers_follow_the_model(cdnow_summary: pd.DataFrame) -> None:
    model = BetaGeoModel().fit(cdnow_summary)
    sim = model.sample_customers(200_000, T=38.86, random_state=3)
    assert (sim["recency"] <= sim["T"]).all()
    assert sim["frequency"].mean() == pytest.approx(model.expected_purchases(38.86), rel=0.02)
