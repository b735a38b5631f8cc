"""Gamma-Gamma on CDNOW repeat customers (Fader, Hardie & Lee 2005 / Fader & Hardie note 025)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from retain.errors import DataQualityWarning, DataValidationError
from retain.models.clv import GammaGammaModel


def test_cdnow_parameters(cdnow_spend: pd.DataFrame) -> None:
    """Note 025: p = 6.25, q = 3.74, gamma = 15.44 on the 946 repeat buyers of the sample."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        model = GammaGammaModel().fit(cdnow_spend)
    assert model.params_ == pytest.approx({"p": 6.25, "q": 3.74, "gamma": 15.44}, abs=0.01)
    assert model.n_customers_ == 946
    # The note reports a correlation of 0.11 between frequency and average spend.
    assert model.frequency_spend_correlation_ == pytest.approx(0.11, abs=0.01)
    # Population mean spend p*gamma/(q-1) = $35.17; customer 1 ($22.35 over 2) shrinks to $24.66.
    assert model.expected_average_spend() == pytest.approx(35.171, abs=1e-3)
    spend = model.expected_customer_spend(cdnow_spend.head(3)).to_numpy()
    assert spend == pytest.approx([24.6586, 18.9115, 35.1710], abs=1e-3)


def _simulate(n: int, *, correlated: bool, seed: int = 0) -> pd.DataFrame:
    """Gamma-Gamma spend (p=6, q=4, gamma=15); frequency rises with spend when ``correlated``."""
    rng = np.random.default_rng(seed)
    nu = rng.gamma(4.0, 1 / 15.0, n)
    mean_spend = 6.0 / nu
    rate = 0.15 * mean_spend if correlated else np.full(n, 3.0)
    frequency = 1 + rng.poisson(rate)
    spend = rng.gamma(6.0 * frequency, 1 / (nu * frequency))
    return pd.DataFrame({"frequency": frequency.astype(float), "monetary_value": spend})


def test_warns_when_spend_and_frequency_are_correlated() -> None:
    with pytest.warns(DataQualityWarning, match="correlated"):
        model = GammaGammaModel().fit(_simulate(5000, correlated=True))
    assert model.frequency_spend_correlation_ > 0.3
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        calm = GammaGammaModel().fit(_simulate(5000, correlated=False))
    assert abs(calm.frequency_spend_correlation_) < 0.1
    assert calm.params_ == pytest.approx({"p": 6.0, "q": 4.0, "gamma": 15.0}, rel=0.25)


def test_zero_spend_repeat_customer_is_rejected_at_fit_but_scored() -> None:
    data = _simulate(500, correlated=False)
    data.loc[1, "monetary_value"] = 0.0
    with pytest.raises(DataValidationError) as info:
        GammaGammaModel().fit(data)
    violation = info.value.violations[0]
    assert (violation.rule, violation.row, violation.column) == (
        "spend_not_positive",
        1,
        "monetary_value",
    )
    model = GammaGammaModel().fit(data.drop(index=1))
    assert np.isfinite(model.expected_customer_spend(data)).all()
