"""BG/BB on the donations data of Fader, Hardie & Shang (2010) (see datasets/cdnow/README.md)."""

from __future__ import annotations

import pandas as pd
import pytest

from retain.models.clv import BetaGeoBetaBinomModel

PUBLISHED = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}


def test_donations_parameters_and_log_likelihood(donations: pd.DataFrame) -> None:
    """FHS (2010), Table 2: alpha = 1.204, beta = 0.750, gamma = 0.657, delta = 2.783,
    LL = -33,225.6 (11,104 donors, 6 repeat opportunities)."""
    model = BetaGeoBetaBinomModel().fit(donations)
    assert model.params_ == pytest.approx(PUBLISHED, abs=6e-4)
    assert model.log_likelihood_ == pytest.approx(-33225.6, abs=0.05)
    assert model.log_likelihood(donations, PUBLISHED) == pytest.approx(-33225.6, abs=0.05)
    assert model.n_customers_ == 11104


def test_predictions_are_consistent(donations: pd.DataFrame) -> None:
    model = BetaGeoBetaBinomModel().fit(donations)
    pmf = model.expected_purchases_distribution(6)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    assert float((pmf * pmf.index).sum()) == pytest.approx(model.expected_purchases(6), rel=1e-10)
    # Observed mean of repeat donations in the 6 years, against the model's.
    observed = float((donations["frequency"] * donations["weight"]).sum() / 11104)
    assert model.expected_purchases(6) == pytest.approx(observed, rel=0.02)
    alive = model.probability_alive(donations)
    assert ((alive > 0) & (alive <= 1)).all()
    # Donors who gave in year 6 are far more likely alive than those whose last gift was year 1.
    six = donations.query("frequency == 1 and recency == 6")
    one = donations.query("frequency == 1 and recency == 1")
    assert float(model.probability_alive(six).iloc[0]) > 3 * float(
        model.probability_alive(one).iloc[0]
    )
    future = model.conditional_expected_purchases(5, donations)
    assert (future >= 0).all()
    sim = model.sample_customers(200_000, n_periods=6, random_state=2)
    assert sim["frequency"].mean() == pytest.approx(model.expected_purchases(6), rel=0.02)
